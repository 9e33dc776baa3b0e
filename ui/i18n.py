"""One translation function for every user-facing string: ``_("text")``; and the sidebar's language switch.

The interface is written in English; the catalogs for 繁體中文 (``zh_Hant``) and 简体中文 (``zh_Hans``) live in
``locales/<code>/LC_MESSAGES/messages.po`` and are managed with Babel (see ``locales/README.md``). The chosen
language lives in ``st.session_state["language"]``; the router (``app.py``) draws :func:`language_switch` on
every page, so the choice holds across pages for the whole session.

Catalogs are read from the ``.po`` files themselves when first needed (Babel's ``read_po`` → an in-memory
``.mo`` → :class:`gettext.GNUTranslations`), so no compiled file can fall out of step with its source.
Fuzzy and empty entries are left out, as ``msgfmt`` does: they show the English text.

Strings that reach the user through a variable (page titles, preset descriptions, stage names) are marked
where they are written with :func:`N_` — Babel extracts them, nothing is translated there — and are passed
through ``_()`` where they are shown.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
LANGUAGES = {"en": "English", "zh_Hant": "繁體中文", "zh_Hans": "简体中文"}
DEFAULT_LANGUAGE = "en"
SESSION_KEY = "language"
QUERY_PARAM = "lang"
SWITCH_LABEL = "Language / 語言 / 语言"  # the same in every language: a lost reader still finds it
# BCP 47 tag of each language, for a browser's lang attribute or a test.
HTML_LANG = {"en": "en", "zh_Hant": "zh-Hant", "zh_Hans": "zh-Hans"}

# Browser tags → the catalog they read, for babel's negotiation (a script subtag, zh-Hant / zh-Hans, is matched
# as written): Chinese without a script by region, Traditional in Taiwan, Hong Kong and Macau.
_ALIASES = {"zh": "zh_Hans", "zh-cn": "zh_Hans", "zh-sg": "zh_Hans", "zh-tw": "zh_Hant", "zh-hk": "zh_Hant",
            "zh-mo": "zh_Hant"}


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it (gettext's ``gettext_noop``): translate it with
    ``_()`` where it is shown."""
    return message


def catalog_path(language: str) -> Path:
    return LOCALES_DIR / language / "LC_MESSAGES" / "messages.po"


@cache
def _translations(language: str) -> gettext.NullTranslations:
    """The language's catalog as gettext translations (English, or a missing catalog: the messages themselves).

    Read once per process: restart the server after editing a ``.po`` file.
    """
    path = catalog_path(language)
    if language == DEFAULT_LANGUAGE or not path.is_file():
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as f:
        catalog = read_po(f, locale=language)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)  # leaves out fuzzy and untranslated entries
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def negotiate_language(tags: list[str | None]) -> str | None:
    """The language code of :data:`LANGUAGES` for the first of ``tags`` (browser locales, most preferred first)
    that has one, by :meth:`babel.Locale.negotiate`; None when none is Chinese or English.

    "zh-TW", "zh-HK", "zh-MO", "zh-Hant…" → zh_Hant; "zh", "zh-CN", "zh-SG", "zh-Hans…" → zh_Hans; "en…" → en.
    The codes themselves ("zh_Hant", "zh_Hans", "en") are accepted too.
    """
    from babel import Locale

    # Language and script or region only ("zh-Hant-TW" → "zh-Hant"): babel falls back to the bare language alone.
    preferred = ["-".join(tag.strip().replace("_", "-").split("-")[:2]) for tag in tags if tag and tag.strip()]
    locale = Locale.negotiate(preferred, [HTML_LANG[code] for code in LANGUAGES], sep="-", aliases=_ALIASES)
    return str(locale) if locale is not None and str(locale) in LANGUAGES else None


def _accept_language(header: str | None) -> list[str]:
    """The tags of an HTTP Accept-Language header, most preferred first ("zh-TW,zh;q=0.9,en;q=0.8")."""
    tags = []
    for i, item in enumerate((header or "").split(",")):
        tag, _sep, params = item.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag and tag != "*":
            tags.append((-q, i, tag))
    return [tag for _q, _i, tag in sorted(tags)]


def initial_language() -> str:
    """The language a new session starts in: ``?lang=`` in the URL, else the browser's language where Streamlit
    exposes it (``st.context.locale``, then the Accept-Language header), else English."""
    import streamlit as st

    candidates = [st.query_params.get(QUERY_PARAM)]
    try:
        candidates.append(st.context.locale)
        candidates += _accept_language(st.context.headers.get("Accept-Language"))
    except Exception:  # noqa: BLE001 - no browser behind the session (AppTest)
        pass
    return negotiate_language(candidates) or DEFAULT_LANGUAGE


def language_switch() -> str:
    """The sidebar's language picker (English, 繁體中文, 简体中文); returns the session's language code.

    Call it on every run before anything is translated (the router does): its key is the session's language,
    so a change applies to the whole page, and the choice holds across pages.
    """
    import streamlit as st

    chosen = st.session_state.get(SESSION_KEY)
    # The first language is the widget's default (index), not a value assigned to its key: a value assigned
    # before the browser knows the widget can be overwritten by the browser's own default on a later rerun.
    first = chosen if chosen in LANGUAGES else initial_language()
    return st.sidebar.selectbox(
        SWITCH_LABEL, list(LANGUAGES), index=list(LANGUAGES).index(first), format_func=LANGUAGES.__getitem__,
        key=SESSION_KEY, on_change=_resend_option_widgets,
    )


def _resend_option_widgets() -> None:
    """After a switch, have every widget with named options send its choice to the browser again.

    A selectbox, radio, multiselect, segmented control… keeps its value across the switch (its key is its
    identity), but the browser goes on showing the old language's name of the chosen option (seen in
    Streamlit 1.67). Assigning a widget's own value back to it marks it as set by the script, so the next run
    sends the choice with its name in the new language. Only widgets whose options are formatted are
    touched (found through Streamlit's widget metadata; buttons and uploaders refuse assignments). Without
    that metadata (another Streamlit version) nothing is done: the old names then show until the next change.
    """
    import streamlit as st

    try:
        from streamlit.runtime.state import get_session_state

        state = get_session_state()._state
        metadata = state._new_widget_state.widget_metadata
        keys = [k for k in st.session_state if k != SESSION_KEY]
        formatted = [
            k for k in keys
            if hasattr(getattr(getattr(metadata.get(state._get_widget_id(k)), "deserializer", None), "__self__", None),
                       "formatted_options")
        ]
    except Exception:  # noqa: BLE001 - Streamlit internals differ: keep the old names until the next change
        return
    for key in formatted:
        st.session_state[key] = st.session_state[key]


def current_language() -> str:
    """The session's language code, or English outside a Streamlit session."""
    try:
        import streamlit as st

        language = st.session_state.get(SESSION_KEY, DEFAULT_LANGUAGE)
    except Exception:  # noqa: BLE001 - no Streamlit session (tests, CLI)
        return DEFAULT_LANGUAGE
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def translate(message: str, language: str) -> str:
    """``message`` in ``language`` (the message itself when the catalog lacks it or marks it fuzzy)."""
    return _translations(language).gettext(message)


def _(message: str) -> str:
    """Translate ``message`` into the session's language (the message itself when no catalog has it)."""
    return _translations(current_language()).gettext(message)
