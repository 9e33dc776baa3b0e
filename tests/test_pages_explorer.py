"""AppTest for the five explorer pages: they render, their widgets change what is drawn, bad input gives messages.

Each test starts the real router (``app.py``) and switches to the page, as a user clicking the sidebar would
(``AppTest.switch_page`` works with ``st.navigation`` in Streamlit 1.67). Charts are read back from the
Vega-Lite spec and its data (Streamlit ships a chart's top-level data as Arrow in ``proto.data``), so the
assertions are on the numbers actually drawn.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO
from ui.charts import spec_values

TIMEOUT = 60


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT).run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def charts(at: AppTest) -> dict[str, tuple[dict, list[dict]]]:
    """Every Vega-Lite chart on the page by title: (spec, the rows it draws); concatenated parts separately.

    Rows come inline in the spec, as the chart's top-level Arrow data (``proto.data``), or as named Arrow
    datasets (``proto.datasets``) that the spec's layers refer to by name (``ui.charts.with_named_data``)."""
    out = {}

    def add(spec: dict, extra_rows: list[dict], named: dict[str, list[dict]]) -> None:
        for direction in ("hconcat", "vconcat"):
            if direction in spec:
                for sub in spec[direction]:
                    add(sub, [], named)
                return
        title = spec.get("title", {})
        out[title.get("text") if isinstance(title, dict) else title] = (spec, spec_values(spec, named) + extra_rows)

    for el in at.get("vega_lite_chart"):
        rows = []
        if el.proto.data.data:
            rows += pa.ipc.open_stream(el.proto.data.data).read_all().to_pylist()
        named = {}
        for ds in el.proto.datasets:
            table = pa.ipc.open_stream(ds.data.data).read_all().to_pylist()
            if ds.has_name:
                named[ds.name] = table
            else:
                rows += table
        add(json.loads(el.proto.spec), rows, named)
    return out


def matrix(rows: list[dict], head: str | None = None) -> np.ndarray:
    """A heatmap's cells back as a matrix (masked scores, which carry no value, as −inf; masked weights keep 0)."""
    cells = [r for r in rows if head is None or r.get("head") == head]
    R, C = max(r["r"] for r in cells) + 1, max(r["c"] for r in cells) + 1
    m = np.zeros((R, C))
    for r in cells:
        m[r["r"], r["c"]] = -np.inf if r["value"] is None else r["value"]
    return m


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "error", "success") for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


# --------------------------------------------------------------------------------------------------
# Attention, step by step
# --------------------------------------------------------------------------------------------------
def test_steps_page_shows_every_step_with_rows_summing_to_one():
    at = open_page("app_pages/attention_steps.py")
    drawn = charts(at)
    for title in ("X (T × d_model)", "W_Q", "W_K", "W_V", "Q", "K", "V", "Q Kᵀ", "Q Kᵀ / √d_k",
                  "Attention weights", "Output = A V", "Largest weight as d_k grows", "Entropy as d_k grows"):
        assert title in drawn, f"missing chart {title}"
    weights = matrix(drawn["Attention weights"][1])
    assert weights.shape == (10, 10)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    assert drawn["Attention weights"][0]["layer"][0]["encoding"]["color"]["scale"]["domain"] == [0.0, 1.0]
    labels = sorted({r["row"] for r in drawn["Attention weights"][1]})
    assert labels[0] == "00 the" and "04 the" in labels  # a repeated word keeps its own row
    q, k = matrix(drawn["Q"][1]), matrix(drawn["K"][1])
    np.testing.assert_allclose(matrix(drawn["Q Kᵀ"][1]), q @ k.T, atol=1e-4)  # the scores are Q Kᵀ
    np.testing.assert_allclose(matrix(drawn["Q Kᵀ / √d_k"][1]), q @ k.T / 2.0, atol=1e-4)  # d_k = 4
    assert "All three agree" in texts(at)  # loop versions equal the vectorised one
    table = next(m.value for m in at.markdown if "scaled_dot_product_two_loop_single" in m.value).splitlines()
    assert table[0] == r"| implementation | output shape | max \|difference\| from vectorised |"  # one header row
    assert len(table) == 5 and all(row.count(" | ") == 2 and "| (10, 4) |" in row for row in table[2:])
    pick = at.selectbox(key="steps_dl_pick")  # one download panel: any matrix as PNG or CSV
    assert pick.options[:2] == ["X (T × d_model)", "W_Q"] and "Attention weights" in pick.options
    assert len(pick.options) == 12 and len(at.get("download_button")) == 2
    assert "Scores after the mask" not in drawn and "Nothing is masked" in texts(at)


