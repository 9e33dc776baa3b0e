"""Line and bar charts as Vega-Lite specs built with altair: measured curves (cost, sweeps, shape traces),
the Train page's loss curves of several runs, and the Generate page's candidate tokens of one step.

Specs are plain dicts with their data inline, shown with ``st.vega_lite_chart``; a test reads exactly what is
drawn (:func:`ui.charts.heatmaps.spec_values`). Data is prepared elsewhere (:func:`ui.runs.loss_frame`,
:func:`ui.sampling.candidate_rows`); nothing is computed here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import altair as alt
import pandas as pd

from ui.i18n import _

# Okabe & Ito (2008), "Color Universal Design": told apart by readers with any common colour-vision deficiency,
# and on a washed-out projector. Yellow (#F0E442) last: faint on white.
LINE_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]
X_AXES = ("step", "seconds")  # what a loss chart's x-axis can count


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
    color_order: Sequence[str] = (),
) -> dict:
    """Lines with points, one colour per ``color`` group; optional log axes and a dashed vertical rule at
    ``rule_x``. ``df``: a DataFrame or a list of row dicts (faster).

    Colours go to the groups in ``color_order`` (default: in order of first appearance in the rows), never
    alphabetically: translated names sort differently, and a line must keep its colour in every language.

    The rows are put in each layer after altair has written the spec (altair copies inline rows slowly).
    """
    rows = df if isinstance(df, list) else json.loads(df.to_json(orient="records"))
    groups = list(color_order) or list(dict.fromkeys(r[color] for r in rows))
    xs = alt.Scale(type="log", base=2, nice=False, padding=10) if log_x else alt.Scale(zero=False, padding=10)
    ys = alt.Scale(type="log", padding=10) if log_y else alt.Scale(zero=False)
    base = alt.Chart().encode(
        x=alt.X(f"{x}:Q", scale=xs, title=x_title or x),
        y=alt.Y(f"{y}:Q", scale=ys, title=y_title or y),
        color=alt.Color(f"{color}:N", title=None, legend=alt.Legend(orient="bottom", labelLimit=400, columns=1),
                        scale=alt.Scale(domain=groups, range=LINE_COLORS[: max(1, len(groups))])),
        tooltip=[
            alt.Tooltip(f"{t}:{'Q' if t in (x, y) else 'N'}",
                        title={x: x_title or x, y: y_title or y}.get(t, " " if t == color else t))
            for t in (tooltip or (color, x, y))
        ],
    )
    rule = alt.Chart().mark_rule(strokeDash=[4, 4], color="gray").encode(x="x:Q")
    title_params = {"title": alt.TitleParams(title, anchor="start")} if title else {}
    chart = alt.LayerChart(layer=[base.mark_line(), base.mark_point(filled=True, size=50), rule], width=width,
                           height=height, **title_params)
    spec = layered_spec(chart, [rows, rows, [{"x": rule_x}] if rule_x is not None else []])
    spec["autosize"] = {"type": "pad", "contains": "padding"}
    return spec


def layered_spec(chart: alt.LayerChart | alt.Chart, rows: Sequence[list]) -> dict:
    """``chart`` (layers without data) written as a Vega-Lite dict, then ``rows[i]`` put inline in layer i (a
    single chart: ``rows[0]`` at its top).

    altair checks a spec against the Vega-Lite schema row by row and copies inline rows slowly: for the Train
    page's loss curves (a few thousand rows, redrawn every second) that was 80 % of the page's server time. The
    layers are written without data and unchecked (every chart here is built from altair's own classes), and
    the rows go in afterwards. Raises ValueError when ``rows`` does not have one list per layer.
    """
    spec = chart.to_dict(validate=False)
    spec.pop("datasets", None)  # altair's placeholder for a chart without data
    spec.pop("data", None)
    layers = spec.get("layer", [spec])  # a single chart: its rows at the top
    if len(rows) != len(layers):
        raise ValueError(f"{len(layers)} layers, {len(rows)} lists of rows")
    for layer, values in zip(layers, rows, strict=True):
        layer["data"] = {"values": values}  # the same list in two layers stays one list (one dataset when named)
    return spec


def _records(df: pd.DataFrame) -> list[dict]:
    return df.to_dict(orient="records")


def loss_curves_spec(
    df: pd.DataFrame, title: str = "", height: int = 380, log_y: bool = False, x: str = "step"
) -> dict:
    """Training (lines) and validation (lines with dots) loss of every run in ``df``, one colour per run.

    ``df``: long form with columns run, step, seconds, curve, loss (:func:`ui.runs.loss_frame`). ``x``:
    "step" (optimiser steps) or "seconds" (training time: runs with the same time budget end together,
    which is how an LSTM and a transformer are compared). Raises ValueError for another ``x``.
    """
    if x not in X_AXES:
        raise ValueError(f"x must be one of {X_AXES}, got {x!r}")
    if df.empty:
        df = pd.DataFrame({"run": [], "step": [], "seconds": [], "curve": [], "loss": []})
    x_title = _("step") if x == "step" else _("training time (s)")
    runs = list(dict.fromkeys(df["run"]))
    validation = _("validation")
    y_scale = alt.Scale(type="log") if log_y else alt.Scale(zero=False)
    encoding = {
        "x": alt.X(f"{x}:Q", title=x_title, scale=alt.Scale(zero=False)),
        "y": alt.Y("loss:Q", title=_("loss (nats per token)"), scale=y_scale),
        # One Okabe-Ito colour per run, in the order the runs were started (not alphabetical: "#10" < "#2").
        "color": alt.Color("run:N", title=_("run"), legend=alt.Legend(orient="bottom", labelLimit=300, columns=2),
                           scale=alt.Scale(domain=runs, range=LINE_COLORS[: max(1, len(runs))] or LINE_COLORS)),
        "strokeDash": alt.StrokeDash(
            "curve:N", title=_("curve"), legend=alt.Legend(orient="bottom", symbolType="stroke", symbolStrokeWidth=2),
            sort=[_("train"), validation],
        ),
        "tooltip": [
            alt.Tooltip("run:N", title=_("run")),
            alt.Tooltip("curve:N", title=_("curve")),
            alt.Tooltip("step:Q", title=_("step"), format=".0f"),
            alt.Tooltip("seconds:Q", title=_("training time (s)"), format=".1f"),
            alt.Tooltip("loss:Q", title=_("loss"), format=".4f"),
        ],
    }
    # Each layer carries its own rows (all curves; the validation points), so the data stays in the spec
    # (Streamlit would move top-level data out of it) and a test can read exactly what is drawn.
    lines = alt.Chart().mark_line(strokeWidth=2).encode(**encoding)
    dots = alt.Chart().mark_point(
        filled=True, size=70, stroke="white", strokeWidth=1, opacity=1
    ).encode(**{k: v for k, v in encoding.items() if k != "strokeDash"})
    chart = (lines + dots).properties(height=height, width="container")
    if title:
        chart = chart.properties(title=alt.TitleParams(title, anchor="start"))
    return layered_spec(chart, [_records(df), _records(df[df["curve"] == validation])])


def candidates_spec(df: pd.DataFrame, title: str = "", height: int | None = None) -> dict:
    """Horizontal bars of one step's top candidates: the probability each was drawn with, beside the model's own.

    ``df``: columns token (unique display label), distribution (which of the two), probability, chosen (bool).
    """
    tokens = list(dict.fromkeys(df["token"])) if not df.empty else []
    chart = (
        alt.Chart()
        .mark_bar()
        .encode(
            y=alt.Y("token:N", sort=tokens, title=None, axis=alt.Axis(labelLimit=200, labelFontSize=13)),
            x=alt.X("probability:Q", title=_("probability"), scale=alt.Scale(domain=[0, 1])),
            yOffset=alt.YOffset("distribution:N"),
            color=alt.Color(
                "distribution:N", title=None, legend=alt.Legend(orient="bottom", labelLimit=400)
            ),
            opacity=alt.condition(alt.datum.chosen, alt.value(1.0), alt.value(0.45)),
            # The drawn token's bars: a black outline, so it stands out in any palette and in greyscale.
            stroke=alt.condition(alt.datum.chosen, alt.value("#000000"), alt.value(None)),
            strokeWidth=alt.condition(alt.datum.chosen, alt.value(2.5), alt.value(0)),
            tooltip=[
                alt.Tooltip("token:N", title=_("token")),
                alt.Tooltip("distribution:N", title=_("distribution")),
                alt.Tooltip("probability:Q", title=_("probability"), format=".4f"),
            ],
        )
        .properties(height=height or max(120, 44 * max(1, len(tokens))), width="container")
    )
    if title:
        chart = chart.properties(title=alt.TitleParams(title, anchor="start"))
    return layered_spec(chart, [_records(df)])
