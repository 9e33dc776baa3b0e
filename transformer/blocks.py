"""Encoder and decoder blocks (Vaswani et al. 2017 §3.1, Figure 1).

Shape legend: B batch, T (T_src, T_tgt) sequence lengths, H heads, d_model model width.
Each sub-layer is wrapped in :class:`~transformer.layers.Residual`, pre-norm or post-norm.
"""

from __future__ import annotations

from torch import Tensor, nn

from .attention import KVCache, MultiHeadAttention
from .layers import FeedForward, Residual

__all__ = ["DecoderBlock", "EncoderBlock"]


class EncoderBlock(nn.Module):
    """Self-attention then feed-forward, each with a residual connection and layer norm (§3.1).

    Same computation as ``nn.TransformerEncoderLayer`` (batch_first) for either norm placement.
    ``layer_norm_eps`` is ε of both layer norms (``nn.TransformerEncoderLayer``'s ``layer_norm_eps``).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        norm_first: bool = True,
        activation: str = "relu",
        layer_norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.residual1 = Residual(d_model, dropout, norm_first, layer_norm_eps)
        self.ff = FeedForward(d_model, d_ff, dropout, activation)
        self.residual2 = Residual(d_model, dropout, norm_first, layer_norm_eps)

    def forward(
        self, x: Tensor, mask: Tensor | None = None, need_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """x (B, T, d_model); mask bool broadcastable to (B, H, T, T), True = may attend.

        Returns (x (B, T, d_model), self-attention weights (B, H, T, T) or None).
        """
        weights: dict[str, Tensor | None] = {}

        def self_attention(h: Tensor) -> Tensor:
            out, weights["self"] = self.self_attn(h, h, h, mask=mask, need_weights=need_weights)
            return out

        x = self.residual1(x, self_attention)
        x = self.residual2(x, self.ff)
        return x, weights["self"]


class DecoderBlock(nn.Module):
    """Masked self-attention, cross-attention over the encoder's output, then feed-forward (§3.1).

    With ``cross_attention=False`` it is a decoder-only (GPT-style) block: masked self-attention and
    feed-forward. With cross-attention it computes the same as ``nn.TransformerDecoderLayer``.
    ``layer_norm_eps`` is ε of its layer norms.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        norm_first: bool = True,
        activation: str = "relu",
        cross_attention: bool = True,
        layer_norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.residual1 = Residual(d_model, dropout, norm_first, layer_norm_eps)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout) if cross_attention else None
        self.residual2 = Residual(d_model, dropout, norm_first, layer_norm_eps) if cross_attention else None
        self.ff = FeedForward(d_model, d_ff, dropout, activation)
        self.residual3 = Residual(d_model, dropout, norm_first, layer_norm_eps)

    def forward(
        self,
        x: Tensor,
        memory: Tensor | None = None,
        self_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        need_weights: bool = False,
        cache: KVCache | None = None,
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """x (B, T_tgt, d_model); memory (B, T_src, d_model), the encoder's output.

        self_mask: bool broadcastable to (B, H, T_tgt, T_tgt) (usually the causal mask);
        memory_mask: bool broadcastable to (B, H, T_tgt, T_src) (usually the source padding mask).
        ``cache`` holds the self-attention keys/values of earlier positions (incremental decoding).
        Returns (x (B, T_tgt, d_model), self-attention weights (B, H, T_tgt, T_tgt) or None,
        cross-attention weights (B, H, T_tgt, T_src) or None).
        Raises ValueError when a cross-attention block gets no memory.
        """
        weights: dict[str, Tensor | None] = {"self": None, "cross": None}

        def self_attention(h: Tensor) -> Tensor:
            out, weights["self"] = self.self_attn(h, mask=self_mask, need_weights=need_weights, cache=cache)
            return out

        def cross_attention(h: Tensor) -> Tensor:
            out, weights["cross"] = self.cross_attn(
                h, memory, memory, mask=memory_mask, need_weights=need_weights
            )
            return out

        x = self.residual1(x, self_attention)
        if self.cross_attn is not None:
            if memory is None:
                raise ValueError("this decoder block has cross-attention and needs the encoder output (memory)")
            x = self.residual2(x, cross_attention)
        x = self.residual3(x, self.ff)
        return x, weights["self"], weights["cross"]
