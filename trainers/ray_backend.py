"""A training run on a Ray cluster: the worker interface of :class:`trainers.worker.ProcessWorker`, with the
run in a Ray actor that may sit on any node of the cluster.

When the environment variable ``TC_RAY_ADDRESS`` names a Ray cluster (``host:port`` of its head, as ``ray start
--head`` prints it, ``ray://host:port`` for Ray Client, or ``auto`` for a cluster started on this machine),
:func:`trainers.worker.make_worker` returns a :class:`RayWorker` instead of a local process; the Train page and
its job manager do not see the difference. Ray (https://docs.ray.io) is a well-kept distributed engine: it places each run on a node with the
CPUs and memory the run asks for, starts a worker process there and carries the records back.

- **The connection lives in a child process** of the server (:class:`_DriverHandle`, one per server and cluster,
  started by the first run): a Ray driver ends its process when the cluster's head stays unreachable for a
  minute, and can abort it when the head comes back as a new cluster; in a child, that ends the child, never
  the server. The runs it held then end as "failed" with a sentence, and the next run starts a new child.
- **Connecting**: ``ray.init`` with a ``runtime_env`` whose ``working_dir`` is this project (its code and the
  small corpora in ``assets/data``; no runs, checkpoints, tests, docs or ``.git``), so ``trainers`` and
  ``transformer`` import on any node without a copy of the project there. The course data folders
  (``TC_SHARED_DATA``, ``TC_DATA_DIR``, ``TC_ADDSUB_PATH``) are passed on as this server resolves them: a node
  reads them at the same path (a shared mount) or falls back as a laptop would (AddSub generates its data; Tiny
  Shakespeare ships; the others download from the Hugging Face Hub when online).
- **The run**: an actor (:class:`_TrainingActor`) with ``num_cpus`` = the run's ``threads`` (``TC_JOB_THREADS``,
  default 2 on a cluster: :attr:`ui.limits.ServerLimits.threads_per_job`) and ``memory`` =
  its budget in bytes (Ray's scheduling resources), and, on Linux, the same address-space limit as a local
  worker (:func:`trainers.worker._limit_memory`). It runs :func:`trainers.worker.run_training` in a thread
  into a node-local temporary folder and buffers the records; each :meth:`RayWorker.poll` fetches those since
  the last one with one short ``drain`` call, so watching a run costs the same at step 10 and step 100,000.
- **What comes back**: the worker node need not share the server's disk. The end record carries the
  checkpoint's files (and the TensorBoard event files) as bytes; :meth:`RayWorker.poll` writes the checkpoint
  into ``<run_dir>/checkpoint`` atomically (:func:`trainers.checkpoint.save_checkpoint_files`: a version
  sub-folder and a ``CURRENT`` pointer), the event files into ``<out_dir>/<run_id>/``, and sets the record's
  ``checkpoint`` to the local folder.
- **Failures**: Ray not installed, an address that is not ``host:port``, a head that does not answer within
  :data:`CONNECT_TIMEOUT_S` seconds, or a cluster with no node big enough for the run raise
  :class:`RuntimeError` with one sentence (the page shows it). An actor that dies without an end record
  (killed, out of memory, its node gone) or a lost connection gives an end record with status "failed" and a
  sentence, as a local worker's crash does.
"""

from __future__ import annotations

import importlib.util
import itertools
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import TrainConfig

__all__ = ["RayWorker", "parse_address", "runtime_env"]

CONNECT_TIMEOUT_S = 5.0  # the head's port must answer within this
INIT_TIMEOUT_S = 30.0  # ray.init (with the code's upload) must finish within this once the port answered
CALL_TIMEOUT_S = 15.0  # any other request to the driver process (start, capacity, kill) must be answered within this
POLL_WAIT_S = 0.2  # how long one poll() waits for the records of the drain call in flight
_FILES = "_files"  # the end record's key for the files that travel back (removed before poll returns it)
_NAMESPACE = "transformer-classroom"
# Left out of the code that travels to the nodes (gitignore syntax; .gitignore's entries are left out too).
_EXCLUDES = [".git", ".github", ".ci", ".streamlit/secrets.toml", "runs", "checkpoints", "models", "artifacts",
             "test-artifacts", "tests", "docs", "benchmarks", "__pycache__", "*.pyc", ".venv"]
