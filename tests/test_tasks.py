"""Tests for trainers.tasks: AddSub (EECS 498 A5) and the language-model corpora.

Tests that read ../shared/data skip, saying which file is missing, when it is absent.
Nothing here touches the network: the Hugging Face Hub is switched off before anything imports it.
"""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

import math  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from trainers import data_paths  # noqa: E402
from trainers.tasks import TASKS, addsub, lm, wikitext2  # noqa: E402

COURSE_EXAMPLE_IN = "BOS NEGATIVE 30 subtract NEGATIVE 34 EOS"
COURSE_EXAMPLE_OUT = "BOS POSITIVE 04 EOS"
WIKITEXT2_TOKENS = {"train": 2_088_628, "valid": 217_646, "test": 245_569}
WIKITEXT2_LINES = {"train": 36_718, "valid": 3_760, "test": 4_358}


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent: this test needs the shared course data in ../shared/data")
    return path


def _need_wikitext2() -> Path:
    folder = data_paths.wikitext2_dir()
    for name in ("train.txt", "valid.txt", "test.txt"):
        _need(folder / name)
    return folder


# ---------------------------------------------------------------------------------------------
# AddSub
# ---------------------------------------------------------------------------------------------


def test_vocabulary_is_the_course_order():
    assert addsub.ADDSUB_VOCAB == [*"0123456789", "POSITIVE", "NEGATIVE", "add", "subtract", "BOS", "EOS"]
    assert (addsub.BOS_ID, addsub.EOS_ID, addsub.VOCAB_SIZE) == (14, 15, 16)
    assert addsub.PAD_ID is None and addsub.IGNORE_INDEX == -100


def test_encode_splits_numbers_into_digits():
    assert addsub.encode_expression(COURSE_EXAMPLE_IN) == [14, 11, 3, 0, 13, 11, 3, 4, 15]
    assert addsub.encode_expression(COURSE_EXAMPLE_OUT) == [14, 10, 0, 4, 15]
    assert addsub.decode_ids([14, 10, 0, 4, 15]) == COURSE_EXAMPLE_OUT
    assert addsub.decode_ids(torch.tensor([14, 11, 3, 0, 13, 11, 3, 4, 15])) == COURSE_EXAMPLE_IN


def test_encode_decode_round_trip_on_every_expression():
    pairs = addsub.generate_expressions(19_602, seed=0)
    for inp, out in pairs:
        assert addsub.decode_ids(addsub.encode_expression(inp)) == inp
        assert addsub.decode_ids(addsub.encode_expression(out)) == out


def test_encode_and_decode_reject_what_is_not_in_the_vocabulary():
    with pytest.raises(ValueError, match="'plus' is not in the AddSub vocabulary"):
        addsub.encode_expression("BOS POSITIVE 3 plus POSITIVE 4 EOS")
    with pytest.raises(ValueError, match="token id 16 is outside"):
        addsub.decode_ids([14, 16])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-30 - -34", "BOS NEGATIVE 30 subtract NEGATIVE 34 EOS"),
        ("12+7", "BOS POSITIVE 12 add POSITIVE 07 EOS"),
        ("-5 + 3", "BOS NEGATIVE 05 add POSITIVE 03 EOS"),
        ("+4 - 49", "BOS POSITIVE 04 subtract POSITIVE 49 EOS"),
        ("3--4", "BOS POSITIVE 03 subtract NEGATIVE 04 EOS"),
        ("  -0 + 0 ", "BOS POSITIVE 00 add POSITIVE 00 EOS"),
        ("\u22127 + 2", "BOS NEGATIVE 07 add POSITIVE 02 EOS"),
    ],
)
def test_parse_arithmetic(text, expected):
    assert addsub.parse_arithmetic(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("50 + 1", "operands must be between -49 and 49 (got 50)"),
        ("-3 - -50", "operands must be between -49 and 49 (got -50)"),
        ("", "The expression is empty"),
        ("   ", "The expression is empty"),
        ("3 * 4", "Could not read '3 * 4' as an addition or subtraction of two whole numbers"),
        ("1 + 2 + 3", "Could not read"),
        ("1.5 + 2", "Could not read"),
        ("seven + 2", "Could not read"),
    ],
)
def test_parse_arithmetic_rejects_bad_input(text, message):
    with pytest.raises(ValueError) as info:
        addsub.parse_arithmetic(text)
    assert message in str(info.value)


