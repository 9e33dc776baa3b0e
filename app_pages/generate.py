"""Generate: sample from a trained language model with temperature, top-k, top-p and a seed; see every step."""

from __future__ import annotations

import html

import streamlit as st

from trainers.tasks import LM_TASKS, TRANSLATION_TASKS
from transformer.sampling import default_stride
from ui.attention_maps import causal_cells, lm_attention, no_attention_sentence
from ui.charts import candidates_spec, show_head_maps
from ui.checkpoints import checkpoint_choices, checkpoint_picker, context_length
from ui.i18n import _
from ui.labels import task_label
from ui.links import (
    checkpoint_name,
    float_in,
    int_in,
    link_to_this_view,
    open_linked_checkpoint,
    parse_bool,
    shared_state,
    show_chart,
    text_value,
)
from ui.messages import localize
from ui.page_state import session_checkpoints, show_notes
from ui.sampling import (
    PreparedPrompt,
    SamplingSettings,
    candidate_rows,
    least_certain_step,
    prepare_prompt,
    sample,
    steps_table,
    visible,
)
from ui.text import format_plain

TEXT_STYLE = (
    "white-space: pre-wrap; font-family: 'Source Code Pro', monospace; font-size: 1.05rem; line-height: 1.5; "
    "padding: 0.8rem 1rem; border-radius: 0.5rem; background: #f6f7f9; border: 1px solid #e3e5e8;"
)


def text_html(prompt: str, generated: str, stale: bool = False) -> str:
    """The prompt in grey, the generated text in black, whitespace kept; ``stale``: faded and struck through,
    for text made with settings that have changed since."""
    style = TEXT_STYLE + (" opacity: 0.45; text-decoration: line-through;" if stale else "")
    return (
        f'<div style="{style}"><span style="color:#8a8f98">{html.escape(prompt)}</span>'
        f'<span style="color:#111">{html.escape(generated)}</span></div>'
    )


def settings_widgets(prefix: str, vocab_size: int, defaults: SamplingSettings, container) -> SamplingSettings:
    """Temperature, top-k and top-p widgets (one set per compared setting); seed and length are shared."""
    temperature = container.slider(
        _("Temperature"), 0.05, 3.0, defaults.temperature, 0.05, key=f"{prefix}_temperature",
        help=_("Divides the logits before the softmax: below 1 sharpens the distribution (towards greedy), "
               "above 1 flattens it (more surprising tokens)."),
    )
    top_k = container.number_input(
        _("Top-k (0 = off)"), 0, vocab_size, defaults.top_k or 0, 1, key=f"{prefix}_top_k",
        help=_("Keep only the k most probable tokens, then renormalise. 1 = greedy decoding."),
    )
    top_p = container.slider(
        _("Top-p (1 = off)"), 0.05, 1.0, defaults.top_p or 1.0, 0.05, key=f"{prefix}_top_p",
        help=_("Nucleus sampling: keep the smallest set of most probable tokens whose probabilities reach at least "
               "p (the most probable token is always kept), then renormalise."),
    )
    if top_k >= vocab_size:
        container.caption(_("Top-k {k} keeps all {v} tokens of the vocabulary: it changes nothing here.").format(
            k=int(top_k), v=vocab_size))
    return SamplingSettings(temperature, int(top_k) or None, None if top_p >= 1.0 else float(top_p))


def run_generation(model, meta, prompt: PreparedPrompt, settings: SamplingSettings, slot) -> dict:
    """Sample token by token, updating ``slot`` as each token arrives; return the result to keep in the session."""
    prompt_text = meta.decode(prompt.ids)
    steps = []
    generated_ids: list[int] = []
    for step in sample(model, meta, prompt.ids, settings):
        steps.append(step)
        generated_ids.append(step.token_id)
        full = meta.decode(prompt.ids + generated_ids)
        slot.markdown(text_html(prompt_text, full[len(prompt_text):]), unsafe_allow_html=True)
    full = meta.decode(prompt.ids + generated_ids)
    return {
        "settings": settings,
        "prompt_ids": list(prompt.ids),
        "prompt_text": prompt_text,
        "generated_ids": generated_ids,
        "generated_text": full[len(prompt_text):] if full.startswith(prompt_text) else meta.decode(generated_ids),
        "steps": steps,
    }


