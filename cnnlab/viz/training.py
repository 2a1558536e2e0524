"""Figures of lessons 04-08: learning curves, confusion matrix, mistakes, learned filters.

Every function draws with matplotlib and returns the ``Figure``. Inputs may be torch
tensors or NumPy arrays. (Feature maps of one layer: ``cnnlab.viz.plot_feature_maps``.)
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .images import MAX_WIDTH

__all__ = ["plot_history", "plot_bias_variance", "confusion_matrix", "plot_confusion_matrix", "show_misclassified", "plot_filters"]


def _numpy(a) -> np.ndarray:
    """A torch tensor (any device) or array-like as a NumPy array."""
    if hasattr(a, "detach"):
        a = a.detach().float().cpu().numpy() if a.is_floating_point() else a.detach().cpu().numpy()
    return np.asarray(a)


def _history_fields(history) -> dict:
    return history.as_dict() if hasattr(history, "as_dict") else dict(history)


def plot_history(history, title: str = "") -> Figure:
    """Loss and accuracy per epoch, training (solid) and validation (dashed). Lesson 04.

    Args:
        history: a ``cnnlab.train.History`` (or its ``as_dict()``), or a mapping
            name -> History to compare runs on the same axes (e.g. plain vs residual).
        title: figure title.
    """
    runs = history if isinstance(history, Mapping) and "epoch" not in history else {"": history}
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(MAX_WIDTH, 3.4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, run) in enumerate(runs.items()):
        h = _history_fields(run)
        colour = colours[i % len(colours)]
        prefix = f"{name} " if name else ""
        for ax, key in ((ax_loss, "loss"), (ax_acc, "acc")):
            ax.plot(h["epoch"], h[f"train_{key}"], "o-", color=colour, label=f"{prefix}train", markersize=3)
            val = np.asarray(h[f"val_{key}"], dtype=float)
            if val.size and not np.isnan(val).all():
                ax.plot(h["epoch"], val, "s--", color=colour, label=f"{prefix}validation", markersize=3)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Counts (K, K): row = true class, column = predicted class. Lesson 04.

    Args:
        y_true: true labels (N,).
        y_pred: predicted labels (N,).
        num_classes: K (default: largest label + 1).
    """
    y_true, y_pred = _numpy(y_true).astype(np.int64).ravel(), _numpy(y_pred).astype(np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"confusion_matrix: {y_true.shape[0]} true labels but {y_pred.shape[0]} predictions")
    k = num_classes or int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def plot_confusion_matrix(y_true, y_pred, class_names: Sequence[str], normalize: bool = True,
                          title: str = "") -> Figure:
    """The confusion matrix as a heat map, each row normalised to the share of its true class. Lesson 04.

    Args:
        y_true: true labels (N,).
        y_pred: predicted labels (N,).
        class_names: K names, indexed by label.
        normalize: show row shares (recall per class) instead of counts.
        title: figure title (default: the overall accuracy).
    """
    counts = confusion_matrix(y_true, y_pred, len(class_names))             # (K, K)
    shown = counts / np.maximum(counts.sum(1, keepdims=True), 1) if normalize else counts
    k = len(class_names)
    fig, ax = plt.subplots(figsize=(0.3 * k + 2.6, 0.3 * k + 1.5))
    im = ax.imshow(shown, cmap="Blues", vmin=0)
    fig.colorbar(im, ax=ax, fraction=0.046)
    threshold = shown.max() / 2
    for i in range(k):
        for j in range(k):
            text = f"{shown[i, j]:.2f}" if normalize else str(shown[i, j])
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if shown[i, j] > threshold else "black")
    ax.set_xticks(range(k), class_names, rotation=45, ha="right", fontsize=9)
    ax.set_yticks(range(k), class_names, fontsize=9)
    ax.set(xlabel="predicted", ylabel="true")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(title or f"confusion matrix (accuracy {accuracy:.3f})")
    fig.tight_layout()
    return fig


def _image_panel(ax, image: np.ndarray) -> None:
    """Show one (C, H, W) or (H, W) image: grey for one channel, RGB (rescaled to [0, 1]) for three."""
    if image.ndim == 3 and image.shape[0] == 1:
        image = image[0]
    if image.ndim == 3:
        image = image.transpose(1, 2, 0)                                     # (H, W, C)
        image = (image - image.min()) / max(float(image.max() - image.min()), 1e-12)
        ax.imshow(image)
    else:
        ax.imshow(image, cmap="gray")
    ax.axis("off")


