"""One translation function for every user-facing string: ``_("text")``.

The interface is written in English; catalogs for 繁體中文 and 简体中文 plug in here (gettext, under
``locales/``) without touching the pages. The chosen language lives in ``st.session_state["language"]``.
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
LANGUAGES = {"en": "English", "zh_Hant": "繁體中文", "zh_Hans": "简体中文"}
DEFAULT_LANGUAGE = "en"


@cache
def _translations(language: str) -> gettext.NullTranslations:
    return gettext.translation("messages", localedir=LOCALES_DIR, languages=[language], fallback=True)


def current_language() -> str:
    """The session's language code, or English outside a Streamlit session."""
    try:
        import streamlit as st

        return st.session_state.get("language", DEFAULT_LANGUAGE)
    except Exception:  # noqa: BLE001 - no Streamlit session (tests, CLI)
        return DEFAULT_LANGUAGE


def _(message: str) -> str:
    """Translate ``message`` into the session's language (the message itself when no catalog has it)."""
    return _translations(current_language()).gettext(message)
