"""Attention snapshots: what a model's heads attend to on one *probe input*, recorded while it trains.

Every ``snapshot_every`` optimiser steps (and at the first and the last step) the trainer runs the model on
the probe in eval mode under ``torch.no_grad`` — the model's own attention recording,
``model(..., return_attention=True)`` → :class:`transformer.models.AttentionRecord` — and keeps every layer
and head of every attention kind the model has (decoder-only: masked self-attention ``decoder_self``;
encoder-decoder: ``encoder_self``, ``decoder_self`` and ``cross``) as float32 NumPy arrays (H, T_q, T_k).
Training mode is restored afterwards, so dropout and the optimiser never notice.

The probe comes from the task adapter (``task.probe(text)``, :class:`trainers.tasks.base.Probe`): an AddSub
expression with its right answer, a line of the corpus, a source sentence with its translation. The
decoder of an encoder-decoder reads the *right* answer (teacher forcing, as in training), so every
snapshot has the same tokens and the heatmaps can be compared step by step.

Saved beside a checkpoint as ``attention_snapshots.npz`` (``np.savez_compressed``, strings as unicode arrays,
loads with ``allow_pickle=False``)::

    step120/cross/layer0        (H, T_q, T_k) float32, rows sum to 1 (a fully masked row: 0)
    steps, losses               (S,) int64 / float64: the snapshot steps and the training loss at each
    kinds                       the attention kinds, e.g. ["encoder_self", "decoder_self", "cross"]
    cross/query_tokens, …       the probe's token strings for each kind's rows (queries) and columns (keys)
    probe, task, run_id         the probe text and where it came from

Summaries per head (for the charts of a pattern against step): :func:`attention_entropy` (Shannon entropy
of each query's weights, in nats, averaged over queries) and :func:`monotonic_alignment_mass` (the share of
attention on the best monotonic path through a cross-attention map, found by dynamic programming, as the
alignments of Bahdanau et al. 2015, Fig. 3, run from the top left to the bottom right).
"""

from __future__ import annotations

import io
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = [
    "ATTENTION_KINDS",
    "SNAPSHOTS_FILE",
    "AttentionSnapshots",
    "NoAttentionError",
    "attention_entropy",
    "DEFAULT_PROBES",
    "default_probe",
    "default_snapshot_every",
    "load_snapshots",
    "monotonic_alignment_mass",
    "record_attention",
]

SNAPSHOTS_FILE = "attention_snapshots.npz"
ATTENTION_KINDS: tuple[str, ...] = ("encoder_self", "decoder_self", "cross")
SNAPSHOTS_PER_RUN = 40  # the default spacing aims at about this many snapshots
TRANSLATION_SEPARATOR = "|||"  # "source ||| translation": the decoder of a translation probe reads the latter

# Each task's default probe: an AddSub expression, a line of the corpus, a validation sentence with its reference.
DEFAULT_PROBES: dict[str, str] = {
    "addsub": "-30 - -34",
    "shakespeare": "Before we proceed any further, hear me speak.",
    "anna": "Happy families are all alike; every unhappy",
    "wikitext2": "Homarus gammarus , known as the European lobster or common lobster , is a species of lobster .",
    "multi30k_en_de": "A man sleeping in a green room on a couch. ||| Ein Mann schläft in einem grünen Raum auf einem Sofa.",
    "multi30k_en_fr": "A man sleeping in a green room on a couch. ||| Un homme dormant dans une chambre verte sur un canapé.",
    "anki_en_fr": "I want to go abroad. ||| Je veux partir à l'étranger.",
}


def default_probe(task: str) -> str:
    """The probe a task's snapshots use unless the user types another ("" for an unknown task)."""
    return DEFAULT_PROBES.get(task, "")


class NoAttentionError(ValueError):
    """The model has no attention to record (the LSTM baseline)."""


