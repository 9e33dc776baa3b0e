"""The optional adaptive softmax head and tied adaptive input of DecoderOnlyLM (Grave et al. 2017; Baevski & Auli 2019)."""

import math

import pytest
import torch
from torch.testing import assert_close

from transformer.models import AdaptiveInput, AdaptiveSoftmaxHead, DecoderOnlyLM, TransformerConfig
from transformer.sampling import generate


def adaptive(**overrides) -> TransformerConfig:
    base = dict(
        vocab_size=50, d_model=16, n_heads=2, n_layers=2, d_ff=32, dropout=0.0, max_len=24,
        adaptive_cutoffs=[10, 30], adaptive_div_value=2.0,
    )
    base.update(overrides)
    return TransformerConfig(**base)


def test_config_checks_the_cutoffs_in_plain_words():
    with pytest.raises(ValueError, match="increasing"):
        adaptive(adaptive_cutoffs=[30, 10])
    with pytest.raises(ValueError, match="vocab_size - 1 = 49"):
        adaptive(adaptive_cutoffs=[10, 50])
    with pytest.raises(ValueError, match="decoder-only"):
        adaptive(layout="encoder-decoder")
    config = adaptive()
    assert TransformerConfig.from_dict(config.to_dict()) == config
    assert TransformerConfig(vocab_size=7).adaptive_cutoffs is None  # off by default


def test_forward_returns_normalised_log_probs_equal_to_the_torch_module():
    model = DecoderOnlyLM(adaptive()).eval()
    ids = torch.randint(0, 50, (3, 7))
    log_probs = model(ids)
    assert log_probs.shape == (3, 7, 50)
    assert_close(log_probs.exp().sum(-1), torch.ones(3, 7))
    hidden = model.hidden_states(ids)
    expected = model.lm_head.adaptive.log_prob(hidden.reshape(-1, 16)).reshape(3, 7, 50)
    assert_close(log_probs, expected)
    # The loss path (no (B, T, V) tensor) gives the same NLL as gathering from the full log-probs.
    targets = torch.randint(0, 50, (3, 7))
    nll = -log_probs.gather(-1, targets[..., None]).squeeze(-1)
    assert_close(model.lm_head.loss(hidden, targets, reduction="sum"), nll.sum())
    assert_close(model.lm_head.loss(hidden, targets), nll.mean())


def test_tied_adaptive_input_reuses_the_output_tables():
    tied = DecoderOnlyLM(adaptive(tie_embeddings=True))
    untied = DecoderOnlyLM(adaptive(tie_embeddings=False))
    assert isinstance(tied.embed.token, AdaptiveInput)
    assert isinstance(tied.lm_head, AdaptiveSoftmaxHead)
    n_tied = sum(p.numel() for p in tied.parameters())
    n_untied = sum(p.numel() for p in untied.parameters())
    # The (V, d_model) input table is gone; the input keeps its own projections: 16×16, 8×16, 4×16.
    assert n_untied - n_tied == 50 * 16 - (16 * 16 + 8 * 16 + 4 * 16)
    asm, projections = tied.lm_head.adaptive, tied.embed.token.projections
    ids = torch.tensor([[0, 9, 10, 29, 30, 49]])
    vectors = tied.embed.token(ids)[0]  # (6, d_model)
    assert_close(vectors[1], asm.head.weight[9] @ projections[0].weight.T)  # head cluster: a row of the head
    assert_close(vectors[2], asm.tail[0][1].weight[0] @ projections[1].weight.T)  # tail 1: its table's row 0
    assert_close(vectors[5], asm.tail[1][1].weight[19] @ projections[2].weight.T)
    # Gradients from the input side reach the shared output tables.
    tied.embed.token(torch.tensor([[45]])).sum().backward()
    assert asm.tail[1][1].weight.grad[15].abs().sum() > 0
    assert asm.tail[1][1].weight.grad[14].abs().sum() == 0


@pytest.mark.parametrize("tie", [False, True])
def test_kv_cache_gives_the_same_log_probs_as_recomputing(tie):
    model = DecoderOnlyLM(adaptive(tie_embeddings=tie)).eval()
    ids = torch.randint(0, 50, (2, 9))
    full = model(ids)
    cache = model.new_cache()
    steps = [model(ids[:, :4], cache=cache)] + [model(ids[:, t : t + 1], cache=cache) for t in range(4, 9)]
    assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
    cached = [r.token_id for r in generate(model, [1, 2, 3], 8, temperature=0.8, seed=3, use_cache=True)]
    uncached = [r.token_id for r in generate(model, [1, 2, 3], 8, temperature=0.8, seed=3, use_cache=False)]
    assert cached == uncached


def test_an_adaptive_model_learns_a_repeating_sequence():
    torch.manual_seed(0)
    model = DecoderOnlyLM(adaptive(tie_embeddings=True))
    pattern = torch.tensor([3, 17, 42, 8, 33, 3, 17, 42, 8, 33, 3, 17, 42, 8, 33, 3, 17])[None]
    x, y = pattern[:, :-1], pattern[:, 1:]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    first = None
    for _ in range(150):
        loss = model.lm_head.loss(model.hidden_states(x), y)
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert first > math.log(50) * 0.8
    assert loss.item() < 0.3
    model.eval()
    assert model(x)[0, 5:].argmax(-1).tolist() == y[0, 5:].tolist()


def test_adaptive_model_runs_under_bfloat16_autocast():
    model = DecoderOnlyLM(adaptive(tie_embeddings=True))
    ids = torch.randint(0, 50, (2, 6))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model.lm_head.loss(model.hidden_states(ids), ids)
    loss.backward()
    assert math.isfinite(loss.item()) and abs(loss.item() - math.log(50)) < 1.5
