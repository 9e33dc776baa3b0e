"""GPT-2-family models for the pickers: where their folders are, a folder the user names, and fetching one.

Folders come from ``models/<name>`` (``TC_MODELS_DIR``), the Hugging Face cache (read without the network),
and folders typed into the page this session (or Hub ids such as ``distilgpt2``, looked up there as the CLI
does). When the Hub answers, a button fetches ``distilgpt2`` or ``gpt2`` (config.json, model.safetensors,
tokenizer.json); offline, one line says which files to put where.
The loading itself is :func:`trainers.gpt2.load_gpt2` (through :func:`trainers.checkpoint.load_checkpoint`).
"""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from trainers.checkpoint import CheckpointError
from trainers.gpt2 import (
    GPT2_FILES,
    GPT2_TASK,
    HUB_MODELS,
    download_gpt2,
    find_gpt2_folders,
    gpt2_from_hub_cache,
    is_gpt2_folder,
    models_dir,
    resolve_gpt2,
)
from trainers.hub import hub_unavailable_reason
from ui.i18n import _
from ui.messages import localize
from ui.text import format_plain, plain_text

SESSION_KEY = "pretrained_folders"  # folders the user named this session, newest last


@st.cache_data(show_spinner=False, ttl=30)
def _cached_hub_folders() -> list[str]:
    """The Hub cache's snapshot folders of :data:`HUB_MODELS`, checked every 30 s (reads the disk only)."""
    return [str(folder) for repo in HUB_MODELS if (folder := gpt2_from_hub_cache(repo)) is not None]


def pretrained_folders() -> list[tuple[str, str]]:
    """(display name, folder) of every GPT-2 folder offered: named this session, in models/, in the Hub cache."""
    found: dict[str, str] = {}
    for folder in st.session_state.get(SESSION_KEY, []):
        found.setdefault(str(Path(folder).resolve()), Path(folder).name)
    for folder in find_gpt2_folders():
        found.setdefault(str(folder.resolve()), folder.name)
    for folder in _cached_hub_folders():
        name = Path(folder).parent.parent.name.removeprefix("models--").replace("--", "/")  # models--gpt2/snapshots/…
        found.setdefault(str(Path(folder).resolve()), name)
    return [(name, path) for path, name in found.items()]


# A Hugging Face Hub id as typed: "distilgpt2", "someone/tiny-gpt2" (a path such as /srv/x or ~/x is not one)
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(?:/[A-Za-z0-9][\w.-]*)?")


def typed_folder(text: str) -> Path:
    """The folder a user typed: a path, or, for a Hub id (``distilgpt2``), its folder in ``models/`` or the Hub
    cache (:func:`trainers.gpt2.resolve_gpt2`, which reads the disk only). Raises CheckpointError, in English
    (the pages pass it through :func:`ui.messages.localize`), naming the files and the folder to put them in
    when a Hub id is in neither."""
    text = text.strip()
    folder = Path(text).expanduser()
    if folder.is_dir() or not HUB_ID.fullmatch(text):
        return folder
    return resolve_gpt2(text)


def folder_problem(text: str) -> str | None:
    """Why a typed folder (or Hub id, see :func:`typed_folder`) is not a usable GPT-2 folder (a sentence in the
    session's language), or None when it is."""
    try:
        folder = typed_folder(text)
    except CheckpointError as exc:
        return localize(str(exc))
    if not folder.is_dir():
        return _("{folder} is not a folder on the machine the app runs on.").format(folder=folder)
    missing = [f for f in GPT2_FILES if not (folder / f).is_file()]
    if missing:
        return _("{folder} lacks {files}.").format(folder=folder, files=", ".join(missing))
    if not is_gpt2_folder(folder):
        return _("{folder}/config.json does not say \"model_type\": \"gpt2\".").format(folder=folder)
    return None


def how_to_get_sentence() -> str:
    """The one line a page shows when no GPT-2 model is here: which files, which folder."""
    return _("To look at GPT-2: put {files} of distilgpt2 or gpt2 (from huggingface.co) into {folder}/distilgpt2, "
             "or type any folder holding them below.").format(files=", ".join(GPT2_FILES), folder=models_dir())


def pretrained_panel(key: str, open_key: str) -> None:
    """An expander under the Model picker: type a GPT-2 folder, or fetch distilgpt2 / gpt2 from the Hub."""
    offered = pretrained_folders()
    with st.expander(_("GPT-2 models (Hugging Face)"), icon=":material/download:", expanded=False):
        if not offered:
            st.caption(how_to_get_sentence())
        with st.form(f"{key}_gpt2_form", border=False):
            typed = st.text_input(_("GPT-2 folder"), key=f"{key}_gpt2_folder", placeholder=str(models_dir() / "distilgpt2"),
                                  help=_("A folder with config.json (model_type gpt2), model.safetensors and "
                                         "tokenizer.json: gpt2, distilgpt2, gpt2-medium or a fine-tune of them."))
            submitted = st.form_submit_button(_("Use this folder"))
        if submitted and typed.strip():
            problem = folder_problem(typed)
            if problem:
                st.error(plain_text(problem), icon=":material/error:")  # it quotes what was typed: shown as text
            else:
                folders = st.session_state.setdefault(SESSION_KEY, [])
                folder = str(typed_folder(typed).resolve())
                if folder not in folders:
                    folders.append(folder)
                st.session_state[open_key] = folder
                st.rerun()
        cached = {name for name, _path in offered}
        buttons = [(repo, mb) for repo, mb in HUB_MODELS.items() if repo not in cached]
        columns = st.columns(max(len(buttons), 1)) if buttons else []
        for column, (repo, mb) in zip(columns, buttons, strict=False):
            if column.button(_("Download {name} ({mb} MB)").format(name=repo, mb=mb), key=f"{key}_fetch_{repo}"):
                _fetch(repo, open_key)


def _fetch(repo: str, open_key: str) -> None:
    reason = hub_unavailable_reason()  # within ~3 s; offline mode answers at once
    if reason:
        st.warning(format_plain(_("The Hugging Face Hub cannot be reached ({reason}): put {files} of {name} into "
                                  "{folder}."), reason=localize(reason), files=", ".join(GPT2_FILES), name=repo,
                                folder=models_dir() / repo), icon=":material/cloud_off:")
        return
    try:
        with st.spinner(_("Downloading {name} from the Hugging Face Hub…").format(name=repo)):
            folder = download_gpt2(repo)
    except Exception as exc:  # network and Hub errors come in many types; the page shows the reason
        st.error(_("The download failed: {error}").format(error=exc), icon=":material/error:")
        return
    _cached_hub_folders.clear()
    st.session_state[open_key] = str(folder.resolve())
    st.rerun()


__all__ = ["GPT2_TASK", "folder_problem", "how_to_get_sentence", "pretrained_folders", "pretrained_panel", "typed_folder"]