_DATA_VARIABLES = ("TC_DATA_DIR", "TC_ADDSUB_PATH")
_UNSET_HINT = "or unset TC_RAY_ADDRESS to train on this machine."


def parse_address(address: str) -> tuple[str, int] | None:
    """The head's host and port named by ``address`` (``host:port`` of the head's GCS, ``[::1]:port``, or
    ``ray://host:port`` of its Ray Client server, for a server outside the cluster's network), or None for
    ``auto`` (a cluster started on this machine with ``ray start --head``, found by Ray itself).

    Raises RuntimeError when ``address`` is none of these.
    """
    text = address.strip()
    if text == "auto":
        return None
    bare = text[len("ray://"):] if text.startswith("ray://") else text
    host, sep, port = bare.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if "://" in bare or not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise RuntimeError(f"TC_RAY_ADDRESS should name the Ray head as host:port (as `ray start --head` prints "
                           f"it), ray://host:port or auto, but it is {text[:80]!r}.")
    return host, int(port)


def runtime_env() -> dict:
    """The ``runtime_env`` of every run's actor: this project as ``working_dir`` (less :data:`_EXCLUDES` and the
    shipped checkpoints in ``assets/``) and the course data folders as this server resolves them."""
    from .data_paths import ENV_SHARED_DATA, repo_root, shared_data_dir

    root = repo_root()
    excludes = list(_EXCLUDES)
    assets = root / "assets"
    if assets.is_dir():  # the small corpora in assets/data travel; the shipped checkpoints stay
        excludes += [f"assets/{entry.name}" for entry in assets.iterdir() if entry.is_dir() and entry.name != "data"]
    env_vars = {ENV_SHARED_DATA: str(shared_data_dir().resolve())}
    env_vars.update({name: os.environ[name] for name in _DATA_VARIABLES if os.environ.get(name)})
    return {"working_dir": str(root), "excludes": excludes, "env_vars": env_vars}


# -------------------------------------------------------------------------------------------------------------
# The actor: one run on a node of the cluster
# -------------------------------------------------------------------------------------------------------------
_WORKDIR_PREFIX = "tc-ray-run-"  # a run's node-local folder: tc-ray-run-<pid>-<random>


