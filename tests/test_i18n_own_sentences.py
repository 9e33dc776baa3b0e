"""The project's own English sentences that still reached a Chinese page, now in the session's language.

Two families (issue 17's last loose end): where a GPT-2 model's files go when a name typed into a picker's GPT-2
folder field is neither a folder nor in the Hugging Face cache (trainers.gpt2.resolve_gpt2), with why the Hub
cannot be used (trainers.hub); and what the core's TransformerConfig / LSTMConfig refuse in a checkpoint's
model_config, and what a TrainConfig refuses of the Train page's settings. Each sentence is made by the real code,
then ui.messages.localize must give exactly the Chinese below (names, numbers, paths and URLs as they were, no
other English word); a Chinese Generate page and a Chinese Train page show them, with no exception box.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO, app_on_page
from tests.english import english_left
from trainers import checkpoint as ckpt
from ui import messages
from ui.i18n import SESSION_KEY, translate
from ui.text import WORD_JOINER

LANGUAGES = ("zh_Hant", "zh_Hans")
# Names these sentences quote from the code and config.json, the same in every language (besides tests.english's)
KEPT = re.compile(r"https://\S+?(?=[）)]|$)|\b[\w.-]+\.co:\d+|\S+\.(?:json|safetensors)\b|[\w/ -]*/models/\w+|\bdistilgpt2\b|"
                  r"Hugging Face|HF_HUB_OFFLINE=1|\b(?:[a-z]+_)+[a-z]+\b|\b[A-Z][A-Za-z]+Config\b|\bsoftmax\b|"
                  r"\bd_k\b|\bpositional\b|\bfamily\b|\bid\b|\[[^\]]*\]")


def in_language(monkeypatch, language: str):
    """``ui.messages.localize`` as a page in ``language`` runs it."""
    monkeypatch.setattr(messages, "_", lambda m: translate(m, language))
    return messages.localize


def assert_chinese(monkeypatch, english: str, expected: dict[str, str]) -> None:
    for language in LANGUAGES:
        chinese = in_language(monkeypatch, language)(english)
        assert chinese == expected[language], (language, chinese)
        assert not english_left(chinese, KEPT), (language, chinese, english_left(chinese, KEPT))


# ------------------------------------------------------------------------------------------------------------------
# Family 1: a GPT-2 name that is not here, and why the Hub cannot be used
# ------------------------------------------------------------------------------------------------------------------
@pytest.fixture()
def no_gpt2(tmp_path, monkeypatch):
    """No GPT-2 anywhere: an empty models/ folder and an empty Hugging Face cache, offline."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    (tmp_path / "models").mkdir()
    monkeypatch.setenv("TC_MODELS_DIR", str(tmp_path / "models"))
    return tmp_path / "models"


def missing_gpt2_reason(name: str) -> str:
    from trainers.checkpoint import CheckpointError
    from trainers.gpt2 import resolve_gpt2

    with pytest.raises(CheckpointError) as caught:
        resolve_gpt2(name)
    return str(caught.value)


def test_a_missing_gpt2_names_files_and_folder_in_chinese(no_gpt2, monkeypatch):
    english = missing_gpt2_reason("distilgpt2")
    folder = no_gpt2 / "distilgpt2"
    assert english == (f"distilgpt2 is neither a folder nor in the Hugging Face cache: put config.json, "
                       f"model.safetensors, tokenizer.json of distilgpt2 (from https://huggingface.co/distilgpt2) into "
                       f"the folder {folder}, or name any folder holding them")
    assert_chinese(monkeypatch, english, {
        "zh_Hant": "distilgpt2 不是資料夾，也不在 Hugging Face 快取中：請把 distilgpt2 的 config.json, model.safetensors, "
                   f"tokenizer.json（取自 https://huggingface.co/distilgpt2）放進資料夾 {folder}，或填入任何放有這些檔案的資料夾",
        "zh_Hans": "distilgpt2 不是文件夹，也不在 Hugging Face 缓存中：请把 distilgpt2 的 config.json, model.safetensors, "
                   f"tokenizer.json（来自 https://huggingface.co/distilgpt2）放进文件夹 {folder}，或填写任何存放这些文件的文件夹",
    })


def test_a_hub_id_with_an_owner_keeps_it_in_the_url(no_gpt2, monkeypatch):
    english = missing_gpt2_reason("someone/tiny-gpt2")
    chinese = in_language(monkeypatch, "zh_Hant")(english)
    assert chinese.startswith("someone/tiny-gpt2 不是資料夾") and "（取自 https://huggingface.co/someone/tiny-gpt2）" in chinese
    assert f"放進資料夾 {no_gpt2 / 'someone/tiny-gpt2'}，" in chinese


