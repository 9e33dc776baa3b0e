"""A bookmarked page opens as itself in a freshly started app (no old-style `pages/` folder takeover).

Streamlit treats a folder named `pages/` beside the main script as an old-style multipage app until
`st.navigation` has run once in the process; a first visit straight to a page's URL then ran the page
file alone, without the router, its sidebar sections or wide layout. The pages live in `app_pages/`.
"""

import pytest

from tests.conftest import ARTIFACTS, REPO, assert_no_exception_box, streamlit_server

pytestmark = pytest.mark.browser


def test_no_pages_folder_beside_the_router():
    assert not (REPO / "pages").exists()
    assert (REPO / "app_pages" / "home.py").exists()


def test_first_visit_to_a_deep_link_gets_the_router(browser):
    with streamlit_server() as url:  # a fresh server: this is the very first request it sees
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.goto(f"{url}/multihead")
        page.get_by_role("heading", name="Multi-head attention").first.wait_for(timeout=30_000)
        nav = page.locator('[data-testid="stSidebarNav"]')
        nav.get_by_text("Explore").wait_for(timeout=10_000)  # the router's sections, not file names
        assert nav.get_by_text("Train & sample").count() == 1
        assert nav.get_by_text("attention steps").count() == 0  # no auto-discovered file names
        assert_no_exception_box(page)
        page.screenshot(path=str(ARTIFACTS / "deep_link_multihead.png"))
        context.close()
