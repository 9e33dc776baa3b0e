"""Every page of app.PAGES in English, 繁體中文 and 简体中文, through AppTest and the sidebar's language switch.

Each page opens in English and in each Chinese language: it must render without an exception, its title
must be the catalog's translation of the English one, and the translated headings must be shown (at least
one differs from English). The switch itself, and the choice holding on the next page, are tested on the
Home and Multi-head pages. The Generate and Attention-maps pages read tiny random checkpoints (as in
tests/test_pages_train_generate.py), so nothing large is loaded.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app import PAGES
from tests.conftest import REPO
from tests.test_pages_train_generate import make_addsub_checkpoint, make_lm_checkpoint
from ui.i18n import LANGUAGES, SESSION_KEY, SWITCH_LABEL, translate

TIMEOUT = 90


@pytest.fixture(scope="module")
def tiny_assets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("assets")
    make_lm_checkpoint(folder / "shakespeare")
    make_addsub_checkpoint(folder / "addsub")
    return folder


@pytest.fixture()
def env(tiny_assets, tmp_path, monkeypatch):
    monkeypatch.setenv("TC_ASSETS_DIR", str(tiny_assets))
    monkeypatch.setenv("TC_RUNS_DIR", str(tmp_path / "runs"))


def headings(at: AppTest) -> list[str]:
    return [e.value for kind in ("title", "header", "subheader") for e in getattr(at, kind)]


def switch(at: AppTest):
    boxes = [b for b in at.sidebar.selectbox if b.label == SWITCH_LABEL]
    assert len(boxes) == 1, "the sidebar has one language switch"
    return boxes[0]


def open_page(page: str, language: str | None = None) -> AppTest:
    """The app on ``page``, in ``language`` as chosen on the switch before (None: the session's default)."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    if language is not None:
        at.session_state[SESSION_KEY] = language
    at.run()
    at.switch_page(page).run()
    assert not at.exception, f"{page} in {language}: {at.exception}"
    return at


@pytest.mark.parametrize("page", [path for path, *_rest in PAGES])
def test_page_renders_in_every_language_with_translated_headings(page, env):
    """A fresh session per language: AppTest keeps the first run's format_func of a widget, so it cannot
    switch language under a page whose widgets format their options (the browser test switches for real)."""
    at = open_page(page)
    assert at.session_state[SESSION_KEY] == "en"  # AppTest has no browser language: English
    assert switch(at).options == list(LANGUAGES.values())
    english = headings(at)
    assert english, f"{page} shows no heading"

    for language in ("zh_Hant", "zh_Hans"):
        at = open_page(page, language)
        assert switch(at).value == language
        shown = headings(at)
        assert shown[0] == translate(english[0], language), f"{page} in {language}: title {shown[0]!r}"
        translated = [translate(h, language) for h in english if translate(h, language) != h]
        assert translated, f"{page}: no heading is translated into {language}"
        assert set(translated) <= set(shown), f"{page} in {language}: {shown}"


def test_the_language_holds_across_pages(env):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT).run()
    switch(at).set_value("zh_Hans").run()
    home_title = at.title[0].value
    at.switch_page("app_pages/multihead.py").run()
    assert not at.exception, at.exception
    assert at.session_state[SESSION_KEY] == "zh_Hans"
    assert switch(at).value == "zh_Hans"
    assert at.title[0].value == translate("Multi-head attention", "zh_Hans") != "Multi-head attention"
    at.switch_page("app_pages/home.py").run()
    assert at.title[0].value == home_title


def test_lang_query_parameter_sets_the_first_language(env):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    at.query_params["lang"] = "zh-TW"
    at.run()
    assert not at.exception, at.exception
    assert at.session_state[SESSION_KEY] == "zh_Hant"
    assert switch(at).value == "zh_Hant"