def test_why_the_hub_cannot_be_used_is_in_chinese(monkeypatch):
    from trainers import hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert_chinese(monkeypatch, hub.hub_unavailable_reason(), {
        "zh_Hant": "已開啟離線模式，HF_HUB_OFFLINE=1", "zh_Hans": "已开启离线模式，HF_HUB_OFFLINE=1"})
    monkeypatch.setattr(hub, "_env_flag", lambda name: False)
    # a port nothing listens on (refused at once), then a "host" that never answers in time
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    refused = hub.hub_unavailable_reason(timeout=2.0)
    detail = re.fullmatch(r"connecting to 127\.0\.0\.1:9 failed \((.*)\)", refused)[1]  # the OS's words, kept
    for language, lead in (("zh_Hant", "連線到 127.0.0.1:9 失敗"), ("zh_Hans", "连接到 127.0.0.1:9 失败")):
        assert in_language(monkeypatch, language)(refused) == f"{lead}（{detail}）"
    def never_answers(*args, **kwargs):
        time.sleep(0.5)
        raise OSError("timed out")

    monkeypatch.setattr(hub.socket, "create_connection", never_answers)
    silent = hub._connection_error("huggingface.co", 443, timeout=0.05)
    assert silent == "huggingface.co:443 did not answer within 0.05 s"
    assert_chinese(monkeypatch, silent, {
        "zh_Hant": "huggingface.co:443 在 0.05 秒內沒有回應", "zh_Hans": "huggingface.co:443 在 0.05 秒内没有响应"})


def test_a_typed_hub_id_is_looked_up_like_the_cli(tmp_path, monkeypatch):
    from ui.pretrained import folder_problem, typed_folder

    monkeypatch.setenv("TC_MODELS_DIR", str(tmp_path))
    (tmp_path / "tiny-gpt2").mkdir()
    assert typed_folder(" tiny-gpt2 ") == tmp_path / "tiny-gpt2"  # models/<name>, as `python -m trainers` finds it
    assert folder_problem("tiny-gpt2") == f"{tmp_path / 'tiny-gpt2'} lacks config.json, model.safetensors, tokenizer.json."
    assert typed_folder(str(tmp_path / "absent")) == tmp_path / "absent"  # a path is a path: no Hub lookup
    assert folder_problem(str(tmp_path / "absent")).endswith("is not a folder on the machine the app runs on.")


def page_text(elements) -> list[str]:
    """What a Streamlit message shows: Markdown escapes and the word joiner that keeps a URL unlinked taken out."""
    return [re.sub(r"\\(.)", r"\1", e.value).replace(WORD_JOINER, "") for e in elements]


def test_a_chinese_generate_page_says_where_a_missing_gpt2_goes(no_gpt2, monkeypatch, tmp_path):
    monkeypatch.setenv("TC_RUNS_DIR", str(tmp_path / "runs"))
    at = app_on_page("Generate", "zh_Hant")
    at.text_input(key="gen_checkpoint_gpt2_folder").set_value("distilgpt2")
    next(b for b in at.button if b.label == translate("Use this folder", "zh_Hant")).click().run()
    assert not at.exception
    expected = ("distilgpt2 不是資料夾，也不在 Hugging Face 快取中：請把 distilgpt2 的 config.json, model.safetensors, "
                f"tokenizer.json（取自 https://huggingface.co/distilgpt2）放進資料夾 {no_gpt2 / 'distilgpt2'}，"
                "或填入任何放有這些檔案的資料夾")
    assert expected in page_text(at.error), page_text(at.error)


