"""Greedy and beam search (transformer/decoding.py): exact scores, known properties, exhaustive optimum."""

from __future__ import annotations

import itertools

import pytest
import torch

from transformer import Seq2SeqTransformer, TransformerConfig
from transformer.decoding import beam_search, greedy_search, length_penalty, sequence_log_prob

BOS, EOS, PAD = 0, 1, 2


def peaky_model(vocab_size: int = 12, seed: int = 0, eos_bias: float = 1.5, scale: float = 4.0) -> Seq2SeqTransformer:
    """A small random encoder-decoder whose next-token distributions are peaked and often end in EOS.

    Random weights alone give near-uniform outputs (every search agrees, nothing finishes); scaling the
    output layer and raising EOS's bias makes the searches differ, as a trained model's do.
    """
    torch.manual_seed(seed)
    config = TransformerConfig(
        vocab_size=vocab_size, d_model=32, n_heads=4, n_layers=2, d_ff=64, dropout=0.0, max_len=64,
        layout="encoder-decoder", pad_id=PAD,
    )
    model = Seq2SeqTransformer(config).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(scale)
        model.lm_head.bias.zero_()
        model.lm_head.bias[EOS] = eos_bias
        model.lm_head.bias[PAD] = -1e4  # a trained model never predicts padding
    return model


