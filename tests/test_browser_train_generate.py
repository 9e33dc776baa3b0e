"""End to end in Chromium: train AddSub live on the Train page, then sample from the shipped Shakespeare model.

What a lecturer does in class: start a short run, watch the loss curve grow, stop it; open Generate, sample,
look at the candidates and the per-head attention heatmaps. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, assert_no_exception_box
from ui.checkpoints import assets_dir

pytestmark = pytest.mark.browser

SHIPPED_SHAKESPEARE = assets_dir() / "shakespeare"  # assets/shakespeare, or under TC_ASSETS_DIR


def screenshot(page, name: str) -> None:
    """The whole page, not just the viewport: Streamlit scrolls inside its main element, so grow the viewport."""
    size = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], int(height) + 40)})
    time.sleep(0.8)  # charts re-lay out to the new size
    Path(ARTIFACTS).mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))
    page.set_viewport_size(size)


def metric_value(page, label: str) -> str:
    """The visible value of the st.metric whose label is ``label``."""
    box = page.locator('[data-testid="stMetric"]').filter(has=page.get_by_text(label, exact=True)).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def open_page(page, app_url: str, title: str) -> None:
    page.goto(app_url)
    page.get_by_role("link", name=title).first.click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=30_000)


def test_train_live_then_stop(app_url, page):
    open_page(page, app_url, "Train")
    page.get_by_text("Training slots on this server").first.wait_for(timeout=30_000)
    steps = page.get_by_role("spinbutton", name="steps (0 = no step limit)")
    steps.fill("1500")
    steps.press("Enter")
    time.sleep(1.0)  # let the rerun that takes the new value finish
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Status: running").first.wait_for(timeout=30_000)

    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.wait_for(timeout=30_000)
    seen_steps, pictures = [], []
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and len(seen_steps) < 3:
        value = int(metric_value(page, "step").replace(",", ""))
        if value > 0 and (not seen_steps or value > seen_steps[-1]):
            seen_steps.append(value)
            pictures.append(chart.screenshot())
        time.sleep(1.0)
    assert len(seen_steps) >= 3, f"the step counter did not advance: {seen_steps}"
    assert pictures[0] != pictures[-1], "the loss chart did not change while the run trained"
    assert re.search(r"\d+% done · time left", page.get_by_test_id("stProgress").inner_text())
    assert_no_exception_box(page)
    screenshot(page, "train_running.png")

    # the page's Stop, not the one Streamlit's status widget shows in the header while a rerun takes long
    page.get_by_test_id("stMain").get_by_role("button", name="Stop").click()
    page.get_by_text("Status: stopped").first.wait_for(timeout=15_000)
    page.get_by_text("Stopped by request").first.wait_for()
    # the worker saved the model it trained: Keep a model offers it at once
    page.get_by_role("button", name=re.compile(r"^Download \(weights")).wait_for(timeout=15_000)
    page.get_by_role("button", name="Open in Attention maps").wait_for(timeout=15_000)
    assert_no_exception_box(page)
    screenshot(page, "train.png")


def test_generate_from_shipped_shakespeare(app_url, page):
    if not (SHIPPED_SHAKESPEARE / "model.safetensors").is_file():
        pytest.skip(f"the shipped Tiny Shakespeare checkpoint is not there ({SHIPPED_SHAKESPEARE})")
    open_page(page, app_url, "Generate")
    page.get_by_text("Tokens to generate").first.wait_for(timeout=30_000)
    chosen = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"] input').first.input_value()
    assert "Tiny Shakespeare (shipped)" in chosen
    page.get_by_role("button", name="Generate").click()
    page.get_by_role("heading", name="Generated text", exact=True).wait_for(timeout=60_000)
    page.get_by_role("heading", name="Attention over the prompt and the generated text").wait_for(timeout=60_000)
    text = page.locator("div[style*='pre-wrap']").first.inner_text()
    assert text.startswith("ROMEO:") and len(text) > 100
    assert re.search(r"[a-z]{3,}", text[6:]), "no recognisable words in the sample"
    page.get_by_text(re.compile(r"Step \d+: drew .+ with probability [0-9.e-]+ \(the model alone gave it")).first.wait_for()
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    charts.nth(1).wait_for(timeout=30_000)
    assert charts.count() >= 2  # the candidates of a step, and one heatmap per head
    box = charts.nth(1).bounding_box()
    assert box and box["width"] > 300 and box["height"] > 200
    assert_no_exception_box(page)
    screenshot(page, "generate.png")


def test_train_an_lstm_beside_the_transformer_knobs(app_url, page):
    """Pick Tiny Shakespeare and the LSTM: the transformer-only knobs go, a 20-step run finishes, labelled LSTM."""
    from trainers import data_paths

    if not data_paths.shakespeare_path().is_file():
        pytest.skip(f"Tiny Shakespeare is not there ({data_paths.shakespeare_path()})")
    open_page(page, app_url, "Train")
    page.get_by_text("Training slots on this server").first.wait_for(timeout=30_000)
    page.get_by_label("Task").click()
    page.get_by_role("option", name="Tiny Shakespeare (characters)").click()
    page.get_by_text("Architecture").first.wait_for(timeout=15_000)
    page.get_by_label("n_heads").first.wait_for(timeout=15_000)  # the transformer's knobs (once the rerun ends)
    page.get_by_text("LSTM", exact=True).click()
    page.get_by_role("spinbutton", name="LSTM layers").wait_for(timeout=15_000)
    deadline = time.monotonic() + 15  # the rerun removes the transformer's knobs when it completes
    while page.get_by_label("n_heads").count() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert page.get_by_label("n_heads").count() == 0 and page.get_by_label("d_ff").count() == 0
    steps = page.get_by_role("spinbutton", name="steps (0 = no step limit)")
    steps.fill("20")
    steps.press("Enter")
    time.sleep(1.0)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Status: finished").first.wait_for(timeout=60_000)
    page.get_by_role("heading", name=re.compile(r"Run #\d+ shakespeare tiny LSTM")).wait_for(timeout=15_000)
    assert_no_exception_box(page)
    screenshot(page, "train_lstm.png")