# ------------------------------------------------------------------------------------------------------------------
# Family 2: what the core's configs refuse in a checkpoint, and what a TrainConfig refuses on the Train page
# ------------------------------------------------------------------------------------------------------------------
GOOD_MODEL = {"vocab_size": 40, "d_model": 16, "n_heads": 2, "n_layers": 2, "d_ff": 32, "max_len": 16}
TRANSLATION_MODEL = {**GOOD_MODEL, "layout": "encoder-decoder", "src_vocab_size": 50}
PATH = "assets/broken/config.json"
# name → (family, model_config, the core's sentence after "…: its model_config is not valid: ", 繁體, 简体)
CONFIG_ERRORS = {
    "not_divisible": ("transformer", {**GOOD_MODEL, "n_heads": 3},
                      "d_model=16 is not divisible by n_heads=3: each head gets d_k = d_model / n_heads dimensions",
                      "d_model=16 無法被 n_heads=3 整除：每個注意力頭分到 d_k = d_model / n_heads 個維度",
                      "d_model=16 不能被 n_heads=3 整除：每个注意力头的维度为 d_k = d_model / n_heads"),
    "positional": ("transformer", {**GOOD_MODEL, "positional": "spiral"},
                   "positional must be one of ['learned', 'simple', 'sinusoidal'], got 'spiral'",
                   "positional 必須是 ['learned', 'simple', 'sinusoidal'] 之一，但實際是 'spiral'",
                   "positional 必须是 ['learned', 'simple', 'sinusoidal'] 之一，但实际是 'spiral'"),
    "unknown_field": ("transformer", {**GOOD_MODEL, "colour": "red"}, "unknown TransformerConfig fields: ['colour']",
                      "TransformerConfig 沒有這些欄位：['colour']", "TransformerConfig 没有这些字段：['colour']"),
    "share_decoder": ("transformer", {**GOOD_MODEL, "share_embeddings": True},
                      "share_embeddings joins the source and target embeddings of an encoder-decoder; a decoder-only "
                      "model has one embedding already",
                      "share_embeddings 讓編碼器-解碼器的來源與目標共用同一個嵌入；僅解碼器模型本來就只有一個嵌入",
                      "share_embeddings 让编码器-解码器的源端与目标端共用同一个嵌入；仅解码器模型本来就只有一个嵌入"),
    "share_two_vocabularies": ("transformer", {**TRANSLATION_MODEL, "share_embeddings": True},
                               "share_embeddings needs one vocabulary for source and target, but src_vocab_size=50 "
                               "differs from vocab_size=40",
                               "share_embeddings 需要來源與目標共用一個詞彙表，但 src_vocab_size=50 與 vocab_size=40 不同",
                               "share_embeddings 需要源端与目标端共用一个词表，但 src_vocab_size=50 与 vocab_size=40 不同"),
    "pad_id": ("transformer", {**GOOD_MODEL, "pad_id": 100}, "pad_id=100 is not a token id of the vocabulary",
               "pad_id=100 不是詞彙表中的詞元 id", "pad_id=100 不是词表中的词元 id"),
    "cutoffs_order": ("transformer", {**GOOD_MODEL, "adaptive_cutoffs": [8, 4]},
                      "adaptive_cutoffs must be increasing whole numbers, got [8, 4]",
                      "adaptive_cutoffs 必須是遞增的整數，但實際是 [8, 4]", "adaptive_cutoffs 必须是递增的整数，但实际是 [8, 4]"),
    "cutoffs_range": ("lstm", {"vocab_size": 40, "d_model": 16, "n_layers": 1, "adaptive_cutoffs": [4, 40]},
                      "adaptive_cutoffs must lie between 1 and vocab_size - 1 = 39, got [4, 40]",
                      "adaptive_cutoffs 必須介於 1 和 vocab_size - 1 = 39 之間，但實際是 [4, 40]",
                      "adaptive_cutoffs 必须介于 1 和 vocab_size - 1 = 39 之间，但实际是 [4, 40]"),
    "cutoffs_translation": ("transformer", {**TRANSLATION_MODEL, "adaptive_cutoffs": [4]},
                            "adaptive_cutoffs (adaptive softmax) is offered for the decoder-only model only",
                            "adaptive_cutoffs（自適應 softmax）只適用於僅解碼器模型",
                            "adaptive_cutoffs（自适应 softmax）只适用于仅解码器模型"),
    "lstm_family": ("lstm", {"vocab_size": 40, "d_model": 16, "n_layers": 1, "family": "gru"},
                    "an LSTMConfig has family 'lstm', got 'gru'",
                    "LSTMConfig 的 family 必須是 'lstm'，但實際是 'gru'", "LSTMConfig 的 family 必须是 'lstm'，但实际是 'gru'"),
    "unknown_lstm_field": ("lstm", {"vocab_size": 40, "d_model": 16, "n_layers": 1, "n_heads": 2},
                           "unknown LSTMConfig fields: ['n_heads']",
                           "LSTMConfig 沒有這些欄位：['n_heads']", "LSTMConfig 没有这些字段：['n_heads']"),
}


