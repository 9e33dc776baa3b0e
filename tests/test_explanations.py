"""The statements a student reads that can be computed agree with what the core computes (issue 18).

Each test reads the sentence the page shows (through AppTest, or the page's own string) and checks it against
the core: the cost page names the statistic ``transformer.cost`` keeps, the top-p help states the core's ≥ p
rule, the Translate page shows the length the beam score uses, the causal-mask texts say j ≤ i and the mask
keeps its diagonal, and the formulas of the explanations (label smoothing, parameters per block, perplexity
units, the even-spread entropy) equal the tensors.
"""

from __future__ import annotations

import math
import re
import statistics
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO
from tests.test_pages_train_generate import LM_CONTEXT, make_lm_checkpoint, page_file
from tests.test_pages_translation import make_translation_checkpoint
from tests.test_translation import PAIRS
from transformer import cost as core_cost
from transformer.attention import causal_mask
from transformer.blocks import DecoderBlock, EncoderBlock
from transformer.decoding import length_penalty
from transformer.sampling import filter_log_probs
from ui import runs as ui_runs
from ui.lessons import attention_entropy, block_parameter_count, build_mask, even_spread_entropy

STATISTICS = {"minimum": min, "median": statistics.median, "mean": statistics.fmean}


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> list[str]:
    return [el.value for kind in ("markdown", "caption", "info", "warning") for el in getattr(at, kind)]


def widget_help(at: AppTest, kind: str, key: str) -> str:
    return getattr(at, kind)(key=key).proto.help


# --------------------------------------------------------------------------------------------------
# Cost of attention: the statistic the caption names is the one the core keeps
# --------------------------------------------------------------------------------------------------
def test_core_keeps_the_minimum_of_the_repeats(monkeypatch):
    measured = iter([5.0, 2.0, 9.0])  # what torch.utils.benchmark.Timer measures for each of three timed runs
    timer = SimpleNamespace(timeit=lambda number: SimpleNamespace(times=[next(measured)]))
    monkeypatch.setattr(core_cost.benchmark, "Timer", lambda **kwargs: timer)
    assert core_cost.time_call(lambda: None, repeats=3) == 2.0

    timings = iter([0.7, 0.3, 0.5])  # what each timed forward pass of measure_attention_cost takes
    monkeypatch.setattr(core_cost, "time_call", lambda fn, repeats=1, warmup=1: next(timings))
    row, = core_cost.measure_attention_cost([8], ["ours_weights"], d_model=8, n_heads=2, repeats=3)
    assert row.seconds == min([0.7, 0.3, 0.5])


def test_cost_page_names_the_statistic_the_core_uses(monkeypatch):
    at = open_page("app_pages/cost.py")
    assert "minimum" in widget_help(at, "slider", "cost_repeats") and "median" not in at.slider(key="cost_repeats").label
    at.multiselect(key="cost_lengths").set_value([16, 32]).run()
    at.multiselect(key="cost_paths").set_value(["ours_weights"]).run()
    at.slider(key="cost_repeats").set_value(3).run()
    at.button(key="cost_measure").click().run()
    assert not at.exception
    caption = next(c.value for c in at.caption if c.value.startswith("Measured with"))
    named = [name for name in STATISTICS if name in caption]
    assert named == ["minimum"], caption
    # The named statistic, applied to the repeats, is what measure_attention_cost returns.
    samples = [0.4, 0.1, 0.25]
    timings = iter(samples)
    monkeypatch.setattr(core_cost, "time_call", lambda fn, repeats=1, warmup=1: next(timings))
    row, = core_cost.measure_attention_cost([8], ["ours_weights"], d_model=8, n_heads=2, repeats=3)
    assert row.seconds == STATISTICS[named[0]](samples)


def test_cost_page_says_projections_are_linear_in_T():
    at = open_page("app_pages/cost.py")
    intro = " ".join(texts(at))
    assert "T·d_model²" in intro and "linear in T" in intro and "fixed costs" not in intro
    assert "only on the explicit path" in intro


