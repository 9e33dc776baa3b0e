"""Trained models for the Generate, Translate and Attention-maps pages: which checkpoints there are, one
picker that every page uses, loading them once per server, and running them on one thread.

Discovery and loading are thin adapters over :mod:`trainers.checkpoint` (the shipped checkpoints in
``assets/``, then this session's saved runs); :func:`checkpoint_picker` is the "Model" select box with its
messages (no model yet, a checkpoint that cannot be loaded) and returns the loaded model.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
import torch
from torch import nn

from trainers import checkpoint as _checkpoint
from trainers.checkpoint import (
    CheckpointError,
    CheckpointMeta,
    inspect_checkpoint,
    list_checkpoints,
    load_checkpoint,
    read_meta,
)
from ui.i18n import N_, _
from ui.labels import family_label, task_label
from ui.messages import localize
from ui.page_state import session_checkpoints
from ui.text import format_plain

REPO = Path(__file__).resolve().parent.parent
ENV_ASSETS_DIR = "TC_ASSETS_DIR"
INFERENCE_THREADS = 1  # torch threads for sampling and attention maps (see inference_threads)


@contextmanager
def inference_threads(n: int = INFERENCE_THREADS) -> Iterator[None]:
    """Run the calling thread's torch work on ``n`` threads, then restore its setting.

    These models are small: one token through them is well under a millisecond of work, and on a laptop
    whose cores are busy (training jobs, other sessions) two OpenMP threads spend their time waiting for
    each other. Measured here with two training jobs running: 100 WikiText-2 tokens took 7.4 s on two
    threads and 0.17 s on one. With OpenMP the setting is per thread, so other sessions are unaffected.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# --------------------------------------------------------------------------------------------------
# Which checkpoints there are
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckpointChoice:
    """One entry of a checkpoint picker."""

    path: str
    label: str
    task: str  # "" when config.json cannot say
    source: str  # "shipped" (assets/) or "session" (trained on the Train page in this session)
    error: str | None = None  # why it cannot be used (listed, but not loaded); None when it can


def assets_dir() -> Path:
    """Where the shipped checkpoints are: env ``TC_ASSETS_DIR``, else ``<repo>/assets``."""
    env = os.environ.get(ENV_ASSETS_DIR)
    return Path(env).expanduser() if env else REPO / "assets"


def checkpoint_choices(
    session_checkpoints: list[tuple[str, str]] = (), tasks: tuple[str, ...] | None = None, assets: Path | None = None
) -> list[CheckpointChoice]:
    """The shipped checkpoints in ``assets/`` and this session's saved runs, optionally only for ``tasks``.

    ``session_checkpoints``: (run label, checkpoint folder) pairs. Every checkpoint is checked without
    loading its weights (:func:`trainers.checkpoint.inspect_checkpoint`, cached on the files' stamps, failures
    included); one that fails is still listed, with ``error`` saying why, under its task when config.json
    names one, else in every picker. Session runs whose folder is gone are left out. The usable ones
    come first: the session's own runs (newest first), then the shipped ones; then the unusable ones.
    """
    choices: list[CheckpointChoice] = []
    for label, path in reversed(list(session_checkpoints)):
        if not Path(path).exists():
            continue
        try:
            task, error = inspect_checkpoint(path).meta["task"], None
        except CheckpointError as exc:
            task, error = _task_or_blank(path), str(exc)
        choices.append(CheckpointChoice(str(path), _("{run} — {task} (your run)").format(
            run=label, task=task_label(task) if task else "?"), task, "session", error))
    for info in sorted(list_checkpoints(assets or assets_dir(), include_unusable=True), key=lambda i: i.name):
        if info.error is not None:
            task = _task_or_blank(info.path)
            choices.append(CheckpointChoice(str(info.path), _("{name} (shipped)").format(name=info.name), task,
                                            "shipped", info.error))
            continue
        choices.append(CheckpointChoice(str(info.path), _("{name} — {task} (shipped)").format(
            name=info.name, task=_with_family(task_label(info.task), info.family)), info.task, "shipped"))
    choices = [c for c in choices if tasks is None or c.task in tasks or (c.error is not None and not c.task)]
    return [c for c in choices if c.error is None] + [c for c in choices if c.error is not None]


def _task_or_blank(path) -> str:
    """The task a (possibly broken) checkpoint's config.json names, or "" when it cannot be read."""
    try:
        return read_meta(path)["task"]
    except (CheckpointError, OSError):
        return ""


