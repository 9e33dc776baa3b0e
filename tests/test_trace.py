"""transformer/trace.py: every traced step belongs to the same computation as the module it mirrors."""

import pytest
import torch
from torch.testing import assert_close

from transformer.attention import MultiHeadAttention, causal_mask, scaled_dot_product_attention
from transformer.blocks import DecoderBlock, EncoderBlock
from transformer.trace import (
    trace_attention,
    trace_decoder_block,
    trace_encoder_block,
    trace_multihead,
    trace_self_attention,
)


def test_trace_holds_every_step_of_the_same_computation():
    x = torch.randn(5, 8)
    w_q, w_k, w_v = torch.randn(8, 4), torch.randn(8, 4), torch.randn(8, 3)
    tr = trace_self_attention(x, w_q, w_k, w_v, mask=causal_mask(5))
    assert_close(tr.q, x @ w_q)
    assert_close(tr.scores, (x @ w_q) @ (x @ w_k).T)
    assert_close(tr.scaled_scores, tr.scores / 2.0)  # √d_k = √4
    assert torch.isinf(tr.masked_scores[0, 1]) and tr.masked_scores[0, 1] < 0
    assert torch.all(tr.weights.triu(1) == 0)
    out, weights = scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v, mask=causal_mask(5))
    assert_close(tr.output, out)
    assert_close(tr.weights, weights)
    unscaled = trace_attention(tr.q, tr.k, tr.v, scale=False)
    assert_close(unscaled.scaled_scores, unscaled.scores)


def test_trace_multihead_equals_the_module():
    mha = MultiHeadAttention(12, 3).eval()
    x = torch.randn(2, 5, 12)
    tr = trace_multihead(mha, x, mask=causal_mask(5))
    out, weights = mha(x, mask=causal_mask(5), need_weights=True)
    assert_close(tr.output, out)
    assert_close(tr.weights, weights)
    assert [s for _, s in tr.shapes][:2] == [(2, 5, 12), (2, 3, 5, 4)]
    assert tr.concat.shape == (2, 5, 12)


@pytest.mark.parametrize("norm_first", [True, False])
def test_block_traces_end_at_the_blocks_output(norm_first):
    enc = EncoderBlock(8, 2, 16, norm_first=norm_first).eval()
    x = torch.randn(1, 4, 8)
    stages = trace_encoder_block(enc, x)
    assert_close(stages[-1].tensor, enc(x)[0])
    names = [s.name for s in stages]
    assert names.index("LayerNorm before self-attention" if norm_first else "self-attention") == 1
    hidden = next(s for s in stages if s.name.startswith("feed-forward hidden"))
    assert hidden.shape == (1, 4, 16)
    dec = DecoderBlock(8, 2, 16, norm_first=norm_first).eval()
    y = torch.randn(1, 3, 8)
    d_stages = trace_decoder_block(dec, y, memory=stages[-1].tensor, self_mask=causal_mask(3))
    assert_close(d_stages[-1].tensor, dec(y, stages[-1].tensor, self_mask=causal_mask(3))[0])
    assert any(s.name == "cross-attention" for s in d_stages)


def test_trace_attention_equals_the_function_with_padding_and_an_all_masked_row():
    q, k, v = torch.randn(2, 4, 6), torch.randn(2, 5, 6), torch.randn(2, 5, 3)
    mask = torch.ones(2, 4, 5, dtype=torch.bool)
    mask[:, :, -2:] = False  # two padding keys
    mask[1, 2] = False  # a query that may attend to nothing
    tr = trace_attention(q, k, v, mask=mask)
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    assert_close((tr.output, tr.weights), (out, weights))
    assert torch.all(tr.output[1, 2] == 0) and not torch.isnan(tr.output).any()
    assert torch.isinf(tr.masked_scores[0, 0, -1]) and tr.d_k == 6 and tr.scaled
    with pytest.raises(TypeError, match="boolean"):
        trace_attention(q, k, v, mask=mask.int())
