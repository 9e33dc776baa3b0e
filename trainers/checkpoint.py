"""Checkpoints: safetensors weights + a JSON config (+ the tokenizer's JSON), written atomically.

A checkpoint is a folder::

    model.safetensors   the weights (safetensors: plain tensors, nothing is unpickled on loading)
    config.json         format version, task, tokenizer kind, the model family ("family": "transformer", or
                        "lstm" for :class:`trainers.lstm.LSTMLanguageModel`), the model's config
                        (TransformerConfig or LSTMConfig), the TrainConfig and command that made it, its
                        metrics, task details
    tokenizer.json      the language models' ``tokenizers.Tokenizer`` (absent for AddSub)
    attention_snapshots.npz   the attention recorded while it trained, when the run recorded any
                        (:mod:`trainers.snapshots`; ``load_snapshots(folder)`` reads it)

It is written into a temporary folder beside the target, which then replaces the target with
``os.replace``, so a reader never sees half a checkpoint. Loading rebuilds the model from the JSON
config, checks every tensor's name and shape against it and raises :class:`CheckpointError` with a
sentence naming the first disagreement. Tied weights (a shared embedding / output layer) are stored
once (``safetensors.torch.save_model``) and tied again by the model's constructor.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_model, save_model
from torch import nn

from transformer.models import TransformerConfig, build_model

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "CheckpointInfo",
    "CheckpointMeta",
    "checkpoint_family",
    "list_checkpoints",
    "load_checkpoint",
    "read_meta",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class CheckpointError(ValueError):
    """A checkpoint folder is missing a file, or its config and its tensors do not agree."""


@dataclass
class CheckpointMeta:
    """What ``config.json`` says about a checkpoint, plus its tokenizer (language models).

    ``task``: "addsub", "wikitext2", "shakespeare", "anna" or a translation task ("multi30k_en_de", …);
    ``tokenizer_kind``: "word", "char", "bpe" (translation: one BPE shared by source and target) or None (AddSub's fixed 16-token vocabulary, ``task_info["vocab"]``); ``metrics``: the
    figures recorded when it was saved (validation metrics of the run); ``command``: the command
    line that made it; ``train_config``: the TrainConfig as a dict.
    """

    path: Path
    task: str
    tokenizer_kind: str | None
    model_config: TransformerConfig
    train_config: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    command: str = ""
    created: str = ""
    task_info: dict = field(default_factory=dict)
    tokenizer: object | None = None  # tokenizers.Tokenizer for the language models
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The folder name, e.g. "shakespeare"."""
        return self.path.name

    @property
    def family(self) -> str:
        """The model family: "lstm" for an LSTM language model (``model_config`` is an ``LSTMConfig``), else
        "transformer" (whose layout, decoder-only or encoder-decoder, is ``model_config.layout``)."""
        return "lstm" if getattr(self.model_config, "family", None) == "lstm" else "transformer"

    def encode(self, text: str) -> list[int]:
        """Text → token ids, as the model was trained.

        AddSub: a course string ("BOS NEGATIVE 30 subtract NEGATIVE 34 EOS") or plain arithmetic
        ("-30 - -34") → the 9 input ids. Language models: the corpus's encoding (for WikiText-2 a
        newline becomes ``<eos>``). Translation: the source sentence's pieces then ``<eos>``.
        Raises ValueError for text the vocabulary cannot express.
        """
        if self.task == "addsub":
            from .tasks import addsub

            expression = text if text.strip().startswith("BOS") else addsub.parse_arithmetic(text)
            return addsub.encode_expression(expression)
        if self.is_translation:
            from .tasks import translation

            return translation.encode_source(self._tokenizer(), translation.clean_text(text))
        return self._corpus().encode(text)

    def decode(self, ids) -> str:
        """Token ids → text (AddSub: the course string, e.g. "BOS POSITIVE 04 EOS")."""
        if self.task == "addsub":
            from .tasks import addsub

            return addsub.decode_ids(ids)
        if self.is_translation:
            from .tasks import translation

            return translation.detokenize(self._tokenizer(), ids)
        return self._corpus().decode(ids)

    def token_strings(self, ids) -> list[str]:
        """One display string per id (for attention-map axes and candidate lists)."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        if self.task == "addsub":
            vocab = self.task_info["vocab"]
            return [vocab[i] for i in ids]
        if self.is_translation:  # SentencePiece-style pieces: "▁" marks the start of a word
            return [self.tokenizer.id_to_token(i) or "" for i in ids]
        return [self.tokenizer.decode([i], skip_special_tokens=False) if self.tokenizer_kind != "word"
                else (self.tokenizer.id_to_token(i) or "") for i in ids]

    @property
    def is_translation(self) -> bool:
        """True for the encoder-decoder translation tasks (Multi30k, Anki): text → source ids → target ids."""
        from .config import TRANSLATION_TASKS

        return self.task in TRANSLATION_TASKS

    def _tokenizer(self):
        if self.tokenizer is None:
            raise CheckpointError(f"{self.path} has no {TOKENIZER_FILE}, so its text cannot be encoded")
        return self.tokenizer

    def _corpus(self):
        from .tasks.lm import LMCorpus

        if self.tokenizer is None:
            raise CheckpointError(f"{self.path} has no {TOKENIZER_FILE}, so its text cannot be encoded")
        empty = torch.zeros(0, dtype=torch.long)
        return LMCorpus(
            name=self.task, tokenizer=self.tokenizer, train=empty, valid=empty, test=None,
            vocab_size=self.model_config.vocab_size, n_words=None, unit=self.tokenizer_kind or "word",
            eos_id=self.task_info.get("eos_id"),
        )


@dataclass
class CheckpointInfo:
    """One row of :func:`list_checkpoints`: enough to show a checkpoint without loading its weights."""

    path: Path
    name: str
    task: str
    tokenizer_kind: str | None
    metrics: dict
    created: str
    size_bytes: int
    n_parameters: int
    source: str  # "assets" for the shipped ones, else the root it was found under
    family: str = "transformer"  # "transformer" or "lstm"


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    task: str,
    tokenizer_kind: str | None = None,
    tokenizer_json: str | None = None,
    train_config: dict | None = None,
    metrics: dict | None = None,
    command: str = "",
    task_info: dict | None = None,
    dtype: str = "float32",
    extra: dict | None = None,
    snapshots=None,
) -> Path:
    """Write ``model`` (a ``Seq2SeqTransformer``, ``DecoderOnlyLM`` or ``LSTMLanguageModel``, which carry ``.config``) to folder ``path``.

    ``dtype`` "float16"/"bfloat16" stores the weights at half size (loading casts them back to float32).
    An existing checkpoint at ``path`` is replaced atomically. Returns the folder's path. ``snapshots``: the
    run's :class:`trainers.snapshots.AttentionSnapshots`, written beside the weights as ``attention_snapshots.npz``.
    Raises ValueError when the model has no ``config`` or ``dtype`` is unknown.
    """
    from .lstm import LSTMConfig

    config = getattr(model, "config", None)
    if not isinstance(config, TransformerConfig | LSTMConfig):
        raise ValueError("save_checkpoint needs a model built from a TransformerConfig or LSTMConfig (model.config)")
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": CHECKPOINT_FORMAT,
        "task": task,
        "tokenizer_kind": tokenizer_kind,
        "family": "lstm" if isinstance(config, LSTMConfig) else "transformer",
        "model_config": config.to_dict(),
        "train_config": train_config or {},
        "metrics": metrics or {},
        "command": command,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
        "task_info": task_info or {},
        "weights_dtype": dtype,
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "torch_version": torch.__version__,
        "extra": extra or {},
    }
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        to_save = model
        if dtype != "float32":
            import copy

            to_save = copy.deepcopy(model).to(_DTYPES[dtype])
        save_model(to_save.cpu() if to_save is not model else _cpu_view(model), str(tmp / WEIGHTS_FILE),
                   metadata={"format": "pt", "task": task})
        (tmp / CONFIG_FILE).write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        if tokenizer_json is not None:
            (tmp / TOKENIZER_FILE).write_text(tokenizer_json, encoding="utf-8")
        if snapshots is not None and len(snapshots):
            snapshots.save(tmp / "attention_snapshots.npz")
        for file in tmp.iterdir():
            file.chmod(0o644)
        tmp.chmod(0o755)  # mkdtemp makes the folder private; a checkpoint is for everyone to read
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old / "ckpt")
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _cpu_view(model: nn.Module) -> nn.Module:
    """The model itself when it is on the CPU (no copy), else a CPU copy."""
    if all(p.device.type == "cpu" for p in model.parameters()):
        return model
    import copy

    return copy.deepcopy(model).cpu()


def read_meta(path: str | os.PathLike) -> dict:
    """The raw ``config.json`` of a checkpoint folder. Raises CheckpointError when it is missing or unreadable."""
    folder = Path(path)
    config_file = folder / CONFIG_FILE
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a checkpoint folder (it does not exist or is a file)")
    if not config_file.is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise CheckpointError(f"{folder} is not a checkpoint: it needs {CONFIG_FILE} and {WEIGHTS_FILE}")
    try:
        meta = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{config_file} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or "model_config" not in meta or "task" not in meta:
        raise CheckpointError(f"{config_file} lacks the 'task' and 'model_config' entries of a checkpoint")
    if meta.get("format", CHECKPOINT_FORMAT) > CHECKPOINT_FORMAT:
        raise CheckpointError(f"{folder} was written by a newer version (format {meta['format']}); update the code")
    return meta


def checkpoint_family(meta: dict) -> str:
    """A config.json's model family, "transformer" or "lstm": its ``"family"`` key, or ``"arch"`` as checkpoints
    saved before the rename call it."""
    return meta.get("family", meta.get("arch", "transformer"))


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, CheckpointMeta]:
    """Rebuild the model of a checkpoint folder and load its weights: returns ``(model in eval mode, meta)``.

    The model is a ``Seq2SeqTransformer`` / ``DecoderOnlyLM``, or an ``LSTMLanguageModel`` when config.json
    says ``"family": "lstm"`` (``"arch": "lstm"`` in checkpoints saved before the key was renamed).

    Nothing is unpickled: the config is JSON, the weights safetensors. Every tensor's name and shape is
    compared with the model the config describes before loading.
    Raises CheckpointError naming the file, or the first tensor whose shape or presence disagrees.
    """
    folder = Path(path)
    meta = read_meta(folder)
    try:
        if checkpoint_family(meta) == "lstm":
            from .lstm import LSTMConfig, LSTMLanguageModel

            model_config = LSTMConfig.from_dict(meta["model_config"])
            model = LSTMLanguageModel(model_config)
        else:
            model_config = TransformerConfig.from_dict(meta["model_config"])
            model = build_model(model_config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{folder / CONFIG_FILE}: its model_config is not valid: {exc}") from None
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    weights = folder / WEIGHTS_FILE
    try:
        with safe_open(str(weights), framework="pt") as f:
            stored = {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise CheckpointError(f"{weights} is not a readable safetensors file: {exc}") from None
    for name, shape in stored.items():
        if name not in expected:
            raise CheckpointError(
                f"{weights} holds a tensor {name!r} that the model in {CONFIG_FILE} does not have: "
                f"the weights and the config come from different models"
            )
        if expected[name] != shape:
            raise CheckpointError(
                f"{weights}: tensor {name!r} has shape {list(shape)}, but {CONFIG_FILE} describes a model "
                f"whose {name!r} has shape {list(expected[name])}: the weights and the config do not match"
            )
    try:
        missing, unexpected = load_model(model, str(weights), strict=False)
    except RuntimeError as exc:
        raise CheckpointError(f"{weights} does not fit the model of {CONFIG_FILE}: {exc}") from None
    if missing:
        raise CheckpointError(
            f"{weights} lacks {len(missing)} tensor(s) the model of {CONFIG_FILE} needs, e.g. {sorted(missing)[0]!r}"
        )
    model.to(device).eval()
    tokenizer = None
    tok_file = folder / TOKENIZER_FILE
    if tok_file.is_file():
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(tok_file))
        if tokenizer.get_vocab_size() != model_config.vocab_size:
            raise CheckpointError(
                f"{tok_file} has {tokenizer.get_vocab_size()} tokens, but the model's vocabulary has "
                f"{model_config.vocab_size}: the tokenizer belongs to another model"
            )
    elif meta["task"] != "addsub":
        raise CheckpointError(f"{folder} is a {meta['task']} model but has no {TOKENIZER_FILE}")
    return model, CheckpointMeta(
        path=folder,
        task=meta["task"],
        tokenizer_kind=meta.get("tokenizer_kind"),
        model_config=model_config,
        train_config=meta.get("train_config", {}),
        metrics=meta.get("metrics", {}),
        command=meta.get("command", ""),
        created=meta.get("created", ""),
        task_info=meta.get("task_info", {}),
        tokenizer=tokenizer,
        extra=meta.get("extra", {}),
    )


def list_checkpoints(*roots: str | os.PathLike, max_depth: int = 3) -> list[CheckpointInfo]:
    """Every checkpoint folder under ``roots`` (e.g. ``"assets"``, ``"runs"``), newest first, without loading weights.

    A folder counts when it holds ``config.json`` and ``model.safetensors``; unreadable ones and
    temporary folders (names starting with ".") are skipped. Missing roots are ignored.
    """
    found: list[CheckpointInfo] = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        base_depth = len(root.parts)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            if len(Path(dirpath).parts) - base_depth >= max_depth:
                dirnames[:] = []
            if CONFIG_FILE in filenames and WEIGHTS_FILE in filenames:
                folder = Path(dirpath)
                try:
                    meta = read_meta(folder)
                except CheckpointError:
                    continue
                size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
                found.append(
                    CheckpointInfo(
                        path=folder,
                        name=folder.name if folder.name != "checkpoint" else folder.parent.name,
                        task=meta["task"],
                        tokenizer_kind=meta.get("tokenizer_kind"),
                        metrics=meta.get("metrics", {}),
                        created=meta.get("created", ""),
                        size_bytes=size,
                        n_parameters=int(meta.get("n_parameters", 0)),
                        source="assets" if root.name == "assets" else str(root),
                        family=checkpoint_family(meta),
                    )
                )
    found.sort(key=lambda info: info.created, reverse=True)
    return found