@pytest.mark.parametrize("name", sorted(CONFIG_ERRORS))
def test_the_cores_config_errors_in_a_checkpoints_reason_are_in_chinese(name, monkeypatch):
    family, model_config, core, hant, hans = CONFIG_ERRORS[name]
    with pytest.raises(ckpt.CheckpointError) as caught:  # the loader's own path: the core's sentence, wrapped
        ckpt._model_config({"family": family, "model_config": model_config}, Path(PATH))
    english = str(caught.value)
    assert english == f"{PATH}: its model_config is not valid: {core}"
    assert_chinese(monkeypatch, english, {"zh_Hant": f"{PATH}：它的 model_config 無效：{hant}",
                                          "zh_Hans": f"{PATH}：它的 model_config 无效：{hans}"})


def test_a_library_error_inside_the_reason_stays_as_it_was(monkeypatch):
    english = f"{PATH}: its model_config is not valid: Trying to create tensor with negative dimension -1: [-1, 16]"
    assert in_language(monkeypatch, "zh_Hant")(english) == (
        f"{PATH}：它的 model_config 無效：Trying to create tensor with negative dimension -1: [-1, 16]")


def train_config_error(task: str, preset: str, **knobs) -> str:
    from ui.runs import build_train_config, knob_defaults

    with pytest.raises(ValueError) as caught:
        build_train_config(task, preset, {**knob_defaults(task, preset), **knobs}, "x")
    return str(caught.value)


def test_what_a_train_config_refuses_of_the_pages_knobs_is_in_chinese(monkeypatch):
    assert_chinese(monkeypatch, train_config_error("addsub", "tiny", lr=0.0), {
        "zh_Hant": "學習率必須 > 0，但實際是 0.0", "zh_Hans": "学习率必须 > 0，但实际是 0.0"})
    assert_chinese(monkeypatch, train_config_error("wikitext2", "tiny", label_smoothing=0.1), {  # adaptive softmax
        "zh_Hant": "標籤平滑不能和自適應 softmax 一起使用；請把其中一個關掉",
        "zh_Hans": "标签平滑不能与自适应 softmax 同时使用；请关闭其中一个"})


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_chinese_train_page_refuses_a_learning_rate_of_0_in_chinese(language, monkeypatch, tmp_path):
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    import ui.i18n

    in_session = ui.i18n.current_language
    # AppTest formats a changed page's radio options (the Size radio's format_func calls _()) in this thread, outside
    # the session: there, too, the page's language
    monkeypatch.setattr(ui.i18n, "current_language", lambda: in_session() if get_script_run_ctx() else language)
    monkeypatch.setenv("TC_RUNS_DIR", str(tmp_path / "runs"))
    at = app_on_page("Train", language)
    lr = next(n for n in at.number_input if n.key.startswith("train_lr_addsub_"))  # the default preset's
    lr.set_value(0.0).run()
    assert not at.error, page_text(at.error)  # 0 is inside the knob's range: only Start can say why it fails
    at.button(key="train_start").click().run()
    assert not at.exception
    error = translate("learning rate must be > 0, got {lr}", language).format(lr="0.0")
    expected = translate("These settings cannot be trained: {error}", language).format(error=error)
    assert expected in page_text(at.error), page_text(at.error)
    assert not english_left(expected, KEPT)


# ------------------------------------------------------------------------------------------------------------------
# A trained character model that cannot read a Chinese student's sentence (Attention, step by step; Generate)
# ------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_character_model_says_in_chinese_which_characters_it_does_not_know(language):
    """Tiny Shakespeare's character model on Attention step by step, with a sentence in Chinese and Markdown: the
    reason names the characters, shown as text (no bold, no HTML), in the page's language, and no chart is drawn."""
    path = REPO / "assets" / "shakespeare"
    at = AppTest.from_file(str(REPO / "app_pages" / "attention_steps.py"), default_timeout=120)
    at.session_state[SESSION_KEY] = language
    at.session_state["steps_weights"] = "model"
    at.session_state["steps_model"] = str(path)
    at.session_state["steps_text"] = "你好 **x** <b>"
    at.run()
    assert not at.exception
    lead = translate("The model cannot read this text: {error}", language)
    reason = translate("{chars}: not in the {name} character vocabulary; the model only knows the {n} characters of "
                       "its corpus.", language)
    expected = lead.format(error=reason.format(chars="'*<>你好'", name="shakespeare", n=65))
    assert page_text(at.error) == [expected]
    assert "**" not in at.error[0].value.replace("\\*", "") and "<" not in at.error[0].value.replace("\\<", "")
    assert not at.get("vega_lite_chart") or all("Attention weights" not in el.proto.spec
                                                for el in at.get("vega_lite_chart"))
