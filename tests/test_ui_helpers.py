"""The pages' shared helpers: sentence splitting, unique labels, heatmap specs, PNG/CSV exports, tokenizers."""

import io
import json

import altair as alt
import numpy as np
import pytest

from ui.charts import (
    MASKED_COLOR,
    dim_labels,
    facet_heatmap_spec,
    hconcat_specs,
    heads_png,
    heatmap_frame,
    heatmap_png,
    heatmap_spec,
    layered_spec,
    loss_curves_spec,
    matrix_csv,
    spec_values,
    with_named_data,
)
from ui.charts.heatmaps import (
    CELL_STEPS,
    MAIN_COLUMN_WIDTH,
    MAX_CHART_WIDTH,
    concat_heatmap_spec,
    concat_layout,
    snap_cell,
)
from ui.text import split_sentence, unique_labels
from ui.tokenizing import BUILTIN_SAMPLE, Corpus, build_tokenizers, encode_pieces


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("the cat sat.", ["the", "cat", "sat", "."]),
        ("", []),
        ("   \n ", []),
        ("hello", ["hello"]),
        ("我愛注意力", ["我", "愛", "注", "意", "力"]),
        ("ok 👍🏽 👨‍👩‍👧 🇹🇼!", ["ok", "👍🏽", "👨‍👩‍👧", "🇹🇼", "!"]),
        ("don't stop", ["don't", "stop"]),
    ],
)
def test_split_sentence(text, tokens):
    assert split_sentence(text).tokens == tokens


def test_split_sentence_caps_long_text():
    result = split_sentence(" ".join(["word"] * 500), max_tokens=64)
    assert len(result.tokens) == 64 and result.n_total == 500 and result.truncated
    assert not split_sentence("a b").truncated
    with pytest.raises(ValueError):
        split_sentence("a", max_tokens=0)


def test_unique_labels_keep_repeated_words_apart():
    labels = unique_labels(["the", "cat", "the", " ", "\n"])
    assert labels == ["00 the", "01 cat", "02 the", "03 ␣", "04 ↵"]
    assert len(set(unique_labels(["a"] * 120))) == 120
    assert unique_labels(["a"] * 120)[5] == "005 a"
    assert unique_labels(["extraordinarily"])[0] == "00 extraordina…"


def test_heatmap_frame_marks_masked_cells():
    values = np.array([[0.5, -np.inf], [1.0, 2.0]])
    df = heatmap_frame(values, ["r0", "r1"], ["c0", "c1"])
    assert list(df["shown"]) == ["0.5", "−∞", "1", "2"]
    assert list(df["masked"]) == [False, True, False, False]
    assert df["value"].isna().tolist() == [False, True, False, False]
    with pytest.raises(ValueError):
        heatmap_frame(values, ["r0"], ["c0", "c1"])


def test_heatmap_spec_carries_exact_values_fixed_domain_and_grey_masked_cells():
    values = np.array([[0.25, 0.75], [1.0, 0.0]])
    spec = heatmap_spec(values, ("00 a", "01 b"), ("00 a", "01 b"), title="weights", domain=(0.0, 1.0))
    json.dumps(spec)  # serialisable as it is
    rows = spec_values(spec)
    assert [(r["row"], r["col"], r["value"]) for r in rows] == [
        ("00 a", "00 a", 0.25), ("00 a", "01 b", 0.75), ("01 b", "00 a", 1.0), ("01 b", "01 b", 0.0)
    ]
    rect = spec["layer"][0]
    assert rect["encoding"]["color"]["scale"]["domain"] == [0.0, 1.0]
    assert rect["encoding"]["color"]["condition"]["value"] == MASKED_COLOR == "#b8b8b8"
    # rows and columns are ordered by their indices in the data, so the spec does not list the labels
    assert rect["encoding"]["x"]["sort"] == {"field": "c", "op": "min"}
    assert rect["encoding"]["y"]["sort"] == {"field": "r", "op": "min"}
    assert [(r["r"], r["c"]) for r in rows] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert spec["title"]["text"] == "weights"
    signed = heatmap_spec(np.array([[-3.0, 1.0]]), ("r",), ("a", "b"))
    assert spec_values(signed)[0]["shown"] == "-3"
    assert signed["layer"][0]["encoding"]["color"]["scale"]["domain"] == [-3.0, 3.0]  # symmetric around 0
    masked = heatmap_spec(np.array([[1.0, -np.inf]]), ("r",), ("a", "b"))
    assert [r["label"] for r in spec_values(masked)] == ["1.00", "−∞"]
    with pytest.raises(ValueError):
        heatmap_spec(values, ("a",), ("a", "b"))


