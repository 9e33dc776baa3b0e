"""In Chromium: a run belongs to its browser, not to the page's websocket.

A student starts a run (a time limit of 90 s, of which about 30 s are used); the page's websocket drops (Streamlit reconnects) and the run trains on; the
student reloads the page and finds the run again, still progressing; the page's scripts stop for longer than the
grace period (no rerun, no heartbeat) while it stays connected, and the run trains on; then the browser closes, and within the
grace period (4 s here) plus 5 s the server stops the run and frees its slot, as another browser's Train page
reads in its slots caption. The server runs with its own runs folder and ``TC_OWNER_GRACE_S=4``.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.conftest import ARTIFACTS, assert_no_exception_box, streamlit_server

pytestmark = pytest.mark.browser

GRACE_S = 4
KEEP_SOCKETS = """
window.__sockets = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = function (...args) { const ws = new NativeWebSocket(...args); window.__sockets.push(ws); return ws; };
window.WebSocket.prototype = NativeWebSocket.prototype;
Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server(ARTIFACTS / "streamlit-reload.log",
                          env={"TC_OWNER_GRACE_S": str(GRACE_S), "TC_RUNS_DIR": str(runs), "TC_MAX_JOBS": "2"}) as url:
        yield url, runs


def open_train(page, url: str) -> None:
    page.goto(f"{url}/train")
    page.get_by_text("Training slots on this server").first.wait_for(timeout=60_000)


def current_step(page) -> int:
    box = page.locator('[data-testid="stMetric"]').filter(has=page.get_by_text("step", exact=True)).first
    return int(box.locator('[data-testid="stMetricValue"]').inner_text().replace(",", ""))


def wait_for_step_above(page, step: int, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            now = current_step(page)
        except (ValueError, Exception):  # the metric is being redrawn
            now = -1
        if now > step:
            return now
        time.sleep(0.5)
    raise AssertionError(f"the run did not get past step {step} within {timeout:.0f} s")


def slots_in_use(page) -> int:
    text = page.get_by_text("Training slots on this server").first.inner_text()
    return int(re.search(r"(\d+) of \d+ in use", text)[1])


def test_a_run_survives_a_websocket_drop_and_a_reload_and_stops_after_the_grace_period(server, browser):
    url, runs = server
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    context.add_init_script(KEEP_SOCKETS)
    page = context.new_page()
    open_train(page, url)
    steps = page.get_by_role("spinbutton", name="steps (0 = no step limit)")
    steps.fill("1000000")
    steps.press("Enter")
    limit = page.get_by_role("spinbutton", name=re.compile(r"^time limit in seconds"))
    limit.fill("90")  # about 20 s of it are needed on an idle machine; a loaded one needs more
    limit.press("Enter")
    time.sleep(1.0)  # the rerun that takes the new values
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Status: running").first.wait_for(timeout=60_000)
    before_drop = wait_for_step_above(page, 0)
    cookie = [c for c in context.cookies() if c["name"] == "tc_browser"]
    assert cookie and cookie[0]["sameSite"] == "Strict" and len(cookie[0]["value"]) >= 16

    # The websocket drops; Streamlit reconnects; the run trains on and the page keeps showing it.
    closed = page.evaluate("() => { let n = 0; window.__sockets.forEach(ws => { if (ws.readyState === 1) "
                           "{ ws.close(); n++; } }); return n; }")
    assert closed >= 1
    after_drop = wait_for_step_above(page, before_drop)
    page.get_by_text("Status: running").first.wait_for(timeout=30_000)  # (it may be mid-redraw this instant)

    # A reload: a new session of the same browser lists the run again and follows it.
    page.reload()
    page.get_by_text("Status: running").first.wait_for(timeout=60_000)
    wait_for_step_above(page, after_drop)
    assert_no_exception_box(page)
    page.screenshot(path=str(ARTIFACTS / "reload_run_found_again.png"))
    run_files = list(runs.glob("*/run.json"))
    assert len(run_files) == 1 and json.loads(run_files[0].read_text())["status"] == "running"

    # The tab's scripts stop (a laptop too loaded to run them, a background tab whose timers the browser slows):
    # no rerun, no heartbeat, but the page stays connected, so the run trains on past the grace period.
    debugger = context.new_cdp_session(page)
    debugger.send("Debugger.enable")
    debugger.send("Debugger.pause")
    time.sleep(GRACE_S + 6)
    assert json.loads(run_files[0].read_text())["status"] == "running"
    debugger.send("Debugger.resume")
    wait_for_step_above(page, after_drop)

    # The browser closes: no tab of the owner is seen; after the grace period the run stops and frees its slot.
    context.close()
    closed_at = time.monotonic()
    other = browser.new_context(viewport={"width": 1280, "height": 720})
    watcher = other.new_page()
    try:
        open_train(watcher, url)
        while slots_in_use(watcher) != 0:
            assert time.monotonic() - closed_at < GRACE_S + 5 + 3, "the slot was not freed in time"  # + a page load
            time.sleep(0.5)
            open_train(watcher, url)
        freed_after = time.monotonic() - closed_at
        state = json.loads(run_files[0].read_text())
        assert state["status"] == "stopped", state
        assert state["message"] == f"Stopped: no tab of its owner was open for {GRACE_S} s."
        assert freed_after < GRACE_S + 5 + 3
        # The other browser does not see someone else's run.
        watcher.get_by_text("No runs yet").first.wait_for(timeout=30_000)
        assert watcher.get_by_role("heading", name=re.compile(r"^Run #")).count() == 0
    finally:
        other.close()
