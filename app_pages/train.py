"""Train: launch a short training run, watch its loss fall live, stop it, compare runs, save and open the model."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import streamlit as st

from trainers.config import LM_TASKS, TRANSLATION_TASKS
from trainers.estimate import estimate_training_memory
from trainers.presets import PRESETS
from trainers.trainer import default_run_id
from ui.charts import X_AXES, loss_curves_spec, with_named_data
from ui.i18n import _
from ui.jobs import ACTIVE_STATUSES, browser_id, job_manager
from ui.labels import family_label, status_name, task_names
from ui.limits import check_request, knob_range, out_of_range, read_limits, size_text
from ui.links import show_chart
from ui.messages import localize
from ui.page_state import cached_data_status, train_runs
from ui.runs import (
    RunRecord,
    build_train_config,
    config_table,
    data_message,
    display_path,
    eta_seconds,
    format_seconds,
    knob_defaults,
    loss_frame,
    runs_dir,
    sync_runs,
    task_metrics,
    tensorboard_command,
    throughput_drop,
    zip_checkpoint,
)
from ui.snapshots import probe_inputs, train_snapshot_section
from ui.text import format_plain, plain_text

TASK_ORDER = ("addsub", "shakespeare", "anna", "wikitext2", *TRANSLATION_TASKS)
PAGE_DIR = Path(__file__).resolve().parent  # the Generate and Attention-maps pages sit beside this one
POLL_SECONDS = 1.0

st.title(_("Train"))
st.caption(
    _("Train a small model on this computer and watch its loss fall. Pick a task and a size, change the "
      "settings your homework asks about, press Start; the curves update every second while the run trains in "
      "the background. Runs stay on the chart, so you can compare settings.")
)

try:
    limits = read_limits()
    slots = job_manager(limits)  # the server's job manager: its slots, and the runs in their worker processes
except ValueError as exc:  # a malformed TC_MAX_JOBS (or another limit): say so, and train nothing
    st.error(plain_text(localize(str(exc))), icon=":material/error:")  # in the session's language
    st.stop()
owner = browser_id()  # the runs belong to this browser (all its tabs), and survive a reload
runs: list[RunRecord] = train_runs()
if "train_task" not in st.session_state:
    # The form's first run in this session (a reload, a new tab, a return from another page): it opens on the task,
    # size and architecture of this browser's latest run, not on AddSub, so the next run starts from what the
    # student was training.
    sync_runs(runs, slots, owner)
    latest = runs[-1] if runs else None
    if latest is not None and latest.task in TASK_ORDER:
        st.session_state["train_task"] = latest.task
        if latest.preset in PRESETS[latest.task]:
            st.session_state[f"train_preset_{latest.task}"] = latest.preset
        if latest.task in LM_TASKS and latest.config.family in ("transformer", "lstm"):
            st.session_state["train_arch"] = latest.config.family

# ---------------------------------------------------------------------------------------------------------
# What to train
# ---------------------------------------------------------------------------------------------------------
names = task_names()
c1, c2 = st.columns([2, 3], gap="large")
task = c1.selectbox(_("Task"), TASK_ORDER, format_func=names.get, key="train_task")
presets = list(PRESETS[task])
preset = c2.radio(
    _("Size"), presets, key=f"train_preset_{task}", horizontal=True,
    format_func=lambda p: f"{p} ({_(PRESETS[task][p].laptop_time)})",
)
c2.caption(_(PRESETS[task][preset].description))
family = "transformer"
if task in LM_TASKS:
    family = c1.radio(
        _("Architecture"), ["transformer", "lstm"], key="train_arch", horizontal=True, format_func=family_label,
        help=_("The LSTM is the baseline the transformer is compared with: the same task, data, width, depth and "
               "output layer, with recurrence instead of attention."),
    )
    if family == "lstm":
        c1.caption(
            _("An LSTM (torch.nn.LSTM): embedding → LSTM layers → an output layer that shares the embedding's "
              "weights. It has no heads, feed-forward layer or positional encoding; d_model is both its "
              "embedding and hidden size.")
        )
# Is the task's data here, downloadable, or waiting for a folder? Said before Start, never discovered after.
data_dir = None
if task != "addsub":
    with st.expander(_("Data folder (optional)"), expanded=bool(st.session_state.get(f"train_data_dir_{task}"))):
        data_dir = st.text_input(
            _("A folder that holds this task's files"), key=f"train_data_dir_{task}",
            placeholder=_("e.g. ~/Downloads/wikitext-2"),
            help=_("Leave empty to use the course data folder (../shared/data, or TC_SHARED_DATA), the copy that "
                   "ships with the app, or a download from the Hugging Face Hub when online."),
        ).strip() or None
data_state, data_text = data_message(cached_data_status(task, data_dir))
{"ready": st.success, "download": st.info, "folder": st.warning}[data_state](
    data_text,
    icon={"ready": ":material/check_circle:", "download": ":material/download:",
          "folder": ":material/folder_off:"}[data_state],
)

defaults = knob_defaults(task, preset)


def bounds(name: str) -> str:
    """The knob's range on this server, for its help text (the widget itself takes any number, so that a value
    out of range is refused with a message instead of being reset without a word)."""
    low, high = knob_range(name, limits)
    return _("On this server: {low:,g} to {high:,g}.").format(low=low, high=high)


def key(name: str) -> str:
    """Widget key per task and preset, so that choosing another preset shows its own values."""
    return f"train_{name}_{task}_{preset}"


with st.expander(_("Model and training settings (the homework knobs)"), expanded=True):
    m1, m2, m3, m4 = st.columns(4)
    lstm = family == "lstm"
    d_model = m1.number_input(
        _("d_model (embedding = hidden size)") if lstm else _("d_model"), value=defaults["d_model"], step=8,
        key=key("d_model"),
        help=(_("Width of the embeddings and of the LSTM's hidden state (they must be equal to tie the output layer "
                "to the embedding).") if lstm else _("Width of every token vector. Must be divisible by n_heads."))
        + " " + bounds("d_model"),
    )
    n_heads, d_ff = defaults["n_heads"], defaults["d_ff"]
    if not lstm:
        heads_options = sorted({1, 2, 4, 8, 16, defaults["n_heads"]})
        n_heads = m2.selectbox(
            _("n_heads"), heads_options, index=heads_options.index(defaults["n_heads"]), key=key("n_heads"),
            help=_("Attention heads per layer; each head works in d_k = d_model / n_heads dimensions."),
        )
    encoder_layers = PRESETS[task][preset].config.model.n_encoder_layers
    if lstm:
        layers_label = _("LSTM layers")
    elif encoder_layers is not None:  # e.g. the shipped translation model: 3 encoder, 2 decoder layers
        layers_label = _("decoder layers (the encoder keeps {n})").format(n=encoder_layers)
    elif task == "addsub" or task in TRANSLATION_TASKS:  # a short label: a quarter of the row at 1280 × 720
        layers_label = _("layers per stack")
    else:
        layers_label = _("layers")
    layers_help = bounds("n_layers")
    if encoder_layers is None and not lstm and (task == "addsub" or task in TRANSLATION_TASKS):
        layers_help = _("N in Vaswani et al. §3.1: the encoder and the decoder are each a stack of this many "
                        "layers.") + " " + layers_help
    n_layers = (m2 if lstm else m3).number_input(layers_label, value=defaults["n_layers"], step=1, key=key("n_layers"),
                                                 help=layers_help)
    if not lstm:
        d_ff = m4.number_input(
            _("d_ff"), value=defaults["d_ff"], step=8, key=key("d_ff"),
            help=_("Hidden width of the feed-forward layer.") + " " + bounds("d_ff"),
        )
    o1, o2, o3, o4 = st.columns(4)
    lr = o1.number_input(
        _("learning rate"), value=float(defaults["lr"]), step=1e-4, format="%.4f", key=key("lr"),
        help=_("Peak learning rate of AdamW, reached at the end of the warmup.") + " " + bounds("lr"),
    )
    warmup = o2.number_input(
        _("warmup steps"), value=defaults["warmup_steps"], step=10, key=key("warmup"),
        help=_("The learning rate rises linearly from 0 over this many steps, then decays (cosine).") + " "
        + bounds("warmup_steps"),
    )
    batch_size = o3.number_input(_("batch size"), value=defaults["batch_size"], step=8, key=key("batch"),
                                 help=bounds("batch_size"))
    dropout = o4.slider(_("dropout"), 0.0, 0.5, float(defaults["dropout"]), 0.05, key=key("dropout"))
    p1, p2, p3, p4 = st.columns(4)
    label_smoothing = p1.slider(
        _("label smoothing"), 0.0, 0.5, float(defaults["label_smoothing"]), 0.05, key=key("smoothing"),
        help=_("Mix ε of a uniform distribution into the target: (1 − ε) · one-hot + ε / V, as PyTorch's "
               "label_smoothing does, so each wrong token gets ε / V and all of them together ε (V − 1) / V (the "
               "paper used ε = 0.1)."),
    )
    positional_options = ["sinusoidal", "simple", "learned"]
    positional, norm_first, causal = defaults["positional"], defaults["norm_first"], True
    if not lstm:
        positional = p2.selectbox(
            _("positional encoding"), positional_options, index=positional_options.index(defaults["positional"]),
            key=key("positional"),
            format_func=lambda p: {"sinusoidal": _("sinusoidal (the paper)"), "simple": _("simple n/K, K = max_len (the course)"),
                                   "learned": _("learned")}[p],
        )
        norm_first = p3.radio(
            _("norm placement"), [True, False], index=0 if defaults["norm_first"] else 1, key=key("norm"),
            format_func=lambda v: _("pre-norm") if v else _("post-norm (the paper)"), horizontal=True,
        )
    if task in LM_TASKS and not lstm:
        causal = p4.toggle(
            _("causal mask"), value=True, key=key("causal"),
            help=_("Each position may attend to itself and earlier positions (j ≤ i), never to later ones. Off = the "
                   "model can see the next token."),
        )
    l1, l2, l3 = st.columns([1.25, 1.25, 1.5])  # the limits' labels on one line at 1280 × 720
    max_steps = l1.number_input(
        _("steps (0 = no step limit)"), value=defaults["max_steps"], step=10, key=key("steps"), help=bounds("max_steps"),
    )
    max_time_s = l2.number_input(
        _("time limit in seconds (0 = none)") if limits.max_run_s is None
        else _("time limit in seconds (0 = this server's longest, {n:,g} s)").format(n=limits.max_run_s),
        value=min(float(defaults["max_time_s"]), limits.max_run_s or float("inf")), step=5.0, key=key("time"),
        help=bounds("max_time_s"),
    )
    if task in LM_TASKS:
        l3.caption(
            _("Transformer against LSTM: both architectures share these two limits. Set steps to 0 and a time limit "
              "(e.g. 30 s), train one, switch the architecture, train the other: both get the same time budget, "
              "and their curves share the chart.")
        )
    if task == "addsub" or task in TRANSLATION_TASKS:
        st.caption(
            _("Teacher forcing: in training the decoder reads the true target shifted right, tgt[:, :-1] (<bos> "
              "y₁ … yₙ₋₁), and at every position at once predicts the next token, tgt[:, 1:] (y₁ … <eos>); the "
              "causal mask keeps each position from seeing its answer. Greedy and beam search cannot do that: they "
              "feed the model its own earlier outputs, which it never read in training, so one wrong token can "
              "derail the rest (exposure bias).")
        )
    if not causal:
        st.warning(
            _("Without the causal mask every position can look at the token it has to predict, so the model learns "
              "to copy it instead of predicting it. The validation loss falls with the training loss (validation "
              "text shows the model the future too), so neither curve exposes the cheat. Only sampling does: on the "
              "Generate page there is no next token to copy, and the text gets worse. The difference needs a few "
              "hundred steps (about 300 or more); at the tiny preset's 100 steps there is nothing to see yet. The "
              "“causal-demo” size gives both runs the same 400 steps, however busy the machine."),
            icon=":material/visibility:",
        )

probe, snapshot_every, probe_error = probe_inputs(task, family, max_steps, max_time_s)
knobs = {
    "d_model": d_model, "n_heads": n_heads, "n_layers": n_layers, "d_ff": d_ff, "dropout": dropout, "lr": lr,
    "warmup_steps": warmup, "batch_size": batch_size, "label_smoothing": label_smoothing,
    "positional": positional, "norm_first": norm_first, "causal": causal, "max_steps": max_steps,
    "max_time_s": max_time_s, "family": family,
}
KNOB_NAMES = {"d_model": "d_model", "n_layers": _("layers"), "d_ff": "d_ff", "batch_size": _("batch size"),
              "lr": _("learning rate"), "warmup_steps": _("warmup steps"), "max_steps": _("steps"),
              "max_time_s": _("time limit in seconds")}
out_of_bounds = out_of_range(knobs, limits)
for name, value, low, high in out_of_bounds:
    st.error(format_plain(_("{name} must be from {low} to {high} on this server; {value} was refused."),
                          name=KNOB_NAMES.get(name, name), low=f"{low:,g}", high=f"{high:,g}", value=f"{value:,g}"), icon=":material/block:")


def refresh() -> list[RunRecord]:
    """Copy what is new in this browser's runs (from the job manager); return the runs that just ended."""
    slots.seen(owner)
    return sync_runs(runs, slots, owner)


