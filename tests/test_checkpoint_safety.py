"""Checkpoints a class server can trust: validated before anything is allocated, saved atomically.

- A planted set of malformed checkpoints (bad types and ranges in config.json, shapes that disagree with the
  safetensors header, broken tokenizers and pointers) each give one clear CheckpointError, are listed as
  unusable with their reason, never build a real model, are cached like good ones, and make
  ``python -m trainers evaluate`` exit 2 with one line each.
- A process saving a checkpoint over and over is SIGKILLed at many moments; every time the folder loads as
  the complete old or the complete new checkpoint, and the next save removes what the killed one left.
- Generate, Translate and Attention maps (AppTest) with malformed checkpoints beside good ones: a message,
  no exception box, the good ones still offered.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO
from trainers import checkpoint as ckpt
from trainers import cli
from trainers.checkpoint import (
    CheckpointError,
    checkpoint_files,
    inspect_checkpoint,
    list_checkpoints,
    load_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
)
from trainers.tasks.lm import build_char_tokenizer
from transformer.models import DecoderOnlyLM, TransformerConfig

TEXT = "".join(chr(ord("A") + i) for i in range(40))


def _tiny_lm() -> DecoderOnlyLM:
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=40, d_model=16, n_heads=2, n_layers=2, d_ff=32, dropout=0.0, max_len=16)
    return DecoderOnlyLM(config).eval()


def _good_flat(folder: Path) -> Path:
    """A good Tiny Shakespeare checkpoint in the flat layout of assets/ (files directly in the folder)."""
    staging = folder.parent / (folder.name + "-staging")
    save_checkpoint(staging, _tiny_lm(), task="shakespeare", tokenizer_kind="char",
                    tokenizer_json=build_char_tokenizer(TEXT).to_str(), task_info={"unit": "char", "eos_id": None})
    folder.mkdir(parents=True)
    for file in checkpoint_files(staging):
        shutil.copy(file, folder / file.name)
    shutil.rmtree(staging)
    return folder


def _edit_config(**changes):
    """A mutation of config.json: ``model_config.X`` keys go into the model config; None removes a key."""
    def mutate(folder: Path) -> None:
        meta = json.loads((folder / "config.json").read_text())
        for key, value in changes.items():
            target, name = (meta["model_config"], key.split(".", 1)[1]) if key.startswith("model_config.") else (meta, key)
            if value is _REMOVE:
                target.pop(name, None)
            else:
                target[name] = value
        (folder / "config.json").write_text(json.dumps(meta))
    return mutate


_REMOVE = object()


def _write(name: str, content: bytes):
    def mutate(folder: Path) -> None:
        (folder / name).write_bytes(content)
    return mutate


def _remove(name: str):
    def mutate(folder: Path) -> None:
        (folder / name).unlink()
    return mutate


def _weights(change):
    """Rewrite model.safetensors with its tensors passed through ``change(dict) -> dict``."""
    def mutate(folder: Path) -> None:
        from safetensors.torch import load_file

        tensors = change(load_file(str(folder / "model.safetensors")))
        save_file(tensors, str(folder / "model.safetensors"))
    return mutate


def _pointer(text: str):
    def mutate(folder: Path) -> None:
        (folder / "CURRENT").write_text(text)
    return mutate


def _nested(folder: Path) -> None:
    (folder / "config.json").write_text("[" * 100_000 + "]" * 100_000)


# name → (mutation of a good flat checkpoint, regex the CheckpointError must match)
MALFORMED = {
    "format_string": (_edit_config(format="1"), r"format must be a whole number \(1\), got '1'"),
    "format_bool": (_edit_config(format=True), r"format must be a whole number"),
    "format_newer": (_edit_config(format=7), r"written by a newer version \(format 7\)"),
    "d_model_1e9": (_edit_config(**{"model_config.d_model": 10**9}),
                    r"model_config\.d_model must be a whole number from 1 to 8,192, got 1000000000"),
    "d_model_negative": (_edit_config(**{"model_config.d_model": -16}), r"model_config\.d_model .* got -16"),
    "d_model_string": (_edit_config(**{"model_config.d_model": "16"}), r"model_config\.d_model .* got '16'"),
    "d_model_2048_over_tiny_weights": (_edit_config(**{"model_config.d_model": 2048}),
                                       r"has shape \[[0-9, ]*16[0-9, ]*\], but config\.json describes a model whose .*2048"),
    "d_ff_mismatch": (_edit_config(**{"model_config.d_ff": 48}), r"has shape \[32\], but config\.json describes a model whose .* has shape \[48\]"),
    "n_heads_zero": (_edit_config(**{"model_config.n_heads": 0}), r"model_config\.n_heads must be a whole number"),
    "n_heads_not_dividing": (_edit_config(**{"model_config.n_heads": 3}), r"not divisible by n_heads=3"),
    "n_layers_fraction": (_edit_config(**{"model_config.n_layers": 1.5}), r"model_config\.n_layers .* got 1\.5"),
    "n_layers_fewer": (_edit_config(**{"model_config.n_layers": 1}), r"holds a tensor .* does not have"),
    "n_layers_more": (_edit_config(**{"model_config.n_layers": 3}), r"lacks tensor 'blocks\.2\."),
    "vocab_null": (_edit_config(**{"model_config.vocab_size": None}), r"model_config\.vocab_size .* got None"),
    "vocab_missing": (_edit_config(**{"model_config.vocab_size": _REMOVE}), r"model_config lacks vocab_size"),
    "max_len_huge": (_edit_config(**{"model_config.max_len": 10**8}), r"model_config\.max_len .* 65,536"),
    "dropout_string": (_edit_config(**{"model_config.dropout": "0.1"}), r"model_config\.dropout must be a number"),
    "dropout_above_one": (_edit_config(**{"model_config.dropout": 1.5}), r"model_config\.dropout .* got 1\.5"),
    "norm_first_string": (_edit_config(**{"model_config.norm_first": "yes"}), r"model_config\.norm_first must be true or false"),
    "positional_unknown": (_edit_config(**{"model_config.positional": "spiral"}), r"positional must be one of"),
    "activation_number": (_edit_config(**{"model_config.activation": 3}), r"model_config\.activation must be one of relu, gelu"),
    "layout_unknown": (_edit_config(**{"model_config.layout": "sideways"}), r"model_config\.layout must be one of"),
    "pad_id_negative": (_edit_config(**{"model_config.pad_id": -1}), r"model_config\.pad_id must be null or a token id"),
    "cutoffs_text": (_edit_config(**{"model_config.adaptive_cutoffs": "x"}), r"adaptive_cutoffs must be null or a list"),
    "unknown_field": (_edit_config(**{"model_config.colour": "red"}), r"unknown TransformerConfig fields: \['colour'\]"),
    "model_config_list": (_edit_config(model_config=[1, 2]), r"model_config must be an object"),
    "task_unknown": (_edit_config(task="chess"), r"task must be one of addsub, .*got 'chess'"),
    "task_number": (_edit_config(task=5), r"task must be one of .* got 5"),
    "task_missing": (_edit_config(task=_REMOVE), r"lacks the 'task' entry"),
    "family_unknown": (_edit_config(family="gru"), r"family must be 'transformer' or 'lstm', got 'gru'"),
    "tokenizer_kind_unknown": (_edit_config(tokenizer_kind="morse"), r"tokenizer_kind must be null, 'word'"),
    "metrics_text": (_edit_config(metrics="great"), r"metrics must be an object, got 'great'"),
    "n_parameters_text": (_edit_config(n_parameters="many"), r"n_parameters must be a whole number"),
    "translation_task_on_decoder": (_edit_config(task="multi30k_en_de"), r"is an encoder-decoder, but model_config"),
    "config_garbage": (_write("config.json", b"\x00\xff not json {"), r"config\.json is not valid JSON"),
    "config_empty": (_write("config.json", b""), r"config\.json is not valid JSON"),
    "config_list": (_write("config.json", b"[1, 2, 3]"), r"holds a JSON list, not the object of a checkpoint"),
    "config_deeply_nested": (_nested, r"config\.json is not valid JSON"),
    "config_missing": (_remove("config.json"), r"needs config\.json and model\.safetensors"),
    "tokenizer_garbage": (_write("tokenizer.json", b"garbage{"), r"tokenizer\.json is not a tokenizer file"),
    "tokenizer_other_vocab": (_write("tokenizer.json", build_char_tokenizer(TEXT[:30]).to_str().encode()),
                              r"tokenizer\.json has 30 tokens, but the model's vocabulary has 40"),
    "tokenizer_missing": (_remove("tokenizer.json"), r"is a shakespeare model but has no tokenizer\.json"),
    "weights_garbage": (_write("model.safetensors", b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage"),
                        r"model\.safetensors is not a readable safetensors file"),
    "weights_empty": (_write("model.safetensors", b""), r"model\.safetensors is not a readable safetensors file"),
    "weights_missing": (_remove("model.safetensors"), r"needs config\.json and model\.safetensors"),
    "weights_integer_tensor": (_weights(lambda t: {**t, "lm_head.weight": t["lm_head.weight"].long()}),
                               r"tensor 'lm_head\.weight' is stored as I64"),
    "pointer_to_nowhere": (_pointer("v-gone-1\n"), r"CURRENT names v-gone-1, which is not in the folder"),
    "pointer_escaping": (_pointer("../../etc\n"), r"CURRENT should name a version sub-folder"),
}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Every malformed checkpoint of MALFORMED under one root, plus one good one ("good")."""
    root = tmp_path_factory.mktemp("planted")
    _good_flat(root / "good")
    for name, (mutate, _pattern) in MALFORMED.items():
        mutate(_good_flat(root / name))
    return root


