"""Watch attention learn: a run's attention snapshots (:mod:`trainers.snapshots`) scrubbed step by step.

``show_snapshots(source, key=...)`` puts on the page: the attention kind and layer, a step slider (and a
Play toggle that steps through the snapshots), the training loss with the chosen step marked, one small
chart per head of a number that summarises its pattern against step (attention entropy; for
cross-attention also the share on the best monotonic alignment), one heatmap per head at that step, and
the downloads (the npz of every snapshot, an animated GIF of one head over training).

The Train page calls it for the selected run once it has ended (``source`` reads the snapshots its worker saved
beside the checkpoint in the run's folder); the Attention maps page for a saved run's ``attention_snapshots.npz``.
The data helpers (:func:`summary_frame`, :func:`loss_marker_frame`, :func:`snapshot_gif`) use no Streamlit.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from trainers.snapshots import (
    AttentionSnapshots,
    attention_entropy,
    default_probe,
    default_snapshot_every,
    load_snapshots,
    monotonic_alignment_mass,
)
from ui.charts.colors import color_scale
from ui.charts.files import PLOT_LOCK, _draw_heatmap
from ui.charts.heatmaps import facet_heatmap_spec
from ui.charts.lines import layered_spec
from ui.charts.widgets import HEAD_MAPS_WIDTH
from ui.fonts import configure_cjk_fonts
from ui.i18n import _
from ui.labels import kind_names
from ui.links import show_chart
from ui.messages import localize
from ui.text import format_plain, unique_labels

PLAY_SECONDS = 1.0  # one snapshot a second while playing
LIVE_SECONDS = 2.0  # while the run trains, new snapshots appear this often
SMALL_CHART_HEIGHT = 240


# --------------------------------------------------------------------------------------------------
# Data (no Streamlit)
# --------------------------------------------------------------------------------------------------
def summary_frame(snaps: AttentionSnapshots, kind: str, layer: int) -> pd.DataFrame:
    """One row per snapshot, head and measure: columns step, head (1, 2, …), measure, value.

    Measures: attention entropy in nats (mean over queries); for cross-attention also the share of attention
    on the best monotonic alignment (0–1). Translated names.
    """
    series = snaps.series(kind, layer)  # (S, H, T_q, T_k)
    S, H = series.shape[:2]
    measures = {_("entropy (nats)"): attention_entropy(series)}
    if kind == "cross":
        measures[_("on the best monotonic alignment")] = monotonic_alignment_mass(series)
    rows = [
        {"step": snaps.steps[s], "head": h + 1, "measure": name, "value": float(v[s, h])}
        for name, v in measures.items() for s in range(S) for h in range(H)
    ]
    return pd.DataFrame(rows, columns=["step", "head", "measure", "value"])


def loss_marker_frame(curve: list[tuple[int, float]], step: int) -> tuple[pd.DataFrame, dict]:
    """The training-loss curve (at most about 400 points, averaged in buckets) and the point at ``step``.

    ``curve``: (step, loss) pairs, every optimiser step or only the snapshots'. The marker's loss is the
    training loss at exactly that step when the curve has it, else at the nearest earlier point.
    """
    frame = pd.DataFrame(curve, columns=["step", "loss"]).sort_values("step")
    exact = frame[frame["step"] <= step]
    loss = float(exact["loss"].iloc[-1]) if len(exact) else float(frame["loss"].iloc[0])
    size = max(1, -(-len(frame) // 400))
    if size > 1:
        frame = frame.groupby(np.arange(len(frame)) // size).mean()
    return frame.reset_index(drop=True), {"step": int(step), "loss": loss}


def _frame_png(stack: np.ndarray, rows, cols, title: str, dpi: int) -> bytes:
    from matplotlib.figure import Figure

    R, C = stack.shape
    fig = Figure(figsize=(max(3.5, 0.42 * C + 2.4), max(2.6, 0.38 * R + 1.6)), dpi=dpi)
    _draw_heatmap(fig.add_subplot(), stack, rows, cols, title, color_scale(stack, (0.0, 1.0)))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def snapshot_gif(snaps: AttentionSnapshots, kind: str, layer: int, head: int, title: str = "",
                 frame_ms: int = 600, dpi: int = 90) -> bytes:
    """An animated GIF of one head over training: one seaborn heatmap per snapshot, titled with step and loss.

    Frames are drawn with matplotlib (Agg, under ``PLOT_LOCK``) and joined by Pillow; the last frame stays
    three times as long. ``layer`` and ``head`` are 0-based.
    """
    from PIL import Image

    rows = unique_labels(snaps.query_tokens[kind])
    cols = unique_labels(snaps.key_tokens[kind])
    frames = []
    with PLOT_LOCK:
        configure_cjk_fonts()
        for i, (step, loss) in enumerate(zip(snaps.steps, snaps.losses, strict=True)):
            caption = _("{title} · step {step} · loss {loss:.3f}").format(title=title, step=step, loss=loss)
            png = _frame_png(snaps.heads(i, kind, layer)[head], rows, cols, caption, dpi)
            frames.append(Image.open(io.BytesIO(png)).convert("RGB"))
    size = frames[0].size
    frames = [f if f.size == size else f.resize(size) for f in frames]
    buffer = io.BytesIO()
    durations = [frame_ms] * (len(frames) - 1) + [frame_ms * 3]
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------------------------------
def loss_marker_spec(curve: pd.DataFrame, marker: dict, title: str) -> dict:
    """The training loss against step with a rule and a dot at the chosen step (Vega-Lite, data inline)."""
    x = alt.X("step:Q", title=_("step"), scale=alt.Scale(zero=False))
    y = alt.Y("loss:Q", title=_("training loss"), scale=alt.Scale(zero=False))
    line = alt.Chart().mark_line(color="#1f77b4").encode(x=x, y=y)
    point = alt.Chart()
    rule = point.mark_rule(color="#d62728", strokeDash=[4, 3]).encode(x="step:Q")
    dot = point.mark_point(filled=True, size=90, color="#d62728").encode(
        x=x, y=y, tooltip=[alt.Tooltip("step:Q", title=_("step")), alt.Tooltip("loss:Q", title=_("loss"), format=".4f")])
    label = point.mark_text(align="left", dx=8, dy=-10, color="#d62728", fontSize=12).encode(
        x=x, y=y, text=alt.Text("loss:Q", format=".3f"))
    chart = alt.layer(line, rule, dot, label).properties(
        height=SMALL_CHART_HEIGHT, width="container", title=alt.TitleParams(title, anchor="start"))
    return layered_spec(chart, [curve.to_dict(orient="records"), [marker], [marker], [marker]])


def summary_spec(frame: pd.DataFrame, measure: str, step: int, title: str) -> dict:
    """One line per head of ``measure`` against step, the chosen step marked by a rule."""
    rows = frame[frame["measure"] == measure].to_dict(orient="records")
    x = alt.X("step:Q", title=_("step"), scale=alt.Scale(zero=False))
    lines = alt.Chart().mark_line(point=alt.OverlayMarkDef(size=18)).encode(
        x=x, y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
        color=alt.Color("head:N", title=_("head"), legend=alt.Legend(orient="top", direction="horizontal")),
        tooltip=[alt.Tooltip("head:N", title=_("head")), alt.Tooltip("step:Q", title=_("step")),
                 alt.Tooltip("value:Q", title=measure, format=".3f")],
    )
    rule = alt.Chart().mark_rule(color="#d62728", strokeDash=[4, 3]).encode(x="step:Q")
    chart = alt.layer(lines, rule).properties(height=SMALL_CHART_HEIGHT, width="container",
                                             title=alt.TitleParams(title, anchor="start"))
    return layered_spec(chart, [rows, [{"step": int(step)}]])


# --------------------------------------------------------------------------------------------------
# The section
# --------------------------------------------------------------------------------------------------
def show_snapshots(
    source: Callable[[], AttentionSnapshots | None],
    *,
    key: str,
    curve: Callable[[], list[tuple[int, float]]] | None = None,
    live: bool = False,
    file_stem: str = "attention",
) -> None:
    """The snapshots of one run: controls, step slider (+ Play), loss and per-head charts, heatmaps, downloads.

    ``source`` returns the snapshots (called on every rerun of the section, so a live run's new snapshots
    appear); ``curve`` the run's (step, training loss) pairs (default: the snapshots' own); ``live`` refreshes
    the section every :data:`LIVE_SECONDS` while the run trains.
    """
    playing = st.toggle(_("Play: step through the snapshots"), key=f"{key}_play",
                        help=_("Moves the step slider to the next snapshot every second, from the first again "
                               "after the last."))
    every = PLAY_SECONDS if playing else (LIVE_SECONDS if live else None)

    @st.fragment(run_every=every)
    def section() -> None:
        snaps = source()
        if snaps is None or not len(snaps):
            st.caption(_("No snapshots yet: the first is taken after the first training step."))
            return
        names = kind_names()
        kinds = snaps.kinds
        kind = st.segmented_control(
            _("Attention"), kinds, default="cross" if "cross" in kinds else kinds[0], required=True,
            format_func=names.get, key=f"{key}_kind",
        ) or kinds[0]
        n_layers = snaps.n_layers(kind)
        c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
        layer = c1.segmented_control(
            _("Layer"), list(range(n_layers)), default=0, required=True, key=f"{key}_layer_{kind}_{n_layers}",
            format_func=lambda i: _("layer {i}").format(i=i + 1),
        ) or 0
        steps = snaps.steps
        step_key = f"{key}_step"
        current, newest_seen = st.session_state.get(step_key), st.session_state.get(f"{key}_newest")
        if current not in steps or (current == newest_seen and not playing):  # follow a live run's newest
            st.session_state[step_key] = steps[-1]
        elif playing:
            st.session_state[step_key] = steps[(steps.index(current) + 1) % len(steps)]
        st.session_state[f"{key}_newest"] = steps[-1]
        if len(steps) > 1:
            step = c2.select_slider(_("Training step of the snapshot"), options=steps, key=step_key,
                                    help=_("The model's attention on the probe as it was after this step."))
        else:
            step = steps[0]
            st.session_state.pop(step_key, None)
        index = steps.index(step)
        kind_name = names.get(kind, kind)
        pairs = curve() if curve is not None else []
        pairs = pairs or list(zip(snaps.steps, snaps.losses, strict=True))
        loss_curve, marker = loss_marker_frame(pairs, step)
        summary = summary_frame(snaps, kind, int(layer))
        measures = list(dict.fromkeys(summary["measure"]))
        charts = st.columns(1 + len(measures))
        show_chart(loss_marker_spec(loss_curve, marker, _("Training loss · step {step}: {loss:.3f}").format(
            step=step, loss=marker["loss"])), container=charts[0], key=f"{key}_loss_chart", width="stretch")
        titles = {measures[0]: _("Entropy per head (nats)")}
        if len(measures) > 1:
            titles[measures[1]] = _("Monotonic alignment per head")
        for column, measure in zip(charts[1:], measures, strict=True):
            show_chart(summary_spec(summary, measure, step, titles[measure]), container=column,
                       key=f"{key}_summary_{measures.index(measure)}", width="stretch")
        st.caption(_("Entropy: how spread out each query's attention is, averaged over the queries (ln of the "
                     "number of keys for a uniform row, 0 for a row on one key): it falls as a head sharpens.")
                   + (" " + _("Monotonic alignment: the share of attention on the best left-to-right path through the "
                              "map, one key per query (1 = a sharp alignment in source order).")
                      if kind == "cross" else ""))
        stack = snaps.heads(index, kind, int(layer))  # (H, T_q, T_k)
        rows = tuple(unique_labels(snaps.query_tokens[kind]))
        cols = tuple(unique_labels(snaps.key_tokens[kind]))
        H = stack.shape[0]
        facets = tuple(_("head {h}").format(h=h + 1) for h in range(H))
        title = _("{kind}, layer {layer}, after step {step}").format(kind=kind_name, layer=int(layer) + 1, step=step)
        spec = facet_heatmap_spec(np.asarray(stack, dtype=float), facets, rows, cols, title, (0.0, 1.0),
                                  _("key (attended to)"), _("query (attending)"),
                                  4, HEAD_MAPS_WIDTH)  # up to 4 heads a row, fewer where they would not fit
        show_chart(spec, key=f"{key}_heatmaps")
        st.caption(format_plain(_("Probe: {probe} · {n} snapshots, steps {first}–{last}"),
            probe=snaps.probe.replace("\n", " ⏎ "), n=len(snaps), first=steps[0], last=steps[-1]))
        d1, d2, d3 = st.columns([2, 1, 2], vertical_alignment="bottom")
        d1.download_button(
            _("All snapshots (NPZ)"), data=snaps.to_bytes, file_name=f"{file_stem}_attention_snapshots.npz",
            mime="application/octet-stream", icon=":material/data_array:", key=f"{key}_npz", on_click="ignore",
            help=_("Every snapshot as NumPy arrays (heads, T_q, T_k) named like step120/cross/layer0, with the "
                   "probe's tokens, steps and losses; np.load(path, allow_pickle=False)."),
        )
        head = d2.selectbox(_("Head"), list(range(H)), format_func=lambda h: str(h + 1), key=f"{key}_gif_head_{H}")
        d3.download_button(
            _("This head over training (GIF)"),
            data=lambda: snapshot_gif(snaps, kind, int(layer), int(head),
                                      title=_("{kind}, layer {layer}, head {head}").format(
                                          kind=kind_name, layer=int(layer) + 1, head=int(head) + 1)),
            file_name=f"{file_stem}_{kind}_layer{int(layer) + 1}_head{int(head) + 1}.gif", mime="image/gif",
            icon=":material/animated_images:", key=f"{key}_gif", on_click="ignore",
        )

    section()


# --------------------------------------------------------------------------------------------------
# The Train page: the probe before Start, the section for a run
# --------------------------------------------------------------------------------------------------
def probe_inputs(task: str, family: str, max_steps: int, max_time_s: float) -> tuple[str | None, int | None, str | None]:
    """The probe and the snapshot spacing a student sets before Start: ``(probe, snapshot_every, error)``.

    ``snapshot_every`` None = no snapshots (0 typed, or the LSTM, which has no attention); ``error`` a sentence
    for a probe the task cannot read (checked here for AddSub; the other tasks check it when the run starts).
    """
    if family == "lstm":
        st.caption(_("Attention snapshots: the LSTM has no attention, so there is nothing to record."))
        return None, None, None
    p1, p2 = st.columns([3, 1])
    separator = _(" (write the sentence, then ||| and its translation: the decoder reads the translation)") \
        if "|||" in default_probe(task) else ""
    probe = p1.text_input(
        _("Probe: the input whose attention is recorded while the model trains"), default_probe(task),
        key=f"train_probe_{task}", max_chars=400,
        help=_("Every few steps the model reads this input in evaluation mode and its attention weights are kept, "
               "so you can scrub through them after (or during) training.") + separator,
    ).strip()
    every = p2.number_input(
        _("snapshot every N steps (0 = off)"), 0, 100_000,
        default_snapshot_every(max_steps or None, max_time_s=max_time_s or None), 1,
        key=f"train_snapshot_every_{task}_{max_steps}_{max_time_s}",  # a new default when the limits change
    )
    error = None
    if task == "addsub" and every:
        from trainers.tasks import addsub

        try:
            addsub.parse_arithmetic(probe or default_probe(task))
        except ValueError as exc:
            error = str(exc)
            st.error(format_plain(_("The probe cannot be read: {error}"), error=localize(error)), icon=":material/error:")
    return probe or None, int(every) or None, error


def run_snapshots(record) -> AttentionSnapshots | None:
    """A Train-page run's snapshots: those its worker saved with its checkpoint, else None."""
    if record.checkpoint:
        try:
            return load_snapshots(record.checkpoint)
        except (FileNotFoundError, ValueError):
            return None
    return None


