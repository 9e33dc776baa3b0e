"""What one student's action costs the browser and the server, page by page (issue 17's class scenario).

    python benchmarks/page_cost.py [--moves N]

Starts ``streamlit run app.py`` on a free loopback port and drives one Debian Chromium context at 1280×720
through Playwright, as ``benchmarks/class_server.py`` does: it opens each page the class benchmark's students
visit once (caches, Streamlit's element code), then on each page a page switch and ``--moves`` slider moves
(default 8, alternating between the page's first two sliders), each timed until the rerun has ended on the server
and on screen. Around each, the CPU seconds (user + system, from /proc) of the server process and of every
Chromium process are read. Prints one Markdown table: per page, the median time on screen and the Chromium and
server core-seconds of one slider move and of the switch.

Not a test: the numbers depend on the machine and its load (the load average is printed beside them). Linux only
(/proc).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.class_server import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    CLICK_PLAN,
    Tab,
    _all_processes,
    _cpu_seconds,
    _descendants,
    find_server_pid,
    move_slider,
)
from tests.conftest import streamlit_server  # noqa: E402


def cpu(server_pid: int) -> tuple[float, float]:
    """(server, Chromium) CPU seconds so far: the server process itself, and every Chromium process this script
    started."""
    procs = _all_processes()
    mine = _descendants(os.getpid(), procs) - {server_pid} - _descendants(server_pid, procs)
    chromium = [pid for pid in mine if "chrom" in procs[pid][1].split(" ")[0]]
    return _cpu_seconds(server_pid), sum(_cpu_seconds(pid) for pid in chromium)


async def measure(url: str, moves: int) -> list[tuple]:
    from playwright.async_api import async_playwright

    server_pid = find_server_pid(urlparse(url).port)
    rows = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = await Tab.open(browser, "student")
        await tab.goto_home(url)
        for title, _n in CLICK_PLAN:  # warm: every page once
            await tab.open_page(title)
        for title, _n in CLICK_PLAN:
            s0, c0 = cpu(server_pid)
            switch = await tab.open_page(title)
            s1, c1 = cpu(server_pid)
            seconds = [await move_slider(tab, i % 2) for i in range(moves)]
            s2, c2 = cpu(server_pid)
            rows.append((title, statistics.median(seconds), (c2 - c1) / moves, (s2 - s1) / moves, switch,
                         c1 - c0, s1 - s0))
        await browser.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--moves", type=int, default=8, help="slider moves on each page (default 8)")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"Chromium is not at {CHROMIUM} (apt-get install -y chromium)", file=sys.stderr)
        return 2
    load = os.getloadavg()
    started = time.monotonic()
    with streamlit_server(None) as url:
        rows = asyncio.run(measure(url, max(1, args.moves)))
    print(f"One Chromium context at 1280×720, {args.moves} slider moves per page; {os.cpu_count()} CPU cores; "
          f"load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after")
    print()
    print("| page | slider move on screen (median) | Chromium CPU | server CPU | page switch on screen | "
          "Chromium CPU | server CPU |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for title, move_s, move_chromium, move_server, switch_s, switch_chromium, switch_server in rows:
        print(f"| {title} | {move_s:.2f} s | {move_chromium:.2f} core-s | {move_server:.2f} core-s | {switch_s:.2f} s "
              f"| {switch_chromium:.2f} core-s | {switch_server:.2f} core-s |")
    print(f"\n(whole benchmark: {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
