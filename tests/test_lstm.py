"""The LSTM baseline: the model, training, checkpoints, the CLI, sampling, and the Train / Generate / Attention-maps pages.

Training runs read a small character corpus written to a temporary folder (the Tiny Shakespeare task
pointed at it), so nothing here needs ../shared/data; each run takes a second or two on one thread.
"""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO, loss_chart_rows
from trainers import cli
from trainers.checkpoint import list_checkpoints, load_checkpoint, resolve_checkpoint, save_checkpoint
from trainers.config import TrainConfig
from trainers.lstm import LSTMConfig, LSTMLanguageModel, LSTMState, lstm_config_like
from trainers.presets import preset_config
from trainers.tasks.lm import build_char_tokenizer
from trainers.tasks.lm_task import evaluate_lm_split, lm_nll
from trainers.trainer import Callbacks, Trainer
from transformer.models import AdaptiveInput, TransformerConfig
from transformer.sampling import context_start, filter_log_probs, generate
from ui import runs as ui_runs
from ui.attention_maps import no_attention_sentence
from ui.jobs import ACTIVE_STATUSES

CORPUS = (
    "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n"
    "JULIET:\nO Romeo, Romeo! wherefore art thou Romeo?\n"
)
NO_ATTENTION = "no attention map to show"


@pytest.fixture(scope="module")
def shared_data(tmp_path_factory):
    """A stand-in for ../shared/data whose Tiny Shakespeare is the corpus above, 150 times (27 k characters)."""
    root = tmp_path_factory.mktemp("shared")
    (root / "tinyshakespeare").mkdir()
    (root / "tinyshakespeare" / "input.txt").write_text(CORPUS * 150, encoding="utf-8")
    return root


def tiny_lstm_config(shared_data, **overrides) -> TrainConfig:
    base = dict(family="lstm", max_steps=60, eval_every=30, tensorboard=False, threads=1,
                data_dir=str(shared_data / "tinyshakespeare"), model={"n_heads": 1})
    return preset_config("shakespeare", "tiny", **(base | overrides))


def _lstm(**overrides) -> LSTMLanguageModel:
    base = dict(vocab_size=40, d_model=16, n_layers=2, dropout=0.0, max_len=12)
    return LSTMLanguageModel(LSTMConfig(**(base | overrides))).eval()


# --------------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------------
def test_config_rejects_bad_values_and_the_lstm_is_for_language_models_only():
    with pytest.raises(ValueError, match="d_model must be a positive whole number, got 0"):
        LSTMConfig(vocab_size=10, d_model=0)
    with pytest.raises(ValueError, match=r"dropout is a probability in \[0, 1\)"):
        LSTMConfig(vocab_size=10, dropout=1.0)
    with pytest.raises(ValueError, match="adaptive_cutoffs must lie between 1 and vocab_size - 1 = 9"):
        LSTMConfig(vocab_size=10, adaptive_cutoffs=[5, 10])
    with pytest.raises(ValueError, match="the LSTM is offered for the language-model tasks"):
        TrainConfig(task="addsub", family="lstm")
    with pytest.raises(ValueError, match=r"family \(--arch\) must be one of transformer, lstm, got 'gru'"):
        TrainConfig(task="shakespeare", family="gru")
    assert TrainConfig.from_dict({"task": "shakespeare", "arch": "lstm"}).family == "lstm"  # the older key
    config = LSTMConfig(vocab_size=50, d_model=24, adaptive_cutoffs=[10, 30])
    assert LSTMConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    like = lstm_config_like(TransformerConfig(vocab_size=50, d_model=24, n_heads=4, n_layers=3, dropout=0.2,
                                              max_len=32, adaptive_cutoffs=[10, 30]))
    assert (like.d_model, like.n_layers, like.dropout, like.max_len, like.adaptive_cutoffs) == (24, 3, 0.2, 32, [10, 30])
    assert like.tie_embeddings is True


def test_model_is_embedding_lstm_and_tied_linear_as_the_pytorch_example():
    torch.manual_seed(0)
    model = _lstm()
    ids = torch.randint(40, (3, 7))
    # RNNModel.forward by hand: encoder → nn.LSTM → decoder (dropout is 0 here).
    out, _state = model.lstm(F.embedding(ids, model.embed.weight))
    expected = out @ model.embed.weight.T + model.lm_head.bias
    torch.testing.assert_close(model(ids), expected)
    assert model(ids).shape == (3, 7, 40)
    assert isinstance(model.lstm, torch.nn.LSTM) and model.lstm.num_layers == 2
    with pytest.raises(ValueError, match="an LSTM has no attention weights"):
        model(ids, return_attention=True)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(torch.tensor([[40]]))