# --------------------------------------------------------------------------------------------------
# Generate: the top-p help states the core's rule
# --------------------------------------------------------------------------------------------------
def test_top_p_keeps_the_smallest_set_reaching_at_least_p():
    probs = torch.tensor([0.5, 0.25, 0.125, 0.0625, 0.0625])  # powers of 2: cumulative sums are exact
    logits = probs.log()
    kept = torch.isfinite(filter_log_probs(logits, top_p=0.75)).tolist()
    assert kept == [True, True, False, False, False]  # 0.5 + 0.25 reaches p = 0.75 exactly: that set is kept
    kept = torch.isfinite(filter_log_probs(logits, top_p=0.7)).tolist()
    assert kept == [True, True, False, False, False]  # 0.5 < 0.7 ≤ 0.75: the smallest set reaching p
    kept = torch.isfinite(filter_log_probs(logits, top_p=0.76)).tolist()
    assert kept == [True, True, True, False, False]  # 0.75 < p: one more token is needed
    kept = torch.isfinite(filter_log_probs(logits, top_p=0.05)).tolist()
    assert kept == [True, False, False, False, False]  # the most probable token is always kept


def test_top_p_help_states_the_at_least_p_rule(tmp_path, monkeypatch):
    make_lm_checkpoint(tmp_path / "assets" / "shakespeare")
    monkeypatch.setenv("TC_ASSETS_DIR", str(tmp_path / "assets"))
    monkeypatch.setenv("TC_RUNS_DIR", str(tmp_path / "runs"))
    at = open_page(page_file("Generate"))
    help_text = widget_help(at, "slider", "gen_a_top_p")
    assert "smallest set" in help_text and "at least p" in help_text and "add up to" not in help_text
    assert "always kept" in help_text
    # The KV cache explanation says what the sampler does past the window: how many tokens the model reads is
    # what transformer.sampling.context_start gives for every length past the window.
    from transformer.sampling import context_start, default_stride

    assert any("KV cache" in e.label for e in at.expander)
    ctx = LM_CONTEXT
    read = {n - context_start(n, ctx, default_stride(ctx)) for n in range(ctx + 1, 4 * ctx)}
    assert any(f"reads the last {min(read)} to {max(read)} tokens" in t for t in texts(at)), sorted(read)


# --------------------------------------------------------------------------------------------------
# Translate: the length shown is the length the score uses
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def translation_assets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("assets18")
    make_translation_checkpoint(folder / "multi30k_en_de")
    return folder


def test_translate_shows_the_length_the_beam_score_uses(translation_assets, tmp_path, monkeypatch):
    monkeypatch.setenv("TC_ASSETS_DIR", str(translation_assets))
    monkeypatch.setenv("TC_RUNS_DIR", str(tmp_path / "runs"))
    at = open_page(page_file("Translate"))
    at.text_input(key="tr_text").input(PAIRS[0][0]).run()
    at.radio(key="tr_decoding").set_value("beam").run()
    at.slider(key="tr_length_penalty").set_value(1.0).run()
    assert not at.exception and not at.error
    assert "<eos>" in widget_help(at, "slider", "tr_length_penalty")
    caption = next(c.value for c in at.caption if c.value.startswith("beam search, width"))
    match = re.search(r"(\d+) tokens · log-probability (-?[\d.]+) nats · score (-?[\d.]+) = .* \(\(5 \+ (\d+)\) / 6\)", caption)
    assert match, caption
    n, log_prob, score, shown_length = int(match[1]), float(match[2]), float(match[3]), int(match[4])
    assert shown_length == n + 1  # the finished translation's <eos> counts
    assert score == pytest.approx(log_prob / length_penalty(shown_length, 1.0), abs=2e-3)
    table = at.dataframe[0].value
    lengths = table["length in the penalty (with <eos>)"]
    for lp, s, length in zip(table["log-probability (nats)"], table["score"], lengths, strict=True):
        assert s == pytest.approx(lp / length_penalty(int(length), 1.0), abs=1e-3)
    assert any("T_tgt × T_src" in t for t in texts(at))  # the cross-attention explanation


# --------------------------------------------------------------------------------------------------
# The causal mask: the texts say j ≤ i, and the core's mask keeps its diagonal
# --------------------------------------------------------------------------------------------------
def test_causal_mask_keeps_the_diagonal_and_the_texts_say_so():
    mask = causal_mask(6)
    assert bool(mask.diagonal().all())
    assert torch.equal(mask, torch.ones(6, 6, dtype=torch.bool).tril())  # j ≤ i: the diagonal included
    at = open_page(page_file("Train"))
    at.selectbox(key="train_task").set_value("shakespeare").run()
    help_text = widget_help(at, "toggle", "train_causal_shakespeare_tiny")
    assert "itself and earlier positions (j ≤ i)" in help_text and "only to earlier" not in help_text
    steps = open_page("app_pages/attention_steps.py")
    steps.segmented_control(key="steps_mask").set_value("causal").run()
    assert any("itself and earlier tokens (j ≤ i)" in t for t in texts(steps))
    source = (REPO / "app_pages" / "generate.py").read_text(encoding="utf-8")
    assert "(itself and earlier tokens, j ≤ i)" in source and "only earlier tokens" not in source


