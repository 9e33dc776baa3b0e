"""Issue 14 without a browser: chart sizes for a 1280×720 projector, masked cells and fixed palettes, presentation
mode and links to a view, run names and colours on Train, Generate's stale results, localized messages."""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO
from tests.test_pages_train_generate import assets, env, open_page, page_file  # noqa: F401 - fixtures
from trainers.presets import PRESETS, preset_config
from ui import messages
from ui import runs as ui_runs
from ui import sampling as ui_sampling
from ui.charts import color_scale, heatmap_spec, line_chart_spec, spec_values
from ui.charts.heatmaps import (
    FACET_LEGEND_PX,
    FACET_SPACING,
    MAIN_COLUMN_WIDTH,
    facet_heatmap_spec,
    facet_layout,
)
from ui.i18n import translate
from ui.inputs import head_counts
from ui.links import presented, view_url


# ---------------------------------------------------------------------------------------------------------
# Sizes and palettes
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("H", "T", "columns"), [(4, 6, 4), (4, 10, 2), (8, 10, 3), (4, 64, 2), (2, 6, 2), (1, 40, 1)])
def test_heads_wrap_into_rows_that_fit_the_main_column(H, T, columns):
    got_columns, cell = facet_layout(H, T, T, MAIN_COLUMN_WIDTH, 4, label_px=60)
    assert got_columns == columns
    width = 60 + FACET_LEGEND_PX + got_columns * (T * cell + FACET_SPACING)
    assert width <= MAIN_COLUMN_WIDTH  # labels, every column of heads and the legend fit
    if got_columns > 1:
        assert cell >= (18 if T <= 40 else 4)


def test_four_heads_of_a_ten_word_sentence_make_a_two_by_two_grid():
    stack = np.full((4, 10, 10), 0.1)
    labels = tuple(f"{i:02d} w" for i in range(10))
    spec = facet_heatmap_spec(stack, ("h1", "h2", "h3", "h4"), labels, labels)
    assert spec["columns"] == 2
    assert len(spec_values(spec)) == 400


def test_long_inputs_thin_their_axis_labels():
    labels = tuple(f"{i:02d} tok" for i in range(64))
    spec = heatmap_spec(np.zeros((64, 64)), labels, labels)
    axis = spec["layer"][0]["encoding"]["x"]["axis"]
    assert axis["labelOverlap"] == "parity"
    short = heatmap_spec(np.zeros((4, 4)), labels[:4], labels[:4])
    assert short["layer"][0]["encoding"]["x"]["axis"]["labelOverlap"] is False


def test_masked_weights_are_grey_cells_not_pale_zeros():
    weights = np.tril(np.full((3, 3), 1 / 3))
    masked = np.triu(np.ones((3, 3), bool), k=1)
    spec = heatmap_spec(weights, ("a", "b", "c"), ("a", "b", "c"), domain=(0.0, 1.0), masked=masked)
    cells = {(r["r"], r["c"]): r for r in spec_values(spec)}
    assert cells[(0, 1)]["masked"] and cells[(0, 1)]["value"] == 0 and cells[(0, 1)]["label"] == "−∞→0"
    assert cells[(0, 1)]["shown"] == "0"  # the tooltip still gives the weight
    assert not cells[(1, 0)]["masked"] and cells[(1, 0)]["value"] == pytest.approx(1 / 3)


def test_a_signed_quantity_keeps_the_diverging_palette_when_all_positive():
    positive = np.array([[0.1, 0.4], [0.2, 0.3]])
    assert color_scale(positive).kind == "sequential"
    signed = color_scale(positive, signed=True)
    assert (signed.kind, signed.domain) == ("diverging", (-0.4, 0.4))


def test_line_colours_follow_the_given_order_in_every_language():
    rows = [{"d_k": 1, "v": 0.1, "g": "B"}, {"d_k": 1, "v": 0.2, "g": "A"}]
    spec = line_chart_spec(rows, "d_k", "v", "g", color_order=("A", "B"), rule_x=4)
    scale = spec["layer"][0]["encoding"]["color"]["scale"]
    assert scale["domain"] == ["A", "B"] and scale["range"] == ["#0072B2", "#D55E00"]
    assert spec["layer"][2]["data"]["values"] == [{"x": 4}]  # the current d_k is marked