def test_named_data_keeps_the_spec_when_a_slider_adds_a_row_or_a_column():
    """d_k 4 → 5 or one more token: the chart is sized by cells and ordered by the data's indices, so with its rows
    sent apart its spec is the same and the browser updates the chart on screen instead of building a new one."""
    def spec(R, C, seed=0, **kw):
        values = np.random.default_rng(seed).normal(size=(R, C))
        out = with_named_data(heatmap_spec(values, tuple(f"t{i}" for i in range(R)), tuple(f"d{j}" for j in range(C)),
                                           title="Q", x_title="dimension", y_title="token", **kw))
        return {k: v for k, v in out.items() if k != "datasets"}, out["datasets"]

    (a, rows_a), (b, rows_b), (c, _rows) = spec(6, 4), spec(6, 5, seed=1), spec(7, 5, seed=2)
    assert a == b == c
    assert a["width"] == a["height"] == {"step": 32} and a["layer"][0]["encoding"]["x"]["sort"]["field"] == "c"
    assert rows_a != rows_b
    # the shape changes the cells' number only: 24, then 30 rows, each cell once with its indices
    drawn = spec_values(with_named_data(heatmap_spec(np.ones((6, 5)), tuple("abcdef"), tuple("vwxyz"))))
    assert sorted((r["r"], r["c"]) for r in drawn) == [(i, j) for i in range(6) for j in range(5)]
    # a cell size is one of a few steps, so nearby widths keep the spec too; the chart still fits max_width
    assert snap_cell(33) == 32 and snap_cell(31) == 28 and snap_cell(27.5) == 24 and snap_cell(3) == 4
    wide, _rows = spec(6, 30)
    assert wide["width"]["step"] in CELL_STEPS and wide["width"]["step"] * 30 <= MAX_CHART_WIDTH - 160
    assert spec(6, 29)[0] == wide  # 29 and 30 columns: the same 16 px cells


def test_q_k_v_side_by_side_fit_the_main_column_or_go_one_under_the_other():
    """Attention step by step's Q, K, V (T × d_k each): side by side while cells of at least 9 px fit the column with
    the row labels, the spacing and the legend; one under the other beyond (d_k ≥ 16 here), each then 4–32 px cells."""
    labels = tuple(f"{i:02d} because" for i in range(10))  # the widest of the default sentence's labels, 10 rows
    label_px = 6.5 * len(labels[0]) + 12 + 20  # as _label_px estimates them, + the axis title

    def parts(d_k):
        return tuple((np.ones((10, d_k)), labels, tuple(f"d{j}" for j in range(d_k)), name) for name in "QKV")

    for d_k in (1, 4, 6, 8, 12):
        cell, side_by_side = concat_layout([(10, d_k)] * 3, [labels] * 3, MAIN_COLUMN_WIDTH)
        assert side_by_side and 9 <= cell <= 32 and cell in CELL_STEPS
        assert 3 * (label_px + d_k * cell) + 2 * 24 + 60 <= MAIN_COLUMN_WIDTH  # the whole chart fits
        spec = concat_heatmap_spec(parts(d_k), y_title="token", max_width=MAIN_COLUMN_WIDTH)
        assert [sub["width"] for sub in spec["hconcat"]] == [{"step": cell}] * 3
    assert concat_layout([(10, 6)] * 3, [labels] * 3, MAIN_COLUMN_WIDTH) == (20, True)  # was 30 px: ~910 px wide
    for d_k in (16, 64):
        cell, side_by_side = concat_layout([(10, d_k)] * 3, [labels] * 3, MAIN_COLUMN_WIDTH)
        assert not side_by_side and label_px + d_k * cell + 60 <= MAIN_COLUMN_WIDTH and cell >= 4
    stacked = concat_heatmap_spec(parts(64), y_title="token", max_width=MAIN_COLUMN_WIDTH)
    assert "hconcat" not in stacked and [s["title"]["text"] for s in stacked["vconcat"]] == ["Q", "K", "V"]
    assert stacked["resolve"] == {"scale": {"color": "shared"}}


