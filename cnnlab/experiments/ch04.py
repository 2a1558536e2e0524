"""Lesson 04's experiments: how much shift invariance convolution and pooling really buy, and
bias against variance for a linear model, an MLP and a CNN.

- ``shift_images``: move every image by (dx, dy) pixels, nothing wrapping around.
- ``translation_test``: test accuracy as the test images move by k pixels.
- ``bias_variance``: train and test accuracy of several models on growing training sets.

Lesson 04 also compares the classic and the modern LeNet-5 with ``cnnlab.variants.compare_variants``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from cnnlab.batches import TensorBatches
from cnnlab.common import parameter_count
from cnnlab.train import evaluate, fit, set_seed


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


# --------------------------------------------------------------------------- bias and variance

@dataclass
class SizeRun:
    """One model trained on the first ``n`` training images: its train and test accuracy. Lesson 04."""

    model: str
    n: int
    params: int
    epochs: int
    train_acc: float
    test_acc: float
    seconds: float

    @property
    def gap(self) -> float:
        """Train minus test accuracy: how much of what it learned does not carry over."""
        return self.train_acc - self.test_acc


def epochs_for(n: int, images: int = 200_000, fewest: int = 3, most: int = 60) -> int:
    """Epochs that show the model about ``images`` examples, within [fewest, most]. Lesson 04.

    A small training set gets many passes (enough to fit it if the model can), a large one a few.
    """
    return int(min(max(round(images / n), fewest), most))


def bias_variance(builders: Mapping[str, Callable[[], nn.Module]], train: TensorBatches, test: TensorBatches,
                  sizes: Sequence[int], images: int = 200_000, lr: float = 1e-3, batch_size: int = 64,
                  max_seconds: float | None = None, seed: int = 0) -> list[SizeRun]:
    """Train every model on the first n training images for each n in ``sizes``; record train and test accuracy. Lesson 04.

    The subsets are nested (the 2,000 images include the 500), every run starts from the same
    seed, uses Adam with a one-cycle schedule and sees about ``images`` examples
    (``epochs_for``). Train accuracy is measured afterwards, in eval mode, on the n images it
    trained on.

    Args:
        builders: {name: function returning a fresh network}.
        train: the training images and labels (``train.x``, ``train.y``), in a fixed random order.
        test: test batches.
        sizes: training-set sizes, each at most len(train.x).
        images: examples each run sees (see ``epochs_for``).
        lr, batch_size: Adam's learning rate and the mini-batch size.
        max_seconds: time cap per run.
        seed: seed of every run.

    Returns:
        One ``SizeRun`` per (model, size), models in the order given, sizes ascending.
    """
    if max(sizes) > len(train.x):
        raise ValueError(f"bias_variance: the largest size {max(sizes):,} exceeds the {len(train.x):,} training images")
    runs = []
    for name, build in builders.items():
        for n in sorted(sizes):
            set_seed(seed)
            model = build()
            subset = TensorBatches(train.x[:n], train.y[:n], batch_size, shuffle=True)
            epochs = epochs_for(n, images)
            start = time.perf_counter()
            fit(model, subset, epochs=epochs, lr=lr, scheduler="onecycle", max_seconds=max_seconds, progress=False)
            seconds = time.perf_counter() - start
            train_acc = evaluate(model, TensorBatches(train.x[:n], train.y[:n], 1000))[1]
            runs.append(SizeRun(name, n, parameter_count(model), epochs, train_acc, evaluate(model, test)[1], seconds))
    return runs


def bias_variance_table(runs: Sequence[SizeRun]) -> str:
    """The runs as a text table: model, size, parameters, train and test accuracy, gap, seconds. Lesson 04."""
    width = max(len("model"), *(len(r.model) for r in runs))
    lines = [f"{'model':<{width}} {'images':>7} {'params':>7} {'epochs':>6} {'train':>6} {'test':>6} {'gap':>6} "
             f"{'seconds':>7}"]
    for r in runs:
        lines.append(f"{r.model:<{width}} {r.n:>7,} {r.params:>7,} {r.epochs:>6} {r.train_acc:>6.3f} "
                     f"{r.test_acc:>6.3f} {r.gap:>6.3f} {r.seconds:>7.1f}")
    return "\n".join(lines)
