"""Layer norm, feed-forward, residual sub-layers and positional encodings.

Shape legend: B batch size, T sequence length, d_model model width, d_ff feed-forward width.

Sources: Ba et al. 2016 (layer normalisation); Vaswani et al. 2017 §3.3 (position-wise feed-forward),
§5.4 (residual dropout), §3.5 (sinusoidal positional encoding); Xiong et al. 2020 (pre-norm vs post-norm);
EECS 498 A5 (the simple n/K positional encoding).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ACTIVATIONS",
    "POSITIONAL_ENCODINGS",
    "FeedForward",
    "LayerNorm",
    "LearnedPositionalEncoding",
    "Residual",
    "SimplePositionalEncoding",
    "SinusoidalPositionalEncoding",
    "make_positional_encoding",
    "simple_positional_encoding",
    "gelu_tanh",
    "sinusoidal_positional_encoding",
]


class LayerNorm(nn.Module):
    """y = γ ⊙ (x − μ) / √(σ² + ε) + β over the last dimension (Ba et al. 2016, eq. 4).

    μ and σ² are the mean and the *biased* variance (divide by d_model, as ``nn.LayerNorm``) of each
    position's features; ε sits inside the square root. x (…, d_model) → (…, d_model).

    :meth:`by_hand` is the formula written out (the teaching version). ``forward`` computes the same with
    ``torch.nn.functional.layer_norm`` (one fused kernel, forward and backward) when ``fused`` is True: the
    hand-written ``var`` alone was 7–9 % of a Shakespeare training step on one CPU thread. Tests hold both
    equal to each other and to ``nn.LayerNorm``. Set ``fused = False`` (on the class or one instance) to
    train with the hand-written version.
    """

    fused: bool = True  # forward via F.layer_norm (same numbers, faster); False = by_hand

    def __init__(self, d_model: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(d_model))  # scale, γ
        self.beta = nn.Parameter(torch.zeros(d_model))  # shift, β

    def by_hand(self, x: Tensor) -> Tensor:
        """The formula step by step: mean, biased variance, normalise, scale and shift."""
        mean = x.mean(dim=-1, keepdim=True)  # (…, 1)
        var = x.var(dim=-1, keepdim=True, unbiased=False)  # (…, 1), biased variance
        return self.gamma * (x - mean) / torch.sqrt(var + self.eps) + self.beta

    def forward(self, x: Tensor) -> Tensor:
        if not self.fused:
            return self.by_hand(x)
        return F.layer_norm(x, self.gamma.shape, self.gamma, self.beta, self.eps)  # (…, d_model)


def gelu_tanh(x: Tensor) -> Tensor:
    """GELU with the tanh approximation, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) — Hendrycks & Gimpel 2016 §2.

    The activation of GPT-2 (its ``gelu_new``); equal to ``nn.GELU(approximate="tanh")``. Elementwise.
    """
    return F.gelu(x, approximate="tanh")


ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu,
    "gelu": F.gelu,  # exact: x·Φ(x), Φ the standard normal CDF
    "gelu_tanh": gelu_tanh,  # GPT-2's tanh approximation
}


class FeedForward(nn.Module):
    """FFN(x) = act(x W_1 + b_1) W_2 + b_2 — Vaswani et al. 2017 eq. 2 (ReLU), GELU or GPT-2's tanh GELU.

    (B, T, d_model) → (B, T, d_ff) → (B, T, d_model). Dropout after the activation, as PyTorch's
    ``nn.TransformerEncoderLayer``. ``activation`` is a name of ``ACTIVATIONS``: "relu", "gelu" (exact)
    or "gelu_tanh" (Hendrycks & Gimpel's tanh approximation, GPT-2). Raises ValueError for another name.
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu") -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        self.activation = ACTIVATIONS[activation]

    def forward(self, x: Tensor) -> Tensor:
        hidden = self.dropout(self.activation(self.linear1(x)))  # (B, T, d_ff)
        return self.linear2(hidden)  # (B, T, d_model)


class Residual(nn.Module):
    """A residual connection around a sub-layer, with its layer norm placed before or after.

    pre-norm  (``norm_first=True``, seed 000 and GPT-2):  x + dropout(sublayer(norm(x)))
    post-norm (``norm_first=False``, Vaswani et al. §3.1; dropout §5.4): norm(x + dropout(sublayer(x)))
    x (B, T, d_model); ``sublayer`` maps (B, T, d_model) → (B, T, d_model). ``layer_norm_eps`` is the
    norm's ε (1e-5 as ``nn.LayerNorm`` and GPT-2).
    """

    def __init__(self, d_model: int, dropout: float = 0.0, norm_first: bool = True, layer_norm_eps: float = 1e-5) -> None:
        super().__init__()
        self.norm = LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout)
        self.norm_first = norm_first

    def forward(self, x: Tensor, sublayer: Callable[[Tensor], Tensor]) -> Tensor:
        if self.norm_first:
            return x + self.dropout(sublayer(self.norm(x)))
        return self.norm(x + self.dropout(sublayer(x)))


