"""Cost of attention: time and the memory of the T×T weights against sequence length, measured live.

Widgets only: ``transformer.cost.measure_attention_cost`` times the paths; ``ui.lessons``
fits the log-log slope (``summarize_cost``) and draws the T² guide (``power_law_reference``).
The measurement runs only when the button is pressed, one length at a time with a progress bar, and
its results stay in the session, so the rest of the page stays responsive.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from transformer.cost import PATHS, attention_weights_bytes, measure_attention_cost
from ui.charts import line_chart_spec
from ui.i18n import N_, _
from ui.lessons import SEED_004_MS, power_law_reference, summarize_cost
from ui.links import show_chart

K = "cost_"  # widget key prefix of this page
LENGTH_CHOICES = [16, 32, 64, 128, 256, 512, 768, 1024]  # capped at 1024 so a run takes seconds, not minutes
PATH_NAMES = {
    "ours_weights": N_("ours, explicit softmax(QKᵀ/√d_k)V"),
    "torch_sdpa": N_("PyTorch fused F.scaled_dot_product_attention"),
    "ours_fast": N_("ours, fast path (fused inside)"),
    "torch_mha": N_("torch.nn.MultiheadAttention"),
}

st.title(_("Cost of attention"))
st.markdown(
    _(
        "Every token attends to every token, so one attention layer computes a T × T matrix of scores for each "
        "head: doubling the sequence length T makes four times as many scores. The scores and the weighted sum of "
        "the values therefore take time like T²·d_model, while the Q, K, V and output projections take time like "
        "T·d_model², only linear in T: once T is well above d_model the T² part dominates — the reason long "
        "contexts are expensive. Memory grows like T² only on the explicit path, which stores the T × T weights; "
        "a fused kernel never stores them, and its memory grows more slowly. The HW12 report (a deep-learning course's transformer homework, built on EECS 498 A5) measured the time in class: "
        "63.1 ms at T = 256 and 254 ms at T = 512, **4.0× the time for 2× the length**. Measure it yourself on "
        "this machine below."
    )
)
# One formula a line: side by side they run past the main column of a 1280 × 720 projector.
st.latex(r"\text{time per layer} = O(T^2\, d_{\mathrm{model}} + T\, d_{\mathrm{model}}^2), \qquad "
         r"\text{weights memory} = B \cdot H \cdot T^2 \cdot 4\ \text{bytes}")
st.latex(r"\Rightarrow\qquad \log \text{time} \approx 2 \log T + c \quad (T \gg d_{\mathrm{model}})")

with st.container(border=True):
    # One row each: side by side, the chips of the implementations' long names were cut off at 1280 × 720.
    lengths = st.multiselect(_("Sequence lengths T"), LENGTH_CHOICES, default=[128, 256, 512, 1024], key=K + "lengths",
                             help=_("Capped at 1024 so a measurement takes seconds."))
    paths = st.multiselect(_("Implementations"), list(PATHS), default=["ours_weights", "torch_sdpa"],
                           format_func=lambda p: _(PATH_NAMES[p]), key=K + "paths")
    c3, c4, c5, c6 = st.columns(4)
    batch = c3.slider(_("batch B"), 1, 8, 4, key=K + "batch")
    d_model = c4.select_slider(_("d_model"), [32, 64, 128], value=64, key=K + "d_model")
    n_heads = c5.select_slider(_("heads H"), [1, 2, 4, 8], value=4, key=K + "n_heads")
    repeats = c6.slider(_("repeats (fastest kept)"), 1, 9, 5, key=K + "repeats",
                        help=_("Each length is timed this many times and the minimum is kept: slower runs measure "
                               "other programs on the machine."))
    measure = st.button(_("Measure on this machine"), type="primary", icon=":material/timer:", key=K + "measure")

if measure:
    if len(lengths) < 2 or not paths:
        st.warning(_("Pick at least two lengths and one implementation to fit a slope."), icon=":material/warning:")
    else:
        rows = []
        progress = st.progress(0.0, text=_("Measuring…"))
        for i, T in enumerate(sorted(lengths)):
            progress.progress(i / len(lengths), text=_("Measuring T = {T}…").format(T=T))
            rows += measure_attention_cost([T], paths, d_model=d_model, n_heads=n_heads, batch=batch, repeats=repeats)
        progress.empty()
        st.session_state[K + "result"] = {"rows": rows, "batch": batch, "d_model": d_model, "n_heads": n_heads}

result = st.session_state.get(K + "result")
if result is None:
    st.info(_("Press “Measure on this machine” to time attention at each length (a few seconds)."),
            icon=":material/timer:")
else:
    rows = result["rows"]
    st.caption(_("Measured with B = {B}, d_model = {d}, H = {H}: the minimum (fastest) of the repeats, each timed "
                 "by torch.utils.benchmark.Timer after two warm-up calls.").format(
        B=result["batch"], d=result["d_model"], H=result["n_heads"]))
    measured_lengths = sorted({r.T for r in rows})
    times = pd.DataFrame([{"T": r.T, "ms": r.seconds * 1000, "path": _(PATH_NAMES[r.path])} for r in rows])
    explicit = [r for r in rows if r.path == "ours_weights"] or [r for r in rows if r.path == rows[0].path]
    anchor = explicit[-1]
    guide = power_law_reference(measured_lengths, anchor.T, anchor.seconds * 1000)
    times = pd.concat([times, pd.DataFrame({"T": measured_lengths, "ms": guide, "path": _("T² guide (slope 2)")})])
    c1, c2 = st.columns(2)
    show_chart(
        line_chart_spec(times, "T", "ms", "path", title=_("Time of one forward pass (log-log)"),
                        x_title=_("sequence length T"), y_title=_("milliseconds"), log_x=True, log_y=True,
                        width=300, height=300),
        container=c1, width="content", key=K + "time_chart",
    )
    memory = pd.DataFrame([
        {"T": T, "MB": attention_weights_bytes(T, result["n_heads"], result["batch"]) / 2**20,
         "what": _("attention weights (B, H, T, T), float32")}
        for T in measured_lengths
    ])
    show_chart(
        line_chart_spec(memory, "T", "MB", "what", title=_("Memory of the T×T weights (log-log)"),
                        x_title=_("sequence length T"), y_title="MB", log_x=True, log_y=True, width=300, height=300),
        container=c2, width="content", key=K + "memory_chart",
    )
    st.caption(_("The explicit path materialises these weights; the fused kernel works through them in blocks and "
                 "never stores the whole T × T matrix."))

    st.subheader(_("Fitted slopes"))
    long_from = measured_lengths[(len(measured_lengths) - 1) // 2] if len(measured_lengths) >= 4 else 1
    table = []
    for summary_all in summarize_cost(rows):
        upper = next((s for s in summarize_cost(rows, long_from) if s.path == summary_all.path), None)
        table.append({
            _("implementation"): _(PATH_NAMES[summary_all.path]),
            _("slope, all lengths"): summary_all.slope,
            _("× time for 2× length"): summary_all.doubling_factor,
            _("slope, T ≥ {T}").format(T=long_from): upper.slope if upper else None,
        })
    st.dataframe(pd.DataFrame(table), hide_index=True, key=K + "slopes",
                 column_config={c: st.column_config.NumberColumn(format="%.2f") for c in list(table[0])[1:]})
    seed_ratio = SEED_004_MS[512] / SEED_004_MS[256]
    st.markdown(
        _("A slope of **2** means time ∝ T²: doubling T multiplies the time by 2² = **4**. The HW12 report: "
          "{b:.0f} ms / {a:.1f} ms = **{r:.2f}×** for 2× length. A layer costs O(T²·d_model + T·d_model²): at "
          "small T the Q, K, V and output projections (linear in T) and Python's overhead dominate and flatten "
          "the curve, so the slope over the longest lengths is the honest one. A slope above 2 does not come from "
          "memory traffic as such — writing and reading a T × T tensor also grows as T². It comes from each "
          "element costing more once the B·H·T²·4 bytes of weights no longer fit in the processor's cache. On a "
          "busy machine the numbers wobble — measure again.").format(
            a=SEED_004_MS[256], b=SEED_004_MS[512], r=seed_ratio)
    )
    with st.expander(_("The measurements")):
        st.dataframe(
            pd.DataFrame([{_("implementation"): _(PATH_NAMES[r.path]), "T": r.T, _("ms"): r.seconds * 1000,
                           _("weights MB"): r.weights_bytes / 2**20} for r in rows]),
            hide_index=True, key=K + "raw",
        )
