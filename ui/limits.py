"""Limits a TA sets for a class server, and the check every training request passes before anything is allocated.

Each limit is read from an environment variable, else from ``.streamlit/secrets.toml`` (``st.secrets``, same
name) where that file exists, else its default:

======================  ===============================================================  ==================
``TC_MAX_JOBS``         training jobs at once, server-wide                               2
``TC_JOBS_PER_BROWSER`` training jobs one browser (all its tabs) may run at once       1
                        (the older name ``TC_JOBS_PER_SESSION`` is read too)
``TC_OWNER_GRACE_S``    seconds a run keeps training with no tab of its browser open     60
``TC_MAX_RUN_SECONDS``  longest run, in seconds of training (0 = no cap)                 600 when the app
                                                                                         listens beyond this
                                                                                         machine, else none
``TC_JOB_MEMORY_MB``    memory one job may take (parameters, gradients, AdamW state      4096
                        and activations, as :mod:`trainers.estimate` estimates them)
``TC_JOB_THREADS``      torch threads of one job and, on a Ray cluster, the CPUs its     ``cpu_count //
                        actor asks for                                                   TC_MAX_JOBS`` (at
                                                                                         least 1); 2 with
                                                                                         ``TC_RAY_ADDRESS``
======================  ===============================================================  ==================

"Beyond this machine" means ``server.address`` is not a loopback address (127.0.0.1, localhost, ::1), as with
``streamlit run app.py --server.address 0.0.0.0``. With ``TC_RAY_ADDRESS`` set (read from the environment, as
:func:`trainers.worker.make_worker` reads it) the runs train on the cluster's nodes, whose cores the web server
cannot see, so a job's threads no longer follow the server's cores. A malformed value raises ValueError naming
the variable, and the Train page shows that sentence instead of training.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from trainers.config import TrainConfig
from trainers.estimate import MemoryEstimate, estimate_training_memory, largest_batch_within

__all__ = ["KNOB_RANGES", "RequestCheck", "ServerLimits", "check_request", "knob_range", "out_of_range", "read_limits",
           "size_text"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")
SHARED_MAX_RUN_SECONDS = 600
DEFAULT_JOB_MEMORY_MB = 4096
DEFAULT_OWNER_GRACE_S = 60.0
DEFAULT_RAY_JOB_THREADS = 2  # a job's threads on a Ray cluster when TC_JOB_THREADS is not set
# The range of each numeric knob of the Train page on this server (the time limit's top is the longest run).
KNOB_RANGES: dict[str, tuple[float, float]] = {
    "d_model": (8, 1024), "n_layers": (1, 8), "d_ff": (8, 4096), "batch_size": (1, 1024), "lr": (0.0, 1.0),
    "warmup_steps": (0, 100_000), "max_steps": (0, 1_000_000), "max_time_s": (0.0, 3600.0),
}


@dataclass(frozen=True)
class ServerLimits:
    """The limits in force: jobs at once, jobs per browser, longest run (None = no cap), memory per job (MB), the
    grace period of a run whose browser has no tab open (s), and each job's threads (None = this server's cores
    shared among ``max_jobs``: see :attr:`threads_per_job`)."""

    max_jobs: int = 2
    jobs_per_browser: int = 1
    max_run_s: float | None = None
    job_memory_mb: int = DEFAULT_JOB_MEMORY_MB
    shared: bool = False  # the app listens beyond this machine
    owner_grace_s: float = DEFAULT_OWNER_GRACE_S
    job_threads: int | None = None

    @property
    def threads_per_job(self) -> int:
        """Torch threads of each job (and the CPUs a Ray actor asks for): :attr:`job_threads`, else
        ``os.cpu_count() // max_jobs``, at least 1."""
        if self.job_threads is not None:
            return self.job_threads
        from ui.jobs import threads_per_job

        return threads_per_job(self.max_jobs)

    @property
    def jobs_per_session(self) -> int:
        """The old name of :attr:`jobs_per_browser`."""
        return self.jobs_per_browser

    @property
    def job_memory_bytes(self) -> int:
        return self.job_memory_mb * 2**20


def _secrets() -> dict:
    try:
        import streamlit as st

        return dict(st.secrets)
    except Exception:  # no secrets.toml (Streamlit raises its own error type), or no Streamlit runtime
        return {}


def _whole(name: str, raw, minimum: int) -> int:
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ValueError(f"{name}={raw!r} must be a whole number of at least {minimum}.")
    return value


def read_limits(environ: dict | None = None, secrets: dict | None = None, address: str | None = None) -> ServerLimits:
    """The limits from ``environ`` (default ``os.environ``), then ``secrets`` (default ``st.secrets``), then the
    defaults; ``address`` is the address the app listens on (default Streamlit's ``server.address``).

    Raises ValueError naming the variable when one is not a whole number in range.
    """
    environ = os.environ if environ is None else environ
    secrets = _secrets() if secrets is None else secrets
    if address is None:
        try:
            import streamlit as st

            address = st.get_option("server.address")
        except Exception:
            address = "127.0.0.1"
    shared = (address or "0.0.0.0") not in LOOPBACK  # no address: Streamlit listens on every interface

    def get(name: str):
        raw = environ.get(name)
        if raw is None or not str(raw).strip():
            raw = secrets.get(name)
        return None if raw is None or not str(raw).strip() else raw

    from ui.jobs import DEFAULT_MAX_JOBS, ENV_MAX_JOBS, max_jobs_from_env

    raw_jobs = get(ENV_MAX_JOBS)
    max_jobs = max_jobs_from_env({ENV_MAX_JOBS: str(raw_jobs)}) if raw_jobs is not None else DEFAULT_MAX_JOBS
    per_browser = 1
    for name in ("TC_JOBS_PER_BROWSER", "TC_JOBS_PER_SESSION"):  # the new name wins over the old one
        if get(name) is not None:
            per_browser = _whole(name, get(name), 1)
            break
    raw_grace = get("TC_OWNER_GRACE_S")
    grace = float(_whole("TC_OWNER_GRACE_S", raw_grace, 1)) if raw_grace is not None else DEFAULT_OWNER_GRACE_S
    raw_run = get("TC_MAX_RUN_SECONDS")
    if raw_run is not None:
        seconds = _whole("TC_MAX_RUN_SECONDS", raw_run, 0)
        max_run_s = float(seconds) if seconds > 0 else None
    else:
        max_run_s = float(SHARED_MAX_RUN_SECONDS) if shared else None
    raw_memory = get("TC_JOB_MEMORY_MB")
    memory = _whole("TC_JOB_MEMORY_MB", raw_memory, 16) if raw_memory is not None else DEFAULT_JOB_MEMORY_MB
    raw_threads = get("TC_JOB_THREADS")
    if raw_threads is not None:
        threads = _whole("TC_JOB_THREADS", raw_threads, 1)
    else:  # on a Ray cluster the nodes' cores, not this server's, decide: a fixed default the TA can change
        from trainers.worker import ENV_RAY_ADDRESS

        threads = DEFAULT_RAY_JOB_THREADS if str(environ.get(ENV_RAY_ADDRESS) or "").strip() else None
    return ServerLimits(max_jobs, per_browser, max_run_s, memory, shared, grace, threads)


@dataclass(frozen=True)
class RequestCheck:
    """What :func:`check_request` decided: the config to run (its time limit capped), the estimate, and, when
    the request is refused, ``problem`` ("memory", "weights", "time") with the numbers for the message."""

    config: TrainConfig
    estimate: MemoryEstimate
    problem: str | None = None
    largest_batch: int = 0
    capped: bool = False  # the run had no time limit (or a longer one) and gets the server's longest run


def check_request(config: TrainConfig, limits: ServerLimits) -> RequestCheck:
    """Check a training request against the limits before anything is allocated.

    The memory estimate (:func:`trainers.estimate.estimate_training_memory`) must fit ``job_memory_mb``;
    otherwise ``problem`` is "weights" (the parameters, gradients and AdamW state alone do not fit) or
    "memory" (a batch of at most ``largest_batch`` would). A time limit above the longest run is refused
    ("time"); no time limit at all gets the longest run (``capped``). Raises ValueError as the model's
    config does.
    """
    from dataclasses import replace

    estimate = estimate_training_memory(config)
    if estimate.total_bytes > limits.job_memory_bytes:
        largest = largest_batch_within(config, limits.job_memory_bytes)
        return RequestCheck(config, estimate, "weights" if largest < 1 else "memory", largest)
    if limits.max_run_s is not None:
        if config.max_time_s is not None and config.max_time_s > limits.max_run_s:
            return RequestCheck(config, estimate, "time")
        if config.max_time_s is None:
            return RequestCheck(replace(config, max_time_s=limits.max_run_s), estimate, capped=True)
    return RequestCheck(config, estimate)


def knob_range(name: str, limits: ServerLimits) -> tuple[float, float]:
    """The range a Train-page knob may take on this server: :data:`KNOB_RANGES`, the time limit's top being the
    longest run when there is one."""
    low, high = KNOB_RANGES[name]
    if name == "max_time_s" and limits.max_run_s is not None:
        high = limits.max_run_s
    return low, high


def out_of_range(knobs: dict, limits: ServerLimits) -> list[tuple[str, float, float, float]]:
    """``(name, value, low, high)`` for every numeric knob outside its range (:func:`knob_range`)."""
    problems = []
    for name in KNOB_RANGES:
        value = knobs.get(name)
        if value is None:
            continue
        low, high = knob_range(name, limits)
        if not low <= value <= high:
            problems.append((name, value, low, high))
    return problems


def size_text(n_bytes: float) -> str:
    """Bytes as the pages write them: "53 MB", "1.6 GB"."""
    mb = n_bytes / 2**20
    return f"{mb / 1024:,.1f} GB" if mb >= 1024 else f"{mb:,.0f} MB"
