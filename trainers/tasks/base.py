"""What every task adapter offers the trainer (:class:`Task`), and what the adapters share.

Shape legend: B batch, S source length, T target length, V vocabulary size.

- :class:`Task`: the protocol of a task adapter: it builds the model, hands out training batches, wraps
  the model in its loss (an ``nn.Module``, so that DistributedDataParallel sees the forward pass),
  evaluates, describes its data for the checkpoint and words its headline result.
- :func:`teacher_forcing_loss` / :class:`TeacherForcingLoss`: the one teacher-forcing cross-entropy of the
  encoder-decoder tasks (AddSub, translation), in training and in evaluation.
- :class:`TrainingStopped` and :func:`check_stop`: how a stop request ends a loop between batches.
- :class:`Probe`: the one input a run's attention snapshots are recorded on (``task.probe(text)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "IGNORE_INDEX", "MAX_PROBE_TOKENS", "Probe", "Task", "TeacherForcingLoss", "TrainingStopped", "check_stop",
    "teacher_forcing_loss",
]

IGNORE_INDEX = -100  # F.cross_entropy's default ignore_index: a label that is never scored
MAX_PROBE_TOKENS = 48  # a probe's heatmaps stay readable up to about this many tokens a side


@dataclass
class Probe:
    """The input a run's attention snapshots are recorded on (:mod:`trainers.snapshots`).

    ``inputs``: what ``model(*inputs, return_attention=True)`` reads, one batch row on the task's device —
    (src (1, S), tgt_in (1, T)) for an encoder-decoder (the decoder reads the right answer, teacher forcing),
    (ids (1, T),) for a language model. ``query_tokens`` / ``key_tokens``: per attention kind, one display
    string per row / column. ``text``: the probe as typed (or the task's default).
    """

    text: str
    inputs: tuple[Tensor, ...]
    query_tokens: dict[str, list[str]] = field(default_factory=dict)
    key_tokens: dict[str, list[str]] = field(default_factory=dict)


class TrainingStopped(Exception):
    """Raised inside a training or evaluation loop when the stop event is set (caught by ``Trainer.fit``)."""


def check_stop(should_stop: Callable[[], bool] | None) -> None:
    """Raise :class:`TrainingStopped` when ``should_stop`` (e.g. ``threading.Event().is_set``) returns true."""
    if should_stop is not None and should_stop():
        raise TrainingStopped


@runtime_checkable
class Task(Protocol):
    """A task adapter: everything task-specific the :class:`~trainers.trainer.Trainer` needs.

    ``vocab_size`` (the output vocabulary; the divergence check compares the loss with ln V),
    ``tokenizer_json`` (the tokenizer's JSON for the checkpoint, None for AddSub) and ``headline``
    (the metric a page shows first) are attributes.
    """

    vocab_size: int
    tokenizer_json: str | None
    headline: str

    def build_model(self) -> nn.Module:
        """A freshly initialised model for this task's vocabulary and lengths (the trainer seeds torch first)."""

    def loss_module(self, model: nn.Module) -> nn.Module:
        """``model`` wrapped so that ``loss_module(*batch)`` is the training loss of a batch, in nats."""

    def next_batch(self) -> tuple[tuple[Tensor, ...], int]:
        """The next training batch (on the device) and the number of tokens it puts through the model."""

    def evaluate(self, model: nn.Module, max_batches: int | None, should_stop=None) -> dict[str, float]:
        """Validation metrics by name, ``"loss"`` (nats per token) among them; ``max_batches`` None = all."""

    def task_info(self) -> dict:
        """What a checkpoint records about the data (vocabulary, lengths, sources)."""

    def describe(self, val_loss: float, metrics: dict[str, float]) -> str:
        """One sentence on a finished run's validation result, e.g. "Validation BLEU 16.9 (greedy), loss 2.345."."""

    def probe(self, text: str | None = None) -> Probe:
        """The attention-snapshot input for ``text`` (None: the task's default probe, a sensible example).

        Raises ValueError with a sentence for text the task cannot read, and
        :class:`trainers.snapshots.NoAttentionError` for a model without attention (the LSTM).
        """


def teacher_forcing_loss(
    model: nn.Module,
    src: Tensor,
    tgt: Tensor,
    ignore_index: int = IGNORE_INDEX,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    """Cross-entropy in nats of an encoder-decoder under teacher forcing (Vaswani et al. 2017 §5).

    The decoder reads tgt[:, :-1] and predicts tgt[:, 1:]; labels equal to ``ignore_index`` (padding) are not
    scored. ``reduction``: "mean" (per scored token), "sum" or "none" (one value per label, (B·(T−1),)).
    The logits are scored in float32 whatever precision the forward pass ran in.
    """
    logits = model(src, tgt[:, :-1])  # (B, T - 1, V)
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(),
        tgt[:, 1:].reshape(-1),
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        reduction=reduction,
    )


class TeacherForcingLoss(nn.Module):
    """``loss_module(src (B, S), tgt (B, T))``: :func:`teacher_forcing_loss`'s mean, as a module for DDP."""

    def __init__(self, model: nn.Module, label_smoothing: float = 0.0, ignore_index: int = IGNORE_INDEX) -> None:
        super().__init__()
        self.model = model
        self.label_smoothing = label_smoothing
        self.ignore_index = ignore_index

    def forward(self, src: Tensor, tgt: Tensor) -> Tensor:
        return teacher_forcing_loss(self.model, src, tgt, self.ignore_index, self.label_smoothing)