def shown_reason(reason: str) -> str:
    """A checkpoint's error with the paths a student knows: a folder under the checkpoints folder
    (``TC_ASSETS_DIR``) or the runs folder (``TC_RUNS_DIR``) is written from that folder's name on
    (``assets/…``, ``runs/…``); the pages' message helper (``ui.text.plain_text``) makes other project paths
    relative. The pages pass it through :func:`ui.messages.localize` for the session's language."""
    from ui.runs import runs_dir

    for root in (assets_dir(), runs_dir()):
        reason = reason.replace(str(root.resolve()) + os.sep, root.name + "/").replace(str(root) + os.sep, root.name + "/")
    return reason


def _with_family(task: str, family: str) -> str:
    """"Tiny Shakespeare" → "Tiny Shakespeare, LSTM" for an LSTM; transformers keep the plain task name."""
    return task if family == "transformer" else _("{task}, {arch}").format(task=task, arch=family_label(family))


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------
def load_model(path: str) -> tuple[nn.Module, CheckpointMeta]:
    """The model of a checkpoint folder in eval mode, and its meta. Raises ``CheckpointError`` (a ValueError)."""
    model, meta = load_checkpoint(path)
    model.eval()
    return model, meta


def checkpoint_stamp(path: str) -> tuple:
    """What changes when a checkpoint is rewritten (:func:`trainers.checkpoint.checkpoint_stamp`: its current
    version and each file's size and modification time): part of the page's cache key, so a re-save reloads."""
    return _checkpoint.checkpoint_stamp(path)


def context_length(meta: CheckpointMeta) -> int:
    """How many tokens the model reads at once (its ``max_len``)."""
    return int(meta.model_config.max_len)


@st.cache_resource(show_spinner=False, max_entries=16)
def _model_or_error(path: str, stamp: tuple):
    """``(model, meta, None)`` or ``(None, None, reason)``: failures are kept like successes, so a broken
    checkpoint is not read again on every rerun of every session (until its files change)."""
    try:
        model, meta = load_model(path)
    except (ValueError, OSError) as exc:
        return None, None, str(exc)
    return model, meta, None


def shared_model(path: str, stamp: tuple):
    """A checkpoint's (model, meta), loaded once per server for every page and session.

    ``stamp`` (:func:`checkpoint_stamp`) changes when the folder is rewritten, so a re-saved run is loaded
    again. The model is in eval mode and only read under ``torch.no_grad``.
    Raises CheckpointError (a ValueError) with the reason when it cannot be loaded (cached too).
    """
    model, meta, error = _model_or_error(path, stamp)
    if error is not None:
        raise CheckpointError(error)
    return model, meta


def cached_model(path: str, stamp: tuple):
    """:func:`shared_model` under a "Loading the model…" spinner in the session's language."""
    with st.spinner(_("Loading the model…")):
        return shared_model(path, stamp)


# --------------------------------------------------------------------------------------------------
# The picker
# --------------------------------------------------------------------------------------------------
def preselect_checkpoint(paths: list[str], state_key: str, open_key: str, default: str | None = None) -> None:
    """Set the checkpoint picker ``state_key`` before it is drawn.

    A checkpoint another page asked to open (``open_key``, consumed here) wins; otherwise the current
    choice stays while it is still offered, else ``default`` (or the first path) is chosen.
    """
    wanted = st.session_state.pop(open_key, None)
    if wanted in paths:
        st.session_state[state_key] = wanted
    if st.session_state.get(state_key) not in paths:
        st.session_state[state_key] = default if default in paths else paths[0]


@dataclass
class PickedModel:
    """What :func:`checkpoint_picker` returns: the chosen folder, its stamp, and the loaded model and meta."""

    path: str
    stamp: tuple
    model: nn.Module
    meta: CheckpointMeta


