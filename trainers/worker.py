"""A training run in a worker process: the function a worker runs, the records it sends, and a local process handle.

The Train page never trains in the server's own threads: a run is a worker (a child process here, or a Ray actor
with ``trainers.ray_backend``) that runs :func:`run_training`, and the server only reads the plain records the
worker sends. A crash, an out-of-memory kill or a hung step ends that worker, never the server.

Records (plain dicts, picklable and JSON-serialisable; ``kind`` says which):

- ``{"kind": "status", "status": "running", "message": str}`` — the worker took up the run (data loading next);
- ``{"kind": "step", **StepInfo}`` — one optimiser step (step, max_steps, train_loss, lr, tokens_per_s,
  elapsed_s, tokens_seen, grad_norm, progress);
- ``{"kind": "eval", **EvalInfo}`` — one evaluation (step, elapsed_s, val_loss, metrics, final);
- ``{"kind": "end", "status": "finished" | "stopped" | "failed", "message": str, "summary": dict | None,
  "checkpoint": str | None, "snapshots": bool, "snapshot_note": str | None, "traceback": str | None}`` — the
  last record. ``checkpoint`` is the folder the worker saved the trained model into (``<run_dir>/checkpoint``,
  written atomically by :func:`trainers.checkpoint.save_checkpoint`, with the attention snapshots beside the
  weights when the run recorded any), None when there is no usable model (failed, or stopped before step 1).

:class:`ProcessWorker` runs :func:`run_training` in a child process (``forkserver`` where the platform has it, with
torch imported once in the fork server so that a job starts in a fraction of a second; ``spawn`` elsewhere), with
its own torch thread count (``TrainConfig.threads``) and, on Linux, an address-space limit of the job's memory
budget plus what the worker needed to import torch: an allocation beyond it raises ``MemoryError`` inside the
worker and the run fails with a sentence. Records travel through a ``multiprocessing`` queue; :meth:`poll` returns
only the records that arrived since the last call, so watching a run costs the same at step 10 and step 100,000.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue as queue_module
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from .config import TrainConfig

__all__ = ["ENV_RAY_ADDRESS", "ProcessWorker", "WORKER_RECORD_KINDS", "end_record", "make_worker", "run_training"]

WORKER_RECORD_KINDS = ("status", "step", "eval", "end")
CHECKPOINT_DIR = "checkpoint"  # the trained model's folder inside the run folder
_HEADROOM_MB = 1024  # beyond the budget: the data, the tokenizer, the optimiser's temporaries


def end_record(status: str, message: str, *, summary: dict | None = None, checkpoint: str | None = None,
               snapshots: bool = False, snapshot_note: str | None = None, traceback_text: str | None = None) -> dict:
    """The last record of a run (see the module docstring)."""
    return {"kind": "end", "status": status, "message": message, "summary": summary, "checkpoint": checkpoint,
            "snapshots": snapshots, "snapshot_note": snapshot_note, "traceback": traceback_text}


def run_training(config: TrainConfig | dict, run_dir: str | os.PathLike, emit: Callable[[dict], None],
                 should_stop: Callable[[], bool] | None = None) -> dict:
    """Train ``config`` in this process, sending records through ``emit``; save the model into ``run_dir``.

    Args:
        config: the run (a :class:`TrainConfig` or its ``to_dict()``); ``config.threads`` sets torch's threads.
        run_dir: the run's folder (created); the checkpoint goes to ``run_dir/checkpoint``.
        emit: called with each record, in order; the last one has ``kind == "end"``.
        should_stop: polled before every step and between evaluation batches; True ends the run as "stopped"
            (the model trained so far is still saved).

    Returns the end record (also emitted). Never raises for a failing run: any exception, ``MemoryError``
    included, becomes an end record with status "failed", a one-sentence message and the traceback.
    """
    from .checkpoint import save_checkpoint
    from .data_status import data_status
    from .trainer import Callbacks, Trainer

    run_dir = Path(run_dir)
    trainer = None
    try:
        config = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
        data = data_status(config.task, config.data_dir, probe_hub=False)
        loading = "Loading the data and building the model…"
        if data.state != "ready" and data.hub_id:  # the task's loader downloads it (or says why it cannot)
            loading = (f"Downloading {data.hub_id} ({data.download_mb:.1f} MB) from the Hugging Face Hub unless "
                       "it is cached, then building the model…")
        emit({"kind": "status", "status": "running", "message": loading})
        trainer = Trainer(
            config,
            Callbacks(on_step=lambda info: emit({"kind": "step", **asdict(info)}),
                      on_eval=lambda info: emit({"kind": "eval", **asdict(info)})),
            should_stop=should_stop,
        )
        summary = trainer.fit()
        checkpoint = None
        if summary.status != "failed" and trainer.model is not None and summary.steps > 0:
            checkpoint = str(save_checkpoint(
                run_dir / CHECKPOINT_DIR, trainer.model, task=config.task, tokenizer_kind=config.unit,
                tokenizer_json=trainer.task.tokenizer_json, train_config=config.to_dict(),
                metrics=dict(summary.final_metrics), command=f"Train page, preset {config.preset!r}",
                task_info=trainer.task.task_info(), dtype=config.save_dtype, snapshots=trainer.snapshots,
            ))
        record = end_record(summary.status, summary.message, summary=summary.to_dict(), checkpoint=checkpoint,
                            snapshots=trainer.snapshots is not None and len(trainer.snapshots) > 0,
                            snapshot_note=trainer.snapshot_note)
    except MemoryError:  # handled below, once the frames that hold the model are gone
        record = None
    except Exception as exc:  # any error ends the run as failed, with a sentence
        if _out_of_memory(exc):
            record = None
        else:
            detail = str(exc) or type(exc).__name__
            record = end_record("failed", f"Training failed: {detail}", traceback_text=traceback.format_exc())
    if record is None:  # out of memory: free the model first (formatting a traceback now would fail again)
        trainer = None
        gc.collect()
        record = end_record("failed", "Training failed: the run needed more memory than this server allows a run.")
    emit(record)
    return record


def _out_of_memory(exc: BaseException) -> bool:
    """True when ``exc`` is an allocation over the memory limit in another guise: torch's allocator ("can't
    allocate memory"), or a C extension whose allocation failed under the address-space limit (a SystemError)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = str(exc)
        if isinstance(exc, MemoryError) or "allocate memory" in text or "out of memory" in text.lower():
            return True
        if isinstance(exc, SystemError) and _memory_limited():
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _memory_limited() -> bool:
    """True when this process runs under an address-space limit (:func:`_limit_memory`)."""
    try:
        import resource

        return resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY
    except (ImportError, OSError, ValueError):
        return False


