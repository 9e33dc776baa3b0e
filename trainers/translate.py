"""Translation with an encoder-decoder: the training task adapter, decoding sentences, loss and corpus BLEU.

- :class:`TranslationTask`: the task adapter the :class:`~trainers.trainer.Trainer` trains (Multi30k
  en→de / en→fr, Anki en→fr; data and tokenizer in :mod:`trainers.tasks.translation`).
- :func:`translate_sentences`: sentences in, translations out, by greedy (batched) or beam search
  (:mod:`transformer.decoding`), in the input order; :func:`greedy_candidate` / :func:`beam_candidates`
  give one sentence's translation(s) with log-probabilities and scores.
- :func:`evaluate_translation`: teacher-forced loss (nats per target token) and corpus BLEU.

BLEU (Papineni et al. 2002) is computed with torchmetrics' ``SacreBLEUScore`` (Post 2018's sacreBLEU:
its ``13a`` tokenisation, 4-grams, no smoothing, case-sensitive) on *detokenized* text: the model's
output decoded to a plain sentence against the raw reference sentences. It is reported on the usual
0–100 scale (torchmetrics returns 0–1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from transformer.decoding import beam_search, greedy_search
from transformer.models import TransformerConfig, build_model

from .config import TrainConfig
from .tasks import translation as tr

__all__ = [
    "DECODINGS",
    "TranslationTask",
    "corpus_bleu",
    "decode_batch",
    "evaluate_translation",
    "greedy_candidate",
    "beam_candidates",
    "max_new_tokens_for",
    "translate_sentences",
]

DECODINGS: tuple[str, ...] = ("greedy", "beam")
MODEL_MAX_LEN = 128  # positions of a translation model: sources and targets up to 128 tokens (Multi30k's longest: 60)
EVAL_BATCH = 64  # sentences decoded at once during evaluation; a periodic evaluation reads eval_batches × this


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Corpus BLEU on the 0–100 scale: torchmetrics' ``SacreBLEUScore`` (13a tokenisation, 4-grams, cased).

    ``hypotheses[i]`` is a detokenized sentence, ``references[i]`` its reference sentences (one or more).
    Raises ValueError when the two lists differ in length.
    """
    from torchmetrics.text import SacreBLEUScore

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists")
    metric = SacreBLEUScore(n_gram=4, smooth=False, tokenize="13a", lowercase=False)
    return 100.0 * float(metric(list(hypotheses), [list(r) for r in references]))


def max_new_tokens_for(config: TransformerConfig, src_len: int) -> int:
    """A length limit for a translation of a ``src_len``-token source: 1.5 × src_len + 10, within ``max_len``."""
    return max(1, min(config.max_len - 1, int(1.5 * src_len) + 10))


def _cut(tokens: Sequence[int]) -> list[int]:
    """Ids up to (not including) the first EOS."""
    out = []
    for t in tokens:
        if t == tr.EOS_ID:
            break
        out.append(int(t))
    return out


@torch.no_grad()
def decode_batch(model: nn.Module, src: Tensor, max_new_tokens: int) -> list[list[int]]:
    """Greedy translations of a padded batch src (B, S): one id list per row, without BOS/EOS."""
    hyps = greedy_search(model, src, bos_id=tr.BOS_ID, eos_id=tr.EOS_ID, max_new_tokens=max_new_tokens)
    return [_cut(h.tokens) for h in hyps]


@dataclass
class Candidate:
    """One translation: its ids (no BOS/EOS), text, summed log-probability (nats), score and whether it ended.

    ``length``: the number of tokens the score's length penalty counts — the ids plus EOS when ``finished``
    (``score = log_prob / transformer.decoding.length_penalty(length, α)``).
    """

    ids: list[int]
    text: str
    log_prob: float
    score: float
    finished: bool
    length: int


