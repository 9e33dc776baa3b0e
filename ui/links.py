"""Links that open a prepared view, and the lecturer's presentation mode.

The URL's query string already picks the language (``?lang=zh-TW``, :func:`ui.i18n.initial_language`); the
same mechanism carries a page's state: ``/attention_steps?text=the+cat+sat&mask=causal&d_k=8&seed=3`` opens
the page with those settings, and ``?present=1`` opens it in presentation mode. A page names the widgets it
shares (:func:`shared_state`, before the widgets are drawn) and offers a "link to this view"
(:func:`link_to_this_view`, after them): a URL with the current values that a lecturer puts on a slide.

Presentation mode (``?present=1`` or the sidebar switch): larger text, axis labels and cell values, the
sidebar collapsed on arrival, secondary captions and explainer boxes hidden (:func:`presenting`).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

import streamlit as st

from ui.i18n import QUERY_PARAM, _, current_language

PRESENT_PARAM = "present"
PRESENT_KEY = "present_mode"
_APPLIED_KEY = "_links_applied"  # (page, parameter, value) already copied from the URL into a widget

# Larger type for a projector, and fewer words: captions and expanders are secondary; the charts' own fonts
# are raised through Vega's config (see :func:`chart_font_scale`).
PRESENT_CSS = """
<style>
[data-testid="stMainBlockContainer"] { font-size: 1.25rem; padding-top: 2rem; }
[data-testid="stMainBlockContainer"] p, [data-testid="stMainBlockContainer"] li { font-size: 1.25rem; }
[data-testid="stMainBlockContainer"] [data-testid="stCaptionContainer"] { display: none; }
[data-testid="stMainBlockContainer"] [data-testid="stExpander"] { display: none; }
[data-testid="stMainBlockContainer"] .katex { font-size: 1.35em; }
[data-testid="stMainBlockContainer"] [data-testid="stWidgetLabel"] p { font-size: 1.1rem; }
</style>
"""


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def presentation_requested() -> bool:
    """True when the URL asks for presentation mode (``?present=1``); read before ``st.set_page_config``."""
    return _truthy(st.query_params.get(PRESENT_PARAM))


def presentation_switch() -> bool:
    """The sidebar's "Presentation mode" toggle (first value from ``?present=``); applies its CSS when on.

    Call it on every run, after the language switch (the router does). Returns whether the mode is on.
    """
    on = st.sidebar.toggle(
        _("Presentation mode"), value=presentation_requested(), key=PRESENT_KEY,
        help=_("For a projector: larger text and chart labels, fewer words, the sidebar collapsed when a link "
               "with ?present=1 opens the page."),
    )
    if on:
        st.html(PRESENT_CSS)
    return bool(on)


def presenting() -> bool:
    """Whether this session shows the app in presentation mode."""
    try:
        return bool(st.session_state.get(PRESENT_KEY, False))
    except Exception:  # noqa: BLE001 - no Streamlit session (tests, CLI)
        return False


def chart_font_scale() -> float:
    """How much larger chart text is drawn: 1.4 in presentation mode, else 1."""
    return 1.4 if presenting() else 1.0


# A shared widget: query parameter name → (widget key, parse the URL's text into the widget's value).
Shared = dict[str, tuple[str, Callable[[str], object]]]


def shared_state(page: str, shared: Shared) -> None:
    """Copy the URL's values for ``shared`` widgets into their keys, once per value, before they are drawn.

    A value that does not parse (``?d_k=abc``) is left out with a warning naming it; the widget keeps its
    default. ``page``: the page's URL path, so that one page's parameters never set another's widgets.
    """
    applied = st.session_state.setdefault(_APPLIED_KEY, set())
    for name, (key, parse) in shared.items():
        raw = st.query_params.get(name)
        if raw is None or (page, name, raw) in applied:
            continue
        applied.add((page, name, raw))
        try:
            st.session_state[key] = parse(raw)
        except (ValueError, TypeError):
            st.warning(_("The link's value for “{name}” cannot be used here, so the page's own is shown.").format(
                name=name), icon=":material/link_off:")


def view_url(page: str, shared: Shared, base: str | None = None, extra: dict[str, str] | None = None) -> str:
    """The URL of this page with the current values of ``shared`` widgets, ``extra`` parameters (a checkpoint's
    name), the language, and presentation mode."""
    params: dict[str, str] = dict(extra or {})
    for name, (key, _parse) in shared.items():
        value = st.session_state.get(key)
        if value is not None:
            params[name] = str(int(value) if isinstance(value, bool) else value)
    params[QUERY_PARAM] = current_language()
    if presenting():
        params[PRESENT_PARAM] = "1"
    if base is None:
        try:
            base = (st.context.url or "").split("?")[0].rsplit("/", 1)[0]
        except Exception:  # noqa: BLE001 - no browser behind the session (AppTest)
            base = ""
    return f"{base}/{page}?{urlencode(params)}"


def link_to_this_view(page: str, shared: Shared, container=None, extra: dict[str, str] | None = None) -> None:
    """A "Link to this view" popover: the URL of exactly this view, with a copy button, for slides."""
    box = container if container is not None else st
    with box.popover(_("Link to this view"), icon=":material/link:"):
        st.caption(_("Opens this page with these settings. Add present=1 for presentation mode."))
        st.code(view_url(page, shared, extra=extra), language="text", wrap_lines=True)


def checkpoint_name(path: str) -> str:
    """How a link names a checkpoint: its folder (``assets/shakespeare`` → ``shakespeare``), or the run's folder
    for a run's ``runs/<run id>/checkpoint``."""
    from pathlib import Path

    folder = Path(path)
    return folder.parent.name if folder.name == "checkpoint" else folder.name


