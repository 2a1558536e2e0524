"""Scoring a semantic segmentation: the pixel confusion matrix, IoU per class and mean IoU (lesson 09).

A segmentation gives every pixel a class. Pixel accuracy hides a lot when one class (the
background) covers most of the image: predicting "background" everywhere already scores
high. The intersection over union of each class does not: of the pixels that are class c in
the truth *or* in the prediction, the share that are c in both. Its mean over the classes
(mIoU, background included, as in PASCAL VOC) is the usual single number.

All counts are taken over the whole data set at once (the pixels of every image pooled), not
per image and then averaged: a class that appears in few images is then weighted by its
pixels, and an image without a class does not contribute a meaningless 0/0.
"""

from __future__ import annotations

import numpy as np


def _labels(name: str, a, func: str) -> np.ndarray:
    a = np.asarray(a.detach().cpu().numpy() if hasattr(a, "detach") else a)
    if a.dtype.kind not in "iub":
        raise ValueError(f"{func}: {name} must hold integer class labels, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


def pixel_confusion(pred, target, num_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class) over every pixel. Lesson 09.

    Args:
        pred: predicted classes, any shape, e.g. (N, H, W); a NumPy array or torch tensor.
        target: true classes, the same shape.
        num_classes: K; labels must lie in [0, K).

    Returns:
        (K, K) int64: row = true class, column = predicted class.
    """
    func = "pixel_confusion"
    pred, target = _labels("pred", pred, func), _labels("target", target, func)
    if pred.shape != target.shape:
        raise ValueError(f"{func}: pred has shape {pred.shape} but target has {target.shape}")
    for name, a in (("pred", pred), ("target", target)):
        if a.size and (a.min() < 0 or a.max() >= num_classes):
            raise ValueError(f"{func}: {name} holds labels {a.min()}..{a.max()}, outside [0, {num_classes})")
    pairs = target.ravel() * num_classes + pred.ravel()                  # one bin per (true, predicted)
    return np.bincount(pairs, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def iou_per_class(pred, target, num_classes: int) -> np.ndarray:
    """Intersection over union of each class, over all pixels together. Lesson 09.

    IoU_c = |pred = c and target = c| / |pred = c or target = c|, read off the confusion
    matrix: the diagonal over (row sum + column sum − diagonal).

    Args:
        pred, target: predicted and true classes, the same shape (N, H, W).
        num_classes: K.

    Returns:
        (K,) float64; NaN for a class that is in neither (its IoU is undefined).
    """
    confusion = pixel_confusion(pred, target, num_classes).astype(np.float64)
    hits = np.diag(confusion)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - hits
    return np.divide(hits, union, out=np.full(num_classes, np.nan), where=union > 0)


def mean_iou(pred, target, num_classes: int) -> float:
    """The mean of ``iou_per_class`` over the classes present in the prediction or the truth. Lesson 09."""
    iou = iou_per_class(pred, target, num_classes)
    return float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")


def pixel_accuracy(pred, target) -> float:
    """The share of pixels whose class is right. Lesson 09."""
    pred, target = _labels("pred", pred, "pixel_accuracy"), _labels("target", target, "pixel_accuracy")
    if pred.shape != target.shape:
        raise ValueError(f"pixel_accuracy: pred has shape {pred.shape} but target has {target.shape}")
    return float((pred == target).mean())
