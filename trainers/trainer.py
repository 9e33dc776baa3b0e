"""A model-agnostic trainer with callbacks, and the task adapters it trains.

``Trainer(config).fit()`` trains the model a :class:`TrainConfig` describes and returns a
:class:`RunSummary`. What is task-specific lives in a *task adapter* (:class:`AddSubTask`,
:class:`LanguageModelTask`): it builds the model, hands out training batches, computes the loss of a
batch (inside an ``nn.Module``, so that DistributedDataParallel sees the forward pass) and evaluates.

Training follows Vaswani et al. 2017 §5.3-5.4 with modern defaults: AdamW (Loshchilov & Hutter 2019),
linear warmup then cosine decay or the paper's inverse-square-root decay (eq. 3), global gradient-norm
clipping, label smoothing (Szegedy et al. 2016) and dropout from the model config. Callbacks
``on_step(StepInfo)``, ``on_eval(EvalInfo)`` and ``on_end(RunSummary)`` receive plain dataclasses.
Logs go to TensorBoard (``<out_dir>/<run_id>/``); metrics are accumulated with torchmetrics.

Under ``torchrun`` (``torch.distributed`` initialised) the loss module is wrapped in
DistributedDataParallel; batches are sharded by rank (a DistributedSampler for AddSub, rank-specific
columns or windows for the language models); only rank 0 calls back and writes logs.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from transformer.decoding import greedy_search
from transformer.models import DecoderOnlyLM, Seq2SeqTransformer, TransformerConfig, build_model

from .config import TrainConfig

__all__ = [
    "AddSubTask",
    "Callbacks",
    "EvalInfo",
    "LanguageModelTask",
    "RunSummary",
    "StepInfo",
    "Trainer",
    "TrainingDiverged",
    "TrainingStopped",
    "addsub_answers",
    "evaluate_addsub_pairs",
    "evaluate_lm_split",
    "learning_rate",
    "make_task",
    "resolve_device",
    "solve_addsub",
    "use_bfloat16",
]


# --------------------------------------------------------------------------------------------------
# Plain data handed to callbacks
# --------------------------------------------------------------------------------------------------
@dataclass
class StepInfo:
    """One optimiser step. Losses in nats per predicted token (with label smoothing if set)."""

    step: int  # 1-based optimiser step
    max_steps: int | None  # the step budget (None = time budget only)
    train_loss: float  # this step's training loss
    lr: float  # learning rate used for this step
    tokens_per_s: float  # training throughput over the last few steps (tokens through the model per second)
    elapsed_s: float  # wall-clock seconds since training started
    tokens_seen: int  # tokens processed so far (this process)
    grad_norm: float  # global gradient norm before clipping
    progress: float  # fraction of the step or time budget used, in [0, 1]


@dataclass
class EvalInfo:
    """One evaluation on validation data: ``val_loss`` in nats per token, task metrics by name."""

    step: int
    elapsed_s: float
    val_loss: float
    metrics: dict[str, float]  # e.g. exact_match, token_accuracy (AddSub); perplexity, word_perplexity (LMs)
    final: bool = False  # True for the evaluation on the whole validation split at the end


@dataclass
class RunSummary:
    """How a run ended: status "finished", "stopped" or "failed", with a human message."""

    status: str
    message: str
    steps: int
    elapsed_s: float  # wall time of the whole run, final evaluation included
    train_time_s: float  # wall time of the training loop (periodic evaluations included)
    tokens_seen: int
    tokens_per_s: float  # average training throughput (evaluation time excluded)
    final_metrics: dict[str, float] = field(default_factory=dict)  # last evaluation's metrics (val_loss included)
    history: dict[str, list] = field(default_factory=dict)  # not filled by the Trainer; the job adds it
    extra: dict = field(default_factory=dict)  # e.g. the per-rank parameter hashes of a distributed run

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Callbacks:
    """Functions the trainer calls (in its own thread) with plain data; any may be None."""

    on_step: Callable[[StepInfo], None] | None = None
    on_eval: Callable[[EvalInfo], None] | None = None
    on_end: Callable[[RunSummary], None] | None = None


class TrainingDiverged(RuntimeError):
    """The loss or the gradients became NaN/infinite or exploded; the message names the likely cause."""


class TrainingStopped(Exception):
    """Raised inside the training loop when the stop event is set (caught by :meth:`Trainer.fit`)."""


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------
def resolve_device(device: str) -> torch.device:
    """"auto" → CUDA when available, else CPU. Raises ValueError for "cuda" on a machine without CUDA."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but PyTorch sees no CUDA GPU here; use 'auto' or 'cpu'")
    return torch.device(device)


