"""Input widgets shared by the explorer pages, with the messages that keep bad input from breaking a page.

``sentence_input`` is the sentence box of the attention pages: whatever is typed (nothing, one word, 500
words, emoji, Chinese) it returns a usable list of tokens and tells the user, in a message, what it did.
"""

from __future__ import annotations

import streamlit as st

from ui.i18n import _
from ui.text import DEFAULT_MAX_TOKENS, split_sentence

__all__ = ["DEFAULT_SENTENCE", "matrix_view", "sentence_input"]

DEFAULT_SENTENCE = "the cat sat on the mat because it was tired"


def sentence_input(
    key: str,
    default: str = DEFAULT_SENTENCE,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    label: str | None = None,
    container=None,
) -> list[str]:
    """A text box; returns its word-level tokens (:func:`ui.text.split_sentence`), never an empty list.

    Empty text → a warning and the default sentence; more than ``max_tokens`` tokens → an info note and
    the first ``max_tokens``; a single token → an info note (attention then has only itself to look at).
    ``container``: where the widget and messages go (default: the page).
    """
    box = container if container is not None else st
    text = box.text_input(
        label or _("Your sentence"),
        value=default,
        key=key,
        max_chars=5000,
        help=_("Any text: words, punctuation, emoji and Chinese characters each become tokens."),
    )
    tokenized = split_sentence(text, max_tokens)
    if tokenized.empty:
        box.warning(
            _("The text is empty, so there is nothing to attend over. Showing the example sentence instead: “{s}”.").format(
                s=default
            ),
            icon=":material/edit_off:",
        )
        tokenized = split_sentence(default, max_tokens)
    elif tokenized.truncated:
        box.info(
            _("Your text has {n} tokens; only the first {m} are used, so every heatmap stays readable.").format(
                n=tokenized.n_total, m=tokenized.max_tokens
            ),
            icon=":material/content_cut:",
        )
    if len(tokenized.tokens) == 1:
        box.info(
            _("Only one token: it can attend only to itself, so its attention weight is exactly 1. Add words to see more."),
            icon=":material/info:",
        )
    return tokenized.tokens


def matrix_view(key: str, container=None) -> bool:
    """A "Heatmaps / Tables" switch; True when the user wants tables of exact numbers."""
    box = container if container is not None else st
    choice = box.segmented_control(
        _("Show matrices as"),
        options=["heatmaps", "tables"],
        format_func={"heatmaps": _("Heatmaps"), "tables": _("Tables")}.__getitem__,
        default="heatmaps",
        required=True,
        key=key,
        help=_("Heatmaps show every value on hover; tables show the exact numbers."),
    )
    return choice == "tables"


def head_counts(d_model: int, most: int = 8) -> list[int]:
    """The numbers of heads H ≤ ``most`` that split ``d_model`` evenly (d_k = d_model / H whole): [1, 2, 4, 8] for 16."""
    return [h for h in range(1, most + 1) if d_model % h == 0]


def heads_slider(key: str, d_model: int, default: int = 4, container=None, most: int = 8,
                 disabled: bool = False) -> int:
    """A "heads H" slider offering only the H that divide ``d_model`` (:func:`head_counts`), so the page never
    meets an indivisible split. When ``d_model`` changes under a chosen H that no longer divides it, the
    slider moves to the largest H below it that does. ``disabled``: shown but not movable (a trained model's
    heads are its own)."""
    box = container if container is not None else st
    options = head_counts(d_model, most)
    current = st.session_state.get(key, default)
    if current not in options:
        st.session_state[key] = max((h for h in options if h <= current), default=options[0])
    elif key not in st.session_state:
        st.session_state[key] = current
    if len(options) == 1:  # a select slider needs two options: say why there is no choice
        box.markdown(f"**{_('heads H')}**: 1")
        box.caption(_("d_model = {d} splits only into 1 head of {d} here.").format(d=d_model))
        return 1
    return int(box.select_slider(_("heads H"), options=options, key=key, disabled=disabled,
                                 help=_("Only the numbers of heads that divide d_model = {d} evenly.").format(d=d_model)))