def open_linked_checkpoint(page: str, open_key: str, paths: list[str]) -> None:
    """``?model=<name>``: have the page's checkpoint picker open that checkpoint (through ``open_key``, the
    same hand-over the Train page uses), once per value; a name no checkpoint has gets a warning."""
    name = st.query_params.get("model")
    applied = st.session_state.setdefault(_APPLIED_KEY, set())
    if not name or (page, "model", name) in applied:
        return
    applied.add((page, "model", name))
    found = [p for p in paths if checkpoint_name(p) == name]
    if found:
        st.session_state[open_key] = found[0]
    else:
        st.warning(_("The link's value for “{name}” cannot be used here, so the page's own is shown.").format(
            name="model"), icon=":material/link_off:")


def parse_bool(text: str) -> bool:
    """"1", "true", "on", "yes" → True; "0", "false", "off", "no" → False; else ValueError."""
    t = text.strip().lower()
    if t in {"1", "true", "on", "yes"}:
        return True
    if t in {"0", "false", "off", "no"}:
        return False
    raise ValueError(text)


def chart_size_scale() -> float:
    """How much larger charts are drawn: 1.3 in presentation mode, else 1.

    Charts are sized to fit the main column beside the open sidebar (about 820 px at 1280 × 720, see
    :data:`ui.charts.heatmaps.MAIN_COLUMN_WIDTH`); presentation mode collapses the sidebar, which leaves about
    1,120 px (measured in Chromium at 1280 × 720), so its charts grow by 1.3 and still fit, labels included.
    """
    return PRESENT_SIZE_SCALE if presenting() else 1.0


PRESENT_SIZE_SCALE = 1.3
_SIZE_KEYS = {"width", "height"}  # a plot's px (a number, or {"step": px}; "container" stays)
_DATA_KEYS = {"data", "datasets", "values"}


def presented(spec: dict, scale: float | None = None, size: float | None = None) -> dict:
    """``spec`` for a projector: its text larger — axis labels and titles, legends, facet headers, titles and
    the numbers in cells, all × ``scale`` (default :func:`chart_font_scale`) — and its plots larger, every px
    width, height and band step × ``size`` (default :func:`chart_size_scale`). The spec is not changed."""
    scale = chart_font_scale() if scale is None else scale
    size = chart_size_scale() if size is None else size
    if scale == 1.0 and size == 1.0:
        return spec

    def grown(key, value):
        if key in _DATA_KEYS:  # the numbers drawn, never resized
            return value
        if key in _SIZE_KEYS and isinstance(value, dict) and isinstance(value.get("step"), int | float):
            return {**value, "step": round(value["step"] * size)}  # width: {"step": px per band}
        if isinstance(value, bool) or not isinstance(value, int | float):
            return grow(value)
        if key == "fontSize" or key.endswith("FontSize"):  # a facet header's labelFontSize, say
            return round(value * scale)
        if key in _SIZE_KEYS:
            return round(value * size)
        return value

    def grow(node):
        if isinstance(node, dict):
            return {k: grown(k, v) for k, v in node.items()}
        if isinstance(node, list):
            return [grow(v) for v in node]
        return node

    out = grow({k: v for k, v in spec.items() if k != "config"})
    config = grow(dict(spec.get("config") or {}))
    fonts = {"labelFontSize": round(11 * scale), "titleFontSize": round(11 * scale)}
    config["axis"] = {**config.get("axis", {}), **fonts}
    config["legend"] = {**config.get("legend", {}), **fonts}
    config["header"] = {**config.get("header", {}), "labelFontSize": round(13 * scale)}
    config["title"] = {**config.get("title", {}), "fontSize": round(13 * scale), "subtitleFontSize": round(11 * scale)}
    config["text"] = {**config.get("text", {}), "fontSize": round(11 * scale)}
    out["config"] = config
    return out


def show_chart(spec: dict, container=None, **kwargs) -> None:
    """``st.vega_lite_chart`` of ``spec`` (in ``container``, default the page) with presentation mode's larger
    text (:func:`presented`)."""
    (container if container is not None else st).vega_lite_chart(presented(spec), **kwargs)


def int_in(lo: int, hi: int) -> Callable[[str], int]:
    """A parser for a whole number from ``lo`` to ``hi`` (a slider's range); ValueError outside it."""
    def parse(text: str) -> int:
        value = int(text)
        if not lo <= value <= hi:
            raise ValueError(text)
        return value
    return parse


def float_in(lo: float, hi: float) -> Callable[[str], float]:
    """A parser for a number from ``lo`` to ``hi`` (a float slider's range); ValueError outside it or for nan."""
    def parse(text: str) -> float:
        value = float(text)
        if not lo <= value <= hi:  # also False for nan
            raise ValueError(text)
        return value
    return parse


def one_of(*options: str) -> Callable[[str], str]:
    """A parser for one of ``options`` (a segmented control's values); ValueError for anything else."""
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError(text)
        return text
    return parse


def text_value(text: str) -> str:
    """A sentence from the URL, at most 5,000 characters (the text box's limit)."""
    return text[:5000]