def test_mask_is_cited_to_section_3_2_3_not_eq_1():
    at = open_page("app_pages/attention_steps.py")
    caption = next(c.value for c in at.caption if c.value.startswith("M is 0"))
    assert "§3.2.3" in caption and "has no M" in caption


# --------------------------------------------------------------------------------------------------
# Formulas in the explanations equal the tensors
# --------------------------------------------------------------------------------------------------
def test_label_smoothing_help_is_pytorchs_target():
    V, eps = 7, 0.1
    logits = torch.randn(4, V, generator=torch.Generator().manual_seed(0))
    target = torch.tensor([0, 3, 6, 2])
    mixed = (1 - eps) * F.one_hot(target, V).float() + eps / V  # the help's formula
    assert F.cross_entropy(logits, target, label_smoothing=eps).item() == pytest.approx(
        -(mixed * logits.log_softmax(-1)).sum(-1).mean().item(), rel=1e-6)
    wrong = mixed.sum(-1) - mixed.gather(1, target[:, None]).squeeze(1)
    assert wrong.tolist() == pytest.approx([eps * (V - 1) / V] * 4, rel=1e-5)
    at = open_page(page_file("Train"))
    help_text = widget_help(at, "slider", "train_smoothing_addsub_tiny")
    assert "(1 − ε) · one-hot + ε / V" in help_text and "ε (V − 1) / V" in help_text


@pytest.mark.parametrize(("d_model", "d_ff"), [(16, 64), (8, 24)])
def test_parameters_per_block(d_model, d_ff):
    count = block_parameter_count(d_model, d_ff)
    encoder = EncoderBlock(d_model, 2, d_ff)
    assert count["total"] == sum(p.numel() for p in encoder.parameters())
    assert count["weights"] == 4 * d_model**2 + 2 * d_model * d_ff  # the Multi-head page's formula
    assert count["biases"] + count["layer_norm"] == 9 * d_model + d_ff
    decoder = DecoderBlock(d_model, 2, d_ff, cross_attention=True)
    assert block_parameter_count(d_model, d_ff, cross_attention=True)["total"] == sum(
        p.numel() for p in decoder.parameters()) == count["total"] + 4 * d_model**2 + 6 * d_model
    for n_heads in (1, 2, 4):  # H does not change the count
        assert sum(p.numel() for p in EncoderBlock(d_model, n_heads, d_ff).parameters()) == count["total"]
    text = " ".join(texts(open_page("app_pages/multihead.py")))
    assert "4·d_model²" in text and "2·d_model·d_ff" in text and "9·d_model + d_ff" in text
    assert "4·d_model² + 6·d_model" in text and "not cut into slices" in text


@pytest.mark.parametrize("kind", ["none", "causal", "padding"])
def test_even_spread_entropy_is_the_entropy_of_uniform_rows(kind):
    T = 6
    is_pad = [False] * 4 + [True] * 2
    mask = build_mask(kind, T, is_pad)
    allowed = torch.ones(T, T, dtype=torch.bool) if mask is None else mask.expand(T, T)
    uniform = allowed.double() / allowed.sum(-1, keepdim=True)
    torch.testing.assert_close(even_spread_entropy(mask, T, T), attention_entropy(uniform))
    if kind == "causal":  # row i sees i + 1 keys
        torch.testing.assert_close(even_spread_entropy(mask, T, T),
                                   torch.tensor([math.log(i + 1) for i in range(T)], dtype=torch.float64))


def test_metrics_state_their_units():
    snap = {"last_eval": {"val_loss": 1.5, "metrics": {"nats_per_char": 1.5, "bits_per_char": 1.5 / math.log(2),
                                                       "perplexity": 4.48}}}
    metrics = dict(ui_runs.task_metrics(snap))
    assert set(metrics) == {"nats per character", "bits per character", "perplexity per character"}
    assert float(metrics["bits per character"]) == pytest.approx(1.5 / math.log(2), abs=1e-3)
    assert float(metrics["perplexity per character"]) == pytest.approx(math.exp(1.5), abs=1e-2)
    snap = {"last_eval": {"val_loss": 2.0, "metrics": {"bleu": 30.0, "perplexity": 7.4}}}
    assert "perplexity per BPE token" in dict(ui_runs.task_metrics(snap))
