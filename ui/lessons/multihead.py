"""Lessons of the Multi-head attention page: a seeded ``MultiHeadAttention`` over a sentence, step by step,
and the course's list-of-heads form beside the fused one.
Shape legend: T sequence length, B batch, H heads (n_heads), d_model model width, d_k width of one
head's queries and keys, d_v width of its values, d_ff feed-forward width, V vocabulary size.
Row convention throughout (one token per row, as PyTorch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from transformer.attention import ListOfHeadsMultiHeadAttention, MultiHeadAttention
from transformer.trace import MultiHeadTrace, trace_multihead

from .attention import build_mask
from .embeddings import TokenEmbedding, embed_tokens

__all__ = ["SentenceMultiHead", "list_of_heads_difference", "sentence_multihead"]


@dataclass
class SentenceMultiHead:
    """Multi-head self-attention of a random :class:`MultiHeadAttention` over a sentence."""

    tokens: list[str]
    embedding: TokenEmbedding
    module: MultiHeadAttention  # in eval mode; w_o.weight is (d_model, d_model)
    trace: MultiHeadTrace  # B = 1
    mask: Tensor | None = None  # (T, T) bool, True = may attend, or None


def sentence_multihead(
    tokens: Sequence[str],
    d_model: int,
    n_heads: int,
    seed: int = 0,
    mask: str = "none",
    positional: str | None = "sinusoidal",
) -> SentenceMultiHead:
    """Embed ``tokens`` (:func:`embed_tokens`) and run a freshly initialised ``MultiHeadAttention(d_model,
    n_heads)`` (seeded, without touching the global generator) over them, every step kept.

    mask: "none" or "causal". Raises ValueError when d_model is not divisible by n_heads (the message says
    which head counts would work), for empty tokens or an unknown mask.
    """
    if mask not in ("none", "causal"):
        raise ValueError(f"mask must be 'none' or 'causal', got {mask!r}")
    with torch.random.fork_rng(devices=[]):  # nn.Linear initialises from the global generator
        torch.manual_seed(seed)
        mha = MultiHeadAttention(d_model, n_heads).eval()
    emb = embed_tokens(tokens, d_model, seed, positional)
    x = emb.x[None]  # (1, T, d_model)
    m = build_mask(mask, x.shape[1])
    return SentenceMultiHead(list(tokens), emb, mha, trace_multihead(mha, x, m), m)


@torch.no_grad()
def list_of_heads_difference(res: SentenceMultiHead) -> float:
    """max |fused output − list-of-heads output| on the sentence of ``res`` (a :func:`sentence_multihead` result).

    The list of heads is :meth:`ListOfHeadsMultiHeadAttention.from_fused` ``(res.module)``: the course's
    ``nn.ModuleList`` of ``SelfAttention`` heads with the fused module's weights copied in, under the same mask.
    Float rounding only: about 1e-7 in float32.
    """
    x = res.embedding.x[None]  # (1, T, d_model)
    fused, _ = res.module(x, mask=res.mask)  # (1, T, d_model)
    heads = ListOfHeadsMultiHeadAttention.from_fused(res.module)(x, x, x, res.mask)  # (1, T, d_model)
    return float((fused - heads).abs().max())