def _remove_stale_workdirs() -> None:
    """Remove the node-local folders of runs whose worker process is gone (killed before its end record)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_WORKDIR_PREFIX}*"):
        pid = folder.name[len(_WORKDIR_PREFIX):].split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # another user's live process
            pass


class _TrainingActor:
    """Runs :func:`trainers.worker.run_training` in a thread of a Ray worker process; :meth:`drain` hands out
    the records buffered since the last call. The end record carries the run's files as bytes."""

    def __init__(self, config: dict, memory_mb: int | None) -> None:
        import torch  # imported before the limit, so that the limit counts only what the run allocates

        from .worker import _limit_memory

        del torch
        _limit_memory(memory_mb)
        self._records: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        _remove_stale_workdirs()
        self._workdir = Path(tempfile.mkdtemp(prefix=f"{_WORKDIR_PREFIX}{os.getpid()}-"))  # node-local
        self._log_dir = self._workdir / "logs"
        self._run_id = config.get("run_id") or "run"
        config = {**config, "out_dir": str(self._log_dir)}
        self._thread = threading.Thread(target=self._run, args=(config,), name="training", daemon=True)
        self._thread.start()

    def _run(self, config: dict) -> None:
        from .worker import run_training

        run_training(config, self._workdir / "run", self._emit, self._stop.is_set)

    def _emit(self, record: dict) -> None:
        if record.get("kind") == "end":
            record = self._pack(record)
        with self._lock:
            self._records.append(record)

    def _pack(self, record: dict) -> dict:
        """The end record with the checkpoint's files and the TensorBoard files attached as bytes; the node-local
        folder is removed."""
        from .checkpoint import checkpoint_files

        record = dict(record)
        try:
            files: dict = {"checkpoint": None, "logs": {}}
            if record.get("checkpoint"):
                files["checkpoint"] = {f.name: f.read_bytes() for f in checkpoint_files(record["checkpoint"])}
            logs = self._log_dir / self._run_id
            if logs.is_dir():
                files["logs"] = {str(f.relative_to(logs)): f.read_bytes() for f in sorted(logs.rglob("*")) if f.is_file()}
            record[_FILES] = files
        except Exception as exc:  # the model trained, but its files cannot be read back on this node
            record.update(status="failed", checkpoint=None, traceback=traceback.format_exc(),
                          message=f"Training failed: the trained model could not be read on the Ray worker: {exc}")
        finally:
            shutil.rmtree(self._workdir, ignore_errors=True)
        return record

    def drain(self) -> list[dict]:
        """The records since the last call (never blocks)."""
        with self._lock:
            records, self._records = self._records, []
        return records

    def stop(self) -> None:
        """Ask the run to stop: it ends within one step and still sends its end record."""
        self._stop.set()

    def pid(self) -> int:
        """The worker process's id on its node."""
        return os.getpid()

    def resources(self) -> dict[str, float]:
        """What Ray reserved for this run on its node (``{"CPU": 2.0, "memory": bytes, …}``)."""
        import ray

        return dict(ray.get_runtime_context().get_assigned_resources())


# -------------------------------------------------------------------------------------------------------------
# The driver: a child process of the server that holds the Ray connection and the runs' actors
# -------------------------------------------------------------------------------------------------------------
def _one_line(exc: BaseException) -> str:
    return ((str(exc).strip().splitlines() or [""])[0] or type(exc).__name__)[:300]


