"""Translation data: Multi30k English→German / English→French and the short Anki English→French pairs.

Corpora (``../shared/data``, see its README):

- **Multi30k task 1** (Elliott et al. 2016, 2017): image captions, line-aligned ``train`` (29,000),
  ``val`` (1,014) and ``test_2016_flickr`` (1,000) files per language; one reference per caption.
- **Anki fra-eng** (Tatoeba): 76,037 ``English<TAB>French`` lines sorted by English length, with only
  49,197 distinct English sentences. The split is seeded and made over *distinct English sentences*
  (1,000 validation, 1,000 test, the rest training), so a sentence never appears in two splits; every
  French translation of a held-out sentence is one of its references (multi-reference BLEU).

Text is cleaned the same way everywhere (:func:`clean_text`): Unicode NFC, whitespace runs become one
space, no leading or trailing space. The raw Multi30k validation and test lines are clean already.

Tokenizer. One **shared (joint) BPE** (Sennrich et al. 2016) is trained with ``tokenizers`` on the
*training* split of both languages (:func:`build_translation_tokenizer`). Why shared rather than one per
language: (1) source embedding, target embedding and output layer can then be one matrix, as in Vaswani
et al. 2017 §3.4 (three-way tying, Press & Wolf 2017), which keeps the shipped model under 10 MB;
(2) names, numbers and cognates ("Frisbee", "Jeans", "Café") get the same ids on both sides, so the model
can copy them. Pieces are SentencePiece-style: a space becomes ``▁`` at the start of the next piece
(``Metaspace``), punctuation is split off, and decoding reverses it exactly, so
``detokenize(tokenize(s)) == s`` for every clean ``s`` whose characters the tokenizer knows. A character
the training text never contained becomes ``<unk>``; :func:`unknown_characters` names them.

Ids: ``<pad>`` 0, ``<unk>`` 1, ``<bos>`` 2, ``<eos>`` 3. A source is its pieces followed by ``<eos>``; a
target is ``<bos>`` pieces ``<eos>``. Teacher forcing: the decoder reads ``target[:-1]`` and is trained to
predict ``target[1:]``; padding (id 0) is masked as a key and ignored by the loss (``ignore_index``).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
from tokenizers.trainers import BpeTrainer

from trainers import data_paths
from trainers.hub import hub_unavailable_reason
from trainers.tasks import TRANSLATION_TASKS

# task → (corpus, source language, target language)
LANGUAGES: dict[str, tuple[str, str, str]] = {
    "multi30k_en_de": ("multi30k", "en", "de"),
    "multi30k_en_fr": ("multi30k", "en", "fr"),
    "anki_en_fr": ("anki", "en", "fr"),
}
SPLITS: dict[str, tuple[str, ...]] = {
    "multi30k": ("train", "val", "test_2016_flickr"),
    "anki": ("train", "val", "test"),
}
DEFAULT_TEST_SPLIT: dict[str, str] = {"multi30k": "test_2016_flickr", "anki": "test"}
DEFAULT_BPE_VOCAB_SIZE: dict[str, int] = {"multi30k": 6000, "anki": 4000}
SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<unk>", "<bos>", "<eos>")
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
SPACE = "▁"  # U+2581, SentencePiece's visible space
ANKI_HELD_OUT = 1000  # distinct English sentences in each of the Anki validation and test splits
ANKI_SPLIT_SEED = 0

_WHITESPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """NFC-normalise, collapse whitespace runs to one space and strip: the form every sentence is used in."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


# --------------------------------------------------------------------------------------------------
# Reading the corpora
# --------------------------------------------------------------------------------------------------
@dataclass
class TranslationSplit:
    """One split: ``sources[i]`` with its references ``references[i]`` (Multi30k: exactly one)."""

    name: str
    sources: list[str]
    references: list[list[str]]

    def __len__(self) -> int:
        return len(self.sources)

    def pairs(self) -> list[tuple[str, str]]:
        """Every (source, reference) pair: what the loss is computed on."""
        return [(s, r) for s, refs in zip(self.sources, self.references, strict=True) for r in refs]

    def head(self, n: int) -> TranslationSplit:
        """The first ``n`` sentences."""
        return TranslationSplit(self.name, self.sources[:n], self.references[:n])


def corpus_of(task: str) -> str:
    """"multi30k" or "anki". Raises ValueError for a task that is not a translation task."""
    if task not in LANGUAGES:
        raise ValueError(f"{task!r} is not a translation task (they are {', '.join(TRANSLATION_TASKS)})")
    return LANGUAGES[task][0]