# -------------------------------------------------------------------------------------------------------------
# A local worker process
# -------------------------------------------------------------------------------------------------------------
def _limit_memory(memory_mb: int | None) -> None:
    """Cap this process's address space at what it uses now plus ``memory_mb`` (Linux; elsewhere nothing)."""
    if not memory_mb or not sys.platform.startswith("linux"):
        return
    import resource

    with open("/proc/self/status", encoding="ascii") as status:
        vm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    limit = (vm_kb * 1024) + (memory_mb + _HEADROOM_MB) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _worker_main(config: dict, run_dir: str, records, stop_event, memory_mb: int | None,
                 environ: dict | None = None) -> None:
    """The child process: take the server's environment as it is now, limit memory, train, send records; exit
    when the end record is sent."""
    if environ is not None:  # the fork server keeps the environment it started with; the server's may be newer
        os.environ.clear()
        os.environ.update(environ)
    import torch  # imported before the limit, so that the limit counts only what the run allocates

    del torch
    _limit_memory(memory_mb)
    run_training(config, run_dir, records.put, stop_event.is_set)
    records.close()
    records.join_thread()  # every record reaches the pipe before the process ends


def _context():
    """``forkserver`` (torch imported once in the fork server) where available, else ``spawn``; never ``fork``
    (the server has threads, and a forked copy of them can deadlock)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["torch", "trainers.trainer", "trainers.worker"])
        return ctx
    return multiprocessing.get_context("spawn")


_START_LOCK = threading.Lock()


@contextmanager
def _without_main_module() -> Iterator[None]:
    """Start a child without running the parent's ``__main__`` in it.

    ``spawn`` and ``forkserver`` children re-run the parent's main module before the target (to find functions
    defined there). Under ``streamlit run`` that module is the app script, so every worker would run ``app.py``
    again, pages and all. The worker's target lives in this module and its arguments are plain data, so the child
    needs no main module: it is left out of the data the child is prepared with, while this thread starts it.
    """
    from multiprocessing import spawn

    original = spawn.get_preparation_data

    def without_main(name: str) -> dict:
        data = original(name)
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
        return data

    with _START_LOCK:
        spawn.get_preparation_data = without_main
        try:
            yield
        finally:
            spawn.get_preparation_data = original


class ProcessWorker:
    """One run in a child process: ``start()``, ``poll()`` for new records, ``stop()``, ``kill()``.

    ``memory_mb``: the job's memory budget (None = no limit). When the process ends without an end record
    (killed, or out of memory in a way Python could not catch), :meth:`poll` adds one with status "failed"
    and a sentence naming the exit code.
    """

    def __init__(self, config: TrainConfig, run_dir: str | os.PathLike, memory_mb: int | None = None) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.memory_mb = memory_mb
        ctx = _context()
        self._records = ctx.Queue()
        self._stop = ctx.Event()
        self._process = ctx.Process(
            target=_worker_main, name=f"training-{config.run_id}",
            args=(config.to_dict(), str(self.run_dir), self._records, self._stop, memory_mb, dict(os.environ)),
            daemon=True,
        )
        self._ended = False

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def start(self) -> None:
        """Start the child process (returns at once)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with _without_main_module():
            self._process.start()

    def alive(self) -> bool:
        """True while the child process runs."""
        return self._process.is_alive()

    def poll(self) -> list[dict]:
        """The records that arrived since the last call (never blocks); an end record once the process is gone."""
        out: list[dict] = []
        while True:
            try:
                out.append(self._records.get_nowait())
            except queue_module.Empty:
                break
            except (EOFError, OSError):  # the pipe broke with the process
                break
        if any(r.get("kind") == "end" for r in out):
            self._ended = True
        elif not self._ended and self._process.exitcode is not None:
            time.sleep(0.05)  # the last records may still be in the pipe
            try:
                while True:
                    out.append(self._records.get_nowait())
            except (queue_module.Empty, EOFError, OSError):
                pass
            if not any(r.get("kind") == "end" for r in out):
                code = self._process.exitcode
                why = ("it was killed (signal 9: out of memory, or stopped by the system)" if code == -9
                       else f"it exited with code {code}")
                out.append(end_record("failed", f"Training failed: the training process ended unexpectedly: {why}."))
            self._ended = True
        return out

    def stop(self) -> None:
        """Ask the run to stop: it ends within one step, saves what it trained and sends its end record."""
        self._stop.set()

    def kill(self, timeout: float = 5.0) -> None:
        """End the process now (SIGTERM, then SIGKILL after ``timeout`` seconds)."""
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the process to end; True when it has."""
        self._process.join(timeout)
        return not self._process.is_alive()


ENV_RAY_ADDRESS = "TC_RAY_ADDRESS"


def make_worker(config: TrainConfig, run_dir: str | os.PathLike, memory_mb: int | None = None,
                environ: dict | None = None):
    """The worker for one run: a :class:`ProcessWorker` on this machine, or a Ray worker when ``TC_RAY_ADDRESS``
    names a Ray cluster (``trainers.ray_backend.RayWorker``, the same interface: ``start``, ``poll``, ``stop``,
    ``kill``, ``alive``, ``join``).

    Raises:
        RuntimeError: ``TC_RAY_ADDRESS`` is set but Ray is not installed or the cluster cannot be reached (the
            message says which and what to do).
    """
    address = (os.environ if environ is None else environ).get(ENV_RAY_ADDRESS, "").strip()
    if address:
        from .ray_backend import RayWorker

        return RayWorker(config, run_dir, memory_mb, address=address)
    return ProcessWorker(config, run_dir, memory_mb)