def train_snapshot_section(runs: list, active: bool) -> None:
    """The Train page's "Attention while it learned" section for a run the student picks (newest first)."""
    st.subheader(_("Attention while it learned"))
    with_probe = [r for r in runs if getattr(r.config, "snapshot_every", None)]
    if not with_probe:
        st.caption(_("Runs record their attention on the probe every few steps; start one with a snapshot spacing "
                     "above 0 to watch its heads change as the loss falls."))
        return
    by_label = {r.label: r for r in with_probe[::-1]}
    label = st.selectbox(_("Run"), list(by_label), key="train_snapshot_run") if len(by_label) > 1 else next(
        iter(by_label))
    record = by_label[label]
    note = record.last_snapshot.get("snapshot_note")  # the worker's reason for recording none
    if note:
        st.info(localize(note), icon=":material/block:")
        return
    if active and record.last_snapshot.get("status") in ("queued", "running"):
        # Drawing the section every few seconds took CPU from the run (on 2 cores, a 60 s AddSub run made
        # 41 steps instead of 189), so the snapshots show once the run has ended.
        st.info(_("This run records its attention on the probe every {n} steps; the snapshots show here when it "
                  "ends (or when you stop it).").format(n=record.config.snapshot_every), icon=":material/photo_camera:")
        return

    def curve() -> list[tuple[int, float]]:
        return [(s["step"], s["train_loss"]) for s in record.last_snapshot.get("steps", [])]

    show_snapshots(lambda: run_snapshots(record), key=f"train_snap_{record.run_id}", curve=curve,
                   file_stem=record.run_id)


def checkpoint_snapshots_expander(folder, key: str = "att_snapshots") -> None:
    """The Attention maps page: a saved run's ``attention_snapshots.npz``, scrubbed as on the Train page.

    Nothing is shown for a checkpoint without one; an unreadable file gets a sentence, not a traceback.
    """
    from pathlib import Path

    from trainers.checkpoint import CheckpointError, resolve_checkpoint
    from trainers.snapshots import SNAPSHOTS_FILE

    try:
        path = resolve_checkpoint(folder) / SNAPSHOTS_FILE
    except CheckpointError:
        return
    if not path.is_file():
        return
    try:
        snaps = _cached_snapshots(str(path), path.stat().st_mtime)
    except (OSError, ValueError) as exc:
        st.warning(format_plain(_("This checkpoint's attention snapshots cannot be read: {error}"), error=exc),
                   icon=":material/warning:")
        return
    with st.expander(_("How its attention formed while it trained ({n} snapshots)").format(n=len(snaps))):
        show_snapshots(lambda: snaps, key=key, file_stem=Path(folder).name)


@st.cache_resource(show_spinner=False, max_entries=8)
def _cached_snapshots(path: str, mtime: float) -> AttentionSnapshots:
    return load_snapshots(path)
