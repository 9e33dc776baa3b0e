"""The server-wide cap on training jobs: three sessions with a cap of 2, a busy message, a slot freed on close.

First the job registry of ``ui.jobs`` with real ``TrainingJob`` objects (no Streamlit), then the same story
through the Train page in AppTest, and Streamlit's own session release (``scope="session"``, ``on_release``).
Runs are the AddSub tiny model with a huge step budget, stopped by the test; every thread is joined.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from unittest import mock

import pytest
from streamlit.runtime import caching
from streamlit.testing.v1 import AppTest

import ui.jobs
from app import PAGES
from tests.conftest import REPO
from trainers.job import TrainingJob
from trainers.presets import preset_config
from ui.jobs import JobSlots, SessionJobs, job_slots, max_jobs_from_env, threads_per_job

LONG_STEPS = 1_000_000


def page_file(title: str) -> str:
    """The page's file as the router lists it in app.PAGES."""
    return next(path for path, page_title, _icon, _section in PAGES if page_title == title)


def long_job(slots: JobSlots, tmp_path) -> TrainingJob:
    config = preset_config("addsub", "tiny", max_steps=LONG_STEPS, eval_every=100_000, out_dir=str(tmp_path),
                           tensorboard=False)
    return TrainingJob(config, semaphore=slots.semaphore, threads=1)


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
    assert JobSlots(3, cpu_count=12).threads_per_job == 4


def test_three_sessions_cap_two_third_refused_closing_frees_a_slot(tmp_path):
    slots = JobSlots(2)
    sessions = [SessionJobs() for _ in range(3)]
    jobs = [long_job(slots, tmp_path) for _ in range(3)]
    try:
        assert jobs[0].try_start() and jobs[1].try_start()
        sessions[0].track("a", jobs[0])
        sessions[1].track("b", jobs[1])
        assert slots.in_use() == 2 and slots.free() == 0
        assert jobs[2].try_start() is False  # "server busy": the third session gets no slot
        assert jobs[2].status == "queued" and not jobs[2].is_alive()

        wait_until(lambda: jobs[0].snapshot()["steps"])  # session 1 is really training
        assert sessions[0].stop_all(wait_s=10) == 1  # what closing the tab does
        assert jobs[0].status == "stopped"
        assert slots.in_use() == 1

        retry = long_job(slots, tmp_path)
        jobs.append(retry)
        assert retry.try_start()  # the third session now gets the freed slot
        sessions[2].track("c", retry)
        assert slots.in_use() == 2
    finally:
        for job in jobs:
            job.stop()
            assert job.join(10)
    assert slots.in_use() == 0
    assert sessions[0].active() == {} and sessions[1].active() == {}


def test_stop_all_stops_only_that_sessions_jobs(tmp_path):
    slots = JobSlots(2)
    mine, theirs = SessionJobs(), SessionJobs()
    a, b = long_job(slots, tmp_path), long_job(slots, tmp_path)
    try:
        assert a.try_start() and b.try_start()
        mine.track("a", a)
        theirs.track("b", b)
        mine.stop_all(wait_s=10)
        assert a.status == "stopped" and b.status == "running"
        assert mine.stop_all() == 0  # calling it again is harmless
    finally:
        for job in (a, b):
            job.stop()
            job.join(10)


# ---------------------------------------------------------------------------------------------------------
# The same through the Train page
# ---------------------------------------------------------------------------------------------------------
@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("TC_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("TC_MAX_JOBS", "2")
    yield
    assert job_slots().in_use() == 0, "a test left a training job running"


@contextmanager
def as_session(registry: SessionJobs):
    """AppTest gives every AppTest the same session id; give each simulated tab its own SessionJobs."""
    with mock.patch.object(ui.jobs, "session_jobs", lambda: registry):
        yield


def train_page(registry: SessionJobs) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    with as_session(registry):
        at.run()
        at.switch_page(page_file("Train")).run()
        at.number_input(key="train_steps_addsub_tiny").set_value(LONG_STEPS).run()
    return at


def press_start(at: AppTest, registry: SessionJobs) -> AppTest:
    with as_session(registry):
        at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    return at


def test_three_tabs_on_the_train_page(env):
    registries = [SessionJobs() for _ in range(3)]
    tabs = [train_page(r) for r in registries]
    try:
        for at, registry in zip(tabs[:2], registries[:2], strict=True):
            press_start(at, registry)
            assert len(at.session_state["train_runs"]) == 1
            assert not at.warning
        assert job_slots().in_use() == 2

        third = press_start(tabs[2], registries[2])
        assert any("server is busy" in w.value and "Try again" in w.value for w in third.warning)
        assert third.session_state["train_runs"] == []

        ui.jobs._release_session(registries[0])  # Streamlit's on_release when tab 1 closes
        wait_until(lambda: job_slots().in_use() == 1)
        assert tabs[0].session_state["train_runs"][0].job.status == "stopped"

        press_start(tabs[2], registries[2])
        assert not third.warning
        assert len(third.session_state["train_runs"]) == 1
        assert job_slots().in_use() == 2
    finally:
        for registry in registries:
            registry.stop_all(wait_s=10)


def test_closing_the_session_releases_its_job(env):
    """The real mechanism: clearing a session's resource cache calls on_release, which stops the job."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.switch_page(page_file("Train")).run()
    at.number_input(key="train_steps_addsub_tiny").set_value(LONG_STEPS).run()
    at.button(key="train_start").click().run()
    job = at.session_state["train_runs"][0].job
    try:
        assert job.status in ("queued", "running") and job_slots().in_use() == 1
        caching.clear_session_resource_cache("test session id")  # AppTest's session id; Streamlit does this on close
        assert job.join(10)
        assert job.status == "stopped"
        assert job_slots().in_use() == 0
    finally:
        job.stop()
        job.join(10)
