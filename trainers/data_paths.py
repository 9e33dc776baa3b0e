"""Where the course data lives, and one clear error when it is not there.

The shared corpora sit beside the checkout in ``../shared/data`` (see that folder's README for
origins and licences); they are never copied into the repository. Every location can be moved
with an environment variable:

==================  ==============================================================
``TC_SHARED_DATA``  the whole shared data folder (default ``<repo>/../shared/data``)
``TC_DATA_DIR``     the WikiText-2 folder (default ``<shared data>/wikitext-2``)
``TC_ADDSUB_PATH``  the course's ``two_digit_op.json`` (default under ``eecs598-addsub``)
==================  ==============================================================
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_SHARED_DATA = "TC_SHARED_DATA"
ENV_DATA_DIR = "TC_DATA_DIR"
ENV_ADDSUB_PATH = "TC_ADDSUB_PATH"


def repo_root() -> Path:
    """The repository root (the folder holding ``trainers/``), as an absolute path."""
    return Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    """The shared data folder: env ``TC_SHARED_DATA``, else ``<repo>/../shared/data``."""
    env = os.environ.get(ENV_SHARED_DATA)
    return Path(env).expanduser() if env else repo_root().parent / "shared" / "data"


def addsub_path() -> Path:
    """The course's AddSub file: env ``TC_ADDSUB_PATH``, else ``<shared data>/eecs598-addsub/two_digit_op.json``."""
    env = os.environ.get(ENV_ADDSUB_PATH)
    return Path(env).expanduser() if env else shared_data_dir() / "eecs598-addsub" / "two_digit_op.json"


def wikitext2_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The WikiText-2 folder (train.txt, valid.txt, test.txt).

    ``data_dir`` (the CLI's ``--data-dir``) wins, then env ``TC_DATA_DIR``, then
    ``<shared data>/wikitext-2``.
    """
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_DATA_DIR)
    return Path(env).expanduser() if env else shared_data_dir() / "wikitext-2"


def shipped_data_dir() -> Path:
    """The small public-domain corpora that ship with the app: ``<repo>/assets/data`` (see its README)."""
    return repo_root() / "assets" / "data"


def shakespeare_path(data_dir: str | os.PathLike | None = None) -> Path:
    """Tiny Shakespeare ``input.txt`` (karpathy/char-rnn).

    ``data_dir`` if given; else the shared folder's copy; else the copy shipped in
    ``assets/data/tinyshakespeare`` (the same bytes), so the character model trains offline on a
    fresh clone.
    """
    if data_dir is not None:
        return Path(data_dir).expanduser() / "input.txt"
    shared = shared_data_dir() / "tinyshakespeare" / "input.txt"
    return shared if shared.is_file() else shipped_data_dir() / "tinyshakespeare" / "input.txt"


def anna_karenina_path(data_dir: str | os.PathLike | None = None) -> Path:
    """Anna Karenina ``anna.txt`` (udacity/deep-learning): in ``data_dir`` if given, else the shared folder."""
    folder = Path(data_dir).expanduser() if data_dir is not None else shared_data_dir() / "anna-karenina"
    return folder / "anna.txt"


def multi30k_dir() -> Path:
    """The Multi30k task-1 folder (train/val/test_2016_flickr in en, de, fr; line-aligned)."""
    return shared_data_dir() / "multi30k"


def anki_fra_eng_path() -> Path:
    """The English->French sentence pairs ``fra.txt`` (``English<TAB>French`` per line)."""
    return shared_data_dir() / "anki-fra-eng" / "fra.txt"


def require(path: str | os.PathLike, what: str, env_var: str | None = None) -> Path:
    """Return ``path`` as a ``Path`` if it exists, else raise a ``FileNotFoundError`` a student can act on.

    Args:
        path: the file or folder that must exist.
        what: what it is, in words ("the course's AddSub file two_digit_op.json").
        env_var: the environment variable that moves it, named in the message.

    Raises:
        FileNotFoundError: naming ``what``, the path looked at, and how to point elsewhere.
    """
    path = Path(path)
    if path.exists():
        return path
    fix = f"Set {env_var} to its location, or put" if env_var else "Put"
    raise FileNotFoundError(
        f"Could not find {what} at {path}. {fix} the shared course data in {shared_data_dir()} "
        f"(or set {ENV_SHARED_DATA} to the folder that holds it)."
    )
