"""The Model view page: every layer × head drawn for each shipped course model, equal to the model's own attention."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch
from streamlit.testing.v1 import AppTest

from trainers.checkpoint import load_checkpoint
from ui.charts import spec_values
from ui.model_view import grid_layout, grid_tokens

REPO = Path(__file__).resolve().parent.parent
PAGE = str(REPO / "app_pages" / "model_view.py")


def chart_rows(element) -> list[dict]:
    """The rows a chart draws: the datasets Streamlit moved out of the spec, or the spec's own."""
    rows = []
    if element.proto.data.data:
        rows += pa.ipc.open_stream(element.proto.data.data).read_all().to_pylist()
    for ds in element.proto.datasets:
        rows += pa.ipc.open_stream(ds.data.data).read_all().to_pylist()
    return rows + spec_values(json.loads(element.proto.spec))


def open_page(checkpoint: Path, **state) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["mv_checkpoint"] = str(checkpoint)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


@pytest.mark.parametrize(("name", "kinds"), [
    ("shakespeare", ["decoder_self"]),
    ("wikitext2", ["decoder_self"]),
    ("addsub", ["encoder_self", "decoder_self", "cross"]),
    ("multi30k_en_de", ["encoder_self", "decoder_self", "cross"]),
])
def test_every_layer_and_head_is_drawn_for_each_shipped_model(name, kinds):
    path = REPO / "assets" / name
    _model, meta = load_checkpoint(path)
    cfg = meta.model_config
    at = open_page(path)
    assert at.title[0].value == "Model view"
    grid = at.get("vega_lite_chart")[0]
    panels = {row["p"] for row in chart_rows(grid)}
    n_layers = cfg.n_encoder_layers or cfg.n_layers if kinds[0] == "encoder_self" else cfg.n_layers
    assert len(panels) == n_layers * cfg.n_heads
    assert {"L1 H1", f"L{n_layers} H{cfg.n_heads}"} <= panels
    assert len(at.get("vega_lite_chart")) == 3  # the grid, the enlarged head, the head view
    if len(kinds) > 1:  # encoder-decoders: the cross-attention grid too
        at.get("segmented_control")[0].set_value("cross").run()
        assert not at.exception
        assert len({row["p"] for row in chart_rows(at.get("vega_lite_chart")[0])}) == cfg.n_layers * cfg.n_heads


def test_grid_and_enlarged_head_equal_the_models_own_attention():
    path = REPO / "assets" / "wikitext2"
    model, meta = load_checkpoint(path)
    text = "the game was released in japan"
    at = open_page(path, mv_text_wikitext2=text)
    ids = meta.encode(text)
    with torch.no_grad():
        _logits, record = model(torch.tensor([ids]), return_attention=True)
    grid = chart_rows(at.get("vega_lite_chart")[0])
    cell = next(r for r in grid if r["p"] == "L2 H1" and r["q"] == 3 and r["k"] == 2)
    assert cell["w"] == pytest.approx(float(record.decoder_self[1][0, 0, 3, 2]), abs=1e-4)
    assert sum(r["w"] for r in grid if r["p"] == "L2 H1" and r["q"] == 3) == pytest.approx(1.0, abs=1e-3)
    at.selectbox(key=[s.key for s in at.selectbox if s.label == "Layer"][0]).set_value(2)
    at.selectbox(key=[s.key for s in at.selectbox if s.label == "Head"][0]).set_value(2).run()
    big = chart_rows(at.get("vega_lite_chart")[1])
    expected = record.decoder_self[1][0, 1].numpy()
    got = np.zeros_like(expected)
    for row in big:
        got[row["r"], row["c"]] = row["value"] or 0.0
    np.testing.assert_allclose(got, expected, atol=1e-5)
    view = chart_rows(at.get("vega_lite_chart")[2])  # the last token's row of every head of layer 2
    heads = sorted({row["r"] for row in view})
    assert len(heads) == model.config.n_heads
    last = next(row for row in view if row["r"] == 1 and row["c"] == len(ids) - 1)
    assert last["value"] == pytest.approx(float(record.decoder_self[1][0, 1, -1, -1]), abs=1e-5)


def test_bad_input_is_a_message_not_a_traceback():
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["mv_checkpoint"] = str(REPO / "assets" / "addsub")
    at.session_state["mv_expression"] = "12 * 7"
    at.run()
    assert not at.exception and at.error


def test_grid_layout_fits_the_page_and_caps_its_tokens():
    assert grid_layout(12, 12) == (12, 53)  # GPT-2 small: one row of 12 heads per layer
    assert grid_layout(24, 16)[0] == 8  # gpt2-medium: two rows of 8 per layer
    per_row, side = grid_layout(4, 4)
    assert per_row * (side + 8) <= 760
    assert grid_tokens(144) == 20 and grid_tokens(16) == 61 and grid_tokens(2) == 64
