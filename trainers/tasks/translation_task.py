"""The translation task adapter (data: ``translation``): Multi30k en→de / en→fr, Anki en→fr.

- :class:`TranslationTask`: what the :class:`~trainers.trainer.Trainer` trains: an encoder-decoder with
  a shared BPE, batches of sentence pairs of similar length, the teacher-forcing loss (padding ignored),
  evaluation by loss and BLEU on the validation split.
- :func:`evaluate_translation`: teacher-forced loss (nats per target token) and corpus BLEU of greedy or
  beam-search translations (:mod:`trainers.translate`); :func:`translation_loss`, :func:`corpus_bleu`.

BLEU (Papineni et al. 2002) is computed with torchmetrics' ``SacreBLEUScore`` (Post 2018's sacreBLEU:
its ``13a`` tokenisation, 4-grams, no smoothing, case-sensitive) on *detokenized* text: the model's
output decoded to a plain sentence against the raw reference sentences. It is reported on the usual
0–100 scale (torchmetrics returns 0–1).

Shape legend: B batch, S source length, T target length.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn
from torchmetrics.text import SacreBLEUScore

from transformer.models import TransformerConfig, build_model

from ..config import TrainConfig
from ..translate import EVAL_BATCH, MODEL_MAX_LEN, translate_sentences
from . import translation as tr
from .base import MAX_PROBE_TOKENS, Probe, TeacherForcingLoss, check_stop, teacher_forcing_loss

__all__ = ["TranslationTask", "corpus_bleu", "evaluate_translation", "translation_loss"]


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Corpus BLEU on the 0–100 scale: torchmetrics' ``SacreBLEUScore`` (13a tokenisation, 4-grams, cased).

    ``hypotheses[i]`` is a detokenized sentence, ``references[i]`` its reference sentences (one or more).
    Raises ValueError when the two lists differ in length.
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists")
    metric = SacreBLEUScore(n_gram=4, smooth=False, tokenize="13a", lowercase=False)
    return 100.0 * float(metric(list(hypotheses), [list(r) for r in references]))


@torch.no_grad()
def translation_loss(model: nn.Module, tokenizer, pairs: Sequence[tuple[str, str]], batch_size: int = EVAL_BATCH,
                     should_stop: Callable[[], bool] | None = None) -> tuple[float, int]:
    """Teacher-forced cross-entropy of the references: (nats per target token, target tokens scored)."""
    device = next(model.parameters()).device
    limit = model.config.max_len
    total, count = 0.0, 0
    rows = [(tr.encode_source(tokenizer, s)[-limit:], tr.encode_target(tokenizer, t)[:limit]) for s, t in pairs]
    rows.sort(key=lambda r: len(r[0]) + len(r[1]))
    for start in range(0, len(rows), batch_size):
        check_stop(should_stop)
        chunk = rows[start : start + batch_size]
        src = tr.pad_batch([r[0] for r in chunk]).to(device)
        tgt = tr.pad_batch([r[1] for r in chunk]).to(device)
        total += float(teacher_forcing_loss(model, src, tgt, ignore_index=tr.PAD_ID, reduction="sum"))
        count += int((tgt[:, 1:] != tr.PAD_ID).sum())
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
        self.max_len = config.max_len or MODEL_MAX_LEN
        self.data = tr.load_translation_data(config.task, config.data_dir, config.bpe_vocab_size, self.max_len)
        self.tokenizer = self.data.tokenizer
        self.vocab_size = self.data.vocab_size
        self.tokenizer_json = self.tokenizer.to_str()
        self.batches = tr.LengthBucketBatches(
            self.data.train_src, self.data.train_tgt, config.batch_size, config.seed, rank, world_size
        )

    def transformer_config(self) -> TransformerConfig:
        return self.config.model_for(
            vocab_size=self.vocab_size, src_vocab_size=self.vocab_size, layout="encoder-decoder",
            max_len=self.max_len, pad_id=tr.PAD_ID,
        )

    def build_model(self) -> nn.Module:
        return build_model(self.transformer_config())

    def loss_module(self, model: nn.Module) -> nn.Module:
        return TeacherForcingLoss(model, self.config.label_smoothing, ignore_index=tr.PAD_ID)

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

    def probe(self, text: str | None = None) -> Probe:
        """``"source ||| translation"``, or a source sentence whose reference is in the validation split.

        The encoder reads the source pieces + ``<eos>``; the decoder reads ``<bos>`` + the translation
        (teacher forcing). Cross-attention rows are labelled with the piece each step writes (the last
        row writes ``<eos>``), columns with the source pieces: the alignment. Raises ValueError for an empty
        side, a source with no known translation, or more than MAX_PROBE_TOKENS tokens a side.
        """
        from ..snapshots import TRANSLATION_SEPARATOR, default_probe

        text = (text or "").strip() or default_probe(self.config.task)
        source, _sep, target = (part.strip() for part in text.partition(TRANSLATION_SEPARATOR))
        if not target:
            refs = dict(zip(self.data.valid.sources, self.data.valid.references, strict=True))
            target = (refs.get(source) or [""])[0]
        if not source or not target:
            raise ValueError(
                f"The probe needs a source sentence and its translation, written as 'source {TRANSLATION_SEPARATOR} "
                f"translation' (the decoder reads the translation), e.g. {default_probe(self.config.task)!r}."
            )
        src_ids = tr.encode_source(self.tokenizer, tr.clean_text(source))
        tgt_ids = tr.encode_target(self.tokenizer, tr.clean_text(target))  # <bos> pieces <eos>
        if max(len(src_ids), len(tgt_ids)) > min(MAX_PROBE_TOKENS, self.max_len):
            raise ValueError(f"The probe is {max(len(src_ids), len(tgt_ids))} tokens long; keep each side under "
                             f"{min(MAX_PROBE_TOKENS, self.max_len)} tokens so its heatmaps stay readable.")
        piece = self.tokenizer.id_to_token
        src_tokens = [piece(i) or "" for i in src_ids]
        in_tokens = [piece(i) or "" for i in tgt_ids[:-1]]
        out_tokens = [piece(i) or "" for i in tgt_ids[1:]]
        inputs = (torch.tensor([src_ids], device=self.device), torch.tensor([tgt_ids[:-1]], device=self.device))
        return Probe(text, inputs,
                     {"encoder_self": src_tokens, "decoder_self": in_tokens, "cross": out_tokens},
                     {"encoder_self": src_tokens, "decoder_self": in_tokens, "cross": src_tokens})

    def describe(self, val_loss: float, metrics: dict[str, float]) -> str:
        return f"Validation BLEU {metrics['bleu']:.1f} (greedy), loss {val_loss:.3f}."
