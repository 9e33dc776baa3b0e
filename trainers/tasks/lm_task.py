"""The language-model task adapter (data: ``lm``): WikiText-2, Tiny Shakespeare, Anna Karenina.

- :class:`LanguageModelTask`: what the :class:`~trainers.trainer.Trainer` trains: a decoder-only
  transformer (or, with ``family="lstm"``, the LSTM baseline of :mod:`trainers.lstm`), batches of
  contiguous BPTT columns or random windows, the next-token loss, evaluation on the validation split.
- :func:`lm_nll`: the next-token negative log-likelihood (adaptive softmax without building (B, T, V) logits).
- :func:`evaluate_lm_split`: loss and perplexity of an id stream in (optionally sliding) windows;
  :func:`lm_unit_metrics` adds perplexity per word or nats/bits per character.

Shape legend: B batch, T window (block_size), V vocabulary size.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.aggregation import SumMetric

from transformer.models import DecoderOnlyLM, TransformerConfig, build_model

from ..config import TrainConfig
from ..lstm import LSTMLanguageModel, lstm_config_like
from .base import MAX_PROBE_TOKENS, Probe, check_stop
from .lm import batchify, get_batch, load_lm_corpus, random_windows
from .wikitext2 import word_perplexity

__all__ = ["LanguageModelTask", "evaluate_lm_split", "lm_nll", "lm_unit_metrics"]


class _LMLoss(nn.Module):
    """Next-token cross-entropy in nats (mean over tokens): x (B, T) → predict y (B, T)."""

    def __init__(self, model: DecoderOnlyLM, label_smoothing: float) -> None:
        super().__init__()
        self.model = model
        self.label_smoothing = label_smoothing

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return lm_nll(self.model, x, y, reduction="mean", label_smoothing=self.label_smoothing)


def lm_nll(model: DecoderOnlyLM, x: Tensor, y: Tensor, reduction: str = "sum", label_smoothing: float = 0.0) -> Tensor:
    """Negative log-likelihood in nats of next tokens y (B, T) given x (B, T); "sum" or "mean".

    With an adaptive softmax head the (B, T, V) logits are never built (``AdaptiveSoftmaxHead.loss``).
    """
    head = model.lm_head
    if hasattr(head, "loss"):
        return head.loss(model.hidden_states(x), y, reduction=reduction)
    logits = model(x)  # (B, T, V)
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction=reduction, label_smoothing=label_smoothing
    )


@torch.no_grad()
def evaluate_lm_split(
    model: DecoderOnlyLM,
    ids: Tensor,
    block_size: int,
    batch_size: int = 32,
    max_batches: int | None = None,
    should_stop: Callable[[], bool] | None = None,
    stride: int | None = None,
) -> dict[str, float]:
    """Loss of a language model on a 1-D id stream, read in windows of ``block_size`` tokens.

    The stream is cut into ``batch_size`` contiguous columns (``batchify``) and read ``block_size``
    tokens at a time (``get_batch``), as PyTorch's word_language_model evaluates; each window is
    scored on its own (the model keeps no state between windows). With ``stride`` < ``block_size``
    the windows overlap (a sliding window): a window starts every ``stride`` tokens and only its last
    ``stride`` tokens are scored (all of the first window's), so every token but the first few sees
    at least ``block_size − stride`` tokens of context. Returns
    ``{"loss": nats per token, "perplexity": exp(loss), "n_tokens": tokens scored}``.
    Raises ValueError for a stride outside 1…block_size, and :class:`~trainers.tasks.base.TrainingStopped` when
    ``should_stop`` turns true between batches.
    """
    stride = stride or block_size
    if not 1 <= stride <= block_size:
        raise ValueError(f"stride must be between 1 and block_size={block_size}, got {stride}")
    device = next(model.parameters()).device
    batch_size = max(1, min(batch_size, (ids.numel() - 1) // 2))
    data = batchify(ids, batch_size).to(device)  # (T, B)
    was_training = model.training
    model.eval()
    total_nll, total_tokens = SumMetric().to(device), SumMetric().to(device)
    scored_until = 0  # rows [0, scored_until) of the targets are scored already
    try:
        for n, start in enumerate(range(0, data.size(0) - 1, stride)):
            if max_batches is not None and n >= max_batches:
                break
            check_stop(should_stop)
            end = min(start + block_size, data.size(0) - 1)
            if end <= scored_until:
                break
            x = data[start:end].t().contiguous()  # (B, T)
            y = data[start + 1 : end + 1].t().contiguous()  # (B, T), the next tokens
            first = scored_until - start  # positions before it were scored by an earlier window
            total_nll.update(_window_nll(model, x, y, first))
            total_tokens.update(float(y[:, first:].numel()))
            scored_until = end
    finally:
        model.train(was_training)
    n_tokens = float(total_tokens.compute())
    loss = float(total_nll.compute()) / max(n_tokens, 1.0)
    return {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), "n_tokens": int(n_tokens)}


def _window_nll(model: DecoderOnlyLM, x: Tensor, y: Tensor, first: int) -> Tensor:
    """Summed NLL of y[:, first:] given the window x (B, T)."""
    if first == 0:
        return lm_nll(model, x, y, reduction="sum")
    hidden = model.hidden_states(x)[:, first:]  # (B, T - first, d_model)
    head = model.lm_head
    if hasattr(head, "loss"):
        return head.loss(hidden, y[:, first:], reduction="sum")
    logits = head(hidden)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[:, first:].reshape(-1), reduction="sum")


def lm_unit_metrics(
    result: dict[str, float], split_tokens: int, split_words: int | None, split_chars: int | None
) -> dict[str, float]:
    """Add per-word or per-character figures to :func:`evaluate_lm_split`'s result.

    WikiText-2 (word or BPE): ``word_perplexity = exp(loss · tokens/word)`` of the split — for word
    tokens exactly the perplexity; for BPE the per-token NLL normalised per word, so the two compare.
    Character corpora: ``nats_per_char`` (= loss for char tokens, loss · tokens/char for BPE) and
    ``bits_per_char``.
    """
    out = dict(result)
    if split_words:
        out["word_perplexity"] = word_perplexity(result["loss"] * split_tokens, split_words)
    if split_chars:
        nats = result["loss"] * split_tokens / split_chars
        out["nats_per_char"] = nats
        out["bits_per_char"] = nats / math.log(2)
    return out


class LanguageModelTask:
    """WikiText-2 (word or BPE) or a character corpus (Tiny Shakespeare, Anna Karenina) on a decoder-only LM.

    Batching: "bptt" cuts the training stream into batch_size contiguous columns and reads block_size
    rows at a time (PyTorch's word_language_model; each epoch starts at a random offset below
    block_size so window boundaries move); "random" draws batch_size random windows (nanoGPT).
    Validation: the whole validation split in non-overlapping windows (:func:`evaluate_lm_split`).
    Metrics: loss (nats per token) and perplexity; per word for WikiText-2, per character for the novels.
    """

    headline = "perplexity"

    def __init__(self, config: TrainConfig, device: torch.device, rank: int = 0, world_size: int = 1) -> None:
        self.config, self.device, self.rank, self.world_size = config, device, rank, world_size
        self.corpus = load_lm_corpus(config.task, config.data_dir, config.unit, config.bpe_vocab_size)
        self.vocab_size = self.corpus.vocab_size
        self.unit = self.corpus.unit
        self.headline = "word_perplexity" if self.corpus.n_words else "nats_per_char"
        self.tokenizer_json = self.corpus.tokenizer.to_str()
        self.generator = torch.Generator().manual_seed(config.seed * 1000 + rank)
        self.batching = config.batching
        B = config.batch_size
        if self.batching == "bptt":
            columns = batchify(self.corpus.train, B * world_size)  # (T, B·world)
            self.train_grid = columns[:, rank * B : (rank + 1) * B].contiguous()  # this rank's B columns
            if self.train_grid.size(0) <= config.block_size + 1:
                raise ValueError(f"block_size {config.block_size} is too long for this corpus at batch size {B}")
            self._row, self._offset_done = 0, False
        self.train_data = self.corpus.train

    def transformer_config(self) -> TransformerConfig:
        """The core config for this corpus. Adaptive-softmax cutoffs beyond the vocabulary are dropped
        (e.g. [2000, 10000] becomes [2000] for an 8,000-piece BPE vocabulary; none left = a plain softmax)."""
        cutoffs = self.config.model.adaptive_cutoffs
        if cutoffs is None:
            return self.config.model_for(vocab_size=self.vocab_size, max_len=self.config.block_size)
        kept = [c for c in cutoffs if c < self.vocab_size]
        return self.config.model_for(vocab_size=self.vocab_size, max_len=self.config.block_size,
                                     adaptive_cutoffs=kept or None)

    def build_model(self) -> nn.Module:
        """The decoder-only transformer, or with ``family="lstm"`` the LSTM of the same width, depth and head."""
        if self.config.family == "lstm":
            return LSTMLanguageModel(lstm_config_like(self.transformer_config()))
        return build_model(self.transformer_config())

    def loss_module(self, model: nn.Module) -> nn.Module:
        return _LMLoss(model, self.config.label_smoothing)

    def next_batch(self) -> tuple[tuple[Tensor, Tensor], int]:
        """x, y (B, block_size) with y the next tokens; and the token count B × block_size."""
        T = self.config.block_size
        if self.batching == "random":
            x, y = random_windows(self.train_data, T, self.config.batch_size, generator=self.generator)
        else:
            if self._row + T + 1 > self.train_grid.size(0):  # new epoch, at a random offset below T
                self._row = int(torch.randint(T, (1,), generator=self.generator))
            x, y = get_batch(self.train_grid, self._row, T)
            self._row += T
            x, y = x.t().contiguous(), y.view(x.shape).t().contiguous()  # (B, T)
        return (x.to(self.device), y.to(self.device)), x.numel()

    def split_metrics(self, model: nn.Module, split: str, max_batches: int | None, should_stop=None,
                      block_size: int | None = None) -> dict[str, float]:
        """Metrics of one split ("train", "valid", "test") with per-word / per-character figures."""
        ids = self.corpus.splits.get(split)
        if ids is None:
            raise ValueError(f"{self.config.task} has no {split!r} split (it has {', '.join(self.corpus.splits)})")
        result = evaluate_lm_split(
            model, ids, block_size or self.config.block_size, max(self.config.batch_size, 16), max_batches, should_stop
        )
        words = self.corpus.n_words[split] if self.corpus.n_words else None
        chars = self.corpus.n_chars[split] if self.corpus.n_chars else None
        return lm_unit_metrics(result, ids.numel(), words, chars)

    def evaluate(self, model: nn.Module, max_batches: int | None, should_stop=None) -> dict[str, float]:
        return self.split_metrics(model, "valid", max_batches, should_stop)

    def task_info(self) -> dict:
        c = self.corpus
        return {
            "unit": c.unit,
            "vocab_size": c.vocab_size,
            "eos_id": c.eos_id,
            "block_size": self.config.block_size,
            "batching": self.batching,
            "n_words": c.n_words,
            "n_chars": c.n_chars,
            "n_tokens": {name: int(ids.numel()) for name, ids in c.splits.items()},
        }

    def probe(self, text: str | None = None) -> Probe:
        """A line of text as the model reads it: its first min(block_size, MAX_PROBE_TOKENS) tokens.

        The default line (``trainers.snapshots.DEFAULT_PROBES``) falls back to the start of the validation split
        when the corpus's vocabulary cannot spell it.

        Raises NoAttentionError for the LSTM, ValueError for text the vocabulary cannot express or that has
        no tokens.
        """
        from ..snapshots import NoAttentionError, default_probe

        if self.config.family == "lstm":
            raise NoAttentionError("The LSTM has no attention: no attention snapshots are recorded for it.")
        default = default_probe(self.config.task)
        text = text if text and text.strip() else default
        limit = min(self.config.block_size, MAX_PROBE_TOKENS)
        try:
            ids = self.corpus.encode(text)[:limit]
        except ValueError:  # the default line is not in this corpus's vocabulary (e.g. a folder of one's own)
            if text != default:
                raise
            ids = self.corpus.valid[:limit].tolist()  # the start of the validation text instead
            text = self.corpus.decode(ids)
        if not ids:
            raise ValueError("The probe has no tokens: type a line of text.")
        tok = self.corpus.tokenizer
        tokens = ([tok.id_to_token(i) or "" for i in ids] if self.unit == "word"
                  else [tok.decode([i], skip_special_tokens=False) for i in ids])
        return Probe(text, (torch.tensor([ids], device=self.device),), {"decoder_self": tokens},
                     {"decoder_self": tokens})

    def describe(self, val_loss: float, metrics: dict[str, float]) -> str:
        if "word_perplexity" in metrics:
            return f"Validation perplexity per word {metrics['word_perplexity']:.1f}."
        if "nats_per_char" in metrics:
            return f"Validation loss {metrics['nats_per_char']:.3f} nats per character."
        return f"Validation loss {val_loss:.3f}."
