"""The Train, Generate and Attention-maps pages through AppTest, and the helpers behind them (ui.checkpoints, ui.sampling, ui.attention_maps, ui.runs).

Models here are tiny: checkpoints with random weights written to a temporary folder (pointed to by
``TC_ASSETS_DIR``), and training runs of the AddSub "tiny" preset (a few seconds). Every test that starts a
training job stops it and waits for its thread before it ends.
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest

from app import PAGES
from tests.conftest import REPO, loss_chart_rows
from trainers.checkpoint import load_checkpoint, save_checkpoint
from trainers.presets import PRESETS
from trainers.tasks import addsub
from trainers.tasks.lm import build_char_tokenizer
from transformer.models import TransformerConfig, build_model
from transformer.sampling import generate
from ui import attention_maps as ui_attention
from ui import checkpoints as ui_checkpoints
from ui import runs as ui_runs
from ui import sampling as ui_sampling
from ui.charts import heads_csv, heads_png
from ui.jobs import ACTIVE_STATUSES, job_slots

CORPUS = (
    "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n"
    "JULIET:\nO Romeo, Romeo! wherefore art thou Romeo?\n"
)
LM_CONTEXT = 32


def page_file(title: str) -> str:
    """The page's file as the router lists it in app.PAGES (so the tests follow the pages if they move)."""
    return next(path for path, page_title, _icon, _section in PAGES if page_title == title)


def make_lm_checkpoint(path) -> str:
    """A random 2-layer character model of the corpus above, saved as a Tiny Shakespeare checkpoint."""
    tokenizer = build_char_tokenizer(CORPUS)
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=tokenizer.get_vocab_size(), d_model=16, n_heads=2, n_layers=2, d_ff=32,
                               dropout=0.0, max_len=LM_CONTEXT)
    return str(save_checkpoint(path, build_model(config), task="shakespeare", tokenizer_kind="char",
                               tokenizer_json=tokenizer.to_str(), task_info={"unit": "char", "eos_id": None}))


def make_addsub_checkpoint(path) -> str:
    """A random 1+1-layer AddSub encoder-decoder checkpoint."""
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=16, src_vocab_size=16, layout="encoder-decoder", d_model=16, n_heads=2,
                               n_layers=1, d_ff=32, dropout=0.0, max_len=9)
    return str(save_checkpoint(path, build_model(config), task="addsub",
                               task_info={"vocab": list(addsub.ADDSUB_VOCAB), "bos_id": addsub.BOS_ID,
                                          "eos_id": addsub.EOS_ID}))


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("assets")
    return {"shakespeare": make_lm_checkpoint(folder / "shakespeare"), "addsub": make_addsub_checkpoint(folder / "addsub"),
            "dir": folder}


