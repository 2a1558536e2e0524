"""Figures of lesson 07's experiment (``cnnlab.experiments.ch07``): learning curves and example patches."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .training import _numpy

__all__ = ["plot_learning_curves", "plot_patches"]


def plot_learning_curves(results: dict[str, dict[int, list[float]]], title: str = "", ax=None) -> Figure:
    """Accuracy against labels per class, mean ± std over seeds, one line per method. Lesson 07."""
    from cnnlab.experiments.ch07 import LABELS, summarize

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.8))
    for method, by_n in summarize(results).items():
        ns = sorted(by_n)
        means = [100 * by_n[n][0] for n in ns]
        stds = [100 * by_n[n][1] for n in ns]
        ax.errorbar(ns, means, yerr=stds, marker="o", capsize=4, label=LABELS.get(method, method))
    ax.set(xscale="log", xlabel="labelled examples per class", ylabel="test accuracy (%)", title=title)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.minorticks_off()
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax.figure


def plot_patches(x, y, class_names: Sequence[str], per_class: int = 4) -> Figure:
    """A few examples of every class, one column per class. Lesson 07.

    Args:
        x: grey images (N, 1, H, W).
        y: labels (N,).
        class_names: name of each label.
        per_class: rows of the grid.
    """
    fig, axes = plt.subplots(per_class, len(class_names), figsize=(1.4 * len(class_names), 1.4 * per_class + 0.3),
                             squeeze=False)
    for c, name in enumerate(class_names):
        members = np.flatnonzero(_numpy(y) == c)[:per_class]
        for row, i in enumerate(members):
            axes[row, c].imshow(_numpy(x[i, 0]), cmap="gray")
        axes[0, c].set_title(name, fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig
