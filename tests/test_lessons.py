"""The lesson builders (ui/lessons/) equal the core and the book."""

import math

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest
from torch.testing import assert_close

from tests.conftest import REPO
from transformer.attention import causal_mask, scaled_dot_product_attention
from transformer.blocks import EncoderBlock
from transformer.cost import CostRow
from transformer.layers import sinusoidal_positional_encoding
from transformer.trace import trace_encoder_block
from ui.lessons import (
    attention_entropy,
    build_mask,
    compare_loop_versions,
    embed_tokens,
    embedding_lookup,
    layer_norm_stats,
    list_of_heads_difference,
    norm_inputs,
    position_similarity,
    positional_table,
    power_law_reference,
    scaling_sweep,
    sentence_attention,
    sentence_blocks,
    sentence_multihead,
    seq2seq_shape_trace,
    summarize_cost,
    tensor_summary,
    udl_12_1_attention,
    udl_12_2_multihead,
    weight_stats,
)


def test_embed_tokens_gives_repeated_words_the_same_vector_and_adds_positions():
    emb = embed_tokens(["the", "cat", "the"], d_model=6, seed=1, positional=None)
    assert emb.vocab == ["the", "cat"]
    assert emb.ids.tolist() == [0, 1, 0]
    assert_close(emb.x[0], emb.x[2])
    with_pe = embed_tokens(["the", "cat", "the"], d_model=6, seed=1)
    assert_close(with_pe.x - with_pe.token_vectors, sinusoidal_positional_encoding(3, 6))
    assert not torch.equal(with_pe.x[0], with_pe.x[2])  # position 2 differs from position 0
    with pytest.raises(ValueError, match="empty"):
        embed_tokens([], d_model=4)


def test_embedding_lookup_is_deterministic_and_checks_ids():
    ids = torch.tensor([3, 0, 3])
    a, b = embedding_lookup(ids, 5, 4, seed=7), embedding_lookup(ids, 5, 4, seed=7)
    assert a.shape == (3, 4)
    assert_close(a, b)
    assert_close(a[0], a[2])
    assert not torch.equal(a, embedding_lookup(ids, 5, 4, seed=8))
    with pytest.raises(ValueError, match="ids"):
        embedding_lookup(torch.tensor([5]), 5, 4)


def test_positional_tables_and_similarity():
    simple = positional_table("simple", 4, 3)
    assert_close(simple[:, 0], torch.tensor([0.0, 0.25, 0.5, 0.75]))
    sin = positional_table("sinusoidal", 5, 8)
    assert_close(sin[0], torch.tensor([0.0, 1.0] * 4))
    learned = positional_table("learned", 6, 4, seed=3)
    assert learned.shape == (6, 4) and 0.005 < float(learned.std()) < 0.05  # N(0, 0.02²) initialisation
    assert_close(learned, positional_table("learned", 6, 4, seed=3))
    sim = position_similarity(sin)
    assert_close(sim, sin @ sin.T)
    assert_close(torch.diagonal(sim), torch.full((5,), 4.0))  # sin² + cos² = 1 for each of 4 pairs
    assert_close(torch.diagonal(position_similarity(learned, cosine=True)), torch.ones(6))
    with pytest.raises(ValueError, match="positional"):
        positional_table("rotary", 4, 4)


def test_build_mask_kinds():
    assert build_mask("none", 3) is None
    assert torch.equal(build_mask("causal", 3), causal_mask(3))
    pad = build_mask("padding", 4, [False, False, True, True])
    assert pad.tolist() == [[True, True, False, False]]
    with pytest.raises(ValueError):
        build_mask("padding", 4)
    with pytest.raises(ValueError, match="mask"):
        build_mask("diagonal", 4)


def test_sentence_attention_masks_and_scaling():
    tokens = "the cat sat on the mat".split()
    causal = sentence_attention(tokens, d_model=8, d_k=4, seed=0, mask="causal")
    w = causal.trace.weights
    assert w.shape == (6, 6)
    assert torch.all(torch.triu(w, diagonal=1) == 0)
    assert torch.isinf(causal.trace.masked_scores[0, 1])
    assert_close(w.sum(-1), torch.ones(6))
    unscaled = sentence_attention(tokens, d_model=8, d_k=4, seed=0, mask="causal", scale=False)
    assert_close(unscaled.trace.scaled_scores, unscaled.trace.scores)
    assert_close(causal.trace.scaled_scores, causal.trace.scores / 2.0)
    assert not torch.allclose(unscaled.trace.weights, w)
    padded = sentence_attention(tokens, d_model=8, d_k=4, mask="padding", n_pad=2)
    assert padded.tokens[-2:] == ["[PAD]", "[PAD]"] and padded.is_pad[-1]
    assert torch.all(padded.trace.weights[:, -2:] == 0)
    assert_close(padded.trace.weights.sum(-1), torch.ones(8))