refresh()
active = [r for r in runs if r.last_snapshot.get("status") in ACTIVE_STATUSES]

def refusal_text(request, limits) -> str:
    """Why a request is refused, with what fits (see ui.limits.check_request)."""
    est = request.estimate
    if request.problem == "time":
        return _("The time limit of {asked:,g} s is longer than this server's longest run, {limit:,g} s.").format(
            asked=request.config.max_time_s, limit=limits.max_run_s)
    if request.problem == "weights":
        return _("This model needs about {need} of memory to train: its {params:,} parameters with their gradients "
                 "and AdamW state alone take {weights}, and this server allows {budget} per run. Make d_model, d_ff "
                 "or the number of layers smaller.").format(
            need=size_text(est.total_bytes), params=est.parameters, weights=size_text(est.weights_bytes * 1.1),
            budget=size_text(limits.job_memory_bytes))
    return _("This run needs about {need} of memory (the {params:,} parameters, their gradients and AdamW state, and "
             "the activations of a batch of {batch:,}); this server allows {budget} per run. At these sizes a batch "
             "of at most {largest:,} fits.").format(
        need=size_text(est.total_bytes), params=est.parameters, batch=request.config.batch_size,
        budget=size_text(limits.job_memory_bytes), largest=request.largest_batch)


b1, b2 = st.columns([1, 4], vertical_alignment="center")
start = b1.button(
    _("Start training"), type="primary", icon=":material/play_arrow:", key="train_start",
    disabled=len(active) >= limits.jobs_per_browser or data_state == "folder" or bool(out_of_bounds),
)
b2.caption(
    _("Training slots on this server: {used} of {cap} in use · each run uses {threads} CPU thread(s).").format(
        used=slots.in_use(), cap=slots.capacity, threads=slots.threads
    )
    + (" " + _("Your run is training; stop it or wait for it to finish before starting another.")
       if len(active) >= limits.jobs_per_browser else "")
    + (" " + _("Runs stop after {n:,g} s of training on this server.").format(n=limits.max_run_s)
       if limits.max_run_s is not None else "")
)
if not out_of_bounds:
    try:
        preview = estimate_training_memory(build_train_config(task, preset, knobs, "preview", data_dir=data_dir))
    except ValueError:
        preview = None  # Start says why
    if preview is not None:
        b2.caption(_("Estimated memory of this run: {need} ({params:,} parameters); this server allows {budget} per "
                     "run.").format(need=size_text(preview.total_bytes), params=preview.parameters,
                                    budget=size_text(limits.job_memory_bytes)))

