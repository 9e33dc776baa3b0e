"""The learning-rate schedule as a ``torch.optim.lr_scheduler.LambdaLR``.

Linear warmup to ``config.lr`` over ``warmup_steps``, then (Vaswani et al. 2017 §5.3, with modern options)
"cosine": lr_min + (lr − lr_min)·½(1 + cos(π·p)), p = the fraction of the step or time budget used,
lr_min = min_lr_ratio·lr; "inverse_sqrt": lr·√(warmup/step) (the paper's eq. 3, rescaled so the peak is
``lr``); "constant": lr. ``LambdaLR`` multiplies the optimiser's ``lr`` by :func:`lr_factor`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.optim.lr_scheduler import LambdaLR

from .config import TrainConfig

__all__ = ["learning_rate", "lr_factor", "warmup_then_decay"]


def lr_factor(config: TrainConfig, step: int, progress: float) -> float:
    """The learning rate of optimiser step ``step`` (1-based) as a fraction of ``config.lr``.

    ``progress`` is the fraction of the budget used before the step (only the cosine decay reads it).
    """
    warmup = config.warmup_steps
    if warmup and step <= warmup:
        return step / warmup
    if config.schedule == "constant":
        return 1.0
    if config.schedule == "inverse_sqrt":
        return math.sqrt(warmup / step)
    ratio = config.min_lr_ratio
    p = min(max(progress, 0.0), 1.0)
    return ratio + (1.0 - ratio) * 0.5 * (1.0 + math.cos(math.pi * p))


def learning_rate(config: TrainConfig, step: int, progress: float) -> float:
    """The learning rate of optimiser step ``step`` (1-based): ``config.lr × lr_factor``."""
    return config.lr * lr_factor(config, step, progress)


def warmup_then_decay(
    optimizer: torch.optim.Optimizer, config: TrainConfig, progress: Callable[[int], float]
) -> LambdaLR:
    """The schedule of ``config`` on ``optimizer`` (whose ``lr`` is ``config.lr``).

    ``progress(steps_done)`` gives the fraction of the budget used after ``steps_done`` steps (for a time
    budget, it reads the clock). Creating the scheduler sets the rate of step 1; each ``scheduler.step()``
    after an ``optimizer.step()`` sets the rate of the next step.
    """
    return LambdaLR(optimizer, lambda steps_done: lr_factor(config, steps_done + 1, progress(steps_done)))
