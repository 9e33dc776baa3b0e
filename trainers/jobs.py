"""The job manager of a class server: training runs in workers, owned by a browser, logged to their run folders.

One :class:`JobManager` per server process (the Train page gets it from ``st.cache_resource``; the class itself
needs no Streamlit, so tests drive it directly). It

- starts a run as a worker (:func:`trainers.worker.make_worker`: a local process, or a Ray worker) when a slot
  is free and the owner (a browser id) runs fewer than ``jobs_per_owner`` jobs, else refuses with a reason;
- drains every live worker's new records in ONE pump thread (every ``pump_interval_s``) into the run's log: in
  memory, where each record gets a sequence number so that a watcher fetches only the records after its cursor
  (:meth:`JobManager.fetch`: the cost does not grow with the run's length), and on disk in the run folder —
  ``<runs_dir>/<run_id>/metrics.jsonl`` (one record per line, appended, each with ``seq`` and ``at``: the Unix
  time the server received it; when the in-memory log is thinned, the
  file is rewritten from it atomically, so, like the log, it holds at most ``2 × MAX_STEPS_KEPT`` step records
  and every eval record) and ``<runs_dir>/<run_id>/run.json`` (owner, config, status, message, summary,
  checkpoint; written atomically with ``os.replace``);
- holds a run's slot from its start until its worker has ended (its end record arrived); :meth:`JobManager.stop`
  asks the worker to stop and kills it if it has not ended ``kill_after_s`` seconds later;
- stops a run whose owner has not been seen (:meth:`JobManager.seen`, called by every rerun of the owner's tabs
  and by a heartbeat) for ``grace_s`` seconds and has no tab connected either (the ``connected`` callback):
  "Stopped: no tab of its owner was open for 60 s.";
- after a server restart, finds an owner's earlier runs again from the ``run.json`` files of ``runs_dir``; a run
  that was still training when the server stopped reads as stopped, with a sentence saying so.

A run's public state (:meth:`JobManager.fetch`, :meth:`JobManager.runs_of`) is a plain dict: ``run_id``,
``owner``, ``config`` (``TrainConfig.to_dict()``), ``preset``, ``status`` ("queued", "running", "finished",
"stopped", "failed"), ``message``, ``summary``, ``checkpoint`` (folder or None), ``snapshots`` (bool),
``snapshot_note``, ``started_at`` (Unix time), ``ended_at``.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the server imports this module on every page; torch comes with the config, so only here
    from .config import TrainConfig

__all__ = ["ACTIVE_STATUSES", "GRACE_MESSAGE", "JobManager", "StartResult", "thin_steps"]

ACTIVE_STATUSES = ("queued", "running")
RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
GRACE_MESSAGE = "Stopped: no tab of its owner was open for {seconds:g} s."
RESTART_MESSAGE = "Stopped: the server stopped while this run trained; its progress up to then is kept."
MAX_STEPS_KEPT = 4000  # a run's in-memory steps beyond this are thinned (old ones first): see thin_steps


def _replace_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a temporary file in the same folder, then one ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def thin_steps(steps: list[dict], max_points: int = MAX_STEPS_KEPT) -> list[dict]:
    """Keep a long history drawable: once ``steps`` holds more than ``max_points``, drop every other point of
    its older half (the newest half stays dense, the first and last points always stay). Returns a list of at
    most ``max_points`` items (the same list when nothing needed thinning)."""
    if len(steps) <= max_points:
        return steps
    while len(steps) > max_points:
        half = len(steps) // 2
        steps = steps[:half:2] + steps[half:]
    return steps


@dataclass
class StartResult:
    """What :meth:`JobManager.start` decided: ``run_id`` when the run started, else ``refused`` ("busy": every
    slot is taken; "owner": the owner runs its maximum already; "worker": no worker could be made) and a
    ``message`` (English, one sentence) for the page."""

    run_id: str | None = None
    refused: str | None = None
    message: str = ""


@dataclass
class _Run:
    run_id: str
    owner: str
    config: dict
    preset: str | None
    run_dir: Path
    status: str = "queued"
    message: str = "Starting a worker…"
    summary: dict | None = None
    checkpoint: str | None = None
    snapshots: bool = False
    snapshot_note: str | None = None
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None
    records: list[dict] = field(default_factory=list)  # steps (thinned) and evals, each with a "seq"
    seqs: list[int] = field(default_factory=list)  # the records' seq numbers, for bisect
    next_seq: int = 1
    steps_kept: int = 0
    worker: object | None = None
    stop_asked_at: float | None = None  # monotonic time of stop(); the worker is killed kill_after_s later
    stop_reason: str | None = None  # a message that replaces the worker's "Stopped by request…"
    killed: bool = False  # the worker was killed after a stop() it did not answer in time
    loaded: bool = True  # False for a run found on disk whose metrics.jsonl has not been read yet

    def state(self) -> dict:
        return {"run_id": self.run_id, "owner": self.owner, "config": self.config, "preset": self.preset,
                "status": self.status, "message": self.message, "summary": self.summary,
                "checkpoint": self.checkpoint, "snapshots": self.snapshots, "snapshot_note": self.snapshot_note,
                "started_at": self.started_at, "ended_at": self.ended_at}


class JobManager:
    """Training runs in workers for a whole server: slots, owners, a pump thread, run folders (module docstring).

    Args:
        capacity: jobs at once on this server (``TC_MAX_JOBS``).
        jobs_per_owner: jobs one browser may run at once (``TC_JOBS_PER_BROWSER``).
        runs_dir: the folder of the run folders.
        grace_s: how long a run keeps training with no tab of its owner seen (``TC_OWNER_GRACE_S``).
        threads: torch threads of each job, and the CPUs a Ray worker asks for (``TC_JOB_THREADS``, see
            :attr:`ui.limits.ServerLimits.threads_per_job`); None leaves the config's.
        worker_factory: ``(config, run_dir, memory_mb) -> worker`` (default :func:`trainers.worker.make_worker`).
        pump_interval_s: how often the pump thread drains the workers.
        kill_after_s: how long a run may take to end after :meth:`stop` before its worker is killed.
        clock: monotonic seconds (tests pass a fake one).
        connected: ``owner -> bool``, True while a tab of that browser is connected to the server (its websocket
            open: :func:`ui.jobs.owner_connected`). Asked only once the grace period has run out without the
            owner being seen; True counts as seen now. A tab whose browser is too busy (or throttled in the
            background) to rerun or send its heartbeat keeps its run this way. None: only ``seen`` counts.
    """

    def __init__(self, capacity: int = 2, jobs_per_owner: int = 1, runs_dir: str | os.PathLike = "runs",
                 grace_s: float = 60.0, threads: int | None = None,
                 worker_factory: Callable | None = None, pump_interval_s: float = 0.2, kill_after_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic,
                 connected: Callable[[str], bool] | None = None) -> None:
        if capacity < 1 or jobs_per_owner < 1:
            raise ValueError("capacity and jobs_per_owner must be at least 1")
        self.capacity = capacity
        self.jobs_per_owner = jobs_per_owner
        self.runs_dir = Path(runs_dir)
        self.grace_s = float(grace_s)
        self.threads = threads
        self.pump_interval_s = pump_interval_s
        self.kill_after_s = kill_after_s
        self._factory = worker_factory
        self._clock = clock
        self.connected = connected
        self._lock = threading.RLock()
        self._runs: dict[str, _Run] = {}
        self._seen: dict[str, float] = {}
        self._disk_scanned = False
        self._thread: threading.Thread | None = None
        self._closed = False

    # ---------------------------------------------------------------------------------------------
    # Owners
    # ---------------------------------------------------------------------------------------------
    def seen(self, owner: str) -> None:
        """Mark ``owner`` (a browser id) as seen now: one of its tabs reran or sent its heartbeat."""
        with self._lock:
            self._seen[owner] = self._clock()

    def _still_connected(self, owner: str) -> bool:
        """The ``connected`` callback's answer (False without one, or when it fails)."""
        if self.connected is None:
            return False
        try:
            return bool(self.connected(owner))
        except Exception:  # noqa: BLE001 - no answer: the grace period decides
            return False

    def has_active(self, owner: str) -> bool:
        """True while ``owner`` has a run that holds a slot."""
        return self.owner_active(owner) > 0

    # ---------------------------------------------------------------------------------------------
    # Slots
    # ---------------------------------------------------------------------------------------------
    def in_use(self) -> int:
        """How many slots are held now (runs whose worker has not ended)."""
        with self._lock:
            return sum(1 for r in self._runs.values() if r.worker is not None)

    def free(self) -> int:
        """How many more runs could start now."""
        return self.capacity - self.in_use()

    def configure(self, capacity: int, jobs_per_owner: int, grace_s: float, threads: int | None) -> None:
        """Apply limits read again (a TA's environment or secrets.toml); runs already started keep their slots."""
        if capacity < 1 or jobs_per_owner < 1:
            raise ValueError("capacity and jobs_per_owner must be at least 1")
        with self._lock:
            self.capacity, self.jobs_per_owner, self.grace_s, self.threads = (
                capacity, jobs_per_owner, float(grace_s), threads)

    def owner_active(self, owner: str) -> int:
        """How many slots ``owner`` holds now."""
        with self._lock:
            return sum(1 for r in self._runs.values() if r.owner == owner and r.worker is not None)

    # ---------------------------------------------------------------------------------------------
    # Start and stop
    # ---------------------------------------------------------------------------------------------
    def start(self, owner: str, config: TrainConfig, memory_mb: int | None = None,
              preset: str | None = None) -> StartResult:
        """Start ``config`` as a run of ``owner`` in a worker, unless a limit refuses it.

        The run goes to ``<runs_dir>/<config.run_id>`` with the manager's thread count; ``memory_mb`` is the
        worker's memory budget. Returns a :class:`StartResult` (``refused`` says which limit, if any).
        Raises ValueError when ``config.run_id`` is not set or is already a run of this manager.
        """
        if not config.run_id:
            raise ValueError("the config needs a run_id (trainers.trainer.default_run_id)")
        config = replace(config, out_dir=str(self.runs_dir),
                         threads=self.threads if self.threads is not None else config.threads)
        with self._lock:
            if config.run_id in self._runs:
                raise ValueError(f"run {config.run_id!r} exists already")
            self._seen[owner] = self._clock()
            if self.in_use() >= self.capacity:
                return StartResult(refused="busy", message=f"All {self.capacity} training slots are in use.")
            if self.owner_active(owner) >= self.jobs_per_owner:
                return StartResult(refused="owner", message=(
                    f"This browser runs {self.jobs_per_owner} training job(s) already, the most it may run at once."))
            run_dir = self.runs_dir / config.run_id
            run = _Run(config.run_id, owner, config.to_dict(), preset, run_dir)
            try:
                factory = self._factory
                if factory is None:
                    from .worker import make_worker as factory
                worker = factory(config, run_dir, memory_mb)
                worker.start()
            except Exception as exc:  # e.g. TC_RAY_ADDRESS names a cluster that cannot be reached
                return StartResult(refused="worker", message=str(exc) or type(exc).__name__)
            run.worker = worker
            self._runs[run.run_id] = run
            self._write_run(run)
            self._ensure_pump()
        return StartResult(run_id=run.run_id)

    def stop(self, run_id: str, owner: str | None = None, reason: str | None = None) -> bool:
        """Ask ``run_id`` to stop (it saves what it trained); kill its worker if it has not ended
        ``kill_after_s`` seconds later. ``owner`` (when given) must own the run. True when a stop was asked."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run.worker is None or (owner is not None and run.owner != owner):
                return False
            if run.stop_asked_at is None:
                run.stop_asked_at = self._clock()
                run.stop_reason = reason
                run.worker.stop()
            return True

    # ---------------------------------------------------------------------------------------------
    # Watching
    # ---------------------------------------------------------------------------------------------
    def runs_of(self, owner: str) -> list[dict]:
        """The states of ``owner``'s runs, oldest first: this server's and those found in ``runs_dir``."""
        self._scan_disk()
        with self._lock:
            runs = [r for r in self._runs.values() if r.owner == owner]
            return sorted((r.state() for r in runs), key=lambda s: (s["started_at"], s["run_id"]))

    def fetch(self, run_id: str, cursor: int = 0) -> tuple[dict, list[dict], int]:
        """``(state, records, cursor)``: the run's state, its step and eval records after ``cursor`` (oldest
        first; long step histories thinned) and the cursor to pass next time. Raises KeyError for an unknown run.
        """
        with self._lock:
            run = self._runs[run_id]
            if not run.loaded:
                self._load_metrics(run)
            start = bisect.bisect_right(run.seqs, cursor)
            records = run.records[start:]
            return run.state(), list(records), (run.seqs[-1] if run.seqs else cursor)

    # ---------------------------------------------------------------------------------------------
    # The pump thread
    # ---------------------------------------------------------------------------------------------
    def _ensure_pump(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._pump_loop, name="training-pump", daemon=True)
            self._thread.start()

    def _pump_loop(self) -> None:
        while not self._closed:
            self.pump_once()
            with self._lock:
                if not any(r.worker is not None for r in self._runs.values()):
                    self._thread = None
                    return
            time.sleep(self.pump_interval_s)

    def pump_once(self) -> None:
        """Drain every live worker's new records into its log; stop ownerless runs; kill runs slow to stop."""
        with self._lock:
            live = [r for r in self._runs.values() if r.worker is not None]
        now = self._clock()
        for run in live:
            try:
                records = run.worker.poll()
            except Exception as exc:  # a broken channel (e.g. a Ray node gone): the run failed
                from .worker import end_record  # here, not at the top: the worker module imports torch

                records = [end_record("failed", f"Training failed: {exc}")]
            kill = None
            with self._lock:
                self._apply(run, records)
                if run.worker is None:
                    continue
                seen = self._seen.get(run.owner, 0.0)
                if run.stop_asked_at is None and now - seen > self.grace_s:
                    if self._still_connected(run.owner):
                        self._seen[run.owner] = now  # a tab of its browser is open, only too busy to say so
                        continue
                    run.stop_asked_at = now
                    run.stop_reason = GRACE_MESSAGE.format(seconds=self.grace_s)
                    run.worker.stop()
                elif run.stop_asked_at is not None and now - run.stop_asked_at > self.kill_after_s:
                    kill = run.worker
            if kill is not None:  # it did not end in time: end its process (outside the lock: this waits)
                run.killed = True
                with contextlib.suppress(Exception):
                    kill.kill()
                with self._lock:
                    self._apply(run, kill.poll())

    def _apply(self, run: _Run, records: list[dict]) -> None:
        """Fold ``records`` into ``run`` (under the lock): the log, metrics.jsonl, run.json."""
        if not records:
            return
        lines = []
        changed = False
        for record in records:
            kind = record.get("kind")
            if kind in ("step", "eval"):
                item = {**record, "seq": run.next_seq, "at": round(time.time(), 3)}  # at: when the server got it
                run.next_seq += 1
                run.records.append(item)
                run.seqs.append(item["seq"])
                lines.append(json.dumps(item))
                if kind == "step":
                    run.steps_kept += 1
                    run.message = f"Step {record['step']}: training loss {record['train_loss']:.3f}."
                if run.status == "queued":
                    run.status, changed = "running", True
            elif kind == "status":
                run.status, run.message, changed = record.get("status", "running"), record.get("message", ""), True
            elif kind == "end":
                run.status = record.get("status", "failed")
                run.message = record.get("message", "")
                if run.killed:  # stop() was asked, and the worker was ended when it did not end in time
                    run.status = "stopped"
                    run.message = (run.stop_reason or "Stopped by request.") + (
                        " Its process did not end in time and was ended; no model was kept.")
                elif run.status == "stopped" and run.stop_reason:
                    run.message = run.stop_reason
                run.summary = record.get("summary")
                run.checkpoint = record.get("checkpoint")
                run.snapshots = bool(record.get("snapshots"))
                run.snapshot_note = record.get("snapshot_note")
                run.ended_at = time.time()
                run.worker = None  # the slot is free
                changed = True
        if run.steps_kept > 2 * MAX_STEPS_KEPT:
            self._thin(run)
            self._write_metrics(run)  # the file follows the log: at most 2 × MAX_STEPS_KEPT steps, every eval
        elif lines:
            run.run_dir.mkdir(parents=True, exist_ok=True)
            with open(run.run_dir / METRICS_FILE, "a", encoding="utf-8") as out:
                out.write("\n".join(lines) + "\n")
        if changed:
            self._write_run(run)

    @staticmethod
    def _thin(run: _Run) -> None:
        steps = [r for r in run.records if r["kind"] == "step"]
        keep = {r["seq"] for r in thin_steps(steps, MAX_STEPS_KEPT)} | {r["seq"] for r in run.records if r["kind"] != "step"}
        run.records = [r for r in run.records if r["seq"] in keep]
        run.seqs = [r["seq"] for r in run.records]
        run.steps_kept = sum(1 for r in run.records if r["kind"] == "step")

    # ---------------------------------------------------------------------------------------------
    # Run folders
    # ---------------------------------------------------------------------------------------------
    def _write_run(self, run: _Run) -> None:
        _replace_file(run.run_dir / RUN_FILE, json.dumps(run.state(), indent=1))

    @staticmethod
    def _write_metrics(run: _Run) -> None:
        """Rewrite ``metrics.jsonl`` from the run's (thinned) log, atomically: a kill at any instant leaves the old
        file or the new one, both readable by :meth:`_load_metrics`."""
        _replace_file(run.run_dir / METRICS_FILE, "".join(json.dumps(r) + "\n" for r in run.records))

    def _scan_disk(self) -> None:
        """Once per manager: read every ``<runs_dir>/*/run.json`` this server did not start (a restart)."""
        with self._lock:
            if self._disk_scanned:
                return
            self._disk_scanned = True
        if not self.runs_dir.is_dir():
            return
        for path in self.runs_dir.glob(f"*/{RUN_FILE}"):
            try:
                state = json.loads(path.read_text(encoding="utf-8"))
                run = _Run(str(state["run_id"]), str(state["owner"]), dict(state["config"]), state.get("preset"),
                           path.parent, status=str(state["status"]), message=str(state.get("message", "")),
                           summary=state.get("summary"), checkpoint=state.get("checkpoint"),
                           snapshots=bool(state.get("snapshots")), snapshot_note=state.get("snapshot_note"),
                           started_at=float(state.get("started_at", 0.0)), ended_at=state.get("ended_at"),
                           loaded=False)
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not a run folder of the Train page, or a damaged one: not listed
            if run.status in ACTIVE_STATUSES:  # the server died while it trained
                run.status, run.message = "stopped", RESTART_MESSAGE
                checkpoint = run.run_dir / "checkpoint"
                run.checkpoint = str(checkpoint) if checkpoint.is_dir() else None
            with self._lock:
                self._runs.setdefault(run.run_id, run)

    def _load_metrics(self, run: _Run) -> None:
        run.loaded = True
        try:
            lines = (run.run_dir / METRICS_FILE).read_text(encoding="utf-8").splitlines()
        except OSError:
            return
        for line in lines:
            try:
                item = json.loads(line)
                seq = int(item["seq"])
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a kill
            if run.seqs and seq <= run.seqs[-1]:
                continue
            run.records.append(item)
            run.seqs.append(seq)
            run.steps_kept += item.get("kind") == "step"
        run.next_seq = (run.seqs[-1] + 1) if run.seqs else 1
        if run.steps_kept > 2 * MAX_STEPS_KEPT:
            self._thin(run)

    def close(self, wait_s: float = 5.0) -> None:
        """Stop every run and wait up to ``wait_s`` for the workers to end (tests; a server's shutdown)."""
        with self._lock:
            live = [r.run_id for r in self._runs.values() if r.worker is not None]
        for run_id in live:
            self.stop(run_id)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and self.in_use():
            self.pump_once()
            time.sleep(0.05)