if start:
    run_id = default_run_id(task)
    try:
        config = build_train_config(task, preset, knobs, run_id, data_dir=data_dir)
        if probe_error:
            raise ValueError(probe_error)
        config = replace(config, probe=probe, snapshot_every=snapshot_every)
        request = check_request(config, limits)  # estimated before anything is allocated
    except ValueError as exc:
        st.error(format_plain(_("These settings cannot be trained: {error}"), error=localize(str(exc))),
                 icon=":material/error:")
    else:
        if request.problem is not None:
            st.error(refusal_text(request, limits), icon=":material/memory:")
            st.stop()
        # The run trains in a worker process with its own threads and memory limit; this page only reads its log.
        result = slots.start(owner, request.config, memory_mb=limits.job_memory_mb, preset=preset)
        if result.run_id is not None:
            refresh()
            st.rerun()
        elif result.refused == "busy":
            st.warning(
                _("The server is busy: all {cap} training slots are in use by other sessions. Try again in a "
                  "minute.").format(cap=slots.capacity),
                icon=":material/hourglass_top:",
            )
        elif result.refused == "owner":
            st.warning(
                _("This browser is already training {n} run(s), the most it may run at once on this server (in "
                  "this tab or another one). Stop it or wait for it to finish.").format(n=limits.jobs_per_browser),
                icon=":material/hourglass_top:",
            )
        else:
            st.error(format_plain(_("The training worker could not be started: {error}"), error=localize(result.message)),
                     icon=":material/error:")

