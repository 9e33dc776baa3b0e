"""The encoder-decoder Transformer and a decoder-only language model.

Shape legend: B batch, T_src / T_tgt / T sequence lengths, H heads, V vocabulary size, d_model width.

Sources: Vaswani et al. 2017 (encoder-decoder, Figure 1; embeddings scaled by √d_model, §3.4);
Radford et al. 2018/2019 (decoder-only language model, pre-norm, tied embeddings as Press & Wolf 2017).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

import torch
from torch import Tensor, nn

from .attention import KVCache, causal_mask, combine_masks, padding_mask
from .blocks import DecoderBlock, EncoderBlock
from .layers import ACTIVATIONS, POSITIONAL_ENCODINGS, LayerNorm, make_positional_encoding

__all__ = [
    "AdaptiveInput",
    "AdaptiveSoftmaxHead",
    "AttentionRecord",
    "DecoderOnlyLM",
    "Seq2SeqTransformer",
    "TransformerConfig",
    "build_model",
    "check_adaptive_cutoffs",
]


def check_adaptive_cutoffs(cutoffs: list[int], vocab_size: int, div_value: float) -> list[int]:
    """Validate adaptive-softmax cutoffs (Grave et al. 2017) for a vocabulary of ``vocab_size`` ids; returns them as a list.

    Raises:
        ValueError: cutoffs that are not increasing whole numbers between 1 and vocab_size − 1, or a
            ``div_value`` below 1. Shared by :class:`TransformerConfig` and the LSTM baseline's config.
    """
    cutoffs = list(cutoffs)
    if not cutoffs or any(not isinstance(c, int) for c in cutoffs) or cutoffs != sorted(set(cutoffs)):
        raise ValueError(f"adaptive_cutoffs must be increasing whole numbers, got {cutoffs!r}")
    if cutoffs[0] < 1 or cutoffs[-1] >= vocab_size:
        raise ValueError(f"adaptive_cutoffs must lie between 1 and vocab_size - 1 = {vocab_size - 1}, got {cutoffs!r}")
    if div_value < 1.0:
        raise ValueError(f"adaptive_div_value must be ≥ 1, got {div_value}")
    return cutoffs


@dataclass
class TransformerConfig:
    """Hyper-parameters of a Transformer; validated on creation (raises ValueError with a sentence)."""

    vocab_size: int  # V: target vocabulary (and source vocabulary unless src_vocab_size is set)
    d_model: int = 128  # width of every token vector
    n_heads: int = 4  # attention heads per layer; d_k = d_model / n_heads
    n_layers: int = 2  # decoder layers (and encoder layers unless n_encoder_layers is set)
    d_ff: int = 512  # hidden width of the feed-forward layer
    dropout: float = 0.1  # dropout on embeddings, attention weights and sub-layer outputs
    max_len: int = 256  # longest sequence the positional encoding covers
    positional: str = "sinusoidal"  # "sinusoidal" (§3.5), "simple" (course n/K) or "learned"
    norm_first: bool = True  # True: pre-norm x + f(norm(x)); False: post-norm norm(x + f(x)) as the paper
    activation: str = "relu"  # feed-forward activation: "relu", "gelu" (exact) or "gelu_tanh" (GPT-2's approximation)
    tie_embeddings: bool = False  # share the output projection with the (target) input embedding
    share_embeddings: bool = False  # encoder-decoder: source and target share one token embedding (one vocabulary)
    causal: bool = True  # decoder self-attention uses the causal mask (off lets an LM see the future)
    pad_id: int | None = None  # id of the padding token, masked out as a key when set
    src_vocab_size: int | None = None  # source vocabulary of an encoder-decoder (default: vocab_size)
    n_encoder_layers: int | None = None  # encoder layers of an encoder-decoder (default: n_layers)
    layout: str = "decoder"  # "decoder" (decoder-only LM) or "encoder-decoder" (older configs: "arch")
    # Adaptive softmax (Grave et al. 2017) for large vocabularies, decoder-only models: None = an ordinary
    # linear output layer; e.g. [2000, 10000] = a head of the 2,000 most frequent ids (ids must be sorted
    # by frequency) and tail clusters 2000-9999 and 10000-(V-1) of width d_model / div_value**(i+1).
    adaptive_cutoffs: list[int] | None = None
    adaptive_div_value: float = 4.0  # how much narrower each tail cluster is than the one before
    # Options GPT-2 needs (Radford et al. 2019 §2.3); the defaults are the course models' behaviour.
    layer_norm_eps: float = 1e-5  # ε inside every layer norm's square root (GPT-2: 1e-5)
    scale_embeddings: bool = True  # multiply token embeddings by √d_model (Vaswani §3.4); GPT-2 does not
    lm_head_bias: bool = True  # the output layer has a bias; GPT-2's tied output layer has none

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "n_heads", "n_layers", "d_ff", "max_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive whole number, got {value!r}")
        if self.d_model % self.n_heads != 0:
            raise ValueError(
                f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}: "
                f"each head gets d_k = d_model / n_heads dimensions"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout is a probability in [0, 1), got {self.dropout}")
        if self.positional not in POSITIONAL_ENCODINGS:
            raise ValueError(f"positional must be one of {sorted(POSITIONAL_ENCODINGS)}, got {self.positional!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if not (isinstance(self.layer_norm_eps, int | float) and 0 < self.layer_norm_eps < 1):
            raise ValueError(f"layer_norm_eps must be a small positive number, got {self.layer_norm_eps!r}")
        if self.layout not in ("decoder", "encoder-decoder"):
            raise ValueError(f"layout must be 'decoder' or 'encoder-decoder', got {self.layout!r}")
        for name in ("src_vocab_size", "n_encoder_layers"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive whole number or None, got {value!r}")
        if self.share_embeddings:
            if self.layout != "encoder-decoder":
                raise ValueError("share_embeddings joins the source and target embeddings of an encoder-decoder; "
                                 "a decoder-only model has one embedding already")
            if self.src_vocab_size not in (None, self.vocab_size):
                raise ValueError(
                    f"share_embeddings needs one vocabulary for source and target, but src_vocab_size="
                    f"{self.src_vocab_size} differs from vocab_size={self.vocab_size}"
                )
        if self.pad_id is not None and not 0 <= self.pad_id < max(self.vocab_size, self.src_vocab_size or 0):
            raise ValueError(f"pad_id={self.pad_id} is not a token id of the vocabulary")
        if self.adaptive_cutoffs is not None:
            if self.layout != "decoder":
                raise ValueError("adaptive_cutoffs (adaptive softmax) is offered for the decoder-only model only")
            self.adaptive_cutoffs = check_adaptive_cutoffs(self.adaptive_cutoffs, self.vocab_size, self.adaptive_div_value)

    @property
    def d_k(self) -> int:
        """Width of one head: d_model / n_heads."""
        return self.d_model // self.n_heads

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (for checkpoints)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TransformerConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ValueError naming them.

        Configs saved before ``layout`` was renamed call it ``arch``; that key is read as ``layout``.
        """
        if "arch" in data and "layout" not in data:
            data = {("layout" if k == "arch" else k): v for k, v in data.items()}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown TransformerConfig fields: {unknown}")
        return cls(**data)


