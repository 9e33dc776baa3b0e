"""Small session helpers the Train, Generate, Translate and Attention-maps pages share.

The Train page keeps its runs in ``st.session_state["train_runs"]`` (a list of :class:`ui.runs.RunRecord`);
the other two pages offer the saved ones in their checkpoint pickers. Session state survives a
reconnect of the same tab, so a run's record (and its saved checkpoint) is never lost with it.
"""

from __future__ import annotations

import streamlit as st

from trainers import data_paths
from trainers.data_status import data_status
from ui.i18n import _
from ui.models import load_model

RUNS_KEY = "train_runs"


def train_runs() -> list:
    """This session's :class:`ui.runs.RunRecord` list (created empty on first use)."""
    return st.session_state.setdefault(RUNS_KEY, [])


def session_checkpoints() -> list[tuple[str, str]]:
    """(run label, checkpoint folder) of every run this session has saved, oldest first."""
    return [(r.label, r.checkpoint) for r in train_runs() if r.checkpoint]


def show_notes(notes: list[tuple[str, str]]) -> None:
    """Show ("info" | "warning", text) notes as ``st.info`` / ``st.warning`` boxes."""
    for level, text in notes:
        if level == "warning":
            st.warning(text, icon=":material/warning:")
        else:
            st.info(text, icon=":material/info:")


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


@st.cache_resource(show_spinner=False, max_entries=8)
def shared_model(path: str, stamp: float):
    """A checkpoint's (model, meta), loaded once per server for every page and session.

    ``stamp`` (:func:`ui.models.checkpoint_stamp`) changes when the folder is rewritten, so a re-saved run
    is loaded again. The model is in eval mode and only read under ``torch.no_grad``.
    Raises what :func:`ui.models.load_model` raises (ValueError, OSError).
    """
    return load_model(path)


def cached_model(path: str, stamp: float):
    """:func:`shared_model` under a "Loading the model…" spinner in the session's language."""
    with st.spinner(_("Loading the model…")):
        return shared_model(path, stamp)


def cached_data_status(task: str, data_dir: str | None):
    """``trainers.data_status.data_status`` for the Train page, kept 30 s (it may ask the Hub, up to ~3 s)."""
    return _data_status(task, data_dir, str(data_paths.shared_data_dir()))


@st.cache_data(show_spinner=False, ttl=30, max_entries=64)
def _data_status(task: str, data_dir: str | None, shared: str):  # the shared folder is part of the key
    return data_status(task, data_dir)
