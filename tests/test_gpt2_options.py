"""The core's GPT-2 options, each equal to PyTorch: tanh GELU, layer-norm ε, no √d_model scaling, no output bias.

The defaults stay the course models' behaviour (ReLU, ε = 1e-5, embeddings × √d_model, a biased output layer).
"""

import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from transformer.blocks import DecoderBlock, EncoderBlock
from transformer.layers import ACTIVATIONS, FeedForward, gelu_tanh
from transformer.models import DecoderOnlyLM, Seq2SeqTransformer, TransformerConfig

from .test_layers_blocks import copy_mha, copy_norm, randomise


def test_gelu_tanh_equals_torch_and_differs_from_exact_gelu():
    x = torch.linspace(-6, 6, 1001)
    assert_close(gelu_tanh(x), nn.GELU(approximate="tanh")(x), atol=0, rtol=0)
    # the formula itself (Hendrycks & Gimpel 2016 §2)
    formula = 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    assert_close(gelu_tanh(x), formula, atol=1e-6, rtol=1e-6)
    gap = (gelu_tanh(x) - nn.GELU()(x)).abs().max().item()
    assert 1e-4 < gap < 1e-3  # a real, small difference: the two are not the same function
    assert set(ACTIVATIONS) == {"relu", "gelu", "gelu_tanh"}


def test_feedforward_with_gelu_tanh_equals_a_torch_mlp():
    ours = FeedForward(8, 32, activation="gelu_tanh")
    randomise(ours)
    theirs = nn.Sequential(nn.Linear(8, 32), nn.GELU(approximate="tanh"), nn.Linear(32, 8))
    theirs[0].load_state_dict(ours.linear1.state_dict())
    theirs[2].load_state_dict(ours.linear2.state_dict())
    x = torch.randn(2, 5, 8)
    assert_close(ours(x), theirs(x), atol=1e-6, rtol=1e-6)
    with pytest.raises(ValueError, match="gelu_tanh"):
        FeedForward(8, 32, activation="swish")


@pytest.mark.parametrize("eps", [1e-5, 1e-2])
def test_encoder_block_layer_norm_eps_and_tanh_gelu_equal_nn_transformer_encoder_layer(eps):
    ours = EncoderBlock(16, 4, 32, norm_first=True, activation="gelu_tanh", layer_norm_eps=eps)
    randomise(ours)
    theirs = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True, norm_first=True,
                                        activation=nn.GELU(approximate="tanh"), layer_norm_eps=eps)
    with torch.no_grad():
        copy_mha(ours.self_attn, theirs.self_attn)
        copy_norm(ours.residual1.norm, theirs.norm1)
        copy_norm(ours.residual2.norm, theirs.norm2)
        theirs.linear1.load_state_dict(ours.ff.linear1.state_dict())
        theirs.linear2.load_state_dict(ours.ff.linear2.state_dict())
    ours.eval(), theirs.eval()
    x = torch.randn(2, 6, 16) * 0.05  # small activations: ε = 1e-2 then changes the output visibly
    assert ours.residual1.norm.eps == eps and ours.residual2.norm.eps == eps
    assert_close(ours(x)[0], theirs(x), atol=1e-5, rtol=1e-5)


def test_decoder_block_passes_eps_to_all_its_norms():
    block = DecoderBlock(8, 2, 16, layer_norm_eps=1e-3)
    assert {block.residual1.norm.eps, block.residual2.norm.eps, block.residual3.norm.eps} == {1e-3}


def _gpt2_like(**overrides) -> TransformerConfig:
    options = dict(vocab_size=11, d_model=8, n_heads=2, n_layers=2, d_ff=32, dropout=0.0, max_len=16,
                   positional="learned", activation="gelu_tanh", tie_embeddings=True, layer_norm_eps=1e-3,
                   scale_embeddings=False, lm_head_bias=False)
    return TransformerConfig(**(options | overrides))