def test_solve_and_format_answer():
    assert addsub.solve(-30, "subtract", -34) == COURSE_EXAMPLE_OUT
    assert addsub.solve(-49, "-", 49) == "BOS NEGATIVE 98 EOS"
    assert addsub.solve(49, "+", 49) == "BOS POSITIVE 98 EOS"
    assert addsub.solve(-5, "add", 5) == "BOS POSITIVE 00 EOS"  # zero is POSITIVE 00, as in the course
    with pytest.raises(ValueError, match="operands must be between -49 and 49"):
        addsub.solve(0, "add", 50)
    with pytest.raises(ValueError, match="must be 'add' or 'subtract'"):
        addsub.solve(1, "*", 2)
    assert addsub.format_answer(COURSE_EXAMPLE_OUT) == 4
    assert addsub.format_answer("BOS NEGATIVE 98 EOS") == -98
    assert addsub.format_answer("BOS NEGATIVE 1 9") == -19  # digits as separate tokens, no EOS yet
    assert addsub.format_answer("BOS POSITIVE 00 EOS add") == 0
    for garbage in ("", "BOS EOS", "BOS add 3 EOS", "BOS POSITIVE EOS", "BOS NEGATIVE 4x EOS"):
        assert addsub.format_answer(garbage) is None


def test_course_split_is_reproduced():
    _need(data_paths.addsub_path())
    train, valid = addsub.load_course_split()
    assert (len(train), len(valid)) == (4500, 500)
    assert valid[0] == ("BOS POSITIVE 47 add NEGATIVE 27 EOS", "BOS POSITIVE 20 EOS")
    assert valid[-1] == ("BOS NEGATIVE 17 subtract NEGATIVE 28 EOS", "BOS POSITIVE 11 EOS")
    assert train[0] == ("BOS POSITIVE 20 add NEGATIVE 44 EOS", "BOS NEGATIVE 24 EOS")
    # The course file repeats expressions, so its validation inputs partly recur in training.
    assert len({inp for inp, _ in valid} & {inp for inp, _ in train}) == 105
    # Every course target is what solve() computes.
    for inp, out in train + valid:
        words = inp.split()
        a = (-1 if words[1] == "NEGATIVE" else 1) * int(words[2])
        b = (-1 if words[4] == "NEGATIVE" else 1) * int(words[5])
        assert addsub.solve(a, words[3], b) == out


def test_course_split_missing_file_names_path_and_env(tmp_path, monkeypatch):
    missing = tmp_path / "two_digit_op.json"
    with pytest.raises(FileNotFoundError) as info:
        addsub.load_course_split(missing)
    assert str(missing) in str(info.value) and "TC_ADDSUB_PATH" in str(info.value)
    monkeypatch.setenv("TC_ADDSUB_PATH", str(tmp_path / "elsewhere.json"))
    with pytest.raises(FileNotFoundError, match="elsewhere.json"):
        addsub.load_course_split()


def test_generated_expressions_exclude_and_cover_the_range():
    excluded = {inp for inp, _ in addsub.generate_expressions(500, seed=123)}
    pairs = addsub.generate_expressions(5000, seed=0, exclude=excluded)
    inputs = [inp for inp, _ in pairs]
    assert len(set(inputs)) == 5000 and not set(inputs) & excluded
    words = [inp.split() for inp in inputs]
    assert {w[3] for w in words} == {"add", "subtract"}
    assert {w[1] for w in words} == {w[4] for w in words} == {"POSITIVE", "NEGATIVE"}
    assert {out.split()[1] for _, out in pairs} == {"POSITIVE", "NEGATIVE"}
    assert max(int(w[2]) for w in words) == 49
    assert all(addsub.format_answer(out) is not None for _, out in pairs)
    assert pairs == addsub.generate_expressions(5000, seed=0, exclude=excluded)  # deterministic
    assert pairs != addsub.generate_expressions(5000, seed=1, exclude=excluded)
    with pytest.raises(ValueError, match="only 19102 distinct ones remain"):
        addsub.generate_expressions(19_103, seed=0, exclude=excluded)


