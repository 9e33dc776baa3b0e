"""The colour scale of a heatmap, decided once for the screen (Vega-Lite) and the PNG (seaborn) alike.

``domain`` given (attention weights: [0, 1], so heads and settings compare): that scale, clamped.
Otherwise signed data gets a diverging scale symmetric around 0 (blue negative, red positive) and
non-negative data a sequential one from 0 to its maximum. Masked cells (−∞, NaN) are drawn grey.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MASKED_COLOR = "#b8b8b8"  # darker than the palettes' lightest colours, so a masked cell never passes for ~0
SEQUENTIAL_SCHEME = "blues"  # Vega's name; matplotlib's is "Blues"
DIVERGING_SCHEME = "redblue"  # reversed on screen: blue negative, red positive (matplotlib: "RdBu_r")


@dataclass(frozen=True)
class ColorScale:
    """A heatmap's colour scale: ``kind`` "fixed", "diverging" or "sequential", from ``lo`` to ``hi``."""

    kind: str
    lo: float
    hi: float

    @property
    def domain(self) -> tuple[float, float]:
        return self.lo, self.hi

    @property
    def cmap(self) -> str:
        """The matplotlib colour map of the same scale."""
        return "RdBu_r" if self.kind == "diverging" else "Blues"

    @property
    def center(self) -> float | None:
        """Where seaborn centres a diverging map (0), else None."""
        return 0.0 if self.kind == "diverging" else None


def color_scale(values: np.ndarray, domain: tuple[float, float] | None = None, signed: bool = False) -> ColorScale:
    """The colour scale for ``values`` (any shape; non-finite entries ignored): fixed, diverging or sequential.

    ``signed``: a quantity that can take either sign (an output A·V, an embedding) keeps the diverging scale
    even when this instance happens to be all positive, so its palette does not change with the input.
    """
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if domain is not None:
        return ColorScale("fixed", float(domain[0]), float(domain[1]))
    if finite.size and (finite.min() < 0 or signed):
        m = float(np.abs(finite).max()) or 1.0
        return ColorScale("diverging", -m, m)
    return ColorScale("sequential", 0.0, float(finite.max()) if finite.size and finite.max() > 0 else 1.0)
