"""Experiments of lessons 04-06: small, reusable measurements on trained or fresh networks.

- ``shift_images`` / ``translation_test``: how accuracy falls as test images move by k
  pixels (lesson 04: how much shift invariance convolution and pooling really buy).
- ``weighted_layer_shapes`` / ``fill_deterministic``: look at a network as its layers with
  weights, and give two networks of the same layout the same weights, so that their outputs
  can be compared number by number (lessons 04-06 and their exercises).
- ``gradient_norms``: the size of the loss gradient at each layer (lesson 06: through
  shortcuts every layer gets a gradient of similar size; in a deep plain network it is
  scaled up or down by a factor that grows with depth).
- ``compare_variants``: train a few variants of a network on the same data with the same
  budget and return one table row each (lessons 04-06: classic vs modern LeNet, VGG with
  and without batch norm, dropout or augmentation, plain vs residual).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cnnlab.train import History, TensorBatches, evaluate, fit, set_seed

WEIGHTED = (nn.Conv2d, nn.Linear)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)


# --------------------------------------------------------------------------- translation


def shift_images(x: torch.Tensor, dx: int = 0, dy: int = 0, fill: float | None = None) -> torch.Tensor:
    """Move every image ``dx`` pixels right and ``dy`` pixels down; what enters is ``fill``. Lesson 04.

    Unlike ``torch.roll`` nothing wraps around: the pixels pushed off one edge are lost and
    the uncovered strip takes the background value.

    Args:
        x: images (N, C, H, W).
        dx: pixels to the right (negative: to the left).
        dy: pixels down (negative: up).
        fill: value of the uncovered pixels; ``None`` takes the smallest value of ``x``,
            the black background of a normalised Fashion-MNIST batch.

    Returns:
        The shifted images (N, C, H, W), a new tensor.
    """
    if x.ndim != 4:
        raise ValueError(f"shift_images: expected images (N, C, H, W), got shape {tuple(x.shape)}")
    _, _, height, width = x.shape
    value = float(x.min()) if fill is None else float(fill)
    out = torch.full_like(x, value)
    if abs(dx) >= width or abs(dy) >= height:
        return out                                            # shifted out of the frame
    src_rows = slice(max(-dy, 0), height - max(dy, 0))
    dst_rows = slice(max(dy, 0), height - max(-dy, 0))
    src_cols = slice(max(-dx, 0), width - max(dx, 0))
    dst_cols = slice(max(dx, 0), width - max(-dx, 0))
    out[:, :, dst_rows, dst_cols] = x[:, :, src_rows, src_cols]   # (N, C, H, W)
    return out


def translation_test(model: nn.Module, x: torch.Tensor, y: torch.Tensor, shifts: Sequence[int] = range(-6, 7),
                     direction: str = "horizontal") -> np.ndarray:
    """Test accuracy after moving every test image by each shift in ``shifts``. Lesson 04.

    Args:
        model: a trained classifier.
        x: test images (N, C, H, W); y: their labels (N,).
        shifts: pixel offsets to try (0 is the unshifted test set).
        direction: "horizontal" (dx = k), "vertical" (dy = k) or "diagonal" (dx = dy = k).

    Returns:
        Accuracies, one per shift, as a float array of len(shifts).
    """
    moves = {"horizontal": (1, 0), "vertical": (0, 1), "diagonal": (1, 1)}
    if direction not in moves:
        raise ValueError(f"translation_test: direction must be one of {sorted(moves)}, got {direction!r}")
    ax, ay = moves[direction]
    fill = float(x.min())                                    # the same background for every shift
    return np.array([evaluate(model, TensorBatches(shift_images(x, ax * k, ay * k, fill), y, 1000))[1]
                     for k in shifts])


# --------------------------------------------------------------------------- looking inside


def weighted_layer_shapes(model: nn.Module, x: torch.Tensor) -> list[tuple[int, ...]]:
    """Output shape of every conv and fully connected layer, in the order the forward pass uses them. Lessons 04-06.

    Activations, pooling and reshaping may be modules or functions; only the layers that
    hold weights are recorded, and their shapes already show what the others did.

    Args:
        model: any network.
        x: an input batch (N, C, H, W).

    Returns:
        One shape tuple per call of an ``nn.Conv2d`` or ``nn.Linear``.
    """
    shapes: list[tuple[int, ...]] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape)))
             for m in model.modules() if isinstance(m, WEIGHTED)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return shapes


PARAMETER_KINDS = ("weight", "bias", "norm.weight", "norm.bias")


def _seeded_values(seed: int, kind: str, shape: tuple[int, ...], index: int) -> torch.Tensor:
    """Reproducible values for one parameter, from its kind, shape and rank among its likes."""
    rng = np.random.default_rng([seed, PARAMETER_KINDS.index(kind), index, *shape])
    if kind == "norm.weight":
        return torch.from_numpy(1.0 + 0.2 * rng.standard_normal(shape)).float()
    if kind in ("norm.bias", "bias"):
        return torch.from_numpy(0.1 * rng.standard_normal(shape)).float()
    fan_in = math.prod(shape[1:]) if len(shape) > 1 else 1
    return torch.from_numpy(rng.standard_normal(shape) / math.sqrt(fan_in)).float()


@torch.no_grad()
def fill_deterministic(model: nn.Module, seed: int = 0) -> nn.Module:
    """Overwrite every parameter with values that depend only on its kind and shape. Lessons 04-06.

    Two networks built the same way, however their code names or nests the layers, end up
    with identical weights: the k-th conv weight of shape (F, C, KH, KW) gets the same
    values in both, and every batch-norm scale γ (shift β) of C channels gets the same C
    numbers. So their outputs can be compared directly, which is how the exercises of
    lessons 04-06 check a learner's network against the reference.

    Args:
        model: the network to fill (changed in place).
        seed: selects the values.

    Returns:
        ``model``.
    """
    seen: dict[tuple[str, tuple[int, ...]], int] = {}
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if isinstance(module, NORMS):
                kind = f"norm.{name}"
                index = 0                  # every γ (β) of a width gets the same values
            else:
                kind = "bias" if name == "bias" else "weight"
                index = seen.get((kind, tuple(param.shape)), 0)
                seen[(kind, tuple(param.shape))] = index + 1
            param.copy_(_seeded_values(seed, kind, tuple(param.shape), index))
    return model


def parameter_count(model: nn.Module) -> int:
    """Number of trainable numbers in ``model`` (batch-norm running statistics are not counted). Lessons 04-06."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --------------------------------------------------------------------------- gradients


def gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """L2 norm of the cross-entropy gradient of each conv / fully connected weight, input to output. Lesson 06.

    One forward and backward pass on the batch, with the model in training mode (batch
    norm uses the batch statistics, as it does while learning). The model's gradients are
    cleared afterwards.

    Args:
        model: a classifier.
        x: a batch of images (N, C, H, W); y: labels (N,).

    Returns:
        {layer name: gradient norm}, in the order the layers were defined.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.train()
    model.zero_grad()
    loss = F.cross_entropy(model(x.to(device)), y.to(device))
    loss.backward()
    norms = {name: float(module.weight.grad.norm()) for name, module in model.named_modules()
             if isinstance(module, WEIGHTED) and module.weight.grad is not None}
    model.zero_grad()
    model.train(was_training)
    return norms


# --------------------------------------------------------------------------- comparing variants

Builder = Callable[[], nn.Module]


@dataclass
class Run:
    """One trained variant: the network, its history and its test score. Lessons 04-06."""

    name: str
    model: nn.Module
    history: History
    params: int
    test_loss: float = math.nan
    test_acc: float = math.nan

    def row(self) -> dict[str, float | str]:
        """The table row: name, parameters, epochs, seconds, last train/val accuracy, test accuracy."""
        h = self.history
        last = (lambda values: values[-1] if values else math.nan)
        return {"variant": self.name, "params": self.params, "epochs": last(h.epoch), "seconds": last(h.seconds),
                "train_loss": last(h.train_loss), "train_acc": last(h.train_acc), "val_acc": last(h.val_acc),
                "test_acc": self.test_acc}


@dataclass
class Comparison:
    """The runs of ``compare_variants`` by name; prints as a table. Lessons 04-06."""

    runs: dict[str, Run] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Run:
        return self.runs[name]

    def rows(self) -> list[dict[str, float | str]]:
        return [run.row() for run in self.runs.values()]

    def histories(self) -> dict[str, History]:
        return {name: run.history for name, run in self.runs.items()}

    def table(self) -> str:
        """A fixed-width text table, one row per variant; the val/test columns only when measured."""
        rows = self.rows()
        columns = [("params", 10, ","), ("epochs", 6, ".2f"), ("seconds", 7, ".1f"), ("train_loss", 10, ".4f"),
                   ("train_acc", 9, ".4f"), ("val_acc", 7, ".4f"), ("test_acc", 8, ".4f")]
        columns = [(key, w, spec) for key, w, spec in columns
                   if key not in ("val_acc", "test_acc") or any(not math.isnan(r[key]) for r in rows)]
        width = max([len("variant"), *(len(name) for name in self.runs)])
        lines = [" ".join([f"{'variant':<{width}}"] + [f"{key.replace('_', ' '):>{w}}" for key, w, _ in columns])]
        for r in rows:
            lines.append(" ".join([f"{r['variant']:<{width}}"] + [f"{r[key]:>{w}{spec}}" for key, w, spec in columns]))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.table()


def compare_variants(variants: Mapping[str, Builder | tuple[Builder, dict]], train, val=None, test=None,
                     seed: int = 0, **fit_options) -> Comparison:
    """Train each variant with the same data, seed and budget; return the runs as a table. Lessons 04-06.

    Args:
        variants: {name: builder} or {name: (builder, fit options of this variant only)}, where a
            builder is a function of no arguments that returns a fresh network, e.g.
            ``{"classic": lambda: lenet5(variant="classic"), "sgd": (lenet5, {"optimizer": "sgd", "lr": 0.01})}``.
        train: training batches; val, test: optional validation and test batches.
        seed: every variant starts from this seed (same data order; same initial weights when
            two variants share a layout).
        **fit_options: options of ``cnnlab.train.fit`` shared by every variant (epochs, lr,
            max_seconds, augment, ...).

    Returns:
        A ``Comparison``: ``.table()`` (also its printed form), ``.rows()``, ``.histories()``,
        and each ``Run`` (model, history, test accuracy) by name.
    """
    if not variants:
        raise ValueError("compare_variants: give at least one variant")
    comparison = Comparison()
    for name, spec in variants.items():
        builder, options = spec if isinstance(spec, tuple) else (spec, {})
        set_seed(seed)
        model = builder()
        history = fit(model, train, val, **{"desc": name, **fit_options, **options})   # the bar names the variant
        run = Run(name, model, history, parameter_count(model))
        if test is not None:
            run.test_loss, run.test_acc = evaluate(model, test)
        comparison.runs[name] = run
    return comparison
