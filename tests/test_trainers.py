"""Trainers: config checks, schedule, training runs that learn, the background job, checkpoints, the CLI.

Training tests use tiny models (one or two layers, d_model 32–64) and finish in seconds on 2 CPU cores.
Tests that need the course data (../shared/data) skip with a reason where it is absent.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from trainers import data_paths
from trainers.checkpoint import (
    CheckpointError,
    checkpoint_files,
    list_checkpoints,
    load_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
)
from trainers.config import TrainConfig, model_config
from trainers.presets import PRESETS, preset_config
from trainers.schedule import learning_rate, warmup_then_decay
from trainers.tasks.addsub_task import AddSubTask, solve_addsub
from trainers.trainer import Callbacks, Trainer, resolve_device
from trainers.worker import run_training
from transformer.models import DecoderOnlyLM, Seq2SeqTransformer, TransformerConfig

REPO = Path(__file__).resolve().parent.parent
HAS_ADDSUB = data_paths.addsub_path().is_file()
HAS_SHAKESPEARE = data_paths.shakespeare_path().is_file()
HAS_WIKITEXT = (data_paths.wikitext2_dir() / "test.txt").is_file()
needs_addsub = pytest.mark.skipif(not HAS_ADDSUB, reason=f"course AddSub file absent: {data_paths.addsub_path()}")
needs_shakespeare = pytest.mark.skipif(not HAS_SHAKESPEARE, reason="Tiny Shakespeare absent from ../shared/data")
needs_wikitext = pytest.mark.skipif(not HAS_WIKITEXT, reason="WikiText-2 absent from ../shared/data")

FOUR = [
    ("BOS POSITIVE 47 add NEGATIVE 27 EOS", "BOS POSITIVE 20 EOS"),
    ("BOS NEGATIVE 30 subtract NEGATIVE 34 EOS", "BOS POSITIVE 04 EOS"),
    ("BOS POSITIVE 05 subtract POSITIVE 49 EOS", "BOS NEGATIVE 44 EOS"),
    ("BOS NEGATIVE 12 add NEGATIVE 13 EOS", "BOS NEGATIVE 25 EOS"),
]


def tiny_addsub(**overrides) -> TrainConfig:
    base = dict(
        task="addsub",
        model=model_config(d_model=32, n_heads=2, n_layers=1, d_ff=64, dropout=0.0),
        lr=3e-3, warmup_steps=5, batch_size=4, max_steps=150, eval_every=50, tensorboard=False, threads=1,
    )
    base.update(overrides)
    return TrainConfig(**base)


def _env() -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


# --------------------------------------------------------------------------------------------------
# Config and schedule
# --------------------------------------------------------------------------------------------------
def test_config_rejects_bad_values_with_plain_sentences():
    with pytest.raises(ValueError, match=r"learning rate must be > 0, got 0"):
        TrainConfig(lr=0)
    with pytest.raises(ValueError, match=r"batch size must be a whole number ≥ 1, got 0"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="schedule must be one of cosine, inverse_sqrt, constant"):
        TrainConfig(schedule="linear")
    with pytest.raises(ValueError, match="never end"):
        TrainConfig(max_steps=None, max_time_s=None)
    with pytest.raises(ValueError, match=r"d_model=100 is not divisible by n_heads=8"):
        model_config(d_model=100, n_heads=8)
    with pytest.raises(ValueError, match="label smoothing cannot be combined with the adaptive softmax"):
        TrainConfig(task="wikitext2", label_smoothing=0.1, model=model_config(adaptive_cutoffs=[100]))
    with pytest.raises(ValueError, match="not 'char'"):
        TrainConfig(task="wikitext2", tokenizer="char")
    config = preset_config("shakespeare", "small", lr=1e-3, model={"n_layers": 2})
    assert (config.lr, config.model.n_layers, config.model.d_model, config.preset) == (1e-3, 2, 128, "small")
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert PRESETS["shakespeare"]["small"].config.model.n_layers == 3  # the preset itself is untouched


def test_every_task_offers_tiny_and_small_presets_with_a_measured_time():
    for task in ("addsub", "wikitext2", "shakespeare", "anna"):
        assert {"tiny", "small"} <= set(PRESETS[task])
        for preset in PRESETS[task].values():
            assert preset.task == task and preset.config.task == task
            assert "CPU cores" in preset.laptop_time and preset.description
    tiny = PRESETS["addsub"]["tiny"].config
    assert tiny.max_steps <= 100 and tiny.model.d_model <= 32


def test_learning_rate_warms_up_then_decays():
    cosine = TrainConfig(lr=1e-3, warmup_steps=10, schedule="cosine", min_lr_ratio=0.1, max_steps=110)
    assert learning_rate(cosine, 1, 0.0) == pytest.approx(1e-4)
    assert learning_rate(cosine, 10, 0.1) == pytest.approx(1e-3)
    assert learning_rate(cosine, 60, 0.5) == pytest.approx(1e-4 + 0.9e-3 * 0.5)  # halfway: the mean
    assert learning_rate(cosine, 110, 1.0) == pytest.approx(1e-4)
    paper = TrainConfig(lr=1e-3, warmup_steps=100, schedule="inverse_sqrt")
    assert learning_rate(paper, 100, 0.0) == pytest.approx(1e-3)
    assert learning_rate(paper, 400, 0.0) == pytest.approx(5e-4)  # √(100/400) = ½ (Vaswani et al. eq. 3)
    assert learning_rate(TrainConfig(schedule="constant", warmup_steps=0), 500, 0.9) == 1e-3


def _learning_rate_before_lambdalr(config: TrainConfig, step: int, progress: float) -> float:
    """The hand-written schedule the trainer used before ``LambdaLR`` (trainers/trainer.py, kept verbatim)."""
    warmup = config.warmup_steps
    if warmup and step <= warmup:
        return config.lr * step / warmup
    if config.schedule == "constant":
        return config.lr
    if config.schedule == "inverse_sqrt":
        return config.lr * math.sqrt(warmup / step)
    lr_min = config.lr * config.min_lr_ratio
    p = min(max(progress, 0.0), 1.0)
    return lr_min + (config.lr - lr_min) * 0.5 * (1.0 + math.cos(math.pi * p))


@pytest.mark.parametrize("settings", [
    dict(schedule="cosine", warmup_steps=100, min_lr_ratio=0.1, max_steps=2000),
    dict(schedule="cosine", warmup_steps=0, min_lr_ratio=0.0, max_steps=300),
    dict(schedule="cosine", warmup_steps=50, min_lr_ratio=0.3, max_steps=None, max_time_s=45),
    dict(schedule="inverse_sqrt", warmup_steps=400, max_steps=3000),
    dict(schedule="constant", warmup_steps=10, max_steps=500),
    dict(schedule="constant", warmup_steps=0, max_steps=500),
])
def test_the_lambdalr_schedule_gives_the_hand_written_rates_at_every_step(settings):
    config = TrainConfig(lr=3e-3, **settings)
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=config.lr)
    n = config.max_steps or 1500
    budget = (lambda done: done / config.max_steps) if config.max_steps else (lambda done: done / 1000)
    scheduler = warmup_then_decay(optimizer, config, budget)
    for step in range(1, n + 1):
        if step > 1:
            optimizer.step()
            scheduler.step()
        expected = _learning_rate_before_lambdalr(config, step, budget(step - 1))
        assert scheduler.get_last_lr()[0] == pytest.approx(expected, rel=1e-12, abs=0.0), step
        assert optimizer.param_groups[0]["lr"] == scheduler.get_last_lr()[0]


def test_bfloat16_autocast_trains_and_is_recorded():
    config = tiny_addsub(max_steps=40, precision="bfloat16")
    task = AddSubTask(config, torch.device("cpu"), train_pairs=FOUR, valid_pairs=FOUR)
    losses = []
    summary = Trainer(config, Callbacks(on_step=lambda s: losses.append(s.train_loss)), task=task).fit()
    assert summary.status == "finished" and summary.extra["precision"] == "bfloat16"
    assert sum(losses[-5:]) < sum(losses[:5]) / 2  # it learns in mixed precision too
    with pytest.raises(ValueError, match="precision must be 'float32', 'bfloat16' or 'auto'"):
        TrainConfig(precision="fp8")


def test_auto_device_is_cpu_without_cuda():
    if not torch.cuda.is_available():
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")


# --------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------
def test_tiny_model_overfits_four_addsub_examples_to_exact_match_1():
    config = tiny_addsub(max_steps=150, lr=5e-3)
    task = AddSubTask(config, torch.device("cpu"), train_pairs=FOUR, valid_pairs=FOUR)
    evals = []
    summary = Trainer(config, Callbacks(on_eval=evals.append), task=task).fit()
    assert summary.status == "finished", summary.message
    assert summary.final_metrics["exact_match"] == 1.0
    assert summary.final_metrics["token_accuracy"] == 1.0
    assert summary.final_metrics["n"] == 4
    assert summary.final_metrics["val_loss"] < 0.05
    assert evals[-1].final and evals[-1].step == 150
    assert summary.tokens_seen == 150 * 4 * 13  # src 9 + tgt 5 − 1 per example


def test_step_callbacks_carry_plain_data_and_tensorboard_logs(tmp_path):
    steps = []
    config = tiny_addsub(max_steps=20, eval_every=10, tensorboard=True, out_dir=str(tmp_path), run_id="tb-run")
    task = AddSubTask(config, torch.device("cpu"), train_pairs=FOUR, valid_pairs=FOUR)
    Trainer(config, Callbacks(on_step=steps.append), task=task).fit()
    assert [s.step for s in steps] == list(range(1, 21))
    assert steps[0].lr == pytest.approx(3e-3 / 5) and steps[4].lr == pytest.approx(3e-3)
    assert all(s.tokens_per_s > 0 and s.elapsed_s > 0 and math.isfinite(s.train_loss) for s in steps)
    assert steps[-1].progress == pytest.approx(1.0)
    events = list((tmp_path / "tb-run").glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 500


@needs_shakespeare
def test_a_short_character_lm_run_lowers_the_loss():
    losses, evals = [], []
    config = preset_config("shakespeare", "tiny", tensorboard=False, max_steps=80, eval_every=40, threads=1)
    summary = Trainer(config, Callbacks(on_step=lambda s: losses.append(s.train_loss), on_eval=evals.append)).fit()
    assert summary.status == "finished"
    assert sum(losses[:5]) / 5 > math.log(65) - 0.3  # starts near uniform over the 65 characters
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 1.0
    assert evals[-1].metrics["nats_per_char"] == pytest.approx(evals[-1].val_loss)
    assert evals[-1].val_loss < 3.0


def test_a_diverging_run_fails_and_names_the_learning_rate(tmp_path):
    config = tiny_addsub(lr=1e4, warmup_steps=0, grad_clip=None, max_steps=50, weight_decay=0.0)
    end = run_training(config, tmp_path / "run", lambda record: None)
    assert end["status"] == "failed"
    assert "diverged" in end["message"] and "learning rate is most likely too high" in end["message"]
    assert "lr = 1000" in end["message"]  # suggests 10× smaller
    assert end["checkpoint"] is None  # a diverged model is not kept


# --------------------------------------------------------------------------------------------------
# A run as a worker runs it (trainers.worker.run_training, here in this process)
# --------------------------------------------------------------------------------------------------
def test_stop_halts_a_running_job_within_a_second(tmp_path):
    records: list[dict] = []
    stop = threading.Event()
    config = preset_config("addsub", "tiny", max_steps=10**6, tensorboard=False, eval_every=200, threads=1)
    thread = threading.Thread(target=run_training, args=(config, tmp_path / "run", records.append, stop.is_set))
    thread.start()
    deadline = time.time() + 30
    while sum(r["kind"] == "step" for r in records) < 3 and time.time() < deadline:
        time.sleep(0.05)
    assert sum(r["kind"] == "step" for r in records) >= 3
    t0 = time.perf_counter()
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert time.perf_counter() - t0 < 1.0 + 3.0  # one step, then the model is saved (at most a few seconds)
    end = records[-1]
    assert end["kind"] == "end" and end["status"] == "stopped" and end["message"].startswith("Stopped by request")
    assert end["checkpoint"] is not None and load_checkpoint(end["checkpoint"])[1].task == "addsub"
    steps = [r["step"] for r in records if r["kind"] == "step"]
    assert steps == list(range(1, len(steps) + 1)) and steps[-1] >= 3


def test_a_finished_run_sends_its_history_summary_and_saves_its_model(tmp_path):
    config = tiny_addsub(max_steps=30, eval_every=10)
    records: list[dict] = []
    end = run_training(config, tmp_path / "run", records.append)
    assert end["status"] == "finished", end["message"]  # with or without the course file (generated data)
    assert [r["step"] for r in records if r["kind"] == "eval"] == [10, 20, 30]
    assert end["summary"]["steps"] == 30
    last_step = [r for r in records if r["kind"] == "step"][-1]
    assert set(last_step) >= {"step", "train_loss", "lr", "tokens_per_s", "elapsed_s", "progress"}
    assert last_step["progress"] == pytest.approx(1.0)
    assert end["checkpoint"] == str(tmp_path / "run" / "checkpoint")
    model, meta = load_checkpoint(end["checkpoint"])
    assert meta.task == "addsub" and meta.metrics["n"] == 500
    assert meta.train_config["max_steps"] == 30
    answers = solve_addsub(model, ["12+7", "BOS NEGATIVE 30 subtract NEGATIVE 34 EOS"])
    assert len(answers) == 2 and all(a.startswith("BOS ") for a in answers)  # 30 steps: not yet right
    assert answers == solve_addsub(model, ["12+7", "-30 - -34"])  # the same expressions, written both ways
    assert meta.encode("12+7") == [14, 10, 1, 2, 12, 10, 0, 7, 15]
    assert meta.token_strings([14, 11, 0, 4, 15]) == ["BOS", "NEGATIVE", "0", "4", "EOS"]


# --------------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------------
def _lm(**overrides) -> DecoderOnlyLM:
    base = dict(vocab_size=40, d_model=16, n_heads=2, n_layers=2, d_ff=32, dropout=0.0, max_len=16)
    base.update(overrides)
    return DecoderOnlyLM(TransformerConfig(**base)).eval()


@pytest.mark.parametrize(
    "overrides",
    [{}, {"tie_embeddings": True}, {"adaptive_cutoffs": [8, 20], "tie_embeddings": True}],
    ids=["plain", "tied", "adaptive-tied"],
)
def test_checkpoint_round_trips_to_identical_logits(tmp_path, overrides):
    model = _lm(**overrides)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))  # not the initial weights
    path = save_checkpoint(tmp_path / "lm", model, task="shakespeare", tokenizer_kind="char",
                           tokenizer_json=_char_tokenizer_json(40), metrics={"val_loss": 1.5})
    assert [p.name for p in checkpoint_files(path)] == ["config.json", "model.safetensors", "tokenizer.json"]
    loaded, meta = load_checkpoint(path)
    ids = torch.randint(0, 40, (2, 12))
    assert torch.equal(loaded(ids), model(ids))
    assert meta.task == "shakespeare" and meta.metrics == {"val_loss": 1.5}
    assert meta.encode("BAD") == [1, 0, 3] and meta.decode([1, 0, 3]) == "BAD"
    assert meta.token_strings([2, 4]) == ["C", "E"]
    if overrides.get("tie_embeddings") and not overrides.get("adaptive_cutoffs"):
        assert loaded.lm_head.weight is loaded.embed.token.weight  # still tied after loading


def _char_tokenizer_json(n: int) -> str:
    from trainers.tasks.lm import build_char_tokenizer

    text = "".join(chr(ord("A") + i) for i in range(n))
    return build_char_tokenizer(text).to_str()


def test_seq2seq_checkpoint_round_trips_and_half_precision_is_close(tmp_path):
    model = Seq2SeqTransformer(TransformerConfig(vocab_size=16, d_model=32, n_heads=2, n_layers=1, d_ff=64,
                                                 dropout=0.0, max_len=9, layout="encoder-decoder")).eval()
    src, tgt = torch.randint(0, 16, (3, 9)), torch.randint(0, 16, (3, 4))
    save_checkpoint(tmp_path / "a", model, task="addsub", task_info={"vocab": list("0123456789") + ["x"] * 6})
    loaded, meta = load_checkpoint(tmp_path / "a")
    assert torch.equal(loaded(src, tgt), model(src, tgt))
    save_checkpoint(tmp_path / "h", model, task="addsub", dtype="float16")
    half, _ = load_checkpoint(tmp_path / "h")
    assert half.lm_head.weight.dtype == torch.float32
    torch.testing.assert_close(half(src, tgt), model(src, tgt), atol=2e-2, rtol=0)
    assert (resolve_checkpoint(tmp_path / "h") / "model.safetensors").stat().st_size < 0.6 * (
        resolve_checkpoint(tmp_path / "a") / "model.safetensors").stat().st_size
    assert meta.encode("-30 - -34") == [14, 11, 3, 0, 13, 11, 3, 4, 15]
    assert meta.decode([14, 10, 0, 4, 15]) == "BOS POSITIVE 04 EOS"


def test_mismatched_checkpoint_is_refused_with_a_clear_error(tmp_path):
    path = save_checkpoint(tmp_path / "lm", _lm(), task="shakespeare", tokenizer_kind="char",
                           tokenizer_json=_char_tokenizer_json(40))
    config_file = resolve_checkpoint(path) / "config.json"
    meta = json.loads(config_file.read_text())
    meta["model_config"]["d_ff"] = 48
    config_file.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"has shape \[32\], but config.json describes a model whose .* has shape \[48\]"):
        load_checkpoint(path)
    meta["model_config"]["d_ff"] = 32
    meta["model_config"]["n_layers"] = 1
    config_file.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="does not have: the weights and the config come from different models"):
        load_checkpoint(path)
    meta["model_config"]["n_layers"] = 3
    config_file.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="lacks tensor .* which the model of config.json needs"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="not a checkpoint folder"):
        load_checkpoint(tmp_path / "nowhere")


def test_checkpoints_are_written_atomically_and_listed(tmp_path):
    model = _lm()
    save_checkpoint(tmp_path / "runs" / "r1" / "checkpoint", model, task="shakespeare", tokenizer_kind="char",
                    tokenizer_json=_char_tokenizer_json(40), metrics={"val_loss": 2.0})
    save_checkpoint(tmp_path / "runs" / "r1" / "checkpoint", model, task="shakespeare", tokenizer_kind="char",
                    tokenizer_json=_char_tokenizer_json(40), metrics={"val_loss": 1.0})  # replaces it
    assert [p.name for p in (tmp_path / "runs" / "r1").iterdir()] == ["checkpoint"]  # no temporary left
    (tmp_path / "runs" / "junk").mkdir()
    infos = list_checkpoints(tmp_path / "runs", tmp_path / "missing")
    assert len(infos) == 1
    assert (infos[0].name, infos[0].task, infos[0].metrics) == ("r1", "shakespeare", {"val_loss": 1.0})
    assert infos[0].n_parameters == sum(p.numel() for p in model.parameters())


def test_loading_never_unpickles():
    source = (REPO / "trainers" / "checkpoint.py").read_text() + (REPO / "trainers" / "evaluate.py").read_text()
    assert "torch.load(" not in source and "import pickle" not in source and "pickle.load" not in source


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------
def test_cli_trains_and_evaluate_prints_one_json_object(tmp_path):  # with or without the course file
    out = tmp_path / "ck"
    train = subprocess.run(
        [sys.executable, "-m", "trainers", "train", "--task", "addsub", "--preset", "tiny", "--max-steps", "10",
         "--out", str(out), "--runs-dir", str(tmp_path / "runs"), "--no-tensorboard", "--json", "--threads", "1"],
        capture_output=True, text=True, cwd=REPO, env=_env(), timeout=120,
    )
    assert train.returncode == 0, train.stderr
    summary = json.loads(train.stdout)
    assert summary["status"] == "finished" and summary["steps"] == 10 and summary["checkpoint"] == str(out)
    evaluate = subprocess.run(
        [sys.executable, "-m", "trainers", "evaluate", "--checkpoint", str(out), "--json"],
        capture_output=True, text=True, cwd=REPO, env=_env(), timeout=120,
    )
    assert evaluate.returncode == 0, evaluate.stderr
    result = json.loads(evaluate.stdout)
    assert result["n"] == 500 and result["split"] == "valid"
    assert 0.0 <= result["exact_match"] <= result["token_accuracy"] <= 1.0
    assert result["exact_match"] == pytest.approx(summary["final_metrics"]["exact_match"])
    meta = json.loads((resolve_checkpoint(out) / "config.json").read_text())
    assert meta["command"].startswith("python -m trainers train --task addsub --preset tiny --max-steps 10")


def test_cli_errors_are_one_line_without_traceback(tmp_path):
    for args in (
        ["evaluate", "--checkpoint", str(tmp_path / "nothing"), "--json"],
        ["train", "--task", "wikitext2", "--data-dir", str(tmp_path / "empty"), "--max-steps", "1"],
        ["train", "--task", "addsub", "--lr", "0"],  # "error: learning rate must be > 0, got 0.0"
        ["train", "--task", "addsub", "--preset", "huge"],
    ):
        run = subprocess.run([sys.executable, "-m", "trainers", *args], capture_output=True, text=True, cwd=REPO,
                             env=_env(), timeout=120)
        assert run.returncode == 2, (args, run.stderr)
        assert run.stdout == ""
        assert "Traceback" not in run.stderr
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr


# --------------------------------------------------------------------------------------------------
# Shipped checkpoints meet their figures through evaluate
# --------------------------------------------------------------------------------------------------
@needs_addsub
def test_shipped_addsub_checkpoint_gets_99_percent_of_the_course_validation_split():
    path = REPO / "assets" / "addsub"
    if not path.is_dir():
        pytest.skip("assets/addsub has not been trained yet")
    run = subprocess.run([sys.executable, "-m", "trainers", "evaluate", "--checkpoint", str(path), "--json"],
                         capture_output=True, text=True, cwd=REPO, env=_env(), timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["n"] == 500 and result["exact_match"] >= 0.99


@needs_shakespeare
def test_shipped_shakespeare_checkpoint_reaches_1_88_nats_per_character():
    from trainers.evaluate import evaluate_checkpoint

    path = REPO / "assets" / "shakespeare"
    if not path.is_dir():
        pytest.skip("assets/shakespeare has not been trained yet")
    result = evaluate_checkpoint(path, split="valid")
    assert result["n_tokens"] > 100_000
    assert result["nats_per_char"] <= 1.88


SHIPPED = sorted(p.name for p in (REPO / "assets").iterdir() if (p / "config.json").is_file())


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_checkpoint_loads_and_its_recorded_train_config_rebuilds_its_model(name):
    """Checkpoints saved before the trainers used TransformerConfig ("arch", a ModelConfig dict) still load."""
    model, meta = load_checkpoint(REPO / "assets" / name)
    recorded = meta.train_config
    config = TrainConfig.from_dict(recorded)
    assert config.family == recorded.get("family", recorded.get("arch", "transformer")) == meta.family
    m = meta.model_config
    rebuilt = config.model_for(vocab_size=m.vocab_size, max_len=m.max_len, layout=m.layout,
                               src_vocab_size=m.src_vocab_size, pad_id=m.pad_id, adaptive_cutoffs=m.adaptive_cutoffs)
    assert rebuilt == m and sum(p.numel() for p in model.parameters()) > 0


@needs_addsub
def test_shipped_addsub_evaluates_to_its_recorded_figure():
    run = subprocess.run([sys.executable, "-m", "trainers", "evaluate", "--checkpoint", "assets/addsub", "--json"],
                         capture_output=True, text=True, cwd=REPO, env=_env(), timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["exact_match"] == 1.0


def test_shipped_shakespeare_evaluates_to_its_recorded_figure():  # the shipped corpus: also with no ../shared
    from trainers.evaluate import evaluate_checkpoint

    result = evaluate_checkpoint(REPO / "assets" / "shakespeare", split="valid")
    assert result["nats_per_char"] == pytest.approx(1.624, abs=5e-4)


@needs_wikitext
def test_shipped_wikitext2_checkpoint_reaches_perplexity_200_on_test():
    from trainers.evaluate import evaluate_checkpoint

    path = REPO / "assets" / "wikitext2"
    if not path.is_dir():
        pytest.skip("assets/wikitext2 has not been trained yet")
    result = evaluate_checkpoint(path, split="test")
    assert result["n_tokens"] > 240_000
    assert result["word_perplexity"] <= 200


def test_lm_evaluation_windows_score_every_token_once():
    from trainers.tasks.lm import batchify, get_batch
    from trainers.tasks.lm_task import evaluate_lm_split, lm_nll

    model = _lm(vocab_size=40, max_len=16)
    ids = torch.randint(0, 40, (1000,))
    plain = evaluate_lm_split(model, ids, block_size=16, batch_size=4)
    # The PyTorch example's loop, written out: batchify, then get_batch every bptt rows.
    data, total, count = batchify(ids, 4), 0.0, 0
    for i in range(0, data.size(0) - 1, 16):
        x, y = get_batch(data, i, 16)
        with torch.no_grad():
            total += float(lm_nll(model, x.t(), y.view(x.shape).t(), reduction="sum"))
        count += y.numel()
    assert plain["n_tokens"] == count == 249 * 4  # 250 rows × 4 columns; the first row is never a target
    assert plain["loss"] == pytest.approx(total / count, rel=1e-5)
    assert plain["perplexity"] == pytest.approx(math.exp(total / count), rel=1e-5)
    sliding = evaluate_lm_split(model, ids, block_size=16, batch_size=4, stride=4)
    assert sliding["n_tokens"] == plain["n_tokens"]  # overlapping windows, yet each token scored once
    with pytest.raises(ValueError, match="stride must be between 1 and block_size=16"):
        evaluate_lm_split(model, ids, block_size=16, stride=17)


@pytest.mark.parametrize("name", ["addsub", "shakespeare", "wikitext2", "multi30k_en_de"])
def test_shipped_presets_reproduce_the_recorded_training_config(name):
    path = REPO / "assets" / name / "config.json"
    if not path.is_file():
        pytest.skip(f"assets/{name} has not been trained yet")
    recorded_json = json.loads(path.read_text())["train_config"]
    # Read as TrainConfig.from_dict reads it: older keys ("arch", a ModelConfig dict of "model") map to new ones.
    recorded = TrainConfig.from_dict(recorded_json).to_dict()
    preset = preset_config(name, "shipped").to_dict()
    assert recorded_json.get("arch", recorded_json.get("family", "transformer")) == preset["family"] == "transformer"
    assert {k: v for k, v in recorded_json["model"].items() if k != "max_len"}.items() <= preset["model"].items()

    def differs(key, value) -> bool:  # fields added after a checkpoint was made count with their default
        old = recorded.get(key, value)
        if isinstance(value, dict) and isinstance(old, dict):
            return any(old.get(k, v) != v for k, v in value.items())
        return old != value

    differing = {k for k, v in preset.items() if differs(k, v)}
    if name != "addsub":  # AddSub's data fields are not part of another task's recipe
        differing -= {"addsub_source", "addsub_train_size"}
    assert differing <= {"threads", "run_id", "checkpoint_dir", "preset"}  # run-specific, not the recipe


def test_adaptive_cutoffs_are_fitted_to_the_vocabulary(tmp_path):
    from trainers.tasks.lm_task import LanguageModelTask

    (tmp_path / "input.txt").write_text("".join(chr(ord("a") + (i * 7) % 26) for i in range(6000)) + "\n")
    config = preset_config("shakespeare", "tiny", data_dir=str(tmp_path), max_steps=5, tensorboard=False,
                           model={"adaptive_cutoffs": [10, 100], "tie_embeddings": True})
    task = LanguageModelTask(config, torch.device("cpu"))
    assert task.vocab_size == 27 and task.transformer_config().adaptive_cutoffs == [10]  # 100 > 27 dropped
    summary = Trainer(config, task=task).fit()
    assert summary.status == "finished"
    assert summary.final_metrics["nats_per_char"] == pytest.approx(summary.final_metrics["val_loss"])


def test_run_ids_are_readable_and_unique_within_a_second():
    import re

    from trainers.trainer import default_run_id

    ids = {default_run_id("addsub") for _ in range(200)}
    assert len(ids) == 200  # one server starting runs in the same second never reuses a name
    assert all(re.fullmatch(r"addsub-\d{8}-\d{6}-[0-9a-f]{6}", i) for i in ids)


def test_addsub_exact_preset_is_the_shipped_recipe_run_longer_on_two_threads():
    # README Benchmarks: this recipe got all 500 course validation expressions right from step 2,400 on.
    shipped, exact = preset_config("addsub", "shipped").to_dict(), preset_config("addsub", "exact").to_dict()
    assert {k for k in exact if exact[k] != shipped[k]} == {"max_steps", "threads", "eval_every", "preset"}
    assert (exact["max_steps"], exact["threads"], exact["eval_every"]) == (2600, 2, 400)
