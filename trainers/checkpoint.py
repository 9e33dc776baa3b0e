"""Checkpoints: safetensors weights + a JSON config (+ the tokenizer's JSON), written atomically.

A checkpoint is a folder::

    CURRENT             one line: the name of the version sub-folder that holds the files now
    v-<time>-<pid>/     that version (older ones are removed once a newer one is complete):
        model.safetensors   the weights (safetensors: plain tensors, nothing is unpickled on loading)
        config.json         format version, task, tokenizer kind, the model family ("family": "transformer", or
                            "lstm" for :class:`trainers.lstm.LSTMLanguageModel`), the model's config
                            (TransformerConfig or LSTMConfig), the TrainConfig and command that made it, its
                            metrics, task details
        tokenizer.json      the language models' ``tokenizers.Tokenizer`` (absent for AddSub)
        …                   any extra files the save was given (they belong to the version)
        attention_snapshots.npz   the attention recorded while it trained, when the run recorded any
                            (:mod:`trainers.snapshots`; ``load_snapshots(path)`` reads it)

A flat folder holding those files itself (the shipped checkpoints in ``assets/``) is a checkpoint too.
:func:`resolve_checkpoint` is the one place that turns a checkpoint's path into the folder holding its
files; every reader goes through it.

Saving writes a new version sub-folder, then switches ``CURRENT`` to it with one ``os.replace``, so a
reader sees the old complete checkpoint or the new complete one at every instant, also after a save is
killed; half-written versions are removed by the next save. Loading checks config.json's types and
ranges, then every tensor's name and shape read from the safetensors header against the shapes the config
implies (the model built on the ``meta`` device), and the tokenizer, before anything is allocated
(:func:`inspect_checkpoint`, cached on the files' stamps, failures included); it raises
:class:`CheckpointError` with a sentence naming the first disagreement. Tied weights (a shared embedding /
output layer) are stored once (``safetensors.torch.save_model``) and tied again by the model's constructor.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import threading
from collections import OrderedDict
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
    "CheckpointReport",
    "check_meta",
    "checkpoint_family",
    "checkpoint_files",
    "checkpoint_stamp",
    "inspect_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "read_meta",
    "resolve_checkpoint",
    "save_checkpoint",
    "save_checkpoint_files",
]

CHECKPOINT_FORMAT = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
POINTER_FILE = "CURRENT"  # names the version sub-folder that holds the checkpoint's files now
VERSION_PREFIX = "v-"
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
        if self.task == "gpt2":  # a GPT-2-family folder (trainers.gpt2): its tokenizer.json, no tokens added
            return self._tokenizer().encode(text, add_special_tokens=False).ids
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
        if self.task == "gpt2":
            return self._tokenizer().decode(torch.as_tensor(ids).flatten().tolist(), skip_special_tokens=False)
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
            from .tasks.addsub import ADDSUB_VOCAB

            vocab = self.task_info.get("vocab") or ADDSUB_VOCAB
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
    error: str | None = None  # why it cannot be used (list_checkpoints(include_unusable=True)); None when it can


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
    extra_files: dict[str, bytes | str] | None = None,
    snapshots=None,
) -> Path:
    """Write ``model`` (a ``Seq2SeqTransformer``, ``DecoderOnlyLM`` or ``LSTMLanguageModel``, which carry ``.config``) to folder ``path``.

    ``dtype`` "float16"/"bfloat16" stores the weights at half size (loading casts them back to float32).
    ``extra_files``: more files of the checkpoint, name → bytes or text (e.g. ``attention_snapshots.npz``);
    they belong to the same version as the weights and are replaced with them.

    The files go into a new version sub-folder ``path/v-…``, and the pointer file ``path/CURRENT`` is then
    switched to it with one ``os.replace``: at every instant ``path`` resolves (:func:`resolve_checkpoint`)
    to the old complete checkpoint or to the new complete one, also when the process is killed mid-save.
    The previous version, versions left half-written by killed saves and files of an older flat
    checkpoint in ``path`` are removed after the switch. Returns the folder's path (``path``).
    ``snapshots``: the run's :class:`trainers.snapshots.AttentionSnapshots`, written into the same version as
    ``attention_snapshots.npz`` (when it holds any).
    Raises ValueError when the model has no ``config``, ``dtype`` is unknown or an extra file's name is not plain.
    """
    from .lstm import LSTMConfig

    config = getattr(model, "config", None)
    if not isinstance(config, TransformerConfig | LSTMConfig):
        raise ValueError("save_checkpoint needs a model built from a TransformerConfig or LSTMConfig (model.config)")
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
    for name in extra_files or {}:
        if name != Path(name).name or name.startswith(".") or name in (POINTER_FILE, WEIGHTS_FILE, CONFIG_FILE):
            raise ValueError(f"extra file names are plain file names other than the checkpoint's own, got {name!r}")
    target = Path(path)
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
    version = _new_version(target)
    to_save = model
    if dtype != "float32":
        import copy

        to_save = copy.deepcopy(model).to(_DTYPES[dtype])
    save_model(to_save.cpu() if to_save is not model else _cpu_view(model), str(version / WEIGHTS_FILE),
               metadata={"format": "pt", "task": task})
    files = {CONFIG_FILE: json.dumps(meta, indent=2, sort_keys=False) + "\n"}
    if tokenizer_json is not None:
        files[TOKENIZER_FILE] = tokenizer_json
    files.update(extra_files or {})
    if snapshots is not None and len(snapshots):
        from .snapshots import SNAPSHOTS_FILE

        files[SNAPSHOTS_FILE] = snapshots.to_bytes()
    _commit_version(target, version, files)
    return target


def save_checkpoint_files(path: str | os.PathLike, files: dict[str, bytes]) -> Path:
    """Write a checkpoint's files as they are (name → bytes: ``model.safetensors``, ``config.json``, and
    ``tokenizer.json`` or other files of the version) into folder ``path``, atomically as :func:`save_checkpoint`
    does (a new version sub-folder, then one ``os.replace`` of ``CURRENT``). For a checkpoint made elsewhere,
    e.g. a run trained on another machine (``trainers.ray_backend``), whose files arrive as bytes. The files
    are not checked here; :func:`load_checkpoint` checks them as it checks any checkpoint.

    Returns the folder's path (``path``). Raises ValueError when a name is not a plain file name, is the
    pointer's, or the weights or config.json are missing.
    """
    for name in files:
        if not isinstance(name, str) or name != Path(name).name or name.startswith(".") or name == POINTER_FILE:
            raise ValueError(f"checkpoint file names are plain file names, got {name!r}")
    missing = [name for name in (WEIGHTS_FILE, CONFIG_FILE) if name not in files]
    if missing:
        raise ValueError(f"a checkpoint needs {' and '.join(missing)}")
    target = Path(path)
    version = _new_version(target)
    _commit_version(target, version, files)
    return target


def _new_version(target: Path) -> Path:
    """Create ``target`` if needed, remove what killed saves left in it, and make a new empty version sub-folder."""
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o755)
    _remove_stale(target)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")  # noqa: UP017
    version = target / f"{VERSION_PREFIX}{stamp}-{os.getpid()}"
    version.mkdir()
    version.chmod(0o755)
    return version


def _commit_version(target: Path, version: Path, files: dict[str, bytes | str]) -> None:
    """Write ``files`` into the new ``version`` sub-folder of ``target``, flush them, then switch ``CURRENT`` to
    the version with one ``os.replace`` and remove what the switch left behind."""
    for name, content in files.items():
        (version / name).write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    for file in version.iterdir():
        file.chmod(0o644)
        _fsync(file)
    _fsync(version)
    pointer_tmp = target / f".{POINTER_FILE}.tmp-{os.getpid()}"
    pointer_tmp.write_text(version.name + "\n", encoding="utf-8")
    pointer_tmp.chmod(0o644)
    _fsync(pointer_tmp)
    os.replace(pointer_tmp, target / POINTER_FILE)  # the one instant the checkpoint changes from old to new
    _fsync(target)
    _remove_stale(target, legacy=True)


def _fsync(path: Path) -> None:
    """Flush a file or folder to the disk (so a power cut after the pointer switch keeps the new version)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # folders cannot be opened on Windows
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _remove_stale(target: Path, legacy: bool = False) -> None:
    """Tidy a checkpoint folder: keep the version ``CURRENT`` names, remove the others that no live save is
    writing (this process's, or those of processes that are gone), pointer temp files of dead processes, the
    files of an older flat checkpoint once a pointer exists, and the ``.NAME.tmp-*`` / ``.NAME.old-*`` folders
    that saves before the versioned layout left beside it (``legacy``: only once the new version is in place)."""
    try:
        current = _read_pointer(target)
    except CheckpointError:
        current = None
    for entry in list(target.iterdir()) if target.is_dir() else []:
        if entry.is_dir() and entry.name.startswith(VERSION_PREFIX) and entry.name != current:
            pid = entry.name.rsplit("-", 1)[-1]
            if not pid.isdigit() or int(pid) == os.getpid() or not _pid_alive(int(pid)):
                shutil.rmtree(entry, ignore_errors=True)
        elif entry.is_file() and entry.name.startswith(f".{POINTER_FILE}.tmp-"):
            pid = entry.name.rsplit("-", 1)[-1]
            if pid.isdigit() and not _pid_alive(int(pid)):
                entry.unlink(missing_ok=True)
        elif current is not None and entry.is_file() and entry.name != POINTER_FILE and not entry.name.startswith("."):
            entry.unlink(missing_ok=True)  # a flat checkpoint's files, replaced by the versioned one
    if legacy and current is not None:
        for prefix in (f".{target.name}.tmp-", f".{target.name}.old-"):
            for entry in target.parent.glob(prefix + "*"):
                shutil.rmtree(entry, ignore_errors=True)