def test_causal_mask_puts_zeros_above_the_diagonal():
    at = open_page("app_pages/attention_steps.py")
    at.segmented_control(key="steps_mask").set_value("causal").run()
    assert not at.exception
    drawn = charts(at)
    weights = drawn["Attention weights"][1]
    above_diagonal = [r for r in weights if r["c"] > r["r"]]
    assert above_diagonal and all(r["value"] == 0 and r["masked"] for r in above_diagonal)  # drawn grey
    assert all(r["value"] > 0 and not r["masked"] for r in weights if r["c"] == r["r"])
    masked = drawn["Scores after the mask"][1]
    above = [r for r in masked if r["c"] > r["r"]]
    assert above and all(r["masked"] and r["shown"] == "−∞" for r in above)
    assert "Causal mask" in texts(at)


def test_padding_mask_gives_pad_columns_no_weight():
    at = open_page("app_pages/attention_steps.py")
    at.segmented_control(key="steps_mask").set_value("padding").run()
    at.slider(key="steps_n_pad").set_value(3).run()
    assert not at.exception
    weights_rows = charts(at)["Attention weights"][1]
    pad_cols = {r["c"] for r in weights_rows if r["col"].endswith("[PAD]")}
    assert pad_cols == {10, 11, 12}
    assert all(r["value"] == 0 for r in weights_rows if r["c"] in pad_cols)
    np.testing.assert_allclose(matrix(weights_rows).sum(axis=1), 1.0, atol=1e-5)


def test_turning_scaling_off_changes_the_weights():
    at = open_page("app_pages/attention_steps.py")
    at.slider(key="steps_d_k").set_value(32).run()
    scaled = matrix(charts(at)["Attention weights"][1])
    at.toggle(key="steps_scale").set_value(False).run()
    assert not at.exception
    drawn = charts(at)
    unscaled = matrix(drawn["Attention weights"][1])
    assert "Q Kᵀ / √d_k" not in drawn
    assert not np.allclose(scaled, unscaled, atol=1e-3)
    assert unscaled.max(axis=1).mean() > scaled.max(axis=1).mean()  # unscaled softmax is peakier
    scores = matrix(drawn["Q Kᵀ"][1])
    softmax = np.exp(scores - scores.max(axis=1, keepdims=True))
    np.testing.assert_allclose(unscaled, softmax / softmax.sum(axis=1, keepdims=True), atol=1e-4)  # no ÷√d_k
    assert "Scaling is off" in texts(at)
    sweep = charts(at)["Largest weight as d_k grows"][1]
    big = {r["softmax input"]: r["value"] for r in sweep if r.get("d_k") == 512}
    assert big["Q Kᵀ (unscaled)"] > 0.8 > big["Q Kᵀ / √d_k (scaled)"]


def test_d_k_slider_changes_the_shapes():
    at = open_page("app_pages/attention_steps.py")
    at.slider(key="steps_d_k").set_value(6).run()
    assert matrix(charts(at)["Q"][1]).shape == (10, 6)
    assert "(10, 6)" in texts(at)


def test_textbook_mode_reproduces_udl_12_1():
    at = open_page("app_pages/attention_steps.py")
    at.segmented_control(key="steps_mode").set_value("textbook").run()
    assert not at.exception
    compare = next(df.value for df in at.dataframe if "expected (book)" in df.value.columns)
    assert compare["expected (book)"].tolist()[:4] == [0.94744244, -0.24348429, -0.91310441, -0.44522983]
    np.testing.assert_allclose(compare["computed"], compare["expected (book)"], atol=1e-8)
    assert compare["difference"].abs().max() < 1e-8
    assert "matches the book to its 8 printed decimals" in texts(at)
    assert "Columns in the book, rows here" in texts(at)
    code = "\n".join(c.value for c in at.code)
    assert "x_prime_1_true:       [[ 1.64201168 -0.08470004  4.02764044  2.18690791]]" in code
    np.testing.assert_allclose(matrix(charts(at)["Attention weights (rows sum to 1)"][1]).sum(axis=1), 1.0)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "The text is empty"),
        (" ".join(["word"] * 500), "Your text has 500 tokens; only the first 64 are used"),
        ("hello", "Only one token"),
    ],
    ids=["empty", "500 words", "one token"],
)
def test_steps_bad_input_gives_a_message_not_an_exception(text, expected):
    at = open_page("app_pages/attention_steps.py")
    at.text_input(key="steps_text").set_value(text).run()
    assert not at.exception
    assert expected in texts(at)
    weights = matrix(charts(at)["Attention weights"][1])
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    if text == "hello":
        assert weights.tolist() == [[1.0]]


