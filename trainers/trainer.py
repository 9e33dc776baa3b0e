"""A model-agnostic trainer with callbacks: the training loop, and nothing task-specific.

``Trainer(config).fit()`` trains the model a :class:`TrainConfig` describes and returns a
:class:`RunSummary`. What is task-specific lives in a *task adapter* (the :class:`~trainers.tasks.base.Task`
protocol; ``trainers.tasks.registry.make_task`` picks it by ``config.task``): it builds the model, hands
out training batches, computes the loss of a batch (inside an ``nn.Module``, so that
DistributedDataParallel sees the forward pass), evaluates and words the result. The trainer knows no
task by name.

Training follows Vaswani et al. 2017 §5.3-5.4 with modern defaults: AdamW (Loshchilov & Hutter 2019),
linear warmup then cosine decay or the paper's inverse-square-root decay (eq. 3; a ``LambdaLR``,
:mod:`trainers.schedule`), global gradient-norm
clipping, label smoothing (Szegedy et al. 2016) and dropout from the model config. Callbacks
``on_step(StepInfo)``, ``on_eval(EvalInfo)`` and ``on_end(RunSummary)`` receive plain dataclasses.
Logs go to TensorBoard (``<out_dir>/<run_id>/``); metrics are accumulated with torchmetrics.
With ``snapshot_every`` set, the model's attention on the task's probe is recorded every that many steps
and at the first and the last step (``trainer.snapshots``, :mod:`trainers.snapshots`; rank 0 only).

Under ``torchrun`` (``torch.distributed`` initialised) the loss module is wrapped in
DistributedDataParallel; batches are sharded by rank (a DistributedSampler for AddSub, rank-specific
columns or windows for the language models); only rank 0 calls back and writes logs.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from transformer.models import TransformerConfig

from .config import TrainConfig
from .schedule import warmup_then_decay
from .snapshots import AttentionSnapshots, NoAttentionError, record_attention
from .tasks.base import Task, TrainingStopped
from .tasks.registry import make_task

__all__ = [
    "Callbacks",
    "EvalInfo",
    "RunSummary",
    "StepInfo",
    "Trainer",
    "TrainingDiverged",
    "TrainingStopped",
    "resolve_device",
    "use_bfloat16",
]


# --------------------------------------------------------------------------------------------------
# Plain data handed to callbacks
# --------------------------------------------------------------------------------------------------
@dataclass
class StepInfo:
    """One optimiser step. Losses in nats per predicted token (with label smoothing if set)."""

    step: int  # 1-based optimiser step
    max_steps: int | None  # the step budget (None = time budget only)
    train_loss: float  # this step's training loss
    lr: float  # learning rate used for this step
    tokens_per_s: float  # training throughput over the last few steps (tokens through the model per second)
    elapsed_s: float  # wall-clock seconds since training started
    tokens_seen: int  # tokens processed so far (this process)
    grad_norm: float  # global gradient norm before clipping
    progress: float  # fraction of the step or time budget used, in [0, 1]


@dataclass
class EvalInfo:
    """One evaluation on validation data: ``val_loss`` in nats per token, task metrics by name."""

    step: int
    elapsed_s: float
    val_loss: float
    metrics: dict[str, float]  # e.g. exact_match, token_accuracy (AddSub); perplexity, word_perplexity (LMs)
    final: bool = False  # True for the evaluation on the whole validation split at the end


@dataclass
class RunSummary:
    """How a run ended: status "finished", "stopped" or "failed", with a human message."""

    status: str
    message: str
    steps: int
    elapsed_s: float  # wall time of the whole run, final evaluation included
    train_time_s: float  # wall time of the training loop (periodic evaluations included)
    tokens_seen: int
    tokens_per_s: float  # average training throughput (evaluation time excluded)
    final_metrics: dict[str, float] = field(default_factory=dict)  # last evaluation's metrics (val_loss included)
    history: dict[str, list] = field(default_factory=dict)  # not filled by the Trainer; the job adds it
    extra: dict = field(default_factory=dict)  # e.g. the per-rank parameter hashes of a distributed run

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Callbacks:
    """Functions the trainer calls (in its own thread) with plain data; any may be None."""

    on_step: Callable[[StepInfo], None] | None = None
    on_eval: Callable[[EvalInfo], None] | None = None
    on_end: Callable[[RunSummary], None] | None = None


class TrainingDiverged(RuntimeError):
    """The loss or the gradients became NaN/infinite or exploded; the message names the likely cause."""


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------
def resolve_device(device: str) -> torch.device:
    """"auto" → CUDA when available, else CPU. Raises ValueError for "cuda" on a machine without CUDA."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but PyTorch sees no CUDA GPU here; use 'auto' or 'cpu'")
    return torch.device(device)