def _cpu_view(model: nn.Module) -> nn.Module:
    """The model itself when it is on the CPU (no copy), else a CPU copy."""
    if all(p.device.type == "cpu" for p in model.parameters()):
        return model
    import copy

    return copy.deepcopy(model).cpu()


# --------------------------------------------------------------------------------------------------
# Finding the files: the one resolver every reader goes through
# --------------------------------------------------------------------------------------------------
def _read_pointer(folder: Path) -> str | None:
    """The version sub-folder ``CURRENT`` names, or None when the folder has no pointer (a flat checkpoint)."""
    pointer = folder / POINTER_FILE
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{pointer} cannot be read: {exc}") from None
    if not name.startswith(VERSION_PREFIX) or name != Path(name).name:
        raise CheckpointError(f"{pointer} should name a version sub-folder ({VERSION_PREFIX}…), but says {name[:60]!r}")
    return name


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """The folder that holds a checkpoint's files now: ``path/<version>`` named by ``path/CURRENT`` (the
    layout :func:`save_checkpoint` writes), else ``path`` itself (a flat checkpoint, as the shipped ones in
    ``assets/``). Every reader of ``config.json``, ``model.safetensors``, ``tokenizer.json`` or other
    checkpoint files goes through this function.

    Raises CheckpointError when ``path`` is not a folder or its pointer names a version that is not there.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a checkpoint folder (it does not exist or is a file)")
    name = _read_pointer(folder)
    if name is None:
        return folder
    version = folder / name
    if not version.is_dir():
        raise CheckpointError(f"{folder / POINTER_FILE} names {name}, which is not in the folder")
    return version


def checkpoint_files(path: str | os.PathLike) -> list[Path]:
    """The files of a checkpoint's current version (weights, config, tokenizer and any extra files), sorted."""
    return sorted(f for f in resolve_checkpoint(path).iterdir() if f.is_file() and not f.name.startswith(".")
                  and f.name != POINTER_FILE)