@torch.no_grad()
def translate_sentences(
    model: nn.Module,
    tokenizer,
    sources: Sequence[str],
    decoding: str = "greedy",
    beam_width: int = 4,
    length_penalty: float = 0.6,
    batch_size: int = EVAL_BATCH,
    should_stop: Callable[[], bool] | None = None,
) -> list[str]:
    """Translate ``sources`` (plain sentences) with ``decoding`` "greedy" (batched) or "beam"; texts in input order.

    Sentences are cleaned (:func:`~trainers.tasks.translation.clean_text`); too-long sources are cut to the
    model's ``max_len``. Raises ValueError for an unknown decoding; :class:`~trainers.trainer.TrainingStopped`
    when ``should_stop`` turns true between batches.
    """
    from .trainer import _check_stop

    if decoding not in DECODINGS:
        raise ValueError(f"decoding must be one of {', '.join(DECODINGS)}, got {decoding!r}")
    device = next(model.parameters()).device
    limit = model.config.max_len
    encoded = [tr.encode_source(tokenizer, tr.clean_text(s))[-limit:] for s in sources]
    results: list[str | None] = [None] * len(encoded)
    was_training = model.training
    model.eval()
    try:
        if decoding == "greedy":
            order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
            for start in range(0, len(order), batch_size):
                _check_stop(should_stop)
                index = order[start : start + batch_size]
                src = tr.pad_batch([encoded[i] for i in index]).to(device)
                outs = decode_batch(model, src, max_new_tokens_for(model.config, src.shape[1]))
                for i, ids in zip(index, outs, strict=True):
                    results[i] = tr.detokenize(tokenizer, ids)
        else:
            for i, ids in enumerate(encoded):
                _check_stop(should_stop)
                best = beam_candidates(model, tokenizer, ids, beam_width, length_penalty)[0]
                results[i] = best.text
    finally:
        model.train(was_training)
    return [r or "" for r in results]


@torch.no_grad()
def greedy_candidate(model: nn.Module, tokenizer, src_ids: Sequence[int]) -> Candidate:
    """Greedy translation of one source (ids incl. EOS) with its log-probability in nats (score = log-probability)."""
    device = next(model.parameters()).device
    src = torch.tensor([list(src_ids)], device=device)
    limit = max_new_tokens_for(model.config, src.shape[1])
    h = greedy_search(model, src, bos_id=tr.BOS_ID, eos_id=tr.EOS_ID, max_new_tokens=limit)[0]
    ids = _cut(h.tokens)
    return Candidate(ids, tr.detokenize(tokenizer, ids), float(h.log_prob), float(h.score), bool(h.finished),
                     len(h.tokens))


@torch.no_grad()
def beam_candidates(
    model: nn.Module, tokenizer, src_ids: Sequence[int], beam_width: int = 4, length_penalty: float = 0.6
) -> list[Candidate]:
    """The n-best list of beam search for one source (ids incl. EOS), best first (``transformer.decoding``).

    Raises ValueError for a beam width below 1 or a negative length penalty.
    """
    device = next(model.parameters()).device
    src = torch.tensor([list(src_ids)], device=device)
    hyps = beam_search(
        model, src, bos_id=tr.BOS_ID, eos_id=tr.EOS_ID, beam_width=beam_width, length_penalty=length_penalty,
        max_new_tokens=max_new_tokens_for(model.config, src.shape[1]),
    )
    out = []
    for h in hyps:
        ids = _cut(h.tokens)
        out.append(Candidate(ids, tr.detokenize(tokenizer, ids), float(h.log_prob), float(h.score), bool(h.finished),
                             len(h.tokens)))
    return out


@torch.no_grad()
def translation_loss(model: nn.Module, tokenizer, pairs: Sequence[tuple[str, str]], batch_size: int = EVAL_BATCH,
                     should_stop: Callable[[], bool] | None = None) -> tuple[float, int]:
    """Teacher-forced cross-entropy of the references: (nats per target token, target tokens scored)."""
    from .trainer import _check_stop

    device = next(model.parameters()).device
    limit = model.config.max_len
    total, count = 0.0, 0
    rows = [(tr.encode_source(tokenizer, s)[-limit:], tr.encode_target(tokenizer, t)[:limit]) for s, t in pairs]
    rows.sort(key=lambda r: len(r[0]) + len(r[1]))
    for start in range(0, len(rows), batch_size):
        _check_stop(should_stop)
        chunk = rows[start : start + batch_size]
        src = tr.pad_batch([r[0] for r in chunk]).to(device)
        tgt = tr.pad_batch([r[1] for r in chunk]).to(device)
        logits = model(src, tgt[:, :-1])  # (B, T - 1, V)
        labels = tgt[:, 1:]
        total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1),
                                        ignore_index=tr.PAD_ID, reduction="sum"))
        count += int((labels != tr.PAD_ID).sum())
    return total / max(count, 1), count


def evaluate_translation(
    model: nn.Module,
    tokenizer,
    split: tr.TranslationSplit,
    decoding: str = "greedy",
    beam_width: int = 4,
    length_penalty: float = 0.6,
    should_stop: Callable[[], bool] | None = None,
    with_loss: bool = True,
) -> dict:
    """Loss and corpus BLEU of ``model`` on ``split``.

    Returns ``{"bleu": 0–100, "loss": nats per target token (teacher forcing), "perplexity", "n_sentences",
    "n_target_tokens", "decoding": "greedy" | "beam"}`` (+ ``beam_width`` and ``length_penalty`` for beam).
    Raises ValueError for an empty split.
    """
    if len(split) == 0:
        raise ValueError("there are no sentences to evaluate")
    was_training = model.training
    model.eval()
    try:
        hypotheses = translate_sentences(model, tokenizer, split.sources, decoding, beam_width, length_penalty,
                                         should_stop=should_stop)
        result = {"bleu": corpus_bleu(hypotheses, split.references)}
        if with_loss:
            loss, n_tokens = translation_loss(model, tokenizer, split.pairs(), should_stop=should_stop)
            result |= {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), "n_target_tokens": n_tokens}
    finally:
        model.train(was_training)
    result |= {"n_sentences": len(split), "decoding": decoding}
    if decoding == "beam":
        result |= {"beam_width": beam_width, "length_penalty": length_penalty}
    return result