def use_bfloat16(precision: str, device: torch.device) -> bool:
    """Whether a run with ``precision`` ("float32", "bfloat16", "auto") autocasts to bfloat16 on ``device``.

    "auto" picks bfloat16 on a GPU that supports it, and on a CPU where oneDNN has fast bfloat16 kernels
    (AVX-512); elsewhere bfloat16 matrix products are emulated and slower than float32.
    """
    if precision != "auto":
        return precision == "bfloat16"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _distributed() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def parameter_hash(model: nn.Module) -> str:
    """SHA-256 of every parameter's bytes, in state-dict order: equal hashes mean bit-identical weights."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------------
# The trainer
# --------------------------------------------------------------------------------------------------
def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases, norms' γ/β or 1-D tables).

    The fused implementation (one kernel for all parameters) where PyTorch offers it: on one CPU thread it
    took about 1 ms off a 25 ms Shakespeare step (4 layers, d_model 128, batch 12 × 64) against the
    per-parameter loop; same update rule.
    """
    decay, no_decay, seen = [], [], set()
    for p in model.parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    params = [p for group in groups for p in group["params"]]
    fused = bool(params) and all(p.device.type in ("cpu", "cuda") and p.dtype == torch.float32 for p in params)
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, config.beta2), fused=fused)


_ISSUED_RUN_IDS: set[str] = set()
_RUN_ID_LOCK = threading.Lock()


def default_run_id(task: str) -> str:
    """A unique run name, readable in lists and safe as a folder name: ``addsub-20250101-120000-1a2b3c``.

    The date and time say when; six random hex digits keep runs started in the same second apart (two
    processes collide with odds of about 1 in 16 million; within one process a name is never issued twice).
    The Train page and the command line both use it.
    """
    with _RUN_ID_LOCK:
        while True:
            run_id = f"{task}-{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
            if run_id not in _ISSUED_RUN_IDS:
                _ISSUED_RUN_IDS.add(run_id)
                return run_id