class _Driver:
    """In the child process: the connection and one entry per run (actor, drain call in flight)."""

    def __init__(self) -> None:
        self.runs: dict[str, dict] = {}
        self.actor_class = None

    def connect(self, address: str) -> str:
        import ray

        ray.init(address=address, namespace=_NAMESPACE, runtime_env=runtime_env(), logging_level=logging.ERROR,
                 log_to_driver=False, configure_logging=True)
        return ray.__version__

    def capacity(self, address: str, num_cpus: int, memory_bytes: int | None) -> None:
        """RuntimeError when no live node has ``num_cpus`` CPUs and ``memory_bytes`` of memory at all (Ray would
        wait for such a node forever); a busy cluster only queues the run."""
        import ray

        nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
        if any(r.get("CPU", 0) >= num_cpus and (memory_bytes is None or r.get("memory", 0) >= memory_bytes)
               for r in nodes):
            return
        biggest = max(nodes, key=lambda r: (r.get("CPU", 0), r.get("memory", 0)), default={})
        raise RuntimeError(
            f"No node of the Ray cluster at {address} has {num_cpus} CPU(s)"
            + (f" and {memory_bytes / 2**20:.0f} MB of memory" if memory_bytes else "")
            + f" for a run (the largest has {biggest.get('CPU', 0):g} CPU(s) and "
              f"{biggest.get('memory', 0) / 2**20:.0f} MB): add a bigger node, or lower TC_JOB_THREADS or "
              "TC_JOB_MEMORY_MB.")

    def start(self, run: str, config: dict, memory_mb: int | None, num_cpus: int, memory_bytes: int | None) -> None:
        import ray

        options: dict = {"num_cpus": num_cpus, "max_restarts": 0, "max_task_retries": 0}
        if memory_bytes:
            options["memory"] = memory_bytes
        if self.actor_class is None:
            self.actor_class = ray.remote(_TrainingActor)
        actor = self.actor_class.options(**options).remote(config, memory_mb)
        self.runs[run] = {"actor": actor, "pending": None, "killed": False}

    def poll(self, run: str, wait_s: float) -> dict:
        """``{"records": [...], "gone": None}``, or ``"gone"`` naming why the actor ended without an end record."""
        import ray
        from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError, RayError

        state = self.runs.get(run)
        if state is None:
            return {"records": [], "gone": None}
        if state["pending"] is None:
            state["pending"] = state["actor"].drain.remote()
        ready, _ = ray.wait([state["pending"]], timeout=wait_s)
        if not ready:
            return {"records": [], "gone": None}
        ref, state["pending"] = state["pending"], None
        try:
            records = ray.get(ref, timeout=max(wait_s, 1.0))
        except (ActorUnavailableError, GetTimeoutError):  # a passing network problem: ask again next time
            return {"records": [], "gone": None}
        except RayActorError as exc:
            self.runs.pop(run, None)
            if state["killed"]:
                why = "it was killed"
            elif getattr(exc, "actor_init_failed", False):  # e.g. the project's code does not import on the node
                lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
                why = f"it could not start the run: {(lines or ['unknown error'])[-1][:200]}"
            else:
                why = "it died (killed, out of memory, or its node left the cluster)"
            return {"records": [], "gone": why}
        except RayError as exc:  # e.g. the runtime_env could not be set up on the node
            self.runs.pop(run, None)
            return {"records": [], "gone": f"it could not start the run: {_one_line(exc)}"}
        if any(r.get("kind") == "end" for r in records):
            self.runs.pop(run, None)
            ray.kill(state["actor"], no_restart=True)  # the run is over: free its CPUs at once
        else:
            state["pending"] = state["actor"].drain.remote()  # the next one is on its way before it is asked for
        return {"records": records, "gone": None}

    def stop(self, run: str) -> None:
        if run in self.runs:
            self.runs[run]["actor"].stop.remote()

    def kill(self, run: str) -> None:
        import ray

        if run in self.runs:
            self.runs[run]["killed"] = True
            ray.kill(self.runs[run]["actor"], no_restart=True)

    def pid(self, run: str) -> int | None:
        """The run's worker process id on its node (for tests)."""
        import ray

        return ray.get(self.runs[run]["actor"].pid.remote(), timeout=CALL_TIMEOUT_S) if run in self.runs else None

    def resources(self, run: str) -> dict | None:
        """What Ray reserved for the run's actor on its node (for tests)."""
        import ray

        return ray.get(self.runs[run]["actor"].resources.remote(), timeout=CALL_TIMEOUT_S) if run in self.runs else None


def _driver_child(fd: int) -> None:
    """The child process's entry point: serve requests on the socket ``fd`` (see :class:`_DriverHandle`)."""
    from multiprocessing.connection import Connection

    _driver_main(Connection(fd))


def _driver_main(conn) -> None:
    """The child process: answer ``(id, op, args)`` requests with ``(id, ok, value or message)`` until the server
    closes the pipe (or goes away)."""
    driver = _Driver()
    while True:
        try:
            request_id, op, args = conn.recv()
        except (EOFError, OSError):
            break
        try:
            reply = (request_id, True, getattr(driver, op)(*args))
        except Exception as exc:  # answered as a sentence; the server turns it into a RuntimeError or a record
            reply = (request_id, False, _one_line(exc))
        try:
            conn.send(reply)
        except (OSError, ValueError):
            break


class _DriverGone(Exception):
    """The driver process ended, or did not answer in time."""