def test_at_least_thirty_malformed_kinds():
    assert len(MALFORMED) >= 30


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_checkpoint_gives_one_clear_error_and_builds_no_model(planted, name, monkeypatch):
    real_builds = []
    build = ckpt._build

    def watched(config):
        if torch.get_default_device().type != "meta":
            real_builds.append(config)
        return build(config)

    monkeypatch.setattr(ckpt, "_build", watched)
    with pytest.raises(CheckpointError, match=MALFORMED[name][1]) as caught:
        load_checkpoint(planted / name)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400
    assert real_builds == []  # refused before any model was allocated


def test_listing_shows_every_malformed_checkpoint_as_unusable_with_its_reason(planted):
    infos = {info.name: info for info in list_checkpoints(planted, include_unusable=True)}
    assert set(infos) == {"good", *MALFORMED}
    assert infos["good"].error is None and infos["good"].task == "shakespeare"
    for name in MALFORMED:
        assert infos[name].error is not None, name
    assert [info.name for info in list_checkpoints(planted)] == ["good"]  # the default listing keeps the usable


def test_failures_are_cached_like_successes_until_the_files_change(tmp_path, monkeypatch):
    folder = _good_flat(tmp_path / "c")
    _edit_config(format="1")(folder)
    calls = []
    inspect = ckpt._inspect
    monkeypatch.setattr(ckpt, "_inspect", lambda path: calls.append(path) or inspect(path))
    for _ in range(3):
        with pytest.raises(CheckpointError, match="format must be a whole number"):
            inspect_checkpoint(folder)
    assert len(calls) == 1
    _edit_config(format=1)(folder)  # repaired: the stamp changes, so it is checked again, and passes
    assert inspect_checkpoint(folder).meta["format"] == 1 and len(calls) == 2
    inspect_checkpoint(folder)
    assert len(calls) == 2


