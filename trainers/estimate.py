"""How much memory a training run will take, estimated from its TrainConfig before anything is allocated.

A run holds, in float32 (4 bytes a number):

- the parameters P (counted exactly: the model is built on PyTorch's ``meta`` device, which allocates
  nothing), their gradients (P) and AdamW's two moments (2P): 16 bytes a parameter;
- the activations kept for the backward pass, for B sequences of T tokens. Per layer and token, after
  Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large Transformer Models", §4.1, whose
  34·h + 5·a·s bytes in 16-bit are 17·d_model + 2.5·n_heads·T numbers; here d_ff is explicit): about
  9·d_model + 2·d_ff + 2·n_heads·T numbers for a self-attention block (layer-norm inputs, Q, K, V, the
  attention output, the residuals, the two feed-forward activations, the T × T scores and weights), plus
  4·d_model + 2·n_heads·T_src for a decoder block's cross-attention; an LSTM layer keeps about 10·d_model
  (four gates, cell and hidden state, forward and backward). The output layer keeps the logits, their
  softmax and their gradient: 3·V numbers a token (with an adaptive softmax, the head's width plus a
  share of the tails);
- times :data:`BACKWARD_FACTOR` (2.5) for the layers' activations (not the logits), calibrated on measured training steps: the
  backward pass holds gradients beside them, and dropout and attention keep masks and intermediate tensors;
- plus 10 % for the allocator's rounding and small buffers.

The vocabulary is not known before the data is read, so it is taken from the task: AddSub's 16 tokens, at
most 128 characters for the novels, WikiText-2's 33,278 words, or the configured BPE size.
``tests/test_limits.py`` compares the estimate with the memory a real training step takes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from .config import LM_TASKS, TRANSLATION_TASKS, TrainConfig

__all__ = ["MemoryEstimate", "estimate_training_memory", "largest_batch_within"]

BYTES = 4  # float32
ADAM_NUMBERS_PER_PARAMETER = 4  # weight, gradient, exp_avg, exp_avg_sq
OVERHEAD = 1.10
# The numbers above are what the forward pass keeps; a training step's peak also holds their gradients during
# the backward pass, dropout masks and the attention's intermediate tensors. Measured peak resident memory of
# real steps (tests/test_limits.py; 3 sizes from 0.4M to 6.4M parameters, batches of 4,096 tokens) was
# 2.3-2.6 times the kept activations plus 16 bytes a parameter, so the activations count 2.5 times.
BACKWARD_FACTOR = 2.5
WORD_VOCAB = {"wikitext2": 33_278}
CHAR_VOCAB = 128
BPE_DEFAULT = {"wikitext2": 8000, "shakespeare": 512, "anna": 512, "multi30k_en_de": 6000, "multi30k_en_fr": 6000,
               "anki_en_fr": 4000}
ADDSUB_LENGTH = 9  # "BOS ±dd op ±dd EOS" and "BOS ±dd d EOS": 9 tokens each side
TRANSLATION_LENGTH = 64  # tokens of a long sentence pair side (batches are padded to their longest)


@dataclass(frozen=True)
class MemoryEstimate:
    """A run's memory, in bytes, by part; ``parameters`` is a count."""

    parameters: int
    weights_bytes: int  # parameters, gradients and AdamW state together
    activations_bytes: int
    total_bytes: int
    vocab_size: int
    tokens_per_batch: int

    @property
    def total_mb(self) -> float:
        return self.total_bytes / 2**20


def _vocab(config: TrainConfig) -> int:
    unit = config.unit
    if config.task == "addsub":
        return 16
    if unit == "bpe":
        return config.bpe_vocab_size or BPE_DEFAULT.get(config.task, 8000)
    if unit == "word":
        return WORD_VOCAB.get(config.task, 33_278)
    return CHAR_VOCAB


def _lengths(config: TrainConfig) -> tuple[int, int | None]:
    """(target or LM tokens per sequence, source tokens per sequence or None)."""
    if config.task == "addsub":
        return ADDSUB_LENGTH, ADDSUB_LENGTH
    if config.task in TRANSLATION_TASKS:
        length = min(config.max_len or TRANSLATION_LENGTH, TRANSLATION_LENGTH)
        return length, length
    return config.block_size, None


def _parameters(config: TrainConfig, vocab: int, length: int, source: int | None) -> int:
    with torch.device("meta"):
        if config.family == "lstm" and config.task in LM_TASKS:
            from .lstm import LSTMLanguageModel, lstm_config_like

            model = LSTMLanguageModel(lstm_config_like(replace(config.model, vocab_size=vocab, max_len=length)))
        else:
            from transformer.models import build_model

            cutoffs = config.model.adaptive_cutoffs
            if cutoffs and cutoffs[-1] >= vocab:
                vocab = cutoffs[-1] + 1
            model = build_model(config.model_for(
                vocab, max(length, source or 0), layout="encoder-decoder" if source is not None else "decoder",
                src_vocab_size=vocab if source is not None else None))
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def estimate_training_memory(config: TrainConfig, batch_size: int | None = None) -> MemoryEstimate:
    """The memory one training step of ``config`` needs (see the module docstring), at ``batch_size`` sequences
    (default ``config.batch_size``). Allocates nothing. Raises ValueError as the model's config does."""
    batch = batch_size or config.batch_size
    vocab = _vocab(config)
    length, source = _lengths(config)
    m = config.model
    parameters = _parameters(config, vocab, length, source)
    tokens = batch * length
    if config.family == "lstm" and config.task in LM_TASKS:
        per_token = m.n_layers * 10 * m.d_model + 2 * m.d_model
    else:
        block = 9 * m.d_model + 2 * m.d_ff
        per_token = m.n_layers * (block + 2 * m.n_heads * length) + 2 * m.d_model
        if source is not None:
            encoder_layers = m.n_encoder_layers or m.n_layers
            per_token += m.n_layers * (4 * m.d_model + 2 * m.n_heads * source)
            per_token += (encoder_layers * (block + 2 * m.n_heads * source) + 2 * m.d_model) * source / length
    width = vocab
    if m.adaptive_cutoffs:
        head = m.adaptive_cutoffs[0] + len(m.adaptive_cutoffs)
        width = head + (vocab - m.adaptive_cutoffs[0]) // max(1, int(m.adaptive_div_value))
    activations = int(tokens * (per_token * BACKWARD_FACTOR + 3 * width) * BYTES)  # logits: their own 3 copies
    weights = parameters * ADAM_NUMBERS_PER_PARAMETER * BYTES
    total = int((weights + activations) * OVERHEAD)
    return MemoryEstimate(parameters, weights, activations, total, vocab, tokens)


def largest_batch_within(config: TrainConfig, budget_bytes: int) -> int:
    """The largest batch size (≥ 0) whose estimate fits ``budget_bytes``; 0 when the weights alone do not fit."""
    one = estimate_training_memory(config, batch_size=1)
    per_sequence = one.activations_bytes * OVERHEAD
    room = budget_bytes - one.weights_bytes * OVERHEAD
    return max(0, int(room // per_sequence)) if per_sequence > 0 else 0
