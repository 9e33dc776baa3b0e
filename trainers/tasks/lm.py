"""Language-model corpora: WikiText-2 by word, Tiny Shakespeare and Anna Karenina by character, BPE for all.

- **WikiText-2, word level** (Merity et al. 2016), exactly as PyTorch's ``word_language_model``
  example (seed 001, part 3): each line's whitespace-separated tokens followed by ``<eos>``,
  concatenated into one stream per split (train 2,088,628 / valid 217,646 / test 245,569 tokens),
  vocabulary of 33,278 words built on train (it contains ``<eos>`` and the corpus's own ``<unk>``).
- **Characters**, as nanoGPT's ``shakespeare_char``: the first 90% of the characters train, the
  last 10% validate (no test split); the vocabulary is every distinct character of the text
  (65 for Tiny Shakespeare), ids in sorted character order.
- **BPE** (Sennrich et al. 2016) with byte-level symbols (GPT-2), trained on the training split
  only, for any of the three corpora.

WikiText-2's files, its Hub fallback, word counts and word tokenizer are in :mod:`trainers.tasks.wikitext2`.
Everything comes out as an ``LMCorpus``: a ``tokenizers.Tokenizer`` (saveable as JSON with
``to_str()``) and 1-D ``torch.long`` id tensors. ``batchify``/``get_batch`` reproduce the PyTorch
example's BPTT batching; ``random_windows`` is nanoGPT's random-window sampler.

Perplexity per word. A BPE model's token perplexity cannot be compared with a word model's, so
sum the negative log-likelihood (natural log) over every token of a split and divide by that
split's word count: ``ppl_word = exp(total_nll_nats / n_words)`` (``word_perplexity``), where
``n_words`` counts, as the word-level model does, the whitespace-separated tokens plus one
``<eos>`` per line (``count_words``). For the word-level tokenizer this equals ordinary perplexity.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from tokenizers.trainers import BpeTrainer

from trainers import data_paths
from trainers.tasks import LM_TASKS
from trainers.tasks.wikitext2 import (
    EOS_TOKEN,
    UNK_TOKEN,
    _encode_lines,
    _wikitext_bpe_text,
    build_word_tokenizer,
    count_words,
    read_wikitext2,
)

UNITS: tuple[str, ...] = ("word", "char", "bpe")
SPLITS: tuple[str, ...] = ("train", "valid", "test")
DEFAULT_BPE_VOCAB_SIZE: dict[str, int] = {"wikitext2": 8000, "shakespeare": 512, "anna": 512}
TRAIN_FRACTION = 0.9  # nanoGPT: first 90% of the characters train, the rest validate

GUTENBERG_END_MARKER = "*** END OF THIS PROJECT GUTENBERG EBOOK"


# --------------------------------------------------------------------------------------------
# Character corpora
# --------------------------------------------------------------------------------------------


def strip_gutenberg_footer(text: str) -> str:
    """Cut a Project Gutenberg e-book at its "*** END OF THIS PROJECT GUTENBERG EBOOK" line (licence follows).

    Trailing blank lines before the marker go too; the text ends with one newline. Text without
    the marker is returned unchanged.
    """
    end = text.find(GUTENBERG_END_MARKER)
    return text if end < 0 else text[:end].rstrip() + "\n"


@lru_cache(maxsize=4)
def _read_text(path: str, strip_footer: bool) -> str:
    text = Path(path).read_text(encoding="utf-8")  # text mode: CRLF line ends become "\n"
    return strip_gutenberg_footer(text) if strip_footer else text


def read_char_corpus(task: str, data_dir: str | os.PathLike | None = None) -> str:
    """The whole text of a character corpus: ``"shakespeare"`` or ``"anna"``.

    Tiny Shakespeare is ``input.txt`` from karpathy/char-rnn (1,115,394 characters). Anna
    Karenina is ``anna.txt`` from udacity/deep-learning, read with universal newlines (its CRLF
    become ``\\n``) and cut before the Project Gutenberg licence. Files are read from ``data_dir``
    if given, else ``../shared/data``; cached per path.

    Raises:
        FileNotFoundError: the file is absent (the message names the path).
        ValueError: an unknown task.
    """
    if task == "shakespeare":
        path = data_paths.require(data_paths.shakespeare_path(data_dir), "Tiny Shakespeare (input.txt)")
        return _read_text(str(path.resolve()), strip_footer=False)
    if task == "anna":
        path = data_paths.require(data_paths.anna_karenina_path(data_dir), "Anna Karenina (anna.txt)")
        return _read_text(str(path.resolve()), strip_footer=True)
    raise ValueError(f"unknown character corpus {task!r}; choose 'shakespeare' or 'anna'.")


def split_train_valid(text: str, train_fraction: float = TRAIN_FRACTION) -> tuple[str, str]:
    """nanoGPT's split: the first ``int(len(text) * train_fraction)`` characters train, the rest validate."""
    cut = int(len(text) * train_fraction)
    return text[:cut], text[cut:]


