"""Translating with an encoder-decoder: sentences in, translations out (greedy or beam search).

The task adapter that trains a translator, its loss and its BLEU are in
:mod:`trainers.tasks.translation_task`; the data and tokenizer in :mod:`trainers.tasks.translation`.

- :func:`translate_sentences`: sentences in, translations out, by greedy (batched) or beam search
  (:mod:`transformer.decoding`), in the input order; :func:`greedy_candidate` / :func:`beam_candidates`
  give one sentence's translation(s) with log-probabilities and scores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from transformer.decoding import beam_search, greedy_search
from transformer.models import TransformerConfig

from .tasks import translation as tr
from .tasks.base import check_stop

__all__ = [
    "DECODINGS",
    "Candidate",
    "beam_candidates",
    "decode_batch",
    "greedy_candidate",
    "max_new_tokens_for",
    "translate_sentences",
]

DECODINGS: tuple[str, ...] = ("greedy", "beam")
MODEL_MAX_LEN = 128  # positions of a translation model: sources and targets up to 128 tokens (Multi30k's longest: 60)
EVAL_BATCH = 64  # sentences decoded at once during evaluation; a periodic evaluation reads eval_batches × this


def max_new_tokens_for(config: TransformerConfig, src_len: int) -> int:
    """A length limit for a translation of a ``src_len``-token source: 1.5 × src_len + 10, within ``max_len``."""
    return max(1, min(config.max_len - 1, int(1.5 * src_len) + 10))


def _cut(tokens: Sequence[int]) -> list[int]:
    """Ids up to (not including) the first EOS."""
    out = []
    for t in tokens:
        if t == tr.EOS_ID:
            break
        out.append(int(t))
    return out


@torch.no_grad()
def decode_batch(model: nn.Module, src: Tensor, max_new_tokens: int) -> list[list[int]]:
    """Greedy translations of a padded batch src (B, S): one id list per row, without BOS/EOS."""
    hyps = greedy_search(model, src, bos_id=tr.BOS_ID, eos_id=tr.EOS_ID, max_new_tokens=max_new_tokens)
    return [_cut(h.tokens) for h in hyps]


@dataclass
class Candidate:
    """One translation: its ids (no BOS/EOS), text, summed log-probability (nats), score and whether it ended.

    ``length``: the number of tokens the score's length penalty counts — the ids plus EOS when ``finished``
    (``score = log_prob / transformer.decoding.length_penalty(length, α)``).
    """

    ids: list[int]
    text: str
    log_prob: float
    score: float
    finished: bool
    length: int


@torch.no_grad()
def translate_sentences(
    model: nn.Module,
    tokenizer,
    sources: Sequence[str],
    decoding: str = "greedy",
    beam_width: int = 4,
    length_penalty: float = 0.6,
    batch_size: int = EVAL_BATCH,
    should_stop: Callable[[], bool] | None = None,
) -> list[str]:
    """Translate ``sources`` (plain sentences) with ``decoding`` "greedy" (batched) or "beam"; texts in input order.

    Sentences are cleaned (:func:`~trainers.tasks.translation.clean_text`); too-long sources are cut to the
    model's ``max_len``. Raises ValueError for an unknown decoding; :class:`~trainers.tasks.base.TrainingStopped`
    when ``should_stop`` turns true between batches.
    """
    if decoding not in DECODINGS:
        raise ValueError(f"decoding must be one of {', '.join(DECODINGS)}, got {decoding!r}")
    device = next(model.parameters()).device
    limit = model.config.max_len
    encoded = [tr.encode_source(tokenizer, tr.clean_text(s))[-limit:] for s in sources]
    results: list[str | None] = [None] * len(encoded)
    was_training = model.training
    model.eval()
    try:
        if decoding == "greedy":
            order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
            for start in range(0, len(order), batch_size):
                check_stop(should_stop)
                index = order[start : start + batch_size]
                src = tr.pad_batch([encoded[i] for i in index]).to(device)
                outs = decode_batch(model, src, max_new_tokens_for(model.config, src.shape[1]))
                for i, ids in zip(index, outs, strict=True):
                    results[i] = tr.detokenize(tokenizer, ids)
        else:
            for i, ids in enumerate(encoded):
                check_stop(should_stop)
                best = beam_candidates(model, tokenizer, ids, beam_width, length_penalty)[0]
                results[i] = best.text
    finally:
        model.train(was_training)
    return [r or "" for r in results]


@torch.no_grad()
def greedy_candidate(model: nn.Module, tokenizer, src_ids: Sequence[int]) -> Candidate:
    """Greedy translation of one source (ids incl. EOS) with its log-probability in nats (score = log-probability)."""
    device = next(model.parameters()).device
    src = torch.tensor([list(src_ids)], device=device)
    limit = max_new_tokens_for(model.config, src.shape[1])
    h = greedy_search(model, src, bos_id=tr.BOS_ID, eos_id=tr.EOS_ID, max_new_tokens=limit)[0]
    ids = _cut(h.tokens)
    return Candidate(ids, tr.detokenize(tokenizer, ids), float(h.log_prob), float(h.score), bool(h.finished),
                     len(h.tokens))


@torch.no_grad()
def beam_candidates(
    model: nn.Module, tokenizer, src_ids: Sequence[int], beam_width: int = 4, length_penalty: float = 0.6
) -> list[Candidate]:
    """The n-best list of beam search for one source (ids incl. EOS), best first (``transformer.decoding``).

    Raises ValueError for a beam width below 1 or a negative length penalty.
    """
    device = next(model.parameters()).device
    src = torch.tensor([list(src_ids)], device=device)
    hyps = beam_search(
        model, src, bos_id=tr.BOS_ID, eos_id=tr.EOS_ID, beam_width=beam_width, length_penalty=length_penalty,
        max_new_tokens=max_new_tokens_for(model.config, src.shape[1]),
    )
    out = []
    for h in hyps:
        ids = _cut(h.tokens)
        out.append(Candidate(ids, tr.detokenize(tokenizer, ids), float(h.log_prob), float(h.score), bool(h.finished),
                             len(h.tokens)))
    return out
