"""The Train page's bookkeeping: from the homework knobs to a ``TrainConfig``, and from job snapshots to charts and tables.

No Streamlit here, and no training maths: :mod:`trainers` trains; this module only turns what the
student chose into a validated :class:`trainers.config.TrainConfig`, remembers each run of the session
(:class:`RunRecord`), and reshapes the jobs' snapshots (``TrainingJob.snapshot()``) into long-form
tables for altair and for ``st.dataframe``.
"""

from __future__ import annotations

import io
import math
import os
import uuid
import zipfile
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from trainers.config import LM_TASKS, PRESETS, ModelConfig, TrainConfig, preset_config
from ui.i18n import N_, _

REPO = Path(__file__).resolve().parent.parent
ENV_RUNS_DIR = "TC_RUNS_DIR"
MAX_POINTS_PER_CURVE = 400  # longer training curves are averaged in buckets down to about this many points

# The knobs a student tunes in the homework, in the order the page shows them.
KNOBS: tuple[str, ...] = (
    "d_model", "n_heads", "n_layers", "d_ff", "dropout", "lr", "warmup_steps", "batch_size",
    "label_smoothing", "positional", "norm_first", "causal", "max_steps", "max_time_s", "arch",
)  # fmt: skip
# The knobs an LSTM has no use for (it has no heads, no feed-forward layer, no positions, no mask).
TRANSFORMER_ONLY_KNOBS: tuple[str, ...] = ("n_heads", "d_ff", "positional", "norm_first", "causal")

# A job's status as the runs table shows it (translated there).
STATUS_NAMES = {"queued": N_("queued"), "running": N_("running"), "finished": N_("finished"),
                "stopped": N_("stopped"), "failed": N_("failed")}


def status_name(status: str) -> str:
    """A job's status in the session's language (an unknown one as it is)."""
    return _(STATUS_NAMES[status]) if status in STATUS_NAMES else status


def task_names() -> dict[str, str]:
    """Task id → the name the page shows."""
    return {
        "addsub": _("AddSub (two-digit addition and subtraction)"),
        "shakespeare": _("Tiny Shakespeare (characters)"),
        "anna": _("Anna Karenina (characters)"),
        "wikitext2": _("WikiText-2 (words)"),
        "anki_en_fr": _("Translation: Anki English→French (short sentences)"),
        "multi30k_en_de": _("Translation: Multi30k English→German"),
        "multi30k_en_fr": _("Translation: Multi30k English→French"),
    }


def runs_dir() -> Path:
    """Where training runs write TensorBoard logs and checkpoints: env ``TC_RUNS_DIR``, else ``<repo>/runs``."""
    env = os.environ.get(ENV_RUNS_DIR)
    return Path(env).expanduser() if env else REPO / "runs"


def tensorboard_command(folder: Path | None = None) -> str:
    """The shell command that opens the TensorBoard logs of every run in ``folder`` (default :func:`runs_dir`)."""
    return f"tensorboard --logdir {folder or runs_dir()}"


def new_run_id(task: str) -> str:
    """A unique run name, readable in lists and safe as a folder name: ``addsub-20250101-120000-1a2b``."""
    return f"{task}-{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"


def data_problem(task: str) -> str | None:
    """Why ``task``'s data cannot be read from this machine (a sentence naming the path), or None when it is there.

    WikiText-2 may still load from the Hugging Face Hub when online, so its absence is only a warning.
    """
    from trainers import data_paths
    from trainers.tasks.lm import WIKITEXT2_FILE_NAMES

    if task in ("multi30k_en_de", "multi30k_en_fr", "anki_en_fr"):
        from trainers.tasks.translation import LANGUAGES, data_location

        corpus, src, tgt = LANGUAGES[task]
        location = data_location(task)
        path = location / f"train.{tgt}" if corpus == "multi30k" else location
    elif task == "addsub":
        path = data_paths.addsub_path()
    elif task == "shakespeare":
        path = data_paths.shakespeare_path()
    elif task == "anna":
        path = data_paths.anna_karenina_path()
    else:
        folder = data_paths.wikitext2_dir()
        if any(all((folder / name).is_file() for name in names.values()) for names in WIKITEXT2_FILE_NAMES):
            return None
        return _("WikiText-2 is not in {folder}; the run will try the Hugging Face Hub and fail if it is offline. "
                 "Set TC_DATA_DIR to a folder with train.txt, valid.txt and test.txt.").format(folder=folder)
    if path.exists():
        return None
    return _("The data of this task is not on this machine: {path} is missing. Put the course data in "
             "{shared} (or set TC_SHARED_DATA).").format(path=path, shared=data_paths.shared_data_dir())


