"""Figures of lesson 09 on images: scenes with masks and boxes, segmentations, detections,
precision–recall curves, the stamps of a transposed convolution, the position experiment.

Every figure is at most 9.3 inches wide (930 px at 100 dpi, JupyterLab's output area in a
1366×768 window), so it is shown at its own size and its 8-point labels stay 11 px tall; and
short enough to share a 1280×720 slide with a line of code.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from .training import _numpy

__all__ = ["MASK_COLOURS", "show_scenes", "show_segmentation", "plot_class_iou", "show_anchors", "show_detections",
           "plot_precision_recall", "plot_stamp_counts", "show_position_pairs"]

MASK_COLOURS = ListedColormap(["black"] + list(plt.get_cmap("tab10").colors))
"""Background black, then one tab10 colour per Fashion-MNIST class (mask value 1 + class)."""


def _box(ax, box, colour, text: str = "", linestyle: str = "-") -> None:
    x1, y1, x2, y2 = box
    # a box covers pixels x1 … x2 − 1, whose centres are at x1 … x2 − 1 in imshow's coordinates
    ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, edgecolor=colour, linewidth=1.5,
                           linestyle=linestyle))
    if text:
        ax.text(x1 - 0.5, y1 - 1.5, text, color="white", fontsize=7, va="bottom",
                bbox=dict(facecolor=colour, edgecolor="none", pad=1, alpha=0.85))


def _mask_legend(fig: Figure, class_names: Sequence[str], right: bool = False) -> None:
    """The mask colours, in rows of six under the figure, or in one column at its ``right``."""
    handles = [Patch(color=MASK_COLOURS(i), label=name) for i, name in enumerate(class_names)]
    fig.legend(handles=handles, loc="center right" if right else "lower center",
               ncol=1 if right else min(6, len(handles)), fontsize=8, frameon=False)


def show_scenes(scenes, class_names: Sequence[str], n: int = 4) -> Figure:
    """Scenes (top row, with their boxes and classes) and their masks (bottom row). Lesson 09.

    Args:
        scenes: ``cnnlab.data.Scenes``.
        class_names: the ten Fashion-MNIST class names (a mask shows 1 + class).
        n: scenes to show.
    """
    fig, axes = plt.subplots(2, n, figsize=(1.8 * n, 4.3), squeeze=False)
    for i in range(n):
        axes[0, i].imshow(scenes.images[i], cmap="gray", vmin=0, vmax=255)
        for box, label in zip(scenes.boxes[i], scenes.labels[i]):
            _box(axes[0, i], box, MASK_COLOURS(1 + int(label)), class_names[int(label)])
        axes[1, i].imshow(scenes.masks[i], cmap=MASK_COLOURS, vmin=0, vmax=10, interpolation="nearest")
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].set_title("scene, boxes", fontsize=9, loc="left")
    axes[1, 0].set_title("mask", fontsize=9, loc="left")
    _mask_legend(fig, ("background", *class_names))
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def show_segmentation(images, truth, predicted, class_names: Sequence[str], n: int = 4) -> Figure:
    """Image, true mask and predicted mask, one column per scene. Lesson 09.

    Args:
        images: (N, S, S) or (N, 1, S, S); truth, predicted: (N, S, S) class maps.
        class_names: every mask class, background first.
    """
    images = _numpy(images)
    images = images[:, 0] if images.ndim == 4 else images
    truth, predicted = _numpy(truth), _numpy(predicted)
    fig, axes = plt.subplots(3, n, figsize=(1.35 * n + 1.6, 4.2), squeeze=False)
    for i in range(n):
        axes[0, i].imshow(images[i], cmap="gray")
        axes[1, i].imshow(truth[i], cmap=MASK_COLOURS, vmin=0, vmax=10, interpolation="nearest")
        axes[2, i].imshow(predicted[i], cmap=MASK_COLOURS, vmin=0, vmax=10, interpolation="nearest")
        wrong = (predicted[i] != truth[i]).mean()
        axes[2, i].text(0.5, -0.04, f"{wrong:.1%} of pixels wrong", transform=axes[2, i].transAxes, ha="center",
                        va="top", fontsize=8)
    for row, label in enumerate(["scene", "true mask", "predicted"]):
        axes[row, 0].text(-0.08, 0.5, label, transform=axes[row, 0].transAxes, rotation=90, va="center",
                          ha="right", fontsize=9)
    for ax in axes.ravel():
        ax.axis("off")
    _mask_legend(fig, class_names, right=True)
    fig.tight_layout(rect=(0.02, 0, 1 - 1.4 / fig.get_figwidth(), 1), h_pad=1.2, w_pad=1.2)
    return fig


def plot_class_iou(iou, class_names: Sequence[str], title: str = "") -> Figure:
    """IoU of every class as bars, with the mean as a line. Lesson 09."""
    iou = np.asarray(iou, dtype=float)
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.bar(range(len(iou)), iou, color=[MASK_COLOURS(i) for i in range(len(iou))], edgecolor="grey")
    ax.axhline(np.nanmean(iou), color="black", linestyle="--", label=f"mean IoU {np.nanmean(iou):.3f}")
    ax.set_xticks(range(len(iou)), class_names, rotation=30, ha="right", fontsize=8)
    ax.set(ylim=(0, 1), ylabel="IoU", title=title)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def show_anchors(image, anchors, per_cell: int, cells: Sequence[int], true_boxes=(), matched=()) -> Figure:
    """The anchors of a few grid cells over an image; anchors matched to an object drawn thicker. Lesson 09.

    Args:
        image: (S, S).
        anchors: (P, 4) in the order of ``cnnlab.boxes.make_anchors``.
        per_cell: anchors per cell.
        cells: which cells (row-major index) to draw.
        true_boxes: objects, drawn dashed white.
        matched: indices of anchors to draw thicker (e.g. the positives of ``match_anchors``).
    """
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.imshow(_numpy(image), cmap="gray")
    colours = plt.get_cmap("tab10").colors
    matched = set(int(i) for i in matched)
    for n, cell in enumerate(cells):
        for k in range(cell * per_cell, (cell + 1) * per_cell):
            x1, y1, x2, y2 = anchors[k]
            ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, edgecolor=colours[n % 10],
                                   linewidth=2.5 if k in matched else 0.8, alpha=1.0 if k in matched else 0.7))
    for box in true_boxes:
        _box(ax, box, "white", linestyle="--")
    size = _numpy(image).shape[-1]
    ax.set_xlim(-0.5, size - 0.5)
    ax.set_ylim(size - 0.5, -0.5)
    ax.axis("off")
    ax.set_title(f"{per_cell} anchors in each of {len(cells)} cells", fontsize=9)
    fig.tight_layout()
    return fig


def show_detections(images, detections, true_boxes, true_labels, class_names: Sequence[str], n: int = 4,
                    min_score: float = 0.5) -> Figure:
    """Detected boxes (solid, with class and score) over the true boxes (dashed white). Lesson 09.

    Args:
        images: (N, S, S) or (N, 1, S, S).
        detections: per image, (boxes, scores, labels) as ``cnnlab.models.detection.detect`` returns them.
        true_boxes, true_labels: per image, the objects.
        class_names: the object class names.
        min_score: detections below this score are not drawn.
    """
    images = _numpy(images)
    images = images[:, 0] if images.ndim == 4 else images
    fig, axes = plt.subplots(1, n, figsize=(1.85 * n, 2.2), squeeze=False)
    for i, ax in enumerate(axes[0]):
        ax.imshow(images[i], cmap="gray")
        for box in true_boxes[i]:
            _box(ax, box, "white", linestyle="--")
        boxes, scores, labels = detections[i]
        for box, score, label in zip(boxes, scores, labels):
            if score >= min_score:
                _box(ax, box, MASK_COLOURS(1 + int(label)), f"{class_names[int(label)]} {score:.2f}")
        ax.set_xlim(-0.5, images.shape[-1] - 0.5)
        ax.set_ylim(images.shape[-2] - 0.5, -0.5)
        ax.axis("off")
    fig.suptitle(f"detections with score ≥ {min_score} (true boxes dashed)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_precision_recall(curves: Mapping[int, object], ap: Mapping[int, float], class_names: Sequence[str],
                          title: str = "") -> Figure:
    """Precision against recall for every class, AP in the legend. Lesson 09.

    Args:
        curves: class -> ``cnnlab.boxes.PrecisionRecall``.
        ap: class -> average precision.
    """
    fig, ax = plt.subplots(figsize=(6.2, 4.2))
    for c, curve in curves.items():
        recall = np.concatenate([[0.0], curve.recall])
        precision = np.concatenate([[1.0], curve.precision])
        ax.plot(recall, precision, color=MASK_COLOURS(1 + c), label=f"{class_names[c]} (AP {ap[c]:.2f})")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.01), ylim=(0, 1.02), title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def plot_stamp_counts(counts: Mapping[str, np.ndarray]) -> Figure:
    """Stamps per output pixel of a few upsampling layers, side by side. Lesson 09.

    Args:
        counts: title -> (OH, OW) counts (``cnnlab.experiments.ch09.stamp_counts``).
    """
    fig, axes = plt.subplots(1, len(counts), figsize=(3.05 * len(counts), 3.0), squeeze=False)
    for ax, (title, c) in zip(axes[0], counts.items()):
        image = ax.imshow(c, cmap="viridis", vmin=0)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def show_position_pairs(x, n: int = 4) -> Figure:
    """The first ``n`` pairs of ``position_task``: the same patch at place 0 (top) and place 1 (bottom). Lesson 09."""
    x = _numpy(x)
    fig, axes = plt.subplots(2, n, figsize=(1.5 * n, 3.2), squeeze=False)
    for i in range(n):
        for place in (0, 1):
            axes[place, i].imshow(x[2 * i + place, 0], cmap="gray", vmin=0, vmax=1)
            axes[place, i].set_xticks([])
            axes[place, i].set_yticks([])
        axes[0, i].set_title(f"pair {i + 1}", fontsize=8)
    axes[0, 0].set_ylabel("class 0", fontsize=9)
    axes[1, 0].set_ylabel("class 1", fontsize=9)
    fig.tight_layout()
    return fig
