"""Training jobs of a shared server, seen from the pages: the job manager, the browser that owns a run, its heartbeat.

- :func:`job_manager`: the process-wide :class:`trainers.jobs.JobManager` (``st.cache_resource``, one per runs
  folder), its limits applied from :func:`ui.limits.read_limits` (jobs at once, jobs per browser, grace period)
  and each job's torch threads (``TC_JOB_THREADS``; unset: ``cpu_count // TC_MAX_JOBS``, at least one, or 2
  when the runs train on a Ray cluster: :attr:`ui.limits.ServerLimits.threads_per_job`).
- :func:`browser_id`: who owns a run. Not the websocket session (a reload or a network blip makes a new one) but
  the browser: an unguessable id (``secrets.token_urlsafe``) kept in the cookie ``tc_browser`` (SameSite=Strict,
  a year, path /), set from the page by a tiny script; until the cookie comes back with the next connection the
  id is kept in ``st.session_state``. Every tab of the browser has the same id, so they see the same runs and
  share the jobs-per-browser limit.
- :func:`keep_owner_seen`: called by the router on every rerun of any page: marks the browser as seen (and
  remembers this tab's session) and, while it has a run in a slot, draws a small ``st.fragment(run_every=…)``
  heartbeat that keeps marking it. A run whose browser has not been seen for the grace period
  (``TC_OWNER_GRACE_S``, default 60 s) and has no tab connected (:func:`owner_connected`) is stopped by the
  manager.

This module imports neither torch nor the trainers' heavy parts, so the router can call it on every page.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from pathlib import Path

import streamlit as st

from trainers.jobs import ACTIVE_STATUSES, JobManager

__all__ = ["ACTIVE_STATUSES", "COOKIE", "browser_id", "job_manager", "job_slots", "keep_owner_seen",
           "max_jobs_from_env", "owner_connected", "threads_per_job"]

ENV_MAX_JOBS = "TC_MAX_JOBS"
DEFAULT_MAX_JOBS = 2
COOKIE = "tc_browser"
ID_KEY = "tc_browser_id"
HEARTBEAT_S = 10.0
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
_REPO = Path(__file__).resolve().parent.parent


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


def _runs_dir() -> Path:
    """``ui.runs.runs_dir`` without its imports: env ``TC_RUNS_DIR``, else ``<repo>/runs``."""
    env = os.environ.get("TC_RUNS_DIR")
    return Path(env).expanduser() if env else _REPO / "runs"


# browser id → the Streamlit sessions (tabs) of that browser that ran a page; read by owner_connected
_TABS: dict[str, set[str]] = {}
_TABS_LOCK = threading.Lock()


def _session_id() -> str | None:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def _session_connected(session_id: str) -> bool:
    """True while the Streamlit session has a browser connected (its websocket open)."""
    from streamlit.runtime import Runtime

    return Runtime.exists() and Runtime.instance().is_active_session(session_id)


def owner_connected(owner: str, is_connected=None) -> bool:
    """True while some tab of browser ``owner`` is connected to this server: one of the sessions that ran a page
    for it still has its websocket open. A tab whose browser is too busy (a loaded laptop) or throttled (a
    background tab: Chrome runs its timers once a minute) to rerun or send its heartbeat still counts; a closed
    tab stops counting at once. Sessions no longer known are forgotten. ``is_connected``: ``session_id -> bool``
    (default: Streamlit's runtime; tests pass their own)."""
    check = is_connected or _session_connected
    with _TABS_LOCK:
        sessions = set(_TABS.get(owner, ()))
    alive = {sid for sid in sessions if check(sid)}
    if alive != sessions:
        with _TABS_LOCK:
            _TABS[owner] = (_TABS.get(owner, set()) - sessions) | alive
    return bool(alive)


def _remember_tab(owner: str) -> None:
    session_id = _session_id()
    if session_id is not None:
        with _TABS_LOCK:
            _TABS.setdefault(owner, set()).add(session_id)


@st.cache_resource(show_spinner=False)
def _job_manager(runs_dir: str) -> JobManager:
    return JobManager(runs_dir=runs_dir, connected=owner_connected)


def job_manager(limits=None) -> JobManager:
    """The process-wide :class:`~trainers.jobs.JobManager` of the runs folder (``st.cache_resource``), with
    ``limits`` (a :class:`ui.limits.ServerLimits`; default: read now) applied.

    Raises:
        ValueError: a limit is malformed (see :func:`ui.limits.read_limits`).
    """
    if limits is None:
        from ui.limits import read_limits

        limits = read_limits()
    manager = _job_manager(str(_runs_dir()))
    manager.configure(limits.max_jobs, limits.jobs_per_browser, limits.owner_grace_s, limits.threads_per_job)
    return manager


job_slots = job_manager  # the slots (in_use, capacity, free) are the manager's


def browser_id() -> str:
    """This browser's id: the ``tc_browser`` cookie when it came with the connection, else the one this session
    made (and asked the browser to keep, see :func:`remember_browser`)."""
    try:
        cookie = st.context.cookies.get(COOKIE)
    except Exception:  # no request context (e.g. a bare script run)
        cookie = None
    if isinstance(cookie, str) and _ID_PATTERN.fullmatch(cookie):
        st.session_state[ID_KEY] = cookie
        return cookie
    if not _ID_PATTERN.fullmatch(str(st.session_state.get(ID_KEY, ""))):
        st.session_state[ID_KEY] = secrets.token_urlsafe(24)
    return st.session_state[ID_KEY]


def remember_browser() -> None:
    """Ask the browser to keep this session's id in the ``tc_browser`` cookie, unless it sent it already."""
    owner = browser_id()
    try:
        sent = st.context.cookies.get(COOKIE)
    except Exception:
        sent = None
    if sent == owner:
        return
    # The id is [A-Za-z0-9_-] only (checked above), so it is safe inside the script's string.
    script = (f"<script>document.cookie = '{COOKIE}={owner}; Max-Age=31536000; Path=/; SameSite=Strict';"
              "</script>")
    st.html(script, unsafe_allow_javascript=True, width="content")


def _heartbeat() -> None:
    """Every few seconds: this browser still has a tab open."""
    _job_manager(str(_runs_dir())).seen(browser_id())


def heartbeat_seconds(grace_s: float) -> float:
    """How often an open tab reports while its browser trains: every 10 s, or a third of a shorter grace period
    (at least every second), so that a tab on another page never lets its run's grace period run out."""
    return max(1.0, min(HEARTBEAT_S, grace_s / 3))


def keep_owner_seen() -> None:
    """Mark this browser as seen; while it has a run in a slot, keep marking it from a heartbeat fragment."""
    manager = _job_manager(str(_runs_dir()))
    owner = browser_id()
    manager.seen(owner)
    _remember_tab(owner)
    if manager.has_active(owner):
        with st.sidebar:
            st.fragment(run_every=heartbeat_seconds(manager.grace_s))(_heartbeat)()
