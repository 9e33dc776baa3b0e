"""App latency as a student feels it, in a real browser: the first render of every page of a fresh server,
and the re-render of Attention, step by step after a d_k slider move (T = 10 and T = 16 tokens).

    python benchmarks/app_latency.py [--repeats 7]

Starts ``streamlit run app.py`` on a free loopback port (as the browser tests do), drives Debian's Chromium
through Playwright at 1280×720, and prints one table. "First render" is the time from clicking the page in the
sidebar to its title on screen with every chart drawn, in the order of the sidebar, right after the server
started (the first visit also pays the page's imports; ``app.py`` imports the heavy modules in the background
while Home shows, so the benchmark waits 3 s on Home first, as a reader would). "Slider rerun" is the time
from the key press on the d_k slider to the new output shape on screen and painted (median and best of the
repeats, after one warm-up change). Issue 15's target for the slider: ≤ 0.3 s at T ≤ 16.

Not a test: the numbers depend on the machine and its load (printed beside them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import PAGES  # noqa: E402
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, streamlit_server  # noqa: E402
from tests.test_browser_explorer import SIXTEEN_TOKENS, _open, _time_d_k_changes, _wait_for_charts  # noqa: E402


def first_renders(page, url: str) -> list[tuple[str, float]]:
    """Seconds from a sidebar click to the page's title on screen with its charts drawn, page by page."""
    page.goto(url)
    page.get_by_text("The learning path").wait_for(timeout=60_000)
    page.wait_for_timeout(3000)  # a reader's first seconds on Home, while app.py warms the imports
    rows = []
    for _path, title, _icon, section in PAGES:
        if section == "Start":
            continue
        start = time.perf_counter()
        page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
        page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
        _wait_for_charts(page)
        rows.append((title, time.perf_counter() - start))
    return rows


def slider_reruns(page, url: str, repeats: int) -> dict[int, list[float]]:
    """Milliseconds per d_k slider change on Attention, step by step, at T = 10 and T = 16 tokens."""
    _open(page, url, "Attention, step by step", "Output: weights · V")
    _wait_for_charts(page)
    _time_d_k_changes(page, 10, 5, 1)  # warm-up
    out = {10: _time_d_k_changes(page, 10, 6, repeats)}
    d_k = 6 + repeats - 1  # where the slider stands now
    page.locator('[data-testid="stTextInputRootElement"] input').first.fill(SIXTEEN_TOKENS)
    page.keyboard.press("Enter")
    page.get_by_text(f"(T, T) · (T, d_v) = (16, {d_k})").wait_for(timeout=15_000)
    _wait_for_charts(page)
    out[16] = _time_d_k_changes(page, 16, d_k + 1, repeats)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="slider changes timed per length")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()[0]
    with streamlit_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        renders = first_renders(page, url)
        reruns = slider_reruns(page, url, args.repeats)
        browser.close()
    load_after = os.getloadavg()[0]
    print(f"\n1-minute load average: {load_before:.2f} before, {load_after:.2f} after; Chromium 1280×720\n")
    print("| page (first visit of a fresh server) | first render, s |")
    print("| --- | ---: |")
    for title, seconds in renders:
        print(f"| {title} | {seconds:.2f} |")
    print("\n| Attention, step by step: d_k slider rerun | median, ms | best, ms | target |")
    print("| --- | ---: | ---: | ---: |")
    for T, timings in reruns.items():
        print(f"| T = {T} tokens ({len(timings)} changes) | {statistics.median(timings):.0f} | {min(timings):.0f} | ≤ 300 |")


if __name__ == "__main__":
    main()
