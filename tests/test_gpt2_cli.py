"""``python -m trainers generate`` and ``evaluate`` on GPT-2 folders equal transformers; generate on every LM checkpoint."""

import json
import math
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")

from trainers.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from trainers.cli import main  # noqa: E402
from trainers.lstm import LSTMConfig, LSTMLanguageModel  # noqa: E402
from trainers.tasks.lm import build_char_tokenizer  # noqa: E402
from transformer.sampling import generate  # noqa: E402

from .gpt2_folders import CONFIGS, TEXT, make_gpt2_folder, train_tokenizer  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpt2cli")
    train_tokenizer(root / "tokenizer.json")
    name, options, seed = CONFIGS[0]
    return root / name, make_gpt2_folder(root / name, options, seed, root / "tokenizer.json")


def _json(capsys, argv) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_generate_temperature_0_equals_transformers_greedy(gpt2, capsys):
    folder, hf = gpt2
    out = _json(capsys, ["generate", "--checkpoint", str(folder), "--prompt", "The quick brown",
                         "--max-new-tokens", "25", "--temperature", "0", "--threads", "1", "--json"])
    prompt = out["prompt_ids"]
    with torch.no_grad():
        theirs = hf.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                             do_sample=False, max_new_tokens=25, pad_token_id=0)[0, len(prompt):].tolist()
    assert out["token_ids"] == theirs and len(theirs) == 25
    _, meta = load_checkpoint(folder)
    assert out["text"] == meta.decode(theirs)
    assert prompt == meta.tokenizer.encode("The quick brown", add_special_tokens=False).ids


def test_generate_samples_reproducibly_with_a_seed(gpt2, capsys):
    folder, _ = gpt2
    argv = ["generate", "--checkpoint", str(folder), "--prompt", "attention", "--max-new-tokens", "12",
            "--temperature", "1.2", "--top-k", "20", "--top-p", "0.9", "--seed", "7", "--json"]
    first, second = _json(capsys, argv), _json(capsys, argv)
    assert first["token_ids"] == second["token_ids"] and len(first["token_ids"]) == 12
    other = _json(capsys, argv[:-2] + ["8", "--json"])
    assert other["token_ids"] != first["token_ids"]


def test_evaluate_loss_equals_transformers_over_windows(gpt2, tmp_path, capsys):
    folder, hf = gpt2
    data = tmp_path / "text.txt"
    data.write_text(TEXT[:900], encoding="utf-8")
    out = _json(capsys, ["evaluate", "--checkpoint", str(folder), "--data", str(data), "--json"])
    _, meta = load_checkpoint(folder)
    ids = torch.tensor(meta.tokenizer.encode(TEXT[:900], add_special_tokens=False).ids)
    window = hf.config.n_positions
    assert ids.numel() > 2 * window  # several windows, the last one shorter
    total = 0.0
    with torch.no_grad():
        for s in range(0, ids.numel() - 1, window):
            x, y = ids[s : s + window], ids[s + 1 : s + window + 1]
            x = x[: y.numel()]
            total += float(torch.nn.functional.cross_entropy(hf(x[None]).logits[0], y, reduction="sum"))
    expected = total / (ids.numel() - 1)
    assert out["n_tokens"] == ids.numel() - 1 and out["window"] == window
    assert out["loss"] == pytest.approx(expected, rel=1e-5)
    assert out["perplexity"] == pytest.approx(math.exp(expected), rel=1e-5)
    # one window only: HF's own loss (labels = inputs, shifted inside the model)
    short = tmp_path / "short.txt"
    short.write_text("The quick brown fox jumps over the lazy dog.", encoding="utf-8")
    one = _json(capsys, ["evaluate", "--checkpoint", str(folder), "--data", str(short), "--json"])
    x = torch.tensor([meta.encode(short.read_text())])
    with torch.no_grad():
        assert one["loss"] == pytest.approx(float(hf(x, labels=x).loss), rel=1e-5)