def default_snapshot_every(max_steps: int | None, steps_per_second: float = 8.0, max_time_s: float | None = None) -> int:
    """A snapshot spacing that gives about :data:`SNAPSHOTS_PER_RUN` snapshots: ``max_steps // 40`` (at least 1);
    for a time budget only, the steps expected in ``max_time_s`` at ``steps_per_second``."""
    if max_steps:
        return max(1, max_steps // SNAPSHOTS_PER_RUN)
    if max_time_s:
        return max(1, int(max_time_s * steps_per_second) // SNAPSHOTS_PER_RUN)
    return 25


@torch.no_grad()
def record_attention(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> dict[str, np.ndarray]:
    """Every attention weight of ``model`` on ``inputs`` (one batch row): kind → float32 array (L, H, T_q, T_k).

    Runs in eval mode (no dropout) and restores the mode the model was in. Raises NoAttentionError for a
    model without ``return_attention`` weights (the LSTM).
    """
    was_training = model.training
    model.eval()
    try:
        out = model(*inputs, return_attention=True)
    finally:
        model.train(was_training)
    if not isinstance(out, tuple):
        raise NoAttentionError("This model has no attention (an LSTM): there are no attention snapshots to record.")
    record = out[1]
    weights = {}
    for kind in ATTENTION_KINDS:
        layers = getattr(record, kind)
        if layers:
            weights[kind] = torch.stack([w[0] for w in layers]).float().cpu().numpy()  # (L, H, T_q, T_k)
    return weights


@dataclass
class AttentionSnapshots:
    """The snapshots of one run on one probe: ``weights[i][kind]`` is (L, H, T_q, T_k) at ``steps[i]``.

    ``query_tokens[kind]`` / ``key_tokens[kind]`` label the rows and columns. Appending is thread-safe
    (the training thread appends while a page reads :meth:`copy`).
    """

    probe: str
    query_tokens: dict[str, list[str]]
    key_tokens: dict[str, list[str]]
    task: str = ""
    run_id: str = ""
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    weights: list[dict[str, np.ndarray]] = field(default_factory=list)
    record_time_s: float = 0.0  # wall-clock seconds spent recording (the cost against training)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def kinds(self) -> list[str]:
        return [k for k in ATTENTION_KINDS if k in self.query_tokens]

    def n_layers(self, kind: str) -> int:
        return int(self.weights[0][kind].shape[0]) if self.weights else 0

    def n_heads(self, kind: str) -> int:
        return int(self.weights[0][kind].shape[1]) if self.weights else 0

    def __len__(self) -> int:
        return len(self.steps)

    def add(self, step: int, loss: float, weights: dict[str, np.ndarray]) -> None:
        """Append one snapshot. Raises ValueError when its kinds or shapes differ from the first one's."""
        for kind in self.kinds:
            w = weights.get(kind)
            if w is None or w.ndim != 4 or w.shape[2:] != (len(self.query_tokens[kind]), len(self.key_tokens[kind])):
                raise ValueError(f"snapshot at step {step}: {kind} weights do not match the probe's tokens")
        with self._lock:
            self.steps.append(int(step))
            self.losses.append(float(loss))
            self.weights.append({k: weights[k] for k in self.kinds})

    def copy(self) -> AttentionSnapshots:
        """A copy whose lists do not grow any more (the arrays are shared: they are never written to)."""
        with self._lock:
            return AttentionSnapshots(self.probe, dict(self.query_tokens), dict(self.key_tokens), self.task,
                                      self.run_id, list(self.steps), list(self.losses), list(self.weights),
                                      self.record_time_s)

    def heads(self, index: int, kind: str, layer: int) -> np.ndarray:
        """Snapshot ``index``'s weights of one layer (0-based): (H, T_q, T_k)."""
        return self.weights[index][kind][layer]

    def series(self, kind: str, layer: int) -> np.ndarray:
        """One layer through training: (S, H, T_q, T_k), S snapshots."""
        return np.stack([w[kind][layer] for w in self.weights])

    # ------------------------------------------------------------------------------------------------
    # Files
    # ------------------------------------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The npz entries: ``step{N}/{kind}/layer{l}`` (H, T_q, T_k), tokens, steps, losses, probe (see module)."""
        arrays: dict[str, np.ndarray] = {
            "probe": np.array(self.probe, dtype=str),
            "task": np.array(self.task, dtype=str),
            "run_id": np.array(self.run_id, dtype=str),
            "kinds": np.array(self.kinds, dtype=str),
            "steps": np.array(self.steps, dtype=np.int64),
            "losses": np.array(self.losses, dtype=np.float64),
        }
        for kind in self.kinds:
            arrays[f"{kind}/query_tokens"] = np.array(self.query_tokens[kind], dtype=str)
            arrays[f"{kind}/key_tokens"] = np.array(self.key_tokens[kind], dtype=str)
        for step, weights in zip(self.steps, self.weights, strict=True):
            for kind in self.kinds:
                for layer, heads in enumerate(weights[kind]):
                    arrays[f"step{step}/{kind}/layer{layer}"] = np.ascontiguousarray(heads, dtype=np.float32)
        return arrays

    def to_bytes(self) -> bytes:
        """The compressed npz as bytes (for a download button)."""
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **self.to_arrays())
        return buffer.getvalue()

    def save(self, path: str | os.PathLike) -> Path:
        """Write the compressed npz to ``path`` (a file name; a folder gets :data:`SNAPSHOTS_FILE`)."""
        target = Path(path)
        if target.is_dir():
            target = target / SNAPSHOTS_FILE
        target.write_bytes(self.to_bytes())
        return target


def load_snapshots(source: str | os.PathLike | bytes) -> AttentionSnapshots:
    """Read an ``attention_snapshots.npz`` (a path, a checkpoint folder holding one, or the file's bytes).

    Nothing is unpickled (``allow_pickle=False``). Raises FileNotFoundError when there is no such file and
    ValueError when the file is not a snapshots archive (a missing entry or a shape that disagrees).
    """
    if isinstance(source, bytes | bytearray):
        handle = io.BytesIO(source)
    else:
        path = Path(source)
        if path.is_dir():  # a checkpoint folder (flat, or versioned: the file is in its current version)
            from .checkpoint import CheckpointError, resolve_checkpoint

            try:
                path = resolve_checkpoint(path) / SNAPSHOTS_FILE
            except CheckpointError as exc:
                raise FileNotFoundError(str(exc)) from None
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: this run recorded no attention snapshots")
        handle = path
    try:
        with np.load(handle, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"not an attention snapshots file: {exc}") from None
    try:
        kinds = [str(k) for k in arrays["kinds"]]
        snaps = AttentionSnapshots(
            probe=str(arrays["probe"]), task=str(arrays.get("task", "")), run_id=str(arrays.get("run_id", "")),
            query_tokens={k: [str(t) for t in arrays[f"{k}/query_tokens"]] for k in kinds},
            key_tokens={k: [str(t) for t in arrays[f"{k}/key_tokens"]] for k in kinds},
        )
        for step, loss in zip(arrays["steps"].tolist(), arrays["losses"].tolist(), strict=True):
            weights = {}
            for kind in kinds:
                layers, layer = [], 0
                while f"step{step}/{kind}/layer{layer}" in arrays:
                    layers.append(arrays[f"step{step}/{kind}/layer{layer}"].astype(np.float32))
                    layer += 1
                if not layers:
                    raise KeyError(f"step{step}/{kind}/layer0")
                weights[kind] = np.stack(layers)
            snaps.add(step, loss, weights)
    except KeyError as exc:
        raise ValueError(f"not an attention snapshots file: it lacks the entry {exc}") from None
    return snaps


# --------------------------------------------------------------------------------------------------
# One number per head: how the pattern changes with training
# --------------------------------------------------------------------------------------------------
def attention_entropy(weights: np.ndarray) -> np.ndarray:
    """Mean Shannon entropy of the attention rows, in nats: weights (..., T_q, T_k) → (...).

    H(row) = −Σ_j p_j ln p_j (0 ln 0 = 0); fully masked rows (all zero) are left out of the mean. A uniform
    row over n keys has ln n; a row on one key has 0. Falling entropy = a head that sharpens.
    """
    w = np.asarray(weights, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(w > 0, -w * np.log(w), 0.0)
    row_entropy = terms.sum(-1)  # (..., T_q)
    live = w.sum(-1) > 0
    count = np.maximum(live.sum(-1), 1)
    return np.where(live, row_entropy, 0.0).sum(-1) / count


def monotonic_alignment_mass(weights: np.ndarray) -> np.ndarray:
    """Share of attention on the best monotonic alignment: weights (..., T_q, T_k) → (...) in [0, 1].

    Picks one key j_i per query i with j_1 ≤ j_2 ≤ … (the alignment may stay on a key or move right, never
    back), maximising Σ_i w[i, j_i], by dynamic programming in O(T_q · T_k); returns that sum over T_q.
    1 = every query puts all its weight on one key, in source order (a sharp, monotonic alignment);
    a uniform map gives 1 / T_k.
    """
    w = np.asarray(weights, dtype=np.float64)
    lead, (Tq, Tk) = w.shape[:-2], w.shape[-2:]
    flat = w.reshape(-1, Tq, Tk)
    best = flat[:, 0, :].copy()
    for i in range(1, Tq):
        best = flat[:, i, :] + np.maximum.accumulate(best, axis=-1)  # the best path ending at key ≤ j
    return (best.max(-1) / Tq).reshape(lead)