class _DriverHandle:
    """In the server: the child process holding one cluster's connection; requests and replies over a socket.

    The child is a fresh interpreter started with ``subprocess`` (``python -c``), not with ``multiprocessing``:
    under ``streamlit run``, ``__main__`` is the app's script, which ``multiprocessing`` would run again in the
    child. It imports neither torch nor the app, and ends when the server closes the socket or goes away.
    """

    def __init__(self, address: str) -> None:
        from multiprocessing.connection import Connection

        from .data_paths import repo_root

        self.address = address
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(repo_root()), env.get("PYTHONPATH", "")) if p)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", f"from trainers.ray_backend import _driver_child; _driver_child({theirs.fileno()})"],
                pass_fds=(theirs.fileno(),), env=env, cwd=str(repo_root()), stdin=subprocess.DEVNULL,
                start_new_session=True)  # a Ctrl-C in the server's terminal reaches the server, which closes it
        finally:
            theirs.close()
        self._conn = Connection(ours.detach())
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._replies: dict[int, tuple[bool, object]] = {}
        self._unread: set[int] = set()  # requests whose answer nobody waits for (stop, kill)
        self.gone: str | None = None

    def usable(self) -> bool:
        return self.gone is None and self._process.poll() is None

    def send(self, op: str, *args, answer: bool = True) -> int:
        """Send a request; its id (``answer=False``: its answer is dropped when it comes)."""
        with self._lock:
            if self.gone is not None:
                raise _DriverGone(self.gone)
            request_id = next(self._ids)
            if not answer:
                self._unread.add(request_id)
            try:
                self._conn.send((request_id, op, args))
            except (OSError, ValueError) as exc:
                self._lose(f"the process holding it ended ({type(exc).__name__})")
            return request_id

    def reply(self, request_id: int, wait_s: float) -> tuple[bool, bool, object]:
        """``(arrived, ok, value)`` for ``request_id``, waiting up to ``wait_s`` seconds; raises _DriverGone when
        the driver process has ended."""
        deadline = time.monotonic() + wait_s
        with self._lock:
            while request_id not in self._replies:
                if self.gone is not None:
                    raise _DriverGone(self.gone)
                try:
                    if not self._conn.poll(max(0.0, deadline - time.monotonic())):
                        if self._process.poll() is not None:
                            self._lose(f"the process holding it ended with exit code {self._process.returncode}")
                        return False, False, None
                    answer_id, ok, value = self._conn.recv()
                except (EOFError, OSError):
                    self._lose("the process holding it ended")
                if answer_id in self._unread:
                    self._unread.discard(answer_id)
                else:
                    self._replies[answer_id] = (ok, value)
            ok, value = self._replies.pop(request_id)
            return True, ok, value

    def call(self, op: str, *args, timeout: float = CALL_TIMEOUT_S):
        """Send a request and wait for its answer; RuntimeError (the driver's sentence) when it failed."""
        arrived, ok, value = self.reply(self.send(op, *args), timeout)
        if not arrived:
            with self._lock:
                self._lose(f"the process holding it did not answer within {timeout:.0f} s")
        if not ok:
            raise RuntimeError(value)
        return value

    def _lose(self, why: str) -> None:
        """Mark the connection lost (the lock is held) and end the process; raises _DriverGone."""
        self.gone = why
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait(5)
        raise _DriverGone(why)

    def close(self) -> None:
        """End the driver process (its runs' actors end with it)."""
        with self._lock:
            self.gone = self.gone or "it was closed"
            self._conn.close()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(5)


_drivers_lock = threading.Lock()
_drivers: dict[str, _DriverHandle] = {}