def test_entropy_and_weight_stats():
    uniform = torch.full((2, 4), 0.25)
    assert_close(attention_entropy(uniform), torch.full((2,), math.log(4)))
    one_hot = torch.tensor([[1.0, 0.0, 0.0]])
    assert_close(attention_entropy(one_hot), torch.zeros(1))
    assert weight_stats(one_hot) == (1.0, 0.0)


def test_scaling_sweep_shows_unscaled_softmax_saturating():
    rows = {(r.d_k, r.scaled): r for r in scaling_sweep([1, 256], T=8, samples=128)}
    assert rows[(256, False)].max_weight > 0.9  # scores with std 16: nearly one-hot
    assert rows[(256, True)].max_weight < 0.6
    assert abs(rows[(256, True)].score_std - 1.0) < 0.2
    assert abs(rows[(256, False)].score_std - 16.0) < 3.0
    assert rows[(256, True)].entropy > rows[(256, False)].entropy + 1.0


def test_loop_versions_equal_vectorised_with_and_without_mask():
    q, k, v = torch.randn(5, 4), torch.randn(5, 4), torch.randn(5, 4)
    for mask in (None, causal_mask(5)):
        cmp = compare_loop_versions(q, k, v, mask)
        assert set(cmp.outputs) == {
            "scaled_dot_product_two_loop_single", "scaled_dot_product_two_loop_batch", "scaled_dot_product_attention"
        }
        assert max(cmp.max_abs_diff.values()) < 1e-6
        assert_close(cmp.outputs["scaled_dot_product_attention"], scaled_dot_product_attention(q, k, v, mask)[0])


def test_udl_12_1_through_the_core_matches_the_book():
    tb = udl_12_1_attention()
    assert tb.trace.output.shape == (3, 4)
    assert float(tb.difference.abs().max()) < 1e-7
    assert_close(tb.trace.output, tb.numpy_reference)
    assert_close(tb.trace.weights.sum(-1), torch.ones(3, dtype=torch.float64))
    assert tb.expected[1, 2].item() == pytest.approx(4.02764044)  # x′_1, third component


def test_udl_12_2_through_multihead_attention_matches_the_book():
    tb = udl_12_2_multihead()
    assert tb.trace.weights.shape == (1, 2, 6, 6)
    assert tb.trace.q.shape == (1, 2, 6, 4)
    assert float(tb.difference.abs().max()) < 0.5e-3  # the book prints 3 decimals
    assert tb.expected[0, 0].item() == pytest.approx(-21.207)


def test_layer_norm_stats():
    x = torch.tensor([[1.0, 2.0, 3.0, 6.0]])
    mean, std = layer_norm_stats(x)
    assert mean.tolist() == [3.0]
    assert std.item() == pytest.approx(math.sqrt(3.5))


def test_seq2seq_shape_trace_ends_at_seed_000s_shape():
    trace = seq2seq_shape_trace()
    assert trace[0] == ("source tokens", (2, 5))
    assert trace[-1] == ("output projection (logits)", (2, 5, 10))
    state = torch.random.get_rng_state()
    seq2seq_shape_trace(norm_first=False)
    assert torch.equal(state, torch.random.get_rng_state())  # the global generator is left alone
    with pytest.raises(ValueError, match="not divisible"):
        seq2seq_shape_trace(d_model=10, n_heads=4)


def test_summarize_cost_fits_the_slope():
    rows = [CostRow("ours", T, 1e-6 * T**2, 0) for T in (64, 128, 256)] + [CostRow("fused", 64, 1.0, 0)]
    summary = {s.path: s for s in summarize_cost(rows)}
    assert summary["ours"].slope == pytest.approx(2.0)
    assert summary["ours"].doubling_factor == pytest.approx(4.0)
    assert summary["fused"].slope is None


def test_layer_norm_output_has_zero_mean_unit_std():
    enc = EncoderBlock(16, 4, 32, norm_first=True).eval()
    x = 3 * torch.randn(1, 5, 16) + 2
    normed = next(s for s in trace_encoder_block(enc, x) if s.kind == "norm").tensor
    mean, std = layer_norm_stats(normed)
    assert_close(mean, torch.zeros(1, 5), atol=1e-5, rtol=0)
    assert_close(std, torch.ones(1, 5), atol=1e-3, rtol=0)
    assert np.all(layer_norm_stats(x)[0].numpy() > 0.5)


def test_sentence_multihead_matches_its_module_and_rejects_bad_head_counts():
    res = sentence_multihead(["a", "b", "c", "a"], d_model=8, n_heads=2, seed=3, mask="causal")
    out, weights = res.module(res.embedding.x[None], mask=causal_mask(4), need_weights=True)
    assert_close(res.trace.output, out)
    assert res.trace.weights.shape == (1, 2, 4, 4)
    assert torch.all(torch.triu(res.trace.weights[0, 0], diagonal=1) == 0)
    again = sentence_multihead(["a", "b", "c", "a"], d_model=8, n_heads=2, seed=3, mask="causal")
    assert_close(again.trace.output, res.trace.output)  # seeded: the same module every time
    with pytest.raises(ValueError, match="not divisible"):
        sentence_multihead(["a"], d_model=10, n_heads=4)


def test_sentence_blocks_pre_and_post_norm_differ_and_end_at_the_blocks():
    pre = sentence_blocks(["x", "y", "z"], d_model=8, n_heads=2, d_ff=16, norm_first=True, seed=1)
    post = sentence_blocks(["x", "y", "z"], d_model=8, n_heads=2, d_ff=16, norm_first=False, seed=1)
    assert_close(pre.encoder_stages[-1].tensor, pre.encoder(pre.x)[0])
    memory = pre.encoder_stages[-1].tensor
    assert_close(pre.decoder_stages[-1].tensor, pre.decoder(pre.x, memory, self_mask=causal_mask(3))[0])
    assert not torch.allclose(pre.encoder_stages[-1].tensor, post.encoder_stages[-1].tensor)
    assert post.encoder_stages[-1].name == "block output" and post.encoder_stages[-2].kind == "norm"
    with pytest.raises(ValueError):
        sentence_blocks(["x"], d_model=9, n_heads=2, d_ff=16)


@pytest.mark.parametrize("norm_first", [True, False])
def test_block_stages_record_the_dataflow(norm_first):
    res = sentence_blocks(["a", "b", "c"], d_model=8, n_heads=2, d_ff=16, norm_first=norm_first)
    stages = res.encoder_stages
    residuals = [s for s in stages if s.kind == "residual"]
    assert len(residuals) == 2
    for r in residuals:  # a residual adds its skip input and its sub-layer's output
        skip, sub = (stages[i].tensor for i in r.inputs)
        assert_close(r.tensor, skip + sub)
    norms = norm_inputs(stages)
    assert len(norms) == 2
    for name, before, after in norms:
        assert_close(after, torch.nn.functional.layer_norm(before, (8,)), atol=1e-5, rtol=1e-5)
        assert name.startswith("LayerNorm before" if norm_first else "LayerNorm after")
    cross = next(s for s in res.decoder_stages if s.name == "cross-attention")
    assert res.decoder_stages[cross.inputs[1]].name == "encoder output (memory)"


def test_tensor_summary():
    summary = tensor_summary(torch.tensor([[0.0, 2.0], [0.0, -2.0]]))
    assert summary == {"mean": 0.0, "std": pytest.approx(math.sqrt(2.0)), "min": -2.0, "max": 2.0, "zero_fraction": 0.5}


def test_cost_summary_min_length_and_reference_line():
    rows = [CostRow("ours", T, 1e-3 + 1e-8 * T**2, 0) for T in (16, 32, 64, 1024, 2048, 4096)]
    flat, steep = summarize_cost(rows)[0], summarize_cost(rows, min_length=1024)[0]
    assert flat.slope < 1.5 < steep.slope  # fixed costs flatten small T
    assert steep.lengths == [1024, 2048, 4096]
    assert power_law_reference([64, 128, 256], 64, 1.0) == [1.0, 4.0, 16.0]


def test_list_of_heads_difference_is_float_rounding():
    for mask in ("none", "causal"):
        res = sentence_multihead(["a", "b", "c", "a"], d_model=8, n_heads=2, seed=3, mask=mask)
        assert (res.mask is None) == (mask == "none")
        assert list_of_heads_difference(res) < 1e-6


def test_multihead_page_shows_the_list_of_heads_equal_to_the_fused_module():
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.switch_page("app_pages/multihead.py").run()
    at.segmented_control(key="mha_mask").set_value("causal").run()
    assert not at.exception
    assert any("class ListOfHeadsMultiHeadAttention" in c.value for c in at.code)
    agree = [s.value for s in at.success if "list-of-heads" in s.value]
    assert len(agree) == 1 and float(agree[0].split("within ")[1].rstrip(".")) <= 1e-6, agree