def test_only_head_counts_that_divide_d_model_are_offered():
    assert head_counts(16) == [1, 2, 4, 8]
    assert head_counts(12) == [1, 2, 3, 4, 6]
    assert head_counts(7) == [1, 7]


# ---------------------------------------------------------------------------------------------------------
# Presentation mode and links
# ---------------------------------------------------------------------------------------------------------
def test_presented_specs_have_larger_text():
    spec = heatmap_spec(np.eye(3), ("a", "b", "c"), ("a", "b", "c"), annotate=True)
    big = presented(spec, scale=1.5)
    assert big["config"]["axis"]["labelFontSize"] == round(11 * 1.5)
    text_layer = next(layer for layer in big["layer"] if layer["mark"].get("type") == "text")
    original = next(layer for layer in spec["layer"] if layer["mark"].get("type") == "text")
    assert text_layer["mark"]["fontSize"] == round(original["mark"]["fontSize"] * 1.5)
    assert presented(spec, scale=1.0, size=1.0) is spec


def test_presented_specs_are_larger_but_draw_the_same_numbers():
    """Presentation mode's charts use the room the collapsed sidebar leaves: every px width and height × size,
    band steps too; the data (a loss chart's "step" column, say) is never touched."""
    spec = heatmap_spec(np.eye(3), ("a", "b", "c"), ("a", "b", "c"), annotate=True)
    big = presented(spec, scale=1.4, size=1.3)
    assert spec["width"] == spec["height"] == {"step": 32}  # a heatmap is sized by its cells
    assert (big["width"], big["height"]) == ({"step": round(32 * 1.3)}, {"step": round(32 * 1.3)})
    assert spec_values(big) == spec_values(spec)
    lines = {"data": {"values": [{"step": 10, "width": 3}]}, "mark": "line", "width": "container", "height": 300,
             "encoding": {"x": {"field": "step", "type": "quantitative"}}}
    grown = presented(lines, scale=1.0, size=1.3)
    assert grown["data"] == lines["data"] and grown["width"] == "container" and grown["height"] == 390
    assert presented({"width": {"step": 20}}, scale=1.0, size=1.5)["width"] == {"step": 30}
    heads = presented(facet_heatmap_spec(np.full((4, 5, 5), 0.2), ("h1", "h2", "h3", "h4"), tuple("abcde"),
                                         tuple("abcde")), scale=1.4, size=1.3)
    assert heads["facet"]["header"]["labelFontSize"] == round(13 * 1.4)  # "head 1" … over each map
    # At 1280 × 720 the main column is 820 px beside the sidebar and 1,120 px without it (measured): a chart
    # made to fit the first still fits the second at 1.3 × (labels grow with the text, 1.4 ×).
    assert MAIN_COLUMN_WIDTH * 1.4 <= 1120


def test_a_link_opens_multihead_with_its_settings_and_gives_them_back():
    at = AppTest.from_file(str(REPO / "app_pages" / "multihead.py"), default_timeout=60)
    for name, value in {"text": "a b c d", "heads": "3", "d_model": "12", "mask": "causal", "seed": "5"}.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception and not at.warning
    assert at.text_input(key="mha_text").value == "a b c d"
    assert at.select_slider(key="mha_n_heads").value == 3
    assert at.select_slider(key="mha_n_heads").options == ["1", "2", "3", "4", "6"]
    assert at.segmented_control(key="mha_mask").value == "causal"
    link = at.code[0].value
    assert link.startswith("/multihead?") and "heads=3" in link and "d_model=12" in link and "seed=5" in link
    # A d_model that 3 does not divide moves H to the largest head count below it that does.
    at.slider(key="mha_d_model").set_value(16).run()
    assert at.select_slider(key="mha_n_heads").value == 2 and not at.error


def test_a_bad_link_value_says_so_and_keeps_the_default():
    at = AppTest.from_file(str(REPO / "app_pages" / "attention_steps.py"), default_timeout=60)
    at.query_params["d_k"] = "999"
    at.run()
    assert not at.exception
    assert any("d_k" in w.value for w in at.warning)
    assert at.slider(key="steps_d_k").value == 4
    assert any("Every row sums to 1" in c.value for c in at.caption)