def test_generated_training_set_never_contains_course_validation():
    _need(data_paths.addsub_path())
    _, valid = addsub.load_course_split()
    valid_inputs = {inp for inp, _ in valid}
    rest = addsub.generate_expressions(19_602 - len(valid_inputs), seed=0, exclude=valid_inputs)
    assert not {inp for inp, _ in rest} & valid_inputs
    assert len(valid_inputs) + len(rest) == 19_602


def test_dataset_items_and_collate():
    pairs = [(COURSE_EXAMPLE_IN, COURSE_EXAMPLE_OUT), (addsub.parse_arithmetic("49 + 49"), addsub.solve(49, "+", 49))]
    dataset = addsub.AddSubDataset(pairs)
    src, tgt = dataset[0]
    assert src.dtype == tgt.dtype == torch.long
    assert src.tolist() == [14, 11, 3, 0, 13, 11, 3, 4, 15] and tgt.tolist() == [14, 10, 0, 4, 15]
    src_batch, tgt_batch = next(iter(DataLoader(dataset, batch_size=2, collate_fn=addsub.collate)))
    assert src_batch.shape == (2, 9) and tgt_batch.shape == (2, 5)
    assert tgt_batch[1].tolist() == [14, 10, 9, 8, 15]
    with pytest.raises(ValueError, match="inputs have 9 tokens and outputs 5"):
        addsub.AddSubDataset([("BOS POSITIVE 100 add POSITIVE 01 EOS", COURSE_EXAMPLE_OUT)])


def test_task_names():
    assert TASKS == ("addsub", "wikitext2", "shakespeare", "anna", "multi30k_en_de", "multi30k_en_fr", "anki_en_fr")
    assert lm.LM_TASKS == TASKS[1:4]


def test_importing_the_package_is_light():
    code = "import sys, trainers, trainers.tasks; print(sorted({'torch', 'datasets', 'tokenizers'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=data_paths.repo_root(), capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_addsub_split_without_the_course_file_is_generated_and_held_out(tmp_path):
    missing = tmp_path / "two_digit_op.json"
    split = addsub.make_split("generated", 3000, seed=1, path=missing)
    assert (split.train_source, split.valid_source, split.note) == ("generated", "generated", None)
    assert split.valid == addsub.generated_valid_pairs() and len(split.valid) == 500
    assert len(split.train) == 3000 and not {i for i, _ in split.train} & {i for i, _ in split.valid}
    for inp, out in split.valid[:50]:  # every pair is right: the answer is the arithmetic of the input
        words = inp.split()
        a = int(words[2]) * (-1 if words[1] == "NEGATIVE" else 1)
        b = int(words[5]) * (-1 if words[4] == "NEGATIVE" else 1)
        assert addsub.format_answer(out) == (a + b if words[3] == "add" else a - b)
    asked_course = addsub.make_split("course", 3000, seed=1, path=missing)  # falls back, and says so
    assert asked_course.train == split.train and "two_digit_op.json" in asked_course.note
    with pytest.raises(ValueError, match="'course' or 'generated'"):
        addsub.make_split("both", 10, seed=0, path=missing)


def test_addsub_split_with_the_course_file_validates_on_the_course_500():
    _need(data_paths.addsub_path())
    course_train, course_valid = addsub.load_course_split()
    course = addsub.make_split("course", 3000, seed=1)
    assert (course.train, course.valid, course.note) == (course_train, course_valid, None)
    generated = addsub.make_split("generated", 3000, seed=1)
    assert generated.valid == course_valid and generated.valid_source == "course"
    assert not {i for i, _ in generated.train} & {i for i, _ in course_valid}


