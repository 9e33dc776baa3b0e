"""Measuring what attention costs: time and memory against sequence length.

The attention weights are a (B, H, T, T) tensor, so time and memory grow as T² (Vaswani et al. 2017,
Table 1: self-attention is O(T² · d) per layer). Seed 004 measured 63 ms at T=256 and 254 ms at T=512:
4× the time for 2× the length. These helpers time our explicit weights path, our fast path and PyTorch's
own kernels on the same inputs (each run timed by ``torch.utils.benchmark.Timer``), and fit the slope of
log(time) against log(T) (``numpy.polyfit``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils import benchmark

from .attention import MultiHeadAttention

__all__ = ["PATHS", "CostRow", "attention_weights_bytes", "fit_loglog_slope", "measure_attention_cost", "time_call"]

PATHS = {
    "ours_fast": "our MultiHeadAttention, fast path (F.scaled_dot_product_attention inside)",
    "ours_weights": "our MultiHeadAttention with need_weights=True (explicit softmax(QKᵀ/√d_k)V)",
    "torch_sdpa": "the same projections + torch.nn.functional.scaled_dot_product_attention",
    "torch_mha": "torch.nn.MultiheadAttention",
}


@dataclass
class CostRow:
    """One measurement: ``seconds`` is the best (minimum) wall time of one forward pass over the repeats."""

    path: str
    T: int
    seconds: float
    weights_bytes: int  # size of the (B, H, T, T) float32 weights tensor the explicit path materialises


def attention_weights_bytes(T: int, n_heads: int, batch: int = 1, bytes_per_value: int = 4) -> int:
    """Bytes of the attention weights (B, H, T, T): batch · n_heads · T² · bytes_per_value."""
    return batch * n_heads * T * T * bytes_per_value


def time_call(fn: Callable[[], object], repeats: int = 5) -> float:
    """Best wall time of one ``fn()`` in seconds over ``repeats`` runs, each timed by ``torch.utils.benchmark.Timer``.

    Each run is ``Timer.timeit(number=1)``: the Timer calls ``fn`` twice to warm up, then times one call
    (synchronising CUDA around it, at torch's current thread count). The minimum is kept, as ``timeit``
    recommends: slower runs measure other programs on the machine, not ``fn``.
    Raises ValueError when repeats < 1.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    return min(timer.timeit(number=1).times[0] for _ in range(repeats))  # seconds per call


def _callables(mha: MultiHeadAttention, x: torch.Tensor) -> dict[str, Callable[[], object]]:
    theirs = nn.MultiheadAttention(mha.d_model, mha.n_heads, batch_first=True).eval()

    def torch_sdpa() -> torch.Tensor:
        q, k, v = mha.split_heads(mha.w_q(x)), mha.split_heads(mha.w_k(x)), mha.split_heads(mha.w_v(x))
        return mha.w_o(mha.merge_heads(F.scaled_dot_product_attention(q, k, v)))

    return {
        "ours_fast": lambda: mha(x),
        "ours_weights": lambda: mha(x, need_weights=True),
        "torch_sdpa": torch_sdpa,
        "torch_mha": lambda: theirs(x, x, x, need_weights=False),
    }


@torch.no_grad()
def measure_attention_cost(
    lengths: Sequence[int],
    paths: Sequence[str] = ("ours_weights", "ours_fast"),
    d_model: int = 64,
    n_heads: int = 4,
    batch: int = 1,
    repeats: int = 5,
    device: str = "cpu",
    seed: int = 0,
) -> list[CostRow]:
    """Time a self-attention forward pass of each path at each length T (x: (batch, T, d_model)).

    Returns one :class:`CostRow` per (path, T). Raises ValueError for an unknown path or T < 1.
    """
    unknown = [p for p in paths if p not in PATHS]
    if unknown:
        raise ValueError(f"unknown attention path(s) {unknown}; choose from {sorted(PATHS)}")
    if any(T < 1 for T in lengths):
        raise ValueError("every sequence length must be at least 1")
    torch.manual_seed(seed)
    mha = MultiHeadAttention(d_model, n_heads).eval().to(device)
    rows = []
    for T in lengths:
        x = torch.randn(batch, T, d_model, device=device)
        calls = _callables(mha, x)
        best = {path: time_call(calls[path], repeats=1) for path in paths}
        for _ in range(repeats - 1):  # round-robin, so that load from other programs hits every path alike
            for path in paths:
                best[path] = min(best[path], time_call(calls[path], repeats=1))
        rows.extend(CostRow(path, T, best[path], attention_weights_bytes(T, n_heads, batch)) for path in paths)
    return rows


def fit_loglog_slope(lengths: Sequence[float], values: Sequence[float]) -> float:
    """Least-squares slope of log(value) against log(length): ≈2 for a cost that grows as T².

    Raises ValueError with fewer than two points or non-positive values.
    """
    if len(lengths) != len(values) or len(lengths) < 2:
        raise ValueError("need at least two (length, value) pairs to fit a slope")
    if min(lengths) <= 0 or min(values) <= 0:
        raise ValueError("lengths and values must be positive to take logarithms")
    if len(set(lengths)) < 2:
        raise ValueError("need at least two different lengths to fit a slope")
    slope, _intercept = np.polyfit(np.log(lengths), np.log(values), deg=1)  # log value ≈ slope · log T + c
    return float(slope)
