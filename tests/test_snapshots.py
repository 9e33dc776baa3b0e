"""Attention snapshots recorded while training (trainers.snapshots): the recording, the npz file, the CLI."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from trainers import cli
from trainers.presets import preset_config
from trainers.snapshots import (
    SNAPSHOTS_FILE,
    attention_entropy,
    load_snapshots,
    monotonic_alignment_mass,
)
from trainers.trainer import Trainer, parameter_hash

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _addsub(tmp_path, **changes):
    settings = {"snapshot_every": 10, "max_steps": 60} | changes
    config = preset_config("addsub", "tiny", tensorboard=False, out_dir=str(tmp_path), final_eval=False, **settings)
    trainer = Trainer(config)
    trainer.fit()
    return trainer


@pytest.fixture(scope="module")
def addsub_run(tmp_path_factory):
    return _addsub(tmp_path_factory.mktemp("addsub"))


def test_steps_first_every_n_and_last(addsub_run):
    assert addsub_run.snapshots.steps == [1, 10, 20, 30, 40, 50, 60]
    assert len(addsub_run.snapshots.losses) == 7
    assert addsub_run.snapshots.losses[0] > addsub_run.snapshots.losses[-1]  # the run learns


def test_last_snapshot_equals_the_final_models_attention(addsub_run):
    model, probe = addsub_run.model, addsub_run.probe
    model.eval()
    with torch.no_grad():
        _logits, record = model(*probe.inputs, return_attention=True)
    last = addsub_run.snapshots.weights[-1]
    for kind in ("encoder_self", "decoder_self", "cross"):
        own = torch.stack([w[0] for w in getattr(record, kind)]).numpy()
        assert last[kind].shape == own.shape
        np.testing.assert_allclose(last[kind], own, atol=1e-6, rtol=0)


def test_probe_tokens_are_the_expression_and_its_right_answer(addsub_run):
    snaps = addsub_run.snapshots
    assert snaps.probe == "-30 - -34"
    assert snaps.key_tokens["cross"] == ["BOS", "NEGATIVE", "3", "0", "subtract", "NEGATIVE", "3", "4", "EOS"]
    assert snaps.query_tokens["cross"] == ["BOS", "POSITIVE", "0", "4"]
    assert snaps.weights[0]["cross"].shape == (1, 2, 4, 9)  # (L, H, T_q, T_k) of the tiny preset


def test_rows_sum_to_one_and_snapshots_change(addsub_run):
    snaps = addsub_run.snapshots
    for weights in snaps.weights:
        for w in weights.values():
            np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)
            assert w.min() >= 0.0
        assert np.triu(weights["decoder_self"], k=1).max() == 0.0  # the causal mask
    first, last = snaps.weights[0]["cross"], snaps.weights[-1]["cross"]
    assert np.abs(first - last).max() > 0.05
    assert attention_entropy(last).mean() < attention_entropy(first).mean()  # cross-attention sharpens


def test_recording_changes_nothing_in_training(tmp_path):
    """Eval mode without gradients: the same weights as a run without snapshots; training mode restored."""
    with_snaps = _addsub(tmp_path / "a", max_steps=20, snapshot_every=3)
    without = _addsub(tmp_path / "b", max_steps=20, snapshot_every=None)
    assert without.snapshots is None
    assert parameter_hash(with_snaps.model) == parameter_hash(without.model)


def test_npz_names_shapes_and_loader(addsub_run, tmp_path):
    path = addsub_run.snapshots.save(tmp_path / SNAPSHOTS_FILE)
    with np.load(path, allow_pickle=False) as data:
        assert data["step60/cross/layer0"].shape == (2, 4, 9)
        assert data["step60/cross/layer0"].dtype == np.float32
        assert list(data["steps"]) == [1, 10, 20, 30, 40, 50, 60]
        assert list(data["cross/key_tokens"])[:3] == ["BOS", "NEGATIVE", "3"]
        assert data["kinds"].dtype.kind == "U" and str(data["probe"]) == "-30 - -34"
    loaded = load_snapshots(tmp_path)
    assert loaded.steps == addsub_run.snapshots.steps
    np.testing.assert_array_equal(loaded.series("cross", 0), addsub_run.snapshots.series("cross", 0))
    with pytest.raises(FileNotFoundError):
        load_snapshots(tmp_path / "nothing")
    with pytest.raises(ValueError, match="not an attention snapshots file"):
        load_snapshots(b"not a zip file")


def test_save_checkpoint_writes_the_snapshots_beside_the_weights(addsub_run, tmp_path):
    from trainers.checkpoint import save_checkpoint

    folder = save_checkpoint(tmp_path / "ck", addsub_run.model, task="addsub", snapshots=addsub_run.snapshots,
                             task_info=addsub_run.task.task_info())
    assert load_snapshots(folder).steps[-1] == 60


def test_entropy_and_monotonic_alignment_textbook_values():
    uniform = np.full((3, 4), 0.25)
    assert attention_entropy(uniform) == pytest.approx(math.log(4))
    assert attention_entropy(np.eye(4)) == pytest.approx(0.0)
    masked = np.array([[0.5, 0.5], [0.0, 0.0]])  # a fully masked row is left out
    assert attention_entropy(masked) == pytest.approx(math.log(2))
    assert monotonic_alignment_mass(np.eye(5)) == pytest.approx(1.0)
    assert monotonic_alignment_mass(uniform) == pytest.approx(0.25)
    assert monotonic_alignment_mass(np.eye(3)[::-1]) == pytest.approx(1 / 3)  # backwards: one cell only
    heads = np.stack([np.eye(3), np.full((3, 3), 1 / 3)])
    np.testing.assert_allclose(monotonic_alignment_mass(heads), [1.0, 1 / 3])


def test_language_model_snapshots_are_causal(tmp_path):
    config = preset_config("shakespeare", "tiny", tensorboard=False, out_dir=str(tmp_path), final_eval=False,
                           max_steps=6, snapshot_every=3)
    trainer = Trainer(config)
    trainer.fit()
    snaps = trainer.snapshots
    assert snaps.kinds == ["decoder_self"] and snaps.steps == [1, 3, 6]
    w = snaps.weights[-1]["decoder_self"]
    T = len(snaps.query_tokens["decoder_self"])
    assert w.shape[2:] == (T, T) and "".join(snaps.query_tokens["decoder_self"]) == snaps.probe[:T]
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)
    assert np.triu(w, k=1).max() == 0.0


def test_lstm_says_it_has_no_attention(tmp_path):
    config = preset_config("shakespeare", "tiny", family="lstm", tensorboard=False, out_dir=str(tmp_path),
                           final_eval=False, max_steps=3, snapshot_every=1)
    config = replace(config, model=replace(config.model, n_heads=1))
    trainer = Trainer(config)
    summary = trainer.fit()
    assert summary.status == "finished"
    assert trainer.snapshots is None and "LSTM has no attention" in trainer.snapshot_note


def test_a_bad_probe_is_a_sentence(tmp_path):
    config = preset_config("addsub", "tiny", tensorboard=False, out_dir=str(tmp_path), snapshot_every=5,
                           probe="seven plus two")
    with pytest.raises(ValueError, match="Could not read"):
        Trainer(config).setup()


def _cli(tmp_path, task, *extra):
    out = tmp_path / task
    status = cli.main(["train", "--task", task, "--preset", "tiny", "--max-steps", "4", "--snapshot-every", "2",
                       "--out", str(out), "--runs-dir", str(tmp_path / "runs"), "--no-tensorboard", "--quiet",
                       "--set", "final_eval=false", *extra])
    assert status == 0
    return load_snapshots(out)


def test_cli_writes_the_npz_for_addsub_and_a_language_model(tmp_path, capsys):
    snaps = _cli(tmp_path, "addsub", "--probe", "12 + 7")
    assert snaps.steps == [1, 2, 4] and snaps.key_tokens["cross"][1:4] == ["POSITIVE", "1", "2"]
    assert snaps.query_tokens["cross"] == ["BOS", "POSITIVE", "1", "9"]
    assert _cli(tmp_path, "shakespeare").kinds == ["decoder_self"]
    status = cli.main(["train", "--task", "addsub", "--preset", "tiny", "--max-steps", "2", "--probe", "1 * 2",
                       "--no-save", "--no-tensorboard", "--runs-dir", str(tmp_path / "runs")])
    assert status == 2 and "Could not read" in capsys.readouterr().err


@pytest.mark.skipif(not (SHARED / "anki-fra-eng" / "fra.txt").is_file(), reason="needs ../shared/data/anki-fra-eng")
def test_cli_writes_the_npz_for_translation(tmp_path):
    snaps = _cli(tmp_path, "anki_en_fr")
    assert snaps.kinds == ["encoder_self", "decoder_self", "cross"]
    assert snaps.key_tokens["cross"][-1] == "<eos>" and snaps.query_tokens["cross"][-1] == "<eos>"
    assert snaps.query_tokens["decoder_self"][0] == "<bos>"
    for w in snaps.weights[-1].values():
        np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)


def test_default_language_model_probe_falls_back_to_the_validation_text(tmp_path):
    """A corpus whose characters cannot spell the default line: the probe is the validation split's start."""
    folder = tmp_path / "tinyshakespeare"
    folder.mkdir()
    (folder / "input.txt").write_text("abc ab ca\n" * 3000, encoding="utf-8")
    config = preset_config("shakespeare", "tiny", tensorboard=False, out_dir=str(tmp_path), snapshot_every=5,
                           data_dir=str(folder))
    trainer = Trainer(config)
    trainer.setup()
    assert set(trainer.probe.text) <= set("abc \n") and len(trainer.probe.query_tokens["decoder_self"]) > 8
    with pytest.raises(ValueError, match="not in the shakespeare character vocabulary"):
        trainer.task.probe("xyz")
