"""The measuring parts of benchmarks/class_server.py, without a browser or a server (the benchmark itself is not a
test): when a rerun counts as ended, how a run's speed is read off the page, the percentile."""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("playwright", reason="the benchmark drives Chromium through Playwright")
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

from benchmarks.class_server import Run, Tab, percentile  # noqa: E402


class _Page:
    def on(self, _event, _handler) -> None:  # the websocket listener is fed by hand below
        pass


def _status(running: bool) -> bytes:
    msg = ForwardMsg()
    msg.session_status_changed.script_is_running = running
    return msg.SerializeToString()


def _finished(status: int) -> bytes:
    msg = ForwardMsg()
    msg.script_finished = status
    return msg.SerializeToString()


def test_a_rerun_ends_on_the_real_end_not_on_an_early_stop_for_st_rerun():
    async def scenario() -> None:
        tab = Tab("t", None, _Page())
        before = tab.seq
        tab._on_frame(_status(True))
        tab._on_frame(_finished(ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN))
        tab._on_frame(_status(False))  # st.rerun: not the end yet
        with pytest.raises(TimeoutError):
            await tab.wait_idle(before, timeout=0.05)
        tab._on_frame(_status(True))
        tab._on_frame(_finished(ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY))
        tab._on_frame(_status(False))
        await tab.wait_idle(before, timeout=1.0)
        # a run that ended before the action does not count for it
        with pytest.raises(TimeoutError):
            await tab.wait_idle(tab.seq, timeout=0.05)
        tab._on_frame(_status(True))
        tab._on_frame(b"x" * 500)  # large frames (deltas) are not decoded
        tab._on_frame("text")
        assert tab.running

    # in a thread of its own: Playwright's sync API (the browser tests) may hold this thread's event loop
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result()


def test_steps_per_second_from_a_lagging_page():
    """A run at exactly 12.5 steps/s whose page refreshes every 1.3 s, 0.7 s late, read every second with jitter."""
    rng = random.Random(0)
    run = Run("r")
    t = 0.0
    while t < 60:
        shown_at = int((t - 0.7) / 1.3) * 1.3  # the last refresh
        run.samples.append((t, int(12.5 * max(shown_at, 0.0)), 12_800.0 if t < 30 else 6_400.0))
        t += 1.0 + rng.uniform(-0.2, 0.2)
    assert run.steps_per_s(10, 50) == pytest.approx(12.5, rel=0.03)
    assert run.tokens_per_s(5, 25) == 12_800.0 and run.tokens_per_s(35, 55) == 6_400.0
    assert run.steps_per_s(10, 12) is None  # too short to say


def test_percentile_is_numpys_linear_percentile():
    rng = random.Random(1)
    values = [rng.expovariate(1.0) for _ in range(37)]
    for q in (0.5, 0.95, 0.99):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q * 100)))


def test_the_page_counts_the_bytes_streamlit_sends_when_a_run_stops():
    """The in-page counter matches ForwardMsg(session_status_changed: script_is_running false) byte for byte."""
    from benchmarks.class_server import COUNT_RUN_ENDS

    assert _status(False) == bytes([74, 0])
    assert "const END = [74, 0];" in COUNT_RUN_ENDS


def test_server_reruns_are_grouped_by_who_asked_inside_the_window():
    from benchmarks.class_server import server_rerun_groups

    rows = [
        {"page": "attention_steps", "auto": False, "received": 10.0, "ended": 10.4},  # a student's slider move
        {"page": "train", "auto": True, "received": 11.0, "ended": 11.1},  # the live panel's timer
        {"page": "train", "auto": False, "received": 12.0, "ended": 12.5},  # a training tab's own click
        {"page": "multihead", "auto": False, "received": 30.0, "ended": 31.0},  # after the window
    ]
    groups = server_rerun_groups(rows, (5.0, 20.0))
    assert groups["students"] == pytest.approx([0.4])
    assert groups["automatic"] == pytest.approx([0.1])


@pytest.mark.browser
def test_timed_server_logs_each_rerun_a_browser_asked_for(browser, tmp_path):
    """benchmarks/timed_server.py serves the app as ``streamlit run`` does and writes one line per rerun request:
    the page that ran and the server's seconds for it."""
    import time

    from benchmarks.class_server import read_rerun_log
    from tests.conftest import REPO, streamlit_server

    log = tmp_path / "reruns.jsonl"
    with streamlit_server(tmp_path / "streamlit.log", env={"TC_RERUN_LOG": str(log), "TC_RUNS_DIR": str(tmp_path)},
                          launcher=(str(REPO / "benchmarks" / "timed_server.py"),)) as url:
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        page = context.new_page()
        before = time.monotonic()
        page.goto(f"{url}/cost")
        page.get_by_role("heading", name="Cost of attention").first.wait_for(timeout=60_000)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(r["page"] == "cost" for r in read_rerun_log(log)):
            time.sleep(0.2)
        context.close()
    rows = read_rerun_log(log)
    cost = [r for r in rows if r["page"] == "cost"]
    assert cost, rows
    first = cost[0]
    assert before < first["received"] <= first["ended"] < time.monotonic()  # the machine's monotonic clock
    assert first["end"] == "SCRIPT_STOPPED_WITH_SUCCESS" and not first["auto"] and not first["fragment"]
    assert all(set(r) >= {"session", "page", "received", "ended"} for r in rows)


def test_a_runs_speed_is_read_from_its_own_records_by_its_owner(tmp_path):
    """The run folder whose run.json names the session's browser gives the tokens/s of the step records the
    server received inside a window (``at``: Unix time, turned into the monotonic clock)."""
    import json
    import time

    from benchmarks.class_server import Results, read_run_logs

    now_wall, now_mono = time.time(), time.monotonic()
    for name, owner, rate in (("r1", "alice-browser-id", 1000.0), ("r2", "bob-browser-id", 500.0)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "run.json").write_text(json.dumps({"owner": owner}))
        lines = [{"kind": "step", "tokens_per_s": rate * (1 + i % 2), "at": now_wall - 20 + i} for i in range(20)]
        lines.insert(5, {"kind": "eval", "at": now_wall - 14})
        (folder / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n{\"kind\": \"st")
    results = Results(runs_dir=str(tmp_path))
    results.runs = [Run("training 1", owner="alice-browser-id"), Run("training 2", owner="bob-browser-id"),
                    Run("training 3")]
    read_run_logs(results)
    alice, bob, nobody = results.runs
    assert len(alice.logged) == 20 and nobody.logged == []  # the eval and the torn last line are not steps
    assert alice.logged[0][0] == pytest.approx(now_mono - 20, abs=0.5)
    assert alice.logged_tokens_per_s(now_mono - 20.2, now_mono - 16.8) == pytest.approx(1500.0)  # 1000, 2000, …
    assert bob.logged_tokens_per_s(now_mono - 20.2, now_mono + 1) == pytest.approx(750.0)
    assert bob.logged_tokens_per_s(now_mono + 5, now_mono + 9) is None
