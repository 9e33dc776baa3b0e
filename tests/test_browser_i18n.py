"""The language switch in a real browser (Debian Chromium via Playwright).

Switch the sidebar's language to each of English, 繁體中文 and 简体中文: the headings change, the choice
holds on the next page, no exception box; a screenshot per language lands in test-artifacts/. A browser
whose language is zh-TW opens the app in 繁體中文. The README's screenshot (docs/screenshots/
language_switch.png) is the Attention page in 繁體中文 with Chinese tokens on its heatmap axes: the test writes it
to test-artifacts/ and, only with ``TC_UPDATE_SCREENSHOTS=1`` in the environment, over the README's copy (a test
run leaves tracked files alone).
"""

from __future__ import annotations

import os
import shutil

import pytest
from playwright.sync_api import expect

from tests.conftest import ARTIFACTS, REPO, assert_no_exception_box
from ui.i18n import LANGUAGES, SWITCH_LABEL, translate

pytestmark = pytest.mark.browser

SCREENSHOT = REPO / "docs" / "screenshots" / "language_switch.png"
CHINESE_SENTENCE = "貓 坐 在 墊子 上 因為 牠 累 了"


def _switch(page):
    return page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name=SWITCH_LABEL)


def _choose_language(page, language: str) -> None:
    _switch(page).click()
    page.get_by_role("option", name=LANGUAGES[language], exact=True).click()


def _nav_link(page, title: str, language: str):
    return page.locator('[data-testid="stSidebarNav"]').get_by_text(translate(title, language), exact=True)


def _heading(page, text: str):
    return page.get_by_role("heading", name=text, exact=True)


def _wait_for_charts(page) -> None:
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
                .every(el => el.querySelector('canvas, svg'))""",
        timeout=30_000,
    )


def test_switch_language_and_keep_it_across_pages(app_url, page):
    page.goto(app_url)
    _heading(page, "The learning path").wait_for(timeout=60_000)
    for language in ("zh_Hant", "zh_Hans", "en"):
        _choose_language(page, language)
        _heading(page, translate("The learning path", language)).wait_for(timeout=30_000)
        if language != "en":
            assert _heading(page, "The learning path").count() == 0
        # another page, by its translated link in the sidebar: the language holds
        _nav_link(page, "Multi-head attention", language).click()
        _heading(page, translate("Multi-head attention", language)).wait_for(timeout=60_000)
        _wait_for_charts(page)
        assert_no_exception_box(page)
        assert _switch(page).input_value() == LANGUAGES[language]
        page.screenshot(path=str(ARTIFACTS / f"language_{language}.png"))
        _nav_link(page, "Home", language).click()
        _heading(page, translate("The learning path", language)).wait_for(timeout=30_000)


def test_switching_language_on_a_page_with_formatted_options(app_url, page):
    """The Train page's selectboxes and radios show translated option names: a switch keeps the page working."""
    page.goto(app_url)
    _heading(page, "The learning path").wait_for(timeout=60_000)
    _nav_link(page, "Train", "en").click()
    _heading(page, "Train").wait_for(timeout=60_000)
    for language in ("zh_Hant", "zh_Hans", "en"):
        _choose_language(page, language)
        _heading(page, translate("Train", language)).wait_for(timeout=30_000)
        # the selected option keeps its value and shows its name in the new language
        positional = page.get_by_role("combobox", name=translate("positional encoding", language))
        expect(positional).to_have_value(translate("sinusoidal (the paper)", language), timeout=30_000)
        assert_no_exception_box(page)


@pytest.fixture()
def taiwan_page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-TW")
    pg = context.new_page()
    yield pg
    context.close()


def test_browser_language_is_the_default_and_readme_screenshot(app_url, taiwan_page):
    page = taiwan_page
    page.goto(app_url)
    _heading(page, translate("The learning path", "zh_Hant")).wait_for(timeout=60_000)
    _nav_link(page, "Attention, step by step", "zh_Hant").click()
    _heading(page, translate("Attention, step by step", "zh_Hant")).wait_for(timeout=60_000)
    sentence = page.get_by_role("textbox", name=translate("Your sentence", "zh_Hant"), exact=True)
    sentence.fill(CHINESE_SENTENCE)
    sentence.press("Enter")
    # the page reruns with the Chinese tokens: wait until the run is over and the charts have drawn
    page.wait_for_timeout(500)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    _wait_for_charts(page)
    assert_no_exception_box(page)
    # a rerun from a widget keeps the browser's language (the switch's default, not a value set behind it)
    expect(_switch(page)).to_have_value(LANGUAGES["zh_Hant"], timeout=30_000)
    expect(page.get_by_role("textbox", name=translate("Your sentence", "zh_Hant"), exact=True)).to_have_value(
        CHINESE_SENTENCE, timeout=30_000
    )
    expect(_heading(page, translate("Attention, step by step", "zh_Hant"))).to_be_visible(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "language_zh_Hant_attention.png"))
    # the README's picture: the switch in the sidebar beside the first heatmap, whose rows are Chinese tokens
    page.locator('[data-testid="stVegaLiteChart"]').first.evaluate(
        "el => el.closest('[data-testid=stVerticalBlock]').querySelector('h3').scrollIntoView({block: 'start'})"
    )
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / SCREENSHOT.name))
    if os.environ.get("TC_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(ARTIFACTS / SCREENSHOT.name, SCREENSHOT)