def test_steps_emoji_and_chinese():
    at = open_page("app_pages/attention_steps.py")
    at.text_input(key="steps_text").set_value("我愛注意力 👍🏽!").run()
    assert not at.exception
    labels = sorted({r["row"] for r in charts(at)["Attention weights"][1]})
    assert labels == ["00 我", "01 愛", "02 注", "03 意", "04 力", "05 👍🏽", "06 !"]


# --------------------------------------------------------------------------------------------------
# Multi-head attention
# --------------------------------------------------------------------------------------------------
def test_multihead_page_one_heatmap_per_head_and_the_book_example():
    at = open_page("app_pages/multihead.py")
    drawn = charts(at)
    spec, rows = drawn["Attention weights per head"]
    assert spec["facet"]["field"] == "head"
    assert {r["head"] for r in rows} == {"head 1", "head 2", "head 3", "head 4"}
    for h in range(1, 5):
        np.testing.assert_allclose(matrix(rows, f"head {h}").sum(axis=1), 1.0, atol=1e-5)
    shapes = at.dataframe[0].value
    assert shapes["shape"].tolist()[:2] == ["(1, 10, 16)", "(1, 4, 10, 4)"]
    assert matrix(drawn["Concat(head₁, …, head_H)"][1]).shape == (10, 16)
    compare = next(df.value for df in at.dataframe if "expected (book)" in df.value.columns)
    assert compare["expected (book)"].tolist()[0] == -21.207
    assert (compare["computed"] - compare["expected (book)"]).abs().max() <= 5e-4
    assert "matches the book's 3 printed decimals" in texts(at)


def test_multihead_causal_and_indivisible_heads():
    at = open_page("app_pages/multihead.py")
    at.segmented_control(key="mha_mask").set_value("causal").run()
    rows = charts(at)["Attention weights per head"][1]
    for h in range(1, 5):
        assert np.all(np.triu(matrix(rows, f"head {h}"), k=1) == 0)
    # Only head counts that divide d_model are offered: at d_model 10 the 4 heads become 2, with no error.
    at.slider(key="mha_d_model").set_value(10).run()
    assert not at.exception and not at.error
    assert at.select_slider(key="mha_n_heads").options == ["1", "2", "5"]
    assert at.select_slider(key="mha_n_heads").value == 2
    assert "UDL 12.2: attention weights per head" in charts(at)  # the rest of the page still works
    at.select_slider(key="mha_n_heads").set_value(5).run()
    assert not at.error and not at.exception
    assert {r["head"] for r in charts(at)["Attention weights per head"][1]} == {f"head {h}" for h in range(1, 6)}


# --------------------------------------------------------------------------------------------------
# Inside a block
# --------------------------------------------------------------------------------------------------
def test_block_page_pre_norm_shapes_and_layer_norm_stats():
    at = open_page("app_pages/block.py")
    stats = next(df.value for df in at.dataframe if "std after" in df.value.columns)
    np.testing.assert_allclose(stats["std after"], 1.0, atol=1e-3)
    np.testing.assert_allclose(stats["mean after"], 0.0, atol=1e-5)
    assert stats["std before"].std() > 0.01  # before the norm, tokens differ
    dots = [g.proto.spec for g in at.get("graphviz_chart")]
    assert len(dots) == 2
    assert "LayerNorm before self-attention\\n(1, 10, 16)" in dots[0]
    assert "feed-forward hidden, after the activation\\n(1, 10, 64)" in dots[0]
    assert "cross-attention" in dots[1] and "encoder output (memory)" in dots[1]
    code = "\n".join(c.value for c in at.code)
    assert "Final output size: torch.Size([2, 5, 10])" in code
    assert "(2, 5, 10)" in texts(at)


def test_block_page_post_norm_and_bad_sizes():
    at = open_page("app_pages/block.py")
    at.segmented_control(key="blk_norm").set_value("post").run()
    at.slider(key="blk_d_ff").set_value(32).run()
    assert not at.exception
    dot = at.get("graphviz_chart")[0].proto.spec
    assert "LayerNorm after self-attention" in dot and "LayerNorm before" not in dot
    assert "(1, 10, 32)" in dot
    assert "post-norm" in "\n".join(c.value for c in at.code)
    at.slider(key="blk_d_model").set_value(10).run()  # not divisible by 4 heads: H drops to 2, no error
    assert not at.exception and not at.error
    assert at.select_slider(key="blk_n_heads").value == 2
    assert at.get("graphviz_chart")


