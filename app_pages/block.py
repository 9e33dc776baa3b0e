"""Inside a block: residual + layer norm (pre-norm vs post-norm), feed-forward, encoder and decoder blocks,
and the shape trace of a whole encoder-decoder (seed 000's ``model.py`` check, ending at (2, 5, 10)).

Widgets only: ``ui.lessons.sentence_blocks`` runs ``transformer.blocks.EncoderBlock`` and
``DecoderBlock`` stage by stage; ``ui.lessons.seq2seq_shape_trace`` runs
``transformer.models.Seq2SeqTransformer.trace_shapes``.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.charts import dim_labels, line_chart_spec, show_matrix
from ui.charts.heatmaps import MAIN_COLUMN_WIDTH
from ui.diagrams import block_dot
from ui.i18n import _
from ui.inputs import heads_slider, matrix_view, sentence_input
from ui.lessons import layer_norm_stats, norm_inputs, sentence_blocks, seq2seq_shape_trace, tensor_summary
from ui.links import int_in, link_to_this_view, one_of, shared_state, show_chart, text_value
from ui.messages import localize
from ui.text import format_plain, shape_text, unique_labels
from ui.weights_source import MAX_SHOWN_DIMS, model_block_stages, weights_source

K = "blk_"  # widget key prefix of this page


@st.cache_data(show_spinner=False, max_entries=32)
def _blocks(tokens: tuple[str, ...], d_model: int, n_heads: int, d_ff: int, norm_first: bool, seed: int):
    res = sentence_blocks(list(tokens), d_model, n_heads, d_ff, norm_first, seed)
    return res.encoder_stages, res.decoder_stages


@st.cache_data(show_spinner=False, max_entries=32)
def _shape_trace(d_model: int, n_heads: int, d_ff: int, norm_first: bool, seed: int):
    return seq2seq_shape_trace(d_model=d_model, n_heads=n_heads, d_ff=d_ff, norm_first=norm_first, seed=seed)


st.title(_("Inside a block"))
st.markdown(
    _(
        "A transformer block wraps each sub-layer — attention, then a small feed-forward network — in a "
        "**residual connection** (add the input back) and a **layer norm** (rescale each token's vector to mean "
        "0 and standard deviation 1). Where the norm goes is a real design choice: the paper normalises *after* "
        "adding (post-norm); the Generative AI class homework (its model.py) and GPT-2 normalise *before* the sub-layer (pre-norm), which "
        "trains more stably in deep stacks. Every shape and number below comes from this project's "
        "`EncoderBlock` and `DecoderBlock` on your sentence."
    )
)

# What a link to this view carries (?text=…&d_model=16&heads=4&d_ff=64&norm=post&seed=0), see ui.links.
PAGE = "block"
SHARED = {"text": (K + "text", text_value), "seed": (K + "seed", int_in(0, 10_000)),
          "d_model": (K + "d_model", int_in(1, 64)), "heads": (K + "n_heads", int_in(1, 8)),
          "d_ff": (K + "d_ff", int_in(1, 256)), "norm": (K + "norm", one_of("pre", "post"))}
shared_state(PAGE, SHARED)

with st.container(border=True):
    source = weights_source(K, choose_head=False)  # None: random weights; else a trained model's layer
    if source is not None:
        st.caption(_("The block view takes decoder-only language models (the course's and GPT-2): a translation "
                     "model's encoder and decoder blocks are on the Model view and Attention maps pages."))
    norm_names = {"pre": _("pre-norm"), "post": _("post-norm")}
    if source is None:
        c_text, c_seed = st.columns([4, 1])
        tokens = sentence_input(K + "text", container=c_text)
        seed = int(c_seed.number_input(_("Seed"), 0, 10_000, 0, key=K + "seed"))
        c1, c2, c3, c4 = st.columns([1, 1, 1, 1.3])
        d_model = c1.slider(_("d_model"), 1, 64, 16, key=K + "d_model")
        n_heads = heads_slider(K + "n_heads", d_model, container=c2)
        d_ff = c3.slider(_("d_ff"), 1, 256, 64, key=K + "d_ff", help=_("Hidden width of the feed-forward network."))
        norm = c4.segmented_control(_("Layer norm placement"), options=list(norm_names),
                                    format_func=norm_names.__getitem__, default="pre", required=True, key=K + "norm",
                                    help=_("pre-norm: the Generative AI class homework and GPT-2; post-norm: the "
                                           "original paper."))
    else:  # the model's own sizes replace the knobs; keep their values for the way back to random weights
        for key in (K + "seed", K + "d_model", K + "n_heads", K + "d_ff", K + "norm"):
            if key in st.session_state:
                st.session_state[key] = st.session_state[key]
        tokens = sentence_input(K + "text")
        seed, d_model, n_heads, d_ff, norm = 0, 16, 4, 64, "pre"  # replaced by the model's below
    table = matrix_view(K + "view")
    link_to_this_view(PAGE, SHARED)

model_stages = model_error = None  # a trained model's block, stage by stage
if source is not None:
    try:
        tokens, model_stages, cut, model_cfg = model_block_stages(
            source.path, source.stamp, st.session_state.get(K + "text") or " ".join(tokens), source.layer - 1)
    except ValueError as err:
        model_error = str(err)
        st.error(format_plain(_("The model cannot read this text: {why}"), why=localize(model_error)),
                 icon=":material/error:")
    else:
        d_model, n_heads, d_ff, norm = model_cfg.d_model, model_cfg.n_heads, model_cfg.d_ff, (
            "pre" if model_cfg.norm_first else "post")
        activation = {"relu": "ReLU", "gelu": "GELU", "gelu_tanh": _("GELU (tanh approximation)")}.get(
            model_cfg.activation, model_cfg.activation)
        st.caption(_("Layer {layer} of {n} of the model, on its own tokens: d_model = {d}, {h} heads, d_ff = {f}, "
                     "{norm}, {act} in the feed-forward network. Its input is the output of the layers before it."
                     ).format(layer=source.layer, n=model_cfg.n_layers, d=d_model, h=n_heads, f=d_ff,
                              norm=norm_names[norm], act=activation))
        if cut:
            st.info(_("The model's tokenizer made more than {n} tokens of the text: the steps show the first {n}.")
                    .format(n=len(tokens)), icon=":material/info:")
norm_first = norm == "pre"

st.header(_("① Residual connection and layer norm"))
f1, f2 = st.columns(2)
with f1:
    st.markdown(("**▶ " if norm_first else "") + _("Pre-norm") + ("**" if norm_first else "") + " — " + _("the Generative AI class homework"))
    st.latex(r"x + \mathrm{Dropout}\big(\mathrm{Sublayer}(\mathrm{LayerNorm}(x))\big)")
with f2:
    st.markdown(("**▶ " if not norm_first else "") + _("Post-norm") + ("**" if not norm_first else "") + " — "
                + _("Vaswani et al. 2017, §3.1 (dropout: §5.4)"))
    st.latex(r"\mathrm{LayerNorm}\big(x + \mathrm{Dropout}(\mathrm{Sublayer}(x))\big)")
st.latex(r"\mathrm{LayerNorm}(x) = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta, \qquad "
         r"\mu, \sigma^2 \text{ over the } d_{\mathrm{model}} \text{ features of one token}")
st.caption(_("Dropout is off here (evaluation mode), so the numbers are exactly reproducible."))
with st.expander(_("Why the residual stream and the layer norm")):
    st.markdown(
        _("**The residual stream.** Each sub-layer only adds a correction to x, so the identity path x → x + … "
          "runs from the embedding to the output unchanged. Its derivative is 1, so gradients reach the first "
          "layers even through a deep stack.\n\n"
          "**Pre-norm needs a final layer norm.** In pre-norm the sum x + Sublayer(LayerNorm(x)) itself is "
          "never normalised, and it grows as blocks add to it; so the stack ends with one more LayerNorm before "
          "the output layer (this project's models do that; post-norm already ends on one).\n\n"
          "**LayerNorm normalises one token.** μ and σ² are taken over the d_model features of a single token "
          "vector, so every token is normalised on its own, the same in training and at inference, whatever "
          "the batch. BatchNorm, in contrast, normalises each feature across the examples of a batch.")
    )

if source is not None:  # the model's block stands in for the encoder block below; there is no second block
    enc_stages, dec_stages, block_error = model_stages, None, model_error
else:
    try:
        enc_stages, dec_stages = _blocks(tuple(tokens), d_model, n_heads, d_ff, norm_first, seed)
    except ValueError as err:
        st.error(format_plain(_("These sizes do not make a block: {why}"), why=err), icon=":material/error:")
        enc_stages = dec_stages = None
        block_error = str(err)
    else:
        block_error = None

if enc_stages is not None:
    labels = unique_labels(tokens)
    name, before, after = norm_inputs(enc_stages)[0]
    mean_b, std_b = layer_norm_stats(before[0])
    mean_a, std_a = layer_norm_stats(after[0])
    if source is None:
        st.markdown(
            _("The encoder's first layer norm (“{name}”), token by token: before it, each token's features have their "
              "own mean and spread; after it, every token has mean 0 and standard deviation 1 (γ = 1, β = 0 at "
              "initialisation).").format(name=_(name))
        )
    else:
        st.markdown(
            _("Layer {layer}'s first layer norm (“{name}”), token by token: before it, each token's features have "
              "their own mean and spread; it scales every token to mean 0 and standard deviation 1, then multiplies "
              "by the learned γ and adds the learned β, so after it the statistics are the model's own choice."
              ).format(layer=source.layer, name=_(name))
        )
    stats = pd.DataFrame({
        _("token"): labels,
        _("mean before"): mean_b.numpy(), _("std before"): std_b.numpy(),
        _("mean after"): mean_a.numpy(), _("std after"): std_a.numpy(),
    })
    c1, c2 = st.columns([1, 1])
    with c1:
        st.dataframe(stats, hide_index=True, key=K + "ln_stats",
                     column_config={c: st.column_config.NumberColumn(format="%.4f") for c in stats.columns[1:]})
    with c2:
        long = pd.concat([
            pd.DataFrame({"position": range(len(labels)), "value": std_b.numpy(), "series": _("std before")}),
            pd.DataFrame({"position": range(len(labels)), "value": std_a.numpy(), "series": _("std after")}),
            pd.DataFrame({"position": range(len(labels)), "value": mean_b.numpy(), "series": _("mean before")}),
            pd.DataFrame({"position": range(len(labels)), "value": mean_a.numpy(), "series": _("mean after")}),
        ])
        show_chart(
            line_chart_spec(long, "position", "value", "series", title=_("Per-token mean and std"),
                            x_title=_("position"), y_title=_("value"), width=300, height=220),
            width="content", key=K + "ln_chart",
        )

    st.header(_("② The feed-forward network"))
    hidden = next(s for s in enc_stages if s.name.startswith("feed-forward hidden"))
    ffn_out = next(s for s in enc_stages if s.name == "feed-forward")
    ffn_in = enc_stages[hidden.inputs[0]]
    relu = source is None or model_cfg.activation == "relu"
    act_tex = r"\mathrm{ReLU}" if relu else r"\mathrm{GELU}"
    st.latex(r"\mathrm{FFN}(x) = \max(0,\; xW_1 + b_1)\,W_2 + b_2" if relu
             else r"\mathrm{FFN}(x) = \mathrm{GELU}(xW_1 + b_1)\,W_2 + b_2")
    st.latex(
        r"\underbrace{(B, T, d_{\mathrm{model}})}_{" + shape_text(ffn_in.shape) + r"} \xrightarrow{\;W_1,\ " + act_tex + r"\;}"
        r"\underbrace{(B, T, d_{\mathrm{ff}})}_{" + shape_text(hidden.shape) + r"} \xrightarrow{\;W_2\;}"
        r"\underbrace{(B, T, d_{\mathrm{model}})}_{" + shape_text(ffn_out.shape) + r"}"
    )
    zeros = tensor_summary(hidden.tensor)["zero_fraction"]
    if relu:
        st.markdown(
            _("Each token is processed on its own (no mixing between tokens here): widened to d_ff = {f}, passed through "
              "ReLU — **{z:.0%}** of the hidden values are exactly 0 — and projected back to d_model = {d}.").format(
                f=d_ff, z=zeros, d=d_model)
        )
    else:
        negative = float((hidden.tensor < 0).float().mean())
        st.markdown(
            _("Each token is processed on its own (no mixing between tokens here): widened to d_ff = {f}, passed "
              "through GELU — smooth where ReLU has a corner, and slightly negative (at least −0.17) instead of 0 for "
              "negative inputs: **{n:.0%}** of the hidden values are below 0 — and projected back to d_model = {d}."
              ).format(f=d_ff, n=negative, d=d_model)
        )
    shown = slice(0, MAX_SHOWN_DIMS)  # a trained model's d_ff and d_model can be 3072 and 768
    if d_ff > MAX_SHOWN_DIMS or d_model > MAX_SHOWN_DIMS:
        st.info(_("d_ff = {f}, d_model = {d}: the heatmaps show the first {n} hidden units and dimensions; the "
                  "statistics use them all.").format(f=d_ff, d=d_model, n=MAX_SHOWN_DIMS), icon=":material/info:")
    show_matrix(hidden.tensor[0].numpy()[:, shown], labels, dim_labels(d_ff)[shown],
                title=(_("Hidden activations after ReLU (T × d_ff)") if relu
                       else _("Hidden activations after GELU (T × d_ff)")),
                key=K + "hidden", table=table, x_title=_("hidden unit"), y_title=_("token"), max_width=MAIN_COLUMN_WIDTH,
                annotate=False)

    if source is None:
        st.header(_("③ Encoder and decoder blocks, with live shapes"))
        st.markdown(
            _("Boxes are the stages of one forward pass on your sentence (B = 1, T = {T}); solid arrows carry the data, "
              "dashed green arrows are the residual connections. The decoder reads your sentence again as its input "
              "under the causal mask, and the encoder's output (memory) through cross-attention.").format(T=len(tokens))
        )
        d1, d2 = st.columns(2)
        with d1:
            st.graphviz_chart(block_dot(enc_stages, _("Encoder block"), _, _("residual")))
        with d2:
            st.graphviz_chart(block_dot(dec_stages, _("Decoder block"), _, _("residual")))
        traced = ((_("encoder"), enc_stages), (_("decoder"), dec_stages))
    else:
        st.header(_("③ The model's block, with live shapes"))
        st.markdown(
            _("Boxes are the stages of layer {layer}'s forward pass on your sentence (B = 1, T = {T}); solid arrows "
              "carry the data, dashed green arrows are the residual connections. A decoder-only block has masked "
              "self-attention and no cross-attention: there is no encoder.").format(layer=source.layer, T=len(tokens))
        )
        d1, _d2 = st.columns(2)
        with d1:
            st.graphviz_chart(block_dot(enc_stages, _("Decoder block"), _, _("residual")))
        traced = ((_("layer {layer}").format(layer=source.layer), enc_stages),)
    with st.expander(_("Every stage's shape and statistics")):
        rows = []
        for block_name, stages in traced:
            for s in stages:
                summary = tensor_summary(s.tensor)
                rows.append({_("block"): block_name, _("stage"): _(s.name), _("shape"): shape_text(s.shape),
                             _("mean"): summary["mean"], _("std"): summary["std"], _("min"): summary["min"],
                             _("max"): summary["max"]})
        st.dataframe(pd.DataFrame(rows), hide_index=True, key=K + "stages")
    show_matrix(enc_stages[-1].tensor[0].numpy()[:, shown], labels, dim_labels(d_model)[shown],
                title=_("Encoder block output") if source is None else _("Block output"),
                key=K + "enc_out", table=table, x_title=_("dimension"), y_title=_("token"), max_width=MAIN_COLUMN_WIDTH)

st.header(_("④ A whole encoder-decoder: the shape trace"))
if source is not None:
    st.caption(_("This check builds a random encoder-decoder from the page's own d_model, heads, d_ff and norm placement: choose random weights to set them and run it."))
else:
    st.markdown(
        _("The Generative AI class homework's first check (python model.py): build the model with random weights, feed a batch of 2 source sequences and 2 "
          "target sequences of 5 tokens over a vocabulary of 10, and the output must have shape (2, 5, 10) — one score "
          "(logit) per vocabulary entry, for every position of every sequence. Two encoder and two decoder blocks, "
          "with this page's d_model, heads, d_ff and norm placement.")
    )
    try:
        trace = _shape_trace(d_model, n_heads, d_ff, norm_first, seed)
    except ValueError as err:
        if str(err) == block_error:  # the same problem as above: one message is enough
            st.caption(_("No shape trace: the sizes above do not make a block (see the message above)."))
        else:
            st.error(format_plain(_("These sizes do not make a model: {why}"), why=err), icon=":material/error:")
    else:
        st.code(
            "Initialized model with random weights.\n"
            + f"config: d_model={d_model}, n_heads={n_heads}, d_ff={d_ff}, layers=2+2, vocab=10, "
            + ("pre-norm" if norm_first else "post-norm") + "\n"
            + "\n".join(f"  {n:<40} {shape_text(s)}" for n, s in trace)
            + f"\n\nFinal output size: torch.Size([{', '.join(str(v) for v in trace[-1][1])}])",
            language="text",
        )
        if tuple(trace[-1][1]) == (2, 5, 10):
            st.success(_("Final output size (2, 5, 10), as in the Generative AI class homework."), icon=":material/check:")
