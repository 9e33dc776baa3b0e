"""Lessons of the Cost of attention page: the fitted log-log slope per path, and the T² guide line.

The measurements are :func:`transformer.cost.measure_attention_cost`'s; the fit is
:func:`transformer.cost.fit_loglog_slope`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from transformer.cost import CostRow, fit_loglog_slope

__all__ = ["SEED_004_MS", "CostSummary", "power_law_reference", "summarize_cost"]


@dataclass
class CostSummary:
    """Per path: the fitted log-log slope of time against T, and what it means for doubling T."""

    path: str
    slope: float | None  # None with fewer than two lengths
    doubling_factor: float | None  # 2 ** slope: time multiplies by this when T doubles
    lengths: list[int]
    seconds: list[float]


SEED_004_MS = {256: 63.1, 512: 254.0}  # seed 004's measured times of the no-loop attention (ms)


def summarize_cost(rows: Sequence[CostRow], min_length: int = 1) -> list[CostSummary]:
    """Group :func:`~transformer.cost.measure_attention_cost` rows by path and fit each slope.

    Only lengths ≥ ``min_length`` enter the fit (at small T fixed costs flatten the curve). A slope of 2
    means time ∝ T²: doubling T multiplies the time by 2² = 4 (seed 004 measured 254 ms / 63.1 ms ≈ 4.0
    for T = 512 vs 256, :data:`SEED_004_MS`).
    """
    by_path: dict[str, list[CostRow]] = {}
    for row in rows:
        if row.T >= min_length:
            by_path.setdefault(row.path, []).append(row)
    out = []
    for path, group in by_path.items():
        group = sorted(group, key=lambda r: r.T)
        lengths, seconds = [r.T for r in group], [r.seconds for r in group]
        slope = None
        if len(set(lengths)) >= 2 and min(seconds) > 0:
            slope = fit_loglog_slope(lengths, seconds)
        out.append(CostSummary(path, slope, None if slope is None else 2.0**slope, lengths, seconds))
    return out


def power_law_reference(lengths: Sequence[int], anchor_length: int, anchor_value: float, exponent: float = 2.0) -> list[float]:
    """value(T) = anchor_value · (T / anchor_length)^exponent: the T² guide line of a log-log chart."""
    if anchor_length <= 0:
        raise ValueError("anchor_length must be positive")
    return [anchor_value * (T / anchor_length) ** exponent for T in lengths]
