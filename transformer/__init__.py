"""Transformer Classroom's core: attention and the Transformer written out in plain PyTorch.

No Streamlit here: pages import this package; it never imports them.
Modules: ``attention`` (scaled dot-product attention, masks, multi-head attention), ``layers`` (layer
norm, feed-forward, residuals, positional encodings), ``blocks`` (encoder and decoder blocks),
``models`` (encoder-decoder and decoder-only models), ``sampling`` (temperature, top-k, top-p,
decoding loops), ``decoding`` (greedy and beam search for translation) and ``textbook`` (Understanding Deep Learning ch. 12 in NumPy).
"""

from .attention import (
    AttentionTrace,
    KVCache,
    MultiHeadAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
    scaled_dot_product_two_loop_batch,
    scaled_dot_product_two_loop_single,
    trace_attention,
    trace_self_attention,
)
from .blocks import DecoderBlock, EncoderBlock
from .decoding import Hypothesis, beam_search, greedy_search
from .layers import FeedForward, LayerNorm, Residual
from .models import AttentionRecord, DecoderOnlyLM, Seq2SeqTransformer, TransformerConfig, build_model

__all__ = [
    "AttentionRecord",
    "AttentionTrace",
    "DecoderBlock",
    "DecoderOnlyLM",
    "EncoderBlock",
    "FeedForward",
    "Hypothesis",
    "KVCache",
    "LayerNorm",
    "MultiHeadAttention",
    "Residual",
    "Seq2SeqTransformer",
    "TransformerConfig",
    "beam_search",
    "build_model",
    "causal_mask",
    "greedy_search",
    "padding_mask",
    "scaled_dot_product_attention",
    "scaled_dot_product_two_loop_batch",
    "scaled_dot_product_two_loop_single",
    "trace_attention",
    "trace_self_attention",
]
