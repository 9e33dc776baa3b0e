"""Text a user typed is shown as text in messages: no Markdown image, link, HTML or Streamlit directive from
input, and paths relative to the project (ui.text.md_escape / plain_text / format_plain, used by the pages'
message calls and ui.page_state.show_notes)."""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO
from tests.test_pages_train_generate import make_addsub_checkpoint, page_file
from trainers.checkpoint import save_checkpoint
from trainers.tasks.lm import build_word_tokenizer
from transformer.models import TransformerConfig, build_model
from ui.text import WORD_JOINER, format_plain, md_escape, plain_text

IMAGE = "zz ![t](http://127.0.0.1:9/md.png)"
PAYLOADS = [
    IMAGE,
    "[click](http://127.0.0.1:9/x)",
    "<img src=http://127.0.0.1:9/h.png onerror=alert(1)>",
    "<script>alert(1)</script>",
    "# heading",
    "**bold** _it_ `code`",
    ":red[colour] :material/home:",
    "$x^2$",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "> quote\n- item\n1. one",
    "&lt;b&gt; &amp;",
    "line one\n\n    indented code",
    "see www.example.org or mail ta@example.org, https://example.org/x",
]
MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])  # markdown-it-py, which rich (streamlit) installs


def rendered(markdown: str) -> str:
    return MD.render(markdown)


def unescaped(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown).replace(WORD_JOINER, "")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_escaped_text_renders_as_the_same_plain_text(payload):
    html = rendered(md_escape(payload))
    assert html.startswith("<p>") and html.count("<p>") == 1  # one paragraph: no heading, list, table, code
    for tag in ("<img", "<a ", "<script", "<h1", "<strong", "<em", "<code", "<table", "<blockquote", "<li", "<pre"):
        assert tag not in html
    assert unescaped(md_escape(payload)) == " ".join(payload.splitlines()).lstrip()  # nothing lost but line breaks
    # GitHub Markdown (Streamlit's) links bare URLs and addresses after parsing: they must not stay contiguous
    assert not re.search(r"(?i)https?\\?://|www\.|@\w", md_escape(payload))


def test_plain_text_shows_project_paths_relative_and_escapes_them():
    assert plain_text(f"{REPO}/runs/r1/checkpoint is gone") == r"runs/r1/checkpoint is gone"
    assert plain_text(f"{REPO.parent}/shared/data/x.json") == "../shared/data/x.json"
    assert format_plain("**{a}**: {b}", a="x_y", b="[l](u)") == r"**x_y**: \[l\](u)"  # the template keeps its own


@pytest.fixture()
def word_assets(tmp_path, monkeypatch):
    tokenizer = build_word_tokenizer(["the cat sat on the mat", "the dog sat on the log", "<unk> sat"])
    config = TransformerConfig(vocab_size=tokenizer.get_vocab_size(), d_model=16, n_heads=2, n_layers=1, d_ff=32,
                               dropout=0.0, max_len=16)
    save_checkpoint(tmp_path / "assets" / "words", build_model(config), task="wikitext2", tokenizer_kind="word",
                    tokenizer_json=tokenizer.to_str(),
                    task_info={"unit": "word", "eos_id": tokenizer.token_to_id("<eos>")})
    make_addsub_checkpoint(tmp_path / "assets" / "addsub")
    monkeypatch.setenv("TC_ASSETS_DIR", str(tmp_path / "assets"))
    monkeypatch.setenv("TC_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path


def _messages(at: AppTest) -> list[str]:
    return [m.value for kind in (at.warning, at.error, at.info) for m in kind]


def test_generate_prompt_with_markdown_shows_it_as_text(word_assets):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.switch_page(page_file("Generate")).run()
    at.text_area(key="gen_prompt").input(f"the cat {IMAGE} <b>x</b>").run()
    assert not at.exception
    warning = next(m for m in at.warning if "became" in m.value)
    html = rendered(warning.value)
    assert "<img" not in html and "<a " not in html and "<b>" not in html
    assert "![t](http://127.0.0.1:9/md.png)" in unescaped(warning.value)  # shown, as typed
    for message in _messages(at):
        assert "<img" not in rendered(message)


@pytest.mark.parametrize("expression", [IMAGE, "[x](http://127.0.0.1:9/) + 1", "<img src=x> - 3", "**1** + 2"])
def test_addsub_expression_with_markdown_shows_it_as_text(word_assets, expression):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.switch_page(page_file("Attention maps")).run()
    at.selectbox(key="att_checkpoint").set_value(str(word_assets / "assets" / "addsub")).run()
    at.text_input(key="att_expression").input(expression).run()
    assert not at.exception
    assert len(at.error) == 1
    html = rendered(at.error[0].value)
    for tag in ("<img", "<a ", "<strong", "<em"):
        assert tag not in html
    assert expression.strip() in unescaped(at.error[0].value)
