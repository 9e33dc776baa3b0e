"""Attention equals PyTorch's built-ins; masks behave; loop versions equal the vectorised one."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from transformer.attention import (
    ListOfHeadsMultiHeadAttention,
    MultiHeadAttention,
    SelfAttention,
    causal_mask,
    combine_masks,
    padding_mask,
    scaled_dot_product_attention,
    scaled_dot_product_no_loop_batch,
    scaled_dot_product_two_loop_batch,
    scaled_dot_product_two_loop_single,
)


def qkv(B=2, H=3, T_q=5, T_k=7, d_k=8, d_v=6):
    return torch.randn(B, H, T_q, d_k), torch.randn(B, H, T_k, d_k), torch.randn(B, H, T_k, d_v)


def test_sdpa_equals_torch_without_mask():
    q, k, v = qkv()
    out, weights = scaled_dot_product_attention(q, k, v)
    assert_close(out, F.scaled_dot_product_attention(q, k, v))
    assert weights.shape == (2, 3, 5, 7)
    assert_close(weights.sum(-1), torch.ones(2, 3, 5))


def test_sdpa_equals_torch_with_causal_and_padding_masks():
    q, k, v = qkv(T_q=6, T_k=6)
    causal = causal_mask(6)
    assert_close(scaled_dot_product_attention(q, k, v, mask=causal)[0],
                 F.scaled_dot_product_attention(q, k, v, attn_mask=causal))
    assert_close(scaled_dot_product_attention(q, k, v, mask=causal)[0],
                 F.scaled_dot_product_attention(q, k, v, is_causal=True))
    ids = torch.tensor([[5, 6, 7, 0, 0, 0], [1, 2, 3, 4, 5, 0]])
    pad = padding_mask(ids, pad_id=0)
    assert pad.shape == (2, 1, 1, 6)
    out, weights = scaled_dot_product_attention(q, k, v, mask=pad & causal)
    assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=pad & causal))
    assert torch.all(weights[0, :, :, 3:] == 0)  # padding keys get no weight


def test_unscaled_attention_divides_by_nothing():
    q, k, v = qkv()
    out, w = scaled_dot_product_attention(q, k, v, scale=False)
    assert_close(out, F.scaled_dot_product_attention(q, k, v, scale=1.0))
    assert_close(w, torch.softmax(q @ k.transpose(-2, -1), dim=-1))


def test_fully_masked_row_gives_zeros_not_nan_and_finite_gradients():
    q, k, v = (t.requires_grad_() for t in qkv(B=1, H=1, T_q=3, T_k=4))
    mask = torch.tensor([[True, True, False, False], [False, False, False, False], [True, True, True, True]])
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    assert torch.all(weights[..., 1, :] == 0) and torch.all(out[..., 1, :] == 0)
    assert not torch.isnan(out).any()
    out.sum().backward()
    assert torch.isfinite(q.grad).all() and torch.isfinite(k.grad).all()
    # The fast path of MultiHeadAttention follows the same contract.
    mha = MultiHeadAttention(8, 2).eval()
    x = torch.randn(1, 4, 8)
    square = torch.cat([mask, torch.ones(1, 4, dtype=torch.bool)])  # (4, 4), row 1 fully masked
    fast, _ = mha(x, mask=square)
    slow, w = mha(x, mask=square, need_weights=True)
    assert not torch.isnan(fast).any()
    assert_close(fast, slow)
    assert torch.all(w[0, :, 1] == 0)


def test_mask_must_be_boolean():
    q, k, v = qkv()
    with pytest.raises(TypeError, match="boolean"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(5, 7))


def test_causal_mask_is_lower_triangular():
    m = causal_mask(4)
    expected = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    assert torch.equal(m, expected)
    with pytest.raises(ValueError):
        causal_mask(0)


def test_loop_versions_equal_vectorised():
    query, key, value = torch.randn(3, 6, 8), torch.randn(3, 6, 8), torch.randn(3, 6, 8)
    expected, _ = scaled_dot_product_attention(query, key, value)
    assert_close(scaled_dot_product_two_loop_batch(query, key, value), expected, atol=1e-6, rtol=1e-6)
    assert_close(scaled_dot_product_two_loop_single(query[1], key[1], value[1]), expected[1], atol=1e-6, rtol=1e-6)
    mask = causal_mask(6)
    masked, _ = scaled_dot_product_attention(query, key, value, mask=mask)
    assert_close(scaled_dot_product_two_loop_batch(query, key, value, mask), masked, atol=1e-6, rtol=1e-6)


def test_no_loop_batch_uses_bmm_and_equals_the_loop_versions_and_torch():
    query, key, value = torch.randn(3, 6, 8), torch.randn(3, 6, 8), torch.randn(3, 6, 8)
    for mask in (None, causal_mask(6), causal_mask(6).expand(3, 6, 6)):
        y, weights = scaled_dot_product_no_loop_batch(query, key, value, mask)
        assert y.shape == (3, 6, 8) and weights.shape == (3, 6, 6)
        assert_close(y, scaled_dot_product_two_loop_batch(query, key, value, mask), atol=1e-6, rtol=1e-6)
        assert_close(y, F.scaled_dot_product_attention(query, key, value, attn_mask=mask), atol=1e-6, rtol=1e-6)
        assert_close((y, weights), scaled_dot_product_attention(query, key, value, mask))
    assert torch.all(scaled_dot_product_no_loop_batch(query, key, value, causal_mask(6))[1].triu(1) == 0)


def test_self_attention_equals_the_function_with_its_own_projections():
    torch.manual_seed(0)
    head = SelfAttention(dim_in=8, dim_q=5, dim_v=3)
    assert (head.q.out_features, head.k.out_features, head.v.out_features) == (5, 5, 3)
    query, key, value = torch.randn(2, 6, 8), torch.randn(2, 6, 8), torch.randn(2, 6, 8)
    for mask in (None, causal_mask(6)):
        expected, weights = scaled_dot_product_attention(head.q(query), head.k(key), head.v(value), mask)
        assert_close(head(query, key, value, mask), expected)
        assert_close(head(query, key, value, mask, need_weights=True)[1], weights)
    with pytest.raises(ValueError, match="positive"):
        SelfAttention(8, 0, 3)


@pytest.mark.parametrize("masked", [False, True])
def test_list_of_heads_equals_the_fused_multihead_attention(masked):
    torch.manual_seed(0)
    fused = MultiHeadAttention(12, 3).eval()
    heads = ListOfHeadsMultiHeadAttention.from_fused(fused)
    assert len(heads.heads) == 3 and all(isinstance(h, SelfAttention) for h in heads.heads)
    assert heads.heads[1].q.weight.shape == (4, 12)  # head h owns d_k = 4 rows of W_Q
    x = torch.randn(2, 5, 12)
    mask = causal_mask(5) if masked else None
    assert_close(heads(x, x, x, mask), fused(x, mask=mask)[0], atol=1e-6, rtol=1e-5)
    assert_close(heads(x, x, x, mask), fused(x, mask=mask, need_weights=True)[0], atol=1e-6, rtol=1e-5)
    assert sum(p.numel() for p in heads.parameters()) == sum(p.numel() for p in fused.parameters())
    with pytest.raises(ValueError, match="not divisible"):
        ListOfHeadsMultiHeadAttention(10, 4)


def test_combine_masks_is_the_and_of_the_masks_it_is_given():
    causal = causal_mask(4)
    pad = padding_mask(torch.tensor([[5, 6, 0, 0]]), pad_id=0)  # (1, 1, 1, 4)
    both = combine_masks(causal, None, pad)
    assert both.shape == (1, 1, 4, 4)
    assert torch.equal(both[0, 0], causal & torch.tensor([True, True, False, False]))
    assert combine_masks(None, causal) is causal
    assert combine_masks() is None and combine_masks(None, None) is None


def test_scaling_keeps_softmax_soft_as_d_k_grows():
    # With unit-variance q, k the raw dot products have variance d_k; dividing by √d_k brings it back to 1.
    torch.manual_seed(1)
    q, k = torch.randn(1, 64, 512), torch.randn(1, 64, 512)
    v = torch.randn(1, 64, 4)
    _, w_scaled = scaled_dot_product_attention(q, k, v)
    _, w_raw = scaled_dot_product_attention(q, k, v, scale=False)
    assert w_raw.max(-1).values.mean() > 0.9  # nearly one-hot
    assert w_scaled.max(-1).values.mean() < 0.3


def copy_into_torch_mha(ours: MultiHeadAttention, theirs: nn.MultiheadAttention) -> None:
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.cat([ours.w_q.weight, ours.w_k.weight, ours.w_v.weight]))
        theirs.in_proj_bias.copy_(torch.cat([ours.w_q.bias, ours.w_k.bias, ours.w_v.bias]))
        theirs.out_proj.weight.copy_(ours.w_o.weight)
        theirs.out_proj.bias.copy_(ours.w_o.bias)


@pytest.mark.parametrize("need_weights", [False, True])
def test_multihead_attention_equals_nn_multiheadattention(need_weights):
    ours = MultiHeadAttention(d_model=16, n_heads=4).eval()
    theirs = nn.MultiheadAttention(16, 4, batch_first=True).eval()
    copy_into_torch_mha(ours, theirs)
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    # self-attention with a causal mask (torch's convention: True = NOT allowed)
    out, w = ours(x, mask=causal_mask(5), need_weights=need_weights)
    ref, ref_w = theirs(x, x, x, attn_mask=~causal_mask(5), average_attn_weights=False)
    assert_close(out, ref)
    if need_weights:
        assert w.shape == (2, 4, 5, 5)
        assert_close(w, ref_w)
    # cross-attention with key padding
    ids = torch.tensor([[1, 2, 3, 4, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7]])
    out, w = ours(x, memory, memory, mask=padding_mask(ids, 0), need_weights=need_weights)
    ref, ref_w = theirs(x, memory, memory, key_padding_mask=ids == 0, average_attn_weights=False)
    assert_close(out, ref)
    if need_weights:
        assert_close(w, ref_w)


def test_multihead_split_and_merge_are_inverse():
    mha = MultiHeadAttention(12, 3)
    x = torch.randn(2, 4, 12)
    heads = mha.split_heads(x)
    assert heads.shape == (2, 3, 4, 4)
    assert torch.equal(heads[:, 1], x[:, :, 4:8])
    assert torch.equal(mha.merge_heads(heads), x)


def test_multihead_rejects_indivisible_width_with_a_sentence():
    with pytest.raises(ValueError, match=r"d_model=10 is not divisible by n_heads=4"):
        MultiHeadAttention(10, 4)


def test_weights_path_equals_fast_path():
    mha = MultiHeadAttention(32, 4).eval()
    x = torch.randn(3, 9, 32)
    fast, none = mha(x, mask=causal_mask(9))
    slow, w = mha(x, mask=causal_mask(9), need_weights=True)
    assert none is None and w.shape == (3, 4, 9, 9)
    assert_close(fast, slow)
    assert math.isclose(float(w.detach().sum()), 3 * 4 * 9, rel_tol=1e-5)


def test_fused_qkv_projection_equals_three_separate_products():
    torch.manual_seed(0)
    mha = MultiHeadAttention(32, 4).eval()
    x = torch.randn(3, 9, 32)
    q, k, v = mha.qkv_projection(x).split(32, dim=-1)
    for got, linear in ((q, mha.w_q), (k, mha.w_k), (v, mha.w_v)):
        assert_close(got, linear(x))
    fused, _ = mha(x, mask=causal_mask(9))
    mha.fuse_qkv = False
    separate, _ = mha(x, mask=causal_mask(9))
    assert_close(fused, separate)
    memory = torch.randn(3, 4, 32)  # cross-attention never takes the fused path (keys come from elsewhere)
    mha.fuse_qkv = True
    out, _ = mha(x, memory, memory)
    ref = torch.softmax(mha.split_heads(mha.w_q(x)) @ mha.split_heads(mha.w_k(memory)).transpose(-2, -1) / 8**0.5, -1)
    assert_close(out, mha.w_o(mha.merge_heads(ref @ mha.split_heads(mha.w_v(memory)))))


def test_under_cpu_autocast_attention_runs_in_float32_between_bfloat16_projections():
    torch.manual_seed(0)
    mha = MultiHeadAttention(32, 4).eval()
    x = torch.randn(2, 9, 32)
    mask = causal_mask(9)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = mha(x, mask=mask)
        q, k, v = (mha.split_heads(t) for t in mha.qkv_projection(x).split(32, dim=-1))  # bfloat16
        assert q.dtype == torch.bfloat16
    # expected: the bfloat16 projections, attention in float32 (our own eq. 1), the output projection in bfloat16
    attended, _ = scaled_dot_product_attention(q.float(), k.float(), v.float(), mask=mask)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        expected = mha.w_o(mha.merge_heads(attended))
    assert out.dtype == torch.bfloat16
    assert_close(out, expected)
    mha.float32_under_autocast = ()  # autocast's own dtype: bfloat16 attention, a different rounding
    with torch.autocast("cpu", dtype=torch.bfloat16):
        in_bf16, _ = mha(x, mask=mask)
    assert_close(in_bf16.float(), out.float(), atol=0.05, rtol=0.05)
