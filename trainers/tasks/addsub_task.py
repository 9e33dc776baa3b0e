"""The AddSub task adapter: EECS 498 A5's addition/subtraction on an encoder-decoder (data: ``addsub``).

- :class:`AddSubTask`: what the :class:`~trainers.trainer.Trainer` trains: batches of the training
  expressions, the teacher-forcing loss, evaluation on the validation expressions.
- :func:`addsub_answers` / :func:`solve_addsub`: greedy answers of a model, as ids or course strings.
- :func:`evaluate_addsub_pairs`: exact-match and per-token accuracy of greedy decoding, and the
  teacher-forced loss, on (input, output) pairs (torchmetrics' ``MeanMetric`` and ``MulticlassAccuracy``).

Shape legend: B batch; AddSub sources are 9 ids, targets 5 (``BOS sign d d EOS``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.utils.data import DistributedSampler
from torchmetrics.aggregation import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from transformer.decoding import greedy_search
from transformer.models import Seq2SeqTransformer, TransformerConfig, build_model

from ..config import TrainConfig
from . import addsub
from .base import Probe, TeacherForcingLoss, check_stop, teacher_forcing_loss

__all__ = ["AddSubTask", "addsub_answers", "evaluate_addsub_pairs", "solve_addsub"]


@torch.no_grad()
def addsub_answers(model: Seq2SeqTransformer, src: Tensor) -> Tensor:
    """Greedy answers of an AddSub model: src (B, 9) course ids → (B, 5) ids ``BOS sign d d EOS``.

    Decodes exactly 4 tokens after BOS (the answer always has 4), so the result lines up with targets.
    Use ``trainers.tasks.addsub.decode_ids`` to turn a row into the course string.
    """
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
    :class:`~trainers.tasks.base.TrainingStopped` when ``should_stop`` turns true between batches.
    """
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
            check_stop(should_stop)
            src = dataset.src[start : start + batch_size].to(device)
            tgt = dataset.tgt[start : start + batch_size].to(device)
            pred = addsub_answers(model, src)[:, 1:]  # (B, 4)
            labels = tgt[:, 1:]  # (B, 4)
            exact.update((pred == labels).all(dim=1).float())
            token_acc.update(pred.reshape(-1), labels.reshape(-1))
            loss_mean.update(teacher_forcing_loss(model, src, tgt, reduction="none"))  # (B·4,)
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
        return self.config.model_for(
            vocab_size=addsub.VOCAB_SIZE,
            src_vocab_size=addsub.VOCAB_SIZE,
            layout="encoder-decoder",
            max_len=max(addsub.SRC_LEN, addsub.TGT_LEN),
        )

    def build_model(self) -> nn.Module:
        return build_model(self.transformer_config())

    def loss_module(self, model: nn.Module) -> nn.Module:
        return TeacherForcingLoss(model, self.config.label_smoothing, addsub.IGNORE_INDEX)

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

    def describe(self, val_loss: float, metrics: dict[str, float]) -> str:
        return (f"Validation exact-match {metrics['exact_match']:.3f}, "
                f"per-token accuracy {metrics['token_accuracy']:.3f}.")

    def probe(self, text: str | None = None) -> Probe:
        """An expression (``"-30 - -34"`` or a course string) and its right answer, read with teacher forcing.

        The encoder reads the 9 input tokens; the decoder reads ``BOS sign d d`` of the right answer, so
        each decoder row is the step that predicts the next answer token (as on the Attention maps page).
        Raises ValueError (the parser's sentence) for text that is not an AddSub expression.
        """
        from ..snapshots import default_probe

        text = (text or "").strip() or default_probe("addsub")
        expression = text if text.startswith("BOS") else addsub.parse_arithmetic(text)
        src_ids = addsub.encode_expression(expression)
        if len(src_ids) != addsub.SRC_LEN:
            raise ValueError(f"{text!r} is not an AddSub expression of {addsub.SRC_LEN} tokens")
        words = expression.split()
        a = int(words[2]) * (-1 if words[1] == "NEGATIVE" else 1)
        b = int(words[5]) * (-1 if words[4] == "NEGATIVE" else 1)
        tgt_ids = addsub.encode_expression(addsub.solve(a, words[3], b))[:-1]  # BOS sign d d
        src_tokens = [addsub.ADDSUB_VOCAB[i] for i in src_ids]
        dec_tokens = [addsub.ADDSUB_VOCAB[i] for i in tgt_ids]
        inputs = (torch.tensor([src_ids], device=self.device), torch.tensor([tgt_ids], device=self.device))
        return Probe(text, inputs,
                     {"encoder_self": src_tokens, "decoder_self": dec_tokens, "cross": dec_tokens},
                     {"encoder_self": src_tokens, "decoder_self": dec_tokens, "cross": src_tokens})