class TranslationLoss(nn.Module):
    """Teacher forcing with padding: the decoder reads tgt[:, :-1] and predicts tgt[:, 1:]; padded labels are ignored.

    Mean cross-entropy in nats per real target token, with label smoothing (Szegedy et al. 2016) if set.
    """

    def __init__(self, model: nn.Module, label_smoothing: float) -> None:
        super().__init__()
        self.model = model
        self.label_smoothing = label_smoothing

    def forward(self, src: Tensor, tgt: Tensor) -> Tensor:
        logits = self.model(src, tgt[:, :-1])  # (B, T_tgt - 1, V)
        return F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(),
            tgt[:, 1:].reshape(-1),
            label_smoothing=self.label_smoothing,
            ignore_index=tr.PAD_ID,
        )


class TranslationTask:
    """English→German / English→French translation on an encoder-decoder, trained with teacher forcing.

    Data: the task's training split, tokenized with a shared BPE trained on it (see
    :mod:`trainers.tasks.translation`), in shuffled batches of ``batch_size`` sentence pairs of similar
    length. Padding (id 0) is masked as an attention key (``pad_id`` in the model config; the decoder's
    self-attention also gets the causal mask) and ignored by the loss. Validation: teacher-forced loss and
    corpus BLEU of greedy decoding on the validation split (a periodic evaluation uses its first
    ``eval_batches × 64`` sentences, the final one all of it). Headline metric: BLEU.
    """

    headline = "bleu"

    def __init__(self, config: TrainConfig, device: torch.device, rank: int = 0, world_size: int = 1) -> None:
        """Raises FileNotFoundError when the task's data is missing, ValueError for a batch larger than the data."""
        self.config, self.device, self.rank, self.world_size = config, device, rank, world_size
        self.max_len = config.model.max_len or MODEL_MAX_LEN
        self.data = tr.load_translation_data(config.task, config.data_dir, config.bpe_vocab_size, self.max_len)
        self.tokenizer = self.data.tokenizer
        self.vocab_size = self.data.vocab_size
        self.tokenizer_json = self.tokenizer.to_str()
        self.batches = tr.LengthBucketBatches(
            self.data.train_src, self.data.train_tgt, config.batch_size, config.seed, rank, world_size
        )

    def transformer_config(self) -> TransformerConfig:
        return self.config.model.to_transformer_config(
            vocab_size=self.vocab_size, src_vocab_size=self.vocab_size, arch="encoder-decoder",
            max_len=self.max_len, pad_id=tr.PAD_ID,
        )

    def build_model(self) -> nn.Module:
        return build_model(self.transformer_config())

    def loss_module(self, model: nn.Module) -> nn.Module:
        return TranslationLoss(model, self.config.label_smoothing)

    def next_batch(self) -> tuple[tuple[Tensor, Tensor], int]:
        """The next (src (B, S), tgt (B, T)) and its count of real (non-padding) source + target tokens."""
        src, tgt = self.batches.next()
        n_tokens = int((src != tr.PAD_ID).sum() + (tgt != tr.PAD_ID).sum())
        return (src.to(self.device), tgt.to(self.device)), n_tokens

    def evaluate(self, model: nn.Module, max_batches: int | None, should_stop=None) -> dict[str, float]:
        split = self.data.valid if max_batches is None else self.data.valid.head(max_batches * EVAL_BATCH)
        result = evaluate_translation(model, self.tokenizer, split, should_stop=should_stop)
        return {k: v for k, v in result.items() if isinstance(v, int | float)}

    def task_info(self) -> dict:
        corpus = tr.corpus_of(self.config.task)
        return {
            **self.data.info,
            "vocab_size": self.vocab_size,
            "pad_id": tr.PAD_ID, "unk_id": tr.UNK_ID, "bos_id": tr.BOS_ID, "eos_id": tr.EOS_ID,
            "max_len": self.max_len,
            "splits": list(tr.SPLITS[corpus]),
            "default_test_split": tr.DEFAULT_TEST_SPLIT[corpus],
            "bleu": "torchmetrics SacreBLEUScore (13a, 4-gram, cased) on detokenized text, 0-100",
        }