def test_evaluate_a_gpt2_folder_needs_a_file(gpt2, tmp_path, capsys):
    folder, _ = gpt2
    assert main(["evaluate", "--checkpoint", str(folder), "--json"]) == 2
    assert "--data FILE" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", str(folder), "--data", str(tmp_path / "none.txt"), "--json"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_generate_from_the_shipped_shakespeare_model_equals_the_sampler(capsys):
    out = _json(capsys, ["generate", "--checkpoint", str(REPO / "assets" / "shakespeare"), "--prompt", "ROMEO:",
                         "--max-new-tokens", "30", "--temperature", "0.8", "--seed", "3", "--json"])
    model, meta = load_checkpoint(REPO / "assets" / "shakespeare")
    expected = [s.token_id for s in generate(model, meta.encode("ROMEO:"), 30, temperature=0.8, seed=3)]
    assert out["token_ids"] == expected and out["text"] == meta.decode(expected)


def test_generate_from_an_lstm_checkpoint(tmp_path, capsys):
    torch.manual_seed(0)
    text = "".join(chr(ord("!") + i) for i in range(40))
    model = LSTMLanguageModel(LSTMConfig(vocab_size=40, d_model=16, n_layers=1, dropout=0.0, max_len=12)).eval()
    path = save_checkpoint(tmp_path / "lstm", model, task="shakespeare", tokenizer_kind="char",
                           tokenizer_json=build_char_tokenizer(text).to_str())
    out = _json(capsys, ["generate", "--checkpoint", str(path), "--prompt", "!#%", "--max-new-tokens", "20",
                         "--temperature", "0", "--json"])
    expected = [s.token_id for s in generate(model, out["prompt_ids"], 20, temperature=0)]
    assert out["token_ids"] == expected and len(expected) == 20


def test_generate_refuses_encoder_decoders_and_empty_prompts(gpt2, capsys):
    assert main(["generate", "--checkpoint", str(REPO / "assets" / "addsub"), "--prompt", "1 + 2"]) == 2
    assert "encoder-decoder" in capsys.readouterr().err
    assert main(["generate", "--checkpoint", str(gpt2[0]), "--prompt", ""]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["generate", "--checkpoint", str(gpt2[0]), "--prompt", "a", "--temperature", "-1"]) == 2
    assert "temperature" in capsys.readouterr().err


def test_a_hub_id_not_in_the_cache_names_the_files_and_the_folder(tmp_path, monkeypatch, capsys):
    import trainers.gpt2

    monkeypatch.setattr(trainers.gpt2, "gpt2_from_hub_cache", lambda repo_id, cache_dir=None: None)  # not cached
    monkeypatch.setenv("TC_MODELS_DIR", str(tmp_path / "models"))
    assert main(["generate", "--checkpoint", "distilgpt2", "--prompt", "Hello"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "config.json, model.safetensors, tokenizer.json" in err and str(tmp_path / "models" / "distilgpt2") in err


def test_a_hub_id_resolves_to_models_dir_and_to_the_hub_cache(gpt2, tmp_path, monkeypatch, capsys):
    from trainers.gpt2 import find_gpt2_folders, gpt2_from_hub_cache, resolve_gpt2

    folder, _ = gpt2
    models = tmp_path / "models"
    (models / "tiny-gpt2").mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (models / "tiny-gpt2" / name).write_bytes((folder / name).read_bytes())
    monkeypatch.setenv("TC_MODELS_DIR", str(models))
    assert find_gpt2_folders() == [models / "tiny-gpt2"]
    assert resolve_gpt2("tiny-gpt2") == models / "tiny-gpt2"
    out = _json(capsys, ["generate", "--checkpoint", "tiny-gpt2", "--prompt", "The", "--max-new-tokens", "3",
                         "--temperature", "0", "--json"])
    assert len(out["token_ids"]) == 3
    # a Hub cache laid out as huggingface_hub writes it: snapshots/<revision>/<files>
    cache = tmp_path / "hub"
    snapshot = cache / "models--someone--tiny-gpt2" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (cache / "models--someone--tiny-gpt2" / "refs").mkdir()
    (cache / "models--someone--tiny-gpt2" / "refs" / "main").write_text("0" * 40)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (snapshot / name).write_bytes((folder / name).read_bytes())
    assert gpt2_from_hub_cache("someone/tiny-gpt2", cache_dir=cache) == snapshot
    assert gpt2_from_hub_cache("someone/absent", cache_dir=cache) is None