def _driver(address: str) -> _DriverHandle:
    """The connected driver for ``address`` (started and connected on first use, and again after it was lost).

    Raises RuntimeError (one sentence) when Ray is not installed, the address is malformed or does not answer
    within :data:`CONNECT_TIMEOUT_S` s, or connecting fails.
    """
    address = address.strip()
    with _drivers_lock:
        if importlib.util.find_spec("ray") is None:
            raise RuntimeError("TC_RAY_ADDRESS is set, but Ray is not installed on this server: install it with "
                               f"`pip install ray` (the worker nodes need it too), {_UNSET_HINT}")
        head = parse_address(address)
        handle = _drivers.get(address)
        if head is not None:  # also before a connection is used again: a head that went away is said at once
            try:
                socket.create_connection(head, timeout=CONNECT_TIMEOUT_S).close()
            except OSError as exc:
                if handle is not None:
                    _drivers.pop(address).close()
                raise RuntimeError(f"The Ray cluster at {address} cannot be reached ({exc.strerror or exc}): start "
                                   f"its head with `ray start --head`, {_UNSET_HINT}") from None
        if handle is not None and handle.usable():
            return handle
        handle = _DriverHandle(address)
        try:
            handle.call("connect", address, timeout=INIT_TIMEOUT_S)
        except _DriverGone as exc:
            handle.close()
            raise RuntimeError(f"The Ray cluster at {address} answered, but connecting to it failed: {exc} (is the "
                               f"head running this Ray version?), {_UNSET_HINT}") from None
        except RuntimeError as exc:
            handle.close()
            raise RuntimeError(f"Connecting to the Ray cluster at {address} failed: {exc}") from None
        _drivers[address] = handle
        return handle


def close_drivers() -> None:
    """End every driver process of this server (their runs end with them)."""
    with _drivers_lock:
        handles = list(_drivers.values())
        _drivers.clear()
    for handle in handles:
        handle.close()