def test_data_paths(tmp_path, monkeypatch):
    assert (data_paths.repo_root() / "trainers" / "data_paths.py").is_file()
    monkeypatch.delenv("TC_SHARED_DATA", raising=False)
    monkeypatch.delenv("TC_DATA_DIR", raising=False)
    monkeypatch.delenv("TC_ADDSUB_PATH", raising=False)
    assert data_paths.shared_data_dir() == data_paths.repo_root().parent / "shared" / "data"
    monkeypatch.setenv("TC_SHARED_DATA", str(tmp_path))
    assert data_paths.wikitext2_dir() == tmp_path / "wikitext-2"
    # No Tiny Shakespeare in the shared folder: the copy shipped in assets/data (same bytes as the course's).
    shipped = data_paths.repo_root() / "assets" / "data" / "tinyshakespeare" / "input.txt"
    assert data_paths.shakespeare_path() == shipped and shipped.stat().st_size == 1_115_394
    (tmp_path / "tinyshakespeare").mkdir()
    (tmp_path / "tinyshakespeare" / "input.txt").write_text("To be\n", encoding="utf-8")
    assert data_paths.shakespeare_path() == tmp_path / "tinyshakespeare" / "input.txt"
    assert data_paths.addsub_path() == tmp_path / "eecs598-addsub" / "two_digit_op.json"
    monkeypatch.setenv("TC_DATA_DIR", str(tmp_path / "wt"))
    assert data_paths.wikitext2_dir() == tmp_path / "wt"
    assert data_paths.wikitext2_dir(tmp_path / "cli") == tmp_path / "cli"
    assert data_paths.require(tmp_path, "a folder") == tmp_path
    with pytest.raises(FileNotFoundError) as info:
        data_paths.require(tmp_path / "nope.txt", "the thing", env_var="TC_THING")
    assert "Could not find the thing at" in str(info.value) and "TC_THING" in str(info.value)


# ---------------------------------------------------------------------------------------------
# WikiText-2
# ---------------------------------------------------------------------------------------------


def test_wikitext2_word_corpus_matches_pytorch_example():
    _need_wikitext2()
    corpus = lm.load_lm_corpus("wikitext2")
    assert corpus.unit == "word" and corpus.name == "wikitext2"
    assert corpus.vocab_size == corpus.tokenizer.get_vocab_size() == 33_278
    assert {split: len(ids) for split, ids in corpus.splits.items()} == WIKITEXT2_TOKENS
    assert corpus.n_words == WIKITEXT2_TOKENS
    assert all(ids.dtype == torch.long and ids.dim() == 1 for ids in corpus.splits.values())
    eos, unk = corpus.tokenizer.token_to_id("<eos>"), corpus.tokenizer.token_to_id("<unk>")
    assert corpus.eos_id == eos
    assert {split: int((ids == eos).sum()) for split, ids in corpus.splits.items()} == WIKITEXT2_LINES
    assert int((corpus.train == unk).sum()) == 54_625  # the corpus's own <unk> words, none added
    assert corpus.decode(corpus.train[:7]) == "<eos> = Valkyria Chronicles III = <eos>"
    assert corpus.tokenizer.encode("zyzzyva-qq").ids == [unk]  # unknown words map to <unk>
    assert corpus.encode("The game\nbegan") == corpus.tokenizer.encode("The game <eos> began").ids


def test_wikitext2_every_split_line_encodes_like_the_tokenizer():
    _need_wikitext2()
    corpus = lm.load_lm_corpus("wikitext2")
    lines = wikitext2.read_wikitext2()
    assert {split: len(lines[split]) for split in lm.SPLITS} == WIKITEXT2_LINES
    assert lines["train"][:2] == (" ", " = Valkyria Chronicles III = ")
    restored = Tokenizer.from_str(corpus.tokenizer.to_str())  # the JSON a checkpoint stores
    expected: list[int] = []
    for line in lines["valid"][:200]:
        expected += restored.encode(line).ids + [corpus.eos_id]
    assert corpus.valid[: len(expected)].tolist() == expected