def test_view_url_carries_language_and_presentation():
    at = AppTest.from_string(
        "import streamlit as st\n"
        "from ui.links import view_url\n"
        "st.session_state['k'] = 3\n"
        "st.session_state['present_mode'] = True\n"
        "st.code(view_url('attention_steps', {'d_k': ('k', int)}, base='http://host'))\n"
    ).run()
    assert at.code[0].value == "http://host/attention_steps?d_k=3&lang=en&present=1"
    assert view_url  # imported for the reader: the function under test


# ---------------------------------------------------------------------------------------------------------
# Train: names, table, throughput; the causal-off demo
# ---------------------------------------------------------------------------------------------------------
def _record(number, config, previous=None, snapshot=None):
    return ui_runs.RunRecord(f"r{number}", number, "shakespeare", "causal-demo", config,
                             last_snapshot=snapshot or {}, previous=previous)


def test_runs_are_named_by_what_differs_from_the_run_before():
    base = preset_config("shakespeare", "causal-demo")
    first = _record(1, base)
    off = _record(2, ui_runs.replace(base, model=ui_runs.replace(base.model, causal=False)), first)
    lr = _record(3, ui_runs.replace(off.config, lr=1e-2), off)
    same = _record(4, lr.config, lr)
    assert first.label == "#1 shakespeare causal-demo transformer"
    assert off.label == "#2 causal off"
    assert lr.label == "#3 lr 1e-2"
    assert same.label == "#4 same as #3"
    assert [ui_runs._short_number(v) for v in (0.01, 3e-4, 0.1, 0.003)] == ["1e-2", "3e-4", "0.1", "3e-3"]

    table = ui_runs.config_table([first, off])
    assert list(table.columns[:2]) == ["run", "causal mask"]
    assert table["causal mask"].tolist() == ["on", "off"]
    assert table["validation loss"].tolist() == ["—", "—"]  # no evaluation yet: a dash, never None


def test_a_throughput_drop_is_found():
    steps = [{"tokens_per_s": v} for v in (1, 1, 1, 13_000, 12_500, 13_200, 3_000)]
    assert ui_runs.throughput_drop({"steps": steps}) == (13_200.0, 3_000.0)
    assert ui_runs.throughput_drop({"steps": steps[:-1]}) is None


def test_the_causal_demo_preset_limits_steps_not_time():
    demo = PRESETS["shakespeare"]["causal-demo"].config
    assert demo.max_steps == 400 and demo.max_time_s is None
    assert demo.model.causal is True  # the student switches it off for the second run


# ---------------------------------------------------------------------------------------------------------
# Generate: stale results; the drawn token; top-k that keeps everything
# ---------------------------------------------------------------------------------------------------------
def test_generate_marks_old_text_stale_the_moment_a_setting_changes(env):  # noqa: F811 - the fixture
    at = open_page(page_file("Generate"))
    at.slider(key="gen_length_char").set_value(12).run()
    at.button(key="gen_go").click().run()
    assert not at.exception and not any("changed after this text" in w.value for w in at.warning)
    at.slider(key="gen_a_temperature").set_value(1.5).run()
    assert any("changed after this text" in w.value for w in at.warning), [w.value for w in at.warning]
    assert any("line-through" in m.value for m in at.markdown if "<div" in m.value)
    at.button(key="gen_go").click().run()
    assert not any("changed after this text" in w.value for w in at.warning)
    assert at.session_state["gen_result"]["results"][0]["settings"].temperature == 1.5
    chart = json.loads(at.get("vega_lite_chart")[0].proto.spec)  # the candidates of the chosen step
    assert chart["encoding"]["stroke"]["condition"] == {"test": "datum.chosen", "value": "#000000"}
    step = at.session_state["gen_result"]["results"][0]["steps"][0]
    labels = set(ui_sampling.candidate_rows(step).query("chosen")["token"])
    assert len(labels) == 1 and "drawn" in labels.pop()  # "3. e  ◀ drawn" (or "drawn: e" outside the top 10)
    vocab = at.number_input(key="gen_a_top_k").max
    at.number_input(key="gen_a_top_k").set_value(vocab).run()
    assert any("changes nothing here" in c.value for c in at.caption)