def show_result(result: dict, key: str, stale: bool = False) -> int:
    """The text, then each step's candidates (bar chart of a chosen step + table of all steps); returns the
    chosen step (1-based; 0 when nothing was generated)."""
    st.markdown(text_html(result["prompt_text"], result["generated_text"], stale), unsafe_allow_html=True)
    st.caption(result["settings"].describe())
    steps = result["steps"]
    if not steps:
        return 0
    st.markdown("**" + _("Step by step: the candidates each token was drawn from") + "**")
    n = len(steps)
    chosen = 1 if n == 1 else st.slider(
        _("Step"), 1, n, least_certain_step(steps), key=f"{key}_step",
        help=_("Starts at the step whose drawn token was least probable: where the settings mattered most."),
    )
    step = steps[chosen - 1]
    st.markdown(
        _("Step {i}: drew **{tok}** with probability {p:.3g} (the model alone gave it {mp:.3g}).").format(
            i=chosen, tok=html.escape(visible(step.token)), p=step.prob, mp=step.model_prob
        )
    )
    show_chart(candidates_spec(candidate_rows(step)), key=f"{key}_candidates", width="stretch")
    with st.expander(_("All steps as a table"), expanded=False):
        st.dataframe(steps_table(steps), hide_index=True, key=f"{key}_table", width="stretch")
    return chosen


st.title(_("Generate"))
st.caption(
    _("Sample from a trained language model, one token at a time. Each step turns the model's logits into "
      "probabilities (softmax of logits ÷ temperature), keeps the top-k / top-p tokens, and draws one with the "
      "seed you set: the same seed and settings always give the same text.")
)

if checkpoint_choices(session_checkpoints(), tasks=TRANSLATION_TASKS):
    st.caption(_("Translation models are encoder-decoders, not language models: they are on the Translate page."))
PAGE = "generate"
open_linked_checkpoint(PAGE, "open_in_generate", [c.path for c in checkpoint_choices(session_checkpoints(), tasks=LM_TASKS)])
picked = checkpoint_picker(
    "gen_checkpoint", "open_in_generate", tasks=LM_TASKS, pretrained=True,
    empty_message=_("No language model is available yet. Train one on the Train page (Tiny Shakespeare, preset tiny, "
                    "takes seconds) and save it, or add the shipped checkpoints to assets/."),
)
path, model, meta = picked.path, picked.model, picked.meta

vocab_size = meta.model_config.vocab_size
n_params = sum(p.numel() for p in model.parameters())
is_lstm = meta.family == "lstm"
if is_lstm:
    st.caption(
        _("{task} · {unit} tokens · vocabulary {v:,} · context {ctx} tokens · LSTM, {layers} layers · "
          "d_model {d} · {params:,} parameters").format(
            task=task_label(meta.task), unit=meta.tokenizer_kind, v=vocab_size, ctx=context_length(meta),
            layers=meta.model_config.n_layers, d=meta.model_config.d_model, params=n_params,
        )
    )
else:
    st.caption(
        _("{task} · {unit} tokens · vocabulary {v:,} · context {ctx} tokens · {layers} layers × {heads} heads · "
          "d_model {d} · {params:,} parameters").format(
            task=task_label(meta.task), unit=meta.tokenizer_kind, v=vocab_size, ctx=context_length(meta),
            layers=meta.model_config.n_layers, heads=meta.model_config.n_heads, d=meta.model_config.d_model,
            params=n_params,
        )
    )

