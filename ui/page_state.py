"""Small session helpers the Train, Generate and Attention-maps pages share.

The Train page keeps its runs in ``st.session_state["train_runs"]`` (a list of :class:`ui.runs.RunRecord`);
the other two pages offer the saved ones in their checkpoint pickers. Session state survives a
reconnect of the same tab, so a run's record (and its saved checkpoint) is never lost with it.
"""

from __future__ import annotations

import streamlit as st

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