@dataclass
class AttentionRecord:
    """Attention weights of every layer, each (B, H, T_q, T_k); lists are indexed by layer.

    encoder_self: encoder self-attention (T_src × T_src); decoder_self: decoder masked self-attention
    (T_tgt × T_tgt); cross: decoder cross-attention over the encoder's output (T_tgt × T_src).
    A decoder-only model fills only ``decoder_self``.
    """

    encoder_self: list[Tensor] = field(default_factory=list)
    decoder_self: list[Tensor] = field(default_factory=list)
    cross: list[Tensor] = field(default_factory=list)

    def kinds(self) -> list[str]:
        """Names of the non-empty kinds, in model order."""
        return [k for k in ("encoder_self", "decoder_self", "cross") if getattr(self, k)]


class _Embedding(nn.Module):
    """Token embedding × √d_model (§3.4; × 1 when ``scale_embeddings`` is off, as GPT-2) plus a positional
    encoding, then dropout."""

    def __init__(self, vocab_size: int, config: TransformerConfig) -> None:
        super().__init__()
        self.token = nn.Embedding(vocab_size, config.d_model)
        nn.init.normal_(self.token.weight, std=config.d_model**-0.5)  # unit variance after the × √d_model
        self.scale = math.sqrt(config.d_model) if config.scale_embeddings else 1.0
        self.position = make_positional_encoding(
            config.positional, config.d_model, config.max_len, config.dropout
        )

    def forward(self, ids: Tensor, offset: int = 0) -> Tensor:
        return self.position(self.token(ids) * self.scale, offset=offset)  # (B, T, d_model)


