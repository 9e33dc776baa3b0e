"""Charts on the page, with their downloads: a matrix, several side by side, one heatmap per head, and the
one helper every PNG + CSV pair of download buttons goes through (:func:`download_buttons`).

The files are made only when a button is clicked (``on_click="ignore"``: no rerun either).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import streamlit as st

from ui.charts.files import heads_csv, heads_png, heatmap_png, matrix_csv
from ui.charts.heatmaps import (
    MAIN_COLUMN_WIDTH,
    MAX_CHART_WIDTH,
    concat_heatmap_spec,
    facet_heatmap_spec,
    heatmap_spec,
    with_named_data,
)
from ui.i18n import _
from ui.links import show_chart

HEAD_MAPS_WIDTH = MAIN_COLUMN_WIDTH  # px for all facets of a row together (the main column at 1280 × 720)


def download_buttons(
    png: Callable[[], bytes],
    csv: Callable[[], str],
    *,
    key: str,
    file_stem: str,
    where=None,
    labels: tuple[str, str] | None = None,
    png_help: str | None = None,
    csv_help: str | None = None,
    tertiary: bool = True,
) -> None:
    """A PNG and a CSV download button (keys ``{key}_png``, ``{key}_csv``), the files made only when clicked.

    ``where``: a container to put both in, a pair of containers (one button each), or None for a new row
    of buttons side by side. ``labels``: the two buttons' texts (default "PNG", "CSV").
    """
    if where is None:
        where = st.container(horizontal=True, gap="small")
    png_box, csv_box = where if isinstance(where, tuple | list) else (where, where)
    png_label, csv_label = labels or (_("PNG"), _("CSV"))
    kind = "tertiary" if tertiary else "secondary"
    png_box.download_button(
        png_label, data=png, file_name=f"{file_stem}.png", mime="image/png", key=f"{key}_png",
        icon=":material/image:", type=kind, on_click="ignore",
        help=png_help or _("Download this figure as a PNG image (drawn with seaborn)"),
    )
    csv_box.download_button(
        csv_label, data=csv, file_name=f"{file_stem}.csv", mime="text/csv", key=f"{key}_csv",
        icon=":material/table:", type=kind, on_click="ignore", help=csv_help or _("Download these numbers as CSV"),
    )


def show_matrix(
    values,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    title: str,
    key: str,
    domain: tuple[float, float] | None = None,
    table: bool = False,
    x_title: str = "",
    y_title: str = "",
    subtitle: str = "",
    annotate: bool | None = None,
    downloads: bool = True,
    max_width: int = MAX_CHART_WIDTH,
    masked=None,
    signed: bool = False,
    named_data: bool = False,
) -> None:
    """Show a matrix as an altair heatmap (or, with ``table``, as a table of exact numbers) + downloads.

    values: anything ``np.asarray`` takes, 2-D; a torch tensor should be passed as ``t.numpy()``. ``masked``
    (same shape, bool): cells a mask forbade, drawn grey; ``signed``: keep the diverging palette (see
    :func:`ui.charts.heatmaps.heatmap_spec`). ``named_data``: send the cells apart from the spec
    (:func:`ui.charts.heatmaps.with_named_data`), so that a rerun that changes only the numbers updates the
    chart on screen instead of drawing a new one (for a page whose sliders change values, not shapes).
    """
    values = np.asarray(values, dtype=float)
    rows, cols = tuple(row_labels), tuple(col_labels)
    if table:
        st.markdown(f"**{title}**" + (f" — {subtitle}" if subtitle else ""))
        st.dataframe(pd.DataFrame(values, index=list(rows), columns=list(cols)), key=f"{key}_table")
    else:
        spec = heatmap_spec(values, rows, cols, title, domain, x_title, y_title, annotate, max_width, subtitle,
                            None if masked is None else np.asarray(masked, bool), signed)
        show_chart(with_named_data(spec) if named_data else spec, width="content", key=f"{key}_chart")
    if downloads:
        download_buttons(functools.partial(heatmap_png, values, rows, cols, title, domain),
                         functools.partial(matrix_csv, values, rows, cols), key=key, file_stem=key)


def show_matrices(
    matrices: Sequence[tuple],
    *,
    key: str,
    table: bool = False,
    domain: tuple[float, float] | None = None,
    x_title: str = "",
    y_title: str = "",
    max_width: int = MAIN_COLUMN_WIDTH,
    downloads: bool = True,
    named_data: bool = False,
) -> None:
    """Show several matrices side by side — one chart (:func:`ui.charts.heatmaps.concat_heatmap_spec`) or
    tables — with a PNG and a CSV download for each (unless ``downloads`` is False). ``matrices``: (values,
    row labels, column labels, title) each. ``named_data``: as :func:`show_matrix`."""
    parts = tuple((np.asarray(v, dtype=float), tuple(r), tuple(c), t) for v, r, c, t in matrices)
    if table:
        for col, (values, rows, cols, title) in zip(st.columns(len(parts)), parts, strict=True):
            col.markdown(f"**{title}**")
            col.dataframe(pd.DataFrame(values, index=list(rows), columns=list(cols)), key=f"{key}_{title}_table")
    else:
        spec = concat_heatmap_spec(parts, domain, x_title, y_title, max_width)
        show_chart(with_named_data(spec) if named_data else spec, width="content", key=f"{key}_chart")
    if not downloads:
        return
    row = st.container(horizontal=True, gap="small")
    for i, (values, rows, cols, title) in enumerate(parts):
        download_buttons(
            functools.partial(heatmap_png, values, rows, cols, title, domain),
            functools.partial(matrix_csv, values, rows, cols), key=f"{key}_{i}", file_stem=f"{key}_{i}", where=row,
            labels=(_("{name} PNG").format(name=title), _("{name} CSV").format(name=title)),
        )


def download_panel(figures: Sequence[tuple], *, key: str, container=None) -> None:
    """One place to download any of a page's matrices: pick one, then PNG (seaborn) or CSV, made on click.

    ``figures``: (title, values, row labels, column labels, colour domain or None) each. A page with many
    figures uses this instead of two buttons under every figure: fewer widgets re-render faster.
    """
    if not figures:
        return
    box = container if container is not None else st
    titles = [f[0] for f in figures]
    row = box.container(horizontal=True, vertical_alignment="bottom", gap="small")
    choice = row.selectbox(_("Download a matrix"), titles, key=f"{key}_pick", width=260)
    title, values, rows, cols, domain = figures[titles.index(choice) if choice in titles else 0]
    values, rows, cols = np.asarray(values, dtype=float), tuple(rows), tuple(cols)
    download_buttons(functools.partial(heatmap_png, values, rows, cols, title, domain),
                     functools.partial(matrix_csv, values, rows, cols), key=key,
                     file_stem=f"{key}_{titles.index(title)}", where=row, tertiary=False)


def show_heads(
    stack,
    facet_labels: Sequence[str],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    title: str,
    key: str,
    domain: tuple[float, float] | None = (0.0, 1.0),
    x_title: str = "",
    y_title: str = "",
    columns: int = 4,
    max_width: int = MAIN_COLUMN_WIDTH,
) -> None:
    """One heatmap per head on a shared colour scale (altair facets), with a PNG and a CSV of all heads.

    Heads wrap onto rows so that the whole figure fits ``max_width`` px (the main column at 1280 × 720)."""
    stack = np.asarray(stack, dtype=float)
    facets, rows, cols = tuple(facet_labels), tuple(row_labels), tuple(col_labels)
    spec = facet_heatmap_spec(stack, facets, rows, cols, title, domain, x_title, y_title, columns, max_width)
    show_chart(spec, width="content", key=f"{key}_chart")
    download_buttons(
        lambda: heads_png(stack, facets, rows, cols, title, domain, columns),
        lambda: heads_csv(stack, facets, rows, cols, value="shown"), key=key, file_stem=key,
        png_help=_("Download all heads as one PNG image (drawn with seaborn)"),
        csv_help=_("Download every head's numbers as CSV (head, row, column, value)"),
    )


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
    max_width: int = HEAD_MAPS_WIDTH,
    masked=None,
) -> None:
    """The attention weights of one layer, ``stack`` (H, T_q, T_k): one heatmap per head on the colour scale
    [0, 1], two per row where they fit (:func:`ui.charts.heatmaps.facet_layout`), sized to fit the page's main
    column at 1280 × 720; PNG and CSV. ``masked`` (T_q, T_k) bool: the cells a mask forbade (grey)."""
    stack = np.asarray(stack, dtype=float)
    n_heads = stack.shape[0]
    facets = tuple(_("head {h}").format(h=h + 1) for h in range(n_heads))
    rows, cols = tuple(row_labels), tuple(col_labels)
    columns = 2
    spec = facet_heatmap_spec(stack, facets, rows, cols, title, (0.0, 1.0), x_title, y_title, columns, max_width,
                              None if masked is None else np.asarray(masked, bool))
    show_chart(spec, key=f"{key}_chart")
    c1, c2, _spacer = st.columns([1, 1, 4], gap="small")
    download_buttons(
        lambda: heads_png(stack, facets, rows, cols, title, (0.0, 1.0), columns),
        lambda: heads_csv(stack, facets, rows, cols), key=key, file_stem=file_stem, where=(c1, c2),
        png_help=_("Download this figure (every head) as a PNG image"),
        csv_help=_("Download this figure's weights as CSV (head, query, key, weight)"),
    )