# ---------------------------------------------------------------------------------------------------------
# Messages from the trainers and the AddSub parser
# ---------------------------------------------------------------------------------------------------------
def test_trainer_messages_are_translated_sentence_by_sentence(monkeypatch):
    english = "Finished 400 steps in 10.8 s. Validation loss 2.263 nats per character."
    assert messages.localize(english) == english
    monkeypatch.setattr(messages, "_", lambda m: translate(m, "zh_Hant"))
    chinese = messages.localize(english)
    assert "400" in chinese and "10.8" in chinese and "2.263" in chinese and "Finished" not in chinese
    failed = messages.localize("Training failed: out of memory (CUDA).")
    assert failed.endswith("out of memory (CUDA).") and not failed.startswith("Training failed")
    parse = messages.localize("operands must be between -49 and 49 (got 60).")
    assert "60" in parse and "operands" not in parse


def test_a_link_names_the_checkpoint_and_text_of_attention_maps(env):  # noqa: F811 - the fixture
    at = AppTest.from_file(str(REPO / "app_pages" / "attention_maps.py"), default_timeout=60)
    at.query_params["model"] = "shakespeare"
    at.query_params["text"] = "JULIET: O Romeo"
    at.run()
    assert not at.exception and not at.warning
    assert at.selectbox(key="att_checkpoint").value == env["shakespeare"]
    assert at.text_area(key="att_text_shakespeare").value == "JULIET: O Romeo"
    assert at.code[0].value == "/attention_maps?model=shakespeare&kind=decoder_self&layer=1&text=JULIET%3A+O+Romeo&lang=en"
    unknown = AppTest.from_file(str(REPO / "app_pages" / "attention_maps.py"), default_timeout=60)
    unknown.query_params["model"] = "no-such-model"
    unknown.run()
    assert not unknown.exception and any("“model”" in w.value for w in unknown.warning)