def test_tied_weights_are_one_tensor():
    model = _lstm()
    assert model.lm_head.weight is model.embed.weight
    assert model.lm_head.weight.data_ptr() == model.embed.weight.data_ptr()
    n_lstm = sum(p.numel() for p in model.lstm.parameters())
    assert sum(p.numel() for p in model.parameters()) == 40 * 16 + 40 + n_lstm  # the table counted once
    with torch.no_grad():
        model.embed.weight[3].fill_(0.5)
    assert torch.equal(model.lm_head.weight[3], torch.full((16,), 0.5))
    untied = _lstm(tie_embeddings=False)
    assert untied.lm_head.weight is not untied.embed.weight

    adaptive = _lstm(adaptive_cutoffs=[8, 20])  # WikiText-2's head: adaptive softmax with tied adaptive input
    assert isinstance(adaptive.embed, AdaptiveInput) and adaptive.embed._head[0] is adaptive.lm_head
    head_rows = adaptive.lm_head.adaptive.head.weight  # (8 + 2 clusters, d_model): rows of ids 0-7 are the input
    with torch.no_grad():
        head_rows[2].fill_(1.0)
    vector = adaptive.embed(torch.tensor([2]))
    torch.testing.assert_close(vector, adaptive.embed.projections[0](torch.ones(1, 16)))


def test_incremental_state_gives_the_logits_of_a_whole_pass():
    torch.manual_seed(0)
    model = _lstm()
    ids = torch.randint(40, (1, 9))
    whole = model(ids)
    cache = model.new_cache()
    assert isinstance(cache, LSTMState) and cache.state is None
    parts = [model(ids[:, :4], cache=cache), model(ids[:, 4:5], cache=cache), model(ids[:, 5:], cache=cache)]
    torch.testing.assert_close(torch.cat(parts, dim=1), whole)
    assert cache.length == 9 and cache.state[0].shape == (2, 1, 16)


def test_loss_and_evaluation_are_the_transformers_functions():
    torch.manual_seed(0)
    model = _lstm()
    x, y = torch.randint(40, (2, 6)), torch.randint(40, (2, 6))
    expected = F.cross_entropy(model(x).reshape(-1, 40), y.reshape(-1), reduction="sum")
    torch.testing.assert_close(lm_nll(model, x, y), expected)
    adaptive = _lstm(adaptive_cutoffs=[8, 20])
    log_probs = adaptive(x)  # the adaptive head's forward gives log-probabilities
    torch.testing.assert_close(lm_nll(adaptive, x, y), -log_probs.gather(-1, y[..., None]).sum())
    result = evaluate_lm_split(model, torch.randint(40, (200,)), block_size=12, batch_size=4)
    assert result["n_tokens"] == 4 * 49  # 4 columns of 50 ids, 49 predictions each


# --------------------------------------------------------------------------------------------------
# Training, checkpoints, CLI
# --------------------------------------------------------------------------------------------------
def test_lstm_trains_on_a_character_corpus_and_lowers_its_loss(shared_data):
    losses, evals = [], []
    trainer = Trainer(tiny_lstm_config(shared_data),
                      Callbacks(on_step=lambda s: losses.append(s.train_loss), on_eval=evals.append))
    summary = trainer.fit()
    assert summary.status == "finished", summary.message
    assert isinstance(trainer.model, LSTMLanguageModel)
    vocab = trainer.task.vocab_size
    assert trainer.model.config.vocab_size == vocab and trainer.model.config.max_len == 64
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert abs(first - torch.log(torch.tensor(float(vocab)))) < 1.0  # starts near uniform
    assert last < first - 1.0, (first, last)
    assert evals[-1].val_loss < 2.5


def test_lstm_checkpoint_round_trips_to_identical_logits(tmp_path):
    for overrides in ({}, {"adaptive_cutoffs": [8, 20]}):
        torch.manual_seed(1)
        model = _lstm(**overrides)
        path = save_checkpoint(tmp_path / f"ck{len(overrides)}", model, task="wikitext2")
        meta_json = json.loads((resolve_checkpoint(path) / "config.json").read_text())
        assert meta_json["family"] == "lstm" and meta_json["model_config"]["family"] == "lstm"
        assert meta_json["model_config"]["d_model"] == 16
        with safe_open(str(resolve_checkpoint(path) / "model.safetensors"), framework="pt") as f:
            names = set(f.keys())
        assert not {"embed.weight", "lm_head.weight"} <= names  # the tied table is stored once
        (resolve_checkpoint(path) / "tokenizer.json").write_text(_tokenizer_json(40))
        loaded, meta = load_checkpoint(path)
        assert isinstance(loaded, LSTMLanguageModel) and meta.family == "lstm" and not loaded.training
        ids = torch.randint(40, (2, 10))
        assert torch.equal(loaded(ids), model(ids))
        if not overrides:
            assert loaded.lm_head.weight is loaded.embed.weight  # tied again by the constructor
    assert {info.family for info in list_checkpoints(tmp_path)} == {"lstm"}


