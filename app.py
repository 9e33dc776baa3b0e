"""Transformer Classroom: the router. Run with ``streamlit run app.py``.

Each page lives in ``app_pages/`` (not ``pages/``: Streamlit would treat that folder as an old-style multipage app on a first visit to a page URL); to add one, add a row to ``PAGES`` (the router's logic stays as it is).
"""

from __future__ import annotations

import importlib
import threading

import streamlit as st

from ui.i18n import N_, _, language_switch
from ui.jobs import keep_owner_seen, remember_browser
from ui.links import presentation_requested, presentation_switch

# What the Explore and Train pages import (about 2 s on a laptop): loaded once in the background while the
# first page shows, so that the first visit to any of them is not spent importing.
WARM_MODULES = ("torch", "pandas", "altair", "ui.charts", "transformer.models", "trainers.trainer")

# (module file, title, Material icon, section). Order = the learning path of DESIGN.md. Titles and sections
# are marked with N_() for the catalogs and translated when the navigation is built.
PAGES: list[tuple[str, str, str, str]] = [
    ("app_pages/home.py", N_("Home"), ":material/school:", N_("Start")),
    ("app_pages/tokens.py", N_("Tokens & embeddings"), ":material/token:", N_("Explore")),
    ("app_pages/attention_steps.py", N_("Attention, step by step"), ":material/grid_on:", N_("Explore")),
    ("app_pages/multihead.py", N_("Multi-head attention"), ":material/view_module:", N_("Explore")),
    ("app_pages/block.py", N_("Inside a block"), ":material/account_tree:", N_("Explore")),
    ("app_pages/cost.py", N_("Cost of attention"), ":material/speed:", N_("Explore")),
    ("app_pages/train.py", N_("Train"), ":material/model_training:", N_("Train & sample")),
    ("app_pages/generate.py", N_("Generate"), ":material/auto_awesome:", N_("Train & sample")),
    ("app_pages/translate.py", N_("Translate"), ":material/translate:", N_("Train & sample")),
    ("app_pages/attention_maps.py", N_("Attention maps"), ":material/grid_view:", N_("Train & sample")),
    ("app_pages/model_view.py", N_("Model view"), ":material/apps:", N_("Train & sample")),
]


def build_navigation() -> st.navigation:
    """Group the pages by section, translate their titles and sections, and return the navigation object."""
    sections: dict[str, list] = {}
    for i, (path, title, icon, section) in enumerate(PAGES):
        sections.setdefault(_(section), []).append(st.Page(path, title=_(title), icon=icon, default=i == 0))
    return st.navigation(sections)


@st.cache_resource(show_spinner=False)
def warm_imports() -> threading.Thread:
    """Import :data:`WARM_MODULES` in a daemon thread, once per server process."""
    thread = threading.Thread(
        target=lambda: [importlib.import_module(name) for name in WARM_MODULES], name="warm-imports", daemon=True
    )
    thread.start()
    return thread


def main() -> None:
    # ?present=1 (a lecturer's link): the sidebar starts collapsed, leaving the projector's width to the page.
    st.set_page_config(page_title="Transformer Classroom", page_icon=":material/school:", layout="wide",
                       initial_sidebar_state="collapsed" if presentation_requested() else "auto")
    warm_imports()
    language_switch()  # before anything is translated; drawn on every page, so the choice holds across pages
    presentation_switch()
    # Runs belong to the browser, not to this websocket: its id lives in a cookie, and every rerun (plus a
    # heartbeat while it trains) tells the job manager that a tab of it is still open.
    with st.sidebar:
        remember_browser()
    keep_owner_seen()
    build_navigation().run()


if __name__ == "__main__":
    main()
