"""What the library, the self-checks and the grader share: counting, comparing and switching networks.

This module depends on the standard library and NumPy only. Functions that need torch import
it when they run, so that ``cnnlab.checks`` and ``cnnlab.grading`` can import this module in a
process that has not loaded torch (and may never need to).

- ``parameter_count``: how many numbers a network learns (lessons 02, 04-08).
- ``weighted_layer_shapes`` / ``fill_deterministic``: a network seen as its layers with weights,
  and identical weights for two networks of the same layout, so that their outputs can be
  compared number by number (lessons 04-08 and their exercises).
- ``evaluating`` / ``training``: run a block with a network in eval (train) mode, then give
  every module back its own mode, also when the block raises.
- ``human_count``: 15,470,264,320 -> "15.47 G", for tables of sizes and costs.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

import numpy as np

WEIGHTED_KINDS = ("Conv1d", "Conv2d", "Conv3d", "Linear")
"""Class names of the torch layers that hold weights and count as a network's depth (lessons 04-08)."""

NORM_KINDS = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "GroupNorm", "LayerNorm")
"""Class names of the torch normalisation layers (their scale γ and shift β)."""

PARAMETER_KINDS = ("weight", "bias", "norm.weight", "norm.bias")


def _is_torch_kind(module: Any, kinds: tuple[str, ...]) -> bool:
    """True when ``module`` is (a subclass of) a ``torch.nn`` class named in ``kinds``."""
    return any(cls.__name__ in kinds and cls.__module__.startswith("torch.nn")
               for cls in type(module).__mro__)


def is_weighted(module: Any) -> bool:
    """True for a conv or fully connected layer (any module whose torch class is in ``WEIGHTED_KINDS``)."""
    return _is_torch_kind(module, WEIGHTED_KINDS)


def parameter_count(model_or_params: Any, trainable_only: bool = False) -> int:
    """How many numbers a network learns: the sum of ``p.numel()``. Lessons 02, 04-08.

    Batch-norm running statistics are buffers, not parameters, and never count. A module lists
    a parameter shared by two of its layers once, so it counts once; an iterable counts what it
    holds.

    Args:
        model_or_params: an ``nn.Module``, or an iterable of parameters (e.g. one optimizer
            group's ``"params"``).
        trainable_only: count only what an optimizer would update (``requires_grad``): 0 once
            a network is frozen.

    Returns:
        The number of parameters, an int.
    """
    params: Iterable[Any] = (model_or_params.parameters() if hasattr(model_or_params, "parameters")
                             else model_or_params)
    return sum(p.numel() for p in params if p.requires_grad or not trainable_only)


@contextmanager
def _mode(model: Any, training: bool) -> Iterator[Any]:
    """Switch ``model`` into train/eval mode for a block, then restore each module's own flag."""
    modules = list(model.modules()) if hasattr(model, "modules") else [model]
    flags = [(module, module.training) for module in modules]
    model.train(training)
    try:
        yield model
    finally:
        for module, flag in flags:
            module.training = flag


def evaluating(model: Any) -> Iterator[Any]:
    """Put ``model`` in eval mode for a ``with`` block, then give every module its own flag back. Lessons 02, 04-08.

    ``model.train(flag)`` afterwards would set all children alike and wake a batch norm that
    was frozen on purpose; restoring module by module keeps such choices. The flags come back
    even when the block raises. Works with anything that has ``.training`` and ``.train(mode)``
    (and ``.modules()`` when it has children).

    Example::

        with evaluating(net), torch.no_grad():
            logits = net(x)
    """
    return _mode(model, False)


def training(model: Any) -> Iterator[Any]:
    """Put ``model`` in training mode for a ``with`` block, then restore every module's flag. Lesson 06.

    The counterpart of ``evaluating``, for a measurement that needs training behaviour (batch
    norm on the batch statistics), such as the gradient norms of lesson 06.
    """
    return _mode(model, True)


def weighted_layer_shapes(model: Any, x: Any) -> list[tuple[int, ...]]:
    """Output shape of every conv and fully connected layer, in the order the forward pass uses them. Lessons 04-06.

    Activations, pooling and reshaping may be modules or functions; only the layers that
    hold weights are recorded, and their shapes already show what the others did.

    Args:
        model: any torch network.
        x: an input batch (N, C, H, W).

    Returns:
        One shape tuple per call of a conv or ``nn.Linear`` layer.
    """
    import torch

    shapes: list[tuple[int, ...]] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape)))
             for m in model.modules() if is_weighted(m)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return shapes


def _seeded_values(seed: int, kind: str, shape: tuple[int, ...], index: int) -> np.ndarray:
    """Reproducible float32 values for one parameter, from its kind, shape and rank among its likes."""
    rng = np.random.default_rng([seed, PARAMETER_KINDS.index(kind), index, *shape])
    if kind == "norm.weight":
        values = 1.0 + 0.2 * rng.standard_normal(shape)
    elif kind in ("norm.bias", "bias"):
        values = 0.1 * rng.standard_normal(shape)
    else:
        fan_in = math.prod(shape[1:]) if len(shape) > 1 else 1
        values = rng.standard_normal(shape) / math.sqrt(fan_in)
    return values.astype(np.float32)


def fill_deterministic(model: Any, seed: int = 0) -> Any:
    """Overwrite every parameter with values that depend only on its kind and shape. Lessons 04-08.

    Two networks built the same way, however their code names or nests the layers, end up
    with identical weights: the k-th conv weight of shape (F, C, KH, KW) gets the same
    values in both, and every batch-norm scale γ (shift β) of C channels gets the same C
    numbers. So their outputs can be compared directly, which is how the exercises of
    lessons 04-08 check a learner's network against the reference.

    Args:
        model: the torch network to fill (changed in place).
        seed: selects the values.

    Returns:
        ``model``.
    """
    import torch

    seen: dict[tuple[str, tuple[int, ...]], int] = {}
    with torch.no_grad():
        for module in model.modules():
            for name, param in module.named_parameters(recurse=False):
                if _is_torch_kind(module, NORM_KINDS):
                    kind = f"norm.{name}"
                    index = 0                  # every γ (β) of a width gets the same values
                else:
                    kind = "bias" if name == "bias" else "weight"
                    index = seen.get((kind, tuple(param.shape)), 0)
                    seen[(kind, tuple(param.shape))] = index + 1
                param.copy_(torch.from_numpy(_seeded_values(seed, kind, tuple(param.shape), index)))
    return model


def human_count(count: float) -> str:
    """A large count in words a table can hold: 15,470,264,320 -> "15.47 G", 4,096 -> "4.10 k". Lessons 02, 08."""
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if count >= size:
            return f"{count / size:.2f} {unit}"
    return str(count)
