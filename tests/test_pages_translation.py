"""The Translate page, translation on the Train, Attention-maps and Generate pages, through AppTest.

The translation model here is a tiny encoder-decoder trained for a second or two on eight English→German
pairs until greedy decoding reproduces them, saved as a Multi30k en→de checkpoint in a temporary assets
folder (``TC_ASSETS_DIR``). The Train page trains on a tiny Multi30k-style folder (``TC_SHARED_DATA``), so
nothing here needs ../shared/data. Every training job is stopped and joined before its test ends.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
import torch
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO
from tests.test_pages_train_generate import last_status, loss_points, make_lm_checkpoint, page_file, poll, stop_runs
from tests.test_translation import PAIRS, tiny_model, tiny_tokenizer, write_multi30k
from trainers.checkpoint import load_checkpoint, save_checkpoint
from trainers.tasks import translation as tr
from trainers.tasks.base import TeacherForcingLoss
from ui import attention_maps as ui_attention
from ui import checkpoints as ui_checkpoints
from ui.charts import spec_values
from ui.jobs import ACTIVE_STATUSES


def make_translation_checkpoint(path) -> str:
    """A 1+1-layer translator that has learnt the eight pairs by heart (greedy decoding reproduces them)."""
    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer, d_model=64)
    src = tr.pad_batch([tr.encode_source(tokenizer, s) for s, _ in PAIRS])
    tgt = tr.pad_batch([tr.encode_target(tokenizer, t) for _, t in PAIRS])
    loss_fn, optimizer = TeacherForcingLoss(model, 0.0, ignore_index=tr.PAD_ID), torch.optim.Adam(model.parameters(), lr=3e-3)
    with ui_checkpoints.inference_threads(1):  # tiny matrices: one thread is fastest (restored afterwards)
        for _step in range(300):
            loss = loss_fn(src, tgt)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if loss.item() < 0.01:
                break
    return str(save_checkpoint(path, model.eval(), task="multi30k_en_de", tokenizer_kind="bpe",
                               tokenizer_json=tokenizer.to_str(), metrics={"bleu": 100.0},
                               task_info={"bos_id": tr.BOS_ID, "eos_id": tr.EOS_ID, "pad_id": tr.PAD_ID}))


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("assets")
    shared = tmp_path_factory.mktemp("shared")
    write_multi30k(shared / "multi30k", n_train=80)
    return {"translation": make_translation_checkpoint(folder / "multi30k_en_de"),
            "shakespeare": make_lm_checkpoint(folder / "shakespeare"), "dir": folder, "shared": shared}


@pytest.fixture()
def env(assets, tmp_path, monkeypatch):
    monkeypatch.setenv("TC_ASSETS_DIR", str(assets["dir"]))
    monkeypatch.setenv("TC_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("TC_SHARED_DATA", str(assets["shared"]))
    monkeypatch.delenv("TC_MAX_JOBS", raising=False)
    return assets


def open_translate(text: str | None = None) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.switch_page(page_file("Translate")).run()
    assert not at.exception, at.exception
    if text is not None:
        at.text_input(key="tr_text").input(text).run()
        assert not at.exception, at.exception
    return at


def chart_rows(element) -> list[dict]:
    """The cells a chart draws: inline data, or the datasets Streamlit moved out of the spec."""
    rows = spec_values(json.loads(element.proto.spec))
    if element.proto.data.data:
        rows += pa.ipc.open_stream(element.proto.data.data).read_all().to_pylist()
    for ds in element.proto.datasets:
        rows += pa.ipc.open_stream(ds.data.data).read_all().to_pylist()
    return rows


def translation_box(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "font-size: 1.25rem" in m.value)


def test_translate_greedy_with_alignment_heatmap(env):
    at = open_translate()
    assert at.title[0].value == "Translate"
    assert at.selectbox(key="tr_checkpoint").value == env["translation"]  # the shipped en→de is preselected
    at.text_input(key="tr_text").input("A dog runs.").run()
    assert not at.exception and not at.error
    assert ">Ein Hund rennt.<" in translation_box(at)
    model, meta = load_checkpoint(env["translation"])
    n_out = len(tr.tokenize(meta.tokenizer, "Ein Hund rennt."))
    assert any(c.value.startswith(f"greedy search · {n_out} tokens · log-probability -0.") for c in at.caption)
    charts = [json.loads(el.proto.spec) for el in at.get("vega_lite_chart")]
    assert len(charts) == 1 and charts[0]["facet"]["field"] == "head"
    rows = chart_rows(at.get("vega_lite_chart")[0])
    assert {r["head"] for r in rows} == {"head 1", "head 2"}
    src_pieces = meta.token_strings(meta.encode("A dog runs."))
    out_pieces = meta.token_strings(tr.tokenize(meta.tokenizer, "Ein Hund rennt.") + [tr.EOS_ID])
    assert [r["col"] for r in rows[: len(src_pieces)]] == [f"{i:02d} {p}" for i, p in enumerate(src_pieces)]
    assert {r["row"] for r in rows} == {f"{i:02d} {p}" for i, p in enumerate(out_pieces)}
    assert src_pieces[-1] == "<eos>" and src_pieces[1] == "▁dog"


def test_alignment_maps_are_a_teacher_forced_pass():
    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer).eval()
    src = tr.encode_source(tokenizer, "A man sleeps.")
    out = tr.tokenize(tokenizer, "Ein Mann schläft.")

    class Meta:  # the two things translation_attention reads from a CheckpointMeta
        model_config, path = model.config, "x"

        @staticmethod
        def token_strings(ids):
            return [tokenizer.id_to_token(i) for i in ids]

    maps = ui_attention.translation_attention(model, Meta, src, out, text="A man sleeps.")
    assert maps.weights["cross"].shape == (1, 2, len(out) + 1, len(src))
    assert maps.weights["decoder_self"].shape == (1, 2, len(out) + 1, len(out) + 1)
    for w in maps.weights.values():
        np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)
    assert np.allclose(np.triu(maps.weights["decoder_self"][0, 0], k=1), 0.0)  # the causal mask
    assert maps.query_tokens["cross"][-1] == "<eos>" and maps.query_tokens["decoder_self"][0] == "<bos>"
    with torch.no_grad():
        _logits, record = model(torch.tensor([src]), torch.tensor([[tr.BOS_ID] + out]), return_attention=True)
    np.testing.assert_allclose(maps.weights["cross"][0], record.cross[0][0].numpy(), atol=1e-6)


def test_translate_with_beam_search_shows_the_n_best_list(env):
    at = open_translate("A man reads a book.")
    at.radio(key="tr_decoding").set_value("beam").run()
    at.slider(key="tr_beam_width").set_value(3).run()
    assert not at.exception and not at.error
    assert ">Ein Mann liest ein Buch.<" in translation_box(at)
    table = at.dataframe[0].value
    assert 1 <= len(table) <= 3 and table["rank"].tolist() == list(range(1, len(table) + 1))
    assert table["translation"].iloc[0] == "Ein Mann liest ein Buch."
    assert (table["score"].diff().dropna() <= 1e-9).all()  # best first
    assert any(c.value.startswith("beam search, width 3, length penalty α = 0.6") for c in at.caption)


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        ("   ", "error", "The sentence is empty"),
        ("A dog runs. " * 12, "error", "but the model reads at most 32"),
        ("A 狗 runs.", "warning", "“狗”"),
    ],
)
def test_bad_input_gets_a_clear_message(env, text, kind, message):
    at = open_translate(text)
    boxes = at.error if kind == "error" else at.warning
    assert any(message in b.value for b in boxes), [b.value for b in boxes]
    if kind == "error":
        assert not at.get("vega_lite_chart")  # nothing was translated
    else:
        assert translation_box(at)  # an unknown character is read as <unk>; the rest is still translated


def test_train_page_translation_run_shows_bleu_then_opens_translate(env):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.switch_page(page_file("Train")).run()
    try:
        at.selectbox(key="train_task").set_value("multi30k_en_de").run()
        assert at.radio(key="train_preset_multi30k_en_de").value == "tiny"
        at.number_input(key="train_steps_multi30k_en_de_tiny").set_value(12).run()
        at.number_input(key="train_time_multi30k_en_de_tiny").set_value(0.0).run()
        at.button(key="train_start").click().run()
        assert not at.error, [e.value for e in at.error]
        poll(at, lambda a: last_status(a) not in ACTIVE_STATUSES)
        snap = at.session_state["train_runs"][-1].last_snapshot
        assert snap["status"] == "finished", snap.get("message")
        labels = [m.label for m in at.metric]
        assert "BLEU (greedy)" in labels and "validation loss" in labels
        assert any("Validation BLEU" in s.value for s in at.success)
        points = loss_points(at)
        assert len(points[points["curve"] == "validation"]) >= 2
        record = at.session_state["train_runs"][-1]
        _model, meta = load_checkpoint(record.checkpoint)
        assert meta.is_translation and meta.model_config.share_embeddings and meta.tokenizer is not None
        at.button(key="train_open_translate").click().run()
        assert at.title[0].value == "Translate"
        assert at.selectbox(key="tr_checkpoint").value == record.checkpoint
    finally:
        stop_runs(at)


def test_attention_maps_page_shows_three_kinds_for_a_translation_model(env):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.switch_page(page_file("Attention maps")).run()
    at.selectbox(key="att_checkpoint").set_value(env["translation"]).run()
    at.text_input(key="att_sentence_multi30k_en_de").input("Two girls play.").run()
    assert not at.exception and not at.error
    assert len(at.tabs) == 3
    assert any("Zwei Mädchen spielen." in m.value for m in at.markdown)


def test_generate_page_points_translation_models_to_translate(env):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.switch_page(page_file("Generate")).run()
    assert not at.exception
    paths = at.selectbox(key="gen_checkpoint").options
    assert all("Multi30k" not in p for p in paths)
    assert any("Translate page" in c.value for c in at.caption)