def data_location(task: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Where a task's data is read from: ``data_dir`` if given, else the shared Multi30k folder or Anki file."""
    if corpus_of(task) == "multi30k":
        return Path(data_dir).expanduser() if data_dir is not None else data_paths.multi30k_dir()
    if data_dir is not None:
        path = Path(data_dir).expanduser()
        return path / "fra.txt" if path.is_dir() else path
    return data_paths.anki_fra_eng_path()


def _read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")


@lru_cache(maxsize=8)
def _multi30k_split(folder: str, split: str, src: str, tgt: str) -> TranslationSplit:
    base = Path(folder)
    files = [base / f"{split}.{lang}" for lang in (src, tgt)]
    for file in files:
        data_paths.require(file, f"the Multi30k file {file.name}", env_var=data_paths.ENV_SHARED_DATA)
    src_lines, tgt_lines = (_read_lines(f) for f in files)
    while src_lines and src_lines[-1] == "" and tgt_lines and tgt_lines[-1] == "":
        src_lines, tgt_lines = src_lines[:-1], tgt_lines[:-1]
    if len(src_lines) != len(tgt_lines):
        raise ValueError(f"{files[0]} has {len(src_lines)} lines but {files[1]} has {len(tgt_lines)}: not aligned")
    sources, references = [], []
    for s, t in zip(src_lines, tgt_lines, strict=True):
        s, t = clean_text(s), clean_text(t)
        if s and t:
            sources.append(s)
            references.append([t])
    return TranslationSplit(split, sources, references)


# Multi30k on the Hugging Face Hub, used when the shared folder lacks it and the Hub answers: the
# dataset's splits (train / validation / test = test_2016_flickr) hold one caption pair per row.
MULTI30K_HUB: dict[str, tuple[str, float]] = {"multi30k_en_de": ("bentrevett/multi30k", 4.9)}  # id, download MB
_MULTI30K_HUB_SPLIT = {"train": "train", "val": "validation", "test_2016_flickr": "test"}


@lru_cache(maxsize=4)
def _multi30k_hub_rows(task: str) -> dict[str, tuple[tuple[str, str], ...]]:
    import datasets  # deferred: importing datasets takes about half a second

    _, src, tgt = LANGUAGES[task]
    dataset = datasets.load_dataset(MULTI30K_HUB[task][0])
    return {
        split: tuple(zip(dataset[hub_split][src], dataset[hub_split][tgt], strict=True))
        for split, hub_split in _MULTI30K_HUB_SPLIT.items()
    }


def _multi30k_hub_split(task: str, split: str, folder: Path) -> TranslationSplit:
    """``split`` of ``task`` from the Hub (``MULTI30K_HUB``), after a probe of a few seconds.

    Raises:
        FileNotFoundError: the Hub cannot be used; the message names the local folder to fill instead.
    """
    hub_id = MULTI30K_HUB[task][0]
    reason = hub_unavailable_reason()
    if reason is None:
        try:
            rows = _multi30k_hub_rows(task)[split]
        except Exception as exc:  # any Hub or network failure becomes the same actionable message
            reason = f"loading {hub_id} failed: {exc}"
    if reason is not None:
        raise FileNotFoundError(
            f"Multi30k is not in {folder} and {hub_id} cannot be downloaded from the Hugging Face Hub: {reason}. "
            f"Put Multi30k's train/val/test_2016_flickr .en/.de files in {folder} "
            f"(or set {data_paths.ENV_SHARED_DATA} to the folder holding multi30k/)."
        )
    sources, references = [], []
    for s, t in rows:
        s, t = clean_text(s), clean_text(t)
        if s and t:
            sources.append(s)
            references.append([t])
    return TranslationSplit(split, sources, references)


@lru_cache(maxsize=2)
def _anki_splits(path: str, n_held_out: int, seed: int) -> dict[str, TranslationSplit]:
    file = data_paths.require(path, "the Anki English-French file fra.txt", env_var=data_paths.ENV_SHARED_DATA)
    grouped: dict[str, list[str]] = {}
    for line in _read_lines(file):
        parts = line.split("\t")
        if len(parts) < 2:
            continue
        en, fr = clean_text(parts[0]), clean_text(parts[1])
        if en and fr:
            grouped.setdefault(en, []).append(fr)
    english = list(grouped)
    if len(english) < 2 * n_held_out + 1:
        raise ValueError(f"{file} has only {len(english)} distinct English sentences; need more than {2 * n_held_out}")
    order = np.random.default_rng(seed).permutation(len(english))
    parts = {"val": order[:n_held_out], "test": order[n_held_out : 2 * n_held_out], "train": order[2 * n_held_out :]}
    out = {}
    for name, index in parts.items():
        chosen = [english[i] for i in sorted(index)]  # keep the file's order (short sentences first)
        out[name] = TranslationSplit(name, chosen, [list(grouped[s]) for s in chosen])
    return out


def read_split(task: str, split: str, data_dir: str | os.PathLike | None = None) -> TranslationSplit:
    """Sentences and references of ``split`` for ``task`` (cleaned with :func:`clean_text`).

    Multi30k splits: train, val, test_2016_flickr ("valid" means val, "test" test_2016_flickr); Anki:
    train, val, test (the seeded split of the module docstring). ``data_dir``: a folder with Multi30k's
    ``<split>.<lang>`` files, or the Anki file (or its folder). Raises FileNotFoundError (naming the path)
    when the data is missing, ValueError for an unknown split.
    """
    corpus, src, tgt = LANGUAGES[task] if task in LANGUAGES else (corpus_of(task), "", "")
    split = {"valid": "val"}.get(split, split)
    if corpus == "multi30k" and split == "test":
        split = "test_2016_flickr"
    if split not in SPLITS[corpus]:
        raise ValueError(f"{task} has the splits {', '.join(SPLITS[corpus])}, not {split!r}")
    location = data_location(task, data_dir)
    if corpus == "multi30k":
        if data_dir is None and task in MULTI30K_HUB and not (location / f"{split}.{tgt}").is_file():
            return _multi30k_hub_split(task, split, location)
        return _multi30k_split(str(location), split, src, tgt)
    return _anki_splits(str(location), ANKI_HELD_OUT, ANKI_SPLIT_SEED)[split]


# --------------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------------
def build_translation_tokenizer(texts: Iterable[str], vocab_size: int, min_frequency: int = 2) -> Tokenizer:
    """A shared BPE tokenizer trained on ``texts`` (source and target training sentences together).

    NFC normaliser; ``Metaspace`` (a space becomes ``▁`` at the start of the next piece) then punctuation
    split off; BPE merges up to ``vocab_size`` ids, the four special tokens first (``<pad>`` 0, ``<unk>``
    1, ``<bos>`` 2, ``<eos>`` 3); characters never seen in ``texts`` encode as ``<unk>``.
    Raises ValueError for a vocabulary too small to hold the special tokens.
    """
    if vocab_size <= len(SPECIAL_TOKENS):
        raise ValueError(f"the BPE vocabulary must be larger than {len(SPECIAL_TOKENS)}, got {vocab_size}")
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement=SPACE, prepend_scheme="always", split=True),
        pre_tokenizers.Punctuation(behavior="isolated"),
    ])
    tokenizer.decoder = decoders.Metaspace(replacement=SPACE, prepend_scheme="always", split=True)
    trainer = BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=list(SPECIAL_TOKENS), show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def tokenize(tokenizer: Tokenizer, text: str) -> list[int]:
    """Sentence → BPE ids (no special tokens). ``detokenize(tokenizer, tokenize(tokenizer, s)) == s``."""
    return tokenizer.encode(text, add_special_tokens=False).ids


