"""Layer norm, feed-forward, positional encodings and blocks equal PyTorch's modules."""

import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from transformer.attention import MultiHeadAttention, causal_mask, padding_mask
from transformer.blocks import DecoderBlock, EncoderBlock
from transformer.layers import (
    FeedForward,
    LayerNorm,
    LearnedPositionalEncoding,
    Residual,
    SinusoidalPositionalEncoding,
    make_positional_encoding,
    simple_positional_encoding,
    sinusoidal_positional_encoding,
)


def test_layernorm_equals_nn_layernorm():
    ours, theirs = LayerNorm(16), nn.LayerNorm(16)
    with torch.no_grad():
        ours.gamma.copy_(torch.randn(16))
        ours.beta.copy_(torch.randn(16))
        theirs.weight.copy_(ours.gamma)
        theirs.bias.copy_(ours.beta)
    x = torch.randn(3, 5, 16) * 4 + 2
    assert_close(ours(x), theirs(x))
    y = LayerNorm(16)(x)
    assert_close(y.mean(-1), torch.zeros(3, 5), atol=1e-5, rtol=0)
    assert_close(y.var(-1, unbiased=False), torch.ones(3, 5), atol=1e-3, rtol=0)


def test_fused_layernorm_equals_the_hand_written_one_and_nn_layernorm_with_gradients():
    torch.manual_seed(0)
    ours, theirs = LayerNorm(16), nn.LayerNorm(16)
    with torch.no_grad():
        ours.gamma.copy_(torch.randn(16))
        ours.beta.copy_(torch.randn(16))
        theirs.weight.copy_(ours.gamma)
        theirs.bias.copy_(ours.beta)
    assert LayerNorm.fused  # forward takes the fused path by default
    x = (torch.randn(3, 5, 16) * 4 + 2).requires_grad_()
    upstream = torch.randn(3, 5, 16)
    results = []
    for run in (ours.forward, ours.by_hand, theirs):
        x.grad, ours.gamma.grad, ours.beta.grad, theirs.weight.grad, theirs.bias.grad = (None,) * 5
        y = run(x)
        y.backward(upstream)
        gamma_grad = theirs.weight.grad if run is theirs else ours.gamma.grad
        beta_grad = theirs.bias.grad if run is theirs else ours.beta.grad
        results.append((y.detach(), x.grad.clone(), gamma_grad.clone(), beta_grad.clone()))
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            assert_close(a, b)
    ours.fused = False  # one instance switched to the hand-written version
    assert_close(ours(x), ours.by_hand(x))
    with torch.autocast("cpu", dtype=torch.bfloat16):  # float32 inputs stay float32 in either version
        assert ours(x).dtype == torch.float32 and LayerNorm(16)(x).dtype == torch.float32


def test_feedforward_shapes_and_values():
    ff = FeedForward(8, 32, activation="relu").eval()
    x = torch.randn(2, 5, 8)
    assert ff.linear1(x).shape == (2, 5, 32)
    expected = ff.linear2(torch.relu(ff.linear1(x)))
    assert_close(ff(x), expected)
    gelu = FeedForward(8, 32, activation="gelu")
    assert_close(gelu(x), gelu.linear2(torch.nn.functional.gelu(gelu.linear1(x))))
    with pytest.raises(ValueError, match="activation"):
        FeedForward(8, 32, activation="tanh")


def test_residual_pre_and_post_norm():
    x = torch.randn(2, 3, 8)
    double = lambda h: 2 * h  # noqa: E731
    pre, post = Residual(8, norm_first=True), Residual(8, norm_first=False)
    assert_close(pre(x, double), x + 2 * pre.norm(x))
    assert_close(post(x, double), post.norm(3 * x))


def test_sinusoidal_encoding_matches_the_formula():
    pe = sinusoidal_positional_encoding(50, 16)
    pos, i = 7, 3
    assert math.isclose(float(pe[pos, 2 * i]), math.sin(pos / 10000 ** (2 * i / 16)), rel_tol=1e-5)
    assert math.isclose(float(pe[pos, 2 * i + 1]), math.cos(pos / 10000 ** (2 * i / 16)), rel_tol=1e-5)
    assert torch.all(pe[0, 0::2] == 0) and torch.all(pe[0, 1::2] == 1)
    assert sinusoidal_positional_encoding(10, 7).shape == (10, 7)  # odd widths work


def test_simple_encoding_is_n_over_k_as_the_course():
    pe = simple_positional_encoding(4, 3)
    assert pe.shape == (1, 4, 3)
    assert torch.equal(pe[0, :, 0], torch.tensor([0.0, 0.25, 0.5, 0.75]))
    assert torch.equal(pe[0, 2], torch.full((3,), 0.5))