@pytest.fixture(scope="module")
def reverser() -> Seq2SeqTransformer:
    """A tiny encoder-decoder half-trained (80 Adam steps, ~1 s) to reverse sequences of 2-8 tokens.

    Half-trained on purpose: its outputs end in EOS at varied lengths, but it is unsure enough that beam
    search and greedy search often disagree — as with a real translator.
    """
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=12, d_model=32, n_heads=4, n_layers=2, d_ff=64, dropout=0.0, max_len=64,
                               layout="encoder-decoder", pad_id=PAD)
    model = Seq2SeqTransformer(config)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(80):
        src = torch.randint(3, 12, (32, int(torch.randint(2, 9, (1,), generator=g))), generator=g)
        tgt = torch.cat([torch.full((32, 1), BOS), src.flip(1), torch.full((32, 1), EOS)], dim=1)
        loss = torch.nn.functional.cross_entropy(model(src, tgt[:, :-1]).reshape(-1, 12), tgt[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def random_sources(n: int, vocab_size: int, seed: int = 1) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(3, vocab_size, (1, int(torch.randint(2, 9, (1,), generator=g))), generator=g) for _ in range(n)]


def test_length_penalty_is_gnmt_eq_14():
    assert length_penalty(7, 0.0) == 1.0
    assert length_penalty(1, 0.6) == pytest.approx(1.0)  # (5 + 1) / 6 = 1
    assert length_penalty(7, 1.0) == pytest.approx(2.0)  # (5 + 7) / 6
    assert length_penalty(13, 0.5) == pytest.approx(3 ** 0.5)  # (5 + 13) / 6 = 3
    with pytest.raises(ValueError, match="length penalty"):
        length_penalty(3, -0.1)


def test_greedy_log_prob_is_the_models_score_and_batch_equals_one_by_one(reverser):
    model = reverser
    sources = random_sources(6, 12)
    singles = [greedy_search(model, s, bos_id=BOS, eos_id=EOS, max_new_tokens=12)[0] for s in sources]
    assert any(h.finished for h in singles) and len({len(h.tokens) for h in singles}) > 1  # varied lengths
    for src, hyp in zip(sources, singles, strict=True):
        assert hyp.log_prob == pytest.approx(sequence_log_prob(model, src, hyp.tokens, bos_id=BOS), abs=1e-4)
        assert hyp.finished == (hyp.tokens[-1] == EOS)
    # One padded batch: the key padding mask must make each row's result equal to its own search.
    width = max(s.shape[1] for s in sources)
    batch = torch.cat([torch.nn.functional.pad(s, (0, width - s.shape[1]), value=PAD) for s in sources])
    batched = greedy_search(model, batch, bos_id=BOS, eos_id=EOS, max_new_tokens=12)
    for one, many in zip(singles, batched, strict=True):
        assert many.tokens == one.tokens
        assert many.log_prob == pytest.approx(one.log_prob, abs=1e-4)


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_beam_width_1_equals_greedy(alpha, reverser):
    model = reverser
    for src in random_sources(10, 12, seed=4):
        greedy = greedy_search(model, src, bos_id=BOS, eos_id=EOS, max_new_tokens=10, alpha=alpha)[0]
        (beam,) = beam_search(model, src, bos_id=BOS, eos_id=EOS, beam_width=1, length_penalty=alpha,
                              max_new_tokens=10)
        assert beam.tokens == greedy.tokens
        assert beam.log_prob == pytest.approx(greedy.log_prob, abs=1e-4)
        assert beam.score == pytest.approx(greedy.score, abs=1e-4)


def test_wider_beams_never_score_below_greedy_under_the_model(reverser):
    model = reverser
    improved = 0
    for src in random_sources(25, 12, seed=6):
        greedy = greedy_search(model, src, bos_id=BOS, eos_id=EOS, max_new_tokens=10)[0]
        assert greedy.finished
        for width in (2, 4, 8):
            best = beam_search(model, src, bos_id=BOS, eos_id=EOS, beam_width=width, length_penalty=0.0,
                               max_new_tokens=10)[0]
            assert best.finished
            assert best.log_prob >= greedy.log_prob - 1e-5
            # What the search reports is the model's own probability of that output.
            assert best.log_prob == pytest.approx(sequence_log_prob(model, src, best.tokens, bos_id=BOS), abs=1e-4)
            improved += best.log_prob > greedy.log_prob + 1e-4
    assert improved > 0  # on some sentences the beam finds a more probable output than greedy


@pytest.mark.parametrize("alpha", [0.0, 0.6, 2.0])
def test_a_beam_wide_enough_finds_the_exhaustive_optimum(alpha):
    """V = 5, at most 3 new tokens: the beam holds every prefix, so its best must be the true best."""
    model = peaky_model(vocab_size=5, seed=7, eos_bias=0.5, scale=2.0)
    src = torch.tensor([[3, 4, 3, 4]])
    best_score, best_tokens = -float("inf"), None
    for n in (1, 2, 3):
        for body in itertools.product(range(5), repeat=n - 1):
            if EOS in body:
                continue
            tokens = [*body, EOS]
            score = sequence_log_prob(model, src, tokens, bos_id=BOS) / length_penalty(n, alpha)
            if score > best_score:
                best_score, best_tokens = score, tokens
    hyps = beam_search(model, src, bos_id=BOS, eos_id=EOS, beam_width=5 ** 3, length_penalty=alpha, max_new_tokens=3)
    assert hyps[0].tokens == best_tokens
    assert hyps[0].score == pytest.approx(best_score, abs=1e-4)
    scores = [h.score for h in hyps if h.finished]
    assert scores == sorted(scores, reverse=True)


def test_length_penalty_only_reranks_toward_longer_outputs(reverser):
    model = reverser
    for src in random_sources(10, 12, seed=10):
        plain = beam_search(model, src, bos_id=BOS, eos_id=EOS, beam_width=4, length_penalty=0.0, max_new_tokens=12)
        longer = beam_search(model, src, bos_id=BOS, eos_id=EOS, beam_width=4, length_penalty=1.0, max_new_tokens=12)
        # α changes the ranking, not the search: the same hypotheses, and the α = 1 winner is never shorter.
        assert sorted(map(tuple, (h.tokens for h in plain))) == sorted(map(tuple, (h.tokens for h in longer)))
        assert len(longer[0].tokens) >= len(plain[0].tokens)


def test_unfinished_hypotheses_are_cut_at_max_new_tokens():
    model = peaky_model(seed=11, eos_bias=-1e4)  # EOS never wins
    src = torch.tensor([[5, 6, 7]])
    (greedy,) = greedy_search(model, src, bos_id=BOS, eos_id=EOS, max_new_tokens=4)
    assert not greedy.finished and len(greedy.tokens) == 4
    hyps = beam_search(model, src, bos_id=BOS, eos_id=EOS, beam_width=3, length_penalty=0.6, max_new_tokens=4)
    assert len(hyps) == 3 and all(not h.finished and len(h.tokens) == 4 for h in hyps)


def test_without_eos_greedy_search_decodes_a_fixed_length_of_arg_maxes():
    """AddSub's decoding (eos_id=None): every row gets max_new_tokens tokens, EOS or not, each the arg-max."""
    model = peaky_model(seed=12, eos_bias=1e4)  # EOS always wins: with an eos_id every row would stop at once
    src = torch.randint(3, 12, (3, 6), generator=torch.Generator().manual_seed(0))
    hyps = greedy_search(model, src, bos_id=BOS, eos_id=None, max_new_tokens=4)
    assert [len(h.tokens) for h in hyps] == [4, 4, 4] and not any(h.finished for h in hyps)
    prefix = torch.full((3, 1), BOS)
    for _ in range(4):  # the same tokens, one arg-max of the logits at a time
        prefix = torch.cat([prefix, model(src, prefix)[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert prefix[:, 1:].tolist() == [h.tokens for h in hyps]
    assert [len(h.tokens) for h in greedy_search(model, src, bos_id=BOS, eos_id=EOS, max_new_tokens=4)] == [1, 1, 1]


def test_bad_arguments_raise_readable_errors():
    model = peaky_model()
    src = torch.tensor([[4, 5, 6]])
    with pytest.raises(ValueError, match="beam width"):
        beam_search(model, src, bos_id=BOS, eos_id=EOS, beam_width=0)
    with pytest.raises(ValueError, match="one sentence"):
        beam_search(model, torch.cat([src, src]), bos_id=BOS, eos_id=EOS)
    with pytest.raises(ValueError, match="length penalty"):
        beam_search(model, src, bos_id=BOS, eos_id=EOS, length_penalty=-1.0)
    with pytest.raises(ValueError, match="outside the target vocabulary"):
        greedy_search(model, src, bos_id=BOS, eos_id=99, max_new_tokens=3)
    with pytest.raises(ValueError, match="S ≥ 1"):
        greedy_search(model, torch.zeros(1, 0, dtype=torch.long), bos_id=BOS, eos_id=EOS, max_new_tokens=3)
