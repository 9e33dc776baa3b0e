"""Scaled dot-product attention, masks and multi-head attention, written out by hand.

Shape legend used on every line that reshapes:
    B  batch size          H    number of heads (n_heads)
    T  sequence length     T_q  query length, T_k key/value length
    d_model  model width   d_k  width of one head's queries and keys (d_model / n_heads)
    d_v      width of one head's values

Mask convention (as ``torch.nn.functional.scaled_dot_product_attention``): masks are boolean and
``True`` means "this query may attend to this key".

Sources: Vaswani et al. 2017, "Attention Is All You Need", eq. 1 (scaled dot-product attention) and
§3.2.2 (multi-head attention); the EECS 498 A5 / Fudan Lab3 assignments for the loop versions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "AttentionTrace",
    "KVCache",
    "MultiHeadAttention",
    "causal_mask",
    "padding_mask",
    "scaled_dot_product_attention",
    "scaled_dot_product_two_loop_batch",
    "scaled_dot_product_two_loop_single",
    "trace_attention",
    "trace_self_attention",
]


# --------------------------------------------------------------------------------------------------
# Masks
# --------------------------------------------------------------------------------------------------
def causal_mask(T: int, device: torch.device | str | None = None) -> Tensor:
    """Causal (look-ahead) mask: position i may attend to positions j <= i.

    Returns a (T, T) bool tensor, lower-triangular, True = may attend (Vaswani et al. §3.2.3).
    Raises ValueError when T < 1.
    """
    if T < 1:
        raise ValueError(f"causal_mask needs a sequence length of at least 1, got T={T}")
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def padding_mask(token_ids: Tensor, pad_id: int) -> Tensor:
    """Key padding mask: every query may attend to every key that is not padding.

    token_ids: (B, T_k) integer ids. Returns (B, 1, 1, T_k) bool, True = may attend, which broadcasts
    against attention scores of shape (B, H, T_q, T_k).
    Raises ValueError when token_ids is not 2-D.
    """
    if token_ids.dim() != 2:
        raise ValueError(f"padding_mask expects token ids of shape (B, T), got {tuple(token_ids.shape)}")
    return (token_ids != pad_id)[:, None, None, :]  # (B, 1, 1, T_k)


# --------------------------------------------------------------------------------------------------
# Scaled dot-product attention
# --------------------------------------------------------------------------------------------------
@dataclass
class AttentionTrace:
    """Every intermediate of one attention call, so a page can show each step.

    All tensors are detached. With q (…, T_q, d_k), k (…, T_k, d_k), v (…, T_k, d_v):
      scores        (…, T_q, T_k)  Q Kᵀ
      scaled_scores (…, T_q, T_k)  Q Kᵀ / √d_k (equal to ``scores`` when scaling is off)
      masked_scores (…, T_q, T_k)  scaled scores with −inf where the mask forbids attending
      weights       (…, T_q, T_k)  softmax over the keys (each row sums to 1; all-masked rows are 0)
      output        (…, T_q, d_v)  weights · V
    ``x`` and ``w_q``/``w_k``/``w_v`` are filled in by :func:`trace_self_attention`.
    """

    q: Tensor
    k: Tensor
    v: Tensor
    scores: Tensor
    scaled_scores: Tensor
    masked_scores: Tensor
    weights: Tensor
    output: Tensor
    d_k: int
    scaled: bool
    mask: Tensor | None = None
    x: Tensor | None = None
    w_q: Tensor | None = None
    w_k: Tensor | None = None
    w_v: Tensor | None = None


def _attention_steps(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None,
    dropout_p: float,
    scale: bool,
    record: dict[str, Tensor] | None,
) -> tuple[Tensor, Tensor]:
    """The one code path behind :func:`scaled_dot_product_attention` and :func:`trace_attention`."""
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"queries and keys must have the same width d_k, got {q.shape[-1]} and {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"keys and values must have the same length T_k, got {k.shape[-2]} and {v.shape[-2]}")
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1)  # (…, T_q, d_k) @ (…, d_k, T_k) -> (…, T_q, T_k)
    scaled = scores / math.sqrt(d_k) if scale else scores
    if mask is not None:
        if mask.dtype != torch.bool:
            raise TypeError(f"the attention mask must be boolean (True = may attend), got {mask.dtype}")
        masked = scaled.masked_fill(~mask, float("-inf"))
        # A query whose keys are all masked has nothing to attend to: its weights are 0, not NaN.
        # Softmax over a row of finite zeros keeps the gradient finite; the row is zeroed afterwards.
        row_open = mask.any(dim=-1, keepdim=True)  # (…, T_q, 1)
        weights = torch.softmax(masked.masked_fill(~row_open, 0.0), dim=-1).masked_fill(~row_open, 0.0)
    else:
        masked = scaled
        weights = torch.softmax(scaled, dim=-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    output = weights @ v  # (…, T_q, T_k) @ (…, T_k, d_v) -> (…, T_q, d_v)
    if record is not None:
        record.update(scores=scores, scaled_scores=scaled, masked_scores=masked)
    return output, weights


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    dropout_p: float = 0.0,
    scale: bool = True,
) -> tuple[Tensor, Tensor]:
    """Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V — eq. 1 of Vaswani et al. 2017.

    q (…, T_q, d_k), k (…, T_k, d_k), v (…, T_k, d_v); mask: bool, broadcastable to (…, T_q, T_k),
    True = may attend. ``scale=False`` skips the division by √d_k (to show why it is there).
    ``dropout_p`` drops attention weights (pass 0 at evaluation time).
    Returns (output (…, T_q, d_v), weights (…, T_q, T_k)). A query whose keys are all masked gets
    all-zero weights and a zero output.
    Raises ValueError on mismatched widths or lengths, TypeError on a non-boolean mask.
    """
    return _attention_steps(q, k, v, mask, dropout_p, scale, None)


def trace_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, scale: bool = True
) -> AttentionTrace:
    """Run :func:`scaled_dot_product_attention` (no dropout) and keep every intermediate step.

    Shapes as in :func:`scaled_dot_product_attention`; see :class:`AttentionTrace` for the fields.
    """
    record: dict[str, Tensor] = {}
    with torch.no_grad():
        output, weights = _attention_steps(q, k, v, mask, 0.0, scale, record)
    return AttentionTrace(
        q=q.detach(),
        k=k.detach(),
        v=v.detach(),
        scores=record["scores"],
        scaled_scores=record["scaled_scores"],
        masked_scores=record["masked_scores"],
        weights=weights,
        output=output,
        d_k=q.shape[-1],
        scaled=scale,
        mask=mask,
    )


def trace_self_attention(
    x: Tensor,
    w_q: Tensor,
    w_k: Tensor,
    w_v: Tensor,
    mask: Tensor | None = None,
    scale: bool = True,
) -> AttentionTrace:
    """Single-head self-attention from the inputs, row convention: Q = X W_Q, K = X W_K, V = X W_V.

    x (…, T, d_model); w_q, w_k (d_model, d_k); w_v (d_model, d_v). Returns the full
    :class:`AttentionTrace`, including x and the three weight matrices.
    Raises ValueError when the widths do not line up.
    """
    for name, w in (("W_Q", w_q), ("W_K", w_k), ("W_V", w_v)):
        if w.shape[0] != x.shape[-1]:
            raise ValueError(f"{name} has {w.shape[0]} rows but the inputs have width d_model={x.shape[-1]}")
    q, k, v = x @ w_q, x @ w_k, x @ w_v  # (…, T, d_model) @ (d_model, d_k) -> (…, T, d_k)
    trace = trace_attention(q, k, v, mask=mask, scale=scale)
    trace.x, trace.w_q, trace.w_k, trace.w_v = x.detach(), w_q.detach(), w_k.detach(), w_v.detach()
    return trace


# --------------------------------------------------------------------------------------------------
# The course's loop versions (EECS 498 A5, Fudan Lab3): teaching material, tested equal to the above.
# --------------------------------------------------------------------------------------------------
def scaled_dot_product_two_loop_single(
    query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None
) -> Tensor:
    """Scaled dot-product attention for ONE sequence with two Python loops (EECS 498 A5).

    query (K, M), key (K, M), value (K, M): K sequence length, M embedding width. For every query
    i and key j: e[i, j] = q_i · k_j / √M; then softmax over j and a weighted sum of the values.
    ``mask`` (K, K) bool, True = may attend. Returns the output, (K, M).
    """
    K, M = query.shape
    scores = torch.zeros(K, key.shape[0], dtype=query.dtype, device=query.device)
    for i in range(K):
        for j in range(key.shape[0]):
            scores[i, j] = torch.dot(query[i], key[j]) / math.sqrt(M)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ value  # (K, K) @ (K, M) -> (K, M)


def scaled_dot_product_two_loop_batch(
    query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None
) -> Tensor:
    """Scaled dot-product attention for a BATCH with two Python loops over positions (EECS 498 A5).

    query (N, K, M), key (N, K, M), value (N, K, M): N batch size. Each loop step computes the
    dot product of query i and key j for the whole batch at once. ``mask`` (K, K) or (N, K, K)
    bool, True = may attend. Returns the output, (N, K, M).
    """
    N, K, M = query.shape
    scores = torch.zeros(N, K, key.shape[1], dtype=query.dtype, device=query.device)
    for i in range(K):
        for j in range(key.shape[1]):
            scores[:, i, j] = (query[:, i, :] * key[:, j, :]).sum(dim=-1) / math.sqrt(M)  # (N,)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return torch.bmm(weights, value)  # (N, K, K) @ (N, K, M) -> (N, K, M)


# --------------------------------------------------------------------------------------------------
# Multi-head attention
# --------------------------------------------------------------------------------------------------
@dataclass
class KVCache:
    """Keys and values of the tokens seen so far, for one attention layer (incremental decoding).

    k, v: (B, H, T_past, d_k). Empty until the first call fills them.
    """

    k: Tensor | None = None
    v: Tensor | None = None

    @property
    def length(self) -> int:
        """Number of cached positions, T_past."""
        return 0 if self.k is None else self.k.shape[-2]


class MultiHeadAttention(nn.Module):
    """MultiHead(Q, K, V) = Concat(head_1, …, head_h) W_O — Vaswani et al. 2017 §3.2.2.

    head_i = Attention(Q W_Q^i, K W_K^i, V W_V^i), with d_k = d_v = d_model / n_heads. The h
    projections are stored as one (d_model → d_model) linear layer each for Q, K and V, whose
    output is split into heads: (B, T, d_model) → (B, H, T, d_k).

    Precision: under ``torch.autocast`` the fast path runs attention itself (the fused
    ``F.scaled_dot_product_attention``) in float32 on the devices named in ``float32_under_autocast``,
    while the projections stay in autocast's bfloat16. On a CPU the bfloat16 flash-attention backward
    cost four times its float32 version (Shakespeare, 4 layers, d_model 128, one thread: 29 % of a step),
    and float32 everywhere was slower than bfloat16 projections. Set it to () to keep autocast's dtype.
    Raises ValueError when d_model is not divisible by n_heads.
    """

    float32_under_autocast: tuple[str, ...] = ("cpu",)  # device types whose fast path runs in float32 under autocast
    fuse_qkv: bool = True  # self-attention computes Q, K, V with one stacked matrix product (qkv_projection)

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        if n_heads < 1 or d_model < 1:
            raise ValueError(f"d_model and n_heads must be positive, got d_model={d_model}, n_heads={n_heads}")
        if d_model % n_heads != 0:
            raise ValueError(
                f"d_model={d_model} is not divisible by n_heads={n_heads}: each head needs "
                f"d_k = d_model / n_heads dimensions (try n_heads in {_divisors(d_model)})"
            )
        self.d_model = d_model
        self.n_heads = n_heads
        self.d_k = d_model // n_heads
        self.dropout = dropout
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def qkv_projection(self, x: Tensor) -> Tensor:
        """[X W_Q, X W_K, X W_V] as one matrix product: x (B, T, d_model) → (B, T, 3·d_model).

        The three weights are stacked for the call (the parameters stay w_q, w_k, w_v); equal to the three
        separate products up to float rounding.
        """
        weight = torch.cat([self.w_q.weight, self.w_k.weight, self.w_v.weight])  # (3·d_model, d_model)
        bias = None if self.w_q.bias is None else torch.cat([self.w_q.bias, self.w_k.bias, self.w_v.bias])
        return F.linear(x, weight, bias)  # (B, T, 3·d_model)

    def split_heads(self, x: Tensor) -> Tensor:
        """(B, T, d_model) → (B, H, T, d_k)."""
        B, T, _ = x.shape
        return x.view(B, T, self.n_heads, self.d_k).transpose(1, 2)  # (B, H, T, d_k)

    def merge_heads(self, x: Tensor) -> Tensor:
        """(B, H, T, d_k) → (B, T, d_model): the concatenation of the heads."""
        B, H, T, d_k = x.shape
        return x.transpose(1, 2).reshape(B, T, H * d_k)  # (B, T, d_model)

    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        mask: Tensor | None = None,
        need_weights: bool = False,
        cache: KVCache | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """query (B, T_q, d_model); key, value (B, T_k, d_model), default: the query (self-attention).

        mask: bool broadcastable to (B, H, T_q, T_k), True = may attend. ``cache``: for incremental
        self-attention, the keys/values of earlier positions are read from it and the new ones appended.
        Returns (output (B, T_q, d_model), weights (B, H, T_q, T_k) if need_weights else None).
        Without need_weights the fast path is ``torch.nn.functional.scaled_dot_product_attention``.
        """
        key = query if key is None else key
        value = key if value is None else value
        if self.fuse_qkv and key is query and value is query:  # self-attention: one (d_model → 3·d_model) product
            q, k, v = self.qkv_projection(query).split(self.d_model, dim=-1)  # 3 × (B, T, d_model)
        else:
            q, k, v = self.w_q(query), self.w_k(key), self.w_v(value)
        q = self.split_heads(q)  # (B, H, T_q, d_k)
        k = self.split_heads(k)  # (B, H, T_k, d_k)
        v = self.split_heads(v)  # (B, H, T_k, d_k)
        if cache is not None:
            if cache.k is not None:
                k = torch.cat([cache.k, k], dim=-2)  # (B, H, T_past + T_k, d_k)
                v = torch.cat([cache.v, v], dim=-2)
            cache.k, cache.v = k, v
        dropout_p = self.dropout if self.training else 0.0
        if need_weights:
            out, weights = scaled_dot_product_attention(q, k, v, mask=mask, dropout_p=dropout_p)
        else:
            if torch.is_autocast_enabled(q.device.type) and q.device.type in self.float32_under_autocast:
                with torch.autocast(q.device.type, enabled=False):
                    out = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask,
                                                         dropout_p=dropout_p)
            else:
                out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
            if mask is not None:
                # Same contract as ours: a query with every key masked outputs zeros.
                out = out.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
            weights = None
        return self.w_o(self.merge_heads(out)), weights  # (B, T_q, d_model)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, min(n, 16) + 1) if n % d == 0]
