"""In Chromium at 1280×720: an AddSub run on the Train page, its cross-attention at the first and the last
snapshot (the step slider moved with the keyboard). Screenshots go to test-artifacts/."""

from __future__ import annotations

import time

import pytest

from tests.conftest import ARTIFACTS, assert_no_exception_box
from tests.test_browser_train_generate import open_page

pytestmark = pytest.mark.browser


def test_cross_attention_at_the_first_and_last_snapshot(app_url, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    try:
        open_page(page, app_url, "Train")
        page.get_by_text("Training slots on this server").first.wait_for(timeout=30_000)
        page.get_by_role("button", name="Start training").click()
        page.get_by_text("Status: finished").first.wait_for(timeout=60_000)
        heading = page.get_by_role("heading", name="Attention while it learned")
        heading.wait_for(timeout=30_000)
        slider = page.get_by_test_id("stSlider").filter(has_text="Training step of the snapshot").get_by_role("slider")
        slider.wait_for(timeout=30_000)
        assert slider.get_attribute("aria-valuetext") == "60"
        heatmaps = page.get_by_test_id("stVegaLiteChart").filter(has=page.locator("canvas, svg")).last
        heatmaps.scroll_into_view_if_needed()
        page.get_by_text("after step 60").first.wait_for(timeout=15_000)
        time.sleep(1.0)
        last = heatmaps.screenshot(path=str(ARTIFACTS / "snapshots_cross_last.png"))
        slider.focus()
        page.keyboard.press("Home")
        page.get_by_text("after step 1", exact=False).first.wait_for(timeout=15_000)
        assert slider.get_attribute("aria-valuetext") == "1"
        time.sleep(1.0)
        heatmaps.scroll_into_view_if_needed()
        first = heatmaps.screenshot(path=str(ARTIFACTS / "snapshots_cross_first.png"))
        assert first != last, "the heatmaps did not change with the step"
        assert page.get_by_text("Cross-attention (decoder → encoder), layer 1, after step 1").count() >= 1
        assert_no_exception_box(page)
    finally:
        context.close()
