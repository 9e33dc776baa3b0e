"""Tracing: every intermediate tensor of attention, multi-head attention and a block, for the step views.

The model files (:mod:`transformer.attention`, :mod:`transformer.blocks`) compute; this module re-runs the
same computations one step at a time and keeps each step, so that a page can show X, Q, K, V, the scores,
the scaling, the mask, the softmax and the output, or every stage of a block. Each trace is tested equal to
the module it mirrors (``tests/test_trace.py``): :func:`trace_attention` to
:func:`~transformer.attention.scaled_dot_product_attention`, :func:`trace_multihead` to
:class:`~transformer.attention.MultiHeadAttention`, :func:`trace_encoder_block` /
:func:`trace_decoder_block` to :class:`~transformer.blocks.EncoderBlock` / ``DecoderBlock``.
All traced tensors are detached (the traces run under ``torch.no_grad``).

Shape legend: B batch, H heads (n_heads), T sequence length (T_q queries, T_k keys), d_model model width,
d_k width of one head's queries and keys, d_v width of its values, d_ff feed-forward width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .attention import MultiHeadAttention, scaled_dot_product_attention
from .blocks import DecoderBlock, EncoderBlock

__all__ = [
    "AttentionTrace",
    "BlockStage",
    "MultiHeadTrace",
    "trace_attention",
    "trace_decoder_block",
    "trace_encoder_block",
    "trace_multihead",
    "trace_self_attention",
]


# --------------------------------------------------------------------------------------------------
# Scaled dot-product attention, step by step
# --------------------------------------------------------------------------------------------------
@dataclass
class AttentionTrace:
    """Every intermediate of one attention call, so a page can show each step.

    All tensors are detached. With q (…, T_q, d_k), k (…, T_k, d_k), v (…, T_k, d_v):
      scores        (…, T_q, T_k)  Q Kᵀ
      scaled_scores (…, T_q, T_k)  Q Kᵀ / √d_k (equal to ``scores`` when scaling is off)
      masked_scores (…, T_q, T_k)  scaled scores with −inf where the mask forbids attending
      weights       (…, T_q, T_k)  softmax over the keys (each row sums to 1; all-masked rows are 0)
      output        (…, T_q, d_v)  weights · V
    ``x`` and ``w_q``/``w_k``/``w_v`` are filled in by :func:`trace_self_attention`.
    """

    q: Tensor
    k: Tensor
    v: Tensor
    scores: Tensor
    scaled_scores: Tensor
    masked_scores: Tensor
    weights: Tensor
    output: Tensor
    d_k: int
    scaled: bool
    mask: Tensor | None = None
    x: Tensor | None = None
    w_q: Tensor | None = None
    w_k: Tensor | None = None
    w_v: Tensor | None = None


@torch.no_grad()
def trace_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, scale: bool = True
) -> AttentionTrace:
    """:func:`~transformer.attention.scaled_dot_product_attention` (no dropout) one step at a time, every step kept.

    Shapes as in :func:`~transformer.attention.scaled_dot_product_attention`; see :class:`AttentionTrace` for
    the fields. Its weights and output equal that function's (tested). Raises ValueError on mismatched widths
    or lengths, TypeError on a non-boolean mask.
    """
    output, weights = scaled_dot_product_attention(q, k, v, mask=mask, scale=scale)  # checks the shapes and mask
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1)  # (…, T_q, d_k) @ (…, d_k, T_k) -> (…, T_q, T_k)
    scaled = scores / math.sqrt(d_k) if scale else scores
    masked = scaled if mask is None else scaled.masked_fill(~mask, float("-inf"))
    return AttentionTrace(
        q=q.detach(),
        k=k.detach(),
        v=v.detach(),
        scores=scores,
        scaled_scores=scaled,
        masked_scores=masked,
        weights=weights,
        output=output,
        d_k=d_k,
        scaled=scale,
        mask=mask,
    )


def trace_self_attention(
    x: Tensor,
    w_q: Tensor,
    w_k: Tensor,
    w_v: Tensor,
    mask: Tensor | None = None,
    scale: bool = True,
    biases: tuple[Tensor, Tensor, Tensor] | None = None,
) -> AttentionTrace:
    """Single-head self-attention from the inputs, row convention: Q = X W_Q, K = X W_K, V = X W_V.

    x (…, T, d_model); w_q, w_k (d_model, d_k); w_v (d_model, d_v). ``biases`` (b_Q (d_k,), b_K (d_k,),
    b_V (d_v,)), as a trained model's ``nn.Linear`` projections have: Q = X W_Q + b_Q, and so on.
    Returns the full :class:`AttentionTrace`, including x and the three weight matrices.
    Raises ValueError when the widths do not line up.
    """
    for name, w in (("W_Q", w_q), ("W_K", w_k), ("W_V", w_v)):
        if w.shape[0] != x.shape[-1]:
            raise ValueError(f"{name} has {w.shape[0]} rows but the inputs have width d_model={x.shape[-1]}")
    q, k, v = x @ w_q, x @ w_k, x @ w_v  # (…, T, d_model) @ (d_model, d_k) -> (…, T, d_k)
    if biases is not None:
        q, k, v = q + biases[0], k + biases[1], v + biases[2]
    trace = trace_attention(q, k, v, mask=mask, scale=scale)
    trace.x, trace.w_q, trace.w_k, trace.w_v = x.detach(), w_q.detach(), w_k.detach(), w_v.detach()
    return trace


# --------------------------------------------------------------------------------------------------
# Multi-head attention, step by step
# --------------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------------
# A block, stage by stage
# --------------------------------------------------------------------------------------------------
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
