"""The homework file: attention written out by hand, in the order and with the names of the course.

Read it top to bottom beside EECS 498 A5 (``transformers.py``) or Fudan Lab3:

1. masks — :func:`causal_mask`, :func:`padding_mask`, :func:`combine_masks`;
2. the loop versions students write first — :func:`scaled_dot_product_two_loop_single`,
   :func:`scaled_dot_product_two_loop_batch` — and the vectorised :func:`scaled_dot_product_no_loop_batch`
   (``torch.bmm``, as A5 asks), all tested equal;
3. :func:`scaled_dot_product_attention`, the general function the models call (any batch shape, masks,
   dropout, rows with every key masked);
4. :class:`SelfAttention` ``(dim_in, dim_q, dim_v)`` — A5 / Lab3's single head with its own projections;
5. :class:`MultiHeadAttention` — the fused form the models use (one matrix per projection, split into heads),
   and :class:`ListOfHeadsMultiHeadAttention` — the course's ``nn.ModuleList`` of :class:`SelfAttention` heads,
   concatenated and projected; ``ListOfHeadsMultiHeadAttention.from_fused`` copies the weights, and the two
   give the same output (tested, and shown on the Multi-head page).

What records every intermediate tensor for the step-by-step pages is :mod:`transformer.trace`.

Shape legend used on every line that reshapes:
    B  batch size          H    number of heads (n_heads)
    T  sequence length     T_q  query length, T_k key/value length
    d_model  model width   d_k  width of one head's queries and keys (d_model / n_heads)
    d_v      width of one head's values
    A5's names in the loop versions: N batch size, K sequence length, M embedding width.

Mask convention (as ``torch.nn.functional.scaled_dot_product_attention``): masks are boolean and
``True`` means "this query may attend to this key". (A5 passes the opposite, True = masked out.)

Sources: Vaswani et al. 2017, "Attention Is All You Need", eq. 1 (scaled dot-product attention) and
§3.2.2 (multi-head attention); the EECS 498 A5 / Fudan Lab3 assignments for the loop versions,
``SelfAttention`` and the list-of-heads ``MultiHeadAttention``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "KVCache",
    "ListOfHeadsMultiHeadAttention",
    "MultiHeadAttention",
    "SelfAttention",
    "causal_mask",
    "combine_masks",
    "padding_mask",
    "scaled_dot_product_attention",
    "scaled_dot_product_no_loop_batch",
    "scaled_dot_product_two_loop_batch",
    "scaled_dot_product_two_loop_single",
]


# --------------------------------------------------------------------------------------------------
# 1. Masks
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


def combine_masks(*masks: Tensor | None) -> Tensor | None:
    """A query may attend to a key only where every given mask allows it: the AND of the masks.

    Each mask is bool, True = may attend, and the masks broadcast together (e.g. a causal (T, T) and a
    padding (B, 1, 1, T) give (B, 1, T, T)). ``None`` entries mean "no mask" and are skipped; with no mask
    left the result is None.
    """
    combined = None
    for mask in masks:
        if mask is not None:
            combined = mask if combined is None else combined & mask  # broadcasts, e.g. → (B, 1, T_q, T_k)
    return combined


# --------------------------------------------------------------------------------------------------
# 2. The course's loop versions (EECS 498 A5, Fudan Lab3), then the vectorised one
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


def scaled_dot_product_no_loop_batch(
    query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Scaled dot-product attention for a batch with no loop: two ``torch.bmm`` calls (EECS 498 A5, Lab3 task 1).

    query (N, K, M), key (N, K, M), value (N, K, M). ``mask`` (K, K) or (N, K, K) bool, True = may attend
    (A5's mask is the opposite, True = masked out, filled with −1e9; here −inf). Returns
    (y (N, K, M), weights_softmax (N, K, K)), as A5. A query with every key masked gets NaN here, as in the
    loop versions; :func:`scaled_dot_product_attention` gives it zeros instead.
    """
    N, K, M = query.shape
    scores = torch.bmm(query, key.transpose(1, 2)) / math.sqrt(M)  # (N, K, M) @ (N, M, K) -> (N, K, K)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights_softmax = torch.softmax(scores, dim=-1)  # (N, K, K), each row sums to 1
    y = torch.bmm(weights_softmax, value)  # (N, K, K) @ (N, K, M) -> (N, K, M)
    return y, weights_softmax


# --------------------------------------------------------------------------------------------------
# 3. Scaled dot-product attention, the general function the models call
# --------------------------------------------------------------------------------------------------
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
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"queries and keys must have the same width d_k, got {q.shape[-1]} and {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"keys and values must have the same length T_k, got {k.shape[-2]} and {v.shape[-2]}")
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1)  # (…, T_q, d_k) @ (…, d_k, T_k) -> (…, T_q, T_k)
    if scale:
        scores = scores / math.sqrt(d_k)
    if mask is None:
        weights = torch.softmax(scores, dim=-1)  # (…, T_q, T_k), each row sums to 1
    else:
        if mask.dtype != torch.bool:
            raise TypeError(f"the attention mask must be boolean (True = may attend), got {mask.dtype}")
        scores = scores.masked_fill(~mask, float("-inf"))
        # A query whose keys are all masked has nothing to attend to: its weights are 0, not NaN.
        # Softmax over a row of finite zeros keeps the gradient finite; the row is zeroed afterwards.
        row_open = mask.any(dim=-1, keepdim=True)  # (…, T_q, 1)
        weights = torch.softmax(scores.masked_fill(~row_open, 0.0), dim=-1).masked_fill(~row_open, 0.0)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    output = weights @ v  # (…, T_q, T_k) @ (…, T_k, d_v) -> (…, T_q, d_v)
    return output, weights


