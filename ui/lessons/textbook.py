"""Understanding Deep Learning ch. 12 through our row-convention core: the bridges of seed 001's notebooks.

:mod:`transformer.textbook` holds the book's column convention in NumPy; these functions run the same
numbers through :mod:`transformer.trace` and :class:`~transformer.attention.MultiHeadAttention`, with the
book's printed values beside them (UDL notebooks 12.1 and 12.2).
Shape legend: T sequence length, B batch, H heads (n_heads), d_model model width, d_k width of one
head's queries and keys, d_v width of its values, d_ff feed-forward width, V vocabulary size.
Row convention throughout (one token per row, as PyTorch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from transformer.attention import MultiHeadAttention
from transformer.textbook import self_attention, udl_example_12_1, udl_example_12_2
from transformer.trace import AttentionTrace, MultiHeadTrace, trace_attention, trace_multihead

__all__ = ["TextbookAttention", "TextbookMultiHead", "udl_12_1_attention", "udl_12_2_multihead"]


@dataclass
class TextbookAttention:
    """UDL notebook 12.1 computed by :func:`~transformer.trace.trace_attention` (row convention).

    trace: q, k, v (N, D), scores (N, N), weights (N, N) (rows sum to 1), output (N, D), float64;
    expected (N, D): the notebook's printed values, transposed to rows; difference = output − expected;
    numpy_reference (N, D): :func:`transformer.textbook.self_attention` (column convention), transposed.
    params: Ω and β as in the book (columns).
    """

    trace: AttentionTrace
    x: Tensor  # (N, D), one input per row (the book's X is (D, N))
    params: dict
    expected: Tensor
    difference: Tensor
    numpy_reference: Tensor
    decimals: int


def udl_12_1_attention() -> TextbookAttention:
    """UDL notebook 12.1 (seed 001 part 1): Q = X Ω_qᵀ + β_qᵀ, …, unscaled softmax(Q Kᵀ) V.

    The book writes X′ = V · Softmax[Kᵀ Q] with inputs as columns and the softmax over each column;
    with one input per row that is softmax(Q Kᵀ) over each row, times V: the same numbers, transposed.
    """
    ex = udl_example_12_1()
    p = ex.params
    x = torch.from_numpy(ex.X.T.copy())  # (N, D) float64
    q = x @ torch.from_numpy(p["omega_q"].T) + torch.from_numpy(p["beta_q"].T)  # (N, D) @ (D, D) + (1, D)
    k = x @ torch.from_numpy(p["omega_k"].T) + torch.from_numpy(p["beta_k"].T)
    v = x @ torch.from_numpy(p["omega_v"].T) + torch.from_numpy(p["beta_v"].T)
    trace = trace_attention(q, k, v, scale=False)
    trace.x = x
    expected = torch.from_numpy(ex.expected.T.copy())  # (N, D)
    reference = self_attention(ex.X, p["omega_v"], p["omega_q"], p["omega_k"], p["beta_v"], p["beta_q"], p["beta_k"])
    return TextbookAttention(
        trace=trace,
        x=x,
        params=p,
        expected=expected,
        difference=trace.output - expected,
        numpy_reference=torch.from_numpy(reference.T.copy()),
        decimals=ex.decimals,
    )


@dataclass
class TextbookMultiHead:
    """UDL notebook 12.2 computed by our :class:`MultiHeadAttention` with the book's weights copied in.

    trace: :class:`MultiHeadTrace` (B=1, H=2, T=N=6, d_model=D=8), float64; expected (N, D): the
    notebook's values transposed to rows (3 decimals); difference = output − expected.
    """

    trace: MultiHeadTrace
    expected: Tensor
    difference: Tensor
    decimals: int


def udl_12_2_multihead() -> TextbookMultiHead:
    """UDL notebook 12.2 (seed 001 part 2) through ``MultiHeadAttention(8, 2)``.

    The book's per-head Ω_qh (D/H × D) are stacked into W_Q's weight (D × D) — head h owns output rows
    h·d_k … (h+1)·d_k, exactly what ``split_heads`` cuts — the β into the bias, Ω_c into W_O (no bias).
    Heads are scaled by √(D/H), as the book's eq. 12.11.
    """
    ex = udl_example_12_2()
    heads, omega_c = ex.params["heads"], ex.params["omega_c"]
    D, N = ex.X.shape
    mha = MultiHeadAttention(D, len(heads)).double().eval()
    with torch.no_grad():
        for i, name in enumerate(("q", "k", "v")):
            layer = getattr(mha, f"w_{name}")
            layer.weight.copy_(torch.from_numpy(np.vstack([h[i] for h in heads])))  # (D, D)
            layer.bias.copy_(torch.from_numpy(np.vstack([h[3 + i] for h in heads])[:, 0]))  # (D,)
        mha.w_o.weight.copy_(torch.from_numpy(omega_c))
        mha.w_o.bias.zero_()
    x = torch.from_numpy(ex.X.T.copy())[None]  # (1, N, D)
    trace = trace_multihead(mha, x)
    expected = torch.from_numpy(ex.expected.T.copy())  # (N, D)
    return TextbookMultiHead(trace=trace, expected=expected, difference=trace.output[0] - expected, decimals=ex.decimals)
