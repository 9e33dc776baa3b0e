"""Is a task's data on this machine, downloadable, or waiting for a folder? Answered before a run starts.

The Train page and ``python -m trainers data`` show this for every task, so a student knows before
pressing Start what will happen:

- ``"ready"``: the data is here. AddSub is always ready (the project generates its expressions; the
  course file, when present, gives the validation split); Tiny Shakespeare is always ready (a copy
  ships in ``assets/data``); the others are ready when their files are in the shared data folder or
  in the folder the user named.
- ``"download"``: not here, but the Hugging Face Hub answered a quick probe, so Start downloads it
  (``download_mb`` megabytes, cached by ``datasets`` for next time): WikiText-2 and Multi30k en→de.
- ``"folder"``: not here and not downloadable (offline, or no Hub copy): name a folder that holds the
  files (``expected`` lists them) or set ``TC_SHARED_DATA``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from trainers import data_paths
from trainers.hub import hub_unavailable_reason
from trainers.tasks import LM_TASKS, TRANSLATION_TASKS
from trainers.tasks.translation import data_location
from trainers.tasks.wikitext2 import local_wikitext2_files

__all__ = ["DataStatus", "data_status", "TASK_FILES"]

# What a folder named for each task must hold (the CLI's --data-dir and the Train page's data folder).
TASK_FILES: dict[str, tuple[str, ...]] = {
    "addsub": ("two_digit_op.json",),
    "shakespeare": ("input.txt",),
    "anna": ("anna.txt",),
    "wikitext2": ("train.txt", "valid.txt", "test.txt"),
    "multi30k_en_de": ("train.en", "train.de", "val.en", "val.de", "test_2016_flickr.en", "test_2016_flickr.de"),
    "multi30k_en_fr": ("train.en", "train.fr", "val.en", "val.fr", "test_2016_flickr.en", "test_2016_flickr.fr"),
    "anki_en_fr": ("fra.txt",),
}
# Hub copies a task can download when online: (dataset id, download size in MB, from the Hub's file list).
HUB_COPIES: dict[str, tuple[str, float]] = {
    "wikitext2": ("Salesforce/wikitext (wikitext-2-v1)", 7.4),
    "multi30k_en_de": ("bentrevett/multi30k", 4.9),
}


@dataclass(frozen=True)
class DataStatus:
    """Where a task's data stands; ``state`` is ``"ready"``, ``"download"`` or ``"folder"`` (see the module)."""

    task: str
    state: str
    location: Path  # the file or folder the task reads (or would read)
    source: str  # "generated", "course", "shipped", "folder" (a named one), "hub"
    hub_id: str | None = None
    download_mb: float | None = None
    reason: str | None = None  # why the Hub cannot be used, when that matters
    expected: tuple[str, ...] = field(default_factory=tuple)  # the files a named folder must hold


def _has_all(folder: Path, names: tuple[str, ...]) -> bool:
    return all((folder / name).is_file() for name in names)


def _local(task: str, data_dir: Path | None) -> tuple[Path, bool]:
    """The place ``task`` reads from, and whether its files are there."""
    if task == "shakespeare":
        path = data_paths.shakespeare_path(data_dir)
        return path, path.is_file()
    if task == "anna":
        path = data_paths.anna_karenina_path(data_dir)
        return path, path.is_file()
    if task == "wikitext2":
        folder = data_paths.wikitext2_dir(data_dir)
        return folder, local_wikitext2_files(folder) is not None
    if task in TRANSLATION_TASKS:
        location = data_location(task, data_dir)
        if task == "anki_en_fr":
            return location, location.is_file()
        return location, _has_all(location, TASK_FILES[task])
    raise ValueError(f"unknown task {task!r}")


def data_status(task: str, data_dir: str | os.PathLike | None = None, probe_hub: bool = True) -> DataStatus:
    """Where ``task``'s data stands on this machine (see the module docstring).

    Args:
        task: a task name (``addsub``, ``shakespeare``, ``anna``, ``wikitext2`` or a translation task).
        data_dir: a folder the user named (``--data-dir``, the Train page's data folder), else the defaults.
        probe_hub: ask the Hub (at most ~3 s; at once in offline mode) whether a download is possible.

    Raises:
        ValueError: an unknown task.
    """
    if task == "addsub":
        path = data_paths.addsub_path()
        return DataStatus(task, "ready", path, "course" if path.is_file() else "generated")
    if task not in LM_TASKS and task not in TRANSLATION_TASKS:
        raise ValueError(f"unknown task {task!r}")
    folder = Path(data_dir).expanduser() if data_dir else None
    location, here = _local(task, folder)
    if here:
        if folder is not None:
            source = "folder"
        elif task == "shakespeare" and location.parent.parent == data_paths.shipped_data_dir():
            source = "shipped"
        else:
            source = "course"
        return DataStatus(task, "ready", location, source)
    expected = TASK_FILES[task]
    if folder is None and task in HUB_COPIES:
        hub_id, size = HUB_COPIES[task]
        reason = hub_unavailable_reason() if probe_hub else "the Hub was not asked"
        if reason is None:
            return DataStatus(task, "download", location, "hub", hub_id, size, expected=expected)
        return DataStatus(task, "folder", location, "hub", hub_id, size, reason, expected)
    return DataStatus(task, "folder", location, "folder" if folder is not None else "course", expected=expected)