def test_lstm_checkpoint_saved_before_the_family_rename_still_loads(tmp_path):
    """Checkpoints from before the rename say "arch": "lstm" (top level and in the model config)."""
    torch.manual_seed(2)
    model = _lstm()
    path = save_checkpoint(tmp_path / "old", model, task="wikitext2")
    meta_json = json.loads((resolve_checkpoint(path) / "config.json").read_text())
    meta_json["arch"] = meta_json.pop("family")
    meta_json["model_config"]["arch"] = meta_json["model_config"].pop("family")
    (resolve_checkpoint(path) / "config.json").write_text(json.dumps(meta_json))
    (resolve_checkpoint(path) / "tokenizer.json").write_text(_tokenizer_json(40))
    loaded, meta = load_checkpoint(path)
    assert isinstance(loaded, LSTMLanguageModel) and meta.family == "lstm"
    ids = torch.randint(40, (2, 10))
    assert torch.equal(loaded(ids), model(ids))
    assert [info.family for info in list_checkpoints(tmp_path)] == ["lstm"]


def _tokenizer_json(vocab_size: int) -> str:
    """A character tokenizer with exactly ``vocab_size`` symbols (the checkpoint checks the sizes agree)."""
    text = "".join(chr(ord("!") + i) for i in range(vocab_size))
    return build_char_tokenizer(text).to_str()


def test_cli_trains_evaluates_and_lists_an_lstm(shared_data, tmp_path, capsys):
    out = tmp_path / "lstm"
    status = cli.main(["train", "--task", "shakespeare", "--arch", "lstm", "--max-steps", "20", "--threads", "1",
                       "--data-dir", str(shared_data / "tinyshakespeare"), "--out", str(out), "--no-tensorboard",
                       "--quiet", "--json", "--set", "model.d_model=40"])
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "finished" and summary["steps"] == 20
    model, meta = load_checkpoint(out)
    assert isinstance(model, LSTMLanguageModel) and meta.train_config["family"] == "lstm"
    assert model.config.d_model == 40  # not divisible by the preset's 4 heads: the LSTM has none
    assert "--arch lstm" in meta.command
    status = cli.main(["evaluate", "--checkpoint", str(out), "--data", str(shared_data / "tinyshakespeare"), "--json"])
    assert status == 0
    result = json.loads(capsys.readouterr().out)
    assert result["loss"] == pytest.approx(result["nats_per_char"]) and result["n_tokens"] > 2000
    assert cli.main(["list", str(tmp_path)]) == 0
    assert " lstm " in capsys.readouterr().out
    assert cli.main(["train", "--task", "addsub", "--arch", "lstm", "--max-steps", "1"]) == 2
    assert "the LSTM is offered for the language-model tasks" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------------
def test_sampling_from_an_lstm_is_seeded_and_follows_the_same_rules():
    torch.manual_seed(0)
    model = _lstm(max_len=6)  # a short window, so that it slides while sampling
    prompt = [1, 2, 3]
    draw = lambda **kw: [r.token_id for r in generate(model, prompt, 20, **kw)]  # noqa: E731
    first = draw(seed=5)
    assert draw(seed=5) == first and draw(seed=6) != first
    assert draw(seed=5, use_cache=False) == first  # the recurrent state gives the window's logits
    ids, greedy = list(prompt), []
    for _ in range(20):  # greedy by hand: arg-max of the last position over the window context_start names
        token = int(model(torch.tensor([ids[context_start(len(ids), 6, 3):]]))[0, -1].argmax())
        ids.append(token)
        greedy.append(token)
    assert draw(temperature=0.0) == greedy == draw(top_k=1, seed=3)
    first = next(generate(model, prompt, 1, temperature=0.7, top_p=0.5, seed=1))
    with torch.no_grad():
        logits = model(torch.tensor([prompt]))[0, -1]  # (V,)
    assert first.prob == pytest.approx(float(filter_log_probs(logits, 0.7, top_p=0.5).exp()[first.token_id]))
    assert first.model_prob == pytest.approx(float(torch.softmax(logits, -1)[first.token_id]))


