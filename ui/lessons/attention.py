"""Lessons of the Attention, step by step page: one head on a sentence, masks, why √d_k, the loop versions.

Every number comes from the core: :func:`transformer.trace.trace_self_attention` for the steps,
:mod:`transformer.attention` for the loop, no-loop and vectorised versions.
Shape legend: T sequence length, B batch, H heads (n_heads), d_model model width, d_k width of one
head's queries and keys, d_v width of its values, d_ff feed-forward width, V vocabulary size.
Row convention throughout (one token per row, as PyTorch).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from transformer.attention import (
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
    scaled_dot_product_two_loop_batch,
    scaled_dot_product_two_loop_single,
)
from transformer.trace import AttentionTrace, trace_self_attention

from .embeddings import PAD_TOKEN, TokenEmbedding, embed_tokens, generator, random_projection

__all__ = [
    "MASK_KINDS",
    "LoopComparison",
    "ScalingRow",
    "SentenceAttention",
    "attention_entropy",
    "build_mask",
    "compare_loop_versions",
    "even_spread_entropy",
    "scaling_sweep",
    "sentence_attention",
    "weight_stats",
]

MASK_KINDS = ("none", "causal", "padding")


def build_mask(kind: str, T: int, is_pad: Sequence[bool] | None = None) -> Tensor | None:
    """The attention mask of a page's choice, True = may attend.

    "none" → None; "causal" → (T, T) lower-triangular (:func:`~transformer.attention.causal_mask`);
    "padding" → the key padding mask (1, T): no query may attend to a key whose ``is_pad`` is True
    (:func:`~transformer.attention.padding_mask`). Raises ValueError for an unknown kind, or for
    "padding" without an ``is_pad`` of length T.
    """
    if kind == "none":
        return None
    if kind == "causal":
        return causal_mask(T)
    if kind == "padding":
        if is_pad is None or len(is_pad) != T:
            raise ValueError("a padding mask needs one is_pad flag per token")
        flags = torch.tensor([[1 if p else 0 for p in is_pad]])  # (1, T), 1 = the padding token
        return padding_mask(flags, pad_id=1)[0, 0]  # (1, T)
    raise ValueError(f"mask must be one of {MASK_KINDS}, got {kind!r}")


@dataclass
class SentenceAttention:
    """One head of self-attention on a sentence: the tokens, their embedding and the full trace."""

    tokens: list[str]  # (T,) including any [PAD] tokens
    is_pad: list[bool]  # (T,)
    embedding: TokenEmbedding
    trace: AttentionTrace  # x (T, d_model), w_q/w_k (d_model, d_k), w_v (d_model, d_v), … (T, T) …


def sentence_attention(
    tokens: Sequence[str],
    d_model: int,
    d_k: int,
    seed: int = 0,
    mask: str = "none",
    n_pad: int = 0,
    scale: bool = True,
    positional: str | None = "sinusoidal",
) -> SentenceAttention:
    """Self-attention of one random head over a sentence (Vaswani et al. eq. 1; the mask as §3.2.3), every step kept.

    The sentence gets ``n_pad`` [PAD] tokens appended (they matter with mask="padding"), is embedded by
    :func:`embed_tokens`, and projected by W_Q, W_K, W_V = :func:`random_projection` (d_v = d_k), seeds
    ``seed`` + 1, 2, 3. Returns a :class:`SentenceAttention`. Raises ValueError for empty tokens,
    non-positive sizes or an unknown mask.
    """
    if n_pad < 0:
        raise ValueError(f"n_pad must be at least 0, got {n_pad}")
    all_tokens = [*tokens, *([PAD_TOKEN] * n_pad)]
    is_pad = [False] * len(tokens) + [True] * n_pad
    emb = embed_tokens(all_tokens, d_model, seed, positional)
    w_q, w_k, w_v = (random_projection(d_model, d_k, seed + i) for i in (1, 2, 3))
    m = build_mask(mask, len(all_tokens), is_pad)
    trace = trace_self_attention(emb.x, w_q, w_k, w_v, mask=m, scale=scale)
    return SentenceAttention(tokens=all_tokens, is_pad=is_pad, embedding=emb, trace=trace)


def attention_entropy(weights: Tensor) -> Tensor:
    """Entropy −Σ_j a_ij ln a_ij of each row of attention weights, in nats: (…, T_q, T_k) → (…, T_q).

    0 when a query puts all its weight on one key; ln T_k when it spreads evenly. Zero weights
    (masked keys, all-masked rows) contribute 0.
    """
    logs = torch.where(weights > 0, weights.log(), torch.zeros_like(weights))
    return -(weights * logs).sum(dim=-1)


def even_spread_entropy(mask: Tensor | None, T_q: int, T_k: int) -> Tensor:
    """The largest entropy each query row can have, in nats: ln(number of keys it may attend to), (T_q,).

    A row that spreads its weight evenly over its n allowed keys has entropy ln n: ln T_k without a mask,
    ln(i + 1) for row i under a causal mask (it sees keys 0 … i), ln(T_k − padding) under a key padding
    mask. ``mask``: bool broadcastable to (T_q, T_k), True = may attend, or None. A row with no allowed
    key gets 0.
    """
    if T_q < 1 or T_k < 1:
        raise ValueError(f"T_q and T_k must be at least 1, got {T_q} and {T_k}")
    allowed = torch.ones(T_q, T_k, dtype=torch.bool) if mask is None else mask.to(torch.bool).expand(T_q, T_k)
    counts = allowed.sum(dim=-1).to(torch.float64)  # (T_q,)
    return torch.where(counts > 0, counts.clamp(min=1).log(), torch.zeros_like(counts))


def weight_stats(weights: Tensor) -> tuple[float, float]:
    """(mean over queries of the largest weight, mean over queries of the entropy in nats)."""
    return float(weights.max(dim=-1).values.mean()), float(attention_entropy(weights).mean())


@dataclass
class ScalingRow:
    """What scaling does at one width d_k: mean largest weight and mean entropy over random rows."""

    d_k: int
    scaled: bool
    max_weight: float
    entropy: float
    score_std: float  # standard deviation of the scores fed to the softmax


def scaling_sweep(d_ks: Sequence[int], T: int, samples: int = 64, seed: int = 0) -> list[ScalingRow]:
    """Why divide by √d_k (Vaswani et al. §3.2.1): softmax statistics as d_k grows, scaled vs not.

    For each d_k, ``samples`` random queries and T random keys with N(0, 1) entries: the dot products
    q·k have variance d_k, so without scaling the softmax saturates (largest weight → 1, entropy → 0);
    dividing by √d_k keeps the variance at 1. Returns two rows per d_k (scaled False, True).
    Raises ValueError when T < 1 or a d_k < 1.
    """
    if T < 1 or any(d < 1 for d in d_ks):
        raise ValueError("T and every d_k must be at least 1")
    gen = generator(seed)
    rows = []
    for d_k in d_ks:
        q = torch.randn(samples, 1, d_k, generator=gen)  # (samples, 1, d_k)
        k = torch.randn(samples, T, d_k, generator=gen)  # (samples, T, d_k)
        for scaled in (False, True):
            scores = (q @ k.transpose(-2, -1)).squeeze(1)  # (samples, T)
            if scaled:
                scores = scores / math.sqrt(d_k)
            weights = torch.softmax(scores, dim=-1)
            max_w, ent = weight_stats(weights)
            rows.append(ScalingRow(d_k, scaled, max_w, ent, float(scores.std()) if scores.numel() > 1 else 0.0))
    return rows


@dataclass
class LoopComparison:
    """Outputs of the course's loop versions and the vectorised one on the same inputs."""

    outputs: dict[str, Tensor]  # name → output (T, d_v)
    max_abs_diff: dict[str, float]  # name → max |output − vectorised output|


def compare_loop_versions(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> LoopComparison:
    """Run two-loop single, two-loop batch (batch of 1) and the vectorised attention, always scaled.

    q (T, d_k), k (T, d_k), v (T, d_v); mask bool broadcastable to (T, T), True = may attend.
    """
    with torch.no_grad():
        vectorised, _ = scaled_dot_product_attention(q, k, v, mask=mask)
        outputs = {
            "scaled_dot_product_two_loop_single": scaled_dot_product_two_loop_single(q, k, v, mask),
            "scaled_dot_product_two_loop_batch": scaled_dot_product_two_loop_batch(q[None], k[None], v[None], mask)[0],
            "scaled_dot_product_attention": vectorised,
        }
    diffs = {name: float((out - vectorised).abs().max()) if out.numel() else 0.0 for name, out in outputs.items()}
    return LoopComparison(outputs=outputs, max_abs_diff=diffs)
