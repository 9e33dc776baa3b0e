"""WikiText-2 (Merity et al. 2016) as PyTorch's ``word_language_model`` example reads it (seed 001, part 3).

The three splits are read from a local folder (``--data-dir``, env ``TC_DATA_DIR``, default
``../shared/data/wikitext-2``) in either layout below, or, when that folder lacks them and the Hugging
Face Hub answers a quick probe (:func:`trainers.hub.hub_unavailable_reason`), downloaded with
``datasets.load_dataset("Salesforce/wikitext", "wikitext-2-v1")`` (7.4 MB, cached by ``datasets``).
Every line's whitespace-separated words are followed by ``<eos>``; ``count_words`` counts them as the
word-level model does, and ``word_perplexity`` turns a split's summed negative log-likelihood into
perplexity per word, so a BPE model compares with a word model. The word-level tokenizer has the
33,278 words of the training split. :mod:`trainers.tasks.lm` builds the language-model corpora on this.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers
from tokenizers.trainers import WordLevelTrainer

from trainers import data_paths
from trainers.hub import hub_unavailable_reason

__all__ = [
    "DataUnavailableError",
    "EOS_TOKEN",
    "UNK_TOKEN",
    "WIKITEXT2_FILE_NAMES",
    "WIKITEXT2_HUB_CONFIG",
    "WIKITEXT2_HUB_ID",
    "build_word_tokenizer",
    "count_words",
    "local_wikitext2_files",
    "read_wikitext2",
    "word_perplexity",
]

SPLITS: tuple[str, ...] = ("train", "valid", "test")
EOS_TOKEN = "<eos>"
UNK_TOKEN = "<unk>"
WIKITEXT2_HUB_ID = "Salesforce/wikitext"
WIKITEXT2_HUB_CONFIG = "wikitext-2-v1"
# The two file layouts accepted for a local WikiText-2 folder: PyTorch's example, and the official zip.
WIKITEXT2_FILE_NAMES: tuple[dict[str, str], ...] = (
    {"train": "train.txt", "valid": "valid.txt", "test": "test.txt"},
    {"train": "wiki.train.tokens", "valid": "wiki.valid.tokens", "test": "wiki.test.tokens"},
)


class DataUnavailableError(FileNotFoundError):
    """A corpus is neither in a local folder nor reachable on the Hugging Face Hub."""



def local_wikitext2_files(folder: Path) -> dict[str, Path] | None:
    """The three split files in ``folder`` (either layout of ``WIKITEXT2_FILE_NAMES``), or None if absent."""
    for names in WIKITEXT2_FILE_NAMES:
        files = {split: folder / name for split, name in names.items()}
        if all(path.is_file() for path in files.values()):
            return files
    return None


@lru_cache(maxsize=4)
def _read_wikitext2_local(folder: str) -> dict[str, tuple[str, ...]]:
    import datasets  # deferred: importing datasets takes about half a second

    files = local_wikitext2_files(Path(folder))
    if files is None:
        raise FileNotFoundError(f"{folder} no longer holds the WikiText-2 files.")
    # The "text" builder yields one row per line with the newline stripped; empty lines are kept
    # (as " " here), so every line still contributes its <eos>.
    dataset = datasets.load_dataset(
        "text", data_files={split: str(path) for split, path in files.items()}, keep_linebreaks=False
    )
    return {split: tuple(dataset[split]["text"]) for split in SPLITS}


@lru_cache(maxsize=1)
def _read_wikitext2_hub() -> dict[str, tuple[str, ...]]:
    import datasets

    dataset = datasets.load_dataset(WIKITEXT2_HUB_ID, WIKITEXT2_HUB_CONFIG)
    hub_split = {"train": "train", "valid": "validation", "test": "test"}
    return {split: tuple(dataset[hub_split[split]]["text"]) for split in SPLITS}


def read_wikitext2(data_dir: str | os.PathLike | None = None) -> dict[str, tuple[str, ...]]:
    """The lines of WikiText-2's train/valid/test splits, newlines stripped: ``{"train": (...), ...}``.

    Looks in ``data_dir`` (``--data-dir``), else env ``TC_DATA_DIR``, else
    ``<repo>/../shared/data/wikitext-2``, for ``train.txt``/``valid.txt``/``test.txt`` (PyTorch's
    word_language_model layout) or ``wiki.{train,valid,test}.tokens`` (the official zip), and reads
    them with ``datasets.load_dataset("text", ...)``. With no such files it falls back to
    ``datasets.load_dataset("Salesforce/wikitext", "wikitext-2-v1")`` from the Hub, but only after
    checking, within seconds, that the Hub can be reached. Results are cached per folder for the
    life of the process.

    Raises:
        DataUnavailableError: no local files and the Hub is off (``HF_HUB_OFFLINE``/
            ``HF_DATASETS_OFFLINE``), unreachable within 3 s, or failed; the message says where it
            looked and how to point ``--data-dir``/``TC_DATA_DIR`` at the files.
    """
    folder = data_paths.wikitext2_dir(data_dir)
    if local_wikitext2_files(folder) is not None:
        return dict(_read_wikitext2_local(str(folder.resolve())))
    if data_dir is not None:
        origin = "given by --data-dir"
    elif os.environ.get(data_paths.ENV_DATA_DIR):
        origin = f"given by env {data_paths.ENV_DATA_DIR}"
    else:
        origin = "the default folder"
    names = " / ".join(", ".join(n.values()) for n in WIKITEXT2_FILE_NAMES)
    advice = (
        "Put the three files of PyTorch's word_language_model/data/wikitext-2 in a folder and pass it "
        f"with --data-dir, or set {data_paths.ENV_DATA_DIR} to it."
    )
    reason = hub_unavailable_reason()
    if reason is None:
        try:
            return dict(_read_wikitext2_hub())
        except Exception as exc:  # any Hub or network failure becomes the same actionable message
            reason = f"loading {WIKITEXT2_HUB_ID} ({WIKITEXT2_HUB_CONFIG}) failed: {exc}"
    raise DataUnavailableError(
        f"WikiText-2 is not available: {folder} ({origin}) does not hold {names}, and the "
        f"Hugging Face Hub cannot be used: {reason}. {advice}"
    )


def count_words(lines: Iterable[str]) -> int:
    """Words in a WikiText split as the word-level model counts them: ``len(line.split()) + 1`` per line.

    The ``+ 1`` is the ``<eos>`` that ends every line, empty lines included (PyTorch's
    ``data.Corpus``). This is the ``n_words`` of ``word_perplexity``.
    """
    return sum(len(line.split()) + 1 for line in lines)


def word_perplexity(total_nll_nats: float, n_words: int) -> float:
    """Perplexity per word: ``exp(total_nll_nats / n_words)``.

    ``total_nll_nats`` is the negative log-likelihood (natural log) summed over every token the
    model predicted in a split, whatever the unit (word, BPE piece); ``n_words`` is that split's
    ``count_words``. With word-level tokens this is ordinary perplexity. (With ``batchify`` and
    ``get_batch`` a model predicts ``(T - 1) * B`` of a split's ``N`` ids: the last ``N % B`` are
    dropped and the first row is never a target. That is fewer than ``2 * B`` ids, negligible
    for WikiText; scale ``n_words`` by ``predicted / N`` if it matters.)

    Raises:
        ValueError: ``n_words`` is not positive.
    """
    if n_words <= 0:
        raise ValueError(f"n_words must be positive, got {n_words}.")
    return math.exp(min(total_nll_nats / n_words, 700.0))  # capped: exp(710) would overflow a float


def build_word_tokenizer(train_lines: Iterable[str]) -> Tokenizer:
    """A word-level ``tokenizers.Tokenizer`` trained on WikiText's train lines (33,278 words).

    ``WordLevel`` model + ``WhitespaceSplit`` pre-tokenizer, trained by ``WordLevelTrainer``
    with no size limit and no minimum frequency on each line followed by ``<eos>``. ``<unk>`` is an
    ordinary word of the corpus and also the model's ``unk_token`` (unknown words map to it).
    Ids run by descending frequency ("the" is 0). Decoding joins words with spaces.
    """
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK_TOKEN))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = WordLevelTrainer(vocab_size=2**31 - 1, min_frequency=0, show_progress=False)
    tokenizer.train_from_iterator((f"{line} {EOS_TOKEN}" for line in train_lines), trainer=trainer)
    return tokenizer


def _wikitext_bpe_text(line: str) -> str:
    """A WikiText line as BPE sees it: every word preceded by one space, no trailing space."""
    words = line.split()
    return " " + " ".join(words) if words else ""


def _encode_lines(tokenizer: Tokenizer, lines: Sequence[str], eos_id: int) -> list[int]:
    """Encode each line and end it with ``eos_id``, the PyTorch example's ``line.split() + ['<eos>']``."""
    ids: list[int] = []
    for encoding in tokenizer.encode_batch(list(lines)):
        ids.extend(encoding.ids)
        ids.append(eos_id)
    return ids
