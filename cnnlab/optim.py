"""Optimizers and learning-rate schedules. Lessons 04-05.

The update rules, written out in NumPy: each is a pure function of one parameter array, its
gradient and the rule's state, returning the new parameter and the new state, computed the way
``torch.optim`` computes them (``tests/test_optim.py`` runs both side by side, step by step, on
the same numbers)::

    w, velocity = sgd_step(w, dw, velocity, lr=0.01, momentum=0.9)
    w, m, v = adam_step(w, dw, m, v, t, lr=1e-3)          # t = 1 on the first step

``SGD`` and ``Adam`` hold that state for a dict of named parameters (like
``cnnlab.numpy_cnn.NumpyCNN.params``) and update the arrays in place. Weight decay comes as an
L2 term or decoupled (AdamW), lesson 05's regulariser.

For torch networks, ``make_optimizer`` builds torch's own optimizers by name, and the
learning-rate schedules are written as a function of *progress*, the fraction of the training
run that is done (0 -> 1). ``cnnlab.train.fit`` measures progress in steps, or, when it has a
time budget, as the share of the budget used, whichever is further along. So a one-cycle or
cosine schedule always finishes its annealing when the budget runs out, however fast or slow
the machine is.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable

import numpy as np

if TYPE_CHECKING:
    import torch


# --------------------------------------------------------------------------- argument checks

def _check_rate(func: str, name: str, value: float, upper: float | None = None) -> None:
    ok = isinstance(value, int | float | np.floating | np.integer) and math.isfinite(value) and value >= 0
    if not ok or (upper is not None and value >= upper):
        where = f"in [0, {upper:g})" if upper is not None else "a finite number ≥ 0"
        raise ValueError(f"{func}: {name} must be {where}, got {value!r}")


def _check_like(func: str, w: np.ndarray, **others: np.ndarray) -> None:
    if not isinstance(w, np.ndarray):
        raise ValueError(f"{func}: w must be a NumPy array, got {type(w).__name__}")
    for name, a in others.items():
        if not isinstance(a, np.ndarray) or a.shape != w.shape:
            got = a.shape if isinstance(a, np.ndarray) else type(a).__name__
            raise ValueError(f"{func}: {name} must have w's shape {w.shape}, got {got}")


# --------------------------------------------------------------------------- one step of each rule

def sgd_step(w: np.ndarray, dw: np.ndarray, velocity: np.ndarray, lr: float, momentum: float = 0.0,
             nesterov: bool = False, weight_decay: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """One step of SGD with momentum, as ``torch.optim.SGD`` takes it (lesson 04).

    ``g = dw + weight_decay·w`` (L2), ``velocity ← momentum·velocity + g``, then
    ``w ← w − lr·velocity``; with Nesterov the step looks ahead, ``w ← w − lr·(g + momentum·velocity)``.
    The velocity is a running sum of gradients (not scaled by lr), so changing lr mid-run
    changes the next step at once. It starts at zeros.

    Args:
        w: a parameter array.
        dw: its gradient, same shape.
        velocity: the momentum buffer, same shape (zeros before the first step).
        lr: learning rate.
        momentum: in [0, 1); 0 is plain SGD.
        nesterov: Nesterov's look-ahead (needs momentum > 0).
        weight_decay: L2 coefficient λ, the gradient of (λ/2)·‖w‖².

    Returns:
        The new w and the new velocity (new arrays; the inputs are unchanged).
    """
    func = "sgd_step"
    _check_like(func, w, dw=dw, velocity=velocity)
    _check_rate(func, "lr", lr)
    _check_rate(func, "momentum", momentum, upper=1)
    _check_rate(func, "weight_decay", weight_decay)
    if nesterov and momentum == 0:
        raise ValueError(f"{func}: Nesterov's look-ahead needs momentum > 0")
    g = dw + weight_decay * w if weight_decay else dw
    velocity = momentum * velocity + g
    step = g + momentum * velocity if nesterov else velocity
    return w - lr * step, velocity


def adam_step(w: np.ndarray, dw: np.ndarray, m: np.ndarray, v: np.ndarray, t: int, lr: float = 1e-3,
              beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0,
              decoupled: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of Adam with bias correction, as ``torch.optim.Adam`` (or ``AdamW``) takes it (lesson 04).

    ``m`` and ``v`` are running averages of the gradient and of its square. Both start at
    zeros, so early on they are too small by the factors 1 − β1^t and 1 − β2^t; dividing by
    those factors (bias correction) removes the bias. The step is
    ``w ← w − lr · m̂ / (√v̂ + eps)``.

    Weight decay comes in two kinds (lesson 05). As an L2 term (``decoupled=False``, torch's
    Adam) it is added to the gradient, ``dw + λ·w``, and then rescaled by Adam like any
    gradient. Decoupled (``decoupled=True``, torch's AdamW) it shrinks the weights directly,
    ``w ← w·(1 − lr·λ)``, before the Adam step, whatever the gradient's scale.

    Args:
        w: a parameter array.
        dw: its gradient, same shape.
        m: first-moment average, same shape (zeros before the first step).
        v: second-moment average, same shape (zeros before the first step).
        t: the number of this step, 1 for the first.
        lr: learning rate.
        beta1: decay of m, in [0, 1).
        beta2: decay of v, in [0, 1).
        eps: added to √v̂, keeps the step finite where v̂ is 0.
        weight_decay: λ.
        decoupled: AdamW's decoupled decay instead of the L2 term.

    Returns:
        The new w, m and v (new arrays; the inputs are unchanged).
    """
    func = "adam_step"
    _check_like(func, w, dw=dw, m=m, v=v)
    if isinstance(t, bool) or not isinstance(t, int | np.integer) or t < 1:
        raise ValueError(f"{func}: t is the number of this step, an int from 1, got {t!r}")
    for name, value, upper in (("lr", lr, None), ("beta1", beta1, 1), ("beta2", beta2, 1), ("eps", eps, None),
                               ("weight_decay", weight_decay, None)):
        _check_rate(func, name, value, upper)
    if decoupled:
        w = w * (1 - lr * weight_decay)                            # AdamW: shrink, then step
    elif weight_decay:
        dw = dw + weight_decay * w                                 # L2: part of the gradient
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    m_hat = m / (1 - beta1 ** t)                                   # bias correction
    denom = np.sqrt(v) / math.sqrt(1 - beta2 ** t) + eps           # √v̂ + eps
    return w - lr * m_hat / denom, m, v


