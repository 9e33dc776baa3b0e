"""Why a checkpoint cannot be used, and why a server limit is malformed, in the session's language.

trainers.checkpoint and ui.limits speak English (the CLI stays English); ui.messages.localize translates each
sentence on the page, keeping paths, field and tensor names, shapes, dtypes, numbers and a library's own text
(json's, safetensors', tokenizers'; the core's model config reasons are translated too). Every planted malformed checkpoint of
tests/test_checkpoint_safety.py and every malformed limit must come out in 繁體中文 and 简体中文 with no other
English word left; a Chinese Generate page lists the reasons in Chinese, and the Train page names a malformed
limit in Chinese.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import app_on_page
from tests.english import english_left
from tests.test_checkpoint_safety import MALFORMED, mixed_assets, planted  # noqa: F401  (fixtures)
from trainers import checkpoint as ckpt
from trainers.checkpoint import CheckpointError, load_checkpoint
from trainers.config import TASKS
from ui import messages
from ui.i18n import translate
from ui.limits import read_limits

LANGUAGES = ("zh_Hant", "zh_Hans")

# The names a reason quotes from config.json and the code, the same in every language: config keys, tasks, the
# values a field may take, JSON's literals and type names, file and format names.
NAMES = (
    set(ckpt.MODEL_LIMITS) | set(ckpt._BOOL_FIELDS) | set(ckpt._STRING_FIELDS) | set(TASKS) | set(ckpt._DTYPES)
    | {v for values in ckpt._STRING_FIELDS.values() if values for v in values}
    | {"format", "task", "family", "tokenizer_kind", "train_config", "metrics", "task_info", "extra", "command",
       "created", "n_parameters", "weights_dtype", "model_config", "dropout", "layer_norm_eps", "adaptive_div_value",
       "pad_id", "adaptive_cutoffs", "eos_id", "block_size", "vocab", "transformer", "lstm", "word", "char", "bpe"}
    | {"list", "dict", "str", "int", "float", "bool", "null", "true", "false", "True", "False", "None"}
    | {"AddSub", "JSON", "safetensors", "TransformerConfig", "CURRENT"}
    | {"GPT-2", "gpt2", "model_type", "n_embd", "n_head", "activation_function", "add_cross_attention",  # GPT-2's
       "layer_norm_epsilon", "tie_word_embeddings", "bert", "swish"}
)
KEPT = re.compile(r"[\w-]+\.(?:json|safetensors)|\w+(?:\.\w+)+|\[[^\]]*\]|\b[A-Z]+\d+\b|v-(?:…|[\w.-]+)|(?<![A-Za-z_-])(?:"
                  + "|".join(sorted(map(re.escape, NAMES), key=len, reverse=True)) + r")(?![A-Za-z_-])")  # 是null
# A library's text after the sentence's own lead: kept as it is (English on every page). The core's own reasons after
# "its model_config is not valid:" are translated (ui.messages.CONFIG_ERRORS; tests/test_i18n_own_sentences.py).
LIBRARY = re.compile(r"(?:is not valid JSON|is not a tokenizers? file|is not a readable "
                     r"safetensors file|cannot be read|does not fit the model of config\.json): (?P<text>.*)$")


def in_language(monkeypatch, language: str):
    """``ui.messages.localize`` as a page in ``language`` runs it."""
    monkeypatch.setattr(messages, "_", lambda m: translate(m, language))
    return messages.localize


def reason_of(folder) -> str:
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(folder)
    return str(caught.value)


def assert_translated(monkeypatch, english: str, root) -> None:
    """``english`` (a reason naming a file under ``root``) comes out in each Chinese language with its path, names,
    shapes, numbers and any library's text as they were, and no other English word."""
    library = LIBRARY.search(english)
    for language in LANGUAGES:
        chinese = in_language(monkeypatch, language)(english)
        assert chinese != english, (language, english)
        assert english.split(" ")[0].rstrip(":") in chinese, chinese  # the path, as it was
        rest = re.sub(re.escape(str(root)) + r"[^\s：，；（）\u4e00-\u9fff]*", " ", chinese)  # paths
        if library:
            assert library["text"] in rest, (library["text"], rest)  # a library's text, as it was
            rest = rest.replace(library["text"], " ")
        for kept in re.findall(r"'[^']*'|\[[^\]]*\]|\b\d[\d,]*\b|model_config\.\w+", english.replace(str(root), "")):
            assert kept in chinese, (kept, chinese)  # names, shapes and numbers come through unchanged
        left = english_left(rest, KEPT)
        assert not left, (language, english, chinese, left)


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_every_malformed_checkpoints_reason_is_translated(planted, name, monkeypatch):  # noqa: F811
    assert_translated(monkeypatch, reason_of(planted / name), planted)


GPT2 = {"model_type": "gpt2", "n_embd": 8, "n_head": 2, "n_layer": 1, "n_positions": 16, "vocab_size": 320}
# name → (config.json's changes, tensors' changes, tokenizer.json's text or None for a good one, regex of the reason)
GPT2_MALFORMED = {
    "not_a_folder": (None, None, None, r"is not a folder$"),
    "no_files": ({}, None, None, r"lacks config\.json, model\.safetensors, tokenizer\.json: a GPT-2 folder needs"),
    "config_list": ([1], None, None, r"config\.json is not a JSON object"),
    "not_gpt2": ({"model_type": "bert"}, None, None, r"model_type is 'bert', not 'gpt2'"),
    "n_embd_zero": ({"n_embd": 0}, None, None, r"config\.json: n_embd must be a positive whole number, got 0"),
    "not_divisible": ({"n_embd": 9}, None, None, r"n_embd=9 is not divisible by n_head=2"),
    "activation": ({"activation_function": "swish"}, None, None, r"activation_function 'swish' is not one of \["),
    "cross_attention": ({"add_cross_attention": True}, None, None, r"add_cross_attention=True is not supported"),
    "epsilon": ({"layer_norm_epsilon": 2}, None, None, r"layer_norm_epsilon must be a small positive number, got 2"),
    "tokenizer_garbage": ({}, {}, "garbage{", r"tokenizer\.json is not a tokenizers file: "),
    "tokenizer_larger": ({"vocab_size": 100}, {}, "", r"has 320 tokens, more than the model's vocab_size 100"),
    "tensor_missing": ({}, {"ln_f.bias": None}, "", r"lacks the tensor 'ln_f\.bias' that config\.json's GPT-2 needs"),
    "tensor_shape": ({}, {"ln_f.bias": (9,)}, "", r"tensor 'ln_f\.bias' has shape \[9\], but config\.json describes one"),
    "lm_head_shape": ({}, {"lm_head.weight": (3, 3)}, "", r"lm_head\.weight has shape \[3, 3\], expected \[320, 8\]"),
    "untied_no_lm_head": ({"tie_word_embeddings": False}, {}, "", r"lacks lm_head\.weight, which an untied GPT-2"),
}


@pytest.fixture(scope="module")
def gpt2_planted(tmp_path_factory):
    """Every folder of GPT2_MALFORMED: a tiny GPT-2 folder (zeros for weights) with one thing wrong."""
    import json

    import torch
    from safetensors.torch import save_file

    from tests.gpt2_folders import train_tokenizer
    from trainers.gpt2 import _expected_shapes, gpt2_config

    root = tmp_path_factory.mktemp("gpt2_planted")
    good_tokenizer = root / "tokenizer.json"
    train_tokenizer(good_tokenizer, vocab_size=320)
    for name, (config, tensors, tokenizer, _pattern) in GPT2_MALFORMED.items():
        if config is None:
            continue
        folder = root / name
        folder.mkdir()
        if tensors is None and name == "no_files":
            continue
        hf = config if isinstance(config, list) else {**GPT2, **config}
        (folder / "config.json").write_text(json.dumps(hf))
        (folder / "tokenizer.json").write_text(tokenizer or good_tokenizer.read_text())
        shapes = _expected_shapes(gpt2_config(GPT2)) if tensors is None else _expected_shapes(gpt2_config(hf))
        for tensor, shape in (tensors or {}).items():
            shapes.pop(tensor) if shape is None else shapes.__setitem__(tensor, shape)
        save_file({k: torch.zeros(v) for k, v in shapes.items()}, str(folder / "model.safetensors"))
    return root


@pytest.mark.parametrize("name", sorted(GPT2_MALFORMED))
def test_every_gpt2_folders_reason_is_translated(gpt2_planted, name, monkeypatch):
    from trainers.gpt2 import load_gpt2

    with pytest.raises(CheckpointError, match=GPT2_MALFORMED[name][3]) as caught:
        load_gpt2(gpt2_planted / name)
    assert_translated(monkeypatch, str(caught.value), gpt2_planted)


