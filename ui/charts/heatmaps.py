"""Heatmaps on screen: Vega-Lite specs built with altair, one matrix, one facet per head, or several side by side.

Every spec is a plain dict with its data inline, so a test reads exactly what is drawn (:func:`spec_values`).
Cells are rects with a white outline; masked cells (−∞, NaN) are grey and say so; numbers are written in
the cells when they fit; tooltips give row, column and the exact value (6 significant digits). The colour
scale is :func:`ui.charts.colors.color_scale`. Specs are cached (``st.cache_data``) per language, as their
tooltip words are translated.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd
import pyarrow as pa
import streamlit as st

from ui.charts.colors import DIVERGING_SCHEME, MASKED_COLOR, SEQUENTIAL_SCHEME, ColorScale, color_scale
from ui.charts.lines import layered_spec
from ui.i18n import N_, current_language, translate

MAX_CHART_WIDTH = 640  # px, labels and legend included
# The main column at 1280 × 720 with the sidebar open is about 820 px wide (measured in Chromium), half of it
# (st.columns(2)) about 400: every chart is sized to fit these, so a projector shows it whole.
MAIN_COLUMN_WIDTH = 780
HALF_COLUMN_WIDTH = 380
# Numbers are written in the cells of matrices up to this size: text marks are what a browser draws slowest
# (a 10 × 10 heatmap with its numbers takes about twice as long as without); hover and the table view show
# every value of bigger ones.
ANNOTATE_MAX_CELLS = 48
AUTOSIZE = {"type": "pad", "contains": "padding"}  # width/height are the plot's; labels go around


def dim_labels(n: int, prefix: str = "d") -> list[str]:
    """Column labels for feature dimensions: d0, d1, … (zero-padded so they sort as text too)."""
    width = len(str(max(n - 1, 0)))
    return [f"{prefix}{i:0{width}d}" for i in range(n)]


def _shown(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "−∞" if v < 0 else "+∞"
    return f"{v:.6g}"


def heatmap_frame(values: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str]) -> pd.DataFrame:
    """Long-form table of a matrix, one row per cell: row, col, value, shown, masked, r, c.

    values (R, C); ``value`` is None where the entry is ±∞ or NaN (``masked`` True), ``shown`` the exact
    value as text ("−∞" for a masked score). Raises ValueError when the labels do not match the shape.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"a heatmap needs a 2-D array, got shape {values.shape}")
    R, C = values.shape
    if len(row_labels) != R or len(col_labels) != C:
        raise ValueError(f"{len(row_labels)} row and {len(col_labels)} column labels for a {R}×{C} matrix")
    r, c = np.meshgrid(np.arange(R), np.arange(C), indexing="ij")
    flat = values.ravel()
    finite = np.isfinite(flat)
    return pd.DataFrame(
        {
            "row": np.asarray(row_labels, dtype=object)[r.ravel()],
            "col": np.asarray(col_labels, dtype=object)[c.ravel()],
            "value": [float(v) if ok else None for v, ok in zip(flat, finite, strict=True)],
            "shown": [_shown(float(v)) for v in flat],
            "masked": ~finite,
            "r": r.ravel(),
            "c": c.ravel(),
        }
    )


def _cell_records(values: np.ndarray, row_labels, col_labels, scale: ColorScale, extra: dict | None = None,
                  masked: np.ndarray | None = None) -> list:
    """One dict per cell: row, col, value (None if masked), shown (exact text), label (2 decimals), masked, dark.

    ``masked`` (R, C) bool marks cells a mask forbade although their value is finite (a weight of 0): grey
    (``masked`` True), labelled "−∞→0", their value kept (in the tooltip and the data).
    """
    lo, hi = scale.domain
    records = []
    for i, row in enumerate(row_labels):
        for j, col in enumerate(col_labels):
            v = float(values[i, j])
            forbidden = masked is not None and bool(masked[i, j]) and math.isfinite(v)
            if forbidden:
                rec = {"row": row, "col": col, "value": v, "shown": _shown(v), "label": "−∞→0", "masked": True,
                       "dark": False, "r": i, "c": j}
                records.append({**rec, **(extra or {})})
                continue
            masked_cell = not math.isfinite(v)
            if masked_cell:
                dark = False
            elif scale.kind == "diverging":
                dark = abs(v) > 0.6 * max(abs(lo), abs(hi))
            else:
                dark = v > lo + 0.6 * ((hi - lo) or 1.0)
            rec = {"row": row, "col": col, "value": None if masked_cell else v, "shown": _shown(v),
                   "label": ("NaN" if math.isnan(v) else "−∞") if masked_cell else f"{v:.2f}", "masked": masked_cell,
                   "dark": dark, "r": i, "c": j}
            if extra:
                rec.update(extra)
            records.append(rec)
    return records