def _check_ids(ids: Tensor, vocab_size: int, what: str) -> None:
    if ids.dim() != 2:
        raise ValueError(f"{what} must be token ids of shape (B, T), got {tuple(ids.shape)}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"{what} holds ids outside the vocabulary [0, {vocab_size})")


def _init_linear(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class Seq2SeqTransformer(nn.Module):
    """Encoder-decoder Transformer (Vaswani et al. 2017, Figure 1), pre- or post-norm.

    forward(src (B, T_src), tgt (B, T_tgt)) → logits (B, T_tgt, V); the decoder reads ``tgt`` under the
    causal mask (teacher forcing: feed tgt[:, :-1], predict tgt[:, 1:]). With ``share_embeddings`` the source
    and target embeddings are one matrix, and with ``tie_embeddings`` too the output layer as well: the
    three-way sharing of Vaswani et al. 2017 §3.4 over a shared (joint) BPE vocabulary.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        n_enc = c.n_encoder_layers or c.n_layers
        self.src_embed = _Embedding(c.src_vocab_size or c.vocab_size, c)
        self.tgt_embed = _Embedding(c.vocab_size, c)
        self.encoder = nn.ModuleList(
            EncoderBlock(c.d_model, c.n_heads, c.d_ff, c.dropout, c.norm_first, c.activation, c.layer_norm_eps)
            for _ in range(n_enc)
        )
        self.decoder = nn.ModuleList(
            DecoderBlock(c.d_model, c.n_heads, c.d_ff, c.dropout, c.norm_first, c.activation,
                         layer_norm_eps=c.layer_norm_eps)
            for _ in range(c.n_layers)
        )
        # Pre-norm stacks end with a layer norm (the last residual adds an un-normalised sub-layer output).
        self.encoder_norm = LayerNorm(c.d_model, eps=c.layer_norm_eps) if c.norm_first else nn.Identity()
        self.decoder_norm = LayerNorm(c.d_model, eps=c.layer_norm_eps) if c.norm_first else nn.Identity()
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=c.lm_head_bias)
        self.apply(_init_linear)
        if c.share_embeddings:  # Vaswani et al. 2017 §3.4: one matrix for both embeddings (shared BPE vocabulary)
            self.src_embed.token.weight = self.tgt_embed.token.weight
        if c.tie_embeddings:
            self.lm_head.weight = self.tgt_embed.token.weight

    def source_mask(self, src: Tensor) -> Tensor | None:
        """Key padding mask of the source, (B, 1, 1, T_src), or None when the config has no pad_id."""
        return None if self.config.pad_id is None else padding_mask(src, self.config.pad_id)

    def target_mask(self, tgt: Tensor) -> Tensor | None:
        """Causal mask (T_tgt, T_tgt), combined with the target's padding mask → (B, 1, T_tgt, T_tgt)."""
        causal = causal_mask(tgt.shape[1], device=tgt.device) if self.config.causal else None
        pad = None if self.config.pad_id is None else padding_mask(tgt, self.config.pad_id)  # (B, 1, 1, T_tgt)
        return combine_masks(causal, pad)

    def encode(
        self, src: Tensor, record: AttentionRecord | None = None
    ) -> Tensor:
        """src (B, T_src) → memory (B, T_src, d_model). Appends encoder self-attention to ``record``."""
        _check_ids(src, self.src_embed.token.num_embeddings, "src")
        mask = self.source_mask(src)
        x = self.src_embed(src)
        for block in self.encoder:
            x, weights = block(x, mask=mask, need_weights=record is not None)
            if record is not None:
                record.encoder_self.append(weights)
        return self.encoder_norm(x)

    def decode(
        self, tgt: Tensor, memory: Tensor, src: Tensor, record: AttentionRecord | None = None
    ) -> Tensor:
        """tgt (B, T_tgt), memory (B, T_src, d_model), src (B, T_src) → logits (B, T_tgt, V)."""
        _check_ids(tgt, self.config.vocab_size, "tgt")
        self_mask = self.target_mask(tgt)
        memory_mask = self.source_mask(src)
        x = self.tgt_embed(tgt)
        for block in self.decoder:
            x, self_w, cross_w = block(
                x, memory, self_mask=self_mask, memory_mask=memory_mask, need_weights=record is not None
            )
            if record is not None:
                record.decoder_self.append(self_w)
                record.cross.append(cross_w)
        return self.lm_head(self.decoder_norm(x))  # (B, T_tgt, V)

    def forward(
        self, src: Tensor, tgt: Tensor, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, AttentionRecord]:
        """Logits (B, T_tgt, V); with ``return_attention`` also an :class:`AttentionRecord`.

        Raises ValueError when ids are not (B, T) or fall outside the vocabulary, or when a sequence is
        longer than ``max_len``.
        """
        record = AttentionRecord() if return_attention else None
        memory = self.encode(src, record)
        logits = self.decode(tgt, memory, src, record)
        return (logits, record) if return_attention else logits

    @torch.no_grad()
    def trace_shapes(self, src: Tensor, tgt: Tensor) -> list[tuple[str, tuple[int, ...]]]:
        """Name and shape of every stage of a forward pass, in order (seed 000's model.py printout)."""
        stages: list[tuple[str, tuple[int, ...]]] = [("source tokens", tuple(src.shape))]
        mask = self.source_mask(src)
        x = self.src_embed.token(src)
        stages.append(("source embedding", tuple(x.shape)))
        x = self.src_embed.position(x * self.src_embed.scale)
        stages.append(("+ positional encoding", tuple(x.shape)))
        for i, block in enumerate(self.encoder):
            x, _ = block(x, mask=mask)
            stages.append((f"encoder block {i + 1}", tuple(x.shape)))
        memory = self.encoder_norm(x)
        stages.append(("encoder output (memory)", tuple(memory.shape)))
        stages.append(("target tokens", tuple(tgt.shape)))
        y = self.tgt_embed(tgt)
        stages.append(("target embedding + positional encoding", tuple(y.shape)))
        self_mask, memory_mask = self.target_mask(tgt), self.source_mask(src)
        for i, block in enumerate(self.decoder):
            y, _, _ = block(y, memory, self_mask=self_mask, memory_mask=memory_mask)
            stages.append((f"decoder block {i + 1}", tuple(y.shape)))
        logits = self.lm_head(self.decoder_norm(y))
        stages.append(("output projection (logits)", tuple(logits.shape)))
        return stages


class AdaptiveSoftmaxHead(nn.Module):
    """Adaptive softmax output layer (Grave et al. 2017) via ``torch.nn.AdaptiveLogSoftmaxWithLoss``.

    Called like a linear head, hidden (…, d_model) → log-probabilities (…, V): every id gets a
    log-probability, so the result can be used as logits (softmax of log-probabilities gives the same
    probabilities). Training uses :meth:`loss`, which never builds the (…, V) tensor.
    Ids must be sorted by frequency (the most frequent in the head cluster).
    """

    def __init__(self, d_model: int, vocab_size: int, cutoffs: list[int], div_value: float) -> None:
        super().__init__()
        self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(d_model, vocab_size, list(cutoffs), div_value=div_value)

    @property
    def out_features(self) -> int:
        """V, as ``nn.Linear.out_features``."""
        return self.adaptive.n_classes

    def forward(self, hidden: Tensor) -> Tensor:
        flat = hidden.reshape(-1, hidden.shape[-1])  # (N, d_model)
        with torch.autocast(hidden.device.type, enabled=False):  # the torch module is not autocast-safe
            log_probs = self.adaptive.log_prob(flat.float())
        return log_probs.reshape(*hidden.shape[:-1], -1)  # (…, V)

    def loss(self, hidden: Tensor, targets: Tensor, reduction: str = "mean") -> Tensor:
        """Negative log-likelihood in nats of ``targets`` (…,) given hidden (…, d_model); "mean" or "sum".

        Computed in float32 even under ``torch.autocast``.
        """
        with torch.autocast(hidden.device.type, enabled=False):
            out = self.adaptive(hidden.reshape(-1, hidden.shape[-1]).float(), targets.reshape(-1))
        nll = -out.output  # (N,) per-token NLL
        return nll.sum() if reduction == "sum" else nll.mean()


class AdaptiveInput(nn.Module):
    """Adaptive input embeddings whose tables are the adaptive softmax's (Baevski & Auli 2019, §3–4).

    ids (…) → vectors (…, d_model). Id i of cluster c is looked up in that cluster's output table (the
    head's weight rows for c = 0; the (n_c, d_model / div_value**c) table of tail c otherwise), as
    Press & Wolf 2017 tie a linear head, and mapped to d_model by a projection of the input's own.
    Only the tables are shared: with shared projections too, an input vector scores its own word
    highly, and a 2-layer WikiText-2 model kept repeating rare words ("Olympic Olympic").
    """

    def __init__(self, head: AdaptiveSoftmaxHead) -> None:
        super().__init__()
        self._head = [head]  # a plain list: the tables belong to (and are saved with) the head
        asm = head.adaptive
        self.num_embeddings = asm.n_classes
        widths = [asm.in_features] + [tail[0].out_features for tail in asm.tail]  # d_model, d/div, d/div², …
        self.projections = nn.ModuleList(nn.Linear(width, asm.in_features, bias=False) for width in widths)
        for projection in self.projections:
            nn.init.xavier_uniform_(projection.weight)

    def forward(self, ids: Tensor) -> Tensor:
        asm = self._head[0].adaptive
        cutoffs = [0, *asm.cutoffs]  # asm.cutoffs ends with V
        out = torch.zeros(*ids.shape, asm.in_features, dtype=asm.head.weight.dtype, device=ids.device)
        for c in range(len(cutoffs) - 1):
            chosen = (ids >= cutoffs[c]) & (ids < cutoffs[c + 1])
            if not bool(chosen.any()):
                continue
            table = asm.head.weight if c == 0 else asm.tail[c - 1][1].weight  # (n_c, width_c)
            vectors = nn.functional.embedding(ids[chosen] - cutoffs[c], table)  # (n, width_c)
            out[chosen] = self.projections[c](vectors).to(out.dtype)  # (n, d_model); autocast may give bfloat16
        return out


class DecoderOnlyLM(nn.Module):
    """Decoder-only (GPT-style) language model: masked self-attention blocks and a linear head.

    forward(input_ids (B, T)) → logits (B, T, V) for the next token at every position. With
    ``tie_embeddings`` the output projection reuses the input embedding (Press & Wolf 2017).
    With ``adaptive_cutoffs`` the head is an adaptive softmax (:class:`AdaptiveSoftmaxHead`, forward
    returns log-probabilities (B, T, V)) and ``tie_embeddings`` makes the input an :class:`AdaptiveInput`.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embed = _Embedding(c.vocab_size, c)
        self.blocks = nn.ModuleList(
            DecoderBlock(c.d_model, c.n_heads, c.d_ff, c.dropout, c.norm_first, c.activation, cross_attention=False,
                         layer_norm_eps=c.layer_norm_eps)
            for _ in range(c.n_layers)
        )
        self.final_norm = LayerNorm(c.d_model, eps=c.layer_norm_eps) if c.norm_first else nn.Identity()
        if c.adaptive_cutoffs is None:
            self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=c.lm_head_bias)
        else:
            self.lm_head = AdaptiveSoftmaxHead(c.d_model, c.vocab_size, c.adaptive_cutoffs, c.adaptive_div_value)
        self.apply(_init_linear)
        if c.adaptive_cutoffs is not None and c.tie_embeddings:
            self.embed.token = AdaptiveInput(self.lm_head)  # Baevski & Auli 2019: tied adaptive input
        elif c.tie_embeddings:
            self.lm_head.weight = self.embed.token.weight

    def new_cache(self) -> list[KVCache]:
        """An empty key/value cache, one entry per layer, for incremental decoding."""
        return [KVCache() for _ in self.blocks]

    def self_mask(self, T: int, offset: int, device: torch.device) -> Tensor | None:
        """Causal mask for T new positions after ``offset`` cached ones: (T, offset + T), or None.

        None also for one new position (T = 1): it may see every cached key and itself, so nothing is masked
        (sampling then builds no (offset + 1)² matrix per token).
        """
        if not self.config.causal or T == 1:
            return None
        return causal_mask(offset + T, device=device)[offset:]  # row i may see keys j <= offset + i

    def hidden_states(
        self,
        input_ids: Tensor,
        record: AttentionRecord | None = None,
        cache: list[KVCache] | None = None,
    ) -> Tensor:
        """input_ids (B, T) → final hidden states (B, T, d_model), before the output projection."""
        _check_ids(input_ids, self.config.vocab_size, "input_ids")
        offset = cache[0].length if cache else 0
        pad = None
        if self.config.pad_id is not None and cache is None:
            pad = padding_mask(input_ids, self.config.pad_id)  # (B, 1, 1, T)
        mask = combine_masks(self.self_mask(input_ids.shape[1], offset, input_ids.device), pad)
        x = self.embed(input_ids, offset=offset)
        for i, block in enumerate(self.blocks):
            x, weights, _ = block(
                x, self_mask=mask, need_weights=record is not None, cache=None if cache is None else cache[i]
            )
            if record is not None:
                record.decoder_self.append(weights)
        return self.final_norm(x)

    def forward(
        self,
        input_ids: Tensor,
        return_attention: bool = False,
        cache: list[KVCache] | None = None,
    ) -> Tensor | tuple[Tensor, AttentionRecord]:
        """Logits (B, T, V); with ``return_attention`` also an :class:`AttentionRecord`.

        ``cache`` (from :meth:`new_cache`) makes decoding incremental: pass only the new tokens, and
        positions continue after the cached ones. Raises ValueError for ids outside the vocabulary or
        sequences longer than ``max_len``.
        """
        record = AttentionRecord() if return_attention else None
        logits = self.lm_head(self.hidden_states(input_ids, record, cache))
        return (logits, record) if return_attention else logits


def build_model(config: TransformerConfig) -> Seq2SeqTransformer | DecoderOnlyLM:
    """The model class named by ``config.layout``."""
    return Seq2SeqTransformer(config) if config.layout == "encoder-decoder" else DecoderOnlyLM(config)


def count_parameters(model: nn.Module) -> int:
    """Number of distinct trainable parameters (tied weights counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
