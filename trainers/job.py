"""A training run in a background thread that a page can start, watch and stop.

``TrainingJob(config)`` wraps a :class:`~trainers.trainer.Trainer`. Its worker thread never touches
Streamlit: it only appends plain records to the job's history under a lock. A page polls
``snapshot()`` (a deep copy, so the page can never see a half-written record) and calls ``stop()``.

Statuses: "queued" (created, or waiting for a free slot of the semaphore), "running", then one of
"finished", "stopped" (by ``stop()``) or "failed" (bad data, a diverging loss, any error), each with
a one-sentence ``message``. A process-wide ``threading.BoundedSemaphore`` passed as ``semaphore``
caps how many jobs train at once; the slot is released however the job ends.
"""

from __future__ import annotations

import copy
import threading
import time
import traceback
from dataclasses import asdict, replace
from pathlib import Path

from torch import nn

from .config import TrainConfig
from .data_status import data_status
from .trainer import Callbacks, EvalInfo, RunSummary, StepInfo, Trainer

__all__ = ["JOB_STATUSES", "TrainingJob"]

JOB_STATUSES: tuple[str, ...] = ("queued", "running", "stopped", "finished", "failed")
_ENDED = ("stopped", "finished", "failed")


class TrainingJob:
    """One training run in a worker thread: ``start()``/``try_start()``, ``stop()``, ``snapshot()``.

    ``semaphore``: optional ``threading.BoundedSemaphore`` shared by all jobs of the process; a job
    holds one slot from the moment it starts training until it ends (however it ends).
    ``threads``: torch intra-op threads for this job (``torch.set_num_threads`` called in the worker;
    None leaves the process setting alone).
    After the job ends, ``model`` holds the trained model (eval mode), ``model_config`` its
    TransformerConfig and ``task_info``/``tokenizer_json`` what :meth:`save` writes beside it.
    """

    def __init__(
        self,
        config: TrainConfig,
        semaphore: threading.BoundedSemaphore | None = None,
        threads: int | None = None,
    ) -> None:
        self.config = config if threads is None else replace(config, threads=threads)
        self.semaphore = semaphore
        self.model: nn.Module | None = None
        self.model_config = None
        self.task_info: dict = {}
        self.tokenizer_json: str | None = None
        self.summary: RunSummary | None = None
        self.error_traceback: str | None = None  # the traceback of an unexpected error, for the logs
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._acquired = False
        self._status = "queued"
        self._message = "Waiting to start."
        self._steps: list[dict] = []
        self._evals: list[dict] = []
        self._started_at: float | None = None
        self._ended_at: float | None = None
        self._trainer: Trainer | None = None

    # ---------------------------------------------------------------------------------------------
    # Control
    # ---------------------------------------------------------------------------------------------
    @property
    def status(self) -> str:
        """"queued", "running", "stopped", "finished" or "failed"."""
        with self._lock:
            return self._status

    @property
    def run_id(self) -> str | None:
        """The run's id (its TensorBoard folder name under ``config.out_dir``) once training began."""
        return self._trainer.run_id if self._trainer is not None else self.config.run_id

    def is_alive(self) -> bool:
        """True while the worker thread runs (queued for a slot, or training)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the worker thread; with a semaphore it waits (status "queued") for a free slot.

        Raises RuntimeError when the job was already started.
        """
        self._launch(acquired=False)

    def try_start(self) -> bool:
        """Start only if a slot of the semaphore is free right now; return False (and do nothing) if not.

        Without a semaphore this is ``start()`` and returns True. Raises RuntimeError when already started.
        """
        if self._thread is not None:
            raise RuntimeError("this training job was already started; create a new TrainingJob to train again")
        if self.semaphore is not None:
            if not self.semaphore.acquire(blocking=False):
                return False
            self._acquired = True
        self._launch(acquired=True)
        return True

    def _launch(self, acquired: bool) -> None:
        if self._thread is not None:
            raise RuntimeError("this training job was already started; create a new TrainingJob to train again")
        self._thread = threading.Thread(target=self._run, args=(acquired,), name="training-job", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> bool:
        """Ask the run to stop and wait up to ``timeout`` seconds for the worker to end.

        The trainer checks the stop flag before every step and between evaluation batches, so a run
        ends within one step. Returns True when the worker has ended (or never started).
        """
        self._stop_event.set()
        if self._thread is None:
            with self._lock:
                if self._status == "queued":
                    self._status, self._message = "stopped", "Stopped before it started."
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker to end; True when it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ---------------------------------------------------------------------------------------------
    # Watching
    # ---------------------------------------------------------------------------------------------
    def snapshot(self) -> dict:
        """A deep copy of the job's state, taken under the lock. Keys:

        ``status``, ``message``, ``run_id``, ``task``, ``config`` (TrainConfig as a dict),
        ``steps`` (list of StepInfo dicts: step, max_steps, train_loss, lr, tokens_per_s, elapsed_s,
        tokens_seen, grad_norm, progress), ``evals`` (list of EvalInfo dicts: step, elapsed_s,
        val_loss, metrics, final), ``last_step`` / ``last_eval`` (the latest of each, or None),
        ``progress`` (0…1), ``elapsed_s`` (since start, or the run's length once ended),
        ``summary`` (RunSummary dict once ended, else None), ``has_model`` (bool).
        """
        with self._lock:
            if self._started_at is None:
                elapsed = 0.0
            else:
                elapsed = (self._ended_at or time.perf_counter()) - self._started_at
            state = {
                "status": self._status,
                "message": self._message,
                "run_id": self.run_id,
                "task": self.config.task,
                "config": self.config.to_dict(),
                "steps": self._steps,
                "evals": self._evals,
                "last_step": self._steps[-1] if self._steps else None,
                "last_eval": self._evals[-1] if self._evals else None,
                "progress": (self._steps[-1]["progress"] if self._steps else 0.0)
                if self._status != "finished" else 1.0,
                "elapsed_s": elapsed,
                "summary": self.summary.to_dict() if self.summary is not None else None,
                "has_model": self.model is not None,
            }
            return copy.deepcopy(state)

    def meta(self):
        """A :class:`~trainers.checkpoint.CheckpointMeta` for the trained model, as ``load_checkpoint`` returns.

        Gives the pages one way to encode prompts, decode ids and label tokens (``meta.encode``,
        ``meta.decode``, ``meta.token_strings``) for a job's model and for a saved checkpoint alike.
        Raises RuntimeError when there is no trained model yet.
        """
        from .checkpoint import CheckpointMeta

        if self.model is None:
            raise RuntimeError("there is no trained model yet: wait until the run has ended")
        tokenizer = None
        if self.tokenizer_json is not None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_str(self.tokenizer_json)
        with self._lock:
            metrics = dict(self.summary.final_metrics) if self.summary else {}
        return CheckpointMeta(
            path=Path(self.config.out_dir) / str(self.run_id),
            task=self.config.task,
            tokenizer_kind=self.config.unit,
            model_config=self.model_config,
            train_config=self.config.to_dict(),
            metrics=metrics,
            command="",
            task_info=dict(self.task_info),
            tokenizer=tokenizer,
        )

    # ---------------------------------------------------------------------------------------------
    # Saving
    # ---------------------------------------------------------------------------------------------
    def save(self, path: str | None = None, dtype: str | None = None) -> Path:
        """Save the trained model as a checkpoint folder (default ``<out_dir>/<run_id>/checkpoint``).

        Raises RuntimeError when there is no trained model yet (the job has not ended, or failed
        before building one).
        """
        from .checkpoint import save_checkpoint

        if self.model is None or self.is_alive():
            raise RuntimeError("there is no trained model to save yet: wait until the run has ended")
        target = Path(path) if path is not None else Path(self.config.out_dir) / str(self.run_id) / "checkpoint"
        with self._lock:
            metrics = dict(self.summary.final_metrics) if self.summary else {}
        return save_checkpoint(
            target,
            self.model,
            task=self.config.task,
            tokenizer_kind=self.config.unit,
            tokenizer_json=self.tokenizer_json,
            train_config=self.config.to_dict(),
            metrics=metrics,
            command=f"TrainingJob(preset={self.config.preset!r}) from the Train page",
            task_info=self.task_info,
            dtype=dtype or self.config.save_dtype,
            snapshots=self.attention_snapshots(),
        )

    def attention_snapshots(self):
        """The run's attention snapshots so far (a copy that does not grow), or None when it records none.

        Safe to call while the run trains (:class:`trainers.snapshots.AttentionSnapshots` appends under a lock).
        """
        trainer = self._trainer
        snaps = trainer.snapshots if trainer is not None else None
        return snaps.copy() if snaps is not None else None

    @property
    def snapshot_note(self) -> str | None:
        """Why the run records no attention snapshots (e.g. the LSTM has no attention), or None."""
        return self._trainer.snapshot_note if self._trainer is not None else None

    # ---------------------------------------------------------------------------------------------
    # Worker
    # ---------------------------------------------------------------------------------------------
    def _set(self, status: str, message: str) -> None:
        with self._lock:
            self._status, self._message = status, message

    def _on_step(self, info: StepInfo) -> None:
        record = asdict(info)
        with self._lock:
            self._steps.append(record)
            self._message = f"Step {info.step}: training loss {info.train_loss:.3f}."

    def _on_eval(self, info: EvalInfo) -> None:
        record = asdict(info)
        with self._lock:
            self._evals.append(record)

    def _run(self, acquired: bool) -> None:
        try:
            if self.semaphore is not None and not acquired:
                while not self._acquired:
                    if self._stop_event.is_set():
                        self._set("stopped", "Stopped while waiting for a free training slot.")
                        return
                    self._acquired = self.semaphore.acquire(timeout=0.1)
            if self._stop_event.is_set():
                self._set("stopped", "Stopped before it started.")
                return
            data = data_status(self.config.task, self.config.data_dir, probe_hub=False)
            loading = "Loading the data and building the model…"
            if data.state != "ready" and data.hub_id:  # the task's loader downloads it (or says why it cannot)
                loading = (f"Downloading {data.hub_id} ({data.download_mb:.1f} MB) from the Hugging Face Hub unless "
                           "it is cached, then building the model…")
            with self._lock:
                self._status, self._message = "running", loading
                self._started_at = time.perf_counter()
            trainer = Trainer(
                self.config,
                Callbacks(on_step=self._on_step, on_eval=self._on_eval),
                should_stop=self._stop_event.is_set,
            )
            self._trainer = trainer
            trainer.setup()
            self.model_config = trainer.model_config
            self.task_info = trainer.task.task_info()
            self.tokenizer_json = trainer.task.tokenizer_json
            summary = trainer.fit()
            with self._lock:
                self.model = trainer.model if summary.status != "failed" else None  # a diverged model is NaN
                self.summary = summary
                self._status, self._message = summary.status, summary.message
        except Exception as exc:  # any error ends the job as failed, with a sentence
            detail = str(exc) or type(exc).__name__
            with self._lock:
                self._status = "failed"
                self._message = f"Training failed: {detail}"
                self.error_traceback = traceback.format_exc()
        finally:
            with self._lock:
                self._ended_at = time.perf_counter()
                if self._started_at is None:
                    self._started_at = self._ended_at
            if self.semaphore is not None and self._acquired:
                self._acquired = False
                self.semaphore.release()