def use_bfloat16(precision: str, device: torch.device) -> bool:
    """Whether a run with ``precision`` ("float32", "bfloat16", "auto") autocasts to bfloat16 on ``device``.

    "auto" picks bfloat16 on a GPU that supports it, and on a CPU where oneDNN has fast bfloat16 kernels
    (AVX-512); elsewhere bfloat16 matrix products are emulated and slower than float32.
    """
    if precision != "auto":
        return precision == "bfloat16"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def learning_rate(config: TrainConfig, step: int, progress: float) -> float:
    """The learning rate of optimiser step ``step`` (1-based), given the fraction ``progress`` of the budget.

    Linear warmup to ``config.lr`` over ``warmup_steps``, then
    "cosine": lr_min + (lr − lr_min)·½(1 + cos(π·p)), p = progress after warmup, lr_min = min_lr_ratio·lr;
    "inverse_sqrt": lr·√(warmup/step) (Vaswani et al. eq. 3, rescaled so the peak is ``lr``);
    "constant": lr.
    """
    warmup = config.warmup_steps
    if warmup and step <= warmup:
        return config.lr * step / warmup
    if config.schedule == "constant":
        return config.lr
    if config.schedule == "inverse_sqrt":
        return config.lr * math.sqrt(warmup / step)
    lr_min = config.lr * config.min_lr_ratio
    p = min(max(progress, 0.0), 1.0)
    return lr_min + (config.lr - lr_min) * 0.5 * (1.0 + math.cos(math.pi * p))


