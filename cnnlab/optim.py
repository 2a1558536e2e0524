"""Optimizers and learning-rate schedules. Lessons 04-05.

Learning-rate schedules are written as a function of *progress*, the fraction of the
training run that is done (0 -> 1). ``cnnlab.train.fit`` measures progress in steps, or, when
it has a time budget, as the share of the budget used, whichever is further along. So a
one-cycle or cosine schedule always finishes its annealing when the budget runs out, however
fast or slow the machine is.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = (None, "onecycle", "cosine", "plateau")

Params = Iterable[torch.nn.Parameter] | Iterable[dict]


def lr_factor(schedule: str | None, progress: float, warmup: float = 0.25, final: float = 1e-3) -> float:
    """Learning-rate multiplier at ``progress`` in [0, 1] of the run. Lesson 04.

    - None or "plateau": 1 (plateau reduces the rate from validation loss, between epochs).
    - "cosine": from 1 down to 0 along half a cosine.
    - "onecycle": warm up from ``final``·25 to 1 over the first ``warmup`` of the run, then
      anneal along a cosine down to ``final`` (Smith & Topin's one-cycle policy).
    """
    progress = min(max(progress, 0.0), 1.0)
    if schedule in (None, "plateau"):
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * progress))
    if schedule == "onecycle":
        start = 25 * final
        if progress < warmup:
            return start + (1 - start) * 0.5 * (1 - math.cos(math.pi * progress / warmup))
        t = (progress - warmup) / (1 - warmup)
        return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * t))
    raise ValueError(f"unknown scheduler {schedule!r}; choose one of {SCHEDULERS}")


def make_optimizer(params: Params, name: str, lr: float, momentum: float = 0.9,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD with (Nesterov) momentum. Lesson 04.

    Args:
        params: what the optimizer updates: a network's parameters, or parameter groups with
            their own ``"lr"`` (e.g. ``cnnlab.transfer.finetune_param_groups``).
        name: "adam", "adamw" or "sgd".
        lr: learning rate of every group that does not set its own.
        momentum: SGD momentum (Nesterov when > 0).
        weight_decay: L2 penalty (decoupled for "adamw").
    """
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                               nesterov=momentum > 0)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {OPTIMIZERS}")