def test_positional_modules_add_and_check_length():
    x = torch.zeros(2, 5, 8)
    assert_close(SinusoidalPositionalEncoding(8, 20)(x)[0], sinusoidal_positional_encoding(20, 8)[:5])
    assert_close(SinusoidalPositionalEncoding(8, 20)(x, offset=3)[0], sinusoidal_positional_encoding(20, 8)[3:8])
    learned = LearnedPositionalEncoding(8, 20)
    assert_close(learned(x)[1], learned.embedding.weight[:5])
    with pytest.raises(ValueError, match="max_len=4"):
        make_positional_encoding("simple", 8, 4)(x)
    with pytest.raises(ValueError, match="positional encoding"):
        make_positional_encoding("rotary", 8, 4)


def copy_mha(ours: MultiHeadAttention, theirs: nn.MultiheadAttention) -> None:
    theirs.in_proj_weight.copy_(torch.cat([ours.w_q.weight, ours.w_k.weight, ours.w_v.weight]))
    theirs.in_proj_bias.copy_(torch.cat([ours.w_q.bias, ours.w_k.bias, ours.w_v.bias]))
    theirs.out_proj.weight.copy_(ours.w_o.weight)
    theirs.out_proj.bias.copy_(ours.w_o.bias)


def copy_norm(ours: LayerNorm, theirs: nn.LayerNorm) -> None:
    theirs.weight.copy_(ours.gamma)
    theirs.bias.copy_(ours.beta)


def randomise(module: nn.Module) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.3)


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_block_equals_nn_transformer_encoder_layer(norm_first):
    ours = EncoderBlock(16, 4, 32, dropout=0.1, norm_first=norm_first)
    randomise(ours)
    theirs = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.1, batch_first=True, norm_first=norm_first)
    with torch.no_grad():
        copy_mha(ours.self_attn, theirs.self_attn)
        copy_norm(ours.residual1.norm, theirs.norm1)
        copy_norm(ours.residual2.norm, theirs.norm2)
        theirs.linear1.load_state_dict(ours.ff.linear1.state_dict())
        theirs.linear2.load_state_dict(ours.ff.linear2.state_dict())
    ours.eval(), theirs.eval()
    x = torch.randn(2, 6, 16)
    ids = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
    out, w = ours(x, mask=padding_mask(ids, 0), need_weights=True)
    # torch's fast path for padded batches zeroes padded outputs, so compare via its reference path
    with torch.no_grad():
        ref = theirs(x, src_key_padding_mask=(ids == 0).float().masked_fill(ids == 0, float("-inf")))
    assert_close(out[ids == 1], ref[ids == 1], atol=1e-5, rtol=1e-5)
    assert w.shape == (2, 4, 6, 6) and torch.all(w[0, :, :, 4:] == 0)
    out_fast, none = ours(x)
    assert none is None
    assert_close(out_fast, theirs(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm_first", [True, False])
def test_decoder_block_equals_nn_transformer_decoder_layer(norm_first):
    ours = DecoderBlock(16, 4, 32, dropout=0.1, norm_first=norm_first)
    randomise(ours)
    theirs = nn.TransformerDecoderLayer(16, 4, 32, dropout=0.1, batch_first=True, norm_first=norm_first)
    with torch.no_grad():
        copy_mha(ours.self_attn, theirs.self_attn)
        copy_mha(ours.cross_attn, theirs.multihead_attn)
        copy_norm(ours.residual1.norm, theirs.norm1)
        copy_norm(ours.residual2.norm, theirs.norm2)
        copy_norm(ours.residual3.norm, theirs.norm3)
        theirs.linear1.load_state_dict(ours.ff.linear1.state_dict())
        theirs.linear2.load_state_dict(ours.ff.linear2.state_dict())
    ours.eval(), theirs.eval()
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    src = torch.tensor([[3, 3, 3, 3, 3, 0, 0], [3, 3, 3, 3, 3, 3, 3]])
    out, self_w, cross_w = ours(
        x, memory, self_mask=causal_mask(5), memory_mask=padding_mask(src, 0), need_weights=True
    )
    with torch.no_grad():
        ref = theirs(x, memory, tgt_mask=~causal_mask(5), memory_key_padding_mask=src == 0)
    assert_close(out, ref, atol=1e-5, rtol=1e-5)
    assert self_w.shape == (2, 4, 5, 5) and torch.all(self_w.triu(1) == 0)
    assert cross_w.shape == (2, 4, 5, 7) and torch.all(cross_w[0, ..., 5:] == 0)


def test_decoder_only_block_has_no_cross_attention():
    block = DecoderBlock(8, 2, 16, cross_attention=False).eval()
    assert block.cross_attn is None
    out, self_w, cross_w = block(torch.randn(1, 4, 8), self_mask=causal_mask(4), need_weights=True)
    assert out.shape == (1, 4, 8) and cross_w is None and self_w.shape == (1, 2, 4, 4)
    with pytest.raises(ValueError, match="memory"):
        DecoderBlock(8, 2, 16)(torch.randn(1, 4, 8))