@pytest.fixture()
def env(assets, tmp_path, monkeypatch):
    """Pages read the tiny checkpoints and write runs to a temporary folder; the cap is the default 2."""
    monkeypatch.setenv("TC_ASSETS_DIR", str(assets["dir"]))
    monkeypatch.setenv("TC_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("TC_MAX_JOBS", raising=False)
    return assets


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def stop_runs(at: AppTest | None = None) -> None:
    """Stop every run of the job manager (the runs folder of this test) and wait for its worker process, so that
    no worker outlives a test."""
    manager = job_slots()
    manager.close(wait_s=20)
    assert manager.in_use() == 0, "a training worker did not end"


def poll(at: AppTest, done, timeout: float = 60.0, every: float = 0.3) -> None:
    """Rerun the page (AppTest does not fire run_every) until ``done(at)`` or the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return
        time.sleep(every)
    raise AssertionError("the page did not reach the expected state in time")


def last_status(at: AppTest) -> str:
    return at.session_state["train_runs"][-1].last_snapshot.get("status")


def loss_chart_spec(at: AppTest) -> dict:
    """The Vega-Lite spec of the Train page's loss chart (the one whose layers draw runs)."""
    return next(spec for spec in (json.loads(el.proto.spec) for el in at.get("vega_lite_chart"))
                if any("run" in (layer.get("encoding", {}).get("color", {}).get("field", "")) for layer in spec.get("layer", [])))


def loss_points(at: AppTest) -> pd.DataFrame:
    """The rows the loss chart draws (both layers; the validation points are in both)."""
    return pd.DataFrame(loss_chart_rows(at))


# ---------------------------------------------------------------------------------------------------------
# Every page renders
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("title", ["Train", "Generate", "Attention maps"])
def test_page_renders(env, title):
    at = open_page(page_file(title))
    assert at.title[0].value == title
    assert not at.error


# ---------------------------------------------------------------------------------------------------------
# Train
# ---------------------------------------------------------------------------------------------------------
def test_tiny_addsub_runs_finish_overlay_save_and_open(env):
    at = open_page(page_file("Train"))
    assert at.selectbox(key="train_task").value == "addsub"
    try:
        at.button(key="train_start").click().run()
        assert not at.error, [e.value for e in at.error]
        poll(at, lambda a: last_status(a) not in ACTIVE_STATUSES)
        assert last_status(at) == "finished"
        assert any("finished" in s.value and "exact-match" in s.value for s in at.success)
        points = loss_points(at)
        train = points[points["curve"] == "train"]
        validation = points[points["curve"] == "validation"]
        assert len(train) == 60  # the tiny preset's 60 steps, one point each
        assert list(train["step"]) == [float(s) for s in range(1, 61)]
        assert len(validation) >= 2 and validation["loss"].notna().all()
        assert train["loss"].iloc[-5:].mean() < train["loss"].iloc[:5].mean() - 0.3  # the loss fell
        assert job_slots().in_use() == 0  # the slot was given back

        # A second run with another d_model: both stay on the chart, with their settings in the table.
        at.number_input(key="train_d_model_addsub_tiny").set_value(16).run()
        at.button(key="train_start").click().run()
        poll(at, lambda a: last_status(a) not in ACTIVE_STATUSES)
        points = loss_points(at)
        # The second run is named by what differs from the first; each run has its own colour-blind-safe colour.
        assert sorted(points["run"].unique()) == ["#1 addsub tiny", "#2 d_model 16"]
        assert (points[points["curve"] == "train"].groupby("run").size() == 60).all()
        color = loss_chart_spec(at)["layer"][0]["encoding"]["color"]["scale"]
        assert color["domain"] == ["#1 addsub tiny", "#2 d_model 16"] and color["range"] == ["#0072B2", "#D55E00"]
        table = at.dataframe[0].value
        assert list(table.columns[:2]) == ["run", "d_model"]  # the setting that differs comes first
        assert table["d_model"].tolist() == [32, 16] and table["status"].tolist() == ["finished", "finished"]
        assert "None" not in table.astype(str).to_numpy()

        # The run that just finished is the one preselected to keep; the worker saved both runs' models.
        assert at.selectbox(key="train_keep_run_2").value == "#2 d_model 16"
        at.selectbox(key="train_keep_run_2").set_value("#1 addsub tiny").run()
        assert not at.exception and not at.error
        assert not at.button(key="train_open_attention").disabled
        record = at.session_state["train_runs"][0]
        model, meta = load_checkpoint(record.checkpoint)
        assert meta.task == "addsub" and meta.model_config.d_model == 32
        with zipfile.ZipFile(io.BytesIO(ui_runs.zip_checkpoint(record.checkpoint))) as archive:
            assert sorted(n.split("/")[-1] for n in archive.namelist()) == ["attention_snapshots.npz", "config.json",
                                                                                  "model.safetensors"]
        assert "tensorboard --logdir" in at.code[-1].value

        at.button(key="train_open_attention").click().run()  # switches to Attention maps with this model
        assert not at.exception
        assert at.title[0].value == "Attention maps"
        assert at.selectbox(key="att_checkpoint").value == record.checkpoint
        assert "#1 addsub tiny" in at.selectbox(key="att_checkpoint").format_func(record.checkpoint)
    finally:
        stop_runs(at)


def test_the_form_opens_on_the_browsers_latest_run(env):
    """A new session of a browser that has runs (a reload, another tab) shows the latest run's task, size and
    architecture in the form, not AddSub; what the student picks then holds."""
    config = dataclasses.replace(PRESETS["shakespeare"]["small"].config, family="lstm")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.session_state["train_runs"] = [ui_runs.RunRecord("a-run-of-another-server", 1, "shakespeare", "small", config)]
    at.switch_page(page_file("Train")).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="train_task").value == "shakespeare"
    assert at.radio(key="train_preset_shakespeare").value == "small"
    assert at.radio(key="train_arch").value == "lstm"
    at.selectbox(key="train_task").set_value("addsub").run()
    assert at.selectbox(key="train_task").value == "addsub" and not at.exception


