"""Multi-head attention: split into heads, attend per head, concatenate, W_O — and UDL 12.2's two heads.

Widgets only: ``ui.lessons.sentence_multihead`` runs ``transformer.attention.MultiHeadAttention``
step by step (``trace_multihead``); ``ui.lessons.list_of_heads_difference`` compares it with the course's
list-of-heads form; ``ui.lessons.udl_12_2_multihead`` runs the book's example through the same module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from transformer.attention import ListOfHeadsMultiHeadAttention
from ui.charts import dim_labels, show_heads, show_matrix
from ui.charts.heatmaps import HALF_COLUMN_WIDTH, MAIN_COLUMN_WIDTH
from ui.i18n import _
from ui.inputs import heads_slider, matrix_view, sentence_input
from ui.lessons import list_of_heads_difference, sentence_multihead, udl_12_2_multihead
from ui.links import int_in, link_to_this_view, one_of, shared_state, text_value
from ui.source import source_of
from ui.text import shape_text, unique_labels
from ui.weights_source import MAX_SHOWN_DIMS, model_heads, weights_source

K = "mha_"  # widget key prefix of this page


@st.cache_data(show_spinner=False, max_entries=64)
def _multihead(tokens: tuple[str, ...], d_model: int, n_heads: int, seed: int, mask: str):
    return sentence_multihead(list(tokens), d_model, n_heads, seed, mask).trace


@st.cache_data(show_spinner=False, max_entries=64)
def _list_of_heads(tokens: tuple[str, ...], d_model: int, n_heads: int, seed: int, mask: str) -> float:
    return list_of_heads_difference(sentence_multihead(list(tokens), d_model, n_heads, seed, mask))


@st.cache_data(show_spinner=False)
def _textbook():
    return udl_12_2_multihead()


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy()


st.title(_("Multi-head attention"))
st.markdown(
    _(
        "One attention head gives each token one weighted mix of the others. **Multi-head attention** runs H "
        "heads side by side. Every head reads the whole d_model-wide input X — X is not cut into slices — and "
        "projects it with its own W_Q, W_K, W_V (each d_model × d_k) to queries, keys and values of only "
        "d_k = d_model / H dimensions, so different heads can look for different things. Their outputs are "
        "concatenated back to d_model dimensions and mixed by W_O. Everything below is computed live by this "
        "project's `MultiHeadAttention`."
    )
)
st.latex(  # two lines: one runs past the main column at 1280 × 720
    r"\begin{gathered}\mathrm{MultiHead}(X) = \mathrm{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_H)\,W_O \\ "
    r"\mathrm{head}_h = \mathrm{softmax}\!\left(\frac{Q_h K_h^\top}{\sqrt{d_k}}\right) V_h, \qquad d_k = \frac{d_{\mathrm{model}}}{H}\end{gathered}"
)

with st.expander(_("Why several heads, and what they cost")):
    st.markdown(
        _("One head gives each token a single weighted average of the values: if a token needs two things at "
          "once (say its subject and the word before it), one softmax row has to split its weight between them "
          "and blurs both. H heads give each token H separate averages, each with its own queries and keys. "
          "They cost no more than one head of full width (Vaswani et al. 2017, §3.2.2): H heads of d_k = "
          "d_model / H together have the same W_Q, W_K, W_V, W_O sizes and about the same arithmetic as one "
          "head of d_model dimensions.")
    )
    st.markdown(
        _("Per block, the weights are 4·d_model² for attention (W_Q, W_K, W_V, W_O) plus 2·d_model·d_ff for "
          "the feed-forward layer, whatever H is. Biases and layer norms add 9·d_model + d_ff more in this "
          "project's encoder block (a decoder block's cross-attention adds 4·d_model² + 6·d_model).")
    )

# What a link to this view carries (?text=…&d_model=16&heads=4&mask=causal&seed=0), see ui.links.
PAGE = "multihead"
SHARED = {"text": (K + "text", text_value), "seed": (K + "seed", int_in(0, 10_000)),
          "d_model": (K + "d_model", int_in(1, 64)), "heads": (K + "n_heads", int_in(1, 8)),
          "mask": (K + "mask", one_of("none", "causal")),
          "weights": (K + "weights", one_of("random", "model"))}  # + model, layer: ui.weights_source
shared_state(PAGE, SHARED)

with st.container(border=True):
    source = weights_source(K, choose_head=False, page=PAGE)  # None: random weights; else a trained model's layer
    c_text, c_seed = st.columns([4, 1])
    tokens = sentence_input(K + "text", container=c_text)
    seed = int(c_seed.number_input(_("Seed"), 0, 10_000, 0, key=K + "seed", disabled=source is not None,
                                   help=_("Draws other random embeddings and weight matrices.")))
    c1, c2, c3, c4 = st.columns([1, 1, 1, 1.2])
    d_model = c1.slider(_("d_model"), 1, 64, 16, key=K + "d_model", disabled=source is not None)
    n_heads = heads_slider(K + "n_heads", d_model, container=c2, disabled=source is not None)
    mask_names = {"none": _("none"), "causal": _("causal")}
    mask = c3.segmented_control(_("Mask"), options=list(mask_names), format_func=mask_names.__getitem__,
                                default="none", required=True, key=K + "mask", disabled=source is not None)
    table = matrix_view(K + "view", container=c4)
    link_to_this_view(PAGE, SHARED, extra=source.link_params(with_head=False) if source else None)

model_w_o = model_difference = None
try:
    if source is None:
        tr = _multihead(tuple(tokens), d_model, n_heads, seed, mask)
    else:  # the sentence through the model's tokenizer, embedding, positions and layers 1 … l − 1
        tokens, tr, model_w_o, model_difference, cut = model_heads(
            source.path, source.stamp, st.session_state.get(K + "text") or " ".join(tokens), source.layer - 1)
        d_model, n_heads = tr.x.shape[-1], tr.q.shape[1]
        st.caption(_("Layer {layer} of the model: X is what its attention reads (the model's own tokens, embedding "
                     "and positions, through the layers before it and the layer norm).").format(layer=source.layer))
        if cut:
            st.info(_("The model's tokenizer made more than {n} tokens of the text: the steps show the first {n}.")
                    .format(n=len(tokens)), icon=":material/info:")
except ValueError as err:
    st.error(
        _("Cannot split d_model = {d} into {h} heads: {why}").format(d=d_model, h=n_heads, why=err),
        icon=":material/error:",
    )
    tr = None

if tr is not None:
    T = len(tokens)
    d_k = d_model // n_heads
    labels = unique_labels(tokens)
    heads = [_("head {h}").format(h=h + 1) for h in range(n_heads)]

    st.header(_("① Shapes, step by step"))
    B = 1
    st.markdown(
        _("With B = {B} sentence, T = {T} tokens, d_model = {d} and H = {H} heads, each head gets d_k = {d} / {H} "
          "= **{k}** dimensions.").format(B=B, T=T, d=d_model, H=n_heads, k=d_k)
    )
    st.latex(
        r"\underbrace{(B, T, d_{\mathrm{model}})}_{" + shape_text(tr.x.shape) + r"}"
        r"\xrightarrow{\;XW_Q,\ \text{split}\;}"
        r"\underbrace{(B, H, T, d_k)}_{" + shape_text(tr.q.shape) + r"}"
        r"\xrightarrow{\;\text{attend}\;}"
        r"\underbrace{(B, H, T, d_k)}_{" + shape_text(tr.head_outputs.shape) + r"}"
    )
    st.latex(  # the second half on its own line: in one the chain runs past the main column at 1280 × 720
        r"\xrightarrow{\;\text{concat}\;}"
        r"\underbrace{(B, T, d_{\mathrm{model}})}_{" + shape_text(tr.concat.shape) + r"}"
        r"\xrightarrow{\;W_O\;}"
        r"\underbrace{(B, T, d_{\mathrm{model}})}_{" + shape_text(tr.output.shape) + r"}"
    )
    st.dataframe(
        pd.DataFrame([{_("stage"): name, _("shape"): shape_text(shape)} for name, shape in tr.shapes]),
        hide_index=True,
        key=K + "shapes",
    )

    st.header(_("② One attention pattern per head"))
    st.markdown(
        _("Each head has its own queries and keys, so its own weights (rows sum to 1). The colour scale is fixed "
          "to [0, 1] so the heads compare. With random weights the patterns differ by chance; in a trained model "
          "heads specialise (choose a trained model under **Weights** to see its heads).")
    )
    show_heads(_np(tr.weights[0]), heads, labels, labels, title=_("Attention weights per head"), key=K + "weights",
               x_title=_("key (token)"), y_title=_("query (token)"))

    st.header(_("③ Each head's output, concatenated"))
    st.markdown(
        _("Head h outputs a (T, d_k) = ({T}, {k}) matrix. Concatenating the H heads side by side gives (T, H·d_k) = "
          "({T}, {d}) again: columns h1·d0 … belong to head 1, and so on.").format(T=T, k=d_k, d=d_model)
    )
    concat_cols = [f"h{h + 1}·d{j}" for h in range(n_heads) for j in range(d_k)]
    shown = slice(0, MAX_SHOWN_DIMS)  # a trained model's d_model can be 768: draw the first 64 columns
    if d_model > MAX_SHOWN_DIMS:
        st.info(_("d_model = {d}: the concatenation and W_O show their first {n} dimensions; the output uses all {d}.")
                .format(d=d_model, n=MAX_SHOWN_DIMS), icon=":material/info:")
    show_matrix(_np(tr.concat[0])[:, shown], labels, concat_cols[shown], title=_("Concat(head₁, …, head_H)"),
                key=K + "concat", table=table, x_title=_("head · dimension"), y_title=_("token"),
                max_width=MAIN_COLUMN_WIDTH, signed=True)

    st.header(_("④ Mixing the heads: W_O"))
    st.markdown(
        _("A last (d_model, d_model) projection lets every output dimension draw on every head.")
    )
    # Side by side up to 32 dimensions; one under the other beyond, where half the column would squeeze the cells
    # under 6 px (or, at 64, push the chart past the column's edge).
    narrow = len(concat_cols[shown]) <= 32
    c1, c2 = st.columns(2) if narrow else (st.container(), st.container())
    half = HALF_COLUMN_WIDTH if narrow else MAIN_COLUMN_WIDTH
    with c1:
        # nn.Linear stores W_Oᵀ: output = concat · weightᵀ, so weightᵀ is the W_O of the formula.
        w_o = _np(sentence_multihead(list(tokens), d_model, n_heads, seed, mask).module.w_o.weight.T
                  if model_w_o is None else model_w_o)[shown, shown]
        show_matrix(w_o, concat_cols[shown], dim_labels(d_model)[shown], title=_("W_O"), key=K + "w_o", table=table,
                    max_width=half, x_title=_("output dimension"), y_title=_("head · dimension"))
    with c2:
        show_matrix(_np(tr.output[0])[:, shown], labels, dim_labels(d_model)[shown], title=_("Output = Concat · W_O"),
                    key=K + "output", table=table, x_title=_("dimension"), y_title=_("token"),
                    max_width=half, signed=True)

    with st.expander(_("The course's form: a list of SelfAttention heads (EECS 498 A5, Fudan Lab3)")):
        st.markdown(
            _("Homework builds multi-head attention as an `nn.ModuleList` of H `SelfAttention(d_model, d_k, d_k)` "
              "heads whose outputs are concatenated and mixed by W_O. The `MultiHeadAttention` above stores the H "
              "heads' W_Q as one d_model × d_model matrix and splits its output instead. Copy head h's d_k rows of "
              "W_Q, W_K and W_V into the h-th `SelfAttention` and the two give the same output on this sentence.")
        )
        st.code(source_of(ListOfHeadsMultiHeadAttention), language="python")
        st.success(_("The fused and the list-of-heads outputs agree to within {w:.1e}.").format(
            w=_list_of_heads(tuple(tokens), d_model, n_heads, seed, mask) if model_difference is None
            else model_difference), icon=":material/check:")

# --------------------------------------------------------------------------------------------------
st.header(_("Textbook example: UDL 12.2, two heads"))
st.markdown(
    _("*Understanding Deep Learning* notebook 12.2 (ML HW10 colab, part 2): N = 6 inputs of D = 8 "
      "(`np.random.seed(3)`), H = 2 heads of 4 dimensions with their Ω and β (`np.random.seed(0)`), scaled by "
      "√4, then Ω_c. Here the book's per-head Ω_q1, Ω_q2 are stacked into our W_Q (head h owns rows h·d_k …), "
      "the β into its bias, Ω_c into W_O, and our `MultiHeadAttention` does the rest. The book keeps inputs in "
      "columns (8 × 6); we show one input per row (6 × 8): the same numbers, transposed.")
)
tb = _textbook()
names = [f"x{n}" for n in range(tb.expected.shape[0])]
show_heads(_np(tb.trace.weights[0]), [_("head 1"), _("head 2")], names, names,
           title=_("UDL 12.2: attention weights per head"), key=K + "tb_weights", x_title=_("key"),
           y_title=_("query"))
rows = []
for n in range(tb.expected.shape[0]):
    for d in range(tb.expected.shape[1]):
        rows.append({
            _("output"): f"x′{n}", _("component"): d, _("computed"): float(tb.trace.output[0, n, d]),
            _("expected (book)"): float(tb.expected[n, d]), _("difference"): float(tb.difference[n, d]),
        })
st.dataframe(
    pd.DataFrame(rows), hide_index=True, key=K + "tb_compare", height=300,
    column_config={
        _("computed"): st.column_config.NumberColumn(format="%.6f"),
        _("expected (book)"): st.column_config.NumberColumn(format="%.3f"),
        _("difference"): st.column_config.NumberColumn(format="%.1e"),
    },
)
with np.printoptions(precision=3, suppress=True, linewidth=120):
    st.code(
        _("Computed, in the book's layout (D × N), to compare with the notebook's “True values”:")
        + f"\n{_np(tb.trace.output[0]).T}",
        language="text",
    )
worst = float(tb.difference.abs().max())
if worst <= 0.5 * 10.0 ** (-tb.decimals):
    st.success(_("Every value matches the book's {d} printed decimals (largest difference {w:.1e}).").format(
        d=tb.decimals, w=worst), icon=":material/check:")
else:
    st.error(_("The computed values differ from the book by up to {w:.1e}.").format(w=worst))
