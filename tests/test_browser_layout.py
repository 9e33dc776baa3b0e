"""Every page fits a 1280×720 projector and a 1920×1080 screen, in English and 繁體中文 (Chromium + Playwright).

A page fails when a chart (Vega canvas/svg), image, table or code block reaches past the right edge of the main
column, or is clipped inside its own box (its content wider than the box that shows it, with no scroll bar
meant for it). One app server, one browser context per size and language; each page is opened by its URL
(``?lang=`` picks the language), measured once its charts have drawn, then resized and measured again.
Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import pytest

from tests.conftest import ARTIFACTS, assert_no_exception_box
from ui.i18n import translate

pytestmark = pytest.mark.browser

SIZES = [(1280, 720), (1920, 1080)]
LANGUAGE_CODES = ["en", "zh_Hant"]
# A 500-word paragraph (capped at the page's 64 tokens): the heatmaps must still fit, with thinned labels.
LONG_TEXT = "text=" + "+".join(f"word{i % 50}" for i in range(500))
# Sliders at widths that ran past the column at 1280×720: Q, K and V side by side at d_k = 6 (by 100 px), one under
# another at d_k = 32; Multi-head's W_O and output at d_model = 64 (by 30 px), now one under the other.
PAGES = ["", "tokens", "attention_steps", f"attention_steps?{LONG_TEXT}", "attention_steps?d_k=6",
         "attention_steps?d_k=32&d_model=48", "multihead", "multihead?d_model=64&heads=8", f"multihead?{LONG_TEXT}",
         "block", "cost", "train", "generate", "translate", "attention_maps", "model_view"]

# Everything that draws something a reader must see whole; measured against the main column's right edge
# (1 px of rounding allowed) and for clipping inside its own box.
MEASURE = r"""() => {
  const main = document.querySelector('[data-testid="stMainBlockContainer"]');
  const right = main.getBoundingClientRect().right - parseFloat(getComputedStyle(main).paddingRight) + 2;
  const found = [];
  const selectors = ['[data-testid="stVegaLiteChart"]', '[data-testid="stImage"] img', '[data-testid="stDataFrame"]',
                     '[data-testid="stTable"]', '[data-testid="stCode"]', '[data-testid="stMarkdownContainer"]',
                     '.katex-display', '[data-testid="stMetric"]', '[data-testid="stButtonGroup"]'];
  for (const sel of selectors) {
    for (const el of document.querySelectorAll(sel)) {
      if (el.closest('[data-testid="stSidebar"]') || el.closest('[data-testid="stExpanderDetails"]') && !el.offsetParent) continue;
      const box = el.getBoundingClientRect();
      if (box.width === 0) continue;
      const name = sel + ' ' + (el.innerText || '').slice(0, 40).replace(/\s+/g, ' ');
      const column = el.closest('[data-testid="stColumn"]');
      const edge = column ? Math.min(right, column.getBoundingClientRect().right + 2) : right;
      if (box.right > edge) found.push(`${name}: right edge ${Math.round(box.right)} > column ${Math.round(edge)}`);
      if (sel.includes('katex') && el.scrollWidth > el.clientWidth + 2)
        found.push(`${name}: formula ${el.scrollWidth} px clipped to ${el.clientWidth} px`);
      if (sel.includes('VegaLite')) {
        const drawn = el.querySelector('canvas, svg');
        if (drawn) {
          const d = drawn.getBoundingClientRect();
          if (d.right > edge) found.push(`${name}: drawing ends at ${Math.round(d.right)} > column ${Math.round(edge)}`);
          if (d.right > box.right + 2) found.push(`${name}: drawing ${Math.round(d.width)} px clipped by its box ${Math.round(box.width)} px`);
        }
      }
    }
  }
  return found;
}"""


def _settle(page) -> None:
    """Wait until the script has finished (no "Running…" widget) and every chart has drawn."""
    page.wait_for_timeout(600)  # the script goes on drawing after the title
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=60_000)
    _wait_for_charts(page)
    page.wait_for_timeout(300)  # Vega sizes its canvas a frame after drawing it


def _wait_for_charts(page) -> None:
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
                .every(el => el.querySelector('canvas, svg'))""",
        timeout=60_000,
    )


@pytest.mark.parametrize(("language", "present"), [(code, False) for code in LANGUAGE_CODES] + [("en", True)])
def test_every_page_fits_the_main_column(app_url, browser, language, present):
    """Each page is drawn once per language and measured at both sizes (a resize reflows it; no rerun).

    In presentation mode (``present=1``: the sidebar collapsed, larger text and charts 1.3 × larger, see
    :func:`ui.links.chart_size_scale`) too: the bigger charts must still fit the column the sidebar leaves."""
    context = browser.new_context(viewport={"width": SIZES[0][0], "height": SIZES[0][1]})
    page = context.new_page()
    problems = []
    try:
        for path in PAGES:
            page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
            page.goto(f"{app_url}/{path}{'&' if '?' in path else '?'}lang={language}{'&present=1' if present else ''}")
            page.locator('[data-testid="stMainBlockContainer"] h1').first.wait_for(timeout=60_000)
            _settle(page)
            assert_no_exception_box(page)
            if path == "generate":  # measure its results too: the text, the candidates, the heads of each layer
                page.get_by_test_id("stMain").get_by_role("button", name=translate("Generate", language),
                                                         exact=True).click()
                page.get_by_role("heading", name=translate("Generated text", language), exact=True).wait_for(timeout=60_000)
                _settle(page)
                assert_no_exception_box(page)
            for width, height in SIZES:
                page.set_viewport_size({"width": width, "height": height})
                page.wait_for_timeout(300)
                name = (path or "home").split("?")[0] + ("_long" if "text=" in path else "_wide" if "?" in path else "") + ("_present" if present else "")
                problems += [f"{name} {width}×{height} {language}: {p}" for p in page.evaluate(MEASURE)]
                page.screenshot(path=str(ARTIFACTS / f"layout_{name}_{width}_{language}.png"))
    finally:
        context.close()
    assert not problems, "\n".join(problems)
