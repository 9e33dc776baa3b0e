"""Typed training configuration (the presets the Train page and the CLI offer are in :mod:`trainers.presets`).

``TrainConfig`` holds everything a run needs: the task, the model family (``family``: transformer or
LSTM), the model's hyper-parameters as the core's :class:`transformer.models.TransformerConfig`
(``model_config(...)``; the task fills in its vocabulary, layout and lengths), the optimiser
and schedule (AdamW, linear warmup then cosine or inverse-square-root decay), batching, limits and
where logs and checkpoints go. Every field is checked in ``__post_init__``; a bad value raises
``ValueError`` with a sentence a student can act on ("learning rate must be > 0, got 0").
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

from trainers.tasks import LM_TASKS, TASKS, TRANSLATION_TASKS  # the one list of tasks (imports nothing)
from transformer.models import TransformerConfig

__all__ = [
    "FAMILIES",
    "LM_TASKS",
    "TASKS",
    "TRANSLATION_TASKS",
    "TASK_FILLED",
    "TrainConfig",
    "default_tokenizer",
    "model_config",
    "with_hyper",
]

SCHEDULES: tuple[str, ...] = ("cosine", "inverse_sqrt", "constant")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
TOKENIZERS: tuple[str, ...] = ("word", "char", "bpe")
ADDSUB_SOURCES: tuple[str, ...] = ("course", "generated")
SAVE_DTYPES: tuple[str, ...] = ("float32", "float16", "bfloat16")
FAMILIES: tuple[str, ...] = ("transformer", "lstm")  # model families of the language models (others: transformer)


def default_tokenizer(task: str) -> str | None:
    """The tokenizer a task uses unless told otherwise: word for WikiText-2, char for the novels, None for AddSub,
    a shared BPE for translation."""
    if task in TRANSLATION_TASKS:
        return "bpe"
    return {"wikitext2": "word", "shakespeare": "char", "anna": "char"}.get(task)


def _positive_int(name: str, value: object, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number ≥ 1, got {value!r}")


# The fields of a TransformerConfig that the task fills in when it builds the model (its vocabulary, its
# layout "decoder" / "encoder-decoder", its padding id and the positions it needs); a TrainConfig's model holds
# placeholders there (see model_config).
TASK_FILLED: tuple[str, ...] = ("vocab_size", "src_vocab_size", "layout", "pad_id", "max_len")


def model_config(**hyper) -> TransformerConfig:
    """The model's hyper-parameters as the core's :class:`TransformerConfig`, before the task fills it in.

    ``hyper`` holds any TransformerConfig fields but those of :data:`TASK_FILLED` (d_model, n_heads,
    causal, …). The task-filled fields get placeholders that pass the core's checks (a vocabulary just
    above the adaptive-softmax cutoffs; the layout that ``share_embeddings`` needs); the task replaces them
    (:meth:`TrainConfig.model_for`). Raises ValueError as ``TransformerConfig`` does.
    """
    cutoffs = hyper.get("adaptive_cutoffs")
    placeholders = {
        "vocab_size": max(2, cutoffs[-1] + 1) if cutoffs else 2,
        "max_len": 1,
        "layout": "encoder-decoder" if hyper.get("share_embeddings") else "decoder",
    }
    return TransformerConfig(**(placeholders | hyper))


def with_hyper(model: TransformerConfig, **changes) -> TransformerConfig:
    """``model`` with hyper-parameters changed, its task-filled fields placed anew (e.g. for new cutoffs)."""
    hyper = {f.name: getattr(model, f.name) for f in fields(model) if f.name not in TASK_FILLED}
    return model_config(**(hyper | changes))


def _model_from_dict(data: dict) -> tuple[TransformerConfig, int | None]:
    """A TrainConfig's ``model`` from JSON, and the ``max_len`` it asked for (None = the task's).

    Reads both a TransformerConfig dict (written since the trainers use the core's config) and the
    ``ModelConfig`` dict of older checkpoints (no vocabulary; ``max_len`` None meaning the task's).
    """
    data = dict(data)
    if "vocab_size" in data:  # a TransformerConfig
        return TransformerConfig.from_dict(data), None
    max_len = data.pop("max_len", None)
    return model_config(**data), max_len


@dataclass
class TrainConfig:
    """One training run: task, model, optimiser and schedule, batching, limits, outputs.

    Units: learning rates per step of AdamW; times in seconds; ``batch_size`` in sequences;
    ``block_size`` in tokens (the BPTT length of the language models). A run stops at whichever of
    ``max_steps`` and ``max_time_s`` comes first (at least one must be set). With a time limit only,
    the cosine schedule decays over the time budget instead of the step budget.
    Raises ValueError (a plain sentence) for any out-of-range field.
    """

    task: str = "addsub"  # "addsub", "wikitext2", "shakespeare", "anna" or a translation task (TRANSLATION_TASKS)
    # The model's hyper-parameters; the fields of TASK_FILLED are the task's (model_for fills them in).
    model: TransformerConfig = field(default_factory=model_config)
    # The model family: "transformer" (the task's layout: decoder-only LM or encoder-decoder) or "lstm"
    # (trainers.lstm, language models only: it uses the model's d_model, n_layers, dropout, tie_embeddings and
    # adaptive softmax; the rest is ignored). Older configs call it "arch"; from_dict reads that too.
    family: str = "transformer"
    max_len: int | None = None  # positions the model covers; None = the task's sequence length
    # Optimiser and schedule (AdamW, Loshchilov & Hutter 2019; warmup + decay, Vaswani et al. 2017 §5.3).
    lr: float = 1e-3  # peak learning rate, reached at the end of the warmup
    warmup_steps: int = 100  # linear warmup from 0 to lr over this many steps
    schedule: str = "cosine"  # after warmup: "cosine" (to min_lr_ratio·lr), "inverse_sqrt" (the paper's), "constant"
    min_lr_ratio: float = 0.1  # the cosine schedule ends at lr × this
    weight_decay: float = 0.01  # AdamW's decoupled weight decay (not applied to biases, norms)
    beta2: float = 0.99  # AdamW's second-moment decay (β1 stays 0.9)
    grad_clip: float | None = 1.0  # clip the global gradient norm to this (None = no clipping)
    label_smoothing: float = 0.0  # ε of label smoothing (Szegedy et al. 2016; the paper used 0.1)
    # Batching.
    batch_size: int = 64  # sequences per step (per process under torchrun)
    block_size: int = 64  # language models: tokens per sequence (BPTT length / context window)
    lm_batching: str | None = None  # "bptt" (contiguous, PyTorch example) or "random" (nanoGPT windows); None = task default
    # AddSub data.
    # "generated": addsub_train_size fresh expressions (validation inputs excluded; works with no course file);
    # "course": the course file's 4,500 training expressions (generated instead when the file is absent).
    addsub_source: str = "generated"
    addsub_train_size: int = 15000  # how many generated expressions
    # Language-model data.
    tokenizer: str | None = None  # "word" (WikiText-2), "char" (novels) or "bpe"; None = the task's default
    bpe_vocab_size: int | None = None  # BPE vocabulary (default 8000 WikiText-2, 512 novels, 6000 Multi30k, 4000 Anki)
    data_dir: str | None = None  # folder holding the corpus (default ../shared/data/…; env TC_DATA_DIR)
    # Limits and evaluation.
    max_steps: int | None = 1000  # optimiser steps (None = until max_time_s)
    max_time_s: float | None = None  # wall-clock budget in seconds (None = until max_steps)
    eval_every: int = 200  # evaluate on validation data every this many steps (and always at the end)
    eval_batches: int | None = 20  # batches per periodic evaluation (None = the whole split); the final one is whole
    final_eval: bool = True  # evaluate on the whole validation split at the end
    # Run.
    seed: int = 0  # seeds torch (model initialisation, dropout, batches)
    device: str = "auto"  # "auto" (CUDA when available), "cpu" or "cuda"
    threads: int | None = None  # torch intra-op threads for this run (None = leave as is)
    # "bfloat16": mixed precision (torch.autocast) for the forward pass, weights stay float32; "auto": bfloat16
    # where the CPU has AVX-512 (oneDNN's fast bfloat16 kernels) or the GPU supports it, else float32.
    precision: str = "float32"
    out_dir: str = "runs"  # TensorBoard logs go to <out_dir>/<run_id>/
    run_id: str | None = None  # name of the run (default: task and time stamp)
    checkpoint_dir: str | None = None  # where to save the checkpoint (None = <out_dir>/<run_id>/checkpoint when saved)
    save_dtype: str = "float32"  # dtype of the saved weights ("float16" halves the file; loading casts back)
    tensorboard: bool = True  # write TensorBoard event files
    preset: str | None = None  # the preset this config came from, for the record
    # Attention snapshots (trainers.snapshots): every this many steps, and at the first and the last step, the
    # model's attention on the probe is recorded (None = off; the LSTM has none). probe None = the task's default.
    snapshot_every: int | None = None
    probe: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            self.model, max_len = _model_from_dict(self.model)
            self.max_len = self.max_len or max_len
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.family not in FAMILIES:
            raise ValueError(f"family (--arch) must be one of {', '.join(FAMILIES)}, got {self.family!r}")
        if self.family == "lstm" and self.task not in LM_TASKS:
            raise ValueError(f"the LSTM is offered for the language-model tasks ({', '.join(LM_TASKS)}), not {self.task}")
        if not (isinstance(self.lr, int | float) and self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"learning rate must be > 0, got {self.lr}")
        if not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be a whole number ≥ 0, got {self.warmup_steps!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.schedule == "inverse_sqrt" and self.warmup_steps < 1:
            raise ValueError("the inverse-square-root schedule needs warmup_steps ≥ 1 (it decays as √(warmup/step))")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError(f"min_lr_ratio is a fraction of lr in [0, 1], got {self.min_lr_ratio}")
        if self.weight_decay < 0:
            raise ValueError(f"weight decay must be ≥ 0, got {self.weight_decay}")
        if not 0.0 <= self.beta2 < 1.0:
            raise ValueError(f"beta2 must be in [0, 1), got {self.beta2}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"gradient clipping norm must be > 0 (or None for no clipping), got {self.grad_clip}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.label_smoothing > 0 and self.model.adaptive_cutoffs is not None:
            raise ValueError("label smoothing cannot be combined with the adaptive softmax; set one of them to off")
        _positive_int("batch size", self.batch_size)
        _positive_int("block_size (BPTT length)", self.block_size)
        if self.block_size < 2 and self.task in LM_TASKS:
            raise ValueError(f"block_size must be at least 2 tokens for a language model, got {self.block_size}")
        if self.lm_batching not in (None, "bptt", "random"):
            raise ValueError(f"lm_batching must be 'bptt', 'random' or None, got {self.lm_batching!r}")
        if self.addsub_source not in ADDSUB_SOURCES:
            raise ValueError(f"addsub_source must be 'course' or 'generated', got {self.addsub_source!r}")
        _positive_int("addsub_train_size", self.addsub_train_size)
        if self.tokenizer is not None and self.tokenizer not in TOKENIZERS:
            raise ValueError(f"tokenizer must be one of {', '.join(TOKENIZERS)}, got {self.tokenizer!r}")
        if self.task == "wikitext2" and self.tokenizer == "char":
            raise ValueError("WikiText-2 is offered with the 'word' or 'bpe' tokenizer, not 'char'")
        if self.task in ("shakespeare", "anna") and self.tokenizer == "word":
            raise ValueError(f"{self.task} is a character corpus: use the 'char' or 'bpe' tokenizer, not 'word'")
        if self.task in TRANSLATION_TASKS and self.tokenizer not in (None, "bpe"):
            raise ValueError(f"{self.task} uses a shared BPE tokenizer; tokenizer must be 'bpe' or None")
        if self.model.share_embeddings and self.task not in TRANSLATION_TASKS:
            raise ValueError("share_embeddings (one source/target embedding) is for the translation tasks only")
        _positive_int("bpe_vocab_size", self.bpe_vocab_size, allow_none=True)
        _positive_int("max_steps", self.max_steps, allow_none=True)
        if self.max_time_s is not None and not self.max_time_s > 0:
            raise ValueError(f"the time limit must be > 0 seconds, got {self.max_time_s}")
        if self.max_steps is None and self.max_time_s is None:
            raise ValueError("set max_steps or max_time_s (or both): otherwise the run would never end")
        _positive_int("max_len", self.max_len, allow_none=True)
        _positive_int("eval_every", self.eval_every)
        _positive_int("eval_batches", self.eval_batches, allow_none=True)
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        _positive_int("threads", self.threads, allow_none=True)
        _positive_int("snapshot_every", self.snapshot_every, allow_none=True)
        if self.probe is not None and not isinstance(self.probe, str):
            raise ValueError(f"probe must be text, got {self.probe!r}")
        if self.precision not in ("float32", "bfloat16", "auto"):
            raise ValueError(f"precision must be 'float32', 'bfloat16' or 'auto', got {self.precision!r}")
        if self.save_dtype not in SAVE_DTYPES:
            raise ValueError(f"save_dtype must be one of {', '.join(SAVE_DTYPES)}, got {self.save_dtype!r}")
        if self.run_id is not None and (not self.run_id or "/" in self.run_id or self.run_id.startswith(".")):
            raise ValueError(f"run_id must be a plain folder name (no '/', not starting with '.'), got {self.run_id!r}")

    @property
    def unit(self) -> str | None:
        """The tokenizer actually used: ``tokenizer`` or the task's default (None for AddSub)."""
        return self.tokenizer or default_tokenizer(self.task)

    @property
    def batching(self) -> str | None:
        """LM batching actually used: contiguous BPTT for WikiText-2, random windows for the novels."""
        if self.task == "addsub" or self.task in TRANSLATION_TASKS:
            return None
        return self.lm_batching or ("bptt" if self.task == "wikitext2" else "random")

    def model_for(
        self, vocab_size: int, max_len: int, layout: str = "decoder", src_vocab_size: int | None = None,
        pad_id: int | None = None, **changes,
    ) -> TransformerConfig:
        """The core config of the model to build: ``model`` with the task's fields filled in.

        ``layout``: "decoder" (decoder-only LM) or "encoder-decoder" (the core's ``TransformerConfig.layout``); ``max_len``: the
        task's sequence length, unless this config sets ``max_len``; ``changes``: other fields the task
        adjusts. Raises ValueError as ``TransformerConfig`` does.
        """
        return replace(
            self.model, vocab_size=vocab_size, src_vocab_size=src_vocab_size, layout=layout, pad_id=pad_id,
            max_len=self.max_len or max_len, **changes,
        )

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (saved with checkpoints)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """Inverse of :meth:`to_dict`. Raises ValueError naming unknown fields."""
        data = dict(data)
        if "arch" in data:  # configs saved before "family" had its name
            data.setdefault("family", data.pop("arch"))
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {unknown}")
        return cls(**data)
