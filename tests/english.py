"""What counts as English left in a translated message: the helper the translation tests share.

Names, addresses, numbers, code, and a class term's English in brackets ("頭節點（head）") are the same in every
language; any other run of two or more Latin letters is English a Chinese page should not show.
"""

from __future__ import annotations

import re

KEPT = re.compile(r"`[^`]*`|ray://host:port|host:port|\bauto\b|127\.0\.0\.1:\d+|TC_[A-Z_]+|'[^']*'|CPU\(s\)|CPU|MB|"
                  r"Ray|[A-Za-z]+Error|（[a-z]+）|[-+]?\d[\d,.]*")


def english_left(text: str, kept: re.Pattern | None = None) -> list[str]:
    """The English words of ``text`` once :data:`KEPT` (and ``kept``, a caller's own names) are taken out."""
    if kept is not None:
        text = kept.sub(" ", text)
    return re.findall(r"[A-Za-z]{2,}", KEPT.sub(" ", text))