def test_wikitext2_is_cached_in_process():
    _need_wikitext2()
    first = lm.load_lm_corpus("wikitext2")
    start = time.perf_counter()
    again = lm.load_lm_corpus("wikitext2", data_dir=data_paths.wikitext2_dir())
    assert again is first and time.perf_counter() - start < 0.5


def test_wikitext2_offline_without_files_fails_fast(tmp_path):
    start = time.perf_counter()
    with pytest.raises(wikitext2.DataUnavailableError) as info:
        lm.load_lm_corpus("wikitext2", data_dir=tmp_path)
    assert time.perf_counter() - start < 5
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert str(tmp_path) in message and "--data-dir" in message and "TC_DATA_DIR" in message
    assert "HF_HUB_OFFLINE=1" in message


def test_wikitext2_unreachable_hub_fails_fast(tmp_path, monkeypatch):
    # A loopback port nobody listens on stands in for an unreachable Hub: no real network is used.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_DATASETS_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    start = time.perf_counter()
    with pytest.raises(wikitext2.DataUnavailableError, match=f"127.0.0.1:{port}"):
        wikitext2.read_wikitext2(tmp_path)
    assert time.perf_counter() - start < 5


def test_batchify_and_get_batch_follow_the_pytorch_example():
    data = torch.arange(26)
    source = lm.batchify(data, 4)  # 26 // 4 = 6 rows; the last 2 ids are dropped
    assert source.shape == (6, 4) and source.is_contiguous()
    assert source[:, 0].tolist() == [0, 1, 2, 3, 4, 5] and source[:, 1].tolist() == [6, 7, 8, 9, 10, 11]
    x, y = lm.get_batch(source, 0, 3)
    assert x.tolist() == source[0:3].tolist() and y.tolist() == source[1:4].reshape(-1).tolist()
    x, y = lm.get_batch(source, 3, 3)  # the last batch is shorter: min(3, 6 - 1 - 3) = 2 rows
    assert x.shape == (2, 4) and y.shape == (8,)