def _cell_size(R: int, C: int, max_width: int) -> int:
    """Side of one square cell in px, one of :data:`CELL_STEPS`: the plot (without ~160 px of labels and legend)
    fits ``max_width``, its rows at most 600 px high. At least 4 px; below 12 px the labels are thinned."""
    return snap_cell(max(4, min(32, (max_width - 160) // max(C, 1), 600 // max(R, 1))))


# The cell sides a heatmap may have: a size is rounded down to one of these, so that a slider that adds a row or a
# column mostly keeps the cell size and with it the whole spec (the chart is sized by cells, ``{"step": px}``, and
# its rows are in the data): the browser then swaps the rows of the chart on screen instead of drawing a new one.
CELL_STEPS = (32, 28, 24, 20, 18, 16, 14, 12, 10, 9, 8, 6, 5, 4)


def snap_cell(px: float) -> int:
    """``px`` rounded down to the nearest of :data:`CELL_STEPS` (4 below them)."""
    return next((step for step in CELL_STEPS if step <= px), CELL_STEPS[-1])


def _label_px(labels: Sequence[str]) -> int:
    """About how wide a column of axis labels is drawn (px, 11 px font, CJK characters twice as wide), ≤ 140."""
    widest = max((sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(label)) for label in labels), default=1)
    return int(min(140, 6.5 * widest + 12))


FACET_LEGEND_PX = 70  # the colour legend beside facets, its numbers included
FACET_SPACING = 20  # px between facets (Vega-Lite's default)


def facet_layout(H: int, R: int, C: int, max_width: int, columns: int, label_px: int = 140) -> tuple[int, int]:
    """(columns, cell px) of H facets of R × C cells that fit ``max_width`` px, labels and legend included.

    As many columns as asked for (at most H) while a cell stays at least 18 px (12 px from 17 tokens, 4 px for inputs
    longer than 40 tokens, whose heads then still sit two to a row instead of stacking into a page several screens high);
    cells are 5–32 px and a facet at most 600 px high. One column when nothing else fits.
    """
    least = 18 if max(R, C) <= 16 else 12 if max(R, C) <= 40 else 4
    columns = max(1, min(columns, H))
    while True:
        room = max_width - label_px - FACET_LEGEND_PX - columns * FACET_SPACING
        cell = room // max(columns * C, 1)
        if cell >= least or columns == 1:
            break
        columns -= 1
    rows = math.ceil(H / columns)
    if math.ceil(H / rows) < columns:  # as many rows, fewer columns: 4 heads as 2 × 2, not 3 + 1
        columns = math.ceil(H / rows)
        cell = (max_width - label_px - FACET_LEGEND_PX - columns * FACET_SPACING) // max(columns * C, 1)
    return columns, int(max(4, min(32, cell, 600 // max(R, 1))))


def _tooltip_words(language: str) -> tuple[str, str, str]:
    return translate(N_("value"), language), translate(N_("row"), language), translate(N_("column"), language)


def _layers(
    scale: ColorScale, *, annotate: bool, font: int, x_title: str, y_title: str,
    language: str, faceted: bool = False, masked_text: bool = False, thin: bool = False, thin_rows: bool | None = None,
) -> list[alt.Chart]:
    """The layers of a heatmap (no data yet): rects, grey masked cells, tooltips, and the numbers or "−∞" texts.

    ``masked_text``: a text layer that writes "−∞" in the masked cells (drawn even when no cell is masked, so
    that masking a cell does not change the spec). ``thin``: cells too small for a label each — Vega drops every
    other label until they no longer collide (``labelOverlap="parity"``); the tooltip still names every cell.
    ``thin_rows``: the same for the rows alone (default: as ``thin``), which may be taller than the cells are wide.
    """
    value_word, row_word, column_word = _tooltip_words(language)
    overlap = "parity" if thin else False
    row_overlap = overlap if thin_rows is None else "parity" if thin_rows else False
    # Rows and columns in the order of their indices in the data (r, c), not of a list in the spec: the spec stays
    # the same when the matrix changes shape (see CELL_STEPS).
    x = alt.X("col:N", sort=alt.EncodingSortField("c", op="min"), title=x_title or None,
              axis=alt.Axis(labelAngle=-60, labelLimit=140, labelOverlap=overlap))
    y = alt.Y("row:N", sort=alt.EncodingSortField("r", op="min"), title=y_title or None,
              axis=alt.Axis(labelLimit=140, labelOverlap=row_overlap))
    tooltip = [alt.Tooltip("row:N", title=y_title or row_word), alt.Tooltip("col:N", title=x_title or column_word),
               alt.Tooltip("shown:N", title=value_word)]
    if faceted:
        tooltip.insert(0, alt.Tooltip("head:N", title=" "))
    if scale.kind == "diverging":
        vega_scale = alt.Scale(domain=list(scale.domain), scheme=DIVERGING_SCHEME, reverse=True)
    else:
        vega_scale = alt.Scale(domain=list(scale.domain), scheme=SEQUENTIAL_SCHEME, clamp=scale.kind == "fixed")
    # invalid=None (JSON null): keep the cells whose value is null (masked, −∞) so they are drawn grey
    # instead of being dropped, which is Vega-Lite's default for null values.
    base = alt.Chart()
    layers = [base.mark_rect(stroke="white", strokeWidth=0.5, invalid=None).encode(
        x=x, y=y, tooltip=tooltip,
        color=alt.condition("datum.masked", alt.value(MASKED_COLOR), alt.Color("value:Q", scale=vega_scale, title=None)),
    )]
    if annotate:
        layers.append(base.mark_text(fontSize=font, invalid=None).encode(
            x=x, y=y, text="label:N", tooltip=tooltip,
            color=alt.condition("datum.dark", alt.value("white"), alt.value("#222222")),
        ))
    elif masked_text:  # no numbers, but the masked cells still say "−∞"
        layers.append(base.transform_filter("datum.masked").mark_text(fontSize=font, invalid=None).encode(
            x=x, y=y, text="label:N", color=alt.value("#555555"), tooltip=tooltip
        ))
    return layers


def wrap_title(text: str, max_px: int = MAIN_COLUMN_WIDTH - 100, font_px: int = 13) -> list[str] | str:
    """``text`` broken into lines of at most ``max_px`` px (Vega draws a title on one line however long it is,
    widening the chart past the page); CJK characters count double. A short title stays a string."""
    def width(s: str) -> float:
        return sum(1.1 * font_px if ord(ch) > 0x2E80 else 0.62 * font_px for ch in s)  # bold, with a margin

    if width(text) <= max_px:
        return text
    lines, line = [], ""
    for piece in re.findall(r"[\u2e80-\uffff]|[^\s\u2e80-\uffff]+\s*|\s+", text):
        if line and width(line + piece.rstrip()) > max_px:
            lines.append(line.rstrip())
            line = piece.lstrip()
        else:
            line += piece
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _title(title: str, subtitle: str = "") -> dict:
    """``title=`` for ``properties`` / ``facet``: a title at the left, with its subtitle; nothing without a title.
    Long titles wrap onto lines that fit the main column (:func:`wrap_title`)."""
    if not title:
        return {}
    return {"title": alt.TitleParams(wrap_title(title), anchor="start",
                                     subtitle=wrap_title(subtitle, font_px=11) if subtitle else alt.Undefined)}


def _single(layers: list[alt.Chart], records: list, width: int, height: int, title: str, subtitle: str = "") -> dict:
    """One heatmap's spec, its rows inside each layer.

    The rows are put in after altair has written the spec: altair copies inline rows cell by cell (over a
    second for 64 × 64 cells). They go inside the layers, where Streamlit leaves them as JSON; top-level data
    it would convert to Arrow through pandas, ~30 ms a chart — too slow for a page of a dozen heatmaps.
    """
    chart = alt.LayerChart(layer=layers, width=width, height=height, **_title(title, subtitle))
    spec = layered_spec(chart, [records] * len(layers))
    spec["autosize"] = AUTOSIZE
    return spec


def _per_language(cached):
    """Call a ``st.cache_data`` function with the session's language as an extra argument.

    The cache keys on the arguments only: without the language, a spec cached for one session would show
    its tooltip words ("value", "row", "column") to a session in another language.
    """

    @functools.wraps(cached)
    def call(*args, **kwargs):
        return cached(*args, language=current_language(), **kwargs)

    return call


@_per_language
@st.cache_data(show_spinner=False, max_entries=1024)
def heatmap_spec(
    values: np.ndarray,
    row_labels: tuple[str, ...],
    col_labels: tuple[str, ...],
    title: str = "",
    domain: tuple[float, float] | None = None,
    x_title: str = "",
    y_title: str = "",
    annotate: bool | None = None,
    max_width: int = MAX_CHART_WIDTH,
    subtitle: str = "",
    masked: np.ndarray | None = None,
    signed: bool = False,
    language: str = "en",
) -> dict:
    """A Vega-Lite spec (dict) of one altair heatmap: rect cells, greyed masked cells, tooltips, numbers.

    values (R, C); labels as many as rows and columns (raises ValueError otherwise). ``annotate`` None
    writes the numbers in the cells when they fit (cells ≥ 26 px, at most :data:`ANNOTATE_MAX_CELLS` cells). ``domain`` fixes the
    colour scale; otherwise it is symmetric around 0 for signed data. ``max_width``: px for the whole chart,
    labels and legend included. Cached (``st.cache_data``) per language (``language``: set by the decorator).
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape != (len(row_labels), len(col_labels)):
        raise ValueError(f"{len(row_labels)} row and {len(col_labels)} column labels for values of shape {values.shape}")
    R, C = values.shape
    cell = _cell_size(R, C, max_width)
    if annotate is None:
        annotate = cell >= 26 and R * C <= ANNOTATE_MAX_CELLS
    scale = color_scale(values, domain, signed=signed)
    forbidden = np.zeros(values.shape, bool) if masked is None else np.asarray(masked, bool)
    row_height = max(cell, snap_cell(min(18, 600 // R)))  # rows tall enough for their labels when columns are many
    layers = _layers(scale, annotate=bool(annotate), font=10 if cell >= 30 else 9,
                     x_title=x_title, y_title=y_title, language=language, masked_text=cell >= 14,
                     thin=cell < 12, thin_rows=row_height < 12)
    records = _cell_records(values, row_labels, col_labels, scale, masked=forbidden)
    return _single(layers, records, alt.Step(cell), alt.Step(row_height), title, subtitle)


@_per_language
@st.cache_data(show_spinner=False, max_entries=256)
def facet_heatmap_spec(
    stack: np.ndarray,
    facet_labels: tuple[str, ...],
    row_labels: tuple[str, ...],
    col_labels: tuple[str, ...],
    title: str = "",
    domain: tuple[float, float] | None = (0.0, 1.0),
    x_title: str = "",
    y_title: str = "",
    columns: int = 4,
    max_width: int = MAIN_COLUMN_WIDTH,
    masked: np.ndarray | None = None,
    language: str = "en",
) -> dict:
    """One heatmap per slice of ``stack`` (H, R, C) — one altair facet per attention head — on a shared scale.

    ``facet_labels`` names each slice ("head 1"). Shared colour domain (default [0, 1]) so heads compare.
    Heads wrap onto rows (:func:`facet_layout`): at most ``columns`` a row, fewer where they would not fit
    ``max_width`` px with labels and legend. ``masked`` (R, C) bool: cells a mask forbade in every head,
    drawn grey (see :func:`heatmap_spec`).
    """
    stack = np.asarray(stack, dtype=float)
    H, R, C = stack.shape
    columns, cell = facet_layout(H, R, C, max_width, columns, _label_px(row_labels))
    annotate = cell >= 26 and R * C <= ANNOTATE_MAX_CELLS
    scale = color_scale(stack, domain)
    records = []
    for h in range(H):
        records += _cell_records(stack[h], row_labels, col_labels, scale, {"head": facet_labels[h]}, masked=masked)
    layers = _layers(scale, annotate=annotate, font=10, x_title=x_title,
                     y_title=y_title, language=language, faceted=True, thin=cell < 12)
    chart = alt.LayerChart(layer=layers, width=cell * C, height=cell * R).facet(
        facet=alt.Facet("head:N", sort=list(facet_labels), title=None, header=alt.Header(labelFontSize=13)),
        columns=columns, data=alt.Data(values=[]), **_title(title),  # the rows go in below
    )
    spec = chart.to_dict(validate=False)
    spec["data"] = {"values": records}  # after altair, which copies rows slowly (see _single)
    spec["autosize"] = AUTOSIZE
    return spec


@_per_language
@st.cache_data(show_spinner=False, max_entries=256)
def concat_heatmap_spec(
    matrices: tuple[tuple[np.ndarray, tuple[str, ...], tuple[str, ...], str], ...],
    domain: tuple[float, float] | None = None,
    x_title: str = "",
    y_title: str = "",
    max_width: int = 1000,
    language: str = "en",
) -> dict:
    """Several heatmaps side by side in ONE chart (Vega-Lite ``hconcat``) on a shared colour scale.

    ``matrices``: (values (R, C), row labels, column labels, title) each — e.g. W_Q, W_K, W_V. One chart
    draws faster in the browser than three; each part keeps its own title, axes and tooltips.
    """
    parts = [np.asarray(m[0], dtype=float) for m in matrices]
    scale = color_scale(np.concatenate([p.ravel() for p in parts]), domain)
    cell, side_by_side = concat_layout([p.shape for p in parts], [m[1] for m in matrices], max_width, bool(y_title))
    annotate = cell >= 26 and max(p.size for p in parts) <= ANNOTATE_MAX_CELLS
    subs = []
    for values, (_v, rows, cols, title) in zip(parts, matrices, strict=True):
        layers = _layers(scale, annotate=annotate, font=10 if cell >= 30 else 9,
                         x_title=x_title, y_title=y_title, language=language, thin=cell < 12)
        subs.append(_single(layers, _cell_records(values, rows, cols, scale), alt.Step(cell), alt.Step(cell), title))
    return hconcat_specs(*subs, spacing=CONCAT_SPACING, color="shared",
                         direction="hconcat" if side_by_side else "vconcat")


CONCAT_SPACING = 24  # px between the parts of a concat_heatmap_spec
CONCAT_LEGEND_PX = 60  # its one colour legend, numbers included
AXIS_TITLE_PX = 20  # a y axis title beside the labels


def concat_layout(shapes: Sequence[tuple[int, int]], row_labels: Sequence[Sequence[str]], max_width: int,
                  y_title: bool = True) -> tuple[int, bool]:
    """(cell px, side by side?) for the matrices of :func:`concat_heatmap_spec` within ``max_width`` px.

    Side by side, the parts share the width left by their row labels (:func:`_label_px`, plus the axis title),
    the spacing between them and the legend; the cell is the largest of :data:`CELL_STEPS` that fits all their
    columns (≤ 32 px, rows ≤ 600 px high). When that is under 9 px (Q, K and V of a wide head, say), the parts go
    one under the other, each with the whole width, cells then at least 4 px (labels thinned below 12 px).
    """
    title_px = AXIS_TITLE_PX if y_title else 0
    labels = [_label_px(rows) + title_px for rows in row_labels]
    tallest = max(R for R, _C in shapes)
    room = max_width - CONCAT_LEGEND_PX - sum(labels) - CONCAT_SPACING * (len(shapes) - 1)
    across = min(32, room // max(sum(C for _R, C in shapes), 1), 600 // max(tallest, 1))
    if across >= 9 or len(shapes) == 1:
        return snap_cell(max(across, 4)), True
    widest = max(C for _R, C in shapes)
    down = min(32, (max_width - CONCAT_LEGEND_PX - max(labels)) // max(widest, 1), 600 // max(tallest, 1))
    return snap_cell(max(down, 4)), False


def hconcat_specs(*specs: dict, spacing: int = 40, color: str = "independent", direction: str = "hconcat") -> dict:
    """Put finished specs side by side as ONE chart (fewer charts draw faster in the browser).

    ``color``: "independent" (each part its own colour scale) or "shared" (one legend for all).
    ``direction``: "hconcat" (side by side) or "vconcat" (one under the other).
    """
    subs = [{k: v for k, v in spec.items() if k not in ("$schema", "config", "autosize")} for spec in specs]
    first = specs[0]
    return {"$schema": first.get("$schema"), "config": first.get("config", {}), "autosize": first.get("autosize"),
            direction: subs, "spacing": spacing, "resolve": {"scale": {"color": color}}}


def _arrow_bytes(rows: list[dict]) -> bytes:
    """``rows`` as an Arrow IPC stream, the form in which Streamlit ships a named dataset to the browser."""
    table = pa.Table.from_pylist(rows)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def with_named_data(spec: dict) -> dict:
    """``spec`` with its rows moved into named datasets (Arrow) and its colour domain taken from the data.

    A chart whose rows are inline changes its spec whenever a number changes, and the browser then compiles
    the Vega-Lite spec and builds a new view. With the rows in ``spec["datasets"]`` (Streamlit sends them
    beside the spec) a chart whose shape stays the same keeps an identical spec, and Streamlit swaps the
    rows of the view already on screen (Vega's ``view.data``), which draws several times faster. So that
    the spec does not carry the numbers either, a quantitative colour scale's ``domain`` (unless clamped: a
    fixed [0, 1] stays in the spec; so does a nominal scale's list of categories, e.g. the runs of a chart) is replaced by a transparent, non-interactive rect layer holding its two ends: the
    scale spans the data and these two values, i.e. exactly the same domain. Rows shared by several layers
    become one dataset. The spec given is not changed; read the rows back with :func:`spec_values`.
    """
    datasets: dict[str, bytes] = {}
    names: dict[int, str] = {}  # id of a list of rows → its dataset's name

    def dataset(rows: list) -> str:
        if id(rows) not in names:
            names[id(rows)] = name = f"rows{len(datasets)}"
            datasets[name] = _arrow_bytes(rows)
        return names[id(rows)]

    def walk(node):
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key == "data" and isinstance(value, dict) and isinstance(value.get("values"), list) and value["values"]:
                out[key] = {"name": dataset(value["values"])}
            else:
                out[key] = walk(value)
        for layer in out.get("layer", []) if isinstance(out.get("layer"), list) else []:
            color = layer.get("encoding", {}).get("color", {})
            scale = color.get("scale")
            if (isinstance(scale, dict) and "domain" in scale and not scale.get("clamp")
                    and color.get("type") == "quantitative"):  # a list of categories stays in the spec
                lo, hi = scale.pop("domain")
                scale.update(nice=False, zero=False)
                field = {k: v for k, v in color.items() if k != "condition"}
                anchor = {"data": {"name": dataset([{field["field"]: lo}, {field["field"]: hi}])},
                          "mark": {"type": "rect", "opacity": 0, "interactive": False},  # see _is_anchor
                          "encoding": {"color": field}}
                out["layer"] = [*out["layer"], anchor]
                break
        return out

    out = walk(spec)
    out["datasets"] = {**spec.get("datasets", {}), **datasets}
    return out


def _is_anchor(layer: dict) -> bool:
    mark = layer.get("mark")
    return isinstance(mark, dict) and mark.get("opacity") == 0 and mark.get("interactive") is False


def spec_values(spec: dict, datasets: dict[str, list[dict]] | None = None) -> list[dict]:
    """All data rows of a spec (top level, layers, facets): what the chart draws. For tests.

    Rows are inline (``data.values``) or named (``data.name``, see :func:`with_named_data`): looked up in
    ``datasets`` (name → rows; Streamlit ships them apart from the spec, in ``proto.datasets``), else in
    ``spec["datasets"]`` (rows, or Arrow IPC bytes). A dataset repeated in several layers (the cells under
    their numbers, lines under their points) is counted once; the anchors of a colour domain are not rows.
    """
    named = {name: (pa.ipc.open_stream(rows).read_all().to_pylist() if isinstance(rows, bytes) else rows)
             for name, rows in (spec.get("datasets") or {}).items()}
    named.update(datasets or {})
    found: list[list] = []

    def walk(node):
        if isinstance(node, dict):
            data = node.get("data")
            rows = None
            if isinstance(data, dict) and isinstance(data.get("values"), list):
                rows = data["values"]
            elif isinstance(data, dict) and data.get("name") in named and not _is_anchor(node):
                rows = named[data["name"]]
            if rows is not None and rows not in found:
                found.append(rows)
            for key, v in node.items():
                if key not in ("data", "datasets"):
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    return [row for rows in found for row in rows]
