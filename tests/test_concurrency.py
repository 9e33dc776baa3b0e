"""The server-wide cap on training jobs through the Train page: tabs of different browsers with a cap of 2, a busy
message, two tabs of one browser sharing its jobs-per-browser limit, and runs that outlive their tab.

Each AppTest is a tab; its browser id lives in its session state (AppTest sends no cookie), so two AppTests are
two browsers unless a test gives them the same id. Runs are the AddSub tiny model with a huge step budget in
worker processes, stopped by the test; every worker is waited for.
"""

from __future__ import annotations

import time

import pytest
from streamlit.runtime import caching
from streamlit.testing.v1 import AppTest

from app import PAGES
from tests.conftest import REPO
from ui.jobs import ID_KEY, job_slots, max_jobs_from_env, threads_per_job

LONG_STEPS = 1_000_000


def page_file(title: str) -> str:
    """The page's file as the router lists it in app.PAGES."""
    return next(path for path, page_title, _icon, _section in PAGES if page_title == title)


def wait_until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_cap_comes_from_tc_max_jobs():
    assert max_jobs_from_env({}) == 2
    assert max_jobs_from_env({"TC_MAX_JOBS": " 3 "}) == 3
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(ValueError, match="TC_MAX_JOBS"):
            max_jobs_from_env({"TC_MAX_JOBS": bad})


def test_threads_are_split_between_jobs():
    assert threads_per_job(2, cpu_count=2) == 1
    assert threads_per_job(2, cpu_count=8) == 4
    assert threads_per_job(4, cpu_count=2) == 1  # never fewer than one
    assert threads_per_job(3, cpu_count=12) == 4


@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("TC_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("TC_MAX_JOBS", "2")
    monkeypatch.delenv("TC_OWNER_GRACE_S", raising=False)
    yield
    manager = job_slots()
    manager.close(wait_s=20)
    assert manager.in_use() == 0, "a test left a training job running"


def train_page(browser: str | None = None) -> AppTest:
    """A tab on the Train page with a long run's settings; ``browser`` (an id) makes tabs of the same browser."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    if browser is not None:
        at.session_state[ID_KEY] = browser
    at.run()
    at.switch_page(page_file("Train")).run()
    at.number_input(key="train_steps_addsub_tiny").set_value(LONG_STEPS).run()
    return at


def press_start(at: AppTest) -> AppTest:
    at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    return at


def status(at: AppTest) -> str:
    return at.session_state["train_runs"][-1].last_snapshot.get("status")


def test_three_browsers_on_the_train_page(env):
    tabs = [train_page() for _ in range(3)]
    for at in tabs[:2]:
        press_start(at)
        assert len(at.session_state["train_runs"]) == 1
        assert not at.warning
    assert job_slots().in_use() == 2
    assert any("Training slots on this server: 2 of 2 in use" in c.value for c in tabs[1].caption)

    third = press_start(tabs[2])
    assert any("server is busy" in w.value and "Try again" in w.value for w in third.warning)
    assert third.session_state["train_runs"] == []

    tabs[0].button(key="train_stop").click().run()  # the first student stops: the slot comes back
    wait_until(lambda: job_slots().in_use() == 1)
    tabs[0].run()
    assert status(tabs[0]) == "stopped"

    press_start(tabs[2])
    assert not third.warning
    assert len(third.session_state["train_runs"]) == 1
    assert job_slots().in_use() == 2


def test_two_tabs_of_one_browser_share_its_runs_and_its_limit(env):
    first, second = train_page("browser-one-0123456789"), train_page("browser-one-0123456789")
    other = train_page("browser-two-0123456789")
    press_start(first)
    second.run()  # the other tab of the same browser sees the run, and may not start another
    assert [r.run_id for r in second.session_state["train_runs"]] == [r.run_id for r in first.session_state["train_runs"]]
    assert second.button(key="train_start").disabled
    assert any("Your run is training" in c.value for c in second.caption)
    press_start(other)  # another browser is not affected
    assert len(other.session_state["train_runs"]) == 1 and job_slots().in_use() == 2


def test_closing_a_tab_no_longer_stops_its_run_and_a_reload_finds_it(env):
    at = train_page("browser-reload-0123456789")
    press_start(at)
    run_id = at.session_state["train_runs"][0].run_id
    caching.clear_session_resource_cache("test session id")  # what Streamlit does when the tab's session ends
    time.sleep(0.5)
    assert job_slots().in_use() == 1  # the run trains on

    reloaded = train_page("browser-reload-0123456789")  # the same browser after a reload: a new session
    assert [r.run_id for r in reloaded.session_state["train_runs"]] == [run_id]
    wait_until(lambda: (reloaded.run(), (reloaded.session_state["train_runs"][0].last_snapshot.get("last_step")
                                         or {}).get("step", 0) > 2)[1], timeout=60)
    assert status(reloaded) == "running"
    reloaded.button(key="train_stop").click().run()
    wait_until(lambda: job_slots().in_use() == 0)


def test_the_heartbeat_beats_faster_than_a_short_grace_period():
    from ui.jobs import heartbeat_seconds

    assert heartbeat_seconds(60) == 10.0  # the default: every 10 s
    assert heartbeat_seconds(4) == pytest.approx(4 / 3)  # a tab on another page reports 3 times per grace period
    assert heartbeat_seconds(1) == 1.0  # at most once a second