def detokenize(tokenizer: Tokenizer, ids: Sequence[int] | torch.Tensor) -> str:
    """BPE ids → text; special tokens (padding, BOS, EOS) are dropped, ``▁`` becomes a space."""
    if isinstance(ids, torch.Tensor):
        ids = ids.tolist()
    return tokenizer.decode([int(i) for i in ids], skip_special_tokens=True)


def unknown_characters(tokenizer: Tokenizer, text: str) -> list[str]:
    """The distinct characters of ``text`` that the tokenizer can only write as ``<unk>``, in order of appearance."""
    encoding = tokenizer.encode(text, add_special_tokens=False)
    found: dict[str, None] = {}
    for token_id, (start, end) in zip(encoding.ids, encoding.offsets, strict=True):
        if token_id == UNK_ID:
            for ch in text[start:end]:
                if not ch.isspace():
                    found[ch] = None
    return list(found)


def encode_source(tokenizer: Tokenizer, text: str) -> list[int]:
    """A source sentence as the encoder reads it: its pieces then ``<eos>``."""
    return tokenize(tokenizer, text) + [EOS_ID]


def encode_target(tokenizer: Tokenizer, text: str) -> list[int]:
    """A target sentence for teacher forcing: ``<bos>`` pieces ``<eos>``."""
    return [BOS_ID] + tokenize(tokenizer, text) + [EOS_ID]