def knob_defaults(task: str, preset: str) -> dict:
    """The preset's values of every knob in :data:`KNOBS` (``causal`` is True, ``arch`` the preset's)."""
    config = PRESETS[task][preset].config
    m = config.model
    return {
        "d_model": m.d_model,
        "n_heads": m.n_heads,
        "n_layers": m.n_layers,
        "d_ff": m.d_ff,
        "dropout": m.dropout,
        "lr": config.lr,
        "warmup_steps": config.warmup_steps,
        "batch_size": config.batch_size,
        "label_smoothing": config.label_smoothing,
        "positional": m.positional,
        "norm_first": m.norm_first,
        "causal": True,
        "max_steps": config.max_steps or 0,
        "max_time_s": float(config.max_time_s or 0.0),
        "arch": config.arch,
    }


@dataclass
class ModelConfigWithCausal(ModelConfig):
    """``ModelConfig`` plus the causal-mask switch of the language models (stopgap: trainers' lacks the field).

    ``causal=False`` lets every position of a decoder-only model attend to later positions, so during
    training it can read the very token it is asked to predict: the loss collapses while samples get worse.
    """

    causal: bool = True  # decoder self-attention uses the causal mask

    def to_transformer_config(self, *args, **kwargs):
        return replace(super().to_transformer_config(*args, **kwargs), causal=self.causal)


def _model_config(task: str, knobs: dict, base: ModelConfig) -> ModelConfig:
    """The model part of the config; raises ValueError with the core's sentence for a bad combination."""
    values = {
        "d_model": int(knobs["d_model"]),
        "n_heads": int(knobs["n_heads"]),
        "n_layers": int(knobs["n_layers"]),
        "d_ff": int(knobs["d_ff"]),
        "dropout": float(knobs["dropout"]),
        "positional": knobs["positional"],
        "norm_first": bool(knobs["norm_first"]),
    }
    if values["d_model"] % values["n_heads"]:
        raise ValueError(
            _("d_model={d_model} is not divisible by n_heads={n_heads}: each head gets d_k = d_model / n_heads "
              "dimensions, so pick a d_model that is a multiple of the number of heads.").format(**values)
        )
    causal = bool(knobs.get("causal", True)) or task not in LM_TASKS
    kept = {f.name: getattr(base, f.name) for f in fields(ModelConfig)} | values
    if "causal" in kept:  # trainers' ModelConfig has the field now: use it
        return ModelConfig(**(kept | {"causal": causal}))
    return ModelConfig(**kept) if causal else ModelConfigWithCausal(**kept, causal=False)