def test_evaluate_exits_2_with_one_line_per_malformed_checkpoint(planted, capsys):
    for name in sorted(MALFORMED)[:5]:  # each alone
        assert cli.main(["evaluate", "--checkpoint", str(planted / name), "--json"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: {planted / name}: ")
    paths = [str(planted / name) for name in sorted(MALFORMED)]
    run = subprocess.run([sys.executable, "-m", "trainers", "evaluate", "--checkpoint", *paths, "--json"],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == len(MALFORMED)
    for line, name in zip(lines, sorted(MALFORMED), strict=True):
        assert line.startswith(f"error: {planted / name}: ")
    assert run.stdout == ""


# --------------------------------------------------------------------------------------------------
# Atomic saves
# --------------------------------------------------------------------------------------------------
def _model_filled(value: float) -> DecoderOnlyLM:
    model = _tiny_lm()
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(value)
    return model


def _save_numbered(path: Path, i: int, model: DecoderOnlyLM) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float(i))
    save_checkpoint(path, model, task="shakespeare", tokenizer_kind="char", metrics={"i": i},
                    tokenizer_json=build_char_tokenizer(TEXT).to_str(), extra_files={"numbers.txt": f"{i}\n" * 50_000})


def _saver(path: Path, start: int, ready_fd: int) -> None:  # runs in the forked child
    torch.set_num_threads(1)
    model = _tiny_lm()
    i = start
    os.write(ready_fd, b"x")
    while True:
        _save_numbered(path, i, model)
        i += 1


def _check_complete(path: Path) -> int:
    """Load ``path``; every weight, the metrics and the extra file must say the same number. Returns it."""
    model, meta = load_checkpoint(path)
    i = meta.metrics["i"]
    assert all(torch.all(p == float(i)) for p in model.parameters())
    assert (resolve_checkpoint(path) / "numbers.txt").read_text() == f"{i}\n" * 50_000
    return i


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_save_killed_at_any_moment_leaves_the_old_or_the_new_complete_checkpoint(tmp_path):
    path = tmp_path / "ck"
    flat = _good_flat(tmp_path / "flat")  # starts as an old flat checkpoint, as in assets/
    _save_numbered(tmp_path / "first", 0, _tiny_lm())
    shutil.rmtree(flat)
    path.mkdir()
    for file in checkpoint_files(tmp_path / "first"):
        shutil.copy(file, path / file.name)
    assert resolve_checkpoint(path) == path and _check_complete(path) == 0
    rng = random.Random(17)
    last, kills, changed = 0, 0, 0
    for round_ in range(24):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: save forever, until killed
            try:
                os.close(read_fd)
                _saver(path, 1000 * (round_ + 1), write_fd)
            finally:
                os._exit(0)
        os.close(write_fd)
        os.read(read_fd, 1)
        os.close(read_fd)
        time.sleep(rng.uniform(0.0, 0.25))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        kills += 1
        i = _check_complete(path)  # old or new, complete
        assert i == last or i >= 1000 * (round_ + 1)
        changed += i != last
        last = i
    assert kills >= 20 and changed >= 5  # kills landed after several completed saves, not only before the first
    _save_numbered(path, 99, _tiny_lm())  # the next save removes what the killed ones left
    assert sorted(p.name for p in path.iterdir()) == ["CURRENT", resolve_checkpoint(path).name]
    assert _check_complete(path) == 99


def test_saving_over_a_flat_checkpoint_switches_it_at_one_instant(tmp_path, monkeypatch):
    """Crash (an exception standing for SIGKILL) at each file-system step of a save: before the pointer is
    replaced the old flat checkpoint loads, after it the new one."""
    path = tmp_path / "ck"
    _save_numbered(tmp_path / "first", 1, _tiny_lm())
    path.mkdir()
    for file in checkpoint_files(tmp_path / "first"):
        shutil.copy(file, path / file.name)
    replace = os.replace
    step = {"n": 0, "crash_at": None}

    class Crash(Exception):
        pass

    def crashing_replace(src, dst):
        step["n"] += 1
        if step["n"] == step["crash_at"]:
            raise Crash
        return replace(src, dst)

    monkeypatch.setattr(ckpt.os, "replace", crashing_replace)
    step.update(n=0, crash_at=1)  # the pointer switch is the one os.replace of a save
    with pytest.raises(Crash):
        _save_numbered(path, 2, _tiny_lm())
    assert _check_complete(path) == 1
    step.update(n=0, crash_at=None)
    _save_numbered(path, 3, _tiny_lm())
    assert _check_complete(path) == 3
    assert sorted(p.name for p in path.iterdir()) == ["CURRENT", resolve_checkpoint(path).name]


def test_old_style_temporary_folders_beside_a_checkpoint_are_cleaned(tmp_path):
    (tmp_path / ".ck.tmp-abc").mkdir()
    (tmp_path / ".ck.old-def" / "ckpt").mkdir(parents=True)
    _save_numbered(tmp_path / "ck", 5, _tiny_lm())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


# --------------------------------------------------------------------------------------------------
# The pages
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mixed_assets(tmp_path_factory):
    from tests.test_pages_train_generate import make_addsub_checkpoint, make_lm_checkpoint
    from tests.test_pages_translation import make_translation_checkpoint

    root = tmp_path_factory.mktemp("mixed")
    make_lm_checkpoint(root / "shakespeare")
    make_addsub_checkpoint(root / "addsub")
    make_translation_checkpoint(root / "multi30k_en_de")
    for name in ("format_string", "tokenizer_garbage", "d_model_1e9", "config_garbage"):
        MALFORMED[name][0](_good_flat(root / f"broken_{name}"))
    return root


PAGE_TITLES = ("Generate", "Translate", "Attention maps")


@pytest.mark.parametrize("title", PAGE_TITLES)
def test_pages_list_malformed_checkpoints_with_a_message_and_still_offer_the_good_ones(mixed_assets, title,
                                                                                         monkeypatch, tmp_path):
    from tests.test_pages_train_generate import page_file

    monkeypatch.setenv("TC_ASSETS_DIR", str(mixed_assets))
    monkeypatch.setenv("TC_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.switch_page(page_file(title)).run()
    assert not at.exception
    box = at.selectbox(key={"Generate": "gen_checkpoint", "Translate": "tr_checkpoint",
                            "Attention maps": "att_checkpoint"}[title])
    good = {"Generate": "shakespeare", "Translate": "multi30k_en_de", "Attention maps": "shakespeare"}[title]
    assert any(option.startswith(f"{good} — ") for option in box.options), box.options  # labels
    assert not Path(box.value).name.startswith("broken_")  # the default is a usable one
    assert sum("cannot be used" in option for option in box.options) == (3 if title == "Translate" else 4)
    expander = [e for e in at.expander if "cannot be used" in e.label]
    assert expander, [e.label for e in at.expander]
    listed = re.sub(r"\\(.)", r"\1", " ".join(m.value for m in expander[0].markdown))  # Markdown-escaped
    assert "format must be a whole number" in listed and "8,192" in listed
    assert ("tokenizer.json is not a tokenizer file" in listed) == (title != "Translate")  # a Shakespeare model
    assert str(mixed_assets) not in listed  # paths as the project shows them, not the server's
    assert f"{mixed_assets.name}/broken_format_string/config.json: format must be" in listed
    box.set_value(str(mixed_assets / "broken_d_model_1e9")).run()
    assert not at.exception
    assert any("8,192" in w.value and "cannot be used" in w.value for w in at.warning), [w.value for w in at.warning]
