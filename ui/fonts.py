"""Fonts for the seaborn/matplotlib PNG exports: Chinese titles and tokens need a CJK font.

Matplotlib (≥ 3.6) falls back glyph by glyph along ``font.family``: Latin letters, digits and maths
signs ("−∞") stay in DejaVu Sans, as before, and Chinese characters come from the first CJK font that has
them. On Debian the font is the package ``fonts-wqy-microhei`` (WenQuanYi Micro Hei; installed by
``.ci/run``); Noto Sans CJK (``fonts-noto-cjk``) and the usual macOS/Windows CJK fonts are used when present.

Matplotlib's font list is cached on disk when it is first imported, so a font installed afterwards is
missing from it: when no CJK font is listed, the system's font folders are searched for one and it is
added. Without any, the PNGs draw Chinese as empty boxes, and one warning says which package to install.
(The altair charts on screen are drawn by the browser, with the browser's fonts.)
"""

from __future__ import annotations

import logging
import warnings
from functools import cache

from matplotlib import font_manager, rcParams

log = logging.getLogger(__name__)

# Families with Chinese glyphs, in order of preference: Debian's WenQuanYi, Noto/Source Han, then macOS and
# Windows system fonts.
CJK_FAMILIES = (
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK TC",
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans TC",
    "Noto Sans SC",
    "Source Han Sans TC",
    "Source Han Sans SC",
    "PingFang TC",
    "PingFang SC",
    "Heiti TC",
    "Microsoft JhengHei",
    "Microsoft YaHei",
)
# File-name fragments of those fonts, to find one missing from matplotlib's cached list.
_CJK_FILE_HINTS = ("wqy", "notosanscjk", "notoserifcjk", "sourcehansans", "pingfang", "msjh", "msyh")
DEBIAN_PACKAGE = "fonts-wqy-microhei"
NO_CJK_FONT_WARNING = (
    "No font with Chinese characters was found: PNG downloads will show Chinese text as empty boxes. "
    f"Install one (Debian/Ubuntu: sudo apt-get install {DEBIAN_PACKAGE}) and restart the app."
)


def _listed_cjk_families() -> list[str]:
    names = {f.name for f in font_manager.fontManager.ttflist}
    return [family for family in CJK_FAMILIES if family in names]


def _add_unlisted_cjk_fonts() -> None:
    """Add CJK font files of the system that matplotlib's cached font list does not know yet."""
    known = {f.fname for f in font_manager.fontManager.ttflist}
    for path in font_manager.findSystemFonts(fontext="ttf"):
        name = path.replace("-", "").replace("_", "").lower()
        if path not in known and any(hint in name for hint in _CJK_FILE_HINTS):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError) as exc:  # an unreadable file: skip it
                log.debug("cannot add font %s: %s", path, exc)


@cache
def configure_cjk_fonts() -> list[str]:
    """Put the CJK fonts found on this machine after sans-serif (DejaVu Sans) in matplotlib's ``font.family``.

    Returns the CJK families used (empty when there is none: then warns once). Runs once per process.
    """
    families = _listed_cjk_families()
    if not families:
        _add_unlisted_cjk_fonts()
        families = _listed_cjk_families()
    if not families:
        warnings.warn(NO_CJK_FONT_WARNING, UserWarning, stacklevel=2)
        log.warning(NO_CJK_FONT_WARNING)
        return []
    # Glyph fallback runs along font.family (a generic family there stands for its first font found):
    # sans-serif (DejaVu Sans) for Latin, digits and maths signs, then the CJK fonts.
    rcParams["font.family"] = ["sans-serif", *families]
    return families