# --------------------------------------------------------------------------------------------------
# Tokens & embeddings
# --------------------------------------------------------------------------------------------------
def test_tokens_page_tokenizers_and_embeddings():
    at = open_page("app_pages/tokens.py")
    text = texts(at)
    assert "character:" in text and "BPE (bytes):" in text
    chips = next(m.value for m in at.markdown if "font-family:monospace" in m.value)
    assert "&lt;e6&gt;" in chips  # 注 written as UTF-8 bytes by byte-level BPE
    assert not at.warning  # BPE knows every byte: no [UNK]
    at.segmented_control(key="tok_kind").set_value("character").run()
    assert not at.exception
    assert "are [UNK]" in at.warning[0].value  # 注意力 and 🙂 are not Shakespeare's characters
    emb = matrix(charts(at)["E[ids]: the token vectors"][1])
    assert emb.shape[1] == 8
    table = next(df.value for df in at.dataframe if "id" in df.value.columns)
    ids = table["id"].tolist()
    first_to = [i for i, t in enumerate(table["token"]) if t == "T"]
    assert ids[0] == ids[first_to[0]]
    # the same id gives the same embedding row: "o" appears several times
    rows_o = [i for i, t in enumerate(table["token"]) if t == "o"]
    assert len(rows_o) >= 2 and np.allclose(emb[rows_o[0]], emb[rows_o[1]])


def test_tokens_positional_encodings():
    at = open_page("app_pages/tokens.py")
    sin = matrix(charts(at)["Positional encoding (position × dimension)"][1])
    assert sin.shape == (32, 32)
    np.testing.assert_allclose(sin[0], [0.0, 1.0] * 16, atol=1e-6)
    sim = matrix(charts(at)["PE · PEᵀ"][1])
    np.testing.assert_allclose(sim, sin @ sin.T, atol=1e-3)
    at.segmented_control(key="tok_pe_kind").set_value("simple").run()
    at.slider(key="tok_pe_len").set_value(8).run()
    simple = matrix(charts(at)["Positional encoding (position × dimension)"][1])
    np.testing.assert_allclose(simple[:, 0], np.arange(8) / 8, atol=1e-6)
    at.segmented_control(key="tok_pe_kind").set_value("learned").run()
    assert "random initialisation" in texts(at)
    assert not at.exception


def test_tokens_page_bad_input():
    at = open_page("app_pages/tokens.py")
    at.text_area(key="tok_text").set_value("").run()
    assert not at.exception
    assert "The text is empty" in texts(at)
    at.text_area(key="tok_text").set_value(" ".join(["attention"] * 500)).run()
    assert not at.exception
    assert "the first 200 are shown" in texts(at)
    assert matrix(charts(at)["E[ids]: the token vectors"][1]).shape[0] == 64


# --------------------------------------------------------------------------------------------------
# Cost of attention
# --------------------------------------------------------------------------------------------------
def test_cost_page_measures_on_demand():
    at = open_page("app_pages/cost.py")
    assert "Press “Measure on this machine”" in texts(at)
    assert not charts(at)
    at.multiselect(key="cost_lengths").set_value([16, 32, 64]).run()
    at.slider(key="cost_repeats").set_value(1).run()
    at.slider(key="cost_batch").set_value(1).run()
    at.button(key="cost_measure").click().run()
    assert not at.exception
    drawn = charts(at)
    time_rows = drawn["Time of one forward pass (log-log)"][1]
    paths = {r["path"] for r in time_rows}
    assert "T² guide (slope 2)" in paths and len(paths) == 3
    assert all(r["ms"] > 0 for r in time_rows)
    memory = {r["T"]: r["MB"] for r in drawn["Memory of the T×T weights (log-log)"][1]}
    assert memory[64] == pytest.approx(1 * 4 * 64 * 64 * 4 / 2**20)  # B · H · T² · 4 bytes
    assert memory[32] * 4 == pytest.approx(memory[64])
    slopes = next(df.value for df in at.dataframe if "slope, all lengths" in df.value.columns)
    assert len(slopes) == 2 and slopes["slope, all lengths"].notna().all()
    assert "4.03×" in texts(at)


def test_cost_page_needs_two_lengths():
    at = open_page("app_pages/cost.py")
    at.multiselect(key="cost_lengths").set_value([64]).run()
    at.button(key="cost_measure").click().run()
    assert not at.exception
    assert "at least two lengths" in at.warning[0].value
