"""Small session helpers the Train, Generate, Translate and Attention-maps pages share.

The Train page keeps its copy of this browser's runs in ``st.session_state["train_runs"]`` (a list of
:class:`ui.runs.RunRecord`, filled from the job manager by :func:`ui.runs.sync_runs`); the other pages offer
their checkpoints in their pickers (:func:`ui.checkpoints.checkpoint_picker`). The runs themselves belong to the
browser (:mod:`ui.jobs`), so a reload finds them again.
"""

from __future__ import annotations

import streamlit as st

from trainers import data_paths
from trainers.data_status import data_status
from ui.text import plain_text

RUNS_KEY = "train_runs"


def train_runs() -> list:
    """This session's :class:`ui.runs.RunRecord` list (created empty on first use)."""
    return st.session_state.setdefault(RUNS_KEY, [])


def session_checkpoints() -> list[tuple[str, str]]:
    """(run label, checkpoint folder) of every run of this browser that has a checkpoint, oldest first (also
    after a reload that has not visited the Train page yet)."""
    runs = train_runs()
    try:
        from ui.jobs import browser_id, job_manager
        from ui.runs import sync_runs

        sync_runs(runs, job_manager(), browser_id())
    except ValueError:  # a malformed limit: the Train page says which; the pickers list what the session has
        pass
    return [(r.label, r.checkpoint) for r in runs if r.checkpoint]


def show_notes(notes: list[tuple[str, str]]) -> None:
    """Show ("info" | "warning", text) notes as ``st.info`` / ``st.warning`` boxes.

    Notes are plain sentences that may quote what the user typed, so they are shown as text
    (:func:`ui.text.plain_text`: Markdown escaped, paths relative), never as Markdown."""
    for level, text in notes:
        if level == "warning":
            st.warning(plain_text(text), icon=":material/warning:")
        else:
            st.info(plain_text(text), icon=":material/info:")


def cached_data_status(task: str, data_dir: str | None):
    """``trainers.data_status.data_status`` for the Train page, kept 30 s (it may ask the Hub, up to ~3 s)."""
    return _data_status(task, data_dir, str(data_paths.shared_data_dir()))


@st.cache_data(show_spinner=False, ttl=30, max_entries=64)
def _data_status(task: str, data_dir: str | None, shared: str):  # the shared folder is part of the key
    return data_status(task, data_dir)
