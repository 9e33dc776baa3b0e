"""The task registry: which adapter trains which task (``TASKS`` names them in ``trainers.tasks``)."""

from __future__ import annotations

import torch

from ..config import TrainConfig
from . import LM_TASKS, TASKS, TRANSLATION_TASKS
from .addsub_task import AddSubTask
from .base import Task
from .lm_task import LanguageModelTask
from .translation_task import TranslationTask

__all__ = ["ADAPTERS", "make_task"]

ADAPTERS: dict[str, type] = {
    "addsub": AddSubTask,
    **dict.fromkeys(LM_TASKS, LanguageModelTask),
    **dict.fromkeys(TRANSLATION_TASKS, TranslationTask),
}
assert set(ADAPTERS) == set(TASKS), "every task in trainers.tasks.TASKS needs an adapter"


def make_task(config: TrainConfig, device: torch.device, rank: int = 0, world_size: int = 1) -> Task:
    """The task adapter for ``config.task``. Raises FileNotFoundError when its data is missing."""
    return ADAPTERS[config.task](config, device, rank, world_size)
