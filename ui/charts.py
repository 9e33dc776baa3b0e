"""Charts and downloads shared by the pages: altair heatmaps on screen, seaborn PNGs and CSVs to download.

Every figure starts from a 2-D array (or a stack of them, one per head) with a label per row and per
column; token labels should come from :func:`ui.text.unique_labels` ("03 the") so a repeated word keeps
its own row. Pure builders (``heatmap_frame``, ``heatmap_spec``, ``facet_heatmap_spec``,
``line_chart_spec``, ``heatmap_png``, ``matrix_csv``) return data and can be tested without a
browser; ``show_matrix`` and ``show_heads`` put a chart (or a table) on the page with its download
buttons. Conventions:

- −∞ (a masked attention score) is drawn as a grey cell reading "−∞"; NaN the same, reading "NaN".
- ``domain=(0, 1)`` fixes the colour scale (attention weights, so heads and settings compare);
  otherwise signed data gets a diverging scale symmetric around 0 and non-negative data a sequential one.
- Tooltips show the row, the column and the exact value (6 significant digits).
- Specs carry their data inline (``spec["data"]["values"]``), so a test can read what is drawn.
- Matplotlib is not thread-safe and Streamlit serves sessions on threads: PNGs are drawn on the Agg
  backend behind a module-level :data:`PLOT_LOCK`, with a CJK font after DejaVu Sans (:mod:`ui.fonts`)
  so Chinese titles and tokens are drawn.
"""

from __future__ import annotations

import functools
import io
import json
import math
import threading
from collections.abc import Sequence

import altair as alt
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ui.fonts import configure_cjk_fonts  # noqa: E402
from ui.i18n import N_, _, current_language, translate  # noqa: E402

__all__ = [
    "MASKED_COLOR",
    "PLOT_LOCK",
    "concat_heatmap_spec",
    "dim_labels",
    "download_buttons",
    "download_panel",
    "facet_heatmap_spec",
    "heatmap_frame",
    "heatmap_png",
    "hconcat_specs",
    "heatmap_spec",
    "heads_png",
    "line_chart_spec",
    "matrix_csv",
    "show_heads",
    "show_matrices",
    "show_matrix",
    "spec_values",
]

PLOT_LOCK = threading.Lock()
MASKED_COLOR = "#d4d4d4"
SEQUENTIAL_SCHEME = "blues"
DIVERGING_SCHEME = "redblue"  # reversed below: blue negative, red positive
MAX_CHART_WIDTH = 640  # px, labels and legend included
# Numbers are written in the cells of matrices up to this size: text marks are what a browser draws slowest
# (a 10 × 10 heatmap with its numbers takes about twice as long as without); hover and the table view show
# every value of bigger ones.
ANNOTATE_MAX_CELLS = 48
LINE_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]


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


def _color_domain(values: np.ndarray, domain: tuple[float, float] | None) -> tuple[str, tuple[float, float]]:
    """The colour scale for ``values``: ("fixed", domain), ("diverging", (−m, m)) or ("sequential", (0, max))."""
    finite = values[np.isfinite(values)]
    if domain is not None:
        return "fixed", (float(domain[0]), float(domain[1]))
    if finite.size and finite.min() < 0:
        m = float(np.abs(finite).max()) or 1.0
        return "diverging", (-m, m)
    return "sequential", (0.0, float(finite.max()) if finite.size and finite.max() > 0 else 1.0)


def _cell_records(values: np.ndarray, row_labels, col_labels, kind: str, lo_hi, extra: dict | None = None) -> list:
    """One dict per cell: row, col, value (None if masked), shown (exact text), label (2 decimals), masked, dark."""
    lo, hi = lo_hi
    records = []
    for i, row in enumerate(row_labels):
        for j, col in enumerate(col_labels):
            v = float(values[i, j])
            masked = not math.isfinite(v)
            if masked:
                dark = False
            elif kind == "diverging":
                dark = abs(v) > 0.6 * max(abs(lo), abs(hi))
            else:
                dark = v > lo + 0.6 * ((hi - lo) or 1.0)
            rec = {"row": row, "col": col, "value": None if masked else v, "shown": _shown(v),
                   "label": ("NaN" if math.isnan(v) else "−∞") if masked else f"{v:.2f}", "masked": masked,
                   "dark": dark, "r": i, "c": j}
            if extra:
                rec.update(extra)
            records.append(rec)
    return records