def test_decoder_only_lm_with_gpt2_options_equals_a_torch_built_reference():
    """Embedding without × √d_model, learned positions, pre-norm blocks (torch's layers), final norm, tied head."""
    torch.manual_seed(0)
    model = DecoderOnlyLM(_gpt2_like()).eval()
    randomise(model)
    c = model.config
    assert model.embed.scale == 1.0 and model.lm_head.bias is None
    assert model.lm_head.weight is model.embed.token.weight
    layers = []
    for block in model.blocks:
        layer = nn.TransformerEncoderLayer(c.d_model, c.n_heads, c.d_ff, dropout=0.0, batch_first=True,
                                           norm_first=True, activation=nn.GELU(approximate="tanh"),
                                           layer_norm_eps=c.layer_norm_eps)
        with torch.no_grad():
            copy_mha(block.self_attn, layer.self_attn)
            copy_norm(block.residual1.norm, layer.norm1)
            copy_norm(block.residual3.norm, layer.norm2)
            layer.linear1.load_state_dict(block.ff.linear1.state_dict())
            layer.linear2.load_state_dict(block.ff.linear2.state_dict())
        layers.append(layer.eval())
    final = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps)
    with torch.no_grad():
        copy_norm(model.final_norm, final)
    ids = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6]])
    T = ids.shape[1]
    with torch.no_grad():
        x = model.embed.token.weight[ids] + model.embed.position.embedding.weight[:T]  # no √d_model
        causal = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
        for layer in layers:
            x = layer(x, src_mask=causal, is_causal=True)
        expected = final(x) @ model.embed.token.weight.T  # tied, no bias
        assert_close(model(ids), expected, atol=3e-4, rtol=1e-4)  # logits of size ~10: float32 rounding


def test_scaling_and_output_bias_change_the_logits_and_default_to_the_course_behaviour():
    default = TransformerConfig(vocab_size=11)
    assert (default.scale_embeddings, default.lm_head_bias, default.layer_norm_eps) == (True, True, 1e-5)
    assert DecoderOnlyLM(default).embed.scale == math.sqrt(default.d_model)
    assert Seq2SeqTransformer(TransformerConfig(vocab_size=11, layout="encoder-decoder")).lm_head.bias is not None
    torch.manual_seed(1)
    scaled = DecoderOnlyLM(_gpt2_like(scale_embeddings=True)).eval()
    plain = DecoderOnlyLM(_gpt2_like()).eval()
    plain.load_state_dict(scaled.state_dict())
    ids = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        assert_close(scaled.embed(ids), plain.embed.token(ids) * math.sqrt(8) + plain.embed.position.pe[:3])
        assert not torch.allclose(scaled(ids), plain(ids), atol=1e-3)


def test_config_rejects_a_bad_eps_and_round_trips_the_new_fields():
    with pytest.raises(ValueError, match="layer_norm_eps"):
        _gpt2_like(layer_norm_eps=0)
    config = _gpt2_like()
    assert TransformerConfig.from_dict(config.to_dict()) == config
    old = {k: v for k, v in config.to_dict().items() if k not in ("layer_norm_eps", "scale_embeddings", "lm_head_bias")}
    restored = TransformerConfig.from_dict(old)  # a checkpoint saved before these options existed
    assert (restored.layer_norm_eps, restored.scale_embeddings, restored.lm_head_bias) == (1e-5, True, True)


def test_one_query_fast_path_and_no_grad_projections_equal_the_fused_kernels():
    """Sampling steps (one query, no gradients) skip the stacked Q/K/V weight and the flash kernel: same numbers."""
    from transformer.attention import KVCache, MultiHeadAttention

    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4).eval()
    x = torch.randn(2, 7, 16)
    with torch.enable_grad():
        fused = mha(x)[0]  # training-style path: one stacked product, F.scaled_dot_product_attention
    with torch.no_grad():
        cache = KVCache()
        mha(x[:, :6], cache=cache)
        step, none = mha(x[:, 6:], cache=cache)  # one query against 7 cached keys: the small-product path
        assert none is None
        assert_close(step, fused[:, 6:], atol=1e-6, rtol=1e-5)
        assert_close(mha(x)[0], fused, atol=1e-6, rtol=1e-5)
    lm = DecoderOnlyLM(_gpt2_like())
    assert lm.self_mask(1, 5, torch.device("cpu")) is None  # one new token may see every cached one
    assert lm.self_mask(2, 5, torch.device("cpu")).shape == (2, 7)
