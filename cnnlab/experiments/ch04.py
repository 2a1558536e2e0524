"""Lesson 04's experiment: how much shift invariance convolution and pooling really buy.

- ``shift_images``: move every image by (dx, dy) pixels, nothing wrapping around.
- ``translation_test``: test accuracy as the test images move by k pixels.

Lesson 04 also compares the classic and the modern LeNet-5 with ``cnnlab.variants.compare_variants``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from cnnlab.train import TensorBatches, evaluate


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
