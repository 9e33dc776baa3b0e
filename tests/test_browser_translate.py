"""End to end in Chromium: translate a sentence with the shipped English→German model, greedy then beam search,
and see the cross-attention alignment. Screenshots go to test-artifacts/ (translate.png is the README's, copied
to docs/screenshots/ by hand).
"""

from __future__ import annotations

import pytest

from tests.conftest import assert_no_exception_box
from tests.test_browser_train_generate import open_page, screenshot
from ui.checkpoints import assets_dir

pytestmark = pytest.mark.browser

SHIPPED_EN_DE = assets_dir() / "multi30k_en_de"  # assets/multi30k_en_de, or under TC_ASSETS_DIR
SENTENCE = "A man in a blue shirt is playing the guitar on the street."


def test_translate_with_the_shipped_model_and_see_the_alignment(app_url, page):
    if not (SHIPPED_EN_DE / "model.safetensors").is_file():
        pytest.skip(f"the shipped English→German checkpoint is not there ({SHIPPED_EN_DE})")
    open_page(page, app_url, "Translate")
    page.get_by_role("heading", name="Translation (German)").wait_for(timeout=60_000)
    chosen = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"] input').first.input_value()
    assert "Multi30k English→German (shipped)" in chosen

    box = page.get_by_role("textbox", name="Your sentence (English)")
    box.fill(SENTENCE)
    box.press("Enter")
    page.get_by_text("Ein Mann", exact=False).first.wait_for(timeout=60_000)
    translation = page.locator("div[style*='font-size: 1.25rem']").first.inner_text()
    assert "Mann" in translation and ("Gitarre" in translation or "Hemd" in translation), translation
    page.get_by_role("heading", name="Alignment: cross-attention").wait_for()
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.wait_for(timeout=30_000)
    size = chart.bounding_box()
    assert size and size["width"] > 300 and size["height"] > 200
    assert_no_exception_box(page)

    page.get_by_text("beam search", exact=True).click()
    page.get_by_text("The n-best list (best first)").wait_for(timeout=60_000)
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=30_000)
    page.get_by_text("beam search, width 4, length penalty α = 0.6").first.wait_for()
    assert "Mann" in page.locator("div[style*='font-size: 1.25rem']").first.inner_text()
    assert_no_exception_box(page)
    screenshot(page, "translate.png")

    for bad, message in (("", "The sentence is empty"), ("A 狗 runs.", "“狗”")):
        box = page.get_by_role("textbox", name="Your sentence (English)")
        box.fill(bad)
        box.press("Enter")
        page.get_by_text(message, exact=False).first.wait_for(timeout=30_000)
        assert_no_exception_box(page)
