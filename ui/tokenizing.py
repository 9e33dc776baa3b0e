"""Three real tokenizers (Hugging Face ``tokenizers``) for the Tokens page, trained on a small corpus.

- **character**: one token per character (grapheme: an emoji with its modifiers stays whole); the
  vocabulary is every character of the corpus plus ``[UNK]``.
- **word**: ``WordLevel`` with the ``Whitespace`` pre-tokenizer (words and punctuation apart), the
  corpus's 5,000 most frequent words plus ``[UNK]``; case matters.
- **BPE**: byte-level BPE (Sennrich et al. 2016, GPT-2's byte alphabet), 1,000 tokens, built with
  :func:`trainers.tasks.lm.build_bpe_tokenizer`: every text encodes, Chinese and emoji as UTF-8 bytes.

The corpus is the first ~300 KB of Tiny Shakespeare (the shared course data, else the copy shipped in
``assets/data``, via :mod:`trainers.data_paths`), or, where neither is readable, the small built-in
:data:`BUILTIN_SAMPLE`. Training the three takes a fraction of a second to several seconds on a busy
laptop, so the tokenizers trained on that corpus ship in ``assets/tokenizers/`` (remade with
``python -m ui.tokenizing``) and :func:`load_tokenizers` reads them when they match the corpus.
No Streamlit here: the page caches :func:`load_tokenizers` with ``st.cache_resource``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tokenizers import Regex, Tokenizer, models, pre_tokenizers
from tokenizers.trainers import WordLevelTrainer

from trainers import data_paths
from trainers.tasks.lm import build_bpe_tokenizer

__all__ = [
    "SHIPPED_DIR",
    "BUILTIN_SAMPLE",
    "KINDS",
    "UNK",
    "Corpus",
    "Piece",
    "TokenizerSet",
    "build_tokenizers",
    "encode_pieces",
    "load_corpus",
    "load_tokenizers",
    "save_tokenizers",
]

UNK = "[UNK]"
SHIPPED_DIR = data_paths.repo_root() / "assets" / "tokenizers"  # the three, trained on the default corpus
KINDS = ("character", "word", "BPE")
CORPUS_BYTES = 300_000
WORD_VOCAB_SIZE = 5000
BPE_VOCAB_SIZE = 1000

BUILTIN_SAMPLE = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\n"
    "The attention of a token to another is the softmax of their scaled dot product. "
    "A transformer reads the whole sentence at once: every word looks at every other word, "
    "and the model learns which words matter to which. The cat sat on the mat, and the dog sat on the log. "
    "Queries, keys and values are three views of the same tokens; the weights say how much of each value "
    "flows into each output. Positional encodings tell the model where each token stands.\n"
) * 3


@dataclass(frozen=True)
class Corpus:
    """The text the tokenizers are trained on, and where it came from (for the page to say)."""

    text: str
    source: str  # a path, or "built-in sample"
    builtin: bool


def load_corpus(max_bytes: int = CORPUS_BYTES) -> Corpus:
    """The first ``max_bytes`` of Tiny Shakespeare, or the built-in sample when the file is absent."""
    path = data_paths.shakespeare_path()
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(max_bytes)
    except OSError:
        return Corpus(BUILTIN_SAMPLE, "built-in sample", True)
    return Corpus(text, str(path), False)


@dataclass(frozen=True)
class TokenizerSet:
    """The three trained tokenizers, by kind, and the corpus they learnt from."""

    tokenizers: dict[str, Tokenizer]
    corpus: Corpus

    def vocab_size(self, kind: str) -> int:
        return self.tokenizers[kind].get_vocab_size()


def build_tokenizers(corpus: Corpus) -> TokenizerSet:
    """Train the character, word and BPE tokenizers on ``corpus.text`` (well under a second)."""
    text = corpus.text
    chars = sorted(set(text))
    char = Tokenizer(models.WordLevel(vocab={UNK: 0, **{c: i + 1 for i, c in enumerate(chars)}}, unk_token=UNK))
    char.pre_tokenizer = pre_tokenizers.Split(Regex(r"\X"), behavior="isolated")  # one grapheme per token

    word = Tokenizer(models.WordLevel(unk_token=UNK))
    word.pre_tokenizer = pre_tokenizers.Whitespace()
    word.train_from_iterator(
        text.splitlines(), WordLevelTrainer(vocab_size=WORD_VOCAB_SIZE, special_tokens=[UNK], show_progress=False)
    )
    chunks = [text[i : i + 2000] for i in range(0, len(text), 2000)]
    bpe = build_bpe_tokenizer(chunks, BPE_VOCAB_SIZE)
    return TokenizerSet({"character": char, "word": word, "BPE": bpe}, corpus)


def _fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def save_tokenizers(tokenizers: TokenizerSet, folder: Path = SHIPPED_DIR) -> None:
    """Write the three tokenizers (``character.json``, ``word.json``, ``BPE.json``) and the corpus fingerprint."""
    folder.mkdir(parents=True, exist_ok=True)
    for kind, tokenizer in tokenizers.tokenizers.items():
        (folder / f"{kind}.json").write_text(tokenizer.to_str(), encoding="utf-8")
    manifest = {"corpus_sha256": _fingerprint(tokenizers.corpus.text), "corpus_chars": len(tokenizers.corpus.text),
                "made_by": "python -m ui.tokenizing"}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def load_tokenizers(corpus: Corpus | None = None, folder: Path = SHIPPED_DIR) -> TokenizerSet:
    """The three tokenizers for ``corpus`` (default :func:`load_corpus`): read from ``folder`` when they were
    trained on exactly this text (the manifest's SHA-256), else trained now with :func:`build_tokenizers`."""
    corpus = corpus or load_corpus()
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("corpus_sha256") == _fingerprint(corpus.text):
            loaded = {kind: Tokenizer.from_file(str(folder / f"{kind}.json")) for kind in KINDS}
            return TokenizerSet(loaded, corpus)
    except Exception:  # missing or unreadable files (OSError, JSON or tokenizers errors): train them instead
        pass
    return build_tokenizers(corpus)


@cache
def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, reversed: the printable character standing for each byte → the byte."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    chars, n = list(printable), 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


@dataclass(frozen=True)
class Piece:
    """One token as the page shows it: the tokenizer's string, what it stands for, and its id."""

    token: str  # the tokenizer's own string ("Ġworld" for byte-level BPE)
    text: str  # what it stands for, readable ("␣world"; "<e6 88>" for bytes that are part of a character)
    id: int
    unknown: bool  # True for [UNK]: the vocabulary has no entry for it
    source: str  # the characters of the input this token came from ("我" for "[UNK]" or for "<e6>")


def _readable(token: str, kind: str) -> str:
    if kind != "BPE" or token == UNK:
        return token.replace(" ", "␣").replace("\n", "↵")
    table = _byte_decoder()
    raw = bytes(table[c] for c in token if c in table)
    try:
        return raw.decode("utf-8").replace(" ", "␣").replace("\n", "↵")
    except UnicodeDecodeError:  # part of a multi-byte character: show the bytes
        return "<" + " ".join(f"{b:02x}" for b in raw) + ">"


def encode_pieces(tokenizers: TokenizerSet, kind: str, text: str, max_tokens: int | None = None) -> list[Piece]:
    """Encode ``text`` with the ``kind`` tokenizer: one :class:`Piece` per token (the first ``max_tokens``).

    Empty text gives an empty list. Raises KeyError for an unknown kind.
    """
    text = text or ""
    encoding = tokenizers.tokenizers[kind].encode(text)
    triples = list(zip(encoding.tokens, encoding.ids, encoding.offsets, strict=True))
    if max_tokens is not None:
        triples = triples[:max_tokens]
    return [Piece(tok, _readable(tok, kind), i, tok == UNK, text[a:b]) for tok, i, (a, b) in triples]


if __name__ == "__main__":  # python -m ui.tokenizing: remake assets/tokenizers from the default corpus
    made = build_tokenizers(load_corpus())
    save_tokenizers(made)
    print(f"wrote {SHIPPED_DIR} from {made.corpus.source} ({len(made.corpus.text):,} characters)")