def _distributed() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _check_stop(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise TrainingStopped


def parameter_hash(model: nn.Module) -> str:
    """SHA-256 of every parameter's bytes, in state-dict order: equal hashes mean bit-identical weights."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------------
# AddSub
# --------------------------------------------------------------------------------------------------
class _Seq2SeqLoss(nn.Module):
    """Teacher forcing: the decoder reads tgt[:, :-1] and predicts tgt[:, 1:]; mean cross-entropy in nats."""

    def __init__(self, model: Seq2SeqTransformer, label_smoothing: float, ignore_index: int) -> None:
        super().__init__()
        self.model = model
        self.label_smoothing = label_smoothing
        self.ignore_index = ignore_index

    def forward(self, src: Tensor, tgt: Tensor) -> Tensor:
        logits = self.model(src, tgt[:, :-1])  # (B, T_tgt - 1, V)
        return F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            tgt[:, 1:].reshape(-1),
            label_smoothing=self.label_smoothing,
            ignore_index=self.ignore_index,
        )


@torch.no_grad()
def addsub_answers(model: Seq2SeqTransformer, src: Tensor) -> Tensor:
    """Greedy answers of an AddSub model: src (B, 9) course ids → (B, 5) ids ``BOS sign d d EOS``.

    Decodes exactly 4 tokens after BOS (the answer always has 4), so the result lines up with targets.
    Use ``trainers.tasks.addsub.decode_ids`` to turn a row into the course string.
    """
    from .tasks import addsub

    hyps = greedy_search(model, src, bos_id=addsub.BOS_ID, eos_id=None, max_new_tokens=addsub.TGT_LEN - 1)
    return torch.tensor([[addsub.BOS_ID, *h.tokens] for h in hyps], dtype=torch.long, device=src.device)


@torch.no_grad()
def solve_addsub(model: Seq2SeqTransformer, expressions: list[str]) -> list[str]:
    """The model's answers to AddSub expressions, as course strings (greedy decoding).

    Each expression is a course string ("BOS NEGATIVE 30 subtract NEGATIVE 34 EOS") or plain arithmetic
    ("-30 - -34"); the answer reads like "BOS POSITIVE 04 EOS" (``addsub.format_answer`` gives its integer,
    or None when the model wrote something that is not a number). Raises ValueError for text that is
    not an AddSub expression (operands must be between -49 and 49).
    """
    from .tasks import addsub

    if not expressions:
        return []
    device = next(model.parameters()).device
    rows = [
        addsub.encode_expression(text if text.strip().startswith("BOS") else addsub.parse_arithmetic(text))
        for text in expressions
    ]
    for text, row in zip(expressions, rows, strict=True):
        if len(row) != addsub.SRC_LEN:
            raise ValueError(f"{text!r} is not an AddSub expression of {addsub.SRC_LEN} tokens")
    answers = addsub_answers(model, torch.tensor(rows, device=device))
    return [addsub.decode_ids(row) for row in answers.cpu()]


@torch.no_grad()
def evaluate_addsub_pairs(
    model: Seq2SeqTransformer,
    pairs: list[tuple[str, str]],
    batch_size: int = 1024,
    should_stop: Callable[[], bool] | None = None,
    label_smoothing: float = 0.0,
) -> dict[str, float]:
    """Exact-match and per-token accuracy of greedy decoding on course-format (input, output) pairs.

    Returns ``{"exact_match", "token_accuracy", "loss", "n"}``: exact_match is the fraction of answers
    right in every token (sign, both digits, EOS); token_accuracy the fraction of those 4 tokens right
    (the course's per-token accuracy, here of greedy decoding); loss the teacher-forced cross-entropy
    in nats per answer token. Raises ValueError for pairs that are not AddSub expressions, and
    :class:`TrainingStopped` when ``should_stop`` turns true between batches.
    """
    from torchmetrics.aggregation import MeanMetric
    from torchmetrics.classification import MulticlassAccuracy

    from .tasks import addsub

    if not pairs:
        raise ValueError("there are no AddSub expressions to evaluate")
    dataset = addsub.AddSubDataset(pairs)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    exact, loss_mean = MeanMetric().to(device), MeanMetric().to(device)
    token_acc = MulticlassAccuracy(num_classes=addsub.VOCAB_SIZE, average="micro").to(device)
    try:
        for start in range(0, len(dataset), batch_size):
            _check_stop(should_stop)
            src = dataset.src[start : start + batch_size].to(device)
            tgt = dataset.tgt[start : start + batch_size].to(device)
            pred = addsub_answers(model, src)[:, 1:]  # (B, 4)
            labels = tgt[:, 1:]  # (B, 4)
            exact.update((pred == labels).all(dim=1).float())
            token_acc.update(pred.reshape(-1), labels.reshape(-1))
            logits = model(src, tgt[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="none")
            loss_mean.update(loss)
    finally:
        model.train(was_training)
    return {
        "exact_match": float(exact.compute()),
        "token_accuracy": float(token_acc.compute()),
        "loss": float(loss_mean.compute()),
        "n": len(dataset),
    }


class AddSubTask:
    """AddSub (EECS 498 A5) on an encoder-decoder, trained with teacher forcing.

    Training data: the course's 4,500 training expressions (``addsub_source="course"``) or
    ``addsub_train_size`` fresh expressions from the whole range, validation inputs excluded
    (``"generated"``). Validation: the course's 500 validation expressions. Without the course file
    both are generated (``addsub.make_split``; ``data_note`` says so). Headline metric:
    exact-match of greedy decoding; per-token accuracy is reported beside it, named as such.
    """

    headline = "exact_match"

    def __init__(
        self,
        config: TrainConfig,
        device: torch.device,
        rank: int = 0,
        world_size: int = 1,
        train_pairs: list[tuple[str, str]] | None = None,
        valid_pairs: list[tuple[str, str]] | None = None,
    ) -> None:
        """``train_pairs``/``valid_pairs`` (course strings) replace the configured data when given.

        Without the course file the data is generated (see ``addsub.make_split``), so nothing is missing.
        """
        from torch.utils.data import DistributedSampler

        from .tasks import addsub

        self.config, self.device, self.rank, self.world_size = config, device, rank, world_size
        self.train_source, self.valid_source, self.data_note = config.addsub_source, "given", None
        if train_pairs is None or valid_pairs is None:
            split = addsub.make_split(config.addsub_source, config.addsub_train_size, config.seed)
            self.train_source, self.valid_source, self.data_note = split.train_source, split.valid_source, split.note
        self.valid_pairs = list(valid_pairs) if valid_pairs is not None else split.valid
        if train_pairs is not None:
            self.train_pairs = list(train_pairs)
        elif valid_pairs is not None and split.train_source == "generated":  # keep the given validation out
            exclude = {inp for inp, _ in self.valid_pairs}
            self.train_pairs = addsub.generate_expressions(config.addsub_train_size, config.seed, exclude=exclude)
        else:
            self.train_pairs = split.train
        self.train = addsub.AddSubDataset(self.train_pairs)
        if len(self.train) < config.batch_size * world_size:
            raise ValueError(
                f"batch size {config.batch_size} is larger than the {len(self.train)} training expressions "
                f"(per process); lower it"
            )
        self.sampler = DistributedSampler(
            self.train, num_replicas=world_size, rank=rank, shuffle=True, seed=config.seed, drop_last=True
        )
        self.vocab_size = addsub.VOCAB_SIZE
        self._epoch, self._order, self._pos = 0, [], 0
        self.tokenizer_json: str | None = None

    def transformer_config(self) -> TransformerConfig:
        from .tasks import addsub

        return self.config.model.to_transformer_config(
            vocab_size=addsub.VOCAB_SIZE,
            src_vocab_size=addsub.VOCAB_SIZE,
            arch="encoder-decoder",
            max_len=max(addsub.SRC_LEN, addsub.TGT_LEN),
        )

    def build_model(self) -> nn.Module:
        return build_model(self.transformer_config())

    def loss_module(self, model: nn.Module) -> nn.Module:
        from .tasks import addsub

        return _Seq2SeqLoss(model, self.config.label_smoothing, addsub.IGNORE_INDEX)

    def next_batch(self) -> tuple[tuple[Tensor, Tensor], int]:
        """The next (src (B, 9), tgt (B, 5)) of the shuffled epoch, and its token count (B × 13)."""
        B = self.config.batch_size
        if self._pos + B > len(self._order):
            self.sampler.set_epoch(self._epoch)
            self._order, self._pos = list(self.sampler), 0
            self._epoch += 1
        index = torch.tensor(self._order[self._pos : self._pos + B])
        self._pos += B
        src, tgt = self.train.src[index].to(self.device), self.train.tgt[index].to(self.device)
        return (src, tgt), src.numel() + tgt.numel() - B

    def evaluate(self, model: nn.Module, max_batches: int | None, should_stop=None) -> dict[str, float]:
        """Metrics on the course's 500 validation expressions (all of them: they take well under a second)."""
        return evaluate_addsub_pairs(model, self.valid_pairs, should_stop=should_stop)

    def task_info(self) -> dict:
        from .tasks import addsub

        return {
            "vocab": list(addsub.ADDSUB_VOCAB),
            "bos_id": addsub.BOS_ID,
            "eos_id": addsub.EOS_ID,
            "src_len": addsub.SRC_LEN,
            "tgt_len": addsub.TGT_LEN,
            "train_source": self.train_source,
            "train_size": len(self.train),
            "train_seed": self.config.seed,
            "valid_source": self.valid_source,
        }


# --------------------------------------------------------------------------------------------------
# Language models
# --------------------------------------------------------------------------------------------------
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
    Raises ValueError for a stride outside 1…block_size, and :class:`TrainingStopped` when
    ``should_stop`` turns true between batches.
    """
    from torchmetrics.aggregation import SumMetric

    from .tasks.lm import batchify

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
            _check_stop(should_stop)
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
        out["word_perplexity"] = math.exp(min(result["loss"] * split_tokens / split_words, 700.0))
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
        from .tasks.lm import batchify, load_lm_corpus

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
        model = self.config.model
        if model.adaptive_cutoffs is not None:
            from dataclasses import replace

            kept = [c for c in model.adaptive_cutoffs if c < self.vocab_size]
            model = replace(model, adaptive_cutoffs=kept or None)
        return model.to_transformer_config(vocab_size=self.vocab_size, max_len=self.config.block_size)

    def build_model(self) -> nn.Module:
        """The decoder-only transformer, or with ``arch="lstm"`` the LSTM of the same width, depth and head."""
        if self.config.arch == "lstm":
            from .lstm import LSTMLanguageModel, lstm_config_like

            return LSTMLanguageModel(lstm_config_like(self.transformer_config()))
        return build_model(self.transformer_config())

    def loss_module(self, model: nn.Module) -> nn.Module:
        return _LMLoss(model, self.config.label_smoothing)

    def next_batch(self) -> tuple[tuple[Tensor, Tensor], int]:
        """x, y (B, block_size) with y the next tokens; and the token count B × block_size."""
        from .tasks.lm import get_batch, random_windows

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


def make_task(config: TrainConfig, device: torch.device, rank: int = 0, world_size: int = 1):
    """The task adapter for ``config.task``. Raises FileNotFoundError when its data is missing."""
    if config.task == "addsub":
        return AddSubTask(config, device, rank, world_size)
    from .config import TRANSLATION_TASKS

    if config.task in TRANSLATION_TASKS:
        from .translate import TranslationTask

        return TranslationTask(config, device, rank, world_size)
    return LanguageModelTask(config, device, rank, world_size)


# --------------------------------------------------------------------------------------------------
# The trainer
# --------------------------------------------------------------------------------------------------
def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases, norms' γ/β or 1-D tables).

    The fused implementation (one kernel for all parameters) where PyTorch offers it: on one CPU thread it
    took about 1 ms off a 25 ms Shakespeare step (4 layers, d_model 128, batch 12 × 64) against the
    per-parameter loop; same update rule.
    """
    decay, no_decay, seen = [], [], set()
    for p in model.parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    params = [p for group in groups for p in group["params"]]
    fused = bool(params) and all(p.device.type in ("cpu", "cuda") and p.dtype == torch.float32 for p in params)
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, config.beta2), fused=fused)