def test_stop_ends_a_longer_run(env):
    at = open_page(page_file("Train"))
    try:
        at.number_input(key="train_steps_addsub_tiny").set_value(100_000).run()
        at.button(key="train_start").click().run()
        poll(at, lambda a: (a.session_state["train_runs"][-1].last_snapshot.get("last_step") or {}).get("step", 0) > 3)
        assert last_status(at) == "running"
        at.button(key="train_stop").click().run()
        poll(at, lambda a: last_status(a) not in ACTIVE_STATUSES, timeout=10)
        snap = at.session_state["train_runs"][-1].last_snapshot
        assert snap["status"] == "stopped"
        assert snap["last_step"]["step"] < 100_000
        assert any("Status: stopped. Stopped by request" in w.value for w in at.warning)
    finally:
        stop_runs(at)
    assert job_slots().in_use() == 0


@pytest.mark.parametrize(
    ("widget", "value", "message"),
    [
        ("train_d_model_addsub_tiny", 100, "not divisible by n_heads"),
        ("train_lr_addsub_tiny", 0.0, "learning rate must be > 0"),
    ],
)
def test_bad_settings_give_a_message(env, widget, value, message):
    at = open_page(page_file("Train"))
    if widget.startswith("train_d_model"):
        at.selectbox(key="train_n_heads_addsub_tiny").set_value(8)
    at.number_input(key=widget).set_value(value).run()
    at.button(key="train_start").click().run()
    assert not at.exception
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert at.session_state["train_runs"] == []  # nothing was started


def test_causal_toggle_only_for_language_models_and_warns(env):
    at = open_page(page_file("Train"))
    assert not [t for t in at.toggle if t.key.startswith("train_causal")]
    at.selectbox(key="train_task").set_value("shakespeare").run()
    at.toggle(key="train_causal_shakespeare_tiny").set_value(False).run()
    assert any("causal mask" in w.value for w in at.warning)
    config = ui_runs.build_train_config("shakespeare", "tiny", {**ui_runs.knob_defaults("shakespeare", "tiny"),
                                                                 "causal": False}, "x")
    assert config.model_for(vocab_size=65, max_len=64).causal is False


def test_language_model_run_without_causal_mask_then_generate(env):
    at = open_page(page_file("Train"))
    try:
        at.selectbox(key="train_task").set_value("shakespeare").run()
        at.toggle(key="train_causal_shakespeare_tiny").set_value(False)
        at.number_input(key="train_steps_shakespeare_tiny").set_value(30).run()
        at.button(key="train_start").click().run()
        poll(at, lambda a: last_status(a) not in ACTIVE_STATUSES)
        snap = at.session_state["train_runs"][-1].last_snapshot
        assert snap["status"] == "finished" and len(snap["steps"]) == 30
        metrics = dict(ui_runs.task_metrics(snap))
        assert set(metrics) == {"nats per character", "bits per character", "perplexity per character"}
        record = at.session_state["train_runs"][-1]
        _model, meta = load_checkpoint(record.checkpoint)
        assert meta.model_config.causal is False and meta.tokenizer_kind == "char"

        at.button(key="train_open_generate").click().run()
        assert at.title[0].value == "Generate"
        assert at.selectbox(key="gen_checkpoint").value == record.checkpoint
        at.switch_page(page_file("Generate"))  # AppTest does not keep a page that st.switch_page opened
        at.slider(key="gen_length_char").set_value(20).run()
        at.button(key="gen_go").click().run()
        assert not at.exception and not at.error
        result = at.session_state["gen_result"]
        assert result["checkpoint"] == record.checkpoint and len(result["results"][0]["generated_text"]) == 20
    finally:
        stop_runs(at)