if not is_lstm:
    with st.expander(_("Why each new token is cheap: the KV cache")):
        st.markdown(
            _("Each layer keeps the keys and values of every token it has already read (the KV cache). For a new "
              "token the model computes only that token's query, key and value, appends the key and value to the "
              "cache, and compares the query with the T cached keys: O(T) work per layer, instead of recomputing "
              "all T × T scores. The context holds {ctx} tokens. Once the text is longer, the window jumps forward "
              "by half its length, {stride} tokens at a time: its first token must sit at position 0, as in "
              "training, so every token's position changes and the cached keys and values (computed at the old "
              "positions) no longer fit. The cache is rebuilt from the tokens still in the window in one batched "
              "pass, once every {stride} tokens, and decoding carries on from it. So past the window the model reads "
              "the last {shortest} to {ctx} tokens, and a new token costs about what one inside the window costs."
              ).format(ctx=context_length(meta), stride=default_stride(context_length(meta)),
                       shortest=context_length(meta) - default_stride(context_length(meta)) + 1)
        )

# What a link to this view carries (?model=shakespeare&prompt=…&temperature=0.8&top_k=10&top_p=0.9&seed=3
# &length=200, and with compare=1 the second setting's temperature_b, top_k_b, top_p_b), see ui.links. Opening
# it sets the controls; the text is generated only when the Generate button is pressed.
SHARED = {"prompt": ("gen_prompt", text_value), "compare": ("gen_compare", parse_bool),
          "seed": ("gen_seed", int_in(0, 2**31 - 1)), "length": (f"gen_length_{meta.tokenizer_kind}", int_in(1, 500))}
for suffix, prefix in (("", "gen_a"), ("_b", "gen_b")):
    SHARED |= {"temperature" + suffix: (f"{prefix}_temperature", float_in(0.05, 3.0)),
               "top_k" + suffix: (f"{prefix}_top_k", int_in(0, vocab_size)),
               "top_p" + suffix: (f"{prefix}_top_p", float_in(0.05, 1.0))}
shared_state(PAGE, SHARED)

left, right = st.columns([3, 2], gap="large")
prompt_text = left.text_area(
    _("Prompt"), value="ROMEO:" if meta.task == "shakespeare" else "", height=120, key="gen_prompt",
    max_chars=20_000, help=_("Empty = the model's default start. Longer than the context = only its end is read."),
)
compare = left.toggle(
    _("Compare two settings side by side (same seed)"), key="gen_compare",
    help=_("Generate twice from the same prompt and seed, e.g. temperature 0.5 against 1.5."),
)
seed = left.number_input(_("Seed"), 0, 2**31 - 1, 0, 1, key="gen_seed")
default_len = 300 if meta.tokenizer_kind == "char" else 60
length = left.slider(_("Tokens to generate"), 1, 500, default_len, key=f"gen_length_{meta.tokenizer_kind}")

if compare:
    col_a, col_b = right.columns(2)
    col_a.markdown("**" + _("Setting A") + "**")
    col_b.markdown("**" + _("Setting B") + "**")
    settings_a = settings_widgets("gen_a", vocab_size, SamplingSettings(temperature=0.5), col_a)
    settings_b = settings_widgets("gen_b", vocab_size, SamplingSettings(temperature=1.5), col_b)
    wanted_settings = [settings_a, settings_b]
else:
    wanted_settings = [settings_widgets("gen_a", vocab_size, SamplingSettings(temperature=0.8), right)]
wanted_settings = [
    SamplingSettings(s.temperature, s.top_k, s.top_p, int(seed), int(length)) for s in wanted_settings
]
link_to_this_view(PAGE, {k: v for k, v in SHARED.items() if compare or not k.endswith("_b")}, container=left,
                  extra={"model": checkpoint_name(path)})

prompt = prepare_prompt(meta, prompt_text)
show_notes(prompt.notes)

