"""Search for the best translation: greedy search and beam search over an encoder-decoder's outputs.

An encoder-decoder model gives, for a source sentence x and a target prefix y_<t, the distribution
p(y_t | y_<t, x). A translation y = (y_1, …, y_n, EOS) scores

    log p(y | x) = Σ_t log p(y_t | y_<t, x)                    (nats; always ≤ 0)

Greedy search appends the single most probable token at every step. Beam search keeps the
``beam_width`` most probable prefixes at every step and extends each of them by every token
(Sutskever et al. 2014, "Sequence to Sequence Learning with Neural Networks", §3.2; Jurafsky & Martin,
*Speech and Language Processing*, 3rd ed. draft, §13.4). Because every
extra token adds a negative log-probability, raw scores favour short outputs; finished hypotheses are
therefore ranked by the GNMT length-normalised score (Wu et al. 2016, "Google's Neural Machine
Translation System", §7, eq. 14):

    score(y) = log p(y | x) / lp(y),     lp(y) = ((5 + |y|) / (5 + 1)) ** α

with α the *length penalty* (0 = no normalisation; the Transformer paper, Vaswani et al. 2017 §6.1,
used beam width 4 and α = 0.6). |y| counts the generated tokens including EOS, excluding BOS.

Shape legend: B batch, S source length, T target length, V target vocabulary size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .models import Seq2SeqTransformer

__all__ = ["Hypothesis", "beam_search", "greedy_search", "length_penalty", "sequence_log_prob"]


@dataclass
class Hypothesis:
    """One output sequence of a search.

    tokens: target ids without BOS; ends with EOS when ``finished``.
    log_prob: log p(tokens | source) under the model, in nats (a sum over the tokens).
    score: ``log_prob / length_penalty(len(tokens), α)`` — what the search ranks by.
    finished: whether the sequence ended with EOS (False: it was cut at ``max_new_tokens``).
    """

    tokens: list[int]
    log_prob: float
    score: float
    finished: bool


def length_penalty(length: int, alpha: float) -> float:
    """GNMT length penalty lp = ((5 + length) / 6) ** alpha (Wu et al. 2016, eq. 14); 1.0 when alpha = 0.

    Raises ValueError for a negative ``alpha`` or ``length``.
    """
    if alpha < 0:
        raise ValueError(f"the length penalty α must be ≥ 0, got {alpha}")
    if length < 0:
        raise ValueError(f"length must be ≥ 0, got {length}")
    return ((5.0 + length) / 6.0) ** alpha


def _as_batch(src: Tensor) -> Tensor:
    if src.dim() == 1:
        src = src[None]
    if src.dim() != 2 or src.shape[1] == 0:
        raise ValueError(f"the source must be (B, S) token ids with S ≥ 1, got shape {tuple(src.shape)}")
    return src


def _next_log_probs(model: Seq2SeqTransformer, prefix: Tensor, memory: Tensor, src: Tensor) -> Tensor:
    """log p(· | prefix, source) for every row: prefix (N, t), memory (N, S, d_model), src (N, S) → (N, V)."""
    logits = model.decode(prefix, memory, src)[:, -1]
    return torch.log_softmax(logits.float(), dim=-1)


def _check_search(bos_id: int, eos_id: int, max_new_tokens: int, vocab_size: int) -> None:
    for name, value in (("bos_id", bos_id), ("eos_id", eos_id)):
        if not 0 <= value < vocab_size:
            raise ValueError(f"{name} {value} is outside the target vocabulary (0 … {vocab_size - 1})")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be ≥ 1, got {max_new_tokens}")


@torch.no_grad()
def greedy_search(
    model: Seq2SeqTransformer,
    src: Tensor,
    *,
    bos_id: int,
    eos_id: int | None,
    max_new_tokens: int,
    alpha: float = 0.0,
) -> list[Hypothesis]:
    """Greedy search for a batch: src (B, S) (or (S,)) → one :class:`Hypothesis` per row.

    Each step appends argmax_v p(v | y_<t, x) to every unfinished row; the encoder runs once. Rows that
    have produced ``eos_id`` are padded (with the model's pad id, else EOS) and no longer scored.
    ``eos_id=None`` decodes a fixed length: every row gets exactly ``max_new_tokens`` tokens (AddSub, whose
    answers always have 4, as EECS 498 A5). ``alpha`` only sets each hypothesis's ``score`` (the search
    itself ignores it).
    Raises ValueError for a malformed source, ids outside the vocabulary, or max_new_tokens < 1.
    """
    src = _as_batch(src)
    _check_search(bos_id, bos_id if eos_id is None else eos_id, max_new_tokens, model.config.vocab_size)
    model.eval()
    B, device = src.shape[0], src.device
    filler = next(i for i in (model.config.pad_id, eos_id, bos_id) if i is not None)  # after EOS; unused without
    memory = model.encode(src)
    out = torch.full((B, 1), bos_id, dtype=torch.long, device=device)
    log_prob = torch.zeros(B, device=device)
    length = torch.zeros(B, dtype=torch.long, device=device)
    finished = torch.zeros(B, dtype=torch.bool, device=device)
    for _ in range(max_new_tokens):
        best_lp, best_id = _next_log_probs(model, out, memory, src).max(dim=-1)  # (B,), (B,)
        best_id = torch.where(finished, torch.full_like(best_id, filler), best_id)
        log_prob += torch.where(finished, torch.zeros_like(best_lp), best_lp)
        length += (~finished).long()
        out = torch.cat([out, best_id[:, None]], dim=1)  # (B, t + 1)
        if eos_id is not None:
            finished |= best_id == eos_id
            if bool(finished.all()):
                break
    hypotheses = []
    for b in range(B):
        n = int(length[b])
        lp = float(log_prob[b])
        hypotheses.append(Hypothesis(out[b, 1 : 1 + n].tolist(), lp, lp / length_penalty(n, alpha), bool(finished[b])))
    return hypotheses


@torch.no_grad()
def beam_search(
    model: Seq2SeqTransformer,
    src: Tensor,
    *,
    bos_id: int,
    eos_id: int,
    beam_width: int = 4,
    length_penalty: float = 0.6,
    max_new_tokens: int = 50,
) -> list[Hypothesis]:
    """Beam search for one source sentence: src (1, S) or (S,) → ``beam_width`` hypotheses, best first.

    The beam holds the ``beam_width`` most probable prefixes. At every step each live prefix is extended
    by every token of the vocabulary and the best ``width`` candidates (by log p) are kept, where
    ``width`` is the number of beam slots still open. A candidate ending in EOS is finished: it leaves
    the beam and closes its slot, so the beam shrinks until every slot holds a finished hypothesis or
    ``max_new_tokens`` is reached (Jurafsky & Martin, *Speech and Language Processing*, 3rd ed. draft,
    §13.4 "Decoding in MT: Beam Search"). Hypotheses are then ranked by the GNMT score
    log p / lp(|y|) with α = ``length_penalty``; ones cut at ``max_new_tokens`` (``finished`` False)
    come after the finished ones.

    With ``beam_width`` = 1 this is exactly greedy search. Raises ValueError for a batch of more than
    one sentence, beam_width < 1, a negative length penalty, or bad ids.
    """
    src = _as_batch(src)
    if src.shape[0] != 1:
        raise ValueError(f"beam search translates one sentence at a time; got a batch of {src.shape[0]}")
    if beam_width < 1:
        raise ValueError(f"beam width must be ≥ 1, got {beam_width}")
    alpha = length_penalty
    lp_of = globals()["length_penalty"]  # the function, shadowed by the argument's name
    lp_of(0, alpha)  # validates α
    V = model.config.vocab_size
    _check_search(bos_id, eos_id, max_new_tokens, V)
    model.eval()
    memory = model.encode(src)  # (1, S, d_model)
    alive = torch.full((1, 1), bos_id, dtype=torch.long, device=src.device)  # (k, 1 + t)
    alive_lp = torch.zeros(1, device=src.device)  # (k,)
    done: list[Hypothesis] = []
    width = beam_width  # open slots
    for t in range(1, max_new_tokens + 1):
        k = alive.shape[0]
        step_lp = _next_log_probs(model, alive, memory.expand(k, -1, -1), src.expand(k, -1))  # (k, V)
        candidates = (alive_lp[:, None] + step_lp).view(-1)  # (k·V,)
        top_lp, top_idx = candidates.topk(min(width, candidates.numel()))
        keep_rows, keep_tokens, keep_lp = [], [], []
        for lp, idx in zip(top_lp.tolist(), top_idx.tolist(), strict=True):
            row, token = divmod(idx, V)
            if token == eos_id:
                done.append(Hypothesis(alive[row, 1:].tolist() + [eos_id], lp, lp / lp_of(t, alpha), True))
                width -= 1
            else:
                keep_rows.append(row)
                keep_tokens.append(token)
                keep_lp.append(lp)
        if not keep_rows:
            alive = alive[:0]
            break
        rows = torch.tensor(keep_rows, device=src.device)
        alive = torch.cat([alive[rows], torch.tensor(keep_tokens, device=src.device)[:, None]], dim=1)
        alive_lp = torch.tensor(keep_lp, device=src.device)
    for row in range(alive.shape[0]):  # cut at max_new_tokens without EOS
        n = alive.shape[1] - 1
        lp = float(alive_lp[row])
        done.append(Hypothesis(alive[row, 1:].tolist(), lp, lp / lp_of(n, alpha), False))
    done.sort(key=lambda h: (h.finished, h.score), reverse=True)
    return done[:beam_width]


@torch.no_grad()
def sequence_log_prob(model: Seq2SeqTransformer, src: Tensor, tokens: list[int], *, bos_id: int) -> float:
    """log p(tokens | src) in nats under the model, by one teacher-forced pass (tokens exclude BOS).

    src: (1, S) or (S,). Raises ValueError for an empty ``tokens`` or a batch of more than one.
    """
    src = _as_batch(src)
    if src.shape[0] != 1:
        raise ValueError(f"give one source sentence, got a batch of {src.shape[0]}")
    if not tokens:
        raise ValueError("tokens is empty: nothing to score")
    model.eval()
    tgt = torch.tensor([[bos_id, *tokens]], device=src.device)
    log_probs = torch.log_softmax(model(src, tgt[:, :-1]).float(), dim=-1)  # (1, n, V)
    return float(log_probs[0].gather(1, tgt[0, 1:, None]).sum())