def _cell_size(R: int, C: int, max_width: int) -> int:
    """Side of one square cell in px: the plot (without ~160 px of labels and legend) fits ``max_width``."""
    return int(max(9, min(32, (max_width - 160) // max(C, 1), 600 // max(R, 1))))


def _title(title: str, subtitle: str = ""):
    return alt.TitleParams(title, subtitle=subtitle or alt.Undefined, anchor="start")


@functools.lru_cache(maxsize=64)
def _heatmap_template(
    kind: str, annotate: bool, font: int, x_title: str, y_title: str, value_title: str, faceted: bool,
    row_name: str = "row", col_name: str = "column", masked_text: bool = False,
) -> str:
    """The altair heatmap layout — rect cells, grey masked cells, tooltips, optional numbers — compiled once.

    A Vega-Lite JSON template: its data is the named placeholder "cells"; the axis orders, sizes, colour
    domain and title are set by :func:`_fill_heatmap`. Compiling altair (with its schema validation) costs
    ~50 ms; this happens once per kind of chart in the process, not once per matrix, so a slider that
    changes the numbers (or the labels) stays fast.
    """
    base = alt.Chart() if faceted else alt.Chart(alt.NamedData(name="cells"))
    x = alt.X("col:N", sort=[], title=x_title or None, axis=alt.Axis(labelAngle=-60, labelLimit=140, labelOverlap=False))
    y = alt.Y("row:N", sort=[], title=y_title or None, axis=alt.Axis(labelLimit=140, labelOverlap=False))
    tooltip = [alt.Tooltip("row:N", title=y_title or row_name), alt.Tooltip("col:N", title=x_title or col_name),
               alt.Tooltip("shown:N", title=value_title)]
    if faceted:
        tooltip.insert(0, alt.Tooltip("head:N", title=" "))
    if kind == "diverging":
        scale = alt.Scale(domain=[-1, 1], scheme=DIVERGING_SCHEME, reverse=True)
    else:
        scale = alt.Scale(domain=[0, 1], scheme=SEQUENTIAL_SCHEME, clamp=kind == "fixed")
    # invalid=None (JSON null): keep the cells whose value is null (masked, −∞) so they are drawn grey
    # instead of being dropped, which is Vega-Lite's default for null values.
    chart = base.mark_rect(stroke="white", strokeWidth=0.5, invalid=None).encode(
        x=x,
        y=y,
        color=alt.condition("datum.masked", alt.value(MASKED_COLOR), alt.Color("value:Q", scale=scale, title=None)),
        tooltip=tooltip,
    )
    if annotate:
        chart = chart + base.mark_text(fontSize=font, invalid=None).encode(
            x=x,
            y=y,
            text="label:N",
            color=alt.condition("datum.dark", alt.value("white"), alt.value("#222222")),
            tooltip=tooltip,
        )
    elif masked_text:  # no numbers, but the masked cells still say "−∞"
        chart = chart + base.transform_filter("datum.masked").mark_text(fontSize=font, invalid=None).encode(
            x=x, y=y, text="label:N", color=alt.value("#555555"), tooltip=tooltip
        )
    else:
        chart = alt.layer(chart)  # always a layer chart, so the data can sit in the layers (see _fill_heatmap)
    chart = chart.properties(width=1, height=1)
    if faceted:
        chart = chart.facet(
            facet=alt.Facet("head:N", sort=[], title=None, header=alt.Header(labelFontSize=13)),
            columns=1,
            data=alt.NamedData(name="cells"),
        )
    spec = chart.to_dict(validate=False)  # a fixed layout, validated by the tests
    spec["autosize"] = {"type": "pad", "contains": "padding"}  # width/height are the plot's; labels go around
    return json.dumps(spec)


def _fill_heatmap(
    template: str,
    records: list,
    lo_hi: tuple[float, float],
    row_labels,
    col_labels,
    width: int,
    height: int,
    title: str,
    subtitle: str = "",
    facet_labels=None,
    columns: int = 1,
) -> dict:
    """The template with its data, axis orders, colour domain, sizes and title filled in."""
    spec = json.loads(template)
    rows, cols = list(row_labels), list(col_labels)

    def walk(node):
        if isinstance(node, dict):
            if node.get("data") == {"name": "cells"}:
                node["data"] = {"values": records}
            enc = node.get("encoding")
            if isinstance(enc, dict):
                enc["x"]["sort"], enc["y"]["sort"] = cols, rows
                scale = enc.get("color", {}).get("scale")
                if isinstance(scale, dict):
                    scale["domain"] = list(lo_hi)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    if facet_labels is None:
        # Data inside each layer stays in the spec as JSON; Streamlit would convert top-level data to Arrow
        # through pandas, which costs ~30 ms a chart — too slow for a page of a dozen heatmaps.
        spec.pop("data", None)
        for layer in spec["layer"]:
            layer["data"] = {"values": records}
    inner = spec["spec"] if facet_labels is not None else spec
    inner["width"], inner["height"] = width, height
    if facet_labels is not None:
        spec["facet"]["sort"] = list(facet_labels)
        spec["columns"] = columns
    if title:
        spec["title"] = {"text": title, "anchor": "start", **({"subtitle": subtitle} if subtitle else {})}
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


def _tooltip_words(language: str) -> tuple[str, str, str]:
    return translate(N_("value"), language), translate(N_("row"), language), translate(N_("column"), language)


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
    kind, lo_hi = _color_domain(values, domain)
    has_masked = not np.isfinite(values).all()
    value_word, row_word, column_word = _tooltip_words(language)
    template = _heatmap_template(kind, bool(annotate), 10 if cell >= 30 else 9, x_title, y_title, value_word, False,
                                 row_word, column_word, has_masked and cell >= 14)
    records = _cell_records(values, row_labels, col_labels, kind, lo_hi)
    row_height = max(cell, min(18, 600 // R))  # rows stay tall enough for their labels when columns are many
    return _fill_heatmap(template, records, lo_hi, row_labels, col_labels, cell * C, row_height * R, title, subtitle)


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
    max_width: int = 1100,
    language: str = "en",
) -> dict:
    """One heatmap per slice of ``stack`` (H, R, C) — one altair facet per attention head — on a shared scale.

    ``facet_labels`` names each slice ("head 1"). Shared colour domain (default [0, 1]) so heads compare.
    """
    stack = np.asarray(stack, dtype=float)
    H, R, C = stack.shape
    columns = max(1, min(columns, H))
    cell = _cell_size(R, C, (max_width - 160) // columns + 140)  # only the first column has row labels
    annotate = cell >= 26 and R * C <= ANNOTATE_MAX_CELLS
    kind, lo_hi = _color_domain(stack, domain)
    records = []
    for h in range(H):
        records += _cell_records(stack[h], row_labels, col_labels, kind, lo_hi, {"head": facet_labels[h]})
    value_word, row_word, column_word = _tooltip_words(language)
    template = _heatmap_template(kind, annotate, 10, x_title, y_title, value_word, True, row_word, column_word)
    return _fill_heatmap(template, records, lo_hi, row_labels, col_labels, cell * C, cell * R, title,
                         facet_labels=facet_labels, columns=columns)


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
    kind, lo_hi = _color_domain(np.concatenate([p.ravel() for p in parts]), domain)
    n = len(parts)
    width_each = (max_width - 60) // n + 100  # one legend for all; every part has its own row labels
    cell = min(_cell_size(p.shape[0], p.shape[1], width_each) for p in parts)
    annotate = cell >= 26 and max(p.size for p in parts) <= ANNOTATE_MAX_CELLS
    value_word, row_word, column_word = _tooltip_words(language)
    template = _heatmap_template(kind, annotate, 10 if cell >= 30 else 9, x_title, y_title, value_word, False,
                                 row_word, column_word)
    subs = []
    for values, (_v, rows, cols, title) in zip(parts, matrices, strict=True):
        R, C = values.shape
        sub = _fill_heatmap(template, _cell_records(values, rows, cols, kind, lo_hi), lo_hi, rows, cols,
                            cell * C, cell * R, title)
        for key in ("$schema", "config", "autosize"):
            sub.pop(key, None)
        subs.append(sub)
    top = json.loads(template)
    return {"$schema": top.get("$schema"), "config": top.get("config", {}), "autosize": top["autosize"],
            "hconcat": subs, "spacing": 24, "resolve": {"scale": {"color": "shared"}}}


@functools.lru_cache(maxsize=64)
def _line_template(x: str, y: str, color: str, log_x: bool, log_y: bool, tooltip: tuple[str, ...], x_title: str,
                   y_title: str) -> str:
    """The altair line chart layout (lines, points, an optional vertical rule), compiled once; see _fill_line."""
    xs = alt.Scale(type="log", base=2, nice=False, padding=10) if log_x else alt.Scale(zero=False, padding=10)
    ys = alt.Scale(type="log", padding=10) if log_y else alt.Scale(zero=False)
    base = alt.Chart(alt.NamedData(name="rows")).encode(
        x=alt.X(f"{x}:Q", scale=xs, title=x_title or x),
        y=alt.Y(f"{y}:Q", scale=ys, title=y_title or y),
        color=alt.Color(f"{color}:N", title=None, legend=alt.Legend(orient="bottom", labelLimit=400, columns=1),
                        scale=alt.Scale(range=LINE_COLORS)),
        tooltip=[
            alt.Tooltip(f"{t}:{'Q' if t in (x, y) else 'N'}",
                        title={x: x_title or x, y: y_title or y}.get(t, " " if t == color else t))
            for t in (tooltip or (color, x, y))
        ],
    )
    rule = alt.Chart(alt.NamedData(name="rule")).mark_rule(strokeDash=[4, 4], color="gray").encode(x="x:Q")
    spec = (base.mark_line() + base.mark_point(filled=True, size=50) + rule).properties(width=1, height=1).to_dict(
        validate=False
    )
    spec["autosize"] = {"type": "pad", "contains": "padding"}
    return json.dumps(spec)


def line_chart_spec(
    df: pd.DataFrame | list[dict],
    x: str,
    y: str,
    color: str,
    title: str = "",
    x_title: str = "",
    y_title: str = "",
    log_x: bool = False,
    log_y: bool = False,
    tooltip: Sequence[str] = (),
    rule_x: float | None = None,
    width: int = 460,
    height: int = 300,
) -> dict:
    """Lines with points, one colour per ``color`` group; optional log axes and a dashed vertical rule at
    ``rule_x``. ``df``: a DataFrame or a list of row dicts (faster). The altair layout is compiled once per
    set of encodings; data, sizes and title are filled in."""
    spec = json.loads(_line_template(x, y, color, log_x, log_y, tuple(tooltip), x_title, y_title))
    rows = df if isinstance(df, list) else json.loads(df.to_json(orient="records"))
    rule = [{"x": rule_x}] if rule_x is not None else []
    for layer in spec["layer"]:
        name = layer.get("data", {}).get("name")
        layer["data"] = {"values": rule if name == "rule" else rows}
    spec.pop("data", None)
    spec["width"], spec["height"] = width, height
    if title:
        spec["title"] = {"text": title, "anchor": "start"}
    return spec


def hconcat_specs(*specs: dict, spacing: int = 40) -> dict:
    """Put finished specs side by side as ONE chart (fewer charts draw faster in the browser)."""
    subs = []
    for spec in specs:
        sub = dict(spec)
        for key in ("$schema", "config", "autosize"):
            sub.pop(key, None)
        subs.append(sub)
    first = specs[0]
    return {"$schema": first.get("$schema"), "config": first.get("config", {}), "autosize": first.get("autosize"),
            "hconcat": subs, "spacing": spacing, "resolve": {"scale": {"color": "independent"}}}


def spec_values(spec: dict) -> list[dict]:
    """All inline data rows of a spec (top level, layers, facets): what the chart draws. For tests.

    A dataset repeated in several layers (the cells under their numbers, lines under their points) is
    counted once.
    """
    datasets: list[list] = []

    def walk(node):
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, dict) and isinstance(data.get("values"), list) and data["values"] not in datasets:
                datasets.append(data["values"])
            for key, v in node.items():
                if key != "data":
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    return [row for values in datasets for row in values]


# --------------------------------------------------------------------------------------------------
# Downloads
# --------------------------------------------------------------------------------------------------
def matrix_csv(values: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str]) -> str:
    """The matrix as CSV with its labels (masked entries as -inf)."""
    return pd.DataFrame(np.asarray(values, dtype=float), index=list(row_labels), columns=list(col_labels)).to_csv()


def _png_style(values: np.ndarray, domain: tuple[float, float] | None):
    finite = values[np.isfinite(values)]
    if domain is not None:
        return domain[0], domain[1], "Blues", None
    if finite.size and finite.min() < 0:
        m = float(np.abs(finite).max()) or 1.0
        return -m, m, "RdBu_r", 0.0
    return 0.0, float(finite.max()) if finite.size and finite.max() > 0 else 1.0, "Blues", None


def _draw_heatmap(ax, values: np.ndarray, row_labels, col_labels, title: str, style, cbar: bool = True) -> None:
    """One seaborn heatmap on ``ax``: masked (non-finite) cells grey with "−∞", numbers when it fits."""
    import seaborn as sns

    vmin, vmax, cmap, center = style
    R, C = values.shape
    masked = ~np.isfinite(values)
    annotate = R <= 16 and C <= 16
    ax.set_facecolor(MASKED_COLOR)
    sns.heatmap(
        np.where(masked, np.nan, values), mask=masked, ax=ax, cmap=cmap, vmin=vmin, vmax=vmax, center=center,
        annot=annotate, fmt=".2f", annot_kws={"fontsize": 7}, cbar=cbar,
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
        _draw_heatmap(fig.add_subplot(), values, row_labels, col_labels, title, _png_style(values, domain))
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
    style = _png_style(stack, domain)
    with PLOT_LOCK:
        configure_cjk_fonts()
        w, h = max(3.0, 0.4 * C + 1.8), max(2.5, 0.35 * R + 1.3)
        fig = Figure(figsize=(w * columns, h * n_rows + 0.4), dpi=dpi)
        for i in range(H):
            ax = fig.add_subplot(n_rows, columns, i + 1)
            _draw_heatmap(ax, stack[i], row_labels, col_labels, facet_labels[i], style, cbar=i == H - 1)
        if title:
            fig.suptitle(title, fontsize=11, x=0.01, ha="left")
        return _png(fig)


def _download_row(key: str, stem: str, png, csv, png_help: str, csv_help: str) -> None:
    """A PNG and a CSV download button side by side; the files are made only when clicked."""
    row = st.container(horizontal=True, gap="small")
    for label, data, ext, mime, icon, help_text in (
        (_("PNG"), png, "png", "image/png", ":material/image:", png_help),
        (_("CSV"), csv, "csv", "text/csv", ":material/table:", csv_help),
    ):
        row.download_button(
            label, data=data, file_name=f"{stem}.{ext}", mime=mime, key=f"{key}_{ext}", icon=icon,
            type="tertiary", on_click="ignore", help=help_text,
        )


def download_buttons(
    values: np.ndarray,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    title: str,
    key: str,
    domain: tuple[float, float] | None = None,
    file_stem: str | None = None,
) -> None:
    """Two small buttons: the figure as PNG and its numbers as CSV, generated only when clicked."""
    values = np.asarray(values, dtype=float)
    rows, cols = tuple(row_labels), tuple(col_labels)
    stem = file_stem or key
    _download_row(
        key,
        stem,
        png=lambda: heatmap_png(values, rows, cols, title, domain),
        csv=lambda: matrix_csv(values, rows, cols),
        png_help=_("Download this figure as a PNG image (drawn with seaborn)"),
        csv_help=_("Download these numbers as CSV"),
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
) -> None:
    """Show a matrix as an altair heatmap (or, with ``table``, as a table of exact numbers) + downloads.

    values: anything ``np.asarray`` takes, 2-D; a torch tensor should be passed as ``t.numpy()``.
    """
    values = np.asarray(values, dtype=float)
    rows, cols = tuple(row_labels), tuple(col_labels)
    if table:
        st.markdown(f"**{title}**" + (f" — {subtitle}" if subtitle else ""))
        st.dataframe(pd.DataFrame(values, index=list(rows), columns=list(cols)), key=f"{key}_table")
    else:
        spec = heatmap_spec(values, rows, cols, title, domain, x_title, y_title, annotate, max_width, subtitle)
        st.vega_lite_chart(spec, width="content", key=f"{key}_chart")
    if downloads:
        download_buttons(values, rows, cols, title=title, key=key, domain=domain)


def show_matrices(
    matrices: Sequence[tuple],
    *,
    key: str,
    table: bool = False,
    domain: tuple[float, float] | None = None,
    x_title: str = "",
    y_title: str = "",
    max_width: int = 1000,
    downloads: bool = True,
) -> None:
    """Show several matrices side by side — one chart (:func:`concat_heatmap_spec`) or tables — with a PNG
    and a CSV download for each (unless ``downloads`` is False). ``matrices``: (values, row labels, column
    labels, title) each."""
    parts = tuple((np.asarray(v, dtype=float), tuple(r), tuple(c), t) for v, r, c, t in matrices)
    if table:
        for col, (values, rows, cols, title) in zip(st.columns(len(parts)), parts, strict=True):
            col.markdown(f"**{title}**")
            col.dataframe(pd.DataFrame(values, index=list(rows), columns=list(cols)), key=f"{key}_{title}_table")
    else:
        spec = concat_heatmap_spec(parts, domain, x_title, y_title, max_width)
        st.vega_lite_chart(spec, width="content", key=f"{key}_chart")
    if not downloads:
        return
    row = st.container(horizontal=True, gap="small")
    for i, (values, rows, cols, title) in enumerate(parts):
        row.download_button(
            _("{name} PNG").format(name=title), data=functools.partial(heatmap_png, values, rows, cols, title, domain),
            file_name=f"{key}_{i}.png", mime="image/png", key=f"{key}_{i}_png", icon=":material/image:",
            type="tertiary", on_click="ignore", help=_("Download this figure as a PNG image (drawn with seaborn)"),
        )
        row.download_button(
            _("{name} CSV").format(name=title), data=functools.partial(matrix_csv, values, rows, cols), file_name=f"{key}_{i}.csv",
            mime="text/csv", key=f"{key}_{i}_csv", icon=":material/table:", type="tertiary", on_click="ignore",
            help=_("Download these numbers as CSV"),
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
    stem = f"{key}_{titles.index(title)}"
    row.download_button(
        _("PNG"), data=functools.partial(heatmap_png, values, rows, cols, title, domain), file_name=f"{stem}.png",
        mime="image/png", key=f"{key}_png", icon=":material/image:", on_click="ignore",
        help=_("Download this figure as a PNG image (drawn with seaborn)"),
    )
    row.download_button(
        _("CSV"), data=functools.partial(matrix_csv, values, rows, cols), file_name=f"{stem}.csv", mime="text/csv",
        key=f"{key}_csv", icon=":material/table:", on_click="ignore", help=_("Download these numbers as CSV"),
    )


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
) -> None:
    """One heatmap per head on a shared colour scale (altair facets), with a CSV of all heads."""
    stack = np.asarray(stack, dtype=float)
    spec = facet_heatmap_spec(
        stack, tuple(facet_labels), tuple(row_labels), tuple(col_labels), title, domain, x_title, y_title, columns
    )
    st.vega_lite_chart(spec, width="content", key=f"{key}_chart")
    long = pd.concat(
        [heatmap_frame(stack[h], row_labels, col_labels).assign(head=facet_labels[h]) for h in range(len(stack))]
    )[["head", "row", "col", "shown"]].rename(columns={"shown": "value"})
    _download_row(
        key,
        key,
        png=lambda: heads_png(stack, tuple(facet_labels), tuple(row_labels), tuple(col_labels), title, domain, columns),
        csv=lambda: long.to_csv(index=False),
        png_help=_("Download all heads as one PNG image (drawn with seaborn)"),
        csv_help=_("Download every head's numbers as CSV (head, row, column, value)"),
    )
