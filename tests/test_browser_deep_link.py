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


def test_a_link_to_a_view_opens_it_in_presentation_mode(app_url, browser):
    """``?present=1`` plus a page's state: the sidebar starts collapsed, the page shows exactly those settings,
    and its "Link to this view" gives the same settings back."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.goto(f"{app_url}/multihead?present=1&text=the+dog+barked&d_model=12&heads=3&mask=causal&seed=4&lang=en")
    page.get_by_role("heading", name="Multi-head attention").first.wait_for(timeout=60_000)
    page.get_by_text("One attention pattern per head").first.wait_for(timeout=60_000)
    assert_no_exception_box(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    box = sidebar.bounding_box()
    assert box is None or box["x"] + box["width"] <= 1  # collapsed: the page gets the projector's width
    sync_api = pytest.importorskip("playwright.sync_api")
    sync_api.expect(page.get_by_role("textbox", name="Your sentence")).to_have_value("the dog barked", timeout=10_000)
    page.get_by_text("d_model = 12 and H = 3 heads").first.wait_for(timeout=10_000)
    # Larger text for a projector (presentation mode's CSS) and no explainer boxes.
    size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector("
                         "'[data-testid=stMainBlockContainer] p')).fontSize)")
    assert size >= 19  # 1.25rem; 16 px without presentation mode
    assert page.locator('[data-testid="stMainBlockContainer"] [data-testid="stExpander"]').first.is_hidden()
    page.get_by_role("button", name="Link to this view").click()
    link = page.locator('[data-testid="stPopoverBody"] [data-testid="stCode"]').first.inner_text()
    for part in ("/multihead?", "heads=3", "d_model=12", "mask=causal", "seed=4", "present=1"):
        assert part in link, link
    page.screenshot(path=str(ARTIFACTS / "deep_link_present.png"))
    context.close()


def _link(page) -> str:
    """The URL in the page's "Link to this view" popover."""
    page.get_by_role("button", name="Link to this view").click()
    code = page.locator('[data-testid="stPopoverBody"] [data-testid="stCode"]').first
    code.wait_for(timeout=10_000)
    text = code.inner_text()
    page.keyboard.press("Escape")
    return text


def test_links_open_a_layer_and_head_and_set_generate_without_generating(app_url, browser):
    """The shipped AddSub model (2 layers × 4 heads): a link opens Attention maps on its cross-attention tab at
    layer 2, the Model view with layer 2, head 3 enlarged; a link to Generate sets the controls and generates
    nothing; a layer the model lacks gives a warning, not an exception."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.goto(f"{app_url}/attention_maps?model=addsub&kind=cross&layer=2&lang=en")
    page.get_by_role("heading", name="Attention maps").first.wait_for(timeout=60_000)
    tab = page.get_by_role("tab", name="Cross-attention (decoder → encoder)")
    tab.wait_for(timeout=60_000)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=60_000)
    assert tab.get_attribute("aria-selected") == "true"
    assert "model=addsub&kind=cross&layer=2&" in _link(page)  # what the page shows is what it links to
    assert_no_exception_box(page)
    page.screenshot(path=str(ARTIFACTS / "deep_link_attention_maps_cross_layer2.png"))

    page.goto(f"{app_url}/model_view?model=addsub&kind=decoder_self&layer=2&head=3&lang=en")
    page.get_by_role("heading", name="One head, enlarged").wait_for(timeout=60_000)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=60_000)
    assert "kind=decoder_self&layer=2&head=3&" in _link(page)
    assert_no_exception_box(page)

    page.goto(f"{app_url}/model_view?model=addsub&layer=9&lang=en")
    page.get_by_text("The link's value for “layer” cannot be used here").first.wait_for(timeout=60_000)
    assert_no_exception_box(page)

    page.goto(f"{app_url}/generate?model=shakespeare&prompt=JULIET%3A&temperature=1.3&top_k=5&seed=7&length=40&lang=en")
    prompt = page.get_by_role("textbox", name="Prompt")
    prompt.wait_for(timeout=60_000)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=60_000)
    assert prompt.input_value() == "JULIET:"
    assert page.get_by_role("spinbutton", name="Top-k (0 = off)").input_value() == "5"
    assert page.get_by_role("heading", name="Generated text").count() == 0  # nothing generated on opening
    assert_no_exception_box(page)
    page.screenshot(path=str(ARTIFACTS / "deep_link_generate.png"))
    context.close()