# --------------------------------------------------------------------------------------------------
# 4. One head with its own projections (EECS 498 A5, Fudan Lab3 task 1)
# --------------------------------------------------------------------------------------------------
class SelfAttention(nn.Module):
    """One attention head: y = Attention(query W_q, key W_k, value W_v) — A5 / Lab3's ``SelfAttention``.

    ``self.q``, ``self.k`` (dim_in → dim_q) and ``self.v`` (dim_in → dim_v) are ``nn.Linear`` layers, as in
    the assignment (A5 initialises them with Xavier-uniform weights and zero biases; here PyTorch's
    default). The forward pass is :func:`scaled_dot_product_no_loop_batch`; unlike A5 it keeps no
    ``weights_softmax`` attribute: it returns the weights when asked. Raises ValueError for a
    non-positive width.
    """

    def __init__(self, dim_in: int, dim_q: int, dim_v: int) -> None:
        super().__init__()
        if min(dim_in, dim_q, dim_v) < 1:
            raise ValueError(f"dim_in, dim_q and dim_v must be positive, got {dim_in}, {dim_q}, {dim_v}")
        self.q = nn.Linear(dim_in, dim_q)
        self.k = nn.Linear(dim_in, dim_q)  # queries and keys share the width dim_q: they are dotted together
        self.v = nn.Linear(dim_in, dim_v)

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None, need_weights: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """query, key, value (N, K, dim_in); mask (K, K) or (N, K, K) bool, True = may attend.

        Returns y (N, K, dim_v), or (y, weights (N, K, K)) with ``need_weights``.
        """
        y, weights = scaled_dot_product_no_loop_batch(self.q(query), self.k(key), self.v(value), mask)  # (N, K, dim_v)
        return (y, weights) if need_weights else y


# --------------------------------------------------------------------------------------------------
# 5. Multi-head attention: the fused form the models use, and the course's list of heads
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
    output is split into heads: (B, T, d_model) → (B, H, T, d_k). The course writes the same function as a
    list of :class:`SelfAttention` heads: :class:`ListOfHeadsMultiHeadAttention` (equal, tested).

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
        # Self-attention while training: one (d_model → 3·d_model) product. Without gradients (sampling) the stacked
        # weight would be rebuilt for every token, a copy of 3·d_model² numbers: three products read the same weights.
        if self.fuse_qkv and key is query and value is query and torch.is_grad_enabled():
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
        elif q.shape[-2] == 1 and dropout_p == 0.0:
            # One query (a sampling step with the KV cache): two small matrix products. PyTorch's CPU flash
            # kernel spent ~6 ms a call on this shape for GPT-2 small (12 heads, d_k 64), most of a token's time.
            out, _weights = scaled_dot_product_attention(q, k, v, mask=mask)
            weights = None
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


class ListOfHeadsMultiHeadAttention(nn.Module):
    """Multi-head attention as the course writes it: H :class:`SelfAttention` heads side by side.

    EECS 498 A5 / Fudan Lab3 task 2: ``self.heads = nn.ModuleList([SelfAttention(d_model, d_k, d_k) …])``,
    each head attends on its own, their outputs are concatenated on the last dimension and projected by
    ``self.w_o`` (Vaswani et al. §3.2.2: Concat(head_1, …, head_h) W_O). The same function as the fused
    :class:`MultiHeadAttention`, which stores the H heads' projections as one matrix and splits its output:
    :meth:`from_fused` copies a fused module's weights into the heads, and the outputs are then equal (tested).
    Raises ValueError when d_model is not divisible by n_heads.
    """

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        if n_heads < 1 or d_model < 1 or d_model % n_heads != 0:
            raise ValueError(
                f"d_model={d_model} is not divisible by n_heads={n_heads}: each head needs "
                f"d_k = d_model / n_heads dimensions (try n_heads in {_divisors(max(d_model, 1))})"
            )
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.heads = nn.ModuleList(SelfAttention(d_model, self.d_k, self.d_k) for _ in range(n_heads))
        self.w_o = nn.Linear(n_heads * self.d_k, d_model)

    @classmethod
    def from_fused(cls, mha: MultiHeadAttention) -> ListOfHeadsMultiHeadAttention:
        """The same attention as ``mha``, written as a list of heads: head h gets rows h·d_k … (h+1)·d_k of
        W_Q, W_K and W_V (the slice ``split_heads`` cuts), W_O is copied whole. Needs ``mha`` built with biases.
        """
        heads = cls(mha.d_model, mha.n_heads).to(mha.w_o.weight.device, mha.w_o.weight.dtype)
        with torch.no_grad():
            for h, head in enumerate(heads.heads):
                rows = slice(h * mha.d_k, (h + 1) * mha.d_k)  # head h's d_k output features of each projection
                for ours, fused in ((head.q, mha.w_q), (head.k, mha.w_k), (head.v, mha.w_v)):
                    ours.weight.copy_(fused.weight[rows])  # (d_k, d_model)
                    ours.bias.copy_(fused.bias[rows])  # (d_k,)
            heads.w_o.load_state_dict(mha.w_o.state_dict())
        return heads.train(mha.training)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None) -> Tensor:
        """query, key, value (B, T, d_model); mask (T, T) or (B, T, T) bool, True = may attend → (B, T, d_model)."""
        outputs = [head(query, key, value, mask) for head in self.heads]  # H × (B, T, d_k)
        return self.w_o(torch.cat(outputs, dim=-1))  # (B, T, H·d_k) -> (B, T, d_model)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, min(n, 16) + 1) if n % d == 0]