def test_the_reasons_keep_their_english_on_an_english_page(planted):  # noqa: F811
    for name in ("format_string", "d_ff_mismatch", "tokenizer_garbage"):
        english = reason_of(planted / name)
        assert messages.localize(english) == english  # the session's language is English outside a page


# Each limit a TA sets, with values a TA could mistype: (variable, value, the smallest whole number it takes)
BAD_LIMITS = [
    ("TC_MAX_JOBS", "two", 1), ("TC_MAX_JOBS", "0", 1), ("TC_JOBS_PER_BROWSER", "1.5", 1),
    ("TC_JOBS_PER_SESSION", "-1", 1), ("TC_OWNER_GRACE_S", "a minute", 1), ("TC_OWNER_GRACE_S", "0", 1),
    ("TC_MAX_RUN_SECONDS", "-5", 0), ("TC_MAX_RUN_SECONDS", "10m", 0), ("TC_JOB_MEMORY_MB", "4 GB", 16),
    ("TC_JOB_MEMORY_MB", "8", 16), ("TC_JOB_THREADS", "many", 1), ("TC_JOB_THREADS", "0", 1),
]


@pytest.mark.parametrize(("variable", "value", "minimum"), BAD_LIMITS)
@pytest.mark.parametrize("source", ["environment", "secrets"])
def test_every_malformed_limit_is_translated(variable, value, minimum, source, monkeypatch):
    given = {variable: value}
    with pytest.raises(ValueError) as caught:
        read_limits(environ=given if source == "environment" else {}, secrets=given if source == "secrets" else {},
                    address="127.0.0.1")
    english = str(caught.value)
    assert english.startswith(f"{variable}={value!r} must be a whole number of at least {minimum}")
    for language in LANGUAGES:
        chinese = in_language(monkeypatch, language)(english)
        assert chinese != english and f"{variable}={value!r}" in chinese and str(minimum) in chinese, chinese
        assert not english_left(chinese), (language, english, chinese)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_chinese_picker_lists_a_malformed_checkpoints_reason_in_chinese(mixed_assets, language, monkeypatch,  # noqa: F811
                                                                         tmp_path):
    from ui.checkpoints import shown_reason

    monkeypatch.setenv("TC_ASSETS_DIR", str(mixed_assets))
    monkeypatch.setenv("TC_RUNS_DIR", str(tmp_path / "runs"))
    at = app_on_page("Generate", language, timeout=60)
    heading = translate("Checkpoints that cannot be used ({n})", language).format(n=4)
    expander = [e for e in at.expander if e.label == heading]
    assert expander, [e.label for e in at.expander]
    listed = re.sub(r"\\(.)", r"\1", " ".join(m.value for m in expander[0].markdown))  # Markdown-escaped
    box = at.selectbox(key="gen_checkpoint")
    box.set_value(str(mixed_assets / "broken_d_model_1e9")).run()
    assert not at.exception
    warnings = [re.sub(r"\\(.)", r"\1", w.value) for w in at.warning]
    localize = in_language(monkeypatch, language)  # what the page should have said, computed after it ran
    for name in ("format_string", "tokenizer_garbage", "d_model_1e9", "config_garbage"):
        expected = localize(shown_reason(reason_of(mixed_assets / f"broken_{name}")))
        assert expected in listed, (expected, listed)
    assert "must be" not in listed and "is not a tokenizer file" not in listed
    chosen = localize(shown_reason(reason_of(mixed_assets / "broken_d_model_1e9")))
    assert any(translate("This checkpoint cannot be used: {error}", language).format(error=chosen) == w
               for w in warnings), warnings


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_train_page_names_a_malformed_limit_in_chinese(language, monkeypatch, tmp_path):
    monkeypatch.setenv("TC_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("TC_JOB_THREADS", "many")
    at = app_on_page("Train", language, timeout=60)
    errors = [re.sub(r"\\(.)", r"\1", e.value) for e in at.error]
    expected = translate("{name}={value} must be a whole number of at least {minimum}.", language).format(
        name="TC_JOB_THREADS", value="'many'", minimum=1)
    assert expected in errors, errors
    assert expected != "TC_JOB_THREADS='many' must be a whole number of at least 1."