def test_named_data_keeps_the_spec_when_only_the_numbers_change():
    """Two matrices of one shape: the same spec once the rows (and the colour domain) travel as datasets."""
    labels = ("00 a", "01 b")
    first = heatmap_spec(np.array([[-3.0, 1.0], [0.5, -np.inf]]), labels, labels, title="scores")
    second = heatmap_spec(np.array([[2.0, -0.25], [7.0, -np.inf]]), labels, labels, title="scores")
    a, b = with_named_data(first), with_named_data(second)
    assert first["layer"][0]["encoding"]["color"]["scale"]["domain"] == [-3.0, 3.0]  # the input is not changed
    assert {k: v for k, v in a.items() if k != "datasets"} == {k: v for k, v in b.items() if k != "datasets"}
    assert a["datasets"] != b["datasets"] and all(isinstance(v, bytes) for v in a["datasets"].values())
    json.dumps({k: v for k, v in a.items() if k != "datasets"})
    # the same rows are drawn, shared by the cells' and the numbers' layers
    assert spec_values(a) == spec_values(first) and spec_values(b) == spec_values(second)
    assert [r["value"] for r in spec_values(b)] == [2.0, -0.25, 7.0, None]
    # the colour domain: no longer in the spec, but the anchor layer's two rows are its ends, ±max |value|
    scale = a["layer"][0]["encoding"]["color"]["scale"]
    assert "domain" not in scale and scale["nice"] is False and scale["zero"] is False
    anchor = a["layer"][-1]
    assert anchor["mark"] == {"type": "rect", "opacity": 0, "interactive": False}
    assert anchor["encoding"]["color"]["scale"] is not None and "condition" not in anchor["encoding"]["color"]
    ends = {name: spec_values({"layer": [{"data": {"name": name}}], "datasets": b["datasets"]})
            for name in b["datasets"]}
    assert ends[anchor["data"]["name"]] == [{"value": -7.0}, {"value": 7.0}]
    # a fixed (clamped) domain stays in the spec: it does not depend on the numbers
    fixed = with_named_data(heatmap_spec(np.array([[0.2, 0.8]]), ("r",), ("a", "b"), domain=(0.0, 1.0)))
    assert fixed["layer"][0]["encoding"]["color"]["scale"]["domain"] == [0.0, 1.0] and len(fixed["layer"]) == 2
    # side-by-side parts (a concat) each get their own datasets; rows read back part by part
    both = with_named_data(hconcat_specs(first, second))
    assert [spec_values(part, {}) for part in both["hconcat"]] == [[], []]  # no rows without their datasets
    assert spec_values(both) == spec_values(first) + spec_values(second)


def test_loss_curves_keep_their_spec_while_a_run_adds_points():
    """The Train page's loss chart, redrawn every second: the rows change, the spec (runs' colours included) does
    not, so the browser updates the chart on screen; the rows drawn are exactly the frame's."""
    import pandas as pd

    def frame(n: int) -> pd.DataFrame:
        rows = [{"run": run, "step": float(s), "seconds": s / 10, "curve": "train", "loss": 3.0 / s}
                for run in ("#1 tiny", "#2 LSTM") for s in range(1, n + 1)]
        rows += [{"run": "#1 tiny", "step": float(n), "seconds": n / 10, "curve": "validation", "loss": 2.5}]
        return pd.DataFrame(rows)

    early, late = loss_curves_spec(frame(5), title="loss"), loss_curves_spec(frame(400), title="loss")
    a, b = with_named_data(early), with_named_data(late)
    assert {k: v for k, v in a.items() if k != "datasets"} == {k: v for k, v in b.items() if k != "datasets"}
    color = b["layer"][0]["encoding"]["color"]
    assert color["scale"]["domain"] == ["#1 tiny", "#2 LSTM"]  # a nominal domain stays: it names the runs
    assert len(b["layer"]) == 2  # and no anchor layer is added for it
    lines, dots = (spec_values({"layer": [layer], "datasets": b["datasets"]}) for layer in b["layer"])
    assert len(lines) == 801 and lines == frame(400).to_dict(orient="records")
    assert dots == [{"run": "#1 tiny", "step": 400.0, "seconds": 40.0, "curve": "validation", "loss": 2.5}]
    with pytest.raises(ValueError, match="2 layers, 1 lists of rows"):
        layered_spec(alt.layer(alt.Chart().mark_line(), alt.Chart().mark_point()), [[]])