if not runs:
    st.info(_("No runs yet. Press Start training: the AddSub tiny preset takes a few seconds."), icon=":material/info:")
    st.stop()

# ---------------------------------------------------------------------------------------------------------
# Live: progress, metrics and loss curves, refreshed every second while a run trains
# ---------------------------------------------------------------------------------------------------------
labels = [r.label for r in runs]
shown = st.multiselect(_("Runs on the chart"), labels, default=labels, key=f"train_shown_{len(labels)}")


@st.fragment(run_every=POLL_SECONDS if active else None)
def live_panel() -> None:
    """Progress, metrics, Stop, and the overlaid loss curves; reruns the page once a run ends."""
    ended = refresh()
    current = runs[-1]
    snap = current.last_snapshot
    status = snap.get("status", "queued")
    st.subheader(_("Run {label}").format(label=current.label))
    status_text = status_name(status)
    message = localize(snap.get("message", ""))  # the trainers speak English; shown in the session's language
    if status == "failed":
        st.error(format_plain(_("Status: {status}. {message}"), status=status_text, message=message), icon=":material/error:")
    elif status == "stopped":
        st.warning(format_plain(_("Status: {status}. {message}"), status=status_text, message=message),
                   icon=":material/stop_circle:")
    elif status == "finished":
        st.success(format_plain(_("Status: {status}. {message}"), status=status_text, message=message),
                   icon=":material/check_circle:")
    else:
        st.info(format_plain(_("Status: {status}. {message}"), status=status_text, message=message),
                icon=":material/model_training:")
    progress = min(1.0, max(0.0, float(snap.get("progress", 0.0))))
    last_step = snap.get("last_step") or {}
    if status in ACTIVE_STATUSES:
        progress_text = _("{p:.0%} done · time left {eta}").format(p=progress, eta=format_seconds(eta_seconds(snap)))
    else:
        progress_text = _("{p:.0%} of the budget · {steps:,} steps in {time}").format(
            p=progress, steps=last_step.get("step", 0), time=format_seconds(last_step.get("elapsed_s")))
    st.progress(progress, text=progress_text)
    last_eval = snap.get("last_eval") or {}
    metrics = task_metrics(snap) or [(_("metric"), "—")]
    columns = st.columns(4 + len(metrics))
    columns[0].metric(_("step"), f"{last_step.get('step', 0):,}")
    columns[1].metric(_("tokens/s"), f"{last_step.get('tokens_per_s', 0):,.0f}")
    smoothing = getattr(current.config, "label_smoothing", 0.0)
    columns[2].metric(
        _("training loss"), f"{last_step['train_loss']:.3f}" if last_step else "—",
        help=_("Smoothed cross-entropy (label smoothing ε = {e:g}); the validation loss is the plain "
               "cross-entropy.").format(e=smoothing) if smoothing > 0 else None,
    )
    columns[3].metric(_("validation loss"), f"{last_eval['val_loss']:.3f}" if last_eval else "—")
    for column, (name, value) in zip(columns[4:], metrics, strict=True):
        column.metric(name, value)
    if status in ACTIVE_STATUSES and st.button(_("Stop"), icon=":material/stop:", key="train_stop"):
        slots.stop(current.run_id, owner)  # the worker ends within one step and saves what it trained
        deadline = time.monotonic() + 5
        while not ended and time.monotonic() < deadline:
            time.sleep(0.2)
            ended = refresh()
    chosen = [r for r in runs if r.label in shown]
    frame = loss_frame({r.label: r.last_snapshot for r in chosen})
    x_axis = st.segmented_control(
        _("x-axis"), X_AXES, default="step", key="train_x_axis",
        format_func=lambda x: _("steps") if x == "step" else _("training time (s)"),
        help=_("Training time puts runs with the same time budget side by side: an LSTM takes more, cheaper steps "
               "than a transformer in the same seconds."),
    ) or "step"
    # The rows go apart from the spec: while the runs and the axis stay the same, the spec does too, and the
    # browser swaps the new rows into the chart on screen each second instead of building a new one.
    show_chart(
        with_named_data(loss_curves_spec(frame, title=_("Training and validation loss"), x=x_axis)),
        key="train_loss_chart", width="stretch",
    )
    smoothed = [r.label for r in chosen if getattr(r.config, "label_smoothing", 0.0) > 0]
    if smoothed:
        st.caption(
            _("With label smoothing ({runs}) the two curves measure different things: the training curve is the "
              "smoothed cross-entropy the optimiser minimises, higher than the plain cross-entropy of the same "
              "predictions once the model beats a uniform guess; the validation curve is the plain cross-entropy "
              "(negative log-likelihood) of the right tokens. So validation can sit below training without "
              "anything being wrong.").format(runs=", ".join(smoothed))
        )
    st.dataframe(
        config_table(chosen), hide_index=True, key="train_config_table", width="stretch",
        column_config={_("metric"): st.column_config.TextColumn(width="medium")},
    )
    slowdown = throughput_drop(snap)
    # Below the chart and table, so that the note coming and going never moves (and redraws) the chart.
    if slowdown is not None:  # say why the number fell, so nobody reads it as the model getting slower
        why = (_("{n} training runs share this server's CPU cores now.").format(n=slots.in_use())
               if slots.in_use() > 1 and status in ACTIVE_STATUSES else
               _("other work on this machine (another session's run or another program) took CPU time from it."))
        st.caption(_("Tokens/s fell from {peak:,.0f} to {now:,.0f} (measured over the last 20 steps): {why} The loss "
                     "per step is not affected.").format(peak=slowdown[0], now=slowdown[1], why=why))
    if ended:
        st.rerun()