if st.button(_("Generate"), type="primary", icon=":material/auto_awesome:", key="gen_go"):
    slots = st.columns(len(wanted_settings)) if len(wanted_settings) > 1 else [st.container()]
    results = []
    try:
        for settings, slot in zip(wanted_settings, slots, strict=True):
            with slot:
                results.append(run_generation(model, meta, prompt, settings, st.empty()))
    except (ValueError, RuntimeError) as exc:
        st.error(format_plain(_("Generation failed: {error}"), error=localize(str(exc))), icon=":material/error:")
    else:
        number = st.session_state.get("gen_result", {}).get("number", 0) + 1  # fresh step sliders for new text
        st.session_state["gen_result"] = {"checkpoint": path, "results": results, "number": number}
        st.rerun()

stored = st.session_state.get("gen_result")
if stored and stored["checkpoint"] == path:
    results = stored["results"]
    st.subheader(_("Generated text"))
    # Settings or prompt changed since this text was made: say so at once, and fade the old text, so that
    # nobody reads it as the new settings' output.
    stale = [r["settings"] for r in results] != wanted_settings or results[0]["prompt_ids"] != list(prompt.ids)
    if stale:
        st.warning(_("The settings or the prompt changed after this text was generated: it shows the old ones. "
                     "Press Generate for text from the new settings."), icon=":material/history:")
    chosen_steps = []
    if len(results) > 1:
        cols = st.columns(len(results), gap="large")
        for i, (col, result) in enumerate(zip(cols, results, strict=True)):
            with col:
                st.markdown("**" + (_("Setting A") if i == 0 else _("Setting B")) + "**")
                chosen_steps.append(show_result(result, key=f"gen_result_{stored['number']}_{i}", stale=stale))
    else:
        chosen_steps.append(show_result(results[0], key=f"gen_result_{stored['number']}_0", stale=stale))

    if is_lstm:  # no attention to show: say so where a transformer's heatmaps would be
        st.subheader(_("Attention over the prompt and the generated text"))
        st.info(no_attention_sentence(), icon=":material/block:")
        st.stop()
    st.subheader(_("Attention over the prompt and the generated text"))
    first = results[0]
    # What the model read when it drew the chosen step's token: the prompt and the tokens before it. Its last
    # row is the query that made that step's prediction.
    chosen_step = max(1, chosen_steps[0]) if chosen_steps else 1
    all_ids = first["prompt_ids"] + first["generated_ids"][: chosen_step - 1]
    st.caption(_("Step {i} of setting A's text: what the model read before it drew “{tok}” (the last row is the "
                 "query that predicted it). Move the Step slider above to see another step.").format(
                     i=chosen_step, tok=visible(first["steps"][chosen_step - 1].token) if first["steps"] else ""))
    c1, c2 = st.columns([2, 3])
    window = c1.slider(_("Tokens shown (the last ones)"), 8, 64, 24, 8, key="gen_att_window")
    maps = lm_attention(model, meta, all_ids, max_tokens=window)
    show_notes(maps.notes)
    n_layers = maps.weights["decoder_self"].shape[0]
    layer = c2.segmented_control(
        _("Layer"), list(range(1, n_layers + 1)), default=n_layers, key=f"gen_att_layer_{n_layers}", required=True,
        format_func=lambda i: _("layer {i}").format(i=i),
    )
    rows, cols = maps.labels("decoder_self")
    stack = maps.weights["decoder_self"][int(layer) - 1]
    if len(results) > 1:
        st.caption(_("Heatmaps are for setting A's text."))
    if meta.model_config.causal:
        title = _("Masked self-attention, layer {layer}: each row is a query token, each column a key it may look "
                  "at (itself and earlier tokens, j ≤ i)").format(layer=layer)
    else:
        title = _("Self-attention without the causal mask, layer {layer}: each row may look at every token, even "
                  "later ones").format(layer=layer)
    show_head_maps(
        stack, rows, cols, masked=causal_cells(*stack.shape[-2:]) if meta.model_config.causal else None,
        title=title,
        key=f"gen_att_l{layer}", file_stem=f"generate_attention_layer{layer}",
        x_title=_("key (attended to)"), y_title=_("query (attending)"),
    )