def checkpoint_stamp(path: str | os.PathLike) -> tuple:
    """What changes when a checkpoint is rewritten: the current version's name and each file's name, size
    and modification time (ns). Part of every cache key, so a re-saved or repaired checkpoint is read again.
    A folder that is not a checkpoint gives ``()``."""
    try:
        folder = resolve_checkpoint(path)
        return (folder.name,) + tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in checkpoint_files(path))
    except (CheckpointError, OSError):
        return ()


def read_meta(path: str | os.PathLike) -> dict:
    """The ``config.json`` of a checkpoint folder, its types and ranges checked (see :func:`check_meta`).

    Raises CheckpointError when it is missing, unreadable, too large or malformed.
    """
    folder = resolve_checkpoint(path)
    config_file = folder / CONFIG_FILE
    if not config_file.is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise CheckpointError(f"{Path(path)} is not a checkpoint: it needs {CONFIG_FILE} and {WEIGHTS_FILE}")
    return check_meta(read_config_json(config_file), config_file)


def read_config_json(config_file: str | os.PathLike):
    """A checkpoint's (or a Hugging Face folder's) ``config.json``, parsed, at most :data:`MAX_CONFIG_BYTES`.

    Raises CheckpointError when it is too large, unreadable, not UTF-8, not JSON or nested too deeply to parse.
    """
    config_file = Path(config_file)
    if config_file.stat().st_size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{config_file} is {config_file.stat().st_size:,} bytes; a checkpoint's config is "
                              f"at most {MAX_CONFIG_BYTES:,}")
    try:
        return json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{config_file} is not valid JSON: {exc}") from None