def pad_batch(rows: Sequence[Sequence[int]], pad_id: int = PAD_ID) -> torch.Tensor:
    """Right-pad id lists to one (B, T_max) ``torch.long`` tensor."""
    width = max((len(r) for r in rows), default=0)
    out = torch.full((len(rows), max(width, 1)), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
    return out


# --------------------------------------------------------------------------------------------------
# Training data
# --------------------------------------------------------------------------------------------------
@dataclass
class TranslationData:
    """A task's tokenizer and encoded training pairs, plus the raw validation split.

    ``train_src[i]`` (pieces + EOS) and ``train_tgt[i]`` (BOS + pieces + EOS) are id lists; pairs longer
    than ``max_len`` tokens on either side were left out (``n_dropped``).
    """

    task: str
    tokenizer: Tokenizer
    train_src: list[list[int]]
    train_tgt: list[list[int]]
    valid: TranslationSplit
    n_dropped: int = 0
    vocab_size: int = 0
    info: dict = field(default_factory=dict)


@lru_cache(maxsize=4)
def _load_cached(task: str, data_dir: str | None, vocab_size: int, max_len: int) -> TranslationData:
    train = read_split(task, "train", data_dir)
    valid = read_split(task, "val", data_dir)
    pairs = train.pairs()
    texts = [s for s in train.sources] + [r for refs in train.references for r in refs]
    tokenizer = build_translation_tokenizer(texts, vocab_size)
    src_rows, tgt_rows, dropped = [], [], 0
    src_enc = tokenizer.encode_batch([s for s, _ in pairs], add_special_tokens=False)
    tgt_enc = tokenizer.encode_batch([t for _, t in pairs], add_special_tokens=False)
    for s, t in zip(src_enc, tgt_enc, strict=True):
        src, tgt = s.ids + [EOS_ID], [BOS_ID] + t.ids + [EOS_ID]
        if len(src) > max_len or len(tgt) > max_len:
            dropped += 1
            continue
        src_rows.append(src)
        tgt_rows.append(tgt)
    corpus, src_lang, tgt_lang = LANGUAGES[task]
    info = {
        "corpus": corpus, "source_language": src_lang, "target_language": tgt_lang,
        "n_train_pairs": len(src_rows), "n_dropped_too_long": dropped, "n_valid_sentences": len(valid),
        "tokenizer": "shared BPE (source and target), trained on the training split only",
    }
    return TranslationData(task, tokenizer, src_rows, tgt_rows, valid, dropped, tokenizer.get_vocab_size(), info)


def load_translation_data(
    task: str, data_dir: str | os.PathLike | None = None, vocab_size: int | None = None, max_len: int = 128
) -> TranslationData:
    """Read ``task``'s training and validation splits and train its shared BPE tokenizer on the training split.

    ``vocab_size`` default: 6,000 for Multi30k, 4,000 for Anki. Cached per arguments for the life of the
    process (the Train page re-runs the same task often). Raises FileNotFoundError when the data is missing.
    """
    corpus = corpus_of(task)
    size = vocab_size or DEFAULT_BPE_VOCAB_SIZE[corpus]
    return _load_cached(task, None if data_dir is None else str(data_dir), int(size), int(max_len))


class LengthBucketBatches:
    """Shuffled batches of sentence pairs of similar length (less padding), an endless stream of epochs.

    Each epoch shuffles the pairs (seeded), cuts them into pools of ``50 × batch_size``, sorts each pool
    by length, cuts it into batches of ``batch_size`` pairs and shuffles the batches: close to the
    "batches of similar length" of Vaswani et al. 2017 §5.1, with whole sentences per batch.
    ``shard``/``n_shards`` give every process of a distributed run its own share of each epoch's batches.
    """

    def __init__(self, src: list[list[int]], tgt: list[list[int]], batch_size: int, seed: int,
                 shard: int = 0, n_shards: int = 1) -> None:
        if len(src) < batch_size * n_shards:
            raise ValueError(
                f"batch size {batch_size} is larger than the {len(src)} training pairs (per process); lower it"
            )
        self.src, self.tgt, self.batch_size = src, tgt, batch_size
        self.rng = np.random.default_rng(seed)
        self.shard, self.n_shards = shard, n_shards
        self.epoch = 0
        self._queue: list[np.ndarray] = []

    def _new_epoch(self) -> None:
        order = self.rng.permutation(len(self.src))
        lengths = np.array([len(s) + len(t) for s, t in zip(self.src, self.tgt, strict=True)])
        pool = 50 * self.batch_size
        batches = []
        for start in range(0, len(order), pool):
            chunk = order[start : start + pool]
            chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
            batches.extend(chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size))
        batches = [b for b in batches if len(b) == self.batch_size] or batches
        self.rng.shuffle(batches)
        usable = len(batches) - len(batches) % self.n_shards
        self._queue = batches[self.shard : usable : self.n_shards]
        self.epoch += 1

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next (src (B, S), tgt (B, T)) padded with ``<pad>``."""
        if not self._queue:
            self._new_epoch()
        index = self._queue.pop()
        return pad_batch([self.src[i] for i in index]), pad_batch([self.tgt[i] for i in index])