class Trainer:
    """Trains ``config``'s task; ``fit()`` returns a :class:`RunSummary` and leaves the model in ``self.model``.

    ``should_stop`` (e.g. ``threading.Event().is_set``) is checked before every step and between
    evaluation batches; when it turns true the run ends with status "stopped". A NaN/infinite loss or
    gradient, or a loss above 3 × max(first loss, ln V), ends it with status "failed" and a message
    naming the learning rate as the likely cause. Exceptions other than these propagate.
    """

    def __init__(
        self,
        config: TrainConfig,
        callbacks: Callbacks | None = None,
        should_stop: Callable[[], bool] | None = None,
        task: Task | None = None,
    ) -> None:
        """``task``: a ready task adapter (e.g. ``AddSubTask(..., train_pairs=...)``); default: built from config."""
        self.config = config
        self.callbacks = callbacks or Callbacks()
        self.should_stop = should_stop
        self.run_id = config.run_id or default_run_id(config.task)
        self.model: nn.Module | None = None
        self.task = task
        self.model_config: TransformerConfig | None = None
        self.rank, self.world_size = _distributed()
        self.device = resolve_device(config.device)
        self.log_dir = os.path.join(config.out_dir, self.run_id)
        # Attention snapshots (config.snapshot_every): the probe, the snapshots so far, or why there are none.
        self.probe = None
        self.snapshots: AttentionSnapshots | None = None
        self.snapshot_note: str | None = None

    # The callbacks run on rank 0 only.
    def _emit(self, name: str, info) -> None:
        fn = getattr(self.callbacks, name)
        if fn is not None and self.rank == 0:
            fn(info)

    def setup(self) -> None:
        """Seed, load the task's data and build the model (called by :meth:`fit`; safe to call before)."""
        if self.model is not None:
            return
        c = self.config
        if c.threads:
            torch.set_num_threads(c.threads)
        random.seed(c.seed)
        np.random.seed(c.seed)
        torch.manual_seed(c.seed)
        if self.task is None:
            self.task = make_task(c, self.device, self.rank, self.world_size)
        torch.manual_seed(c.seed)  # identical initial weights on every rank
        self.model = self.task.build_model().to(self.device)
        self.model_config = self.model.config
        if c.snapshot_every and self.rank == 0:
            self._setup_snapshots()

    def _setup_snapshots(self) -> None:
        """Build the task's probe; a model without attention (the LSTM) gets a note instead of snapshots.

        Raises ValueError (the task's sentence) for a probe the task cannot read.
        """
        probe_fn = getattr(self.task, "probe", None)
        if probe_fn is None:
            self.snapshot_note = f"The {self.config.task} task offers no probe: no attention snapshots are recorded."
            return
        try:
            self.probe = probe_fn(self.config.probe)
        except NoAttentionError as exc:
            self.snapshot_note = str(exc)
            return
        self.snapshots = AttentionSnapshots(self.probe.text, self.probe.query_tokens, self.probe.key_tokens,
                                            task=self.config.task, run_id=self.run_id)

    def _snapshot(self, step: int, loss: float) -> None:
        """Record the model's attention on the probe (eval mode, no gradients; the mode is restored)."""
        t = time.perf_counter()
        self.snapshots.add(step, loss, record_attention(self.model, self.probe.inputs))
        self.snapshots.record_time_s += time.perf_counter() - t

    def fit(self) -> RunSummary:
        """Run the training loop to its step or time budget; evaluate every ``eval_every`` steps and at the end."""
        c = self.config
        t_start = time.perf_counter()
        self.setup()
        model, task = self.model, self.task
        loss_module = task.loss_module(model)
        if self.world_size > 1:
            loss_module = DistributedDataParallel(
                loss_module,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=c.model.adaptive_cutoffs is not None,
            )
        optimizer = _optimizer(model, c)
        bf16 = use_bfloat16(c.precision, self.device)
        writer = None
        if c.tensorboard and self.rank == 0:
            from torch.utils.tensorboard import SummaryWriter  # the tensorboard package, only when logging

            writer = SummaryWriter(self.log_dir)
            writer.add_text("config", f"```\n{c.to_dict()}\n```")
        threshold_base = math.log(max(task.vocab_size, 2))
        first_loss: float | None = None
        step, tokens_seen, train_compute = 0, 0, 0.0
        window: list[tuple[int, float]] = []
        status, message = "finished", ""
        last_eval: EvalInfo | None = None
        t0 = time.perf_counter()
        eval_time = 0.0

        def budget_used(steps_done: int) -> float:
            """The fraction of the step or time budget used after ``steps_done`` steps (the larger of the two)."""
            elapsed = time.perf_counter() - t0
            return max(steps_done / c.max_steps if c.max_steps else 0.0, elapsed / c.max_time_s if c.max_time_s else 0.0)

        scheduler = warmup_then_decay(optimizer, c, budget_used)  # sets step 1's rate
        model.train()
        try:
            while True:
                elapsed = time.perf_counter() - t0
                done = (c.max_steps is not None and step >= c.max_steps) or (
                    c.max_time_s is not None and elapsed >= c.max_time_s
                )
                stop = self.should_stop is not None and self.should_stop()
                if self.world_size > 1:  # every rank must agree on when to end
                    flags = torch.tensor([float(done), float(stop)], device=self.device)
                    torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
                    done, stop = bool(flags[0]), bool(flags[1])
                if stop:
                    raise TrainingStopped
                if done:
                    break
                step += 1
                t_step = time.perf_counter()
                if step > 1:
                    scheduler.step()  # this step's rate, from the budget used so far (after the last optimizer.step)
                lr = scheduler.get_last_lr()[0]
                batch, n_tokens = task.next_batch()
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
                    loss = loss_module(*batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(
                    model.parameters(), c.grad_clip if c.grad_clip is not None else float("inf")
                )
                loss_value, grad_value = float(loss.detach()), float(grad_norm)
                bad = not (math.isfinite(loss_value) and math.isfinite(grad_value))
                if first_loss is None and not bad:
                    first_loss = loss_value
                exploded = not bad and loss_value > 3.0 * max(first_loss or 0.0, threshold_base)
                if self.world_size > 1:
                    flags = torch.tensor([float(bad), float(exploded)], device=self.device)
                    torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
                    bad, exploded = bool(flags[0]), bool(flags[1])
                if bad or exploded:
                    what = (
                        f"the loss became {loss_value:g}" if not math.isfinite(loss_value)
                        else f"the gradients became {grad_value:g}" if bad
                        else f"the loss exploded to {loss_value:.3g} (it started at {first_loss:.3g})"
                    )
                    raise TrainingDiverged(
                        f"Training diverged at step {step}: {what}. The learning rate is most likely too high "
                        f"(lr = {c.lr:g}); try about 10 times smaller, e.g. lr = {c.lr / 10:g}, or keep gradient "
                        f"clipping on."
                    )
                optimizer.step()
                dt = time.perf_counter() - t_step
                train_compute += dt
                tokens_seen += n_tokens
                window.append((n_tokens, dt))
                if len(window) > 20:
                    window.pop(0)
                tps = sum(n for n, _ in window) / max(sum(t for _, t in window), 1e-9)
                elapsed = time.perf_counter() - t0
                info = StepInfo(
                    step=step,
                    max_steps=c.max_steps,
                    train_loss=loss_value,
                    lr=lr,
                    tokens_per_s=tps,
                    elapsed_s=elapsed,
                    tokens_seen=tokens_seen,
                    grad_norm=grad_value,
                    progress=min(1.0, budget_used(step)),
                )
                if writer is not None:
                    writer.add_scalar("train/loss", loss_value, step)
                    writer.add_scalar("train/lr", lr, step)
                    writer.add_scalar("train/tokens_per_s", tps, step)
                    writer.add_scalar("train/grad_norm", grad_value, step)
                self._emit("on_step", info)
                if self.snapshots is not None and (step == 1 or step % c.snapshot_every == 0):
                    self._snapshot(step, loss_value)
                if step % c.eval_every == 0 and step != c.max_steps:  # the last step gets the final evaluation
                    t_eval = time.perf_counter()
                    last_eval = self._evaluate(step, t0, c.eval_batches, final=False, writer=writer)
                    eval_time += time.perf_counter() - t_eval
        except TrainingStopped:
            status, message = "stopped", f"Stopped by request after {step} steps."
        except TrainingDiverged as exc:
            status, message = "failed", str(exc)
        if (self.snapshots is not None and status != "failed" and step > 0
                and (not self.snapshots.steps or self.snapshots.steps[-1] != step)):
            self._snapshot(step, loss_value)  # the last step's: equal to the final model's attention
        train_time = time.perf_counter() - t0
        if status == "finished":
            try:
                if c.final_eval:  # the whole validation split
                    last_eval = self._evaluate(step, t0, None, final=True, writer=writer)
                elif last_eval is None or last_eval.step != step:
                    last_eval = self._evaluate(step, t0, c.eval_batches, final=True, writer=writer)
            except TrainingStopped:
                status = "stopped"
                message = f"Stopped by request during the final evaluation, after {step} steps."
            if status == "finished":
                message = self._finished_message(step, train_time, last_eval)
        summary = RunSummary(
            status=status,
            message=message,
            steps=step,
            elapsed_s=time.perf_counter() - t_start,
            train_time_s=train_time,
            tokens_seen=tokens_seen,
            tokens_per_s=tokens_seen / max(train_compute, 1e-9),
            final_metrics=({"val_loss": last_eval.val_loss, **last_eval.metrics} if last_eval else {}),
        )
        summary.extra["precision"] = "bfloat16" if bf16 else "float32"
        if self.world_size > 1 and status != "failed":
            hashes: list = [None] * self.world_size
            torch.distributed.all_gather_object(hashes, parameter_hash(model))
            summary.extra["rank_param_sha256"] = hashes
            summary.extra["world_size"] = self.world_size
        if writer is not None:
            for name, value in summary.final_metrics.items():
                if isinstance(value, int | float):
                    writer.add_scalar(f"final/{name}", value, step)
            writer.close()
        model.eval()
        self._emit("on_end", summary)
        return summary

    def _evaluate(self, step: int, t0: float, max_batches: int | None, final: bool, writer) -> EvalInfo:
        metrics = self.task.evaluate(self.model, max_batches, self.should_stop)
        self.model.train()
        metrics = {k: v for k, v in metrics.items() if k != "loss"} | {"loss": metrics["loss"]}
        info = EvalInfo(step=step, elapsed_s=time.perf_counter() - t0, val_loss=metrics["loss"],
                        metrics={k: v for k, v in metrics.items() if k != "loss"}, final=final)
        if writer is not None:
            writer.add_scalar("val/loss", info.val_loss, step)
            for name, value in info.metrics.items():
                writer.add_scalar(f"val/{name}", value, step)
        self._emit("on_eval", info)
        return info

    def _finished_message(self, step: int, train_time: float, last_eval: EvalInfo | None) -> str:
        text = f"Finished {step} steps in {train_time:.1f} s."
        if last_eval is not None:
            text += " " + self.task.describe(last_eval.val_loss, last_eval.metrics)
        return text
