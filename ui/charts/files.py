"""The files behind the download buttons: heatmaps as seaborn PNGs, and their numbers as CSV.

Matplotlib is not thread-safe and Streamlit serves sessions on threads: PNGs are drawn on the Agg backend
behind the module-level :data:`PLOT_LOCK`, with a CJK font after DejaVu Sans (:mod:`ui.fonts`) so Chinese
titles and tokens are drawn. Colours follow :func:`ui.charts.colors.color_scale`, as on screen; masked
cells are grey and read "−∞".
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ui.charts.colors import MASKED_COLOR, ColorScale, color_scale  # noqa: E402
from ui.charts.heatmaps import heatmap_frame  # noqa: E402
from ui.fonts import configure_cjk_fonts  # noqa: E402

PLOT_LOCK = threading.Lock()


def matrix_csv(values: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str]) -> str:
    """The matrix as CSV with its labels (masked entries as -inf)."""
    return pd.DataFrame(np.asarray(values, dtype=float), index=list(row_labels), columns=list(col_labels)).to_csv()


def heads_csv(stack: np.ndarray, facet_labels: Sequence[str], row_labels: Sequence[str],
              col_labels: Sequence[str], value: str = "value") -> str:
    """All heads' numbers as CSV, one row per cell: head, row (query), col (key), value.

    ``value``: "value" writes the number (empty where masked), "shown" its exact text ("−∞" where masked).
    """
    long = pd.concat(
        [heatmap_frame(stack[h], row_labels, col_labels).assign(head=facet_labels[h]) for h in range(len(stack))]
    )
    return long[["head", "row", "col", value]].rename(columns={value: "value"}).to_csv(index=False)


def _draw_heatmap(ax, values: np.ndarray, row_labels, col_labels, title: str, scale: ColorScale,
                  cbar: bool = True) -> None:
    """One seaborn heatmap on ``ax``: masked (non-finite) cells grey with "−∞", numbers when it fits."""
    import seaborn as sns

    R, C = values.shape
    masked = ~np.isfinite(values)
    annotate = R <= 16 and C <= 16
    ax.set_facecolor(MASKED_COLOR)
    sns.heatmap(
        np.where(masked, np.nan, values), mask=masked, ax=ax, cmap=scale.cmap, vmin=scale.lo, vmax=scale.hi,
        center=scale.center, annot=annotate, fmt=".2f", annot_kws={"fontsize": 7}, cbar=cbar,
        xticklabels=list(col_labels), yticklabels=list(row_labels), linewidths=0.4, linecolor="white",
    )
    if annotate:
        for i, j in zip(*np.nonzero(masked), strict=True):
            ax.text(j + 0.5, i + 0.5, "−∞", ha="center", va="center", fontsize=7, color="#555555")
    ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    ax.tick_params(axis="y", labelrotation=0, labelsize=7)
    if title:
        ax.set_title(title, fontsize=10, loc="left")


def _png(fig: Figure) -> bytes:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


@st.cache_data(show_spinner=False, max_entries=64)
def heatmap_png(
    values: np.ndarray,
    row_labels: tuple[str, ...],
    col_labels: tuple[str, ...],
    title: str = "",
    domain: tuple[float, float] | None = None,
    dpi: int = 150,
) -> bytes:
    """The heatmap as a PNG drawn by seaborn on the Agg backend (masked cells grey), under :data:`PLOT_LOCK`."""
    values = np.asarray(values, dtype=float)
    R, C = values.shape
    with PLOT_LOCK:
        configure_cjk_fonts()  # Chinese titles and tokens
        fig = Figure(figsize=(max(3.5, 0.45 * C + 2.2), max(2.5, 0.4 * R + 1.5)), dpi=dpi)
        _draw_heatmap(fig.add_subplot(), values, row_labels, col_labels, title, color_scale(values, domain))
        return _png(fig)


@st.cache_data(show_spinner=False, max_entries=32)
def heads_png(
    stack: np.ndarray,
    facet_labels: tuple[str, ...],
    row_labels: tuple[str, ...],
    col_labels: tuple[str, ...],
    title: str = "",
    domain: tuple[float, float] | None = (0.0, 1.0),
    columns: int = 4,
    dpi: int = 120,
) -> bytes:
    """One seaborn heatmap per head (stack (H, R, C)) on a shared colour scale, as one PNG."""
    stack = np.asarray(stack, dtype=float)
    H, R, C = stack.shape
    columns = max(1, min(columns, H))
    n_rows = math.ceil(H / columns)
    scale = color_scale(stack, domain)
    with PLOT_LOCK:
        configure_cjk_fonts()
        w, h = max(3.0, 0.4 * C + 1.8), max(2.5, 0.35 * R + 1.3)
        fig = Figure(figsize=(w * columns, h * n_rows + 0.4), dpi=dpi)
        for i in range(H):
            ax = fig.add_subplot(n_rows, columns, i + 1)
            _draw_heatmap(ax, stack[i], row_labels, col_labels, facet_labels[i], scale, cbar=i == H - 1)
        if title:
            fig.suptitle(title, fontsize=11, x=0.01, ha="left")
        return _png(fig)