def checkpoint_picker(
    key: str,
    open_key: str,
    *,
    empty_message: str,
    tasks: tuple[str, ...] | None = None,
    prefer: Callable[[CheckpointChoice], bool] | None = None,
    pretrained: bool = False,
) -> PickedModel:
    """The "Model" select box over this session's runs and the shipped checkpoints, and the loaded choice.

    ``key``: the widget key; ``open_key``: the session-state key another page sets to open a checkpoint
    here; ``tasks``: only these tasks; ``prefer``: the first choice it accepts is the default. With no
    checkpoint to offer, ``empty_message`` is shown and the page stops. Checkpoints that cannot be used are
    offered after the others, marked, and listed with their reasons in an expander under the box; choosing
    one shows its reason and stops the page (so does a load that fails), never an exception.
    ``pretrained``: offer GPT-2-family folders too (:mod:`ui.pretrained`), with a panel under the picker to
    name a folder or fetch one.
    """
    choices = checkpoint_choices(session_checkpoints(), tasks=tasks)
    if pretrained:
        from ui.pretrained import pretrained_folders

        choices += [CheckpointChoice(path, _("{name} — GPT-2 (Hugging Face)").format(name=name), "gpt2", "pretrained")
                    for name, path in pretrained_folders()]
    if not choices:
        st.info(empty_message, icon=":material/info:")
        st.stop()
    usable = [c for c in choices if c.error is None]
    broken = [c for c in choices if c.error is not None]
    paths = [c.path for c in choices]
    default = next((c.path for c in usable if prefer(c)), None) if prefer else None
    preselect_checkpoint(paths, key, open_key, default=default or (usable[0].path if usable else None))
    labels = {c.path: c.label for c in usable}
    labels.update({c.path: _("⚠ {label} — cannot be used").format(label=c.label) for c in broken})
    path = st.selectbox(_("Model"), paths, format_func=labels.get, key=key)
    if pretrained:
        from ui.pretrained import pretrained_panel

        pretrained_panel(key, open_key)
    if broken:
        with st.expander(_("Checkpoints that cannot be used ({n})").format(n=len(broken)), icon=":material/warning:"):
            for choice in broken:
                st.markdown(format_plain("- **{name}**: {reason}", name=choice.label,
                                        reason=localize(shown_reason(choice.error))))
    chosen = next(c for c in choices if c.path == path)
    if chosen.error is not None:
        st.warning(format_plain(_("This checkpoint cannot be used: {error}"), error=localize(shown_reason(chosen.error))),
                   icon=":material/warning:")
        st.stop()
    stamp = checkpoint_stamp(path)
    try:
        model, meta = cached_model(path, stamp)
    except (ValueError, OSError) as exc:
        st.error(format_plain(_("This checkpoint cannot be loaded: {error}"), error=localize(shown_reason(str(exc)))),
                 icon=":material/error:")
        st.stop()
    return PickedModel(path, stamp, model, meta)


def model_caption(meta) -> str:
    """One line about a loaded model for a page's caption: task · layout · layers × heads · d_model · context,
    the layers read from the model ("3 encoder + 2 decoder layers" where they differ)."""
    from ui.labels import task_label

    cfg = meta.model_config
    encoder_layers = getattr(cfg, "n_encoder_layers", None) or cfg.n_layers
    if cfg.layout == "encoder-decoder" and encoder_layers != cfg.n_layers:
        layers_text = _("{enc} encoder + {dec} decoder layers").format(enc=encoder_layers, dec=cfg.n_layers)
    else:
        layers_text = _("{layers} layers").format(layers=cfg.n_layers)
    return _("{task} · {arch} · {layers} × {heads} heads · d_model {d} · context {ctx} tokens").format(
        task=task_label(meta.task), arch=cfg.layout, layers=layers_text, heads=cfg.n_heads, d=cfg.d_model,
        ctx=context_length(meta),
    )


NO_MODEL_YET = N_("No trained model is available yet. Train one on the Train page and save it, or add the shipped "
                  "checkpoints to assets/.")


def attention_model_picker(page: str, key: str, open_key: str, prefer_task: str) -> PickedModel:
    """The Model picker of the pages that draw a trained model's attention (Attention maps, Model view): a link's
    ``?model=`` first (:func:`ui.links.open_linked_checkpoint`), GPT-2 folders offered too, the ``prefer_task``
    model by default; an LSTM (no attention) gets a sentence and stops the page; then the model's one-line caption.
    """
    from ui.attention_maps import no_attention_sentence
    from ui.links import open_linked_checkpoint

    open_linked_checkpoint(page, open_key, [c.path for c in checkpoint_choices(session_checkpoints())])
    picked = checkpoint_picker(key, open_key, prefer=lambda c: c.task == prefer_task, pretrained=True,
                               empty_message=_(NO_MODEL_YET))
    if picked.meta.family == "lstm":
        st.info(no_attention_sentence(), icon=":material/block:")
        st.stop()
    st.caption(model_caption(picked.meta))
    return picked