# --------------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------------
@pytest.fixture()
def page_env(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("TC_SHARED_DATA", str(shared_data))
    monkeypatch.setenv("TC_ASSETS_DIR", str(tmp_path / "no-assets"))
    monkeypatch.setenv("TC_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("TC_MAX_JOBS", raising=False)
    return tmp_path


def _page(title: str) -> str:
    from app import PAGES

    return next(path for path, page_title, _icon, _section in PAGES if page_title == title)


def _poll(at: AppTest, done, timeout: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return
        time.sleep(0.3)
    raise AssertionError("the page did not reach the expected state in time")


def _stop_runs(at: AppTest) -> None:
    from tests.test_pages_train_generate import stop_runs

    stop_runs(at)


def _finished(at: AppTest) -> bool:
    return at.session_state["train_runs"][-1].last_snapshot.get("status") not in ACTIVE_STATUSES


def test_train_page_overlays_a_transformer_and_an_lstm_then_generate_and_attention(page_env):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.switch_page(_page("Train")).run()
    try:
        at.selectbox(key="train_task").set_value("shakespeare").run()
        assert at.radio(key="train_arch").value == "transformer"
        at.number_input(key="train_steps_shakespeare_tiny").set_value(30).run()
        at.button(key="train_start").click().run()
        _poll(at, _finished)

        at.radio(key="train_arch").set_value("lstm").run()
        keys = {w.key for w in at.number_input} | {w.key for w in at.selectbox}
        assert "train_n_heads_shakespeare_tiny" not in keys and "train_d_ff_shakespeare_tiny" not in keys
        assert at.number_input(key="train_steps_shakespeare_tiny").value == 30  # the budget is shared
        at.number_input(key="train_d_model_shakespeare_tiny").set_value(40).run()  # any width: no heads to divide
        at.button(key="train_start").click().run()
        assert not at.error, [e.value for e in at.error]
        _poll(at, _finished)

        runs = at.session_state["train_runs"]
        assert [r.config.family for r in runs] == ["transformer", "lstm"]
        assert [r.last_snapshot["status"] for r in runs] == ["finished", "finished"]
        assert runs[1].config.model.d_model == 40 and runs[1].config.model.n_heads == 1
        drawn = {row["run"] for row in loss_chart_rows(at)}
        assert drawn == {"#1 shakespeare tiny transformer", "#2 LSTM, d_model 40"}  # named by what differs
        table = at.dataframe[0].value
        assert table["architecture"].tolist() == ["Transformer", "LSTM"]
        assert table["d_model"].tolist() == [64, 40]
        assert table["n_heads"].astype(str).tolist() == ["4", "—"]  # an LSTM has no heads

        assert at.selectbox(key="train_keep_run_2").value == "#2 LSTM, d_model 40"  # the newest, preselected
        assert not at.exception and not at.error
        checkpoint = at.session_state["train_runs"][1].checkpoint
        assert isinstance(load_checkpoint(checkpoint)[0], LSTMLanguageModel)
        assert not [b for b in at.button if b.key == "train_open_attention"]  # nothing to look at

        at.switch_page(_page("Generate")).run()
        at.selectbox(key="gen_checkpoint").set_value(checkpoint).run()
        assert any("LSTM, 2 layers" in c.value for c in at.caption)
        at.text_area(key="gen_prompt").input("ROMEO:").run()
        at.slider(key="gen_length_char").set_value(25).run()
        at.button(key="gen_go").click().run()
        assert not at.exception and not at.error
        first = at.session_state["gen_result"]["results"][0]["generated_text"]
        assert len(first) == 25
        assert any(NO_ATTENTION in i.value for i in at.info)
        assert not [el for el in at.get("vega_lite_chart") if "facet" in json.loads(el.proto.spec)]  # no heatmaps
        at.button(key="gen_go").click().run()
        assert at.session_state["gen_result"]["results"][0]["generated_text"] == first  # same seed, same text

        at.switch_page(_page("Attention maps")).run()
        at.selectbox(key="att_checkpoint").set_value(checkpoint).run()
        assert not at.exception
        assert [i.value for i in at.info] == [no_attention_sentence()]
        assert not at.get("vega_lite_chart") and not at.tabs
    finally:
        _stop_runs(at)


def test_build_train_config_for_an_lstm():
    knobs = ui_runs.knob_defaults("wikitext2", "tiny") | {"family": "lstm", "d_model": 50, "n_layers": 3}
    config = ui_runs.build_train_config("wikitext2", "tiny", knobs, "run-1")
    assert config.family == "lstm" and (config.model.d_model, config.model.n_layers) == (50, 3)
    assert config.model.adaptive_cutoffs == [2000, 10000]  # the same adaptive head as the transformer's
    assert ui_runs.knob_defaults("shakespeare", "tiny")["family"] == "transformer"
