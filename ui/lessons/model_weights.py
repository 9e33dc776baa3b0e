"""One head of a trained language model, step by step: the Explore pages' "weights: a trained model" choice.

The user's sentence goes through the model's own tokenizer, embedding and positions, then through layers
1 … l − 1 of the model itself; X is what layer l's attention reads (after its layer norm in a pre-norm
model). W_Q, W_K, W_V and their biases are head h's slice of the layer's projections (the columns
``split_heads`` gives that head), and the steps are :func:`transformer.trace.trace_self_attention`. Tests
hold the weights equal to the model's own attention record. No Streamlit here.
Shape legend: T tokens, d_model model width, d_k width of one head.
"""

from __future__ import annotations

import torch
from torch import nn

from trainers.checkpoint import CheckpointMeta
from transformer.models import DecoderOnlyLM
from transformer.trace import BlockStage, trace_decoder_block, trace_multihead, trace_self_attention

from .attention import SentenceAttention
from .embeddings import TokenEmbedding
from .multihead import SentenceMultiHead

__all__ = ["MAX_MODEL_TOKENS", "block_input", "head_projections", "layer_input", "model_block",
           "model_head_attention", "model_multihead", "model_supports_steps"]

MAX_MODEL_TOKENS = 24  # the step views draw a dozen T × T and T × d heatmaps: longer sentences are cut


def model_supports_steps(model: nn.Module) -> bool:
    """True for a decoder-only transformer (a course language model or GPT-2): its heads can be traced here."""
    return isinstance(model, DecoderOnlyLM)


def head_projections(mha, head: int) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """Head ``head``'s W_Q, W_K, W_V, each (d_model, d_k) in the row convention (x @ W), and its biases (d_k,).

    The fused (d_model → d_model) layers hold all heads; head h is output features h·d_k … (h+1)·d_k − 1,
    the slice ``MultiHeadAttention.split_heads`` gives it. Raises ValueError for a head outside 0 … H − 1.
    """
    if not 0 <= head < mha.n_heads:
        raise ValueError(f"head must be between 0 and {mha.n_heads - 1}, got {head}")
    rows = slice(head * mha.d_k, (head + 1) * mha.d_k)
    layers = (mha.w_q, mha.w_k, mha.w_v)
    weights = tuple(layer.weight[rows].t() for layer in layers)  # nn.Linear's (out, in) → (d_model, d_k)
    biases = tuple(layer.bias[rows] if layer.bias is not None else torch.zeros(mha.d_k) for layer in layers)
    return weights, biases


@torch.no_grad()
def block_input(model: DecoderOnlyLM, meta: CheckpointMeta, text: str, layer: int, max_tokens: int = MAX_MODEL_TOKENS):
    """What block ``layer`` (0-based) receives for ``text``: ``(tokens, embedding, x (1, T, d_model), mask (T, T)
    or None, cut)``, x before any of the block's layer norms.

    The model's tokenizer (the first ``max_tokens`` tokens; ``cut`` says whether it cut), embedding and
    positions, then layers 0 … layer − 1 of the model itself. Raises ValueError for text that encodes to no
    token or a layer the model lacks.
    """
    if not 0 <= layer < len(model.blocks):
        raise ValueError(f"layer must be between 0 and {len(model.blocks) - 1}, got {layer}")
    ids = meta.encode(text)
    if not ids:
        raise ValueError("the text encodes to no token")
    limit = min(max_tokens, model.config.max_len)
    cut = len(ids) > limit
    ids = ids[:limit]
    T = len(ids)
    batch = torch.tensor([ids])
    mask = model.self_mask(T, 0, batch.device)  # (T, T) causal, or None
    token_vectors = model.embed.token(batch)[0] * model.embed.scale  # (T, d_model)
    positions = model.embed.position.pe[:T] if hasattr(model.embed.position, "pe") else torch.zeros_like(token_vectors)
    x = model.embed(batch)  # (1, T, d_model): token embedding (× √d_model unless GPT-2) + positions
    for block in model.blocks[:layer]:
        x = block(x, self_mask=mask)[0]
    tokens = meta.token_strings(ids)
    embedding = TokenEmbedding(vocab=list(dict.fromkeys(tokens)), ids=batch[0], token_vectors=token_vectors,
                               positions=positions.detach(), x=x[0])
    return tokens, embedding, x, mask, cut


