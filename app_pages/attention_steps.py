"""Attention, step by step: X → W_Q, W_K, W_V → Q, K, V → QKᵀ → ÷√d_k → mask → softmax → output.

Widgets only; every number comes from ``ui.lessons.sentence_attention`` (which calls
``transformer.trace.trace_self_attention``), ``ui.lessons.udl_12_1_attention`` and
``ui.lessons.compare_loop_versions``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import streamlit as st

from transformer import attention as core_attention
from ui.charts import (
    dim_labels,
    download_panel,
    hconcat_specs,
    line_chart_spec,
    show_matrices,
    show_matrix,
    with_named_data,
)
from ui.charts.heatmaps import MAX_CHART_WIDTH
from ui.checkpoints import inference_threads
from ui.i18n import _
from ui.inputs import matrix_view, sentence_input
from ui.lessons import (
    compare_loop_versions,
    even_spread_entropy,
    scaling_sweep,
    sentence_attention,
    udl_12_1_attention,
    weight_stats,
)
from ui.links import int_in, link_to_this_view, one_of, parse_bool, shared_state, show_chart, text_value
from ui.messages import localize
from ui.source import source_of
from ui.text import format_plain, unique_labels
from ui.weights_source import MAX_SHOWN_DIMS, model_attend, weights_source

K = "steps_"  # widget key prefix of this page
# What a link to this view carries (?text=…&d_model=8&d_k=4&mask=causal&seed=3&scale=0, or
# ?weights=model&model=shakespeare&layer=2&head=3), see ui.links.
PAGE = "attention_steps"
SHARED = {"text": (K + "text", text_value), "seed": (K + "seed", int_in(0, 10_000)),
          "d_model": (K + "d_model", int_in(2, 64)), "d_k": (K + "d_k", int_in(1, 64)),
          "mask": (K + "mask", one_of("none", "causal", "padding")), "scale": (K + "scale", parse_bool),
          "weights": (K + "weights", one_of("random", "model"))}  # + model, layer, head: ui.weights_source
SWEEP_D_KS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


@st.cache_data(show_spinner=False, max_entries=128)
def _attend(tokens: tuple[str, ...], d_model: int, d_k: int, seed: int, mask: str, n_pad: int, scale: bool,
            positional: str | None):
    return sentence_attention(list(tokens), d_model, d_k, seed, mask, n_pad, scale, positional)


@st.cache_data(show_spinner=False, max_entries=32)
def _sweep(T: int):
    return scaling_sweep(SWEEP_D_KS, T)


@st.cache_data(show_spinner=False, max_entries=32)
def _sweep_spec(T: int, metric: str, title: str, y_title: str, scaled_label: str, unscaled_label: str,
                d_k: int) -> dict:
    """The sweep over d_k for T keys, the current ``d_k`` marked by a dashed rule (cached per T and d_k)."""
    rows = [
        {"d_k": r.d_k, "value": getattr(r, metric), "softmax input": scaled_label if r.scaled else unscaled_label}
        for r in _sweep(T)
    ]
    return line_chart_spec(
        rows, "d_k", "value", "softmax input", title=title, x_title="d_k", y_title=y_title,
        log_x=True, width=250, height=200, rule_x=d_k, color_order=(scaled_label, unscaled_label),
    )


@st.cache_data(show_spinner=False, max_entries=64)
def _loops(*attend_args):
    tr = _attend(*attend_args).trace
    return compare_loop_versions(tr.q, tr.k, tr.v, tr.mask)


@st.cache_data(show_spinner=False)
def _textbook():
    return udl_12_1_attention()


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy()


# --------------------------------------------------------------------------------------------------
st.title(_("Attention, step by step"))
st.markdown(
    _(
        "Self-attention lets every token look at every other token and take a weighted mix of what it finds. "
        "Each token asks a question (its **query** q), advertises what it holds (its **key** k) and offers "
        "content (its **value** v). A query matches a key by their dot product; the softmax turns a row of "
        "matches into **weights** that sum to 1; a token's output is the weighted sum of the values. "
        "Every matrix below is computed live by this project's core on your input — on random (untrained) "
        "weights unless you choose a trained model under **Weights**; change the seed to draw other random ones."
    )
)
st.latex(
    r"\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}} + M\right) V,"
    r"\qquad Q = XW_Q,\; K = XW_K,\; V = XW_V"
)
st.caption(_("M is 0 where a query may attend to a key and −∞ where the mask forbids it. Eq. 1 of Vaswani et al. "
             "2017 has no M; the paper masks by setting the forbidden scores to −∞ in §3.2.3."))

mode = st.segmented_control(
    _("Example"),
    options=["sentence", "textbook"],
    format_func={"sentence": _("Your sentence"), "textbook": _("Textbook example (UDL 12.1)")}.__getitem__,
    default="sentence",
    required=True,
    key=K + "mode",
)


@st.fragment
def sentence_mode() -> None:
    """Your sentence, step by step. A fragment: moving one of its widgets reruns only this part of the page.

    Its tensors are a few hundred numbers: on one torch thread, as two OpenMP threads would spend a rerun
    waiting for each other on a busy machine (a 10 × 10 softmax: 3 µs on one thread, 5 ms on two).
    """
    with inference_threads():
        sentence_steps()


def sentence_steps() -> None:
    shared_state(PAGE, SHARED)
    controls = st.container(border=True)
    with controls:
        source = weights_source(K, page=PAGE)  # None: random weights; else a trained model's layer and head
        c_text, c_seed = st.columns([4, 1])
        tokens = sentence_input(K + "text", container=c_text)
        seed = int(c_seed.number_input(_("Seed"), min_value=0, max_value=10_000, value=0, step=1, key=K + "seed",
                                       help=_("Draws other random embeddings and weight matrices."),
                                       disabled=source is not None))
        c1, c2, c3, c4 = st.columns([1, 1, 1.3, 1])
        if source is None:
            d_model = c1.slider(_("d_model"), 2, 64, 8, key=K + "d_model", help=_("Width of each token vector in X."))
            d_k = c2.slider(_("d_k"), 1, 64, 4, key=K + "d_k",
                            help=_("Width of the queries and keys (and here, values)."))
            mask = c3.segmented_control(
                _("Mask"),
                options=["none", "causal", "padding"],
                format_func={"none": _("none"), "causal": _("causal"), "padding": _("padding")}.__getitem__,
                default="none",
                required=True,
                key=K + "mask",
                help=_("causal: a token may not look ahead; padding: nobody may look at [PAD] tokens."),
            )
        else:  # set by the model below
            d_model, d_k, mask = 8, 4, "none"
            c1.caption(_("d_model, d_k and the mask are the model's own (shown with the steps below)."))
        n_pad = 0
        if mask == "padding":
            n_pad = c4.slider(_("[PAD] tokens added"), 1, 4, 2, key=K + "n_pad")
        c5, c6, c7 = st.columns([1, 1, 1.3])
        scale = c5.toggle(_("Divide by √d_k"), value=True, key=K + "scale",
                          help=_("Turn off to see the softmax saturate as d_k grows."))
        positional = c6.toggle(_("Add positional encoding"), value=True, key=K + "positional",
                               help=_("Sinusoidal (Vaswani et al. §3.5). Without it, a repeated word gets identical rows."),
                               disabled=source is not None)
        table = matrix_view(K + "view", container=c7)
        link_to_this_view(PAGE, SHARED, extra=source.link_params() if source else None)

    args = (tuple(tokens), d_model, d_k, seed, mask, n_pad, scale, "sinusoidal" if positional else None)
    if source is None:
        res, other = _attend(*args), _attend(*args[:6], not scale, args[7])
    else:  # the sentence through the model's own tokenizer, embedding, positions and layers 1 … l − 1
        text = st.session_state.get(K + "text") or " ".join(tokens)
        try:
            (res, cut), (other, _cut) = (model_attend(source.path, source.stamp, text, source.layer - 1,
                                                      source.head - 1, s) for s in (scale, not scale))
        except ValueError as exc:
            st.error(format_plain(_("The model cannot read this text: {error}"), error=localize(str(exc))),
                     icon=":material/error:")  # the reason may quote the text: shown as text
            return
        if cut:
            st.info(_("The model's tokenizer made more than {n} tokens of the text: the steps show the first {n}.")
                    .format(n=len(res.tokens)), icon=":material/info:")
        d_model, d_k = res.trace.x.shape[-1], res.trace.q.shape[-1]
        mask, n_pad, positional = ("causal" if bool(res.trace.mask is not None) else "none"), 0, True
    tr = res.trace
    if d_model > MAX_SHOWN_DIMS:  # GPT-2: 768 columns would not fit the page; Q, K, V are computed from all of them
        st.info(_("d_model = {d}: X and W_Q, W_K, W_V show their first {n} dimensions; Q, K, V and everything after "
                  "them use all {d}.").format(d=d_model, n=MAX_SHOWN_DIMS), icon=":material/info:")
        shown = slice(0, MAX_SHOWN_DIMS)
        tr = dataclasses.replace(tr, x=tr.x[:, shown], w_q=tr.w_q[shown], w_k=tr.w_k[shown], w_v=tr.w_v[shown])
        d_model = MAX_SHOWN_DIMS
    T = len(res.tokens)
    labels = unique_labels(res.tokens)
    dims, kdims = dim_labels(d_model), dim_labels(d_k)
    tok_axis, q_axis, k_axis = _("token"), _("query (token)"), _("key (token)")
    opts = {"downloads": False, "named_data": True}  # one download panel in the controls instead of two buttons
    # per figure; the cells sent apart from the spec, so that a chart whose shape stays the same is updated in place
    figures = [
        (_("X (T × d_model)"), _np(tr.x), labels, dims, None),
        (_("W_Q"), _np(tr.w_q), dims, kdims, None), (_("W_K"), _np(tr.w_k), dims, kdims, None),
        (_("W_V"), _np(tr.w_v), dims, kdims, None),
        (_("Q"), _np(tr.q), labels, kdims, None), (_("K"), _np(tr.k), labels, kdims, None),
        (_("V"), _np(tr.v), labels, kdims, None),
        (_("Q Kᵀ"), _np(tr.scores), labels, labels, None),
        (_("Q Kᵀ / √d_k"), _np(tr.scaled_scores), labels, labels, None),
        (_("Scores after the mask"), _np(tr.masked_scores), labels, labels, None),
        (_("Attention weights"), _np(tr.weights), labels, labels, (0.0, 1.0)),
        (_("Output = A V"), _np(tr.output), labels, kdims, None),
    ]
    download_panel(figures, key=K + "dl", container=controls)

    # 1. X
    st.subheader(_("① X: the tokens as vectors"))
    if source is None:
        st.markdown(
            _("Each token's row of a random embedding table{pe}: **X** has shape (T, d_model) = ({T}, {d}).").format(
                pe=_(", plus its positional encoding") if positional else "", T=T, d=d_model
            )
        )
    else:
        through = _(", through layers 1 to {last}").format(last=source.layer - 1) if source.layer > 1 else ""
        st.markdown(_("**X** is exactly what layer {layer}'s attention reads: the model's own tokens, embedding and "
                      "positions{through}, then (in a pre-norm model) the layer norm. Shape (T, d_model) = ({T}, {d})."
                      ).format(layer=source.layer, through=through, T=T, d=res.trace.x.shape[-1]))
    show_matrix(_np(tr.x), labels, dims, title=_("X (T × d_model)"), key=K + "x", table=table, **opts,
                x_title=_("dimension"), y_title=tok_axis)

    # 2. Weights
    st.subheader(_("② W_Q, W_K, W_V: three projections"))
    if source is None:
        st.markdown(
            _("Three (d_model, d_k) = ({d}, {k}) matrices with random N(0, 1/d_model) entries — a trained model "
              "would have learnt them.").format(d=d_model, k=d_k)
        )
    else:
        st.markdown(_("Head {h}'s slice of layer {layer}'s learned projections, each (d_model, d_k) = ({d}, {k}); "
                      "Q, K and V below add the learned biases too.").format(
                          h=source.head, layer=source.layer, d=res.trace.x.shape[-1], k=d_k))
    show_matrices([(_np(w), dims, kdims, name) for name, w in ((_("W_Q"), tr.w_q), (_("W_K"), tr.w_k), (_("W_V"), tr.w_v))],
                  key=K + "w", table=table, x_title=_("dimension"), y_title="d_model", **opts)

    # 3. Q, K, V
    st.subheader(_("③ Q = X W_Q, K = X W_K, V = X W_V"))
    st.markdown(_("One query, key and value per token: each (T, d_k) = ({T}, {k}).").format(T=T, k=d_k))
    show_matrices([(_np(m), labels, kdims, name) for name, m in ((_("Q"), tr.q), (_("K"), tr.k), (_("V"), tr.v))],
                  key=K + "qkv", table=table, x_title=_("dimension"), y_title=tok_axis, **opts)

    # 4. Scores
    st.subheader(_("④ Scores: Q Kᵀ"))
    st.markdown(_("Entry (i, j) is the dot product of token i's query with token j's key: how well they match. "
                  "Shape (T, T) = ({T}, {T}).").format(T=T))
    show_matrix(_np(tr.scores), labels, labels, title=_("Q Kᵀ"), key=K + "scores", table=table, **opts,
                x_title=k_axis, y_title=q_axis)

    # 5. Scaling
    st.subheader(_("⑤ Scaling by √d_k"))
    st.latex(r"\frac{QK^\top}{\sqrt{d_k}} = \frac{QK^\top}{\sqrt{" + str(d_k) + "}}")
    st.markdown(
        _("A dot product of d_k random terms with mean 0 and variance 1 has variance d_k, so its standard "
          "deviation is √d_k (the paper's footnote 4): for wide heads the scores get large and the softmax puts "
          "almost all the weight on one key (its gradient then vanishes). Dividing by √d_k brings the variance "
          "back to 1 whatever d_k is.")
    )
    # Side by side for a short sentence; one under the other for a long one, whose heatmap needs the width.
    left, right = st.columns([1.2, 1]) if T <= 16 else (st.container(), st.container())
    with left:
        if scale:
            show_matrix(_np(tr.scaled_scores), labels, labels, title=_("Q Kᵀ / √d_k"), key=K + "scaled", **opts,
                        table=table, x_title=k_axis, y_title=q_axis, max_width=420 if T <= 16 else MAX_CHART_WIDTH)
        else:
            st.warning(_("Scaling is off: the softmax below gets Q Kᵀ itself."), icon=":material/warning:")
    with right:
        on, off = (res, other) if scale else (other, res)
        (max_on, ent_on), (max_off, ent_off) = weight_stats(on.trace.weights), weight_stats(off.trace.weights)
        even_entropy = float(even_spread_entropy(tr.mask, T, T).mean())
        st.markdown(
            _("**What scaling does on this sentence** (d_k = {k}; mean over the {T} rows of the weights)").format(
                k=d_k, T=T)
            + "\n\n"
            + "| | " + _("with ÷√d_k") + " | " + _("without") + " |\n|---|---:|---:|\n"
            + "| " + _("largest weight") + f" | {max_on:.3f} | {max_off:.3f} |\n"
            + "| " + _("entropy (nats)") + f" | {ent_on:.3f} | {ent_off:.3f} |\n"
        )
        st.caption(_("Entropy 0 means all the weight on one key; a row spread evenly over the n keys it may see "
                     "has entropy ln n: ln T without a mask, ln(i + 1) for row i under the causal mask, fewer keys "
                     "under the padding mask. Spread evenly, this page's rows would average {u:.3f} nats. The "
                     "charts below repeat this for random unit-variance queries and keys over T = {T} keys as d_k "
                     "grows (you are at d_k = {k}): without scaling, the softmax saturates.").format(
                         u=even_entropy, T=T, k=d_k))
    scaled_label, unscaled_label = _("Q Kᵀ / √d_k (scaled)"), _("Q Kᵀ (unscaled)")
    show_chart(
        with_named_data(hconcat_specs(
            _sweep_spec(T, "max_weight", _("Largest weight as d_k grows"), _("largest weight"), scaled_label,
                        unscaled_label, d_k),
            _sweep_spec(T, "entropy", _("Entropy as d_k grows"), _("entropy (nats)"), scaled_label,
                        unscaled_label, d_k),
            spacing=60,
        )),  # the rows (and the d_k rule) as data: a slider move updates the sweep in place
        width="content", key=K + "sweep",
    )

    # 6. Mask
    st.subheader(_("⑥ The mask"))
    explanation = {
        "none": _("No mask: every query may attend to every key (an encoder's self-attention)."),
        "causal": _("Causal mask: token i may attend to itself and earlier tokens (j ≤ i), never to later ones "
                    "(a decoder predicting the next word must not peek). Forbidden scores become −∞ (grey)."),
        "padding": _("Key padding mask: the {n} [PAD] tokens only fill a batch to equal length, so no query may "
                     "attend to them: their columns become −∞ (grey).").format(n=n_pad),
    }[mask]
    st.markdown(explanation)
    if mask != "none":
        show_matrix(_np(tr.masked_scores), labels, labels, title=_("Scores after the mask"), key=K + "masked", **opts,
                    table=table, x_title=k_axis, y_title=q_axis, subtitle=_("grey cells are −∞"))
    else:
        st.caption(_("Nothing is masked, so the softmax gets the scores above unchanged."))

    # 7. Softmax
    st.subheader(_("⑦ Softmax over each row"))
    st.latex(r"a_{ij} = \frac{e^{s_{ij}}}{\sum_{j'} e^{s_{ij'}}}, \qquad \sum_j a_{ij} = 1, \qquad e^{-\infty} = 0")
    show_matrix(_np(tr.weights), labels, labels, title=_("Attention weights"), key=K + "weights", domain=(0.0, 1.0), **opts,
                table=table, x_title=k_axis, y_title=q_axis, subtitle=_("colour scale fixed to [0, 1]; grey: masked"),
                annotate=T <= 12, masked=None if mask == "none" else ~np.isfinite(_np(tr.masked_scores)))
    sums = _np(tr.weights.sum(-1))
    st.caption(_("Every row sums to 1 (largest |error| {e:.1e}).").format(e=float(np.abs(sums - 1.0).max())))

    # 8. Output
    st.subheader(_("⑧ Output: weights · V"))
    st.markdown(_("Each token's output is the weighted mix of all the values: (T, T) · (T, d_v) = ({T}, {k}).").format(
        T=T, k=d_k))
    show_matrix(_np(tr.output), labels, kdims, title=_("Output = A V"), key=K + "output", table=table, **opts,
                x_title=_("dimension"), y_title=tok_axis, signed=True)

    with st.expander(_("The loop versions and the vectorised one (EECS 498 A5): the same numbers"), expanded=False):
        st.markdown(
            _("Homework writes attention first with two Python loops over queries and keys, then for a batch, then "
              "with no loop at all. These are the project's own implementations; below they run on this "
              "sentence's Q, K, V (always scaled by √d_k, with this page's mask) and give the same output.")
        )
        tabs = st.tabs([_("two loops, one sequence"), _("two loops, a batch"), _("vectorised")])
        tabs[0].code(source_of(core_attention.scaled_dot_product_two_loop_single), language="python")
        tabs[1].code(source_of(core_attention.scaled_dot_product_two_loop_batch), language="python")
        tabs[2].code(source_of(core_attention.scaled_dot_product_no_loop_batch,
                               core_attention.scaled_dot_product_attention), language="python")
        cmp = _loops(*args) if source is None else compare_loop_versions(tr.q, tr.k, tr.v, tr.mask)
        # A Markdown table, not st.dataframe: three rows need no data grid, whose redraw cost the browser
        # about 35 ms of every d_k slider move (benchmarks/app_latency.py).
        header = [h.replace("|", r"\|") for h in (_("implementation"), _("output shape"),
                                                   _("max |difference| from vectorised"))]
        st.markdown("| " + " | ".join(header) + " |\n|---|---|---:|\n" + "\n".join(
            f"| `{name}` | {tuple(out.shape)} | {cmp.max_abs_diff[name]:.2e} |" for name, out in cmp.outputs.items()))
        worst = max(cmp.max_abs_diff.values())
        if worst <= 1e-6:
            st.success(_("All three agree to within {w:.1e} (≤ 1e-6).").format(w=worst), icon=":material/check:")
        else:
            st.error(_("The implementations differ by {w:.1e}.").format(w=worst))


def textbook_mode() -> None:
    tb = _textbook()
    tr = tb.trace
    st.markdown(
        _("The worked example of *Understanding Deep Learning* notebook 12.1 (the ML HW10 colab, part 1): N = 3 "
          "inputs of D = 4 numbers (`np.random.seed(3)`), weights Ω and biases β drawn with `np.random.seed(0)`, "
          "and **no** √D scaling: the matrix form of the book's eqs. 12.6–12.8. Scaled attention, “as in "
          "equation 12.9”, is notebook 12.1's own last exercise. Computed here by this project's "
          "`trace_attention`.")
    )
    st.info(
        _("**Columns in the book, rows here.** The book stores each input as a *column*: X is D × N = 4 × 3, "
          "Q = β_q 1ᵀ + Ω_q X, and the softmax normalises each *column* of Kᵀ Q. This page, PyTorch and "
          "most code store each token as a *row*: X is N × D = 3 × 4, Q = X Ω_qᵀ + β_qᵀ, and the softmax "
          "normalises each *row* of Q Kᵀ. Same numbers, transposed: our output row n is the book's x′ₙ."),
        icon=":material/swap_horiz:",
    )
    st.latex(r"\text{book: } \mathbf{X}' = \mathbf{V}\,\mathrm{Softmax}[\mathbf{K}^\top\mathbf{Q}]"
             r"\qquad\Longleftrightarrow\qquad \text{here: } X' = \mathrm{softmax}(QK^\top)\,V")
    table = matrix_view(K + "tb_view")
    names = ["x₀", "x₁", "x₂"]
    dims = dim_labels(4)
    show_matrix(_np(tb.x), names, dims, title=_("X (N × D), one input per row"), key=K + "tb_x", table=table,
                x_title=_("dimension"), y_title=_("input"))
    show_matrices([(_np(m), names, dims, name) for name, m in ((_("Q"), tr.q), (_("K"), tr.k), (_("V"), tr.v))],
                  key=K + "tb_qkv", table=table, x_title=_("dimension"), y_title=_("input"))
    with st.expander(_("The book's parameters Ω and β")):
        show_matrices([(tb.params[n], dims, dims, n.replace("omega_", "Ω_")) for n in ("omega_q", "omega_k", "omega_v")],
                      key=K + "tb_omega", table=table)
        betas = np.hstack([tb.params[b] for b in ("beta_q", "beta_k", "beta_v")])
        st.dataframe(pd.DataFrame(betas, index=dims, columns=["β_q", "β_k", "β_v"]), key=K + "tb_betas")
    c1, c2 = st.columns(2)
    with c1:
        show_matrix(_np(tr.scores), names, names, title=_("Q Kᵀ (unscaled)"), key=K + "tb_scores", table=table,
                    x_title=_("key"), y_title=_("query"))
    with c2:
        show_matrix(_np(tr.weights), names, names, title=_("Attention weights (rows sum to 1)"), key=K + "tb_weights",
                    domain=(0.0, 1.0), table=table, x_title=_("key"), y_title=_("query"))
    st.subheader(_("Computed vs the book"))
    rows = []
    for n in range(tb.expected.shape[0]):
        for d in range(tb.expected.shape[1]):
            rows.append({
                _("output"): f"x′{n}", _("component"): d,
                _("computed"): float(tr.output[n, d]), _("expected (book)"): float(tb.expected[n, d]),
                _("difference"): float(tb.difference[n, d]),
            })
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        key=K + "tb_compare",
        column_config={
            _("computed"): st.column_config.NumberColumn(format="%.8f"),
            _("expected (book)"): st.column_config.NumberColumn(format="%.8f"),
            _("difference"): st.column_config.NumberColumn(format="%.1e"),
        },
    )
    with np.printoptions(precision=8, suppress=True):
        lines = []
        for n in range(3):
            lines.append(f"x_prime_{n}_calculated: {_np(tr.output[n])[None]}")
            lines.append(f"x_prime_{n}_true:       {_np(tb.expected[n])[None]}")
    st.code("\n".join(lines), language="text")
    worst = float(tb.difference.abs().max())
    if worst < 10.0 ** (-tb.decimals):
        st.success(_("Every value matches the book to its {d} printed decimals (largest difference {w:.1e}).").format(
            d=tb.decimals, w=worst), icon=":material/check:")
    else:
        st.error(_("The computed values differ from the book by up to {w:.1e}.").format(w=worst))


if mode == "textbook":
    textbook_mode()
else:
    sentence_mode()