# --------------------------------------------------------------------------------------------------
# Validation: types and ranges of config.json, before anything is built
# --------------------------------------------------------------------------------------------------
# The largest values a checkpoint may name. They bound what loading can allocate beyond the stored
# tensors (positional tables, buffers) and keep absurd configs (d_model 10⁹) from being built at all.
MODEL_LIMITS = {
    "vocab_size": 1_000_000, "src_vocab_size": 1_000_000, "d_model": 8192, "n_heads": 256, "n_layers": 96,
    "n_encoder_layers": 96, "d_ff": 65_536, "max_len": 65_536,
}
MAX_ELEMENTS = 1_000_000_000  # parameters + buffers of a model a checkpoint may describe (4 GB in float32)
MAX_CONFIG_BYTES = 10_000_000
MAX_TOKENIZER_BYTES = 100_000_000
_BOOL_FIELDS = ("norm_first", "tie_embeddings", "share_embeddings", "causal", "scale_embeddings", "lm_head_bias")
_STRING_FIELDS = {"positional": None, "activation": ("relu", "gelu", "gelu_tanh"), "layout": ("decoder", "encoder-decoder"),
                  "arch": None, "family": ("lstm",)}
_SAFETENSORS_DTYPES = ("F32", "F16", "BF16")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_meta(meta, config_file: str | os.PathLike = CONFIG_FILE) -> dict:
    """Check a checkpoint's ``config.json`` (already parsed) for the type and range of every field that
    loading uses; returns it unchanged.

    ``format`` a whole number ≤ :data:`CHECKPOINT_FORMAT`; ``task`` one of the tasks; ``family`` (or
    ``arch``) "transformer" or "lstm"; ``tokenizer_kind`` None, "word", "char" or "bpe"; ``model_config``
    an object whose sizes are whole numbers within :data:`MODEL_LIMITS`, ``dropout`` in [0, 1), flags
    true/false; ``train_config``, ``metrics``, ``task_info``, ``extra`` objects; AddSub's ``task_info.vocab``
    (when present) a list of ``vocab_size`` strings. Raises CheckpointError naming the file, the field and what it holds.
    """
    from .config import TASKS

    where = str(config_file)

    def bad(field_name: str, wanted: str, value) -> CheckpointError:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "…"
        return CheckpointError(f"{where}: {field_name} must be {wanted}, got {shown}")

    if not isinstance(meta, dict):
        raise CheckpointError(f"{where} holds a JSON {type(meta).__name__}, not the object of a checkpoint")
    for key in ("task", "model_config"):
        if key not in meta:
            raise CheckpointError(f"{where} lacks the '{key}' entry of a checkpoint")
    fmt = meta.get("format", CHECKPOINT_FORMAT)
    if not _is_int(fmt) or fmt < 1:
        raise bad("format", "a whole number (1)", fmt)
    if fmt > CHECKPOINT_FORMAT:
        raise CheckpointError(f"{where} was written by a newer version (format {fmt}); update the code")
    if not isinstance(meta["task"], str) or meta["task"] not in TASKS:
        raise bad("task", "one of " + ", ".join(TASKS), meta["task"])
    family = meta.get("family", meta.get("arch", "transformer"))
    if family not in ("transformer", "lstm"):
        raise bad("family", "'transformer' or 'lstm'", family)
    if meta.get("tokenizer_kind") not in (None, "word", "char", "bpe"):
        raise bad("tokenizer_kind", "null, 'word', 'char' or 'bpe'", meta.get("tokenizer_kind"))
    for key in ("train_config", "metrics", "task_info", "extra"):
        if not isinstance(meta.get(key, {}), dict):
            raise bad(key, "an object", meta[key])
    for key in ("command", "created"):
        if not isinstance(meta.get(key, ""), str):
            raise bad(key, "text", meta[key])
    if not _is_int(meta.get("n_parameters", 0)) or meta.get("n_parameters", 0) < 0:
        raise bad("n_parameters", "a whole number", meta["n_parameters"])
    if meta.get("weights_dtype", "float32") not in _DTYPES:
        raise bad("weights_dtype", "one of " + ", ".join(_DTYPES), meta["weights_dtype"])
    config = meta["model_config"]
    if not isinstance(config, dict):
        raise bad("model_config", "an object", config)
    for key, limit in MODEL_LIMITS.items():
        value = config.get(key, 1)
        if value is None and key in ("src_vocab_size", "n_encoder_layers"):
            continue
        if not _is_int(value) or not 1 <= value <= limit:
            raise bad(f"model_config.{key}", f"a whole number from 1 to {limit:,}", value)
    if "vocab_size" not in config:
        raise CheckpointError(f"{where}: model_config lacks vocab_size")
    dropout = config.get("dropout", 0.0)
    if not _is_number(dropout) or not 0.0 <= dropout < 1.0:
        raise bad("model_config.dropout", "a number in [0, 1)", dropout)
    eps = config.get("layer_norm_eps", 1e-5)
    if not _is_number(eps) or not 0.0 < eps < 1.0:
        raise bad("model_config.layer_norm_eps", "a small positive number", eps)
    div = config.get("adaptive_div_value", 4.0)
    if not _is_number(div) or not 1.0 <= div <= 64.0:
        raise bad("model_config.adaptive_div_value", "a number from 1 to 64", div)
    for key in _BOOL_FIELDS:
        if not isinstance(config.get(key, False), bool):
            raise bad(f"model_config.{key}", "true or false", config[key])
    for key, allowed in _STRING_FIELDS.items():
        value = config.get(key)
        if value is not None and (not isinstance(value, str) or (allowed and value not in allowed)):
            raise bad(f"model_config.{key}", "one of " + ", ".join(allowed) if allowed else "text", value)
    pad_id = config.get("pad_id")
    if pad_id is not None and (not _is_int(pad_id) or pad_id < 0):
        raise bad("model_config.pad_id", "null or a token id", pad_id)
    cutoffs = config.get("adaptive_cutoffs")
    if cutoffs is not None and (not isinstance(cutoffs, list) or len(cutoffs) > 16 or not all(_is_int(c) for c in cutoffs)):
        raise bad("model_config.adaptive_cutoffs", "null or a list of up to 16 whole numbers", cutoffs)
    info = meta.get("task_info", {})
    for key in ("eos_id", "block_size"):
        value = info.get(key)
        if value is not None and (not _is_int(value) or not 0 <= value <= MODEL_LIMITS["max_len"] * 16):
            raise bad(f"task_info.{key}", "null or a whole number", value)
    if meta["task"] == "addsub" and "vocab" in info:
        vocab = info["vocab"]
        if (not isinstance(vocab, list) or len(vocab) != config["vocab_size"]
                or not all(isinstance(v, str) for v in vocab)):
            raise bad("task_info.vocab", f"a list of {config['vocab_size']} token strings (AddSub's vocabulary)", vocab)
    return meta