def test_random_windows():
    data = torch.arange(100)
    x, y = lm.random_windows(data, block_size=8, batch_size=16, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (16, 8) and x.dtype == torch.long
    assert torch.equal(y, x + 1) and torch.equal(x[:, 1:], x[:, :-1] + 1)
    assert int(y.max()) <= 99
    x2, _ = lm.random_windows(data, 8, 16, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)
    with pytest.raises(ValueError, match="block_size=100"):
        lm.random_windows(data, 100, 2)


def test_bpe_wikitext_counts_words_for_per_word_perplexity():
    _need_wikitext2()
    corpus = lm.load_lm_corpus("wikitext2", tokenizer="bpe")
    assert corpus.unit == "bpe" and corpus.vocab_size == 8000
    assert corpus.n_words == WIKITEXT2_TOKENS  # words, not BPE pieces
    assert {split: int((ids == corpus.eos_id).sum()) for split, ids in corpus.splits.items()} == WIKITEXT2_LINES
    pieces_per_word = len(corpus.valid) / corpus.n_words["valid"]
    assert 1.05 < pieces_per_word < 1.4
    lines = wikitext2.read_wikitext2()["valid"][:50]
    n_ids = sum(len(line.split()) for line in lines)  # rough upper bound on the ids those lines need
    text = corpus.decode(corpus.valid[: 2 * n_ids])
    assert text.startswith("".join((" " + " ".join(line.split()) if line.split() else "") + "<eos>" for line in lines))
    # Per-word perplexity: exp(total nats / words). A uniform model over 8000 pieces gives
    # 8000 ** (pieces / words) per word, more than its 8000 per piece.
    total_nll = len(corpus.valid) * math.log(8000)
    ppl = wikitext2.word_perplexity(total_nll, corpus.n_words["valid"])
    assert ppl == pytest.approx(8000**pieces_per_word) and ppl > 8000
    assert wikitext2.count_words([" = Title = ", " ", ""]) == 3 + 1 + 1 + 1


# ---------------------------------------------------------------------------------------------
# Character corpora
# ---------------------------------------------------------------------------------------------


def test_shakespeare_characters():
    _need(data_paths.shakespeare_path())
    text = lm.read_char_corpus("shakespeare")
    corpus = lm.load_lm_corpus("shakespeare")
    assert corpus.unit == "char" and corpus.vocab_size == len(set(text)) == 65
    assert (len(corpus.train), len(corpus.valid)) == (1_003_854, 111_540)  # nanoGPT's numbers
    assert corpus.test is None and corpus.n_words is None and corpus.n_chars == {"train": 1_003_854, "valid": 111_540}
    vocab = corpus.tokenizer.get_vocab()
    assert vocab["\n"] == 0 and vocab[" "] == 1 and vocab["z"] == 64  # nanoGPT's stoi: sorted characters
    head = text[:10_000]
    ids = corpus.tokenizer.encode(head).ids
    assert ids == corpus.train[:10_000].tolist()
    assert corpus.tokenizer.decode(ids) == head  # newlines and spaces survive exactly
    restored = Tokenizer.from_str(corpus.tokenizer.to_str())
    assert restored.decode(restored.encode(head).ids) == head
    assert corpus.decode(corpus.valid) == text[1_003_854:]
    with pytest.raises(ValueError, match="'é': not in the shakespeare character vocabulary"):
        corpus.encode("café")


def test_anna_karenina_without_the_gutenberg_licence():
    _need(data_paths.anna_karenina_path())
    text = lm.read_char_corpus("anna")
    assert text.endswith('which I have the power to put into\nit."\n')
    assert "Gutenberg" not in text and "\r" not in text
    corpus = lm.load_lm_corpus("anna")
    assert corpus.vocab_size == 77 and corpus.n_chars == {"train": 1_769_530, "valid": 196_615}
    assert corpus.decode(corpus.train[:9]) == "Chapter 1"


def test_bpe_on_characters_round_trips_and_trains_on_train_only():
    _need(data_paths.shakespeare_path())
    text = lm.read_char_corpus("shakespeare")
    train_text, valid_text = lm.split_train_valid(text)
    corpus = lm.load_lm_corpus("shakespeare", tokenizer="bpe")
    assert corpus.vocab_size == 512 and corpus.n_chars == {"train": len(train_text), "valid": len(valid_text)}
    assert corpus.decode(corpus.train) == train_text and corpus.decode(corpus.valid) == valid_text
    assert len(corpus.train) < 0.6 * len(train_text)
    same = lm.build_bpe_tokenizer(train_text.splitlines(keepends=True), 512)
    assert same.to_str() == corpus.tokenizer.to_str()  # deterministic, and fitted on the training split
    assert corpus.decode(corpus.encode("Zounds! ça va\n")) == "Zounds! ça va\n"  # any byte encodes


def test_load_lm_corpus_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown language-model task 'addsub'"):
        lm.load_lm_corpus("addsub")
    with pytest.raises(ValueError, match="unknown tokenizer 'sentencepiece'"):
        lm.load_lm_corpus("shakespeare", tokenizer="sentencepiece")
    with pytest.raises(ValueError, match="'word' or 'bpe' tokenizer, not 'char'"):
        lm.load_lm_corpus("wikitext2", tokenizer="char")
    with pytest.raises(ValueError, match="anna is a character corpus"):
        lm.load_lm_corpus("anna", tokenizer="word")
    with pytest.raises(ValueError, match="bpe_vocab_size=200 is too small"):
        lm.build_bpe_tokenizer(["abc"], 200)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "input.txt")):
        lm.load_lm_corpus("shakespeare", data_dir=tmp_path)
    with pytest.raises(ValueError, match="n_words must be positive"):
        wikitext2.word_perplexity(1.0, 0)
