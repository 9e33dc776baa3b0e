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

Each slider move is timed in the page itself, so that the timing does not slow what it times: a
MutationObserver installed before the key press notes when the new output shape appears in the page (and the
frame after it is painted), and when the last chart changed and was painted — every heatmap showing the new
values, the stricter figure. (Waiting with Playwright's text locator, as the browser test does, searches the
whole page's text on every frame, about 50 ms of the page's main thread per move on this machine.) Beside
each move: the CPU time the server and Chromium's renderer spent on it, from /proc.

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
from tests.test_browser_explorer import SIXTEEN_TOKENS, _open, _wait_for_charts  # noqa: E402

# Installed before each key press (window.__tcWatch): resolves when ``marker`` is in the page and, 1.5 s later, reports the
# milliseconds (page clock, from ``t0``) to the marker painted and to the last chart change painted.
WATCH = """([marker, t0]) => { window.__tcWatch = new Promise(resolve => {
  const out = {text: null, charts: null};
  let pending = false;  // one paint callback at a time for the charts, however many nodes change
  const inChart = n => { const el = n.nodeType === 1 ? n : n.parentElement;
                         return !!(el && el.closest('[data-testid="stVegaLiteChart"]')); };
  const hasMarker = n => (n.nodeType === 3 ? n.data : n.textContent || '').includes(marker);
  const painted = then => requestAnimationFrame(() => requestAnimationFrame(() => then(performance.now() - t0)));
  const observer = new MutationObserver(records => {
    let chart = false;
    for (const r of records) {
      if (!chart && inChart(r.target)) chart = true;
      if (out.text === null && r.type !== 'attributes'
          && (r.type === 'characterData' ? hasMarker(r.target) : [...r.addedNodes].some(hasMarker))) {
        out.text = -1;
        painted(t => { out.text = t; setTimeout(() => { observer.disconnect(); resolve(out); }, 1500); });
      }
    }
    if (chart && !pending) {
      pending = true;
      painted(t => { out.charts = t; pending = false; });
    }
  });
  observer.observe(document.body, {childList: true, subtree: true, characterData: true, attributes: true});
}); }"""


def _descendants() -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    children.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(name))
            except OSError:
                continue
    out, todo = [], [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def cpu_ms() -> dict[str, float]:
    """CPU time (user + system, ms) so far of this script's server and of Chromium's renderer processes."""
    out = {"server": 0.0, "renderer": 0.0}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in _descendants():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kind = "server" if "streamlit" in cmd else "renderer" if "--type=renderer" in cmd else None
        if kind:
            out[kind] += (int(fields[11]) + int(fields[12])) * 1000 / tick
    return out


def time_d_k_changes(page, T: int, first_d_k: int, n: int) -> list[dict[str, float]]:
    """Press → on the d_k slider n times; per press: ms to the new output shape painted ("text"), ms to the
    last chart change painted ("charts"), and the CPU ms of the server and the renderer."""
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="d_k").get_by_role("slider")
    rows = []
    for d_k in range(first_d_k, first_d_k + n):
        slider.focus()
        page.wait_for_timeout(300)
        before = cpu_ms()
        t0 = page.evaluate("() => performance.now()")
        page.evaluate(WATCH, [f"(T, T) · (T, d_v) = ({T}, {d_k})", t0])
        page.keyboard.press("ArrowRight")
        timing = page.evaluate("() => window.__tcWatch")
        after = cpu_ms()
        rows.append({**timing, **{f"{k} CPU": after[k] - before[k] for k in before}})
    return rows


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


def slider_reruns(page, url: str, repeats: int) -> dict[int, list[dict[str, float]]]:
    """Per d_k slider change on Attention, step by step, at T = 10 and T = 16 tokens: see time_d_k_changes."""
    _open(page, url, "Attention, step by step", "Output: weights · V")
    _wait_for_charts(page)
    time_d_k_changes(page, 10, 5, 1)  # warm-up
    out = {10: time_d_k_changes(page, 10, 6, repeats)}
    d_k = 6 + repeats - 1  # where the slider stands now
    page.locator('[data-testid="stTextInputRootElement"] input').first.fill(SIXTEEN_TOKENS)
    page.keyboard.press("Enter")
    page.get_by_text(f"(T, T) · (T, d_v) = (16, {d_k})").wait_for(timeout=15_000)
    _wait_for_charts(page)
    out[16] = time_d_k_changes(page, 16, d_k + 1, repeats)
    return out


def _cell(rows: list[dict[str, float]], key: str, best: bool = True) -> str:
    values = [r[key] for r in rows]
    return f"{statistics.median(values):.0f}" + (f" / {min(values):.0f}" if best else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="slider changes timed per length")
    parser.add_argument("--slider-only", action="store_true", help="skip the first renders of the pages")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()[0]
    with streamlit_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        renders = [] if args.slider_only else first_renders(page, url)
        reruns = slider_reruns(page, url, args.repeats)
        browser.close()
    load_after = os.getloadavg()[0]
    print(f"\n1-minute load average: {load_before:.2f} before, {load_after:.2f} after; Chromium 1280×720\n")
    print("| page (first visit of a fresh server) | first render, s |")
    print("| --- | ---: |")
    for title, seconds in renders:
        print(f"| {title} | {seconds:.2f} |")
    print("\n| Attention, step by step: d_k slider rerun (median / best, ms) | output shape painted | every chart "
          "painted | server CPU | renderer CPU | target |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for T, rows in reruns.items():
        print(f"| T = {T} tokens ({len(rows)} changes) | {_cell(rows, 'text')} | {_cell(rows, 'charts')} "
              f"| {_cell(rows, 'server CPU', False)} | {_cell(rows, 'renderer CPU', False)} | ≤ 300 |")


if __name__ == "__main__":
    main()