def build_train_config(task: str, preset: str, knobs: dict, run_id: str, out_dir: Path | None = None) -> TrainConfig:
    """A validated ``TrainConfig``: the preset with the student's knobs applied.

    ``knobs`` holds the keys of :data:`KNOBS`; ``max_steps`` 0 and ``max_time_s`` 0 mean "no limit of that
    kind". Raises ValueError with a sentence a student can act on (learning rate 0, d_model not divisible
    by n_heads, no limit at all, …).
    """
    base = preset_config(task, preset)
    arch = knobs.get("arch", "transformer")
    if arch == "lstm":  # an LSTM has no heads or mask: one head keeps any d_model valid, the mask stays on
        knobs = {**knobs, "n_heads": 1, "causal": True}
    model = _model_config(task, knobs, base.model)
    max_steps = int(knobs["max_steps"]) or None
    max_time_s = float(knobs["max_time_s"]) or None
    if max_steps is None and max_time_s is None:
        raise ValueError(_("Set a number of steps or a time limit (or both): otherwise the run would never end."))
    eval_every = max(1, min(base.eval_every, max_steps or base.eval_every))
    if max_steps is not None:
        eval_every = max(1, min(eval_every, max_steps // 4 or 1))  # a validation point at least every quarter
    return replace(
        base,
        model=model,
        arch=arch,
        lr=float(knobs["lr"]),
        warmup_steps=int(knobs["warmup_steps"]),
        batch_size=int(knobs["batch_size"]),
        label_smoothing=float(knobs["label_smoothing"]),
        max_steps=max_steps,
        max_time_s=max_time_s,
        eval_every=eval_every,
        out_dir=str(out_dir or runs_dir()),
        run_id=run_id,
    )


@dataclass
class RunRecord:
    """One run started from the Train page in this session (the job itself lives in ``ui.jobs.SessionJobs``)."""

    run_id: str
    number: int  # 1, 2, … in the order the session started them
    task: str
    preset: str
    config: TrainConfig
    checkpoint: str | None = None  # folder of the saved checkpoint, once saved
    last_snapshot: dict = field(default_factory=dict)  # the latest snapshot seen (kept after the job is gone)
    job: Any = field(default=None, repr=False, compare=False)  # the TrainingJob (its model is saved from it)

    @property
    def label(self) -> str:
        """How the run is named on the chart and in tables: ``#2 addsub tiny``, ``#3 shakespeare tiny LSTM``.

        Language-model runs name their architecture, so a transformer and an LSTM tell apart in the legend.
        """
        if self.task not in LM_TASKS:
            return f"#{self.number} {self.task} {self.preset}"
        arch = "LSTM" if getattr(self.config, "arch", "transformer") == "lstm" else "transformer"
        return f"#{self.number} {self.task} {self.preset} {arch}"


def _bucket(steps: list[int], values: list[float], max_points: int) -> tuple[list[float], list[float]]:
    """Average consecutive points in equal buckets so that at most about ``max_points`` remain."""
    if len(steps) <= max_points:
        return [float(s) for s in steps], values
    size = -(-len(steps) // max_points)
    xs, ys = [], []
    for i in range(0, len(steps), size):
        chunk_s, chunk_v = steps[i : i + size], values[i : i + size]
        xs.append(sum(chunk_s) / len(chunk_s))
        ys.append(sum(chunk_v) / len(chunk_v))
    return xs, ys


def loss_frame(snapshots: dict[str, dict], max_points: int = MAX_POINTS_PER_CURVE) -> pd.DataFrame:
    """Long-form loss curves of several runs: columns run, step, seconds, curve ("train" / "validation"), loss.

    ``snapshots`` maps a run's label to its ``TrainingJob.snapshot()``; ``seconds`` is the training time
    (wall clock since the run started) at that step. Training losses of long runs are averaged in buckets
    (at most about ``max_points`` per run); validation points are kept as they are.
    """
    rows: list[dict] = []
    train_name, val_name = _("train"), _("validation")
    for label, snap in snapshots.items():
        records = snap.get("steps", [])
        steps = [s["step"] for s in records]
        losses = [s["train_loss"] for s in records]
        xs, ys = _bucket(steps, losses, max_points)
        seconds, _ys = _bucket([s.get("elapsed_s", float("nan")) for s in records], losses, max_points)
        rows.extend({"run": label, "step": x, "seconds": t, "curve": train_name, "loss": y}
                    for x, t, y in zip(xs, seconds, ys, strict=True))
        rows.extend(
            {"run": label, "step": float(e["step"]), "seconds": e.get("elapsed_s", float("nan")), "curve": val_name,
             "loss": e["val_loss"]}
            for e in snap.get("evals", [])
        )
    return pd.DataFrame(rows, columns=["run", "step", "seconds", "curve", "loss"])


def task_metrics(snapshot: dict) -> list[tuple[str, str]]:
    """The task's metrics from the latest evaluation as (name, formatted value), headline first; [] before one.

    AddSub: exact-match, then per-token accuracy; WikiText-2: perplexity per word; the novels: loss in nats
    per character, bits per character and perplexity per character (exp of the nats per character, whatever
    the tokenizer); translation: BLEU of greedy decoding (0–100), then perplexity per target BPE token.
    Every name says its unit.
    """
    last = snapshot.get("last_eval")
    if not last:
        return []
    m = last.get("metrics", {})
    if "exact_match" in m:
        return [(_("exact-match"), f"{m['exact_match']:.1%}"), (_("per-token accuracy"), f"{m['token_accuracy']:.1%}")]
    if "bleu" in m:
        return [(_("BLEU (greedy)"), f"{m['bleu']:.1f}"),
                (_("perplexity per BPE token"), f"{m['perplexity']:.1f}")]
    if "word_perplexity" in m:
        return [(_("perplexity per word"), f"{m['word_perplexity']:.1f}")]
    if "nats_per_char" in m:
        bits = m.get("bits_per_char", m["nats_per_char"] / math.log(2))
        return [(_("nats per character"), f"{m['nats_per_char']:.3f}"), (_("bits per character"), f"{bits:.3f}"),
                (_("perplexity per character"), f"{math.exp(min(m['nats_per_char'], 700.0)):.2f}")]
    if "perplexity" in m:
        return [(_("perplexity per token"), f"{m['perplexity']:.2f}")]
    return [(_("validation loss"), f"{last['val_loss']:.3f}")]


def headline_metric(snapshot: dict) -> tuple[str, str] | None:
    """The task's headline metric (exact-match, perplexity per word, nats per character) or None before one."""
    metrics = task_metrics(snapshot)
    return metrics[0] if metrics else None


def eta_seconds(snapshot: dict) -> float | None:
    """Seconds left, from the fraction of the step or time budget used so far; None before the first step."""
    last = snapshot.get("last_step")
    if not last or last["progress"] <= 0:
        return None
    p = min(1.0, last["progress"])
    return last["elapsed_s"] * (1.0 - p) / p


def format_seconds(seconds: float | None) -> str:
    """``75.2`` → ``"1 min 15 s"``; ``None`` → ``"—"``."""
    if seconds is None:
        return "—"
    seconds = max(0, round(seconds))
    if seconds >= 60:
        return _("{minutes} min {seconds} s").format(minutes=seconds // 60, seconds=seconds % 60)
    return _("{seconds} s").format(seconds=seconds)


def config_table(records: list[RunRecord]) -> pd.DataFrame:
    """One row per run: its settings, status and headline metric, to read beside the overlaid curves.

    The transformer-only settings (heads, d_ff, positional encoding, norm, causal mask) are empty for an LSTM.
    """
    rows = []
    for r in records:
        c, m = r.config, r.config.model
        snap = r.last_snapshot
        metric = headline_metric(snap) if snap else None
        lstm = getattr(c, "arch", "transformer") == "lstm"
        row = {
            _("run"): r.label,
            _("architecture"): _("LSTM") if lstm else _("Transformer"),
            _("status"): status_name(snap.get("status", "queued")),
            _("steps"): (snap.get("last_step") or {}).get("step", 0),
            _("metric"): f"{metric[0]} {metric[1]}" if metric else "—",
            _("validation loss"): round(snap["last_eval"]["val_loss"], 4) if snap.get("last_eval") else None,
            "d_model": m.d_model,
            "n_heads": m.n_heads,
            _("layers"): m.n_layers,
            "d_ff": m.d_ff,
            _("dropout"): m.dropout,
            _("learning rate"): c.lr,
            _("warmup"): c.warmup_steps,
            _("batch size"): c.batch_size,
            _("label smoothing"): c.label_smoothing,
            _("positional encoding"): m.positional,
            _("norm"): _("pre-norm") if m.norm_first else _("post-norm"),
            _("causal mask"): getattr(m, "causal", True),
        }
        if lstm:
            for name in ("n_heads", "d_ff", _("positional encoding"), _("norm"), _("causal mask")):
                row[name] = None
        rows.append(row)
    frame = pd.DataFrame(rows)
    for name in ("n_heads", "d_ff"):  # whole numbers, empty for an LSTM (not 4.0 and NaN)
        if name in frame:
            frame[name] = frame[name].astype("Int64")
    return frame


def zip_checkpoint(folder: str | os.PathLike) -> bytes:
    """A zip of a checkpoint folder (weights, config.json, tokenizer.json when there is one) for download."""
    folder = Path(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                archive.write(path, arcname=f"{folder.parent.name}/{path.name}")
    return buffer.getvalue()
