"""The five explorer pages in a real browser (Debian Chromium via Playwright): every page renders without an
exception box, the step-by-step page re-renders when a slider moves (timed and printed), screenshots land in
test-artifacts/."""

from __future__ import annotations

import statistics
import time

import pytest

from tests.conftest import ARTIFACTS, assert_no_exception_box

pytestmark = pytest.mark.browser

PAGES = [
    # (sidebar link, text that appears once the page has rendered, screenshot)
    ("Tokens & embeddings", "Position-to-position similarity", "explorer_tokens.png"),
    ("Attention, step by step", "Output: weights · V", "explorer_attention_steps.png"),
    ("Multi-head attention", "matches the book's 3 printed decimals", "explorer_multihead.png"),
    ("Inside a block", "Final output size (2, 5, 10)", "explorer_block.png"),
    ("Cost of attention", "Measure on this machine", "explorer_cost.png"),
]


def _open(page, app_url: str, link: str, marker: str) -> None:
    page.goto(app_url)
    page.get_by_text("The learning path").wait_for(timeout=60_000)
    page.locator('[data-testid="stSidebarNav"]').get_by_text(link, exact=True).click()
    page.get_by_text(marker).first.wait_for(timeout=60_000)


def _wait_for_charts(page) -> None:
    """Wait until every Vega chart on the page has drawn (a canvas or an svg inside each)."""
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
                .every(el => el.querySelector('canvas, svg'))""",
        timeout=30_000,
    )


def _content_height(page) -> int:
    return int(page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stMainBlockContainer]')]"
        ".map(e => e.scrollHeight), 1000)"
    ))


def _full_screenshot(page, name: str) -> None:
    """Screenshot the whole page: Streamlit scrolls inside its main block, so grow the viewport to fit it."""
    height = 0
    for _ in range(4):  # the layout grows as charts draw; stop when it no longer changes
        new_height = min(_content_height(page) + 40, 9000)
        if new_height == height:
            break
        height = new_height
        page.set_viewport_size({"width": 1400, "height": height})
        page.wait_for_timeout(800)
    _wait_for_charts(page)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})


@pytest.mark.parametrize("link, marker, shot", PAGES, ids=[p[2].removesuffix(".png") for p in PAGES])
def test_explorer_page_renders_without_exception(app_url, page, link, marker, shot):
    _open(page, app_url, link, marker)
    _wait_for_charts(page)
    assert_no_exception_box(page)
    assert page.get_by_role("heading", name=link).count() >= 1
    if link == "Cost of attention":
        page.get_by_role("button", name="Measure on this machine").click()
        page.get_by_text("Fitted slopes").wait_for(timeout=90_000)
        page.get_by_text("4.03×").first.wait_for(timeout=15_000)  # seed 004's ratio, beside the measured slopes
        _wait_for_charts(page)
        assert_no_exception_box(page)
    _full_screenshot(page, shot)


SIXTEEN_TOKENS = "the quick brown fox jumps over the lazy dog while the cat sat on the mat"


def _time_d_k_changes(page, T: int, first_d_k: int, n: int) -> list[float]:
    """Press → on the d_k slider n times; for each, ms until the new output shape is on screen and painted."""
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="d_k").get_by_role("slider")
    timings = []
    for d_k in range(first_d_k, first_d_k + n):
        slider.focus()
        start = time.perf_counter()
        page.keyboard.press("ArrowRight")
        page.get_by_text(f"(T, T) · (T, d_v) = ({T}, {d_k})").wait_for(timeout=15_000)
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        timings.append((time.perf_counter() - start) * 1000)
        page.wait_for_timeout(300)
    return timings


def test_step_by_step_slider_rerenders_fast(app_url, page):
    """Move the d_k slider with the keyboard and time until the new output shape is on screen and painted."""
    _open(page, app_url, "Attention, step by step", "Output: weights · V")
    _wait_for_charts(page)
    assert page.get_by_text("(T, T) · (T, d_v) = (10, 4)").count() == 1
    _time_d_k_changes(page, 10, 5, 1)  # warm-up: the first change also pays one-time costs (JIT, caches)
    ten = _time_d_k_changes(page, 10, 6, 5)
    page.locator('[data-testid="stTextInputRootElement"] input').first.fill(SIXTEEN_TOKENS)
    page.keyboard.press("Enter")
    page.get_by_text("(T, T) · (T, d_v) = (16, 10)").wait_for(timeout=15_000)
    _wait_for_charts(page)
    sixteen = _time_d_k_changes(page, 16, 11, 5)
    _wait_for_charts(page)
    assert_no_exception_box(page)
    for T, timings in ((10, ten), (16, sixteen)):
        print(f"\nstep-by-step re-render after a d_k slider change, {T} tokens: "
              f"{', '.join(f'{t:.0f}' for t in timings)} ms; median {statistics.median(timings):.0f} ms, "
              f"best {min(timings):.0f} ms")
    # The target is < 500 ms on a laptop; a shared CI machine gets a generous bound.
    assert statistics.median(ten) < 3000 and statistics.median(sixteen) < 3000

    page.get_by_role("radio", name="causal").click()
    page.get_by_text("Causal mask: token i may attend to itself and earlier tokens (j ≤ i)").wait_for(timeout=15_000)
    _wait_for_charts(page)
    assert_no_exception_box(page)
    page.locator('[data-testid="stTextInputRootElement"] input').first.fill("我愛注意力 👍🏽")
    page.keyboard.press("Enter")
    page.get_by_text("(T, T) · (T, d_v) = (6, 15)").wait_for(timeout=15_000)
    _wait_for_charts(page)
    assert_no_exception_box(page)
    page.get_by_text("① X: the tokens as vectors").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "explorer_attention_steps_chinese.png"))
    page.locator('[data-testid="stTextInputRootElement"] input').first.fill("")
    page.keyboard.press("Enter")
    page.get_by_text("The text is empty").wait_for(timeout=15_000)
    page.get_by_text("(T, T) · (T, d_v) = (10, 15)").wait_for(timeout=15_000)  # the example sentence instead
    assert_no_exception_box(page)
    page.screenshot(path=str(ARTIFACTS / "explorer_attention_steps_empty_text.png"))