def build_char_tokenizer(text: str) -> Tokenizer:
    """A character-level ``tokenizers.Tokenizer``: one id per distinct character of ``text``.

    ``WordLevel`` over ``sorted(set(text))`` (ids as nanoGPT's ``stoi``), a ``Split(pattern="",
    behavior="isolated")`` pre-tokenizer that makes every character, newline and space included,
    its own token, and a ``Fuse`` decoder, so ``decode(encode(s).ids) == s`` exactly. A character
    not in the vocabulary cannot be encoded (``tokenizers`` raises); ``LMCorpus.encode`` checks
    first and raises a ``ValueError`` that names it.
    """
    vocab = {char: i for i, char in enumerate(sorted(set(text)))}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK_TOKEN))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    return tokenizer


def build_bpe_tokenizer(
    texts: Iterable[str],
    vocab_size: int,
    special_tokens: Sequence[str] = (),
    split_on_spaces: bool = False,
) -> Tokenizer:
    """Byte-level BPE (Sennrich et al. 2016, with GPT-2's byte alphabet) trained on ``texts``.

    All 256 bytes are in the initial alphabet, so any text encodes and
    ``decode(encode(s).ids) == s``. ``split_on_spaces=True`` pre-splits only at spaces, each
    space joining the word after it (right for WikiText, whose words are already separated, so
    `` <unk>`` and `` @-@`` can become single pieces); otherwise GPT-2's pre-tokenizer regex is used.

    Args:
        texts: training texts (pass the training split only).
        vocab_size: final vocabulary size, bytes and special tokens included.
        special_tokens: tokens given the first ids and never split (e.g. ``<eos>``).
        split_on_spaces: see above.

    Raises:
        ValueError: ``vocab_size`` too small to hold the 256 bytes and the special tokens.
    """
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    if vocab_size < len(alphabet) + len(special_tokens):
        raise ValueError(
            f"bpe_vocab_size={vocab_size} is too small: byte-level BPE starts from {len(alphabet)} byte "
            f"symbols plus {len(special_tokens)} special token(s)."
        )
    tokenizer = Tokenizer(models.BPE())
    if split_on_spaces:
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(" ", behavior="merged_with_next"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    else:
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        initial_alphabet=alphabet,
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


# --------------------------------------------------------------------------------------------
# The uniform interface
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LMCorpus:
    """A tokenized language-model corpus, ready for ``batchify`` or ``random_windows``.

    Shared between callers through the in-process cache: do not modify the tensors in place.
    """

    name: str  # the task: "wikitext2", "shakespeare" or "anna"
    tokenizer: Tokenizer  # its vocabulary; tokenizer.to_str() gives the JSON to save with a checkpoint
    train: torch.Tensor  # (N_train,) torch.long ids, the whole split as one stream
    valid: torch.Tensor  # (N_valid,)
    test: torch.Tensor | None  # (N_test,); None for the character corpora (nanoGPT has no test split)
    vocab_size: int  # number of ids, = tokenizer.get_vocab_size()
    n_words: dict[str, int] | None  # words per split (count_words) for word_perplexity; None for char corpora
    unit: str  # "word", "char" or "bpe"
    n_chars: dict[str, int] | None = None  # characters per split, for the character corpora (per-char metrics)
    eos_id: int | None = None  # id of "<eos>" (WikiText); None for the character corpora

    @property
    def splits(self) -> dict[str, torch.Tensor]:
        """The splits that exist, by name: ``{"train": ..., "valid": ..., ["test": ...]}``."""
        found = {"train": self.train, "valid": self.valid, "test": self.test}
        return {name: ids for name, ids in found.items() if ids is not None}

    def encode(self, text: str) -> list[int]:
        """Text (e.g. a prompt) -> ids, encoded the way the corpus was.

        For WikiText a newline becomes ``<eos>``, as in the corpus. For character corpora every
        character must be in the vocabulary.

        Raises:
            ValueError: a character the character vocabulary does not have.
        """
        if self.unit == "char":
            missing = sorted(set(text) - set(self.tokenizer.get_vocab()))
            if missing:
                raise ValueError(
                    f"{''.join(missing)!r}: not in the {self.name} character vocabulary; the model only "
                    f"knows the {self.vocab_size} characters of its corpus."
                )
        if self.eos_id is None:
            return self.tokenizer.encode(text).ids
        lines = text.split("\n")
        if self.unit == "bpe":
            lines = [_wikitext_bpe_text(line) for line in lines]
        ids = _encode_lines(self.tokenizer, lines, self.eos_id)
        return ids[:-1]  # no <eos> after the last line: the text did not end there

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Ids -> text. ``<eos>`` stays visible; words are joined by spaces, characters and BPE pieces exactly."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)


def _as_tensor(ids: list[int]) -> torch.Tensor:
    return torch.tensor(ids, dtype=torch.long)


def _wikitext2_corpus(folder: str, unit: str, bpe_vocab_size: int) -> LMCorpus:
    lines = read_wikitext2(folder)
    if unit == "word":
        tokenizer = build_word_tokenizer(lines["train"])
        eos_id = tokenizer.token_to_id(EOS_TOKEN)
        split_ids = {split: _encode_lines(tokenizer, lines[split], eos_id) for split in SPLITS}
    else:
        bpe_lines = {split: [_wikitext_bpe_text(line) for line in lines[split]] for split in SPLITS}
        tokenizer = build_bpe_tokenizer(
            bpe_lines["train"], bpe_vocab_size, special_tokens=[EOS_TOKEN], split_on_spaces=True
        )
        eos_id = tokenizer.token_to_id(EOS_TOKEN)
        split_ids = {split: _encode_lines(tokenizer, bpe_lines[split], eos_id) for split in SPLITS}
    return LMCorpus(
        name="wikitext2",
        tokenizer=tokenizer,
        train=_as_tensor(split_ids["train"]),
        valid=_as_tensor(split_ids["valid"]),
        test=_as_tensor(split_ids["test"]),
        vocab_size=tokenizer.get_vocab_size(),
        n_words={split: count_words(lines[split]) for split in SPLITS},
        unit=unit,
        eos_id=eos_id,
    )


def _char_corpus(task: str, data_dir: str, unit: str, bpe_vocab_size: int) -> LMCorpus:
    text = read_char_corpus(task, data_dir)
    train_text, valid_text = split_train_valid(text)
    if unit == "char":
        tokenizer = build_char_tokenizer(text)  # nanoGPT: the vocabulary covers the whole text
    else:
        tokenizer = build_bpe_tokenizer(train_text.splitlines(keepends=True), bpe_vocab_size)

    def encode(split_text: str) -> torch.Tensor:
        encodings = tokenizer.encode_batch(split_text.splitlines(keepends=True))
        return _as_tensor([i for encoding in encodings for i in encoding.ids])

    return LMCorpus(
        name=task,
        tokenizer=tokenizer,
        train=encode(train_text),
        valid=encode(valid_text),
        test=None,
        vocab_size=tokenizer.get_vocab_size(),
        n_words=None,
        unit=unit,
        n_chars={"train": len(train_text), "valid": len(valid_text)},
    )


@lru_cache(maxsize=8)
def _load_lm_corpus_cached(task: str, source: str, unit: str, bpe_vocab_size: int) -> LMCorpus:
    if task == "wikitext2":
        return _wikitext2_corpus(source, unit, bpe_vocab_size)
    return _char_corpus(task, source, unit, bpe_vocab_size)


def load_lm_corpus(
    task: str,
    data_dir: str | os.PathLike | None = None,
    tokenizer: str | None = None,
    bpe_vocab_size: int | None = None,
) -> LMCorpus:
    """Load a language-modelling task as an ``LMCorpus``, cached in-process.

    Args:
        task: ``"wikitext2"``, ``"shakespeare"`` or ``"anna"``.
        data_dir: the folder with the corpus files. WikiText-2: default env ``TC_DATA_DIR``, else
            ``../shared/data/wikitext-2``, else the Hub (see ``read_wikitext2``). Character corpora:
            the folder holding ``input.txt``/``anna.txt``, default under ``../shared/data``.
        tokenizer: ``"word"`` (WikiText-2 only; its default), ``"char"`` (character corpora only;
            their default) or ``"bpe"`` (any corpus; trained on the training split).
        bpe_vocab_size: BPE vocabulary size; default 8000 for WikiText-2, 512 for the character
            corpora. Ignored by the other tokenizers.

    Raises:
        ValueError: an unknown task or tokenizer, or a tokenizer the task does not offer.
        FileNotFoundError / DataUnavailableError: the corpus cannot be found (message says where to put it).
    """
    if task not in LM_TASKS:
        raise ValueError(f"unknown language-model task {task!r}; choose one of {', '.join(LM_TASKS)}.")
    unit = tokenizer or ("word" if task == "wikitext2" else "char")
    if unit not in UNITS:
        raise ValueError(f"unknown tokenizer {unit!r}; choose one of {', '.join(UNITS)}.")
    if task == "wikitext2" and unit == "char":
        raise ValueError("WikiText-2 is offered with the 'word' or 'bpe' tokenizer, not 'char'.")
    if task != "wikitext2" and unit == "word":
        raise ValueError(f"{task} is a character corpus: use the 'char' or 'bpe' tokenizer, not 'word'.")
    vocab = (bpe_vocab_size or DEFAULT_BPE_VOCAB_SIZE[task]) if unit == "bpe" else 0
    # Resolve the folder first, so that the cache key is a concrete path, and fail fast (with the
    # message naming the place looked at) before anything is cached.
    if task == "wikitext2":
        read_wikitext2(data_dir)
        source = str(data_paths.wikitext2_dir(data_dir).resolve())
    else:
        path = (
            data_paths.shakespeare_path(data_dir) if task == "shakespeare" else data_paths.anna_karenina_path(data_dir)
        )
        read_char_corpus(task, data_dir)
        source = str(path.parent.resolve())
    return _load_lm_corpus_cached(task, source, unit, vocab)


# --------------------------------------------------------------------------------------------
# Batching
# --------------------------------------------------------------------------------------------


def batchify(data: torch.Tensor, bsz: int) -> torch.Tensor:
    """Cut a 1-D id stream into ``bsz`` columns: (N,) -> (N // bsz, bsz).

    As the course code and PyTorch's word_language_model: the last ``N % bsz`` ids are dropped,
    and column ``j`` is the ``j``-th contiguous chunk of the stream. The result stays on
    ``data``'s device (the course also moved it to ``device``; call ``.to(device)``).
    """
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous()


def get_batch(source: torch.Tensor, i: int, bptt: int) -> tuple[torch.Tensor, torch.Tensor]:
    """BPTT batch at row ``i`` of a batchified stream (PyTorch's word_language_model).

    Args:
        source: (T, B) from ``batchify``.
        i: first row; step ``i`` over ``range(0, T - 1, bptt)``.
        bptt: sequence length; the last batch may be shorter.

    Returns:
        ``x`` (seq_len, B) inputs and ``y`` (seq_len * B,) the next ids, flattened as in the example
        (``y.view(seq_len, B)`` recovers the grid), where ``seq_len = min(bptt, T - 1 - i)``.
    """
    seq_len = min(bptt, len(source) - 1 - i)
    x = source[i : i + seq_len]
    y = source[i + 1 : i + 1 + seq_len].view(-1)
    return x, y


def random_windows(
    data: torch.Tensor, block_size: int, batch_size: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random windows of a 1-D stream, nanoGPT's ``get_batch``.

    Starts are drawn uniformly from ``0 .. len(data) - block_size - 1`` with ``generator``;
    ``y`` is ``x`` shifted one id ahead.

    Returns:
        ``x``, ``y``: (batch_size, block_size) torch.long, on ``data``'s device.

    Raises:
        ValueError: ``data`` is not longer than ``block_size``.
    """
    if data.size(0) <= block_size:
        raise ValueError(f"block_size={block_size} needs a stream longer than that; this one has {data.size(0)} ids.")
    device = generator.device if generator is not None else None
    starts = torch.randint(data.size(0) - block_size, (batch_size,), generator=generator, device=device)
    positions = starts.to(data.device)[:, None] + torch.arange(block_size, device=data.device)  # (B, block_size)
    return data[positions], data[positions + 1]