def test_build_train_config_applies_the_knobs():
    knobs = ui_runs.knob_defaults("addsub", "tiny") | {"d_model": 48, "n_heads": 4, "lr": 5e-4, "label_smoothing": 0.1,
                                                       "positional": "learned", "norm_first": False, "max_steps": 20}
    config = ui_runs.build_train_config("addsub", "tiny", knobs, "run-1")
    assert (config.model.d_model, config.model.n_heads, config.model.positional) == (48, 4, "learned")
    assert config.model.norm_first is False and config.lr == 5e-4 and config.label_smoothing == 0.1
    assert config.max_steps == 20 and config.eval_every == 5 and config.run_id == "run-1"
    with pytest.raises(ValueError, match="never end"):
        ui_runs.build_train_config("addsub", "tiny", knobs | {"max_steps": 0, "max_time_s": 0.0}, "run-2")


def test_loss_frame_buckets_long_curves():
    snap = {"steps": [{"step": s, "train_loss": 10.0 - s / 1000, "elapsed_s": s / 10} for s in range(1, 2001)],
            "evals": [{"step": 1000, "val_loss": 9.0, "elapsed_s": 100.5}, {"step": 2000, "val_loss": 8.5}]}
    frame = ui_runs.loss_frame({"#1": snap}, max_points=400)
    train = frame[frame["curve"] == "train"]
    assert len(train) == 400
    assert train["step"].iloc[0] == pytest.approx(3.0)  # mean of steps 1..5
    assert train["seconds"].iloc[0] == pytest.approx(0.3)  # mean of their times, 0.1 … 0.5 s
    validation = frame[frame["curve"] == "validation"]
    assert list(validation["loss"]) == [9.0, 8.5]
    assert validation["seconds"].iloc[0] == 100.5 and np.isnan(validation["seconds"].iloc[1])


def test_loss_chart_plots_steps_or_training_time():
    from ui.charts import loss_curves_spec

    frame = ui_runs.loss_frame({"#1": {"steps": [{"step": 1, "train_loss": 2.0, "elapsed_s": 0.4}], "evals": []}})
    assert loss_curves_spec(frame)["layer"][0]["encoding"]["x"]["field"] == "step"
    assert loss_curves_spec(frame, x="seconds")["layer"][0]["encoding"]["x"]["field"] == "seconds"
    with pytest.raises(ValueError, match="x must be"):
        loss_curves_spec(frame, x="epochs")


# ---------------------------------------------------------------------------------------------------------
# Generate
# ---------------------------------------------------------------------------------------------------------
def generated(at: AppTest) -> list[str]:
    return [r["generated_text"] for r in at.session_state["gen_result"]["results"]]


def test_same_seed_same_text_and_other_seed_differs(env):
    at = open_page(page_file("Generate"))
    at.text_area(key="gen_prompt").input("ROMEO:").run()
    at.slider(key="gen_a_temperature").set_value(1.0)
    at.number_input(key="gen_seed").set_value(7)
    at.slider(key="gen_length_char").set_value(40).run()
    at.button(key="gen_go").click().run()
    assert not at.exception and not at.error
    first = generated(at)[0]
    assert len(first) == 40  # 40 characters from a character model
    at.button(key="gen_go").click().run()
    assert generated(at)[0] == first
    assert any(first.replace("'", "&#x27;") in m.value for m in at.markdown if "<div" in m.value)
    at.number_input(key="gen_seed").set_value(8).run()
    at.button(key="gen_go").click().run()
    assert generated(at)[0] != first
    assert len(at.get("vega_lite_chart")) >= 2  # the candidates of a step, and the attention heads
    steps = at.session_state["gen_result"]["results"][0]["steps"]
    step_slider = next(s for s in at.slider if s.label == "Step")
    assert step_slider.value == 1 + min(range(40), key=lambda i: steps[i].prob)  # the least certain step first