live_panel()
train_snapshot_section(runs, bool(active))

# ---------------------------------------------------------------------------------------------------------
# After a run: save, download, open elsewhere; TensorBoard
# ---------------------------------------------------------------------------------------------------------
st.subheader(_("Keep a model"))
done = [r for r in runs if r.last_snapshot.get("status") not in ACTIVE_STATUSES]
usable = [r for r in done if r.checkpoint]
if not usable:
    st.caption(_("When a run has finished (or been stopped), its model can be downloaded and opened here."))
else:
    by_label = {r.label: r for r in usable}
    # Newest first, and a new key whenever another run becomes usable: the run that just finished is the one
    # preselected, so nobody saves the previous run by mistake.
    label = st.selectbox(_("Run"), list(by_label)[::-1], key=f"train_keep_run_{len(by_label)}")
    record = by_label[label]
    a1, a2, a3 = st.columns(3)
    a1.download_button(
        _("Download (weights + config + tokenizer)"), data=lambda: zip_checkpoint(record.checkpoint),
        file_name=f"{record.run_id}.zip", mime="application/zip", icon=":material/download:",
        key="train_download", on_click="ignore",
    )
    if record.task in LM_TASKS and a2.button(_("Open in Generate"), icon=":material/auto_awesome:",
                                             key="train_open_generate"):
        st.session_state["open_in_generate"] = record.checkpoint
        st.switch_page(PAGE_DIR / "generate.py")
    if record.task in TRANSLATION_TASKS and a2.button(_("Open in Translate"), icon=":material/translate:",
                                                      key="train_open_translate"):
        st.session_state["open_in_translate"] = record.checkpoint
        st.switch_page(PAGE_DIR / "translate.py")
    if record.config.family != "lstm" and a3.button(
        _("Open in Attention maps"), icon=":material/grid_view:", key="train_open_attention"
    ):
        st.session_state["open_in_attention"] = record.checkpoint
        st.switch_page(PAGE_DIR / "attention_maps.py")
    st.caption(_("Saved in {path}").format(path=display_path(Path(record.checkpoint))))

with st.expander(_("TensorBoard logs")):
    st.markdown(_("Every run also logs to TensorBoard, in {folder}. Open them with:").format(folder=f"`{runs_dir()}`"))
    st.code(tensorboard_command(), language="bash")
