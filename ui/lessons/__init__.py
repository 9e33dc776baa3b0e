"""Lesson builders: what a page computes to teach, beside the pages and outside the core.

The core (``transformer/``) computes and traces; a lesson picks the example and the numbers a page shows:
a sentence through one head, a sweep of d_k, the loop versions side by side, the Understanding Deep
Learning bridges, a sentence through a block, the slope of a cost curve. Lessons call the core and never
import Streamlit (the pages do), so ``tests/test_lessons.py`` runs them as plain functions.

Modules, one per page topic:
``embeddings``  tokens → vectors: embedding lookup, positional tables, a sentence as X (Tokens page);
``attention``   one head on a sentence, masks, the √d_k sweep, the loop versions (Attention, step by step);
``textbook``    Understanding Deep Learning notebooks 12.1 and 12.2 through our core (seed 001);
``multihead``   a sentence through ``MultiHeadAttention``; the course's list of heads beside the fused form;
``blocks``      a sentence through encoder and decoder blocks, layer-norm statistics, parameter counts,
                seed 000's shape trace (Inside a block);
``cost``        the log-log slope of time against T, and the T² guide line (Cost of attention).
"""

from .attention import (
    MASK_KINDS,
    LoopComparison,
    ScalingRow,
    SentenceAttention,
    attention_entropy,
    build_mask,
    compare_loop_versions,
    even_spread_entropy,
    scaling_sweep,
    sentence_attention,
    weight_stats,
)
from .blocks import (
    SentenceBlocks,
    block_parameter_count,
    layer_norm_stats,
    norm_inputs,
    sentence_blocks,
    seq2seq_shape_trace,
    tensor_summary,
)
from .cost import SEED_004_MS, CostSummary, power_law_reference, summarize_cost
from .embeddings import (
    PAD_TOKEN,
    POSITIONAL_KINDS,
    TokenEmbedding,
    embed_tokens,
    embedding_lookup,
    position_similarity,
    positional_table,
    random_projection,
)
from .multihead import SentenceMultiHead, list_of_heads_difference, sentence_multihead
from .textbook import TextbookAttention, TextbookMultiHead, udl_12_1_attention, udl_12_2_multihead

__all__ = [
    "MASK_KINDS",
    "PAD_TOKEN",
    "POSITIONAL_KINDS",
    "SEED_004_MS",
    "CostSummary",
    "LoopComparison",
    "ScalingRow",
    "SentenceAttention",
    "SentenceBlocks",
    "SentenceMultiHead",
    "TextbookAttention",
    "TextbookMultiHead",
    "TokenEmbedding",
    "attention_entropy",
    "block_parameter_count",
    "build_mask",
    "compare_loop_versions",
    "embed_tokens",
    "embedding_lookup",
    "even_spread_entropy",
    "layer_norm_stats",
    "list_of_heads_difference",
    "norm_inputs",
    "position_similarity",
    "positional_table",
    "power_law_reference",
    "random_projection",
    "scaling_sweep",
    "sentence_attention",
    "sentence_blocks",
    "sentence_multihead",
    "seq2seq_shape_trace",
    "summarize_cost",
    "tensor_summary",
    "udl_12_1_attention",
    "udl_12_2_multihead",
    "weight_stats",
]
