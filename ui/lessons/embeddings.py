"""Tokens → vectors for the explorer pages: a random embedding table, positional tables, a sentence as X.

Used by the Tokens & embeddings page and, through :func:`embed_tokens`, by every sentence lesson.
Shape legend: T sequence length, B batch, H heads (n_heads), d_model model width, d_k width of one
head's queries and keys, d_v width of its values, d_ff feed-forward width, V vocabulary size.
Row convention throughout (one token per row, as PyTorch).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from transformer.layers import LearnedPositionalEncoding, simple_positional_encoding, sinusoidal_positional_encoding

__all__ = [
    "PAD_TOKEN",
    "POSITIONAL_KINDS",
    "TokenEmbedding",
    "embed_tokens",
    "embedding_lookup",
    "generator",
    "position_similarity",
    "positional_table",
    "random_projection",
]

POSITIONAL_KINDS = ("sinusoidal", "simple", "learned")
PAD_TOKEN = "[PAD]"


def generator(seed: int) -> torch.Generator:
    """A private random generator seeded with ``seed`` (the global one is left alone)."""
    return torch.Generator().manual_seed(int(seed))


@dataclass
class TokenEmbedding:
    """A sentence as vectors: x = embedding[ids] (+ positional encoding).

    vocab: the distinct tokens in order of first appearance (id = index); ids (T,);
    token_vectors (T, d_model) the embedding rows; positions (T, d_model) (zeros when none is added);
    x (T, d_model) = token_vectors + positions.
    """

    vocab: list[str]
    ids: Tensor
    token_vectors: Tensor
    positions: Tensor
    x: Tensor


def embedding_lookup(ids: Tensor, vocab_size: int, d_model: int, seed: int = 0) -> Tensor:
    """Rows ``ids`` of a random N(0, 1) embedding table E (vocab_size, d_model), as ``nn.Embedding``.

    ids (…,) integers in [0, vocab_size) → (…, d_model). The same seed gives the same table.
    Raises ValueError for ids outside the vocabulary or a non-positive size.
    """
    if vocab_size < 1 or d_model < 1:
        raise ValueError(f"vocab_size and d_model must be positive, got {vocab_size} and {d_model}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"token ids must lie in [0, {vocab_size})")
    table = torch.randn(vocab_size, d_model, generator=generator(seed))  # (V, d_model), nn.Embedding's init
    return nn.functional.embedding(ids, table)  # (…, d_model)


def positional_table(kind: str, length: int, d_model: int, seed: int = 0) -> Tensor:
    """The positional encodings of positions 0 … length−1 as a (length, d_model) table.

    kind: "sinusoidal" (Vaswani et al. §3.5), "simple" (the course's n/K with K = length, EECS 498 A5)
    or "learned" (an ``nn.Embedding`` of positions, here at its random initialisation, N(0, 0.02²):
    training would shape it). Raises ValueError for an unknown kind or non-positive sizes.
    """
    if length < 1 or d_model < 1:
        raise ValueError(f"length and d_model must be positive, got {length} and {d_model}")
    if kind == "sinusoidal":
        return sinusoidal_positional_encoding(length, d_model)
    if kind == "simple":
        return simple_positional_encoding(length, d_model)[0]  # (length, d_model)
    if kind == "learned":
        with torch.random.fork_rng(devices=[]):  # the module initialises from the global generator
            torch.manual_seed(seed)
            return LearnedPositionalEncoding(d_model, max_len=length).pe.detach().clone()
    raise ValueError(f"positional encoding must be one of {POSITIONAL_KINDS}, got {kind!r}")


def position_similarity(table: Tensor, cosine: bool = False) -> Tensor:
    """Dot product of every position's encoding with every other's: P Pᵀ, (T, d) → (T, T).

    With ``cosine`` each row is first scaled to unit length (so the diagonal is 1).
    """
    if cosine:
        table = table / table.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return table @ table.T  # (T, d) @ (d, T) -> (T, T)


def embed_tokens(tokens: Sequence[str], d_model: int, seed: int = 0, positional: str | None = "sinusoidal") -> TokenEmbedding:
    """Turn a list of tokens into the matrix X (T, d_model) that attention reads.

    Each distinct token gets an id (order of first appearance) and a row of a random N(0, 1) embedding
    table (:func:`embedding_lookup`), so a repeated word gets the same vector; then the positional
    encoding ``positional`` (see :func:`positional_table`, or None for none) is added.
    Raises ValueError for an empty list or d_model < 1.
    """
    if not tokens:
        raise ValueError("there are no tokens to embed: the text is empty")
    vocab: list[str] = list(dict.fromkeys(tokens))
    index = {tok: i for i, tok in enumerate(vocab)}
    ids = torch.tensor([index[t] for t in tokens])  # (T,)
    vectors = embedding_lookup(ids, len(vocab), d_model, seed)  # (T, d_model)
    if positional is None:
        positions = torch.zeros_like(vectors)
    else:
        positions = positional_table(positional, len(tokens), d_model, seed)
    return TokenEmbedding(vocab=vocab, ids=ids, token_vectors=vectors, positions=positions, x=vectors + positions)


def random_projection(d_in: int, d_out: int, seed: int) -> Tensor:
    """A random weight matrix W (d_in, d_out) with entries N(0, 1/d_in), so x W keeps unit variance."""
    if d_in < 1 or d_out < 1:
        raise ValueError(f"matrix sizes must be positive, got ({d_in}, {d_out})")
    return torch.randn(d_in, d_out, generator=generator(seed)) / math.sqrt(d_in)
