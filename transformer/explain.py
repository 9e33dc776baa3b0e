"""Small computations behind the explorer pages: every number a page shows comes from here or the core.

The pages (``app_pages/``) hold widgets only; whatever they display that is not a direct call into
:mod:`transformer.attention`, :mod:`transformer.layers`, :mod:`transformer.blocks` or
:mod:`transformer.models` is computed by one of these functions, each tested in ``tests/test_explain.py``.

Shape legend: T sequence length, B batch, H heads (n_heads), d_model model width, d_k width of one
head's queries and keys, d_v width of its values, d_ff feed-forward width, V vocabulary size.
Row convention throughout (one token per row, as PyTorch); :mod:`transformer.textbook` holds the
Understanding Deep Learning column convention, and the ``udl_*`` functions here bridge the two.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from .attention import (
    AttentionTrace,
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
from .cost import CostRow, fit_loglog_slope
from .layers import LearnedPositionalEncoding, simple_positional_encoding, sinusoidal_positional_encoding
from .models import Seq2SeqTransformer, TransformerConfig
from .textbook import self_attention, udl_example_12_1, udl_example_12_2

__all__ = [
    "MASK_KINDS",
    "POSITIONAL_KINDS",
    "PAD_TOKEN",
    "BlockStage",
    "CostSummary",
    "LoopComparison",
    "MultiHeadTrace",
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
    "norm_inputs",
    "tensor_summary",
    "SEED_004_MS",
    "positional_table",
    "power_law_reference",
    "position_similarity",
    "random_projection",
    "scaling_sweep",
    "sentence_attention",
    "sentence_blocks",
    "sentence_multihead",
    "seq2seq_shape_trace",
    "summarize_cost",
    "trace_decoder_block",
    "trace_encoder_block",
    "trace_multihead",
    "udl_12_1_attention",
    "udl_12_2_multihead",
    "weight_stats",
]

MASK_KINDS = ("none", "causal", "padding")
POSITIONAL_KINDS = ("sinusoidal", "simple", "learned")
PAD_TOKEN = "[PAD]"


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


# --------------------------------------------------------------------------------------------------
# Tokens → vectors
# --------------------------------------------------------------------------------------------------
@dataclass
class TokenEmbedding:
    """A sentence as vectors: x = embedding[ids] (+ positional encoding).

    vocab: the distinct tokens in order of first appearance (id = index); ids (T,);
    token_vectors (T, d_model) the embedding rows; positions (T, d_model) (zeros when none is added);
    x (T, d_model) = token_vectors + positions.
    """

    vocab: list[str]
    ids: Tensor
    token_vectors: Tensor
    positions: Tensor
    x: Tensor


def embedding_lookup(ids: Tensor, vocab_size: int, d_model: int, seed: int = 0) -> Tensor:
    """Rows ``ids`` of a random N(0, 1) embedding table E (vocab_size, d_model), as ``nn.Embedding``.

    ids (…,) integers in [0, vocab_size) → (…, d_model). The same seed gives the same table.
    Raises ValueError for ids outside the vocabulary or a non-positive size.
    """
    if vocab_size < 1 or d_model < 1:
        raise ValueError(f"vocab_size and d_model must be positive, got {vocab_size} and {d_model}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"token ids must lie in [0, {vocab_size})")
    table = torch.randn(vocab_size, d_model, generator=_generator(seed))  # (V, d_model), nn.Embedding's init
    return nn.functional.embedding(ids, table)  # (…, d_model)


def positional_table(kind: str, length: int, d_model: int, seed: int = 0) -> Tensor:
    """The positional encodings of positions 0 … length−1 as a (length, d_model) table.

    kind: "sinusoidal" (Vaswani et al. §3.5), "simple" (the course's n/K with K = length, EECS 498 A5)
    or "learned" (an ``nn.Embedding`` of positions, here at its random initialisation, N(0, 0.02²):
    training would shape it). Raises ValueError for an unknown kind or non-positive sizes.
    """
    if length < 1 or d_model < 1:
        raise ValueError(f"length and d_model must be positive, got {length} and {d_model}")
    if kind == "sinusoidal":
        return sinusoidal_positional_encoding(length, d_model)
    if kind == "simple":
        return simple_positional_encoding(length, d_model)[0]  # (length, d_model)
    if kind == "learned":
        with torch.random.fork_rng(devices=[]):  # the module initialises from the global generator
            torch.manual_seed(seed)
            return LearnedPositionalEncoding(d_model, max_len=length).pe.detach().clone()
    raise ValueError(f"positional encoding must be one of {POSITIONAL_KINDS}, got {kind!r}")


def position_similarity(table: Tensor, cosine: bool = False) -> Tensor:
    """Dot product of every position's encoding with every other's: P Pᵀ, (T, d) → (T, T).

    With ``cosine`` each row is first scaled to unit length (so the diagonal is 1).
    """
    if cosine:
        table = table / table.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return table @ table.T  # (T, d) @ (d, T) -> (T, T)


def embed_tokens(tokens: Sequence[str], d_model: int, seed: int = 0, positional: str | None = "sinusoidal") -> TokenEmbedding:
    """Turn a list of tokens into the matrix X (T, d_model) that attention reads.

    Each distinct token gets an id (order of first appearance) and a row of a random N(0, 1) embedding
    table (:func:`embedding_lookup`), so a repeated word gets the same vector; then the positional
    encoding ``positional`` (see :func:`positional_table`, or None for none) is added.
    Raises ValueError for an empty list or d_model < 1.
    """
    if not tokens:
        raise ValueError("there are no tokens to embed: the text is empty")
    vocab: list[str] = list(dict.fromkeys(tokens))
    index = {tok: i for i, tok in enumerate(vocab)}
    ids = torch.tensor([index[t] for t in tokens])  # (T,)
    vectors = embedding_lookup(ids, len(vocab), d_model, seed)  # (T, d_model)
    if positional is None:
        positions = torch.zeros_like(vectors)
    else:
        positions = positional_table(positional, len(tokens), d_model, seed)
    return TokenEmbedding(vocab=vocab, ids=ids, token_vectors=vectors, positions=positions, x=vectors + positions)


def random_projection(d_in: int, d_out: int, seed: int) -> Tensor:
    """A random weight matrix W (d_in, d_out) with entries N(0, 1/d_in), so x W keeps unit variance."""
    if d_in < 1 or d_out < 1:
        raise ValueError(f"matrix sizes must be positive, got ({d_in}, {d_out})")
    return torch.randn(d_in, d_out, generator=_generator(seed)) / math.sqrt(d_in)


# --------------------------------------------------------------------------------------------------
# Single-head attention on a sentence
# --------------------------------------------------------------------------------------------------
def build_mask(kind: str, T: int, is_pad: Sequence[bool] | None = None) -> Tensor | None:
    """The attention mask of a page's choice, True = may attend.

    "none" → None; "causal" → (T, T) lower-triangular (:func:`~transformer.attention.causal_mask`);
    "padding" → the key padding mask (1, T): no query may attend to a key whose ``is_pad`` is True
    (:func:`~transformer.attention.padding_mask`). Raises ValueError for an unknown kind, or for
    "padding" without an ``is_pad`` of length T.
    """
    if kind == "none":
        return None
    if kind == "causal":
        return causal_mask(T)
    if kind == "padding":
        if is_pad is None or len(is_pad) != T:
            raise ValueError("a padding mask needs one is_pad flag per token")
        flags = torch.tensor([[1 if p else 0 for p in is_pad]])  # (1, T), 1 = the padding token
        return padding_mask(flags, pad_id=1)[0, 0]  # (1, T)
    raise ValueError(f"mask must be one of {MASK_KINDS}, got {kind!r}")


@dataclass
class SentenceAttention:
    """One head of self-attention on a sentence: the tokens, their embedding and the full trace."""

    tokens: list[str]  # (T,) including any [PAD] tokens
    is_pad: list[bool]  # (T,)
    embedding: TokenEmbedding
    trace: AttentionTrace  # x (T, d_model), w_q/w_k (d_model, d_k), w_v (d_model, d_v), … (T, T) …


def sentence_attention(
    tokens: Sequence[str],
    d_model: int,
    d_k: int,
    seed: int = 0,
    mask: str = "none",
    n_pad: int = 0,
    scale: bool = True,
    positional: str | None = "sinusoidal",
) -> SentenceAttention:
    """Self-attention of one random head over a sentence (Vaswani et al. eq. 1; the mask as §3.2.3), every step kept.

    The sentence gets ``n_pad`` [PAD] tokens appended (they matter with mask="padding"), is embedded by
    :func:`embed_tokens`, and projected by W_Q, W_K, W_V = :func:`random_projection` (d_v = d_k), seeds
    ``seed`` + 1, 2, 3. Returns a :class:`SentenceAttention`. Raises ValueError for empty tokens,
    non-positive sizes or an unknown mask.
    """
    if n_pad < 0:
        raise ValueError(f"n_pad must be at least 0, got {n_pad}")
    all_tokens = [*tokens, *([PAD_TOKEN] * n_pad)]
    is_pad = [False] * len(tokens) + [True] * n_pad
    emb = embed_tokens(all_tokens, d_model, seed, positional)
    w_q, w_k, w_v = (random_projection(d_model, d_k, seed + i) for i in (1, 2, 3))
    m = build_mask(mask, len(all_tokens), is_pad)
    trace = trace_self_attention(emb.x, w_q, w_k, w_v, mask=m, scale=scale)
    return SentenceAttention(tokens=all_tokens, is_pad=is_pad, embedding=emb, trace=trace)


def attention_entropy(weights: Tensor) -> Tensor:
    """Entropy −Σ_j a_ij ln a_ij of each row of attention weights, in nats: (…, T_q, T_k) → (…, T_q).

    0 when a query puts all its weight on one key; ln T_k when it spreads evenly. Zero weights
    (masked keys, all-masked rows) contribute 0.
    """
    logs = torch.where(weights > 0, weights.log(), torch.zeros_like(weights))
    return -(weights * logs).sum(dim=-1)


def even_spread_entropy(mask: Tensor | None, T_q: int, T_k: int) -> Tensor:
    """The largest entropy each query row can have, in nats: ln(number of keys it may attend to), (T_q,).

    A row that spreads its weight evenly over its n allowed keys has entropy ln n: ln T_k without a mask,
    ln(i + 1) for row i under a causal mask (it sees keys 0 … i), ln(T_k − padding) under a key padding
    mask. ``mask``: bool broadcastable to (T_q, T_k), True = may attend, or None. A row with no allowed
    key gets 0.
    """
    if T_q < 1 or T_k < 1:
        raise ValueError(f"T_q and T_k must be at least 1, got {T_q} and {T_k}")
    allowed = torch.ones(T_q, T_k, dtype=torch.bool) if mask is None else mask.to(torch.bool).expand(T_q, T_k)
    counts = allowed.sum(dim=-1).to(torch.float64)  # (T_q,)
    return torch.where(counts > 0, counts.clamp(min=1).log(), torch.zeros_like(counts))


def weight_stats(weights: Tensor) -> tuple[float, float]:
    """(mean over queries of the largest weight, mean over queries of the entropy in nats)."""
    return float(weights.max(dim=-1).values.mean()), float(attention_entropy(weights).mean())


@dataclass
class ScalingRow:
    """What scaling does at one width d_k: mean largest weight and mean entropy over random rows."""

    d_k: int
    scaled: bool
    max_weight: float
    entropy: float
    score_std: float  # standard deviation of the scores fed to the softmax


def scaling_sweep(d_ks: Sequence[int], T: int, samples: int = 64, seed: int = 0) -> list[ScalingRow]:
    """Why divide by √d_k (Vaswani et al. §3.2.1): softmax statistics as d_k grows, scaled vs not.

    For each d_k, ``samples`` random queries and T random keys with N(0, 1) entries: the dot products
    q·k have variance d_k, so without scaling the softmax saturates (largest weight → 1, entropy → 0);
    dividing by √d_k keeps the variance at 1. Returns two rows per d_k (scaled False, True).
    Raises ValueError when T < 1 or a d_k < 1.
    """
    if T < 1 or any(d < 1 for d in d_ks):
        raise ValueError("T and every d_k must be at least 1")
    gen = _generator(seed)
    rows = []
    for d_k in d_ks:
        q = torch.randn(samples, 1, d_k, generator=gen)  # (samples, 1, d_k)
        k = torch.randn(samples, T, d_k, generator=gen)  # (samples, T, d_k)
        for scaled in (False, True):
            scores = (q @ k.transpose(-2, -1)).squeeze(1)  # (samples, T)
            if scaled:
                scores = scores / math.sqrt(d_k)
            weights = torch.softmax(scores, dim=-1)
            max_w, ent = weight_stats(weights)
            rows.append(ScalingRow(d_k, scaled, max_w, ent, float(scores.std()) if scores.numel() > 1 else 0.0))
    return rows


@dataclass
class LoopComparison:
    """Outputs of the course's loop versions and the vectorised one on the same inputs."""

    outputs: dict[str, Tensor]  # name → output (T, d_v)
    max_abs_diff: dict[str, float]  # name → max |output − vectorised output|


def compare_loop_versions(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> LoopComparison:
    """Run two-loop single, two-loop batch (batch of 1) and the vectorised attention, always scaled.

    q (T, d_k), k (T, d_k), v (T, d_v); mask bool broadcastable to (T, T), True = may attend.
    """
    with torch.no_grad():
        vectorised, _ = scaled_dot_product_attention(q, k, v, mask=mask)
        outputs = {
            "scaled_dot_product_two_loop_single": scaled_dot_product_two_loop_single(q, k, v, mask),
            "scaled_dot_product_two_loop_batch": scaled_dot_product_two_loop_batch(q[None], k[None], v[None], mask)[0],
            "scaled_dot_product_attention": vectorised,
        }
    diffs = {name: float((out - vectorised).abs().max()) if out.numel() else 0.0 for name, out in outputs.items()}
    return LoopComparison(outputs=outputs, max_abs_diff=diffs)


# --------------------------------------------------------------------------------------------------
# Understanding Deep Learning ch. 12, through our row-convention core
# --------------------------------------------------------------------------------------------------
@dataclass
class TextbookAttention:
    """UDL notebook 12.1 computed by :func:`~transformer.attention.trace_attention` (row convention).

    trace: q, k, v (N, D), scores (N, N), weights (N, N) (rows sum to 1), output (N, D), float64;
    expected (N, D): the notebook's printed values, transposed to rows; difference = output − expected;
    numpy_reference (N, D): :func:`transformer.textbook.self_attention` (column convention), transposed.
    params: Ω and β as in the book (columns).
    """

    trace: AttentionTrace
    x: Tensor  # (N, D), one input per row (the book's X is (D, N))
    params: dict
    expected: Tensor
    difference: Tensor
    numpy_reference: Tensor
    decimals: int


def udl_12_1_attention() -> TextbookAttention:
    """UDL notebook 12.1 (seed 001 part 1): Q = X Ω_qᵀ + β_qᵀ, …, unscaled softmax(Q Kᵀ) V.

    The book writes X′ = V · Softmax[Kᵀ Q] with inputs as columns and the softmax over each column;
    with one input per row that is softmax(Q Kᵀ) over each row, times V: the same numbers, transposed.
    """
    ex = udl_example_12_1()
    p = ex.params
    x = torch.from_numpy(ex.X.T.copy())  # (N, D) float64
    q = x @ torch.from_numpy(p["omega_q"].T) + torch.from_numpy(p["beta_q"].T)  # (N, D) @ (D, D) + (1, D)
    k = x @ torch.from_numpy(p["omega_k"].T) + torch.from_numpy(p["beta_k"].T)
    v = x @ torch.from_numpy(p["omega_v"].T) + torch.from_numpy(p["beta_v"].T)
    trace = trace_attention(q, k, v, scale=False)
    trace.x = x
    expected = torch.from_numpy(ex.expected.T.copy())  # (N, D)
    reference = self_attention(ex.X, p["omega_v"], p["omega_q"], p["omega_k"], p["beta_v"], p["beta_q"], p["beta_k"])
    return TextbookAttention(
        trace=trace,
        x=x,
        params=p,
        expected=expected,
        difference=trace.output - expected,
        numpy_reference=torch.from_numpy(reference.T.copy()),
        decimals=ex.decimals,
    )


@dataclass
class MultiHeadTrace:
    """Every intermediate of one :class:`~transformer.attention.MultiHeadAttention` call.

    x (B, T, d_model); q, k, v (B, H, T, d_k) after ``split_heads``; weights (B, H, T, T);
    head_outputs (B, H, T, d_k); concat (B, T, d_model) after ``merge_heads``; output (B, T, d_model)
    after W_O. ``shapes`` lists (stage, shape) in order, for the page's annotations.
    """

    x: Tensor
    q: Tensor
    k: Tensor
    v: Tensor
    weights: Tensor
    head_outputs: Tensor
    concat: Tensor
    output: Tensor
    shapes: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)


@torch.no_grad()
def trace_multihead(mha: MultiHeadAttention, x: Tensor, mask: Tensor | None = None) -> MultiHeadTrace:
    """Self-attention through ``mha`` step by step: project, split into heads, attend, merge, W_O.

    x (B, T, d_model); mask bool broadcastable to (B, H, T, T). The output equals
    ``mha(x, mask=mask, need_weights=True)`` (tested).
    """
    q = mha.split_heads(mha.w_q(x))  # (B, H, T, d_k)
    k = mha.split_heads(mha.w_k(x))  # (B, H, T, d_k)
    v = mha.split_heads(mha.w_v(x))  # (B, H, T, d_k)
    head_outputs, weights = scaled_dot_product_attention(q, k, v, mask=mask)  # (B, H, T, d_k), (B, H, T, T)
    concat = mha.merge_heads(head_outputs)  # (B, T, d_model)
    output = mha.w_o(concat)  # (B, T, d_model)
    shapes = [
        ("x", tuple(x.shape)),
        ("Q = x W_Q, split into heads", tuple(q.shape)),
        ("K = x W_K, split into heads", tuple(k.shape)),
        ("V = x W_V, split into heads", tuple(v.shape)),
        ("attention weights per head", tuple(weights.shape)),
        ("head outputs", tuple(head_outputs.shape)),
        ("concatenated heads", tuple(concat.shape)),
        ("output = concat W_O", tuple(output.shape)),
    ]
    return MultiHeadTrace(x, q, k, v, weights, head_outputs, concat, output, shapes)


@dataclass
class TextbookMultiHead:
    """UDL notebook 12.2 computed by our :class:`MultiHeadAttention` with the book's weights copied in.

    trace: :class:`MultiHeadTrace` (B=1, H=2, T=N=6, d_model=D=8), float64; expected (N, D): the
    notebook's values transposed to rows (3 decimals); difference = output − expected.
    """

    trace: MultiHeadTrace
    expected: Tensor
    difference: Tensor
    decimals: int


def udl_12_2_multihead() -> TextbookMultiHead:
    """UDL notebook 12.2 (seed 001 part 2) through ``MultiHeadAttention(8, 2)``.

    The book's per-head Ω_qh (D/H × D) are stacked into W_Q's weight (D × D) — head h owns output rows
    h·d_k … (h+1)·d_k, exactly what ``split_heads`` cuts — the β into the bias, Ω_c into W_O (no bias).
    Heads are scaled by √(D/H), as the book's eq. 12.11.
    """
    ex = udl_example_12_2()
    heads, omega_c = ex.params["heads"], ex.params["omega_c"]
    D, N = ex.X.shape
    mha = MultiHeadAttention(D, len(heads)).double().eval()
    with torch.no_grad():
        for i, name in enumerate(("q", "k", "v")):
            layer = getattr(mha, f"w_{name}")
            layer.weight.copy_(torch.from_numpy(np.vstack([h[i] for h in heads])))  # (D, D)
            layer.bias.copy_(torch.from_numpy(np.vstack([h[3 + i] for h in heads])[:, 0]))  # (D,)
        mha.w_o.weight.copy_(torch.from_numpy(omega_c))
        mha.w_o.bias.zero_()
    x = torch.from_numpy(ex.X.T.copy())[None]  # (1, N, D)
    trace = trace_multihead(mha, x)
    expected = torch.from_numpy(ex.expected.T.copy())  # (N, D)
    return TextbookMultiHead(trace=trace, expected=expected, difference=trace.output[0] - expected, decimals=ex.decimals)


@dataclass
class SentenceMultiHead:
    """Multi-head self-attention of a random :class:`MultiHeadAttention` over a sentence."""

    tokens: list[str]
    embedding: TokenEmbedding
    module: MultiHeadAttention  # in eval mode; w_o.weight is (d_model, d_model)
    trace: MultiHeadTrace  # B = 1


def sentence_multihead(
    tokens: Sequence[str],
    d_model: int,
    n_heads: int,
    seed: int = 0,
    mask: str = "none",
    positional: str | None = "sinusoidal",
) -> SentenceMultiHead:
    """Embed ``tokens`` (:func:`embed_tokens`) and run a freshly initialised ``MultiHeadAttention(d_model,
    n_heads)`` (seeded, without touching the global generator) over them, every step kept.

    mask: "none" or "causal". Raises ValueError when d_model is not divisible by n_heads (the message says
    which head counts would work), for empty tokens or an unknown mask.
    """
    if mask not in ("none", "causal"):
        raise ValueError(f"mask must be 'none' or 'causal', got {mask!r}")
    with torch.random.fork_rng(devices=[]):  # nn.Linear initialises from the global generator
        torch.manual_seed(seed)
        mha = MultiHeadAttention(d_model, n_heads).eval()
    emb = embed_tokens(tokens, d_model, seed, positional)
    x = emb.x[None]  # (1, T, d_model)
    m = build_mask(mask, x.shape[1])
    return SentenceMultiHead(list(tokens), emb, mha, trace_multihead(mha, x, m))


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


# --------------------------------------------------------------------------------------------------
# Inside a block
# --------------------------------------------------------------------------------------------------
def layer_norm_stats(x: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and standard deviation of each position's features: (…, d_model) → ((…,), (…,)).

    The biased standard deviation (divide by d_model), as layer norm uses (Ba et al. 2016).
    """
    return x.mean(dim=-1), x.var(dim=-1, unbiased=False).sqrt()


@dataclass
class BlockStage:
    """One stage of a block's forward pass: a name, the tensor, and which earlier stages feed it.

    ``inputs`` are indices into the same stage list: one for most stages, two for a residual addition
    (the skip path first, then the sub-layer's output), and the encoder memory too for cross-attention.
    """

    name: str
    tensor: Tensor
    kind: str  # "input", "norm", "attention", "residual", "ffn", "output": for the diagram's styling
    inputs: tuple[int, ...] = ()

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.tensor.shape)


def _add(stages: list[BlockStage], name: str, tensor: Tensor, kind: str, inputs: tuple[int, ...]) -> int:
    stages.append(BlockStage(name, tensor, kind, inputs))
    return len(stages) - 1


def _sublayer_stages(
    residual: nn.Module, x: Tensor, x_idx: int, sublayer, label: str, kind: str, stages: list[BlockStage]
) -> tuple[Tensor, int]:
    """x → residual(x, sublayer) with each step recorded, in ``Residual.forward``'s order.

    ``sublayer(h, h_idx)`` returns (output, indices of the stages it read). Returns (new x, its index).
    """
    if residual.norm_first:  # pre-norm: x + sublayer(norm(x))
        h = residual.norm(x)
        h_idx = _add(stages, f"LayerNorm before {label}", h, "norm", (x_idx,))
        out, out_inputs = sublayer(h, h_idx)
        out_idx = _add(stages, label, out, kind, out_inputs)
        y = x + out
        return y, _add(stages, f"x + {label} (residual)", y, "residual", (x_idx, out_idx))
    out, out_inputs = sublayer(x, x_idx)  # post-norm: norm(x + sublayer(x))
    out_idx = _add(stages, label, out, kind, out_inputs)
    y = x + out
    y_idx = _add(stages, f"x + {label} (residual)", y, "residual", (x_idx, out_idx))
    h = residual.norm(y)
    return h, _add(stages, f"LayerNorm after {label}", h, "norm", (y_idx,))


def _ffn_sublayer(block: nn.Module, stages: list[BlockStage]):
    def ffn(h: Tensor, h_idx: int) -> tuple[Tensor, tuple[int, ...]]:
        hidden = block.ff.activation(block.ff.linear1(h))  # (B, T, d_ff)
        hidden_idx = _add(stages, "feed-forward hidden, after the activation", hidden, "ffn", (h_idx,))
        return block.ff.linear2(hidden), (hidden_idx,)  # (B, T, d_model)

    return ffn


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


@torch.no_grad()
def trace_encoder_block(block: EncoderBlock, x: Tensor, mask: Tensor | None = None) -> list[BlockStage]:
    """Every stage of ``block(x)`` (pre- or post-norm as the block was built), in order.

    x (B, T, d_model). The last stage's tensor equals ``block(x, mask)[0]`` with the block in eval mode
    (tested). Stage names say which norm placement produced them.
    """
    stages = [BlockStage("input x", x, "input")]

    def attention(h: Tensor, h_idx: int) -> tuple[Tensor, tuple[int, ...]]:
        return block.self_attn(h, mask=mask)[0], (h_idx,)

    x, x_idx = _sublayer_stages(block.residual1, x, 0, attention, "self-attention", "attention", stages)
    _, x_idx = _sublayer_stages(block.residual2, x, x_idx, _ffn_sublayer(block, stages), "feed-forward", "ffn", stages)
    _add(stages, "block output", stages[x_idx].tensor, "output", (x_idx,))
    return stages


@torch.no_grad()
def trace_decoder_block(
    block: DecoderBlock,
    x: Tensor,
    memory: Tensor | None = None,
    self_mask: Tensor | None = None,
    memory_mask: Tensor | None = None,
) -> list[BlockStage]:
    """Every stage of ``block(x, memory, self_mask, memory_mask)``: masked self-attention, cross-attention, FFN.

    x (B, T_tgt, d_model), memory (B, T_src, d_model); masks as :meth:`DecoderBlock.forward`. The last
    stage's tensor equals the block's output in eval mode (tested).
    """
    stages = [BlockStage("input x", x, "input")]
    mem_idx = None
    if memory is not None:
        mem_idx = _add(stages, "encoder output (memory)", memory, "input", ())

    def self_attention(h: Tensor, h_idx: int) -> tuple[Tensor, tuple[int, ...]]:
        return block.self_attn(h, mask=self_mask)[0], (h_idx,)

    def cross_attention(h: Tensor, h_idx: int) -> tuple[Tensor, tuple[int, ...]]:
        return block.cross_attn(h, memory, memory, mask=memory_mask)[0], (h_idx, mem_idx)

    x, x_idx = _sublayer_stages(block.residual1, x, 0, self_attention, "masked self-attention", "attention", stages)
    if block.cross_attn is not None:
        if memory is None:
            raise ValueError("this decoder block has cross-attention and needs the encoder output (memory)")
        x, x_idx = _sublayer_stages(block.residual2, x, x_idx, cross_attention, "cross-attention", "attention", stages)
    _, x_idx = _sublayer_stages(block.residual3, x, x_idx, _ffn_sublayer(block, stages), "feed-forward", "ffn", stages)
    _add(stages, "block output", stages[x_idx].tensor, "output", (x_idx,))
    return stages


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
        dropout=0.1, norm_first=norm_first, arch="encoder-decoder",
    )
    with torch.random.fork_rng(devices=[]):  # the model initialises from the global generator
        torch.manual_seed(seed)
        model = Seq2SeqTransformer(config).eval()
    gen = _generator(seed)
    src = torch.randint(0, vocab_size, (batch, length), generator=gen)
    tgt = torch.randint(0, vocab_size, (batch, length), generator=gen)
    return model.trace_shapes(src, tgt)


# --------------------------------------------------------------------------------------------------
# Cost of attention
# --------------------------------------------------------------------------------------------------
@dataclass
class CostSummary:
    """Per path: the fitted log-log slope of time against T, and what it means for doubling T."""

    path: str
    slope: float | None  # None with fewer than two lengths
    doubling_factor: float | None  # 2 ** slope: time multiplies by this when T doubles
    lengths: list[int]
    seconds: list[float]


SEED_004_MS = {256: 63.1, 512: 254.0}  # seed 004's measured times of the no-loop attention (ms)


def summarize_cost(rows: Sequence[CostRow], min_length: int = 1) -> list[CostSummary]:
    """Group :func:`~transformer.cost.measure_attention_cost` rows by path and fit each slope.

    Only lengths ≥ ``min_length`` enter the fit (at small T fixed costs flatten the curve). A slope of 2
    means time ∝ T²: doubling T multiplies the time by 2² = 4 (seed 004 measured 254 ms / 63.1 ms ≈ 4.0
    for T = 512 vs 256, :data:`SEED_004_MS`).
    """
    by_path: dict[str, list[CostRow]] = {}
    for row in rows:
        if row.T >= min_length:
            by_path.setdefault(row.path, []).append(row)
    out = []
    for path, group in by_path.items():
        group = sorted(group, key=lambda r: r.T)
        lengths, seconds = [r.T for r in group], [r.seconds for r in group]
        slope = None
        if len(set(lengths)) >= 2 and min(seconds) > 0:
            slope = fit_loglog_slope(lengths, seconds)
        out.append(CostSummary(path, slope, None if slope is None else 2.0**slope, lengths, seconds))
    return out


def power_law_reference(lengths: Sequence[int], anchor_length: int, anchor_value: float, exponent: float = 2.0) -> list[float]:
    """value(T) = anchor_value · (T / anchor_length)^exponent: the T² guide line of a log-log chart."""
    if anchor_length <= 0:
        raise ValueError("anchor_length must be positive")
    return [anchor_value * (T / anchor_length) ** exponent for T in lengths]
