"""One heatmap per attention head, sized to fit the page, with its PNG and CSV downloads.

Built from :mod:`ui.charts`' public builders (``facet_heatmap_spec``, ``heads_png``, ``heatmap_frame``);
unlike ``ui.charts.show_heads`` it fixes the total width (``max_width``) so that two facets side by side stay
inside the main column of the wide layout, even for 64 tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import streamlit as st

from ui.charts import facet_heatmap_spec, heads_png, heatmap_frame
from ui.i18n import _

MAX_WIDTH = 900  # px for all facets of a row together; the main column of the wide layout is about 940 px
TWO_COLUMNS_UP_TO = 40  # tokens a side; longer maps get one head per row so that they fit the page


def heads_csv(stack: np.ndarray, facet_labels: Sequence[str], row_labels: Sequence[str],
              col_labels: Sequence[str]) -> str:
    """All heads' weights as CSV, one row per cell: head, row (query), col (key), value."""
    long = pd.concat(
        [heatmap_frame(stack[h], row_labels, col_labels).assign(head=facet_labels[h]) for h in range(len(stack))]
    )
    return long[["head", "row", "col", "value"]].to_csv(index=False)


def show_head_maps(
    stack,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    title: str,
    key: str,
    file_stem: str,
    x_title: str = "",
    y_title: str = "",
    max_width: int = MAX_WIDTH,
) -> None:
    """One heatmap per head of ``stack`` (H, T_q, T_k) on the colour scale [0, 1] (two per row up to 40 tokens a
    side, else one), with PNG and CSV buttons."""
    stack = np.asarray(stack, dtype=float)
    n_heads = stack.shape[0]
    facets = tuple(_("head {h}").format(h=h + 1) for h in range(n_heads))
    rows, cols = tuple(row_labels), tuple(col_labels)
    columns = 1 if n_heads == 1 or max(stack.shape[1:]) > TWO_COLUMNS_UP_TO else 2
    spec = facet_heatmap_spec(stack, facets, rows, cols, title, (0.0, 1.0), x_title, y_title, columns, max_width)
    st.vega_lite_chart(spec, key=f"{key}_chart")
    c1, c2, _spacer = st.columns([1, 1, 4], gap="small")
    c1.download_button(
        _("PNG"), data=lambda: heads_png(stack, facets, rows, cols, title, (0.0, 1.0), columns),
        file_name=f"{file_stem}.png", mime="image/png", key=f"{key}_png", icon=":material/image:",
        type="tertiary", on_click="ignore", help=_("Download this figure (every head) as a PNG image"),
    )
    c2.download_button(
        _("CSV"), data=lambda: heads_csv(stack, facets, rows, cols), file_name=f"{file_stem}.csv", mime="text/csv",
        key=f"{key}_csv", icon=":material/table:", type="tertiary", on_click="ignore",
        help=_("Download this figure's weights as CSV (head, query, key, weight)"),
    )