# -------------------------------------------------------------------------------------------------------------
# The server's handle of one run
# -------------------------------------------------------------------------------------------------------------
class RayWorker:
    """One run on a Ray cluster, with :class:`trainers.worker.ProcessWorker`'s interface: ``start()``,
    ``poll()`` for new records, ``stop()``, ``kill()``, ``alive()``, ``join()``.

    ``memory_mb``: the job's memory budget (None = no limit): Ray's ``memory`` resource for placing the run,
    and the worker's address-space limit on Linux. ``address``: the cluster (``TC_RAY_ADDRESS``).

    Raises RuntimeError (one sentence) when Ray is not installed, the cluster cannot be reached, or no node of
    it is big enough for the run.
    """

    pid = None  # the run's process lives on a node of the cluster, not here
    _names = itertools.count()

    def __init__(self, config: TrainConfig, run_dir: str | os.PathLike, memory_mb: int | None = None, *,
                 address: str) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.memory_mb = memory_mb
        self.address = address.strip()
        self.num_cpus = int(config.threads or 1)
        self._memory_bytes = int(memory_mb) * 2**20 if memory_mb else None
        self._driver = _driver(self.address)
        try:
            self._driver.call("capacity", self.address, self.num_cpus, self._memory_bytes)
        except _DriverGone as exc:
            raise RuntimeError(f"The connection to the Ray cluster at {self.address} was lost: {exc}.") from None
        self._name = f"{os.getpid()}-{next(self._names)}-{config.run_id or 'run'}"
        self._started = False
        self._request: int | None = None  # the poll request in flight
        self._buffer: list[dict] = []  # records fetched by alive()/join() for the next poll()
        self._ended = False  # the end record has arrived (or was made up for a run whose actor is gone)
        self._state = threading.Lock()

    def start(self) -> None:
        """Ask the cluster for the run's actor (returns at once; the run waits in Ray's queue until a node has
        the CPUs and memory free). The first record says so."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        memory = f" and {self.memory_mb} MB" if self.memory_mb else ""
        with self._state:
            self._started = True
            self._buffer.append({"kind": "status", "status": "queued",
                                 "message": f"Waiting for a Ray worker with {self.num_cpus} CPU(s){memory} free…"})
            try:
                self._driver.call("start", self._name, self.config.to_dict(), self.memory_mb, self.num_cpus,
                                  self._memory_bytes)
            except (RuntimeError, _DriverGone) as exc:
                self._end_without_record(f"the Ray cluster did not take the run: {exc}")

    def alive(self) -> bool:
        """True from :meth:`start` until the run has ended (its end record has arrived, or its actor is gone)."""
        with self._state:
            self._pump(0.0)
            return self._started and not self._ended

    def poll(self) -> list[dict]:
        """The records that arrived since the last call (waits at most about :data:`POLL_WAIT_S` s); the end
        record has its checkpoint written on this server, and one is made up when the run's actor is gone."""
        with self._state:
            self._pump(POLL_WAIT_S)
            out, self._buffer = self._buffer, []
        return out

    def stop(self) -> None:
        """Ask the run to stop: it ends within one step, saves what it trained and sends its end record."""
        if self._started and not self._ended:
            try:
                self._driver.send("stop", self._name, answer=False)
            except _DriverGone:
                pass  # poll() reports the lost connection

    def kill(self, timeout: float = 5.0) -> None:
        """End the run's actor now (its end record, from :meth:`poll`, says it was killed)."""
        del timeout  # ray.kill does not wait
        if self._started and not self._ended:
            try:
                self._driver.send("kill", self._name, answer=False)
            except _DriverGone:
                pass

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the run to end (records that arrive meanwhile are kept for :meth:`poll`); True when it has."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._state:
                left = POLL_WAIT_S if deadline is None else max(0.0, min(POLL_WAIT_S, deadline - time.monotonic()))
                self._pump(left)
                if not self._started or self._ended:
                    return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    # ---------------------------------------------------------------------------------------------------------
    def _pump(self, wait_s: float) -> None:
        """Collect the answer to the poll request in flight (waiting up to ``wait_s``), and send the next one."""
        if not self._started or self._ended:
            return
        try:
            if self._request is None:
                self._request = self._driver.send("poll", self._name, POLL_WAIT_S)
            arrived, ok, value = self._driver.reply(self._request, wait_s + 0.05)
        except _DriverGone as exc:
            self._end_without_record(f"the connection to the Ray cluster at {self.address} was lost ({exc})")
            return
        if not arrived:
            return
        self._request = None
        if not ok:
            self._end_without_record(f"the Ray cluster lost the run: {value}")
            return
        for record in value["records"]:
            if record.get("kind") == "end":
                record = self._receive(record)
                self._ended = True
            self._buffer.append(record)
        if value["gone"] and not self._ended:
            self._end_without_record(f"the Ray worker running it ended unexpectedly: {value['gone']}")

    def _end_without_record(self, why: str) -> None:
        """The run is over without an end record from it: make one up."""
        from .worker import end_record

        self._buffer.append(end_record("failed", f"Training failed: {why}."))
        self._ended = True

    def _receive(self, record: dict) -> dict:
        """Write the files that came with the end record on this server; the record names the local folder."""
        from .checkpoint import save_checkpoint_files
        from .worker import CHECKPOINT_DIR

        files = record.pop(_FILES, None) or {}
        try:
            record["checkpoint"] = None
            if files.get("checkpoint"):
                record["checkpoint"] = str(save_checkpoint_files(self.run_dir / CHECKPOINT_DIR, files["checkpoint"]))
            if files.get("logs") and self.config.tensorboard and self.config.out_dir:
                _write_tree(Path(self.config.out_dir) / (self.config.run_id or "run"), files["logs"])
        except (OSError, ValueError) as exc:
            record.update(status="failed", checkpoint=None, traceback=traceback.format_exc(),
                          message=f"Training failed: the trained model could not be saved on this server: {exc}")
        return record


def _write_tree(folder: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` (relative path → bytes) under ``folder``, each with one ``os.replace``; paths that would
    leave ``folder`` are skipped."""
    root = folder.resolve()
    for name, content in files.items():
        target = (root / name).resolve()
        if root not in target.parents:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        temporary.write_bytes(content)
        os.replace(temporary, target)