def default_run_id(task: str) -> str:
    """``<task>-<YYYYmmdd-HHMMSS>-<pid>``: unique enough for runs/ and readable in lists."""
    return f"{task}-{datetime.now():%Y%m%d-%H%M%S}-{os.getpid() % 10000:04d}"


class Trainer:
    """Trains ``config``'s task; ``fit()`` returns a :class:`RunSummary` and leaves the model in ``self.model``.

    ``should_stop`` (e.g. ``threading.Event().is_set``) is checked before every step and between
    evaluation batches; when it turns true the run ends with status "stopped". A NaN/infinite loss or
    gradient, or a loss above 3 × max(first loss, ln V), ends it with status "failed" and a message
    naming the learning rate as the likely cause. Exceptions other than these propagate.
    """

    def __init__(
        self,
        config: TrainConfig,
        callbacks: Callbacks | None = None,
        should_stop: Callable[[], bool] | None = None,
        task=None,
    ) -> None:
        """``task``: a ready task adapter (e.g. ``AddSubTask(..., train_pairs=...)``); default: built from config."""
        self.config = config
        self.callbacks = callbacks or Callbacks()
        self.should_stop = should_stop
        self.run_id = config.run_id or default_run_id(config.task)
        self.model: nn.Module | None = None
        self.task = task
        self.model_config: TransformerConfig | None = None
        self.rank, self.world_size = _distributed()
        self.device = resolve_device(config.device)
        self.log_dir = os.path.join(config.out_dir, self.run_id)

    # The callbacks run on rank 0 only.
    def _emit(self, name: str, info) -> None:
        fn = getattr(self.callbacks, name)
        if fn is not None and self.rank == 0:
            fn(info)

    def setup(self) -> None:
        """Seed, load the task's data and build the model (called by :meth:`fit`; safe to call before)."""
        if self.model is not None:
            return
        c = self.config
        if c.threads:
            torch.set_num_threads(c.threads)
        random.seed(c.seed)
        np.random.seed(c.seed)
        torch.manual_seed(c.seed)
        if self.task is None:
            self.task = make_task(c, self.device, self.rank, self.world_size)
        torch.manual_seed(c.seed)  # identical initial weights on every rank
        self.model = self.task.build_model().to(self.device)
        self.model_config = self.model.config

    def fit(self) -> RunSummary:
        """Run the training loop to its step or time budget; evaluate every ``eval_every`` steps and at the end."""
        c = self.config
        t_start = time.perf_counter()
        self.setup()
        model, task = self.model, self.task
        loss_module = task.loss_module(model)
        if self.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            loss_module = DistributedDataParallel(
                loss_module,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=c.model.adaptive_cutoffs is not None,
            )
        optimizer = _optimizer(model, c)
        bf16 = use_bfloat16(c.precision, self.device)
        writer = None
        if c.tensorboard and self.rank == 0:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(self.log_dir)
            writer.add_text("config", f"```\n{c.to_dict()}\n```")
        threshold_base = math.log(max(task.vocab_size, 2))
        first_loss: float | None = None
        step, tokens_seen, train_compute = 0, 0, 0.0
        window: list[tuple[int, float]] = []
        status, message = "finished", ""
        last_eval: EvalInfo | None = None
        t0 = time.perf_counter()
        eval_time = 0.0
        model.train()
        try:
            while True:
                elapsed = time.perf_counter() - t0
                progress = max(
                    step / c.max_steps if c.max_steps else 0.0,
                    elapsed / c.max_time_s if c.max_time_s else 0.0,
                )
                done = (c.max_steps is not None and step >= c.max_steps) or (
                    c.max_time_s is not None and elapsed >= c.max_time_s
                )
                stop = self.should_stop is not None and self.should_stop()
                if self.world_size > 1:  # every rank must agree on when to end
                    flags = torch.tensor([float(done), float(stop)], device=self.device)
                    torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
                    done, stop = bool(flags[0]), bool(flags[1])
                if stop:
                    raise TrainingStopped
                if done:
                    break
                step += 1
                t_step = time.perf_counter()
                lr = learning_rate(c, step, progress)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                batch, n_tokens = task.next_batch()
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
                    loss = loss_module(*batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(
                    model.parameters(), c.grad_clip if c.grad_clip is not None else float("inf")
                )
                loss_value, grad_value = float(loss.detach()), float(grad_norm)
                bad = not (math.isfinite(loss_value) and math.isfinite(grad_value))
                if first_loss is None and not bad:
                    first_loss = loss_value
                exploded = not bad and loss_value > 3.0 * max(first_loss or 0.0, threshold_base)
                if self.world_size > 1:
                    flags = torch.tensor([float(bad), float(exploded)], device=self.device)
                    torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
                    bad, exploded = bool(flags[0]), bool(flags[1])
                if bad or exploded:
                    what = (
                        f"the loss became {loss_value:g}" if not math.isfinite(loss_value)
                        else f"the gradients became {grad_value:g}" if bad
                        else f"the loss exploded to {loss_value:.3g} (it started at {first_loss:.3g})"
                    )
                    raise TrainingDiverged(
                        f"Training diverged at step {step}: {what}. The learning rate is most likely too high "
                        f"(lr = {c.lr:g}); try about 10 times smaller, e.g. lr = {c.lr / 10:g}, or keep gradient "
                        f"clipping on."
                    )
                optimizer.step()
                dt = time.perf_counter() - t_step
                train_compute += dt
                tokens_seen += n_tokens
                window.append((n_tokens, dt))
                if len(window) > 20:
                    window.pop(0)
                tps = sum(n for n, _ in window) / max(sum(t for _, t in window), 1e-9)
                elapsed = time.perf_counter() - t0
                info = StepInfo(
                    step=step,
                    max_steps=c.max_steps,
                    train_loss=loss_value,
                    lr=lr,
                    tokens_per_s=tps,
                    elapsed_s=elapsed,
                    tokens_seen=tokens_seen,
                    grad_norm=grad_value,
                    progress=min(1.0, max(
                        step / c.max_steps if c.max_steps else 0.0,
                        elapsed / c.max_time_s if c.max_time_s else 0.0,
                    )),
                )
                if writer is not None:
                    writer.add_scalar("train/loss", loss_value, step)
                    writer.add_scalar("train/lr", lr, step)
                    writer.add_scalar("train/tokens_per_s", tps, step)
                    writer.add_scalar("train/grad_norm", grad_value, step)
                self._emit("on_step", info)
                if step % c.eval_every == 0 and step != c.max_steps:  # the last step gets the final evaluation
                    t_eval = time.perf_counter()
                    last_eval = self._evaluate(step, t0, c.eval_batches, final=False, writer=writer)
                    eval_time += time.perf_counter() - t_eval
        except TrainingStopped:
            status, message = "stopped", f"Stopped by request after {step} steps."
        except TrainingDiverged as exc:
            status, message = "failed", str(exc)
        train_time = time.perf_counter() - t0
        if status == "finished":
            try:
                if c.final_eval:  # the whole validation split
                    last_eval = self._evaluate(step, t0, None, final=True, writer=writer)
                elif last_eval is None or last_eval.step != step:
                    last_eval = self._evaluate(step, t0, c.eval_batches, final=True, writer=writer)
            except TrainingStopped:
                status = "stopped"
                message = f"Stopped by request during the final evaluation, after {step} steps."
            if status == "finished":
                message = self._finished_message(step, train_time, last_eval)
        summary = RunSummary(
            status=status,
            message=message,
            steps=step,
            elapsed_s=time.perf_counter() - t_start,
            train_time_s=train_time,
            tokens_seen=tokens_seen,
            tokens_per_s=tokens_seen / max(train_compute, 1e-9),
            final_metrics=({"val_loss": last_eval.val_loss, **last_eval.metrics} if last_eval else {}),
        )
        summary.extra["precision"] = "bfloat16" if bf16 else "float32"
        if self.world_size > 1 and status != "failed":
            hashes: list = [None] * self.world_size
            torch.distributed.all_gather_object(hashes, parameter_hash(model))
            summary.extra["rank_param_sha256"] = hashes
            summary.extra["world_size"] = self.world_size
        if writer is not None:
            for name, value in summary.final_metrics.items():
                if isinstance(value, int | float):
                    writer.add_scalar(f"final/{name}", value, step)
            writer.close()
        model.eval()
        self._emit("on_end", summary)
        return summary

    def _evaluate(self, step: int, t0: float, max_batches: int | None, final: bool, writer) -> EvalInfo:
        metrics = self.task.evaluate(self.model, max_batches, self.should_stop)
        self.model.train()
        metrics = {k: v for k, v in metrics.items() if k != "loss"} | {"loss": metrics["loss"]}
        info = EvalInfo(step=step, elapsed_s=time.perf_counter() - t0, val_loss=metrics["loss"],
                        metrics={k: v for k, v in metrics.items() if k != "loss"}, final=final)
        if writer is not None:
            writer.add_scalar("val/loss", info.val_loss, step)
            for name, value in info.metrics.items():
                writer.add_scalar(f"val/{name}", value, step)
        self._emit("on_eval", info)
        return info

    def _finished_message(self, step: int, train_time: float, last_eval: EvalInfo | None) -> str:
        text = f"Finished {step} steps in {train_time:.1f} s."
        if last_eval is not None:
            m = last_eval.metrics
            if "exact_match" in m:
                text += f" Validation exact-match {m['exact_match']:.3f}, per-token accuracy {m['token_accuracy']:.3f}."
            elif "bleu" in m:
                text += f" Validation BLEU {m['bleu']:.1f} (greedy), loss {last_eval.val_loss:.3f}."
            elif "word_perplexity" in m:
                text += f" Validation perplexity per word {m['word_perplexity']:.1f}."
            elif "nats_per_char" in m:
                text += f" Validation loss {m['nats_per_char']:.3f} nats per character."
            else:
                text += f" Validation loss {last_eval.val_loss:.3f}."
        return text