# --------------------------------------------------------------------------------------------------
# Inspection: everything short of loading the weights, cached on the files' stamps
# --------------------------------------------------------------------------------------------------
@dataclass
class CheckpointReport:
    """What :func:`inspect_checkpoint` found: the folder holding the files, config.json, the model's
    config, the tensors' element count and the files' total size."""

    path: Path
    files: Path
    meta: dict
    model_config: object
    n_elements: int
    size_bytes: int


_REPORTS: OrderedDict[tuple, CheckpointReport | str] = OrderedDict()
_REPORTS_LOCK = threading.Lock()
_REPORTS_MAX = 256


def inspect_checkpoint(path: str | os.PathLike) -> CheckpointReport:
    """Check a checkpoint without allocating its model: config.json's types and ranges (:func:`check_meta`),
    the model config, every tensor's name, dtype and shape read from the safetensors header against the
    shapes the config implies (the model is built on PyTorch's ``meta`` device, which allocates nothing),
    the size of what loading would allocate, and that tokenizer.json parses and fits the vocabulary.

    Results, failures included, are cached on :func:`checkpoint_stamp` (file names, sizes and
    modification times), so asking again about an unchanged folder costs a few ``stat`` calls.
    Raises CheckpointError with one sentence naming the file and the first problem.
    """
    key = (str(Path(path).resolve()), checkpoint_stamp(path))
    with _REPORTS_LOCK:
        cached = _REPORTS.get(key)
        if cached is not None:
            _REPORTS.move_to_end(key)
    if cached is None:
        try:
            cached = _inspect(Path(path))
        except CheckpointError as exc:
            cached = str(exc)
        with _REPORTS_LOCK:
            _REPORTS[key] = cached
            while len(_REPORTS) > _REPORTS_MAX:
                _REPORTS.popitem(last=False)
    if isinstance(cached, str):
        raise CheckpointError(cached)
    return cached