def show_misclassified(images, y_true, y_pred, class_names: Sequence[str], n: int = 16, probs=None,
                       ncols: int = 8) -> Figure:
    """The first ``n`` images the model got wrong, titled "true → predicted". Lesson 04.

    Args:
        images: (N, C, H, W) or (N, H, W).
        y_true: true labels (N,).
        y_pred: predicted labels (N,).
        class_names: names indexed by label.
        n: how many mistakes to show at most.
        probs: optional class probabilities (N, K): the confidence of the wrong guess is shown too.
        ncols: panels per row.
    """
    images, y_true, y_pred = _numpy(images), _numpy(y_true).ravel(), _numpy(y_pred).ravel()
    if not len(images) == len(y_true) == len(y_pred):
        raise ValueError(f"show_misclassified: {len(images)} images, {len(y_true)} labels, "
                         f"{len(y_pred)} predictions; they must match")
    wrong = np.flatnonzero(y_true != y_pred)[:n]
    ncols = max(1, min(ncols, len(wrong)))
    rows = max(1, math.ceil(len(wrong) / ncols))
    side = min(1.7, MAX_WIDTH / ncols)                                   # inches per panel
    fig, axes = plt.subplots(rows, ncols, figsize=(side * ncols, (side + 0.45) * rows + 0.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        _image_panel(ax, images[i])
        label = f"{class_names[y_true[i]]}\n→ {class_names[y_pred[i]]}"
        if probs is not None:
            label += f" ({_numpy(probs)[i, y_pred[i]]:.0%})"
        ax.set_title(label, fontsize=8, color="firebrick")
    if len(wrong) == 0:
        axes[0, 0].set_title("no mistakes")
    fig.tight_layout()
    return fig


def plot_filters(weight, ncols: int = 8, title: str = "") -> Figure:
    """Learned filters of a conv layer as a grid of small images. Lesson 04.

    Args:
        weight: conv weights (F, C, KH, KW), e.g. ``model[0].weight``. One input channel
            shows each filter in a red-blue map centred on 0 (red positive, blue negative);
            three channels show colour filters, rescaled to [0, 1]; otherwise channel 0 only.
        ncols: filters per row.
        title: figure title.
    """
    w = _numpy(weight)
    if w.ndim != 4:
        raise ValueError(f"plot_filters: weight must be (F, C, KH, KW), got shape {w.shape}")
    filters = w.shape[0]
    ncols = min(ncols, filters)
    rows = math.ceil(filters / ncols)
    side = min(1.2, MAX_WIDTH / ncols)                                   # inches per filter
    fig, axes = plt.subplots(rows, ncols, figsize=(side * ncols, (side + 0.2) * rows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    limit = float(np.abs(w).max()) or 1.0
    for f, ax in zip(range(filters), axes.flat):
        if w.shape[1] == 3:
            _image_panel(ax, w[f])
        else:
            ax.imshow(w[f, 0], cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(str(f), fontsize=8)
    fig.suptitle(title or f"{filters} filters of {w.shape[2]}×{w.shape[3]}")
    fig.tight_layout()
    return fig


def plot_bias_variance(runs, title: str = "") -> Figure:
    """Train (dashed) and test (solid) accuracy against the training-set size, one colour per model. Lesson 04.

    Args:
        runs: ``cnnlab.experiments.ch04.SizeRun`` rows (model, n, train_acc, test_acc).
    """
    fig, ax = plt.subplots(figsize=(7, 4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    models = list(dict.fromkeys(r.model for r in runs))
    for colour, model in zip(colours, models):
        rows = sorted((r for r in runs if r.model == model), key=lambda r: r.n)
        sizes = [r.n for r in rows]
        ax.plot(sizes, [r.train_acc for r in rows], "o--", color=colour, label=f"{model}: train")
        ax.plot(sizes, [r.test_acc for r in rows], "s-", color=colour, label=f"{model}: test")
    sizes = sorted({r.n for r in runs})
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
    ax.minorticks_off()
    ax.set(xlabel="training images", ylabel="accuracy", title=title or "train (dashed) and test (solid) accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=len(models))
    fig.tight_layout()
    return fig