def test_top_k_1_equals_greedy(env):
    at = open_page(page_file("Generate"))
    at.text_area(key="gen_prompt").input("JULIET:").run()
    at.number_input(key="gen_a_top_k").set_value(1)
    at.slider(key="gen_a_temperature").set_value(1.5)
    at.slider(key="gen_length_char").set_value(30).run()
    at.button(key="gen_go").click().run()
    result = at.session_state["gen_result"]["results"][0]
    model, meta = load_checkpoint(env["shakespeare"])
    greedy = [s.token_id for s in generate(model, meta.encode("JULIET:"), 30, temperature=0.0)]
    assert result["generated_ids"] == greedy
    assert result["generated_text"] == meta.decode(greedy)
    assert all(step.prob == pytest.approx(1.0) for step in result["steps"])  # top-k 1 leaves one candidate


def test_compare_two_settings_with_the_same_seed(env):
    at = open_page(page_file("Generate"))
    at.toggle(key="gen_compare").set_value(True).run()
    at.slider(key="gen_a_temperature").set_value(0.05)
    at.slider(key="gen_b_temperature").set_value(3.0)
    at.slider(key="gen_length_char").set_value(25).run()
    at.button(key="gen_go").click().run()
    assert not at.exception and not at.error
    results = at.session_state["gen_result"]["results"]
    assert [r["settings"].temperature for r in results] == [0.05, 3.0]
    assert [r["settings"].seed for r in results] == [0, 0]
    cold, hot = results
    # Dividing the logits by 0.05 sharpens the distribution; by 3.0 it flattens it (towards 1/V).
    for steps, sharper in ((cold["steps"], True), (hot["steps"], False)):
        top = [s.candidates[0] for s in steps]  # (text, id, prob, model_prob) of the most probable token
        assert all((p > mp) == sharper for _t, _i, p, mp in top)


def test_inference_runs_on_one_thread_and_restores_the_setting():
    before = torch.get_num_threads()
    with ui_checkpoints.inference_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_candidate_rows_always_show_the_drawn_token():
    step = ui_sampling.GeneratedStep(step=0, token_id=9, token="W", prob=0.003, model_prob=0.006,
                                   candidates=[("t", 1, 0.34, 0.25), ("y", 2, 0.1, 0.08)])
    rows = ui_sampling.candidate_rows(step)
    assert list(rows["token"]) == ["1. t", "1. t", "2. y", "2. y", "drawn: W", "drawn: W"]
    assert list(rows["probability"]) == [0.34, 0.25, 0.1, 0.08, 0.003, 0.006]
    assert list(rows["chosen"]) == [False, False, False, False, True, True]
    inside = ui_sampling.GeneratedStep(0, 2, "y", 0.1, 0.08, step.candidates)
    assert list(ui_sampling.candidate_rows(inside)["chosen"]) == [False, False, True, True]


def test_empty_unknown_and_long_prompts_get_notes(env):
    model, meta = load_checkpoint(env["shakespeare"])
    empty = ui_sampling.prepare_prompt(meta, "   ")
    assert meta.decode(empty.ids) == "ROMEO:" and "empty" in empty.notes[0][1]
    unknown = ui_sampling.prepare_prompt(meta, "Romeo§ 你")
    assert meta.decode(unknown.ids) == "Romeo " and "left out" in unknown.notes[0][1]
    long = ui_sampling.prepare_prompt(meta, "Romeo " * 20)
    assert len(long.ids) == LM_CONTEXT and "only the last 32" in long.notes[0][1]

    at = open_page(page_file("Generate"))
    at.text_area(key="gen_prompt").input("").run()
    assert any("empty" in i.value for i in at.info)
    at.text_area(key="gen_prompt").input("Zebra").run()  # 'Z' and 'b' are not in the corpus
    assert any("left out" in w.value for w in at.warning)


def test_words_a_word_vocabulary_lacks_become_unk(tmp_path):
    from trainers.tasks.lm import build_word_tokenizer

    tokenizer = build_word_tokenizer(["the cat sat on the mat", "the dog sat on the log", "<unk> sat"])
    config = TransformerConfig(vocab_size=tokenizer.get_vocab_size(), d_model=16, n_heads=2, n_layers=1, d_ff=32,
                               dropout=0.0, max_len=16)
    folder = save_checkpoint(tmp_path / "words", build_model(config), task="wikitext2", tokenizer_kind="word",
                             tokenizer_json=tokenizer.to_str(), task_info={"unit": "word",
                                                                          "eos_id": tokenizer.token_to_id("<eos>")})
    model, meta = load_checkpoint(folder)
    prompt = ui_sampling.prepare_prompt(meta, "the zebra sat on the sofa")
    assert meta.token_strings(prompt.ids) == ["the", "<unk>", "sat", "on", "the", "<unk>"]
    assert prompt.notes == [("warning", "Words the vocabulary lacks became <unk>: zebra, sofa.")]
    steps = list(ui_sampling.sample(model, meta, prompt.ids, ui_sampling.SamplingSettings(seed=1, max_new_tokens=5)))
    assert len(steps) == 5 and all(s.token in tokenizer.get_vocab() for s in steps)


