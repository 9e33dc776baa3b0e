"""Transformer Classroom: the router. Run with ``streamlit run app.py``.

Each page lives in ``app_pages/`` (not ``pages/``: Streamlit would treat that folder as an old-style multipage app on a first visit to a page URL); to add one, add a row to ``PAGES`` (the router's logic stays as it is).
"""

from __future__ import annotations

import streamlit as st

from ui.i18n import _

# (module file, title, Material icon, section). Order = the learning path of DESIGN.md.
PAGES: list[tuple[str, str, str, str]] = [
    ("app_pages/home.py", "Home", ":material/school:", "Start"),
    ("app_pages/tokens.py", "Tokens & embeddings", ":material/token:", "Explore"),
    ("app_pages/attention_steps.py", "Attention, step by step", ":material/grid_on:", "Explore"),
    ("app_pages/multihead.py", "Multi-head attention", ":material/view_module:", "Explore"),
    ("app_pages/block.py", "Inside a block", ":material/account_tree:", "Explore"),
    ("app_pages/cost.py", "Cost of attention", ":material/speed:", "Explore"),
    ("app_pages/train.py", "Train", ":material/model_training:", "Train & sample"),
    ("app_pages/generate.py", "Generate", ":material/auto_awesome:", "Train & sample"),
    ("app_pages/translate.py", "Translate", ":material/translate:", "Train & sample"),
    ("app_pages/attention_maps.py", "Attention maps", ":material/grid_view:", "Train & sample"),
]


def build_navigation() -> st.navigation:
    """Group the pages by section, translate their titles, and return the navigation object."""
    sections: dict[str, list] = {}
    for i, (path, title, icon, section) in enumerate(PAGES):
        sections.setdefault(_(section), []).append(st.Page(path, title=_(title), icon=icon, default=i == 0))
    return st.navigation(sections)


def main() -> None:
    st.set_page_config(page_title="Transformer Classroom", page_icon=":material/school:", layout="wide")
    build_navigation().run()


if __name__ == "__main__":
    main()
