"""AddSub: two-digit addition and subtraction as a sequence-to-sequence task.

Source: UMich EECS 498-007/598-005 (WN2022) assignment A5 "Transformers" (seeds 003 and 004).
An expression ``(-30) - (-34)`` is written in the course's string format as

    ``BOS NEGATIVE 30 subtract NEGATIVE 34 EOS``  ->  ``BOS POSITIVE 04 EOS``

A number's sign (``POSITIVE``/``NEGATIVE``) and the operation (``add``/``subtract``) are different
tokens, so ``-`` never means two things. Operands run from -49 to 49 and are written with two
digits; results run from -98 to 98, still two digits; zero is always ``POSITIVE 00``. Every digit
is its own token ("30" -> "3", "0"), which gives the course's 16-token vocabulary ``ADDSUB_VOCAB``.

There are 99 * 99 * 2 = 19,602 distinct expressions. The course file ``two_digit_op.json`` holds
5,000 of them drawn with repetition (4,410 distinct).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from trainers import data_paths

# The course's vocabulary, in the course's order: ids 0..15.
ADDSUB_VOCAB: list[str] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
    "POSITIVE", "NEGATIVE", "add", "subtract", "BOS", "EOS",
]  # fmt: skip
TOKEN_TO_ID: dict[str, int] = {token: i for i, token in enumerate(ADDSUB_VOCAB)}
SPECIAL_TOKENS: tuple[str, ...] = ("POSITIVE", "NEGATIVE", "add", "subtract", "BOS", "EOS")
BOS_ID: int = TOKEN_TO_ID["BOS"]
EOS_ID: int = TOKEN_TO_ID["EOS"]
VOCAB_SIZE: int = len(ADDSUB_VOCAB)

# Every sequence has a fixed length, so nothing is ever padded. The constants exist so that
# code written for padded tasks (loss with ignore_index) works unchanged.
PAD_ID: int | None = None
IGNORE_INDEX: int = -100

SRC_LEN: int = 9  # BOS sign d d op sign d d EOS
TGT_LEN: int = 5  # BOS sign d d EOS
OPERAND_MIN, OPERAND_MAX = -49, 49

# The course's split of two_digit_op.json (sklearn's train_test_split(test_size=0.1, random_state=0),
# which draws np.random.RandomState(0).permutation(5000) and takes the first 500 as the held-out part).
COURSE_N_EXAMPLES = 5000
COURSE_N_VALID = 500
COURSE_SPLIT_SEED = 0

_OPS = {"add": "add", "+": "add", "subtract": "subtract", "-": "subtract"}
_ARITHMETIC = re.compile(r"^\s*([+-]?)\s*(\d+)\s*([+-])\s*([+-]?)\s*(\d+)\s*$")


def encode_expression(expression: str) -> list[int]:
    """Course string -> token ids, splitting every number into one token per digit.

    Same rule as the course's ``preprocess_input_sequence``: a whitespace-separated word that is
    a special token maps to its id; any other word is spelled digit by digit.
    ``"BOS POSITIVE 04 EOS"`` -> ``[14, 10, 0, 4, 15]``.

    Raises:
        ValueError: a word that is neither a special token nor made of digits 0-9.
    """
    ids: list[int] = []
    for word in expression.split():
        if word in SPECIAL_TOKENS:
            ids.append(TOKEN_TO_ID[word])
        elif word.isascii() and word.isdigit():
            ids.extend(TOKEN_TO_ID[digit] for digit in word)
        else:
            raise ValueError(
                f"{word!r} is not in the AddSub vocabulary: use digits and the words {', '.join(SPECIAL_TOKENS)}."
            )
    return ids


def decode_ids(ids: Sequence[int] | torch.Tensor) -> str:
    """Token ids -> course string, re-joining runs of digits: ``[14, 10, 0, 4, 15]`` -> ``"BOS POSITIVE 04 EOS"``.

    Inverse of ``encode_expression`` on every well-formed expression.

    Raises:
        ValueError: an id outside 0..15.
    """
    if isinstance(ids, torch.Tensor):
        ids = ids.tolist()
    words: list[str] = []
    previous_was_digit = False
    for i in ids:
        if not 0 <= i < VOCAB_SIZE:
            raise ValueError(f"token id {i} is outside the AddSub vocabulary (0..{VOCAB_SIZE - 1}).")
        token = ADDSUB_VOCAB[i]
        is_digit = token.isdigit()
        if is_digit and previous_was_digit:
            words[-1] += token
        else:
            words.append(token)
        previous_was_digit = is_digit
    return " ".join(words)


def _signed(value: int) -> str:
    """-4 -> ``"NEGATIVE 04"``; 0 -> ``"POSITIVE 00"`` (the course never writes ``NEGATIVE 00``)."""
    return f"{'NEGATIVE' if value < 0 else 'POSITIVE'} {abs(value):02d}"


def _check_operand(value: int) -> None:
    if not OPERAND_MIN <= value <= OPERAND_MAX:
        raise ValueError(f"operands must be between {OPERAND_MIN} and {OPERAND_MAX} (got {value}).")


def _operation(op: str) -> str:
    try:
        return _OPS[op]
    except KeyError:
        raise ValueError(f"the operation must be 'add' or 'subtract' ('+' or '-'), not {op!r}.") from None


def format_expression(a: int, op: str, b: int) -> str:
    """``(a, op, b)`` -> the course's input string; ``(-30, "-", -34)`` -> ``"BOS NEGATIVE 30 subtract NEGATIVE 34 EOS"``.

    ``op`` is ``"add"``/``"+"`` or ``"subtract"``/``"-"``.

    Raises:
        ValueError: an operand outside -49..49, or an unknown operation.
    """
    _check_operand(a)
    _check_operand(b)
    return f"BOS {_signed(a)} {_operation(op)} {_signed(b)} EOS"


def solve(a: int, op: str, b: int) -> str:
    """The course's target string for ``a op b``: ``solve(-30, "subtract", -34)`` -> ``"BOS POSITIVE 04 EOS"``.

    Raises:
        ValueError: an operand outside -49..49, or an unknown operation.
    """
    _check_operand(a)
    _check_operand(b)
    result = a + b if _operation(op) == "add" else a - b
    return f"BOS {_signed(result)} EOS"


def parse_arithmetic(text: str) -> str:
    """Plain arithmetic -> course input string: ``"-30 - -34"`` -> ``"BOS NEGATIVE 30 subtract NEGATIVE 34 EOS"``.

    Accepts two whole numbers with an optional sign each and ``+`` or ``-`` between them, with
    or without spaces: ``"12+7"``, ``"-5 + 3"``, ``"+4 - 49"``, ``"3--4"``. The Unicode minus
    sign (U+2212) is read as ``-``.

    Raises:
        ValueError: empty text; text that is not ``<number> (+|-) <number>``; an operand
            outside -49..49 ("operands must be between -49 and 49").
    """
    cleaned = text.replace("\u2212", "-").strip()
    if not cleaned:
        raise ValueError("The expression is empty: type two numbers with + or - between them, e.g. -30 - -34.")
    match = _ARITHMETIC.match(cleaned)
    if match is None:
        raise ValueError(
            f"Could not read {text.strip()!r} as an addition or subtraction of two whole numbers; "
            "write it like -30 - -34 or 12+7."
        )
    sign_a, digits_a, op, sign_b, digits_b = match.groups()
    a = -int(digits_a) if sign_a == "-" else int(digits_a)
    b = -int(digits_b) if sign_b == "-" else int(digits_b)
    return format_expression(a, op, b)


def format_answer(expression: str) -> int | None:
    """A target (or a model's decoded output) -> its integer: ``"BOS POSITIVE 04 EOS"`` -> ``4``.

    Digits may be joined (``04``) or separate tokens (``0 4``); ``BOS`` at the start and
    everything from the first ``EOS`` on are ignored. Returns ``None`` when the words do not
    read as a sign followed by digits (a model early in training often produces such output).
    """
    words = expression.split()
    if words and words[0] == "BOS":
        words = words[1:]
    if "EOS" in words:
        words = words[: words.index("EOS")]
    if len(words) < 2 or words[0] not in ("POSITIVE", "NEGATIVE"):
        return None
    digits = "".join(words[1:])
    if not (digits.isascii() and digits.isdigit()):
        return None
    return -int(digits) if words[0] == "NEGATIVE" else int(digits)


def load_course_split(
    path: str | os.PathLike | None = None,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The course's train/validation split of ``two_digit_op.json``: ``(train_pairs, valid_pairs)``.

    Each pair is ``(input_string, output_string)`` in the course's format. The course notebook
    splits with ``sklearn.model_selection.train_test_split(inp, out, test_size=0.1, random_state=0)``,
    which is ``perm = np.random.RandomState(0).permutation(5000)``: ``perm[:500]`` is the held-out
    (validation) part and ``perm[500:]`` the training part, both in permutation order. So there
    are 4,500 training and 500 validation pairs, and the first validation pair is
    ``BOS POSITIVE 47 add NEGATIVE 27 EOS`` -> ``BOS POSITIVE 20 EOS``. The file repeats
    expressions, so 105 of the 500 validation inputs also occur in training, as in the course;
    for a held-out set without overlap, train on ``generate_expressions(..., exclude=...)``.

    Args:
        path: the JSON file; default env ``TC_ADDSUB_PATH``, else
            ``<repo>/../shared/data/eecs598-addsub/two_digit_op.json``.

    Raises:
        FileNotFoundError: the file is absent (the message names the path and ``TC_ADDSUB_PATH``).
        ValueError: the file does not hold 5,000 input/output strings.
    """
    file = data_paths.require(
        path if path is not None else data_paths.addsub_path(),
        "the course's AddSub file two_digit_op.json",
        env_var=data_paths.ENV_ADDSUB_PATH,
    )
    with open(file, encoding="utf-8") as f:
        data = json.load(f)
    inputs, outputs = data.get("inp_expression"), data.get("out_expression")
    if (
        not isinstance(inputs, list)
        or not isinstance(outputs, list)
        or not (len(inputs) == len(outputs) == COURSE_N_EXAMPLES)
    ):
        raise ValueError(
            f"{file} should hold lists 'inp_expression' and 'out_expression' of {COURSE_N_EXAMPLES} strings each."
        )
    perm = np.random.RandomState(COURSE_SPLIT_SEED).permutation(COURSE_N_EXAMPLES)
    pairs = list(zip(inputs, outputs, strict=True))
    valid_pairs = [pairs[i] for i in perm[:COURSE_N_VALID]]
    train_pairs = [pairs[i] for i in perm[COURSE_N_VALID:]]
    return train_pairs, valid_pairs


@lru_cache(maxsize=1)
def _all_expressions() -> tuple[tuple[str, str], ...]:
    """All 19,602 (input, output) pairs, in a fixed order (a, op, b)."""
    operands = range(OPERAND_MIN, OPERAND_MAX + 1)
    return tuple(
        (format_expression(a, op, b), solve(a, op, b)) for a in operands for op in ("add", "subtract") for b in operands
    )


def generate_expressions(n: int, seed: int, exclude: Iterable[str] = frozenset()) -> list[tuple[str, str]]:
    """``n`` distinct random expressions across the full range, none of whose inputs is in ``exclude``.

    Draws uniformly without replacement from the 19,602 possible expressions (operands -49..49,
    add or subtract) minus ``exclude``; pass the validation inputs there so that validation never
    leaks into training. Deterministic for a given ``seed`` (``numpy.random.default_rng``).

    Returns:
        A list of ``(input_string, output_string)`` pairs in the course's format.

    Raises:
        ValueError: ``n`` is negative or larger than the number of expressions left.
    """
    excluded = set(exclude)
    pool = [pair for pair in _all_expressions() if pair[0] not in excluded]
    if not 0 <= n <= len(pool):
        raise ValueError(f"asked for {n} expressions, but only {len(pool)} distinct ones remain after the exclusions.")
    chosen = np.random.default_rng(seed).choice(len(pool), size=n, replace=False)
    return [pool[i] for i in chosen]


# Without the course file, validation is 500 generated expressions drawn with this seed (the course's
# size), and training never sees their inputs. Fixed, so every run and every evaluation agree on it.
GENERATED_VALID_SEED = 598
VALID_SOURCES = ("course", "generated")


def generated_valid_pairs() -> list[tuple[str, str]]:
    """The 500 held-out expressions used when the course file is absent (seed ``GENERATED_VALID_SEED``)."""
    return generate_expressions(COURSE_N_VALID, GENERATED_VALID_SEED)


def valid_pairs_for(source: str, path: str | os.PathLike | None = None) -> list[tuple[str, str]]:
    """Validation pairs by where they come from: ``"course"`` (the file's 500) or ``"generated"``.

    Raises:
        FileNotFoundError: ``"course"`` while the course file is absent.
        ValueError: an unknown ``source``.
    """
    if source == "course":
        return load_course_split(path)[1]
    if source == "generated":
        return generated_valid_pairs()
    raise ValueError(f"the AddSub validation source is 'course' or 'generated', not {source!r}")


@dataclass(frozen=True)
class AddSubSplit:
    """The pairs one run trains and validates on, and where each came from (saved with a checkpoint)."""

    train: list[tuple[str, str]]
    valid: list[tuple[str, str]]
    train_source: str  # "course" (the file's 4,500) or "generated"
    valid_source: str  # "course" (the file's 500) or "generated" (``generated_valid_pairs``)
    note: str | None = None  # set when the course file was asked for but is absent


def make_split(source: str, train_size: int, seed: int, path: str | os.PathLike | None = None) -> AddSubSplit:
    """The data of an AddSub run, from the course file when it is there and generated otherwise.

    - Course file present: validation is the course's 500 expressions (the course's split); training is
      the course's 4,500 (``source="course"``) or ``train_size`` generated expressions whose inputs are
      not among the validation inputs (``source="generated"``).
    - Course file absent: validation is :func:`generated_valid_pairs` and training ``train_size``
      generated expressions excluding them, whatever ``source`` asked for; ``note`` then says so.

    Raises:
        ValueError: an unknown ``source``; a ``train_size`` larger than the expressions left.
    """
    if source not in ("course", "generated"):
        raise ValueError(f"addsub_source must be 'course' or 'generated', got {source!r}")
    file = path if path is not None else data_paths.addsub_path()
    note = None
    if Path(file).is_file():
        course_train, valid = load_course_split(file)
        valid_source = "course"
        if source == "course":
            return AddSubSplit(course_train, valid, "course", valid_source)
    else:
        valid, valid_source = generated_valid_pairs(), "generated"
        if source == "course":
            note = (
                f"The course file two_digit_op.json is not at {file}: training on {train_size:,} generated "
                f"expressions and validating on {COURSE_N_VALID} generated ones instead."
            )
    train = generate_expressions(train_size, seed, exclude={inp for inp, _ in valid})
    return AddSubSplit(train, valid, "generated", valid_source, note)


class AddSubDataset(Dataset):
    """AddSub pairs as token ids for an encoder-decoder transformer.

    Item ``i`` is ``(src_ids, tgt_ids)``, two ``torch.long`` tensors:

    - ``src_ids`` (9,): the whole input, ``BOS sign d d op sign d d EOS``;
      ``-30 - -34`` -> ``[14, 11, 3, 0, 13, 11, 3, 4, 15]``.
    - ``tgt_ids`` (5,): the answer, ``BOS sign d d EOS``; ``+4`` -> ``[14, 10, 0, 4, 15]``.

    Teacher forcing (as in the course): the decoder reads ``tgt_ids[:-1]`` (BOS sign d d) and is
    trained to predict ``tgt_ids[1:]`` (sign d d EOS), i.e. labels are the target shifted by one.
    Every sequence has the same length, so there is no padding (``PAD_ID is None``); losses may
    still pass ``ignore_index=IGNORE_INDEX`` harmlessly. Ids index ``ADDSUB_VOCAB``.
    """

    def __init__(self, pairs: Sequence[tuple[str, str]]):
        """Encode ``pairs`` of course strings once, up front.

        Raises:
            ValueError: a pair that does not encode to 9 input and 5 output tokens.
        """
        self.pairs = list(pairs)
        src = [encode_expression(inp) for inp, _ in self.pairs]
        tgt = [encode_expression(out) for _, out in self.pairs]
        for (inp, out), s, t in zip(self.pairs, src, tgt, strict=True):
            if len(s) != SRC_LEN or len(t) != TGT_LEN:
                raise ValueError(
                    f"{inp!r} -> {out!r} is not an AddSub pair: inputs have {SRC_LEN} tokens and outputs {TGT_LEN}."
                )
        self.src = torch.tensor(src, dtype=torch.long).reshape(-1, SRC_LEN)  # (N, 9)
        self.tgt = torch.tensor(tgt, dtype=torch.long).reshape(-1, TGT_LEN)  # (N, 5)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.src[index], self.tgt[index]


def collate(batch: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack dataset items into ``(src (B, 9), tgt (B, 5))``; for ``DataLoader(collate_fn=collate)``."""
    src, tgt = zip(*batch, strict=True)
    return torch.stack(src), torch.stack(tgt)