# ---------------------------------------------------------------------------------------------------------
# Links on every page: layer and head where a page has them, and a warning (never an exception) for a value
# the loaded model or the page cannot use
# ---------------------------------------------------------------------------------------------------------
def _linked(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(str(REPO / "app_pages" / f"{page}.py"), default_timeout=90)
    for name, value in params.items():
        at.query_params[name] = value
    return at.run()


def _warned(at: AppTest) -> set[str]:
    """The parameter names the page's warnings name ("The link's value for “layer” …")."""
    return {w.value.split("“")[1].split("”")[0] for w in at.warning if "link's value" in w.value}


def test_a_link_opens_attention_maps_at_a_kind_and_layer(env):  # noqa: F811 - the fixture
    at = _linked("attention_maps", model="shakespeare", kind="decoder_self", layer="2")
    assert not at.exception and not at.warning
    assert at.segmented_control(key="att_lm_shakespeare_decoder_self_layer_2").value == 2
    assert at.code[0].value.startswith("/attention_maps?model=shakespeare&kind=decoder_self&layer=2&text=")
    bad = _linked("attention_maps", model="addsub", kind="nonsense", layer="7")  # 1 layer, three kinds
    assert not bad.exception and _warned(bad) == {"kind", "layer"}
    assert bad.code[0].value.startswith("/attention_maps?model=addsub&kind=encoder_self&layer=1&")


def test_a_link_opens_the_model_view_at_a_head(env):  # noqa: F811 - the fixture
    at = _linked("model_view", model="shakespeare", text="JULIET: O", kind="decoder_self", layer="2", head="2")
    assert not at.exception and not at.warning
    assert at.text_area(key="mv_text_shakespeare").value == "JULIET: O"
    assert (at.selectbox(key="mv_layer_shakespeare_decoder_self_2").value,
            at.selectbox(key="mv_head_shakespeare_decoder_self_2").value) == (2, 2)
    assert at.code[0].value == ("/model_view?model=shakespeare&kind=decoder_self&layer=2&head=2&text=JULIET%3A+O"
                                "&lang=en")
    bad = _linked("model_view", model="shakespeare", kind="cross", layer="3", head="0")  # 2 layers × 2 heads
    assert not bad.exception and _warned(bad) == {"kind", "layer", "head"}
    assert bad.selectbox(key="mv_layer_shakespeare_decoder_self_2").value == 1


@pytest.mark.parametrize(("page", "prefix", "with_head"), [("attention_steps", "steps_", True),
                                                           ("multihead", "mha_", False)])
def test_a_link_opens_an_explore_page_on_a_trained_models_head(env, page, prefix, with_head):  # noqa: F811
    head = {"head": "2"} if with_head else {}
    at = _linked(page, weights="model", model="shakespeare", layer="2", text="to be or not", **head)
    assert not at.exception and not at.warning
    assert at.segmented_control(key=prefix + "weights").value == "model"
    assert at.selectbox(key=prefix + "model").value == env["shakespeare"]
    assert at.slider(key=prefix + "layer_2").value == 2
    link = next(c.value for c in at.code if c.value.startswith(f"/{page}?"))
    assert link.startswith(f"/{page}?model=shakespeare&layer=2" + ("&head=2" if with_head else "&"))
    assert "weights=model" in link
    if with_head:
        assert at.slider(key=prefix + "head_2").value == 2
    bad = _linked(page, weights="model", model="shakespeare", layer="5", **({"head": "9"} if with_head else {}))
    assert not bad.exception and _warned(bad) == ({"layer", "head"} if with_head else {"layer"})
    assert bad.slider(key=prefix + "layer_2").value == 1


def test_a_link_opens_inside_a_block_with_its_settings():
    at = _linked("block", text="a b c", seed="3", d_model="12", heads="3", d_ff="40", norm="post")
    assert not at.exception and not at.warning
    assert (at.slider(key="blk_d_model").value, at.select_slider(key="blk_n_heads").value,
            at.slider(key="blk_d_ff").value, at.segmented_control(key="blk_norm").value) == (12, 3, 40, "post")
    assert at.code[0].value == "/block?text=a+b+c&seed=3&d_model=12&heads=3&d_ff=40&norm=post&lang=en"
    assert any("n_heads=3, d_ff=40" in c.value and "post-norm" in c.value for c in at.code)
    bad = _linked("block", d_ff="999", norm="middle")
    assert not bad.exception and _warned(bad) == {"d_ff", "norm"} and bad.slider(key="blk_d_ff").value == 64


def test_a_link_opens_tokens_and_embeddings_with_its_settings():
    at = _linked("tokens", text="to be or not", tokenizer="character", d_model="6", seed="2", pe="learned",
                 length="20", pe_d_model="10", cosine="1")
    assert not at.exception and not at.warning
    assert at.segmented_control(key="tok_kind").value == "character"
    assert (at.slider(key="tok_pe_len").value, at.slider(key="tok_pe_d").value, at.toggle(key="tok_cosine").value,
            at.segmented_control(key="tok_pe_kind").value) == (20, 10, True, "learned")
    assert at.code[-1].value == ("/tokens?text=to+be+or+not&tokenizer=character&d_model=6&seed=2&pe=learned&length=20"
                                 "&pe_d_model=10&cosine=1&lang=en")
    bad = _linked("tokens", tokenizer="sentencepiece", length="0")
    assert not bad.exception and _warned(bad) == {"tokenizer", "length"}


def test_a_link_sets_generate_without_generating(env):  # noqa: F811 - the fixture
    at = _linked("generate", model="shakespeare", prompt="JULIET:", temperature="1.3", top_k="5", top_p="0.9",
                 seed="7", length="40")
    assert not at.exception and not at.warning
    assert "gen_result" not in at.session_state  # opening a link sets the controls; Generate is the user's click
    assert (at.text_area(key="gen_prompt").value, at.slider(key="gen_a_temperature").value,
            at.number_input(key="gen_a_top_k").value, at.slider(key="gen_a_top_p").value,
            at.number_input(key="gen_seed").value, at.slider(key="gen_length_char").value) == ("JULIET:", 1.3, 5, 0.9,
                                                                                                7, 40)
    assert at.code[0].value == ("/generate?model=shakespeare&prompt=JULIET%3A&compare=0&seed=7&length=40"
                                "&temperature=1.3&top_k=5&top_p=0.9&lang=en")
    bad = _linked("generate", temperature="nan", top_k="99999", compare="1", temperature_b="2.5")
    assert not bad.exception and _warned(bad) == {"temperature", "top_k"}
    assert bad.slider(key="gen_b_temperature").value == 2.5 and bad.slider(key="gen_a_temperature").value == 0.5
