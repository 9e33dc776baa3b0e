"""GPT-2 folders on the pages: the Model picker offers them, the Model view, Attention maps and Generate draw them,
a typed folder is checked, and offline the download button says in one line which files go where."""

import pytest
from streamlit.testing.v1 import AppTest

pytest.importorskip("transformers")

from trainers.gpt2 import load_gpt2  # noqa: E402
from transformer.sampling import generate  # noqa: E402

from .gpt2_folders import CONFIGS, make_gpt2_folder, train_tokenizer  # noqa: E402
from .test_model_view import REPO, chart_rows  # noqa: E402


@pytest.fixture(scope="module")
def models_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    train_tokenizer(root / "tok.json")
    make_gpt2_folder(root / "tiny-gpt2", CONFIGS[1][1], CONFIGS[1][2], root / "tok.json")
    (root / "tok.json").unlink()
    return root


@pytest.fixture()
def env(models_root, monkeypatch):
    monkeypatch.setenv("TC_MODELS_DIR", str(models_root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return models_root / "tiny-gpt2"


def _open(page: str, key: str, folder) -> AppTest:
    at = AppTest.from_file(str(REPO / "app_pages" / f"{page}.py"), default_timeout=120)
    at.session_state[key] = str(folder.resolve())
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def test_model_view_draws_every_layer_and_head_of_a_gpt2_folder(env):
    at = _open("model_view", "mv_checkpoint", env)
    assert "tiny-gpt2 — GPT-2 (Hugging Face)" in at.selectbox(key="mv_checkpoint").options
    panels = {row["p"] for row in chart_rows(at.get("vega_lite_chart")[0])}
    assert len(panels) == 3 * 3  # CONFIGS[1]: 3 layers × 3 heads


def test_attention_maps_and_generate_take_a_gpt2_folder(env):
    at = _open("attention_maps", "att_checkpoint", env)
    assert at.get("vega_lite_chart")  # the heads of layer 1
    at = _open("generate", "gen_checkpoint", env)
    at.text_area(key="gen_prompt").set_value("The quick brown")
    next(b for b in at.button if b.label == "Generate").click().run()
    assert not at.exception and not at.error
    result = at.session_state["gen_result"]["results"][0]
    model, meta = load_gpt2(env)
    assert result["prompt_ids"] == meta.encode("The quick brown")
    s = result["settings"]
    expected = [step.token_id for step in generate(model, result["prompt_ids"], s.max_new_tokens,
                                                   temperature=s.temperature, top_k=s.top_k, top_p=s.top_p,
                                                   seed=s.seed)]
    assert result["generated_ids"] == expected and len(expected) == s.max_new_tokens
    assert len(at.get("vega_lite_chart")) >= 2  # the step's candidates and the heads of a layer


def test_a_typed_folder_is_checked_and_offered(env, tmp_path):
    at = _open("model_view", "mv_checkpoint", env)
    at.text_input(key="mv_checkpoint_gpt2_folder").set_value(str(tmp_path))
    next(b for b in at.button if b.label == "Use this folder").click().run()
    assert not at.exception
    assert any("lacks config.json, model.safetensors, tokenizer.json" in e.value for e in at.error)


def test_offline_download_button_names_the_files_and_the_folder_within_seconds(env):
    import time

    at = _open("model_view", "mv_checkpoint", env)
    start = time.monotonic()
    next(b for b in at.button if b.label.startswith("Download distilgpt2")).click().run()
    assert time.monotonic() - start < 10
    (warning,) = [w.value for w in at.warning]
    assert "config.json, model.safetensors, tokenizer.json" in warning
    assert str(env.parent / "distilgpt2") in warning and "\n" not in warning
