"""Attention maps: what a trained model's heads attend to, for each layer and head, on the user's own input."""

from __future__ import annotations

import html

import streamlit as st

from ui.attention_maps import (
    DEFAULT_EXPRESSION,
    DEFAULT_SENTENCE,
    DEFAULT_TEXTS,
    AttentionMaps,
    addsub_answer,
    attention_csv,
    attention_npz,
    causal_cells,
    lm_attention,
    translation_attention,
)
from ui.charts import show_head_maps
from ui.checkpoints import attention_model_picker
from ui.i18n import _
from ui.labels import kind_names
from ui.links import (
    checkpoint_name,
    int_in,
    link_to_this_view,
    one_of,
    shared_state,
    text_value,
)
from ui.messages import localize
from ui.page_state import show_notes
from ui.sampling import prepare_prompt
from ui.snapshots import checkpoint_snapshots_expander
from ui.text import plain_text
from ui.translation import language_names, prepare_source, translate


def kind_help(causal: bool, translation: bool = False) -> dict[str, str]:
    """One sentence per attention kind on how to read its heatmaps."""
    if translation:
        return {
            "encoder_self": _("Each token of your sentence (row) looks at every token of it (column)."),
            "decoder_self": _("Each token the decoder reads (row: <bos>, then the translation) looks at itself and "
                              "earlier tokens only: the causal mask hides the future."),
            "cross": _("Each token of the translation (row, at the step that wrote it) looks at the tokens of your "
                       "sentence (columns): the alignment between the two languages."),
        }
    return {
        "encoder_self": _("Each input token (row) looks at every input token (column)."),
        "decoder_self": _("Each token (row) looks at itself and earlier tokens only: the causal mask hides the "
                          "future, so the upper triangle is 0.") if causal else
        _("This model was trained without the causal mask: each token (row) may look at later tokens too, "
          "including the one it has to predict."),
        "cross": _("Each decoder input (row: BOS, then the answer's sign and digits so far; each row is the step "
                   "that predicts the next answer token) looks at the input expression (columns): this is where "
                   "the model reads the numbers it adds. Queries come from the decoder, keys and values from the "
                   "encoder's output."),
    }


def show_maps(maps: AttentionMaps, key: str, causal: bool = True, translation: bool = False) -> dict[str, str]:
    """One tab per attention kind; in each, a layer selector and one heatmap per head (PNG/CSV per figure).

    A link's ``?kind=…&layer=…`` opens that tab at that layer (a kind or layer this model lacks: a warning and
    the first). Returns what a link to this view carries: the open tab's kind and its layer."""
    names, helps = kind_names(), kind_help(causal, translation)
    shared_state(PAGE, {"kind": (f"{key}_kind", lambda k: names[one_of(*maps.kinds)(k)])})
    tabs = st.tabs([names[k] for k in maps.kinds], key=f"{key}_kind", on_change="rerun")
    shown = st.session_state.get(f"{key}_kind")
    link: dict[str, str] = {}
    for tab, kind in zip(tabs, maps.kinds, strict=True):
        with tab:
            weights = maps.weights[kind]  # (L, H, T_q, T_k)
            n_layers = weights.shape[0]
            st.caption(helps[kind])
            if shown in (None, names[kind]) and not link:  # the link's layer goes to the tab it opens
                shared_state(PAGE, {"layer": (f"{key}_{kind}_layer_{n_layers}", int_in(1, n_layers))})
            layer = st.segmented_control(
                _("Layer"), list(range(1, n_layers + 1)), default=1, required=True, key=f"{key}_{kind}_layer_{n_layers}",
                format_func=lambda i: _("layer {i}").format(i=i),
            )
            rows, cols = maps.labels(kind)
            stack = weights[int(layer) - 1]
            # The causal mask's cells (later tokens) grey, not pale blue: they are forbidden, not just unlikely.
            masked = causal_cells(stack.shape[-2], stack.shape[-1]) if kind == "decoder_self" and causal else None
            show_head_maps(
                stack, rows, cols, masked=masked,
                title=_("{kind}, layer {layer}").format(kind=names[kind], layer=layer),
                key=f"{key}_{kind}_l{layer}", file_stem=f"{key}_{kind}_layer{layer}",
                x_title=_("key (attended to)"), y_title=_("query (attending)"),
            )
            if shown in (None, names[kind]) and not link:
                link = {"kind": kind, "layer": str(layer)}
    st.markdown("**" + _("All weights, with the model config and the input") + "**")
    d1, d2, _spacer = st.columns([1, 1, 3])
    d1.download_button(
        _("Weights as CSV"), data=lambda: attention_csv(maps), file_name="attention_weights.csv", mime="text/csv",
        icon=":material/table:", key=f"{key}_all_csv", on_click="ignore",
    )
    d2.download_button(
        _("Weights as NPZ"), data=lambda: attention_npz(maps), file_name="attention_weights.npz",
        mime="application/octet-stream", icon=":material/data_array:", key=f"{key}_all_npz", on_click="ignore",
    )
    return link


