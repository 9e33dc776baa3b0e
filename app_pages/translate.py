"""Translate: an encoder-decoder translates your sentence by greedy or beam search; see the cross-attention alignment."""

from __future__ import annotations

import html

import streamlit as st

from trainers.tasks import TRANSLATION_TASKS
from ui.attention_maps import translation_attention
from ui.charts import show_head_maps
from ui.checkpoints import checkpoint_picker, context_length, shared_model
from ui.i18n import _
from ui.labels import task_label
from ui.messages import localize
from ui.page_state import show_notes
from ui.text import format_plain, plain_text
from ui.translation import language_names, nbest_table, prepare_source, translate

DEFAULT_SENTENCE = "A little girl in a pink dress is climbing up the stairs."
TEXT_STYLE = (
    "font-size: 1.25rem; line-height: 1.5; padding: 0.8rem 1rem; border-radius: 0.5rem; background: #f6f7f9; "
    "border: 1px solid #e3e5e8;"
)


@st.cache_data(show_spinner=_("Translating…"), max_entries=64)
def cached_translation(path: str, stamp: tuple, source_ids: tuple[int, ...], decoding: str, beam_width: int,
                       length_penalty: float):
    """The translation of one prepared source under one decoding setting (same inputs, same answer)."""
    model, meta = shared_model(path, stamp)
    return translate(model, meta, list(source_ids), decoding, beam_width, length_penalty)


st.title(_("Translate"))
st.caption(
    _("An encoder-decoder transformer translates your sentence. The encoder reads the whole sentence at once; the "
      "decoder writes the translation one token at a time, each time attending to what it has written so far "
      "(masked self-attention) and to the encoder's output (cross-attention). Greedy search takes the most probable "
      "token at every step; beam search keeps the best few partial translations and picks the best at the end.")
)

picked = checkpoint_picker(
    "tr_checkpoint", "open_in_translate", tasks=TRANSLATION_TASKS,
    prefer=lambda c: c.source == "shipped" and c.task == "multi30k_en_de",
    empty_message=_("No translation model is available yet. Train one on the Train page (Translation: Anki "
                    "English→French, preset tiny, takes about 2.5 minutes) and save it, or add the shipped checkpoint "
                    "to assets/."),
)
path, stamp, model, meta = picked.path, picked.stamp, picked.model, picked.meta
cfg = meta.model_config
source_language, target_language = language_names(meta)
bleu = meta.metrics.get("bleu")
st.caption(
    _("{task} · {enc} encoder + {dec} decoder layers × {heads} heads · d_model {d} · shared BPE of {v:,} pieces · "
      "at most {ctx} tokens per sentence").format(
        task=task_label(meta.task), enc=cfg.n_encoder_layers or cfg.n_layers, dec=cfg.n_layers, heads=cfg.n_heads,
        d=cfg.d_model, v=cfg.vocab_size, ctx=context_length(meta),
    )
    + (" · " + _("validation BLEU {bleu:.1f} (greedy)").format(bleu=bleu) if isinstance(bleu, int | float) else "")
)

text = st.text_input(
    _("Your sentence ({language})").format(language=source_language), DEFAULT_SENTENCE, key="tr_text",
    max_chars=2_000,
    help=_("Multi30k models were trained on image captions: short descriptions of people, animals and scenes."),
)
c1, c2, c3 = st.columns([2, 2, 2], gap="large")
decoding = c1.radio(
    _("Decoding"), ["greedy", "beam"], key="tr_decoding", horizontal=True,
    format_func=lambda d: {"greedy": _("greedy search"), "beam": _("beam search")}[d],
)
beam_width = c2.slider(
    _("Beam width"), 1, 10, 4, 1, key="tr_beam_width", disabled=decoding != "beam",
    help=_("How many partial translations beam search keeps at each step. 1 = greedy search."),
)
length_penalty = c3.slider(
    _("Length penalty α"), 0.0, 2.0, 0.6, 0.1, key="tr_length_penalty", disabled=decoding != "beam",
    help=_("Beam search ranks finished translations by log-probability ÷ ((5 + length) / 6)^α (Wu et al. 2016), "
           "where the length counts the end-of-sentence token <eos>. 0 = raw log-probability, which favours short "
           "translations; larger α favours longer ones."),
)

source = prepare_source(meta, text)
show_notes(source.notes)
if source.error:
    st.error(plain_text(source.error), icon=":material/error:")
    st.stop()
try:
    result = cached_translation(path, stamp, tuple(source.ids), decoding, int(beam_width), float(length_penalty))
except (ValueError, RuntimeError) as exc:
    st.error(format_plain(_("Translation failed: {error}"), error=localize(str(exc))), icon=":material/error:")
    st.stop()

best = result.best
st.subheader(_("Translation ({language})").format(language=target_language))
st.markdown(f'<div style="{TEXT_STYLE}">{html.escape(best.text) or "∅"}</div>', unsafe_allow_html=True)
if decoding == "greedy":
    st.caption(_("greedy search · {n} tokens · log-probability {lp:.2f} nats").format(n=len(best.ids), lp=best.log_prob))
else:
    st.caption(
        _("beam search, width {k}, length penalty α = {a:g} · {n} tokens · log-probability {lp:.2f} nats · "
          "score {s:.3f} = {lp:.2f} ÷ ((5 + {L}) / 6)^{a:g}, where the length {L} counts <eos> too").format(
            k=result.beam_width, a=result.length_penalty, n=len(best.ids), lp=best.log_prob, s=best.score,
            L=best.length)
    )
    st.markdown("**" + _("The n-best list (best first)") + "**")
    st.dataframe(nbest_table(result), hide_index=True, key="tr_nbest", width="stretch")
if not best.finished:
    st.warning(_("The translation stopped at the length limit before the model wrote the end-of-sentence token."),
               icon=":material/warning:")

st.subheader(_("Alignment: cross-attention"))
with st.expander(_("How cross-attention works")):
    st.markdown(
        _("In cross-attention the queries come from the decoder (one per target position) and the keys and "
          "values from the encoder's output, the memory (one per source token). So its weights form a "
          "T_tgt × T_src matrix — the heatmaps below — and each target position reads a weighted mix of the "
          "source. Its only mask is the source's padding mask. The decoder's own self-attention uses the causal "
          "mask AND the target's padding mask: position i may look at positions j ≤ i that are not padding.")
    )
st.caption(
    _("Each row is a token of the translation, at the step that wrote it; each column a token of your sentence "
      "(“▁” marks the start of a word; <eos> ends the sentence). A bright cell: while writing that target token, "
      "this head looked at that source token. Rows sum to 1.")
)
maps = translation_attention(model, meta, source.ids, best.ids, text=source.text)
show_notes(maps.notes)
weights = maps.weights["cross"]  # (L, H, T_out, T_src)
n_layers = weights.shape[0]
layer = st.segmented_control(
    _("Layer"), list(range(1, n_layers + 1)), default=n_layers, key=f"tr_layer_{n_layers}", required=True,
    format_func=lambda i: _("layer {i}").format(i=i),
)
rows, cols = maps.labels("cross")
show_head_maps(
    weights[int(layer) - 1], rows, cols,
    title=_("Cross-attention, decoder layer {layer}").format(layer=layer),
    key=f"tr_cross_l{layer}", file_stem=f"translate_cross_attention_layer{layer}",
    x_title=_("source token ({language})").format(language=source_language),
    y_title=_("target token being written ({language})").format(language=target_language),
)
st.caption(_("The encoder's and the decoder's self-attention for this sentence are on the Attention maps page."))
