"""Transformer Classroom's core: attention and the Transformer written out in plain PyTorch.

No Streamlit here (``tests/test_core_is_pure.py`` checks every module): pages import this package; it
never imports them, nor ``ui/`` or ``app_pages/``. What builds a page's lesson (sentence examples, sweeps,
the bridges to Understanding Deep Learning) lives with the pages, in ``ui/lessons/``.

Modules, in the order of the course:
``attention``  the homework file: masks, the loop and no-loop versions, ``scaled_dot_product_attention``,
               ``SelfAttention(dim_in, dim_q, dim_v)``, ``MultiHeadAttention`` (fused) and the course's
               list-of-heads form (EECS 498 A5 / Fudan Lab3 names);
``layers``     layer norm, feed-forward, residuals, positional encodings;
``blocks``     encoder and decoder blocks;
``models``     encoder-decoder and decoder-only models, their config and typed attention records;
``sampling``   temperature, top-k, top-p and the decoder-only generation loop;
``decoding``   greedy and beam search for encoder-decoders (translation, AddSub);
``trace``      every intermediate tensor of attention, multi-head attention and a block, for the step views
               (tested equal to the modules it mirrors);
``cost``       time and memory of attention against sequence length;
``textbook``   Understanding Deep Learning ch. 12 in NumPy (the book's column convention).
"""

from .attention import (
    KVCache,
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
from .blocks import DecoderBlock, EncoderBlock
from .decoding import Hypothesis, beam_search, greedy_search
from .layers import FeedForward, LayerNorm, Residual
from .models import AttentionRecord, DecoderOnlyLM, Seq2SeqTransformer, TransformerConfig, build_model
from .trace import AttentionTrace, trace_attention, trace_self_attention

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
    "ListOfHeadsMultiHeadAttention",
    "MultiHeadAttention",
    "Residual",
    "SelfAttention",
    "Seq2SeqTransformer",
    "TransformerConfig",
    "beam_search",
    "build_model",
    "causal_mask",
    "combine_masks",
    "greedy_search",
    "padding_mask",
    "scaled_dot_product_attention",
    "scaled_dot_product_no_loop_batch",
    "scaled_dot_product_two_loop_batch",
    "scaled_dot_product_two_loop_single",
    "trace_attention",
    "trace_self_attention",
]
