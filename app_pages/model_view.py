"""Model view: every layer × head of a trained model on the user's input, one head enlarged, and a head view."""

from __future__ import annotations

import streamlit as st

from ui.attention_maps import DEFAULT_EXPRESSION, DEFAULT_SENTENCE, DEFAULT_TEXTS
from ui.charts import show_matrix
from ui.checkpoints import attention_model_picker
from ui.i18n import _
from ui.labels import kind_names
from ui.links import (
    checkpoint_name,
    int_in,
    link_to_this_view,
    one_of,
    shared_state,
    show_chart,
    text_value,
)
from ui.model_view import attention_for_input, grid_spec, grid_tokens, head_view_rows
from ui.page_state import show_notes

st.title(_("Model view"))
st.caption(
    _("Every head of every layer at once, for your input: each small map is one head (rows: the token asking, "
      "columns: the tokens it may look at; darker = more attention). Patterns jump out: heads that look at the "
      "previous token, at the first token, or at the same word elsewhere. Pick any head to enlarge it.")
)

PAGE = "model_view"
# A link may name the checkpoint (?model=shakespeare), the text, the kind of attention and the enlarged head
# (?kind=decoder_self&layer=2&head=1): see ui.links. Values this model lacks get a warning and the default.
picked = attention_model_picker(PAGE, "mv_checkpoint", "open_in_model_view", prefer_task="shakespeare")
model, meta = picked.model, picked.meta
link_box = st.container()
text_key = ("mv_expression" if meta.task == "addsub" else f"mv_sentence_{meta.task}" if meta.is_translation
            else f"mv_text_{meta.task}")
SHARED = {"text": (text_key, text_value)}
shared_state(PAGE, SHARED)

if meta.task == "addsub":
    text = st.text_input(_("Expression"), DEFAULT_EXPRESSION, key="mv_expression", max_chars=60,
                         help=_("Two whole numbers from -49 to 49 with + or - between them, e.g. -30 - -34 or 12+7."))
elif meta.is_translation:
    text = st.text_input(_("Your sentence"), DEFAULT_SENTENCE, key=f"mv_sentence_{meta.task}", max_chars=2_000)
else:
    text = st.text_area(_("Text"), DEFAULT_TEXTS.get(meta.task, "The quick brown fox jumps over the lazy dog."),
                        key=f"mv_text_{meta.task}", height=80, max_chars=20_000)

result = attention_for_input(model, meta, text)
show_notes(result.notes)
if result.error or result.maps is None:
    st.error(result.error or _("There are no tokens to look at."), icon=":material/error:")
    st.stop()
if result.summary:
    st.text(_("Model output: {text}").format(text=result.summary))  # the model's text, shown as plain text
maps = result.maps
names = kind_names()
shared_state(PAGE, {"kind": (f"mv_kind_{meta.task}", one_of(*maps.kinds))})
kind = st.segmented_control(_("Attention kind"), maps.kinds, default=maps.kinds[0], required=True,
                            format_func=names.get, key=f"mv_kind_{meta.task}")
weights = maps.weights[kind]  # (L, H, T_q, T_k)
L, H, Tq, Tk = weights.shape
rows, cols = maps.labels(kind)

limit = grid_tokens(L * H)
if max(Tq, Tk) > limit:
    st.info(_("The grid draws the first {n} tokens of each side ({panels} maps of up to {t} tokens would be too many "
              "for the browser); the enlarged head below shows all of them.").format(n=limit, panels=L * H,
                                                                                      t=max(Tq, Tk)),
            icon=":material/info:")
grid = weights[:, :, :limit, :limit]
show_chart(grid_spec(grid, title=_("{kind}: {layers} layers × {heads} heads").format(
    kind=names[kind], layers=L, heads=H)), key=f"mv_grid_{meta.task}_{kind}")

st.subheader(_("One head, enlarged"))
layer_key, head_key = f"mv_layer_{meta.task}_{kind}_{L}", f"mv_head_{meta.task}_{kind}_{H}"
shared_state(PAGE, {"layer": (layer_key, int_in(1, L)), "head": (head_key, int_in(1, H))})
c1, c2 = st.columns(2)
layer = c1.selectbox(_("Layer"), list(range(1, L + 1)), key=layer_key,
                     format_func=lambda i: _("layer {i}").format(i=i))
head = c2.selectbox(_("Head"), list(range(1, H + 1)), key=head_key,
                    format_func=lambda h: _("head {h}").format(h=h))
show_matrix(weights[layer - 1, head - 1], rows, cols,
            title=_("{kind}, layer {layer}, head {head}").format(kind=names[kind], layer=layer, head=head),
            key=f"mv_big_{meta.task}_{kind}", domain=(0.0, 1.0), x_title=_("key (attended to)"),
            y_title=_("query (attending)"))
link_to_this_view(PAGE, SHARED, container=link_box, extra={"model": checkpoint_name(picked.path), "kind": kind,
                                                           "layer": str(layer), "head": str(head)})

st.subheader(_("Head view: what one token attends to"))
st.caption(_("Choose a token: each row is one head of layer {layer}, each cell the weight that token gives to a key "
             "token. The enlarged head is marked ◀.").format(layer=layer))
query = st.select_slider(_("Token"), options=list(range(Tq)), value=Tq - 1, format_func=lambda i: rows[i],
                         key=f"mv_query_{meta.task}_{kind}_{Tq}")
view, head_labels = head_view_rows(weights[layer - 1], query, head - 1)
show_matrix(view, head_labels, cols, title=_("What “{token}” attends to in layer {layer}").format(
    token=rows[query], layer=layer), key=f"mv_headview_{meta.task}_{kind}", domain=(0.0, 1.0),
    x_title=_("key (attended to)"), annotate=False)
