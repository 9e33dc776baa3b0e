"""Turning what a user types into a short list of tokens a page can show, whatever they type.

``split_sentence`` is the explorer pages' simple word-level splitter (the Tokens page shows the real
character / word / BPE tokenizers): words and numbers stay whole, each punctuation mark, each Chinese /
Japanese / Korean character and each emoji (with its modifiers and joiners) is one token. The result is
capped (64 tokens by default, about what a heatmap can show) and says so. No Streamlit here: pages turn
``TokenizedText.note`` into an ``st.info``.

``md_escape`` / ``plain_text`` / ``format_plain`` are the one place that makes text a user typed (or a message
that quotes it, such as an exception's) safe inside Streamlit's Markdown messages (``st.error``, ``st.warning``,
``st.info``, captions): every Markdown and HTML character is escaped, so ``![t](http://host/x.png)`` shows as
those characters instead of fetching an image, and absolute paths inside the project or beside it are shown
relative to it (``runs/…``, ``assets/…``, ``../shared/…``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_MAX_TOKENS", "TokenizedText", "format_plain", "md_escape", "plain_text", "relative_paths", "shape_text",
    "split_sentence", "unique_labels",
]

# Every ASCII punctuation mark may be backslash-escaped in CommonMark. Escaped here, wherever they stand: the
# characters that open code, emphasis, links and images ([ — so ![…](…) and [… ](…) are text), HTML and entities
# (<, &), strikethrough and math (~, $); "_" where it can open emphasis (not inside a word, as in d_model);
# ":" where it can open a Streamlit directive, icon or emoji shortcode (:red[…], :material/…:) or a URL scheme
# (http://). Block markers (#, >, -, +, =, "1.") only mean something at the start of a line, and a message is made
# one line, so only its start is escaped for them.
_MD_SPECIAL = re.compile(r"([\\`*\[\]<~$&])|((?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))|(:(?=[A-Za-z/]))")
# GitHub Markdown turns bare URLs (http://, www.) and e-mail addresses into links after parsing, which no
# backslash prevents: an invisible WORD JOINER (U+2060) after "http:", "www" and "@" keeps them text.
WORD_JOINER = "\u2060"
_AUTOLINK = re.compile(r"(?i)(?:\b(?:https?|ftp|mailto|file)\\?:|\bwww(?=\.)|@)")
_MD_LINE_START = re.compile(r"^([#>+\-=]|\d+(?=[.)]))")

DEFAULT_MAX_TOKENS = 64

# CJK ideographs, kana, hangul and full-width forms: one token per character, as Chinese has no spaces.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
# An emoji or other symbol with its variation selector, skin-tone modifiers and zero-width-joined parts.
_MODIFIERS = "\ufe0f\u20e3\U0001f3fb-\U0001f3ff"
_SYMBOL = rf"[^\w\s{_MODIFIERS}\u200d][{_MODIFIERS}]*(?:\u200d[^\w\s\u200d][{_MODIFIERS}]*)*"
_TOKEN = re.compile(
    rf"[\U0001f1e6-\U0001f1ff]{{2}}"  # a flag: two regional indicators
    rf"|[{_CJK}]"  # one CJK character
    rf"|[^\W{_CJK}]+(?:['’][^\W{_CJK}]+)*"  # a word or number (with apostrophes: don't, it's)
    rf"|{_SYMBOL}"  # punctuation, emoji
    rf"|\S"  # anything else that is not a space (a stray modifier or joiner)
)


@dataclass
class TokenizedText:
    """The tokens of a text, and how many there were before the cap."""

    tokens: list[str]
    n_total: int  # tokens in the whole text
    max_tokens: int

    @property
    def truncated(self) -> bool:
        """True when the text had more tokens than the cap and only the first ``max_tokens`` are kept."""
        return self.n_total > len(self.tokens)

    @property
    def empty(self) -> bool:
        return not self.tokens


def split_sentence(text: str | None, max_tokens: int = DEFAULT_MAX_TOKENS) -> TokenizedText:
    """Split ``text`` into word-level tokens, keeping at most ``max_tokens`` (the first ones).

    Empty or blank text (or None) gives no tokens. Raises ValueError when max_tokens < 1.

    >>> split_sentence("I love 深度学习 👍🏽!").tokens
    ['I', 'love', '深', '度', '学', '习', '👍🏽', '!']
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    tokens = _TOKEN.findall(text or "")
    return TokenizedText(tokens=tokens[:max_tokens], n_total=len(tokens), max_tokens=max_tokens)


def unique_labels(tokens: list[str], max_chars: int = 12) -> list[str]:
    """Axis labels that stay unique when a word repeats: position, space, token — "03 the".

    The position is zero-padded to the width of the last index (2 digits up to 99 tokens); a long token
    is shortened with "…" to ``max_chars``; a blank token (a space or newline from a character
    tokenizer) is shown as "␣" or "↵".
    """
    width = max(2, len(str(max(len(tokens) - 1, 0))))
    labels = []
    for i, tok in enumerate(tokens):
        shown = tok.replace("\n", "↵").replace("\t", "⇥")
        if shown.strip() == "":
            shown = shown.replace(" ", "␣") or "∅"
        if len(shown) > max_chars:
            shown = shown[: max_chars - 1] + "…"
        labels.append(f"{i:0{width}d} {shown}")
    return labels


def shape_text(shape) -> str:
    """A tensor's shape as the pages write it: ``torch.Size([2, 5, 10])`` → ``"(2, 5, 10)"``."""
    return "(" + ", ".join(str(s) for s in shape) + ")"


def md_escape(text) -> str:
    r"""``text`` (anything; ``str()`` is taken) with every Markdown and HTML character backslash-escaped and line
    breaks turned into spaces, so Streamlit's Markdown shows it as typed.

    >>> md_escape("zz ![t](http://127.0.0.1:9/md.png)")
    'zz !\\[t\\](http\\:\u2060//127.0.0.1:9/md.png)'
    >>> print(md_escape("1. # not a list"))
    1\. # not a list
    """
    flat = " ".join(str(text).splitlines()).lstrip()  # one line; leading spaces would start a code block
    flat = _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), flat)
    flat = _AUTOLINK.sub(lambda m: m.group(0) + WORD_JOINER, flat)  # no link made of a bare URL or address
    return _MD_LINE_START.sub(lambda m: m.group(1) + "\\" if m.group(1)[0].isdigit() else "\\" + m.group(1), flat)


def relative_paths(text: str) -> str:
    """Absolute paths inside the project written relative to it (``/srv/app/runs/x`` → ``runs/x``), those beside
    it with ``../`` (``/srv/shared/data`` → ``../shared/data``) and the home folder as ``~``."""
    root = Path(__file__).resolve().parent.parent
    for prefix, shown in ((root, ""), (root.parent, "../"), (Path.home(), "~/")):
        prefix_text = str(prefix)
        if len(prefix_text) > 1:
            text = text.replace(prefix_text + os.sep, shown)
    return text


def plain_text(text) -> str:
    """A message that may quote what a user typed (an exception's message, a note), ready for ``st.error`` and
    friends: paths made relative (:func:`relative_paths`), then Markdown-escaped (:func:`md_escape`)."""
    return md_escape(relative_paths(str(text)))


def format_plain(template: str, **values) -> str:
    """``template.format(**values)`` with every value passed through :func:`plain_text`; the template (a
    translated sentence of ours) keeps its own Markdown."""
    return template.format(**{name: plain_text(value) for name, value in values.items()})
