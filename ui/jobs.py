"""Training jobs in a shared server: a server-wide cap, each session's jobs, and CPU threads split between them.

Three pieces:

- :class:`JobSlots`: one per server process. A :class:`SlotSemaphore` (a ``threading.BoundedSemaphore``
  that can say how many slots are taken) caps how many training jobs run at once; a job that finds
  no free slot is refused, and the page says "server busy, try again". The cap is ``TC_MAX_JOBS``
  (default 2). Each job gets ``cpu_count // capacity`` torch threads (at least one), so two jobs on a
  2-core laptop do not fight over the cores.
- :class:`SessionJobs`: one per browser tab. It remembers the jobs the tab started and stops them all
  when the tab closes (:meth:`SessionJobs.stop_all`), which frees their slots.
- :func:`job_slots` and :func:`session_jobs`: the two above from ``st.cache_resource`` (global scope,
  and ``scope="session"`` with ``on_release`` stopping the jobs), as ../shared/STYLE.md prescribes;
  the classes themselves need no Streamlit session, so tests can drive them directly.

A job here is anything with ``stop()`` and a ``status`` (``snapshot().status``); the Train page passes
``TrainingJob`` objects from ``trainers.job``.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Protocol

import streamlit as st

ENV_MAX_JOBS = "TC_MAX_JOBS"
DEFAULT_MAX_JOBS = 2
ACTIVE_STATUSES = ("queued", "running")


class StoppableJob(Protocol):
    """What :class:`SessionJobs` needs of a job: a way to stop it and to ask whether it still runs."""

    def stop(self) -> Any: ...


def max_jobs_from_env(environ: dict[str, str] | None = None) -> int:
    """The server-wide cap on concurrent training jobs: env ``TC_MAX_JOBS`` (a whole number ≥ 1), else 2.

    Raises:
        ValueError: ``TC_MAX_JOBS`` is set but is not a whole number ≥ 1 (the message names it).
    """
    raw = (os.environ if environ is None else environ).get(ENV_MAX_JOBS, "").strip()
    if not raw:
        return DEFAULT_MAX_JOBS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{ENV_MAX_JOBS}={raw!r} must be a whole number of at least 1 (concurrent training jobs).")
    return value


def threads_per_job(capacity: int, cpu_count: int | None = None) -> int:
    """Torch threads for one job when ``capacity`` jobs may share ``cpu_count`` cores: at least 1."""
    cpus = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return max(1, cpus // max(1, capacity))


class SlotSemaphore(threading.BoundedSemaphore):
    """A ``threading.BoundedSemaphore`` that also reports how many of its slots are taken."""

    @property
    def capacity(self) -> int:
        """How many holders it admits at once."""
        return self._initial_value

    def in_use(self) -> int:
        """How many slots are taken right now."""
        with self._cond:
            return self._initial_value - self._value


class JobSlots:
    """The server-wide cap on concurrent training jobs (one instance per process, shared by all sessions).

    Pass :attr:`semaphore` to ``TrainingJob(..., semaphore=...)``: the job takes a slot when it starts
    (``try_start`` refuses when none is free) and gives it back when its thread ends, however it ends.
    """

    def __init__(self, capacity: int = DEFAULT_MAX_JOBS, cpu_count: int | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1 concurrent job, got {capacity}")
        self.semaphore = SlotSemaphore(capacity)
        self.threads_per_job = threads_per_job(capacity, cpu_count)

    @property
    def capacity(self) -> int:
        """The cap: how many jobs may run at once."""
        return self.semaphore.capacity

    def in_use(self) -> int:
        """How many jobs hold a slot now."""
        return self.semaphore.in_use()

    def free(self) -> int:
        """How many more jobs could start now."""
        return self.capacity - self.in_use()


def job_status(job: Any) -> str:
    """A job's status string, from ``job.status`` or ``job.snapshot().status`` (``"unknown"`` if neither)."""
    status = getattr(job, "status", None)
    if isinstance(status, str):
        return status
    snapshot = getattr(job, "snapshot", None)
    if callable(snapshot):
        return str(getattr(snapshot(), "status", "unknown"))
    return "unknown"


class SessionJobs:
    """The training jobs one session (browser tab) has started; :meth:`stop_all` ends them when the tab closes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Any] = {}
        self.released = False

    def track(self, run_id: str, job: Any) -> None:
        """Remember ``job`` under ``run_id`` so that :meth:`stop_all` can end it."""
        with self._lock:
            self._jobs[run_id] = job

    def get(self, run_id: str) -> Any | None:
        """The job started as ``run_id``, or None."""
        with self._lock:
            return self._jobs.get(run_id)

    def jobs(self) -> dict[str, Any]:
        """A copy of ``{run_id: job}``."""
        with self._lock:
            return dict(self._jobs)

    def active(self) -> dict[str, Any]:
        """The jobs still queued or running."""
        return {run_id: job for run_id, job in self.jobs().items() if job_status(job) in ACTIVE_STATUSES}

    def stop_all(self, wait_s: float = 0.0) -> int:
        """Stop every job still queued or running; with ``wait_s`` > 0, wait up to that long for them to end.

        Returns how many jobs were asked to stop. Safe to call from any thread, more than once.
        """
        self.released = True
        active = self.active()
        for job in active.values():
            job.stop()
        if wait_s > 0:
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline and self.active():
                time.sleep(0.02)
        return len(active)


def _release_session(jobs: SessionJobs) -> None:
    """``on_release`` of the session cache: the tab closed, so stop its jobs (their slots free as they end)."""
    jobs.stop_all()


@st.cache_resource(show_spinner=False)
def _job_slots(capacity: int) -> JobSlots:
    return JobSlots(capacity)


def job_slots() -> JobSlots:
    """The process-wide :class:`JobSlots` for the cap in ``TC_MAX_JOBS`` (``st.cache_resource``, global).

    Raises:
        ValueError: ``TC_MAX_JOBS`` is malformed (see :func:`max_jobs_from_env`).
    """
    return _job_slots(max_jobs_from_env())


@st.cache_resource(show_spinner=False, scope="session", on_release=_release_session)
def session_jobs() -> SessionJobs:
    """This session's :class:`SessionJobs`; Streamlit releases it, stopping its jobs, when the tab closes."""
    return SessionJobs()