st.title(_("Attention maps"))
st.caption(
    _("Look inside a trained model: for your input, the attention weights of every layer and every head. "
      "Each row of a heatmap is a token asking (the query); each column a token it may look at (the key); "
      "each row sums to 1.")
)

PAGE = "attention_maps"
# A link may name the checkpoint (?model=shakespeare), the text (?text=…), the kind of attention and the layer
# (?kind=decoder_self&layer=2): see ui.links. The link is drawn at the top but filled in at the end.
picked = attention_model_picker(PAGE, "att_checkpoint", "open_in_attention", prefer_task="addsub")
model, meta = picked.model, picked.meta
checkpoint_snapshots_expander(meta.path)
text_key = ("att_expression" if meta.task == "addsub" else f"att_sentence_{meta.task}" if meta.is_translation
            else f"att_text_{meta.task}")
SHARED = {"text": (text_key, text_value)}
shared_state(PAGE, SHARED)
link_box = st.container()

if meta.task == "addsub":
    text = st.text_input(
        _("Expression"), DEFAULT_EXPRESSION, key="att_expression", max_chars=60,
        help=_("Two whole numbers from -49 to 49 with + or - between them, e.g. -30 - -34 or 12+7."),
    )
    try:
        result = addsub_answer(model, meta, text)
    except ValueError as exc:
        st.error(plain_text(localize(str(exc))), icon=":material/error:")
        st.stop()
    verdict = _("right") if result.correct else _("wrong")
    shown_answer = result.answer_value if result.answer_value is not None else _("not a number")
    st.markdown(
        _("**Model input** (the course's format): `{expr}`  \n**Model output**: `{answer}` → **{value}** · the right "
          "answer is **{expected}**: the model is **{verdict}**.").format(
            expr=html.escape(result.expression), answer=html.escape(result.answer), value=shown_answer,
            expected=result.expected_value, verdict=verdict,
        )
    )
    shown_view = show_maps(result.maps, key="att_addsub")
elif meta.is_translation:
    source_language, target_language = language_names(meta)
    text = st.text_input(_("Your sentence ({language})").format(language=source_language), DEFAULT_SENTENCE,
                         key=f"att_sentence_{meta.task}", max_chars=2_000)
    source = prepare_source(meta, text)
    show_notes(source.notes)
    if source.error:
        st.error(plain_text(source.error), icon=":material/error:")
        st.stop()
    result = translate(model, meta, source.ids, "greedy")
    st.markdown(
        _("**Translation** ({language}, greedy search): {text}").format(
            language=target_language, text=html.escape(result.best.text) or "∅")
    )
    maps = translation_attention(model, meta, source.ids, result.best.ids, text=source.text)
    show_notes(maps.notes)
    shown_view = show_maps(maps, key=f"att_tr_{meta.task}", translation=True)
else:
    text = st.text_area(_("Text"), DEFAULT_TEXTS.get(meta.task, ""), key=f"att_text_{meta.task}", height=100,
                        max_chars=20_000)
    prompt = prepare_prompt(meta, text)
    show_notes(prompt.notes)
    try:
        maps = lm_attention(model, meta, prompt.ids, text=text)
    except ValueError as exc:
        st.error(plain_text(exc), icon=":material/error:")
        st.stop()
    show_notes(maps.notes)
    shown_view = show_maps(maps, key=f"att_lm_{meta.task}", causal=meta.model_config.causal)
link_to_this_view(PAGE, SHARED, container=link_box, extra={"model": checkpoint_name(picked.path)} | shown_view)
