"""The router and the Home page, through AppTest and in a real browser."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ARTIFACTS, REPO, assert_no_exception_box


def test_home_renders_with_the_learning_path():
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "Transformer Classroom"
    text = " ".join(m.value for m in at.markdown)
    for step in ("Attention, step by step", "Multi-head attention", "Train", "Generate", "Cost of attention"):
        assert step in text
    assert "as they are added" not in text  # no placeholder lines


def test_home_learning_path_follows_the_sidebar():
    import re

    from app import PAGES

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=30).run()
    steps = [m.value for m in at.markdown if re.match(r"^\d+\. \*\*", m.value)]
    titles = [re.match(r"^\d+\. \*\*(.+?)\*\*", step).group(1) for step in steps]
    assert titles == [title for _, title, _, section in PAGES if section != "Start"]  # Translate included


@pytest.mark.browser
def test_home_in_chromium(app_url, page):
    page.goto(app_url)
    page.get_by_text("The learning path").wait_for(timeout=30_000)
    assert page.get_by_role("heading", name="Transformer Classroom").count() >= 1
    assert_no_exception_box(page)
    page.screenshot(path=str(ARTIFACTS / "home.png"), full_page=True)