def test_facet_spec_has_one_facet_per_head():
    stack = np.stack([np.eye(3), np.full((3, 3), 1 / 3)])
    spec = facet_heatmap_spec(stack, ("head 1", "head 2"), ("a", "b", "c"), ("a", "b", "c"))
    rows = spec_values(spec)
    assert len(rows) == 18 and {r["head"] for r in rows} == {"head 1", "head 2"}
    assert spec["facet"]["field"] == "head"
    assert spec["spec"]["layer"][0]["encoding"]["color"]["scale"]["domain"] == [0.0, 1.0]


def test_png_and_csv_exports():
    values = np.array([[0.1, -np.inf], [0.3, 0.4]])
    png = heatmap_png(values, ("a", "b"), ("a", "b"), "t")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    assert heads_png(np.stack([values, values]), ("h1", "h2"), ("a", "b"), ("a", "b"))[:4] == b"\x89PNG"
    csv = matrix_csv(values, ["a", "b"], ["a", "b"])
    assert csv.splitlines()[1] == "a,0.1,-inf"
    assert dim_labels(12)[:2] == ["d00", "d01"]
    import pandas as pd

    assert pd.read_csv(io.StringIO(csv), index_col=0).shape == (2, 2)


def test_tokenizers_on_the_builtin_sample_handle_unknown_text():
    tokenizers = build_tokenizers(Corpus(BUILTIN_SAMPLE, "built-in sample", True))
    chars = encode_pieces(tokenizers, "character", "the 我")
    assert [p.text for p in chars] == ["t", "h", "e", "␣", "[UNK]"] and chars[-1].unknown and chars[-1].source == "我"
    words = encode_pieces(tokenizers, "word", "the zyzzyva .")
    assert [p.unknown for p in words] == [False, True, False]
    bpe = encode_pieces(tokenizers, "BPE", "我 👍")
    assert not any(p.unknown for p in bpe)
    assert [p.text for p in bpe if p.source == "我"] == ["<e6>", "<88>", "<91>"]  # UTF-8 bytes of 我
    assert encode_pieces(tokenizers, "BPE", "") == []
    assert len(encode_pieces(tokenizers, "character", "abcdef", max_tokens=3)) == 3


def test_shape_text():
    import torch

    from ui.text import shape_text

    assert shape_text(torch.zeros(2, 5, 10).shape) == "(2, 5, 10)"
    assert shape_text((3,)) == "(3)"


def test_one_colour_scale_for_screen_and_png():
    from ui.charts.colors import color_scale

    assert color_scale(np.array([[0.2, 0.9]]), (0.0, 1.0)) == color_scale(np.array([[5.0]]), (0.0, 1.0))
    fixed = color_scale(np.array([[0.2, 0.9]]), (0.0, 1.0))
    assert (fixed.kind, fixed.domain, fixed.cmap, fixed.center) == ("fixed", (0.0, 1.0), "Blues", None)
    signed = color_scale(np.array([[-2.0, 1.0], [-np.inf, 0.5]]))
    assert (signed.kind, signed.domain, signed.cmap, signed.center) == ("diverging", (-2.0, 2.0), "RdBu_r", 0.0)
    positive = color_scale(np.array([[0.0, 3.0], [np.nan, 1.0]]))
    assert (positive.kind, positive.domain) == ("sequential", (0.0, 3.0))
    assert color_scale(np.array([[-np.inf]])).domain == (0.0, 1.0)  # nothing finite: a unit scale
    spec = heatmap_spec(np.array([[-2.0, 1.0]]), ("a",), ("x", "y"))
    assert spec["layer"][0]["encoding"]["color"]["scale"]["domain"] == [-2.0, 2.0]


def test_labels_in_one_place():
    from ui.labels import family_label, kind_names, language_name, status_name, task_label, task_names

    assert status_name("running") == "running" and status_name("paused") == "paused"
    assert family_label("lstm") == "LSTM" and family_label("transformer") == "Transformer"
    assert task_label("addsub") == "AddSub" and task_label("unknown") == "unknown"
    assert set(task_names()) == {"addsub", "shakespeare", "anna", "wikitext2", "anki_en_fr", "multi30k_en_de",
                                 "multi30k_en_fr"}
    assert set(kind_names()) == {"encoder_self", "decoder_self", "cross"}
    assert language_name("de") == "German"
