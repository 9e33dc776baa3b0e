"""Evaluate a saved checkpoint on its task's data: the figures ``python -m trainers evaluate`` prints.

AddSub: exact-match and per-token accuracy of greedy decoding (``evaluate_addsub_pairs``) on
  - ``split="valid"`` (default): the course's 500 validation expressions (or, for a checkpoint trained
    without the course file, the 500 generated ones it was validated on: ``addsub.generated_valid_pairs``);
  - ``split="train"``: the expressions the checkpoint was trained on (regenerated from its record);
  - ``split="test"``: fresh expressions: every one of the 19,602 expressions of the whole operand range
    (−49…49, add and subtract) whose input the model never saw in training;
  - ``data=FILE``: any file in the course's JSON format, all of it (or its course split with ``split``).
Language models: loss in nats per token, perplexity and ``n_tokens`` on the ``valid`` (default) or
``test`` split, read from the task's default folder or ``data=FOLDER`` and encoded with the
checkpoint's own tokenizer; plus perplexity per word (WikiText-2) or nats per character (novels).
Translation (Multi30k en→de / en→fr, Anki en→fr): corpus ``bleu`` (0–100, sacreBLEU via torchmetrics, on
detokenized text) of greedy (default) or beam-search decoding, and the teacher-forced ``loss``, on
``split="test_2016_flickr"`` (Multi30k's default; "test" means it too), ``"val"``/``"valid"`` or
``"train"``; Anki's default is its seeded ``"test"`` split. ``data=FOLDER`` reads Multi30k-style
``<split>.<lang>`` files from another folder (Anki: another ``fra.txt``).
GPT-2-family folders (``trainers.gpt2``): ``data=FILE`` is any UTF-8 text file, scored by
:func:`evaluate_text_file`.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .checkpoint import CheckpointMeta, load_checkpoint
from .tasks.addsub_task import evaluate_addsub_pairs
from .tasks.lm_task import evaluate_lm_split, lm_unit_metrics
from .tasks.translation_task import evaluate_translation

__all__ = ["addsub_pairs_for", "evaluate_checkpoint", "evaluate_text_file", "lm_split_ids"]


def addsub_pairs_for(meta: CheckpointMeta, data: str | os.PathLike | None, split: str | None) -> list[tuple[str, str]]:
    """The (input, output) pairs an AddSub evaluation scores (see the module docstring).

    Raises FileNotFoundError for a missing file, ValueError for an unknown split or a bad file.
    """
    import json

    from .tasks import addsub

    if data is not None:
        path = Path(data)
        if not path.is_file():
            raise FileNotFoundError(f"--data {path}: no such file (AddSub wants a JSON file in the course's format)")
        if split is None:
            try:
                content = json.loads(path.read_text(encoding="utf-8"))
                return list(zip(content["inp_expression"], content["out_expression"], strict=True))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(
                    f"{path} is not in the course's format (a JSON object with lists 'inp_expression' and "
                    f"'out_expression' of equal length): {exc}"
                ) from None
        course_train, course_valid = addsub.load_course_split(path)
    elif meta.task_info.get("valid_source", "course") == "generated":  # trained without the course file
        course_train, course_valid = None, addsub.generated_valid_pairs()
    else:
        course_train, course_valid = addsub.load_course_split()
    split = split or "valid"
    if split == "valid":
        return course_valid
    train = _addsub_training_pairs(meta, course_train, course_valid)
    if split == "train":
        return train
    if split == "test":
        seen = {inp for inp, _ in train}
        return [pair for pair in addsub._all_expressions() if pair[0] not in seen]
    raise ValueError(f"AddSub splits are valid, train and test (fresh expressions), not {split!r}")


def _addsub_training_pairs(meta, course_train, course_valid) -> list[tuple[str, str]]:
    from .tasks import addsub

    info = meta.task_info
    if info.get("train_source", "course") == "course":
        return course_train if course_train is not None else addsub.load_course_split()[0]
    exclude = {inp for inp, _ in course_valid}
    return addsub.generate_expressions(int(info["train_size"]), int(info["train_seed"]), exclude=exclude)


def lm_split_ids(
    meta: CheckpointMeta, data: str | os.PathLike | None, split: str
) -> tuple[torch.Tensor, int | None, int | None]:
    """A split of the checkpoint's corpus encoded with its own tokenizer: ``(ids (N,), n_words, n_chars)``.

    ``data`` is the folder holding the corpus (default: the task's folder). Raises
    FileNotFoundError / DataUnavailableError when it is missing, ValueError for a split the corpus lacks.
    """
    from .tasks import lm, wikitext2

    if meta.task == "wikitext2":
        if split not in ("train", "valid", "test"):
            raise ValueError(f"WikiText-2 splits are train, valid and test, not {split!r}")
        lines = wikitext2.read_wikitext2(data)[split]
        ids = meta.encode("\n".join(lines) + "\n")  # every line followed by <eos>, as in training
        return torch.tensor(ids, dtype=torch.long), wikitext2.count_words(lines), None
    if split not in ("train", "valid"):
        raise ValueError(f"{meta.task} has a train and a valid split (90/10, as nanoGPT), not {split!r}")
    text = lm.read_char_corpus(meta.task, data)
    part = lm.split_train_valid(text)[0 if split == "train" else 1]
    if meta.tokenizer_kind == "char":
        meta.encode(part)  # raises a ValueError naming characters the vocabulary lacks
    encodings = meta.tokenizer.encode_batch(part.splitlines(keepends=True))
    ids = [i for encoding in encodings for i in encoding.ids]
    return torch.tensor(ids, dtype=torch.long), None, len(part)


def evaluate_checkpoint(
    path: str | os.PathLike,
    data: str | os.PathLike | None = None,
    split: str | None = None,
    device: str = "cpu",
    batch_size: int = 32,
    stride: int | None = None,
    decoding: str = "greedy",
    beam_width: int = 4,
    length_penalty: float = 0.6,
) -> dict:
    """Load a checkpoint and evaluate it; returns one flat dict of JSON-serialisable metrics.

    AddSub: ``exact_match``, ``token_accuracy``, ``loss``, ``n``. Language models: ``loss`` (nats per
    token), ``perplexity``, ``n_tokens``, and ``word_perplexity`` (WikiText-2) or ``nats_per_char`` /
    ``bits_per_char`` (novels). Also ``task``, ``split``, ``checkpoint``. ``stride`` (language models):
    score with sliding windows that start every ``stride`` tokens (see ``evaluate_lm_split``); default
    non-overlapping windows of the training block size. Translation: ``bleu``, ``loss``, ``perplexity``,
    ``n_sentences``, ``n_target_tokens``, ``decoding`` ("greedy" or "beam", with ``beam_width`` and
    ``length_penalty``), ``language_pair`` and ``bleu_metric``.
    Raises CheckpointError, FileNotFoundError or ValueError with a sentence.
    """
    model, meta = load_checkpoint(path, device=device)
    if meta.task == "gpt2":
        if data is None:
            raise ValueError("a GPT-2 folder is evaluated on a text file: pass --data FILE")
        return {"task": meta.task, "checkpoint": str(path), "data": str(data),
                **evaluate_text_file(model, meta, data, batch_size=min(batch_size, 8))}
    if meta.is_translation:
        return _evaluate_translation(model, meta, path, data, split, decoding, beam_width, length_penalty)
    if meta.task == "addsub":
        pairs = addsub_pairs_for(meta, data, split)
        result = evaluate_addsub_pairs(model, pairs)
        shown_split = split or ("all" if data is not None else "valid")
    else:
        shown_split = split or "valid"
        ids, n_words, n_chars = lm_split_ids(meta, data, shown_split)
        block = int(meta.task_info.get("block_size") or meta.model_config.max_len)
        result = evaluate_lm_split(model, ids, block, batch_size=batch_size, stride=stride)
        if stride is not None:
            result["stride"] = stride
        result = lm_unit_metrics(result, ids.numel(), n_words, n_chars)
    return {"task": meta.task, "split": shown_split, "checkpoint": str(path), **result}


@torch.no_grad()
def evaluate_text_file(model, meta: CheckpointMeta, path: str | os.PathLike, batch_size: int = 8) -> dict:
    """Mean next-token cross-entropy (nats per token) of a language model over a UTF-8 text file.

    The file is encoded by the checkpoint's tokenizer as it is (for a GPT-2 folder: tokenizer.json, no
    tokens added): N ids. Every id but the first is predicted once: the model reads windows of
    ``max_len`` (GPT-2: n_positions) ids starting at 0, max_len, 2·max_len, …; the window starting at s
    predicts ids s+1 … s+max_len, so only the first id of each window is read without the ids before it.
    Returns ``{"loss", "perplexity": exp(loss), "n_tokens": N − 1 predicted, "n_file_tokens": N, "window"}``.
    Raises FileNotFoundError for a missing file, ValueError for one that is not UTF-8 or holds fewer than 2 tokens.
    """
    import math

    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"--data {file}: no such file")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{file} is not UTF-8 text: {exc}") from None
    ids = torch.tensor(meta.encode(text), dtype=torch.long)
    if ids.numel() < 2:
        raise ValueError(f"{file} holds {ids.numel()} token(s): at least 2 are needed to predict one")
    window = int(model.config.max_len)
    device = next(model.parameters()).device
    model.eval()
    starts = list(range(0, ids.numel() - 1, window))
    total = 0.0
    full = [s for s in starts if s + window + 1 <= ids.numel()]
    for i in range(0, len(full), batch_size):
        chunk = torch.stack([ids[s : s + window + 1] for s in full[i : i + batch_size]]).to(device)  # (B, window + 1)
        logits = model(chunk[:, :-1])  # (B, window, V)
        total += float(torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), chunk[:, 1:].flatten(),
                                                         reduction="sum"))
    for s in starts[len(full):]:  # the last, shorter window
        chunk = ids[s:].to(device)[None]  # (1, T + 1)
        logits = model(chunk[:, :-1])
        total += float(torch.nn.functional.cross_entropy(logits[0].float(), chunk[0, 1:], reduction="sum"))
    n = ids.numel() - 1
    loss = total / n
    return {"loss": loss, "perplexity": math.exp(loss), "n_tokens": n, "n_file_tokens": ids.numel(), "window": window}


def _evaluate_translation(model, meta: CheckpointMeta, path, data, split, decoding, beam_width, length_penalty) -> dict:
    """BLEU and loss of a translation checkpoint on one split (see :func:`evaluate_checkpoint`)."""
    from .tasks import translation

    corpus = translation.corpus_of(meta.task)
    split = split or translation.DEFAULT_TEST_SPLIT[corpus]
    if corpus == "multi30k" and split == "test":
        split = "test_2016_flickr"
    split = "val" if split == "valid" else split
    sentences = translation.read_split(meta.task, split, data)
    result = evaluate_translation(model, meta.tokenizer, sentences, decoding, beam_width, length_penalty)
    _corpus, src, tgt = translation.LANGUAGES[meta.task]
    return {
        "task": meta.task, "split": split, "checkpoint": str(path), "language_pair": f"{src}-{tgt}",
        **result,
        "bleu_metric": "torchmetrics SacreBLEUScore (13a tokenisation, 4-gram, cased) on detokenized text, 0-100",
    }
