"""Lessons of the Inside a block page: a sentence through an encoder and a decoder block, layer-norm
statistics, parameter counts, and seed 000's whole-model shape trace.

The stages come from :func:`transformer.trace.trace_encoder_block` / :func:`~transformer.trace.trace_decoder_block`.
Shape legend: T sequence length, B batch, H heads (n_heads), d_model model width, d_k width of one
head's queries and keys, d_v width of its values, d_ff feed-forward width, V vocabulary size.
Row convention throughout (one token per row, as PyTorch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from transformer.attention import causal_mask
from transformer.blocks import DecoderBlock, EncoderBlock
from transformer.models import Seq2SeqTransformer, TransformerConfig
from transformer.trace import BlockStage, trace_decoder_block, trace_encoder_block

from .embeddings import embed_tokens, generator

__all__ = [
    "SentenceBlocks",
    "block_parameter_count",
    "layer_norm_stats",
    "norm_inputs",
    "sentence_blocks",
    "seq2seq_shape_trace",
    "tensor_summary",
]


def block_parameter_count(d_model: int, d_ff: int, cross_attention: bool = False) -> dict[str, int]:
    """Parameters of one :class:`~transformer.blocks.EncoderBlock` (or a ``DecoderBlock``), by kind.

    ``weights``: 4·d² per attention (W_Q, W_K, W_V, W_O) + 2·d·d_ff (the feed-forward layer's W_1, W_2);
    ``biases``: 4·d per attention + d_ff + d; ``layer_norm``: γ and β (2·d) per layer norm (two, or three
    with cross-attention). ``total`` = their sum = ``sum(p.numel() for p in block.parameters())`` (tested).
    The number of heads does not appear: H heads of d_model / H cost what one full-width head costs.
    """
    if d_model < 1 or d_ff < 1:
        raise ValueError(f"d_model and d_ff must be positive, got {d_model} and {d_ff}")
    n_attention = 2 if cross_attention else 1
    weights = n_attention * 4 * d_model * d_model + 2 * d_model * d_ff
    biases = n_attention * 4 * d_model + d_ff + d_model
    layer_norm = (n_attention + 1) * 2 * d_model
    return {"weights": weights, "biases": biases, "layer_norm": layer_norm, "total": weights + biases + layer_norm}


def layer_norm_stats(x: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and standard deviation of each position's features: (…, d_model) → ((…,), (…,)).

    The biased standard deviation (divide by d_model), as layer norm uses (Ba et al. 2016).
    """
    return x.mean(dim=-1), x.var(dim=-1, unbiased=False).sqrt()


def tensor_summary(t: Tensor) -> dict[str, float]:
    """Mean, standard deviation (biased), min, max and the fraction of exact zeros of a tensor's entries."""
    t = t.detach().float()
    return {
        "mean": float(t.mean()),
        "std": float(t.std(unbiased=False)) if t.numel() > 1 else 0.0,
        "min": float(t.min()),
        "max": float(t.max()),
        "zero_fraction": float((t == 0).float().mean()),
    }


def norm_inputs(stages: Sequence[BlockStage]) -> list[tuple[str, Tensor, Tensor]]:
    """For every LayerNorm stage of a block trace: (its name, the tensor it normalised, its output)."""
    return [(s.name, stages[s.inputs[0]].tensor, s.tensor) for s in stages if s.kind == "norm"]


@dataclass
class SentenceBlocks:
    """A sentence through one encoder block and one decoder block (that reads the encoder's output)."""

    tokens: list[str]
    x: Tensor  # (1, T, d_model): the embedded sentence
    encoder: EncoderBlock
    decoder: DecoderBlock
    encoder_stages: list[BlockStage]
    decoder_stages: list[BlockStage]


def sentence_blocks(
    tokens: Sequence[str],
    d_model: int,
    n_heads: int,
    d_ff: int,
    norm_first: bool = True,
    seed: int = 0,
    positional: str | None = "sinusoidal",
) -> SentenceBlocks:
    """Embed ``tokens`` and pass them through a fresh (seeded) ``EncoderBlock``; then the same tokens, as the
    decoder's input under the causal mask, through a ``DecoderBlock`` whose memory is the encoder's output.

    Both blocks use ``norm_first`` (pre-norm True, post-norm False) and are in eval mode (no dropout).
    Raises ValueError for invalid sizes (d_model not divisible by n_heads, …) or empty tokens.
    """
    if d_ff < 1:
        raise ValueError(f"d_ff must be positive, got {d_ff}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = EncoderBlock(d_model, n_heads, d_ff, norm_first=norm_first).eval()
        decoder = DecoderBlock(d_model, n_heads, d_ff, norm_first=norm_first).eval()
    x = embed_tokens(tokens, d_model, seed, positional).x[None]  # (1, T, d_model)
    enc = trace_encoder_block(encoder, x)
    dec = trace_decoder_block(decoder, x, memory=enc[-1].tensor, self_mask=causal_mask(x.shape[1]))
    return SentenceBlocks(list(tokens), x, encoder, decoder, enc, dec)


def seq2seq_shape_trace(
    d_model: int = 32,
    n_heads: int = 4,
    d_ff: int = 64,
    n_layers: int = 2,
    norm_first: bool = True,
    vocab_size: int = 10,
    batch: int = 2,
    length: int = 5,
    seed: int = 0,
) -> list[tuple[str, tuple[int, ...]]]:
    """Seed 000's ``python model.py`` check: random tokens (batch, length) through a random encoder-decoder.

    Returns :meth:`Seq2SeqTransformer.trace_shapes`, ending with the logits (batch, length, vocab_size)
    — (2, 5, 10) by default. Raises ValueError (from :class:`TransformerConfig`) for invalid sizes, e.g.
    d_model not divisible by n_heads.
    """
    config = TransformerConfig(
        vocab_size=vocab_size, d_model=d_model, n_heads=n_heads, n_layers=n_layers, d_ff=d_ff,
        dropout=0.1, norm_first=norm_first, layout="encoder-decoder",
    )
    with torch.random.fork_rng(devices=[]):  # the model initialises from the global generator
        torch.manual_seed(seed)
        model = Seq2SeqTransformer(config).eval()
    gen = generator(seed)
    src = torch.randint(0, vocab_size, (batch, length), generator=gen)
    tgt = torch.randint(0, vocab_size, (batch, length), generator=gen)
    return model.trace_shapes(src, tgt)