# --------------------------------------------------------------------------------------------------
# Positional encodings
# --------------------------------------------------------------------------------------------------
def sinusoidal_positional_encoding(max_len: int, d_model: int) -> Tensor:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(…) — Vaswani et al. §3.5.

    Returns (max_len, d_model). Works for odd d_model (the last cosine column is dropped).
    """
    position = torch.arange(max_len, dtype=torch.float32)[:, None]  # (max_len, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)  # (ceil(d_model/2),)
    angle = position / torch.pow(10000.0, two_i / d_model)  # (max_len, ceil(d_model/2))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe


def simple_positional_encoding(K: int, M: int) -> Tensor:
    """The course's simple encoding (EECS 498 A5): position n of K gets the value n / K in every dim.

    Returns (1, K, M): values 0, 1/K, …, (K−1)/K along the sequence.
    """
    values = torch.arange(K, dtype=torch.float32) / K  # (K,)
    return values[None, :, None].expand(1, K, M).contiguous()  # (1, K, M)


class SinusoidalPositionalEncoding(nn.Module):
    """Adds the fixed sinusoidal encoding to embeddings, then dropout (Vaswani et al. §3.5, §5.4).

    x (B, T, d_model) → (B, T, d_model); ``offset`` is the position of x's first token (for decoding
    with a cache). Raises ValueError when offset + T exceeds max_len.
    """

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model), persistent=False)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        return self.dropout(x + _positions(self.pe, x.shape[1], offset))


class SimplePositionalEncoding(nn.Module):
    """Adds the course's n / K encoding, K = max_len (EECS 498 A5), then dropout.

    x (B, T, d_model) → (B, T, d_model). Raises ValueError when offset + T exceeds max_len.
    """

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", simple_positional_encoding(max_len, d_model)[0], persistent=False)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        return self.dropout(x + _positions(self.pe, x.shape[1], offset))


class LearnedPositionalEncoding(nn.Module):
    """Adds a learned embedding of each position (Gehring et al. 2017; GPT), then dropout.

    x (B, T, d_model) → (B, T, d_model). Raises ValueError when offset + T exceeds max_len.
    """

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.embedding = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.embedding.weight, std=0.02)

    @property
    def pe(self) -> Tensor:
        """The current table of position vectors, (max_len, d_model)."""
        return self.embedding.weight

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        return self.dropout(x + _positions(self.embedding.weight, x.shape[1], offset))


POSITIONAL_ENCODINGS = {
    "sinusoidal": SinusoidalPositionalEncoding,
    "simple": SimplePositionalEncoding,
    "learned": LearnedPositionalEncoding,
}


def make_positional_encoding(kind: str, d_model: int, max_len: int, dropout: float = 0.0) -> nn.Module:
    """Build one of ``POSITIONAL_ENCODINGS`` by name. Raises ValueError for an unknown kind."""
    if kind not in POSITIONAL_ENCODINGS:
        raise ValueError(f"positional encoding must be one of {sorted(POSITIONAL_ENCODINGS)}, got {kind!r}")
    return POSITIONAL_ENCODINGS[kind](d_model, max_len=max_len, dropout=dropout)


def _positions(table: Tensor, T: int, offset: int) -> Tensor:
    if offset + T > table.shape[0]:
        raise ValueError(
            f"the sequence reaches position {offset + T}, but the model was built for at most "
            f"max_len={table.shape[0]} positions"
        )
    return table[offset : offset + T]  # (T, d_model), broadcasts over the batch