# ---------------------------------------------------------------------------------------------------------
# Attention maps
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["twelve plus seven", "50 + 1", "", "1 * 2"])
def test_malformed_expression_gives_a_message(env, text):
    at = open_page(page_file("Attention maps"))
    at.text_input(key="att_expression").input(text).run()
    assert not at.exception
    assert len(at.error) == 1
    assert "-49" in at.error[0].value or "-30 - -34" in at.error[0].value


def test_addsub_answer_and_three_kinds_of_attention(env):
    at = open_page(page_file("Attention maps"))
    at.text_input(key="att_expression").input("-30 - -34").run()
    assert not at.error
    assert any("BOS NEGATIVE 30 subtract NEGATIVE 34 EOS" in m.value and "**4**" in m.value for m in at.markdown)
    assert len(at.tabs) == 3
    model, meta = load_checkpoint(env["addsub"])
    result = ui_attention.addsub_answer(model, meta, "-30 - -34")
    assert result.expected_value == 4
    assert result.maps.weights["encoder_self"].shape == (1, 2, 9, 9)
    assert result.maps.weights["decoder_self"].shape == (1, 2, 4, 4)
    assert result.maps.weights["cross"].shape == (1, 2, 4, 9)
    for w in result.maps.weights.values():
        np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)
    assert np.allclose(np.triu(result.maps.weights["decoder_self"][0, 0], k=1), 0.0)  # the causal mask

    npz = np.load(io.BytesIO(ui_attention.attention_npz(result.maps)), allow_pickle=False)
    np.testing.assert_allclose(npz["cross"], result.maps.weights["cross"])
    assert str(npz["input"]) == "-30 - -34" and json.loads(str(npz["model_config"]))["layout"] == "encoder-decoder"
    assert list(npz["encoder_self_query_tokens"]) == ["BOS", "NEGATIVE", "3", "0", "subtract", "NEGATIVE", "3", "4",
                                                       "EOS"]
    csv = ui_attention.attention_csv(result.maps).decode()
    assert csv.startswith('# input: "-30 - -34"')
    table = pd.read_csv(io.StringIO(csv), comment="#")
    assert len(table) == 81 * 2 + 16 * 2 + 36 * 2
    sums = table.groupby(["kind", "layer", "head", "query_position"])["weight"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-4)

    rows, cols = result.maps.labels("cross")
    assert rows[0] == "00 BOS" and len(rows) == 4  # the decoder's own answer: BOS sign digit digit
    assert cols == ["00 BOS", "01 NEGATIVE", "02 3", "03 0", "04 subtract", "05 NEGATIVE", "06 3", "07 4", "08 EOS"]
    png = heads_png(result.maps.weights["cross"][0], ("head 1", "head 2"), tuple(rows), tuple(cols), "cross", (0.0, 1.0), 2)
    assert png.startswith(b"\x89PNG")  # the figure's PNG download
    per_figure = pd.read_csv(io.StringIO(heads_csv(result.maps.weights["cross"][0], ["head 1", "head 2"], rows, cols)))
    assert len(per_figure) == 2 * 4 * 9 and set(per_figure["col"]) == set(cols)


def test_language_model_attention_for_any_text(env):
    at = open_page(page_file("Attention maps"))
    at.selectbox(key="att_checkpoint").set_value(env["shakespeare"]).run()
    at.text_area(key="att_text_shakespeare").input("O Romeo, Romeo!").run()
    assert not at.exception and not at.error
    assert len(at.tabs) == 1
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert spec["facet"]["field"] == "head"