def _model_config(meta: dict, config_file: Path):
    from .lstm import LSTMConfig

    try:
        if checkpoint_family(meta) == "lstm":
            return LSTMConfig.from_dict(meta["model_config"])
        return TransformerConfig.from_dict(meta["model_config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{config_file}: its model_config is not valid: {exc}") from None


def _build(model_config) -> nn.Module:
    from .lstm import LSTMConfig, LSTMLanguageModel

    return LSTMLanguageModel(model_config) if isinstance(model_config, LSTMConfig) else build_model(model_config)


def _inspect(path: Path) -> CheckpointReport:
    meta = read_meta(path)
    files = resolve_checkpoint(path)
    config_file = files / CONFIG_FILE
    model_config = _model_config(meta, config_file)
    if meta["task"] in _translation_tasks() and getattr(model_config, "layout", None) != "encoder-decoder":
        raise CheckpointError(f"{config_file}: a {meta['task']} model is an encoder-decoder, but model_config "
                              f"describes a {getattr(model_config, 'layout', 'lstm')} model")
    try:
        with torch.device("meta"):  # shapes without storage: nothing is allocated
            skeleton = _build(model_config)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{config_file}: its model_config is not valid: {exc}") from None
    seen: dict[int, list[str]] = {}
    expected: dict[str, tuple] = {}
    for name, tensor in skeleton.state_dict(keep_vars=True).items():
        expected[name] = tuple(tensor.shape)
        seen.setdefault(id(tensor), []).append(name)
    n_elements = sum(t.numel() for t in {id(t): t for t in [*skeleton.parameters(), *skeleton.buffers()]}.values())
    if n_elements > MAX_ELEMENTS:
        raise CheckpointError(f"{config_file} describes a model of {n_elements:,} numbers; checkpoints here hold "
                              f"at most {MAX_ELEMENTS:,}")
    weights = files / WEIGHTS_FILE
    try:
        with safe_open(str(weights), framework="pt") as f:
            stored = {name: (tuple(f.get_slice(name).get_shape()), f.get_slice(name).get_dtype())
                      for name in f.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise CheckpointError(f"{weights} is not a readable safetensors file: {exc}") from None
    for name, (shape, dtype) in stored.items():
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
        if dtype not in _SAFETENSORS_DTYPES:
            raise CheckpointError(f"{weights}: tensor {name!r} is stored as {dtype}; weights are F32, F16 or BF16")
    persistent = dict(skeleton.named_parameters(remove_duplicate=False))
    for names in seen.values():  # tied tensors are stored once: each group needs one stored member
        if names[0] in persistent and not any(n in stored for n in names):
            raise CheckpointError(
                f"{weights} lacks tensor {names[0]!r}, which the model of {CONFIG_FILE} needs"
            )
    tok_file = files / TOKENIZER_FILE
    if tok_file.is_file():
        _read_tokenizer(tok_file, model_config.vocab_size)
    elif meta["task"] != "addsub":
        raise CheckpointError(f"{Path(path)} is a {meta['task']} model but has no {TOKENIZER_FILE}")
    size = sum(f.stat().st_size for f in checkpoint_files(path))
    return CheckpointReport(path=path, files=files, meta=meta, model_config=model_config, n_elements=n_elements,
                            size_bytes=size)


def _translation_tasks() -> tuple[str, ...]:
    from .config import TRANSLATION_TASKS

    return TRANSLATION_TASKS


def _read_tokenizer(tok_file: Path, vocab_size: int):
    """A ``tokenizers.Tokenizer`` from ``tok_file``, checked to have ``vocab_size`` tokens. Raises CheckpointError."""
    from tokenizers import Tokenizer

    if tok_file.stat().st_size > MAX_TOKENIZER_BYTES:
        raise CheckpointError(f"{tok_file} is {tok_file.stat().st_size:,} bytes, more than a tokenizer here may be")
    try:
        tokenizer = Tokenizer.from_file(str(tok_file))
    except Exception as exc:  # tokenizers raises its own Exception type for malformed files
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{tok_file} is not a tokenizer file: {reason}") from None
    if tokenizer.get_vocab_size() != vocab_size:
        raise CheckpointError(
            f"{tok_file} has {tokenizer.get_vocab_size()} tokens, but the model's vocabulary has "
            f"{vocab_size}: the tokenizer belongs to another model"
        )
    return tokenizer


def checkpoint_family(meta: dict) -> str:
    """A config.json's model family, "transformer" or "lstm": its ``"family"`` key, or ``"arch"`` as checkpoints
    saved before the rename call it."""
    return meta.get("family", meta.get("arch", "transformer"))


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, CheckpointMeta]:
    """Rebuild the model of a checkpoint folder and load its weights: returns ``(model in eval mode, meta)``.

    A Hugging Face GPT-2-family folder (config.json with ``"model_type": "gpt2"``) is loaded by
    :func:`trainers.gpt2.load_gpt2` into a ``DecoderOnlyLM`` (``meta.task`` "gpt2").
    The model is a ``Seq2SeqTransformer`` / ``DecoderOnlyLM``, or an ``LSTMLanguageModel`` when config.json
    says ``"family": "lstm"`` (``"arch": "lstm"`` in checkpoints saved before the key was renamed).

    Nothing is unpickled: the config is JSON, the weights safetensors. Before anything is allocated,
    :func:`inspect_checkpoint` checks config.json's types and ranges and every tensor's name and shape
    (read from the safetensors header) against the model the config describes.
    Raises CheckpointError naming the file, or the first field or tensor that disagrees.
    """
    from .gpt2 import is_gpt2_folder, load_gpt2

    if is_gpt2_folder(Path(path)):  # a Hugging Face GPT-2-family folder: config.json says "model_type": "gpt2"
        return load_gpt2(Path(path), device)
    for attempt in range(3):  # a save may remove the version read a moment ago: resolve again
        try:
            report = inspect_checkpoint(path)
            folder = report.files
            model = _build(report.model_config)
            try:
                missing, _unexpected = load_model(model, str(folder / WEIGHTS_FILE), strict=False)
            except RuntimeError as exc:
                raise CheckpointError(f"{folder / WEIGHTS_FILE} does not fit the model of {CONFIG_FILE}: {exc}") from None
            if missing:
                raise CheckpointError(f"{folder / WEIGHTS_FILE} lacks {len(missing)} tensor(s) the model of "
                                      f"{CONFIG_FILE} needs, e.g. {sorted(missing)[0]!r}")
            tok_file = folder / TOKENIZER_FILE
            tokenizer = _read_tokenizer(tok_file, report.model_config.vocab_size) if tok_file.is_file() else None
            break
        except FileNotFoundError:
            if attempt == 2:
                raise CheckpointError(f"{path} changed while it was read; try again") from None
    model.to(device).eval()
    meta = report.meta
    return model, CheckpointMeta(
        path=Path(path),
        task=meta["task"],
        tokenizer_kind=meta.get("tokenizer_kind"),
        model_config=report.model_config,
        train_config=meta.get("train_config", {}),
        metrics=meta.get("metrics", {}),
        command=meta.get("command", ""),
        created=meta.get("created", ""),
        task_info=meta.get("task_info", {}),
        tokenizer=tokenizer,
        extra=meta.get("extra", {}),
    )


def _is_candidate(folder: Path, filenames: list[str]) -> bool:
    return POINTER_FILE in filenames or CONFIG_FILE in filenames or WEIGHTS_FILE in filenames


def list_checkpoints(*roots: str | os.PathLike, max_depth: int = 3, include_unusable: bool = False) -> list[CheckpointInfo]:
    """Every checkpoint folder under ``roots`` (e.g. ``"assets"``, ``"runs"``), newest first, without loading weights.

    A folder counts when it holds ``CURRENT`` (a versioned checkpoint), ``config.json`` or
    ``model.safetensors``; each is checked by :func:`inspect_checkpoint` (cached). Those that fail are left
    out, or with ``include_unusable`` listed with ``error`` set to the reason (and ``task`` "" when unknown).
    Temporary folders (names starting with ".") are skipped; missing roots are ignored.
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
            folder = Path(dirpath)
            if not _is_candidate(folder, filenames):
                continue
            dirnames[:] = []  # a checkpoint's version sub-folders are not checkpoints of their own
            name = folder.name if folder.name != "checkpoint" else folder.parent.name
            source = "assets" if root.name == "assets" else str(root)
            try:
                report = inspect_checkpoint(folder)
            except CheckpointError as exc:
                if include_unusable:
                    found.append(CheckpointInfo(path=folder, name=name, task="", tokenizer_kind=None, metrics={},
                                                created="", size_bytes=0, n_parameters=0, source=source,
                                                error=str(exc)))
                continue
            meta = report.meta
            found.append(
                CheckpointInfo(
                    path=folder,
                    name=name,
                    task=meta["task"],
                    tokenizer_kind=meta.get("tokenizer_kind"),
                    metrics=meta.get("metrics", {}),
                    created=meta.get("created", ""),
                    size_bytes=report.size_bytes,
                    n_parameters=int(meta.get("n_parameters", 0)),
                    source=source,
                    family=checkpoint_family(meta),
                )
            )
    found.sort(key=lambda info: info.created, reverse=True)
    return found