@torch.no_grad()
def layer_input(model: DecoderOnlyLM, meta: CheckpointMeta, text: str, layer: int, max_tokens: int = MAX_MODEL_TOKENS):
    """What layer ``layer`` (0-based)'s attention reads for ``text``: ``(tokens, embedding, x (1, T, d_model),
    mask (T, T) or None, cut)``.

    :func:`block_input`, then the layer's norm in a pre-norm model. Raises ValueError as :func:`block_input`.
    """
    tokens, embedding, x, mask, cut = block_input(model, meta, text, layer, max_tokens)
    block = model.blocks[layer]
    x = block.residual1.norm(x) if block.residual1.norm_first else x  # what this layer's attention reads
    embedding.x = x[0]
    return tokens, embedding, x, mask, cut


@torch.no_grad()
def model_block(
    model: DecoderOnlyLM, meta: CheckpointMeta, text: str, layer: int, max_tokens: int = MAX_MODEL_TOKENS,
) -> tuple[list[str], list[BlockStage], bool]:
    """Block ``layer`` (0-based) of a decoder-only model on ``text``, stage by stage: ``(tokens, stages, cut)``.

    The stages are :func:`transformer.trace.trace_decoder_block` of the model's own block on what it receives
    (:func:`block_input`): input x, layer norms, masked self-attention, residuals, feed-forward hidden
    (1, T, d_ff) and output, block output (1, T, d_model), equal to the block's output inside the model's
    forward pass (tested). Raises ValueError as :func:`block_input`.
    """
    tokens, _embedding, x, mask, cut = block_input(model, meta, text, layer, max_tokens)
    return tokens, trace_decoder_block(model.blocks[layer], x, self_mask=mask), cut


@torch.no_grad()
def model_head_attention(
    model: DecoderOnlyLM, meta: CheckpointMeta, text: str, layer: int, head: int, scale: bool = True,
    max_tokens: int = MAX_MODEL_TOKENS,
) -> tuple[SentenceAttention, bool]:
    """Layer ``layer``'s head ``head`` (0-based) of a decoder-only model on ``text``, every step kept.

    Returns (the steps as a :class:`SentenceAttention` whose trace has x (T, d_model), w_q … (d_model, d_k),
    weights (T, T) …, and whether the text was cut to ``max_tokens`` tokens). The mask is the model's own
    (causal unless it was trained without). ``scale=False`` skips ÷√d_k (the model itself always scales).
    Raises ValueError for text that encodes to no token, or a layer or head the model lacks.
    """
    tokens, embedding, x, mask, cut = layer_input(model, meta, text, layer, max_tokens)
    (w_q, w_k, w_v), biases = head_projections(model.blocks[layer].self_attn, head)
    trace = trace_self_attention(x[0], w_q, w_k, w_v, mask=mask, scale=scale, biases=biases)
    return SentenceAttention(tokens=tokens, is_pad=[False] * len(tokens), embedding=embedding, trace=trace), cut


@torch.no_grad()
def model_multihead(
    model: DecoderOnlyLM, meta: CheckpointMeta, text: str, layer: int, max_tokens: int = MAX_MODEL_TOKENS,
) -> tuple[SentenceMultiHead, bool]:
    """All heads of layer ``layer`` (0-based) on ``text``: the layer's own ``MultiHeadAttention`` step by step
    (:func:`transformer.trace.trace_multihead`) on what it reads. Returns (the result, whether the text was cut).
    Raises ValueError as :func:`layer_input`.
    """
    tokens, embedding, x, mask, cut = layer_input(model, meta, text, layer, max_tokens)
    mha = model.blocks[layer].self_attn
    return SentenceMultiHead(tokens, embedding, mha, trace_multihead(mha, x, mask), mask), cut
