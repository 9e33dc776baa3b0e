"""GPT-2-family folders in our core equal ``transformers``' GPT2LMHeadModel: logits, attention, greedy text, KV cache.

Random tiny models of several sizes and seeds (non-trivial layer norms and biases), saved with
``save_pretrained(safe_serialization=True)`` beside a tokenizer.json trained here; no network.
"""

import json

import pytest
import torch
from torch.testing import assert_close

pytest.importorskip("transformers")

from trainers.checkpoint import CheckpointError, load_checkpoint  # noqa: E402
from trainers.gpt2 import gpt2_config, is_gpt2_folder, load_gpt2  # noqa: E402
from transformer.sampling import generate  # noqa: E402

from .gpt2_folders import CONFIGS, TEXT, make_gpt2_folder, train_tokenizer  # noqa: E402

PROMPT = "The quick brown fox and attention 🙂"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpt2")
    tokenizer_file = root / "tokenizer.json"
    train_tokenizer(tokenizer_file)
    return {name: (root / name, make_gpt2_folder(root / name, options, seed, tokenizer_file))
            for name, options, seed in CONFIGS}


@pytest.fixture(scope="module", params=[name for name, _, _ in CONFIGS])
def pair(request, folders):
    folder, hf = folders[request.param]
    ours, meta = load_gpt2(folder)
    return ours, meta, hf


def test_config_maps_every_field(folders):
    folder, hf = folders["odd"]
    config = gpt2_config(json.loads((folder / "config.json").read_text()))
    assert (config.d_model, config.n_heads, config.n_layers, config.d_ff, config.max_len) == (48, 3, 3, 80, 40)
    assert (config.layer_norm_eps, config.activation, config.positional) == (1e-3, "gelu_tanh", "learned")
    assert (config.scale_embeddings, config.lm_head_bias, config.tie_embeddings) == (False, False, True)
    assert config.vocab_size == hf.config.vocab_size


def test_logits_equal_transformers(pair):
    ours, meta, hf = pair
    ids = torch.tensor([meta.encode(PROMPT + " " + TEXT[:80])[: ours.config.max_len]])
    with torch.no_grad():
        expected = hf(ids).logits
        got = ours(ids)
    assert got.shape == expected.shape
    assert expected.std() > 1.0  # non-trivial logits: the comparison can fail
    assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_every_layer_and_head_attention_equals_output_attentions(pair):
    ours, meta, hf = pair
    ids = torch.tensor([meta.encode(PROMPT)])
    with torch.no_grad():
        expected = hf(ids, output_attentions=True).attentions
        _, record = ours(ids, return_attention=True)
    assert len(record.decoder_self) == len(expected) == ours.config.n_layers
    for mine, theirs in zip(record.decoder_self, expected, strict=True):
        assert mine.shape == theirs.shape == (1, ours.config.n_heads, ids.shape[1], ids.shape[1])
        assert_close(mine, theirs, atol=1e-5, rtol=1e-4)
    assert float(expected[0].max()) > 0.5  # some head attends sharply: not a uniform map


def test_greedy_continuation_equals_transformers_generate(pair):
    ours, meta, hf = pair
    prompt = meta.encode(PROMPT)
    n_new = min(20, ours.config.max_len - len(prompt))
    with torch.no_grad():
        theirs = hf.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                             do_sample=False, max_new_tokens=n_new, pad_token_id=0)[0, len(prompt):].tolist()
    mine = [step.token_id for step in generate(ours, prompt, n_new, temperature=0)]
    assert len(mine) == n_new and mine == theirs


def test_kv_cache_generation_equals_full_recomputation(pair):
    ours, meta, _ = pair
    prompt = meta.encode(PROMPT)
    n_new = ours.config.max_len - len(prompt) + 5  # past the window, too
    cached = [(s.token_id, s.prob) for s in generate(ours, prompt, n_new, temperature=1.0, seed=3, use_cache=True)]
    full = [(s.token_id, s.prob) for s in generate(ours, prompt, n_new, temperature=1.0, seed=3, use_cache=False)]
    assert [t for t, _ in cached] == [t for t, _ in full]
    assert_close(torch.tensor([p for _, p in cached]), torch.tensor([p for _, p in full]), atol=1e-4, rtol=1e-3)
    ids = torch.tensor([prompt])
    cache = ours.new_cache()
    with torch.no_grad():
        step_logits = torch.cat([ours(ids[:, :5], cache=cache)] + [ours(ids[:, t : t + 1], cache=cache)
                                                                    for t in range(5, ids.shape[1])], dim=1)
        assert_close(step_logits, ours(ids), atol=1e-4, rtol=1e-4)


def test_load_checkpoint_dispatches_and_the_tokenizer_adds_nothing(folders):
    folder, _ = folders["small"]
    assert is_gpt2_folder(folder)
    model, meta = load_checkpoint(folder)
    assert meta.task == "gpt2" and meta.tokenizer_kind == "bpe"
    assert model.lm_head.weight is model.embed.token.weight  # tied again after loading
    assert not any(p.is_meta for p in model.parameters())
    ids = meta.encode(PROMPT)
    assert ids == meta.tokenizer.encode(PROMPT, add_special_tokens=False).ids
    assert meta.decode(ids) == PROMPT  # byte-level BPE round-trips 中文 and emoji


def _copy(folder, tmp_path):
    target = tmp_path / "copy"
    target.mkdir()
    for file in folder.iterdir():
        (target / file.name).write_bytes(file.read_bytes())
    return target


@pytest.mark.parametrize(("change", "message"), [
    ({"n_embd": 40}, "shape"),
    ({"n_layer": 3}, "lacks the tensor 'h.2."),
    ({"model_type": "bert"}, "bert"),
    ({"n_head": 5}, "not divisible"),
    ({"activation_function": "swish"}, "activation_function"),
    ({"scale_attn_by_inverse_layer_idx": True}, "scale_attn_by_inverse_layer_idx"),
    ({"vocab_size": 100}, "tokenizer"),
    ({"n_layer": 0}, "n_layer"),
])
def test_bad_folders_are_refused_with_a_sentence(folders, tmp_path, change, message):
    folder = _copy(folders["small"][0], tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | change))
    with pytest.raises(CheckpointError, match=message):
        load_gpt2(folder)


def test_a_missing_tokenizer_is_named(folders, tmp_path):
    folder = _copy(folders["small"][0], tmp_path)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(CheckpointError, match="lacks tokenizer.json"):
        load_gpt2(folder)


def test_the_hubs_older_layout_loads_the_same(folders, tmp_path):
    """The Hub's gpt2 file: names without ``transformer.``, the causal mask stored as h.N.attn.bias, no lm_head."""
    from safetensors.torch import load_file, save_file

    folder = _copy(folders["small"][0], tmp_path)
    tensors = load_file(str(folder / "model.safetensors"))
    old = {name.removeprefix("transformer."): t for name, t in tensors.items() if name != "lm_head.weight"}
    for i in range(2):
        old[f"h.{i}.attn.bias"] = torch.tril(torch.ones(1, 1, 64, 64))
    save_file(old, str(folder / "model.safetensors"), metadata={"format": "pt"})
    ours, meta = load_gpt2(folder)
    reference, _ = load_gpt2(folders["small"][0])
    ids = torch.tensor([meta.encode(PROMPT)])
    with torch.no_grad():
        assert_close(ours(ids), reference(ids), atol=0, rtol=0)