# --------------------------------------------------------------------------- optimisers over named parameters

class SGD:
    """SGD with momentum over a dict of named parameters, updated in place (lesson 04).

    Attributes:
        params: the dict being trained (its arrays are changed in place).
        velocity: one buffer per parameter.
    """

    def __init__(self, params: dict[str, np.ndarray], lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        self.params, self.lr, self.momentum = params, lr, momentum
        self.nesterov, self.weight_decay = nesterov, weight_decay
        self.velocity = {name: np.zeros_like(p) for name, p in params.items()}

    def step(self, grads: dict[str, np.ndarray]) -> None:
        """Apply one update from ``grads`` (same keys and shapes as ``params``)."""
        for name, grad in grads.items():
            new, self.velocity[name] = sgd_step(self.params[name], grad, self.velocity[name], self.lr,
                                                self.momentum, self.nesterov, self.weight_decay)
            self.params[name][...] = new


class Adam:
    """Adam (or AdamW with ``decoupled=True``) over a dict of named parameters, updated in place (lesson 04).

    Attributes:
        params: the dict being trained (its arrays are changed in place).
        m, v: the moment averages, one per parameter.
        t: steps taken so far.
    """

    def __init__(self, params: dict[str, np.ndarray], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled: bool = False):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.weight_decay, self.decoupled = weight_decay, decoupled
        self.m = {name: np.zeros_like(p) for name, p in params.items()}
        self.v = {name: np.zeros_like(p) for name, p in params.items()}
        self.t = 0

    def step(self, grads: dict[str, np.ndarray]) -> None:
        """Apply one update from ``grads`` (same keys and shapes as ``params``)."""
        self.t += 1
        for name, grad in grads.items():
            new, self.m[name], self.v[name] = adam_step(
                self.params[name], grad, self.m[name], self.v[name], self.t, self.lr, *self.betas, self.eps,
                self.weight_decay, self.decoupled)
            self.params[name][...] = new


# --------------------------------------------------------------------------- torch optimizers and schedules

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = (None, "onecycle", "cosine", "plateau")

Params = Iterable["torch.nn.Parameter"] | Iterable[dict]


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
    import torch

    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                               nesterov=momentum > 0)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {OPTIMIZERS}")
