"""Figures of lesson 08: accuracy against cost, where the weights live, an Inception block drawn.

The first two draw a ``Gallery``, the comparison table of ``cnnlab.experiments.ch08``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

__all__ = ["plot_accuracy_vs_cost", "plot_cost_split", "draw_inception_block"]


def plot_accuracy_vs_cost(gallery) -> Figure:
    """ImageNet top-1 against MACs (left) and against parameters (right), log-scaled. Lesson 08.

    Networks without an ImageNet accuracy (LeNet-5) are left out.
    """
    rows = [r for r in gallery.rows if r.arch.top1 is not None]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, attr, label in ((axes[0], "macs", "multiply-accumulates per image"),
                            (axes[1], "params", "parameters")):
        for k, r in enumerate(sorted(rows, key=lambda r: (r.arch.top1, r.arch.year))):
            x = getattr(r, attr)
            ax.scatter(x, r.arch.top1, s=60)
            # alternate above / below, so that two networks with the same accuracy stay readable
            ax.annotate(f"{r.name} ({r.arch.year})", (x, r.arch.top1), textcoords="offset points",
                        xytext=(7, 5 if k % 2 else -13), fontsize=9)
        ax.set_xscale("log")
        ax.margins(x=0.35, y=0.1)
        ax.set_xlabel(label + " (log scale)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("ImageNet top-1 (%), one centre crop")
    fig.suptitle("Accuracy did not follow compute: the later networks do more with less")
    fig.tight_layout()
    return fig


def plot_cost_split(gallery) -> Figure:
    """For each network, the share of parameters and of MACs in conv vs fully connected layers. Lesson 08."""
    from cnnlab.experiments.ch08 import macs_by_kind, parameters_by_kind

    names = [r.name for r in gallery.rows]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for ax, split, title in ((axes[0], parameters_by_kind, "parameters"), (axes[1], macs_by_kind, "MACs")):
        left = [0.0] * len(names)
        for family, colour in (("conv", "tab:blue"), ("linear", "tab:orange"), ("norm", "tab:green")):
            share = []
            for r in gallery.rows:
                parts = split(r.summary)
                share.append(100 * parts[family] / max(1, sum(parts.values())))
            ax.barh(names, share, left=left, color=colour, label=family)
            left = [a + b for a, b in zip(left, share)]
        ax.set_xlim(0, 100)
        ax.set_xlabel(f"% of {title}")
    axes[0].invert_yaxis()                      # oldest network on top (the axes share y)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="upper right", ncol=3, fontsize=8)
    fig.suptitle("Where the weights live, and where the work is done", x=0.35)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig


def draw_inception_block(c1: int = 64, c3_reduce: int = 96, c3: int = 128, c5_reduce: int = 16,
                         c5: int = 32, pool_proj: int = 32, in_channels: int = 192) -> Figure:
    """A diagram of one Inception block with its channel counts (default: GoogLeNet's block 3a). Lesson 08."""
    fig, ax = plt.subplots(figsize=(9, 4.2))
    ax.set_xlim(0, 4)
    ax.set_ylim(0, 4)
    ax.axis("off")
    box = dict(boxstyle="round,pad=0.35", linewidth=1.2)

    def node(x: float, y: float, text: str, colour: str) -> None:
        ax.text(x, y, text, ha="center", va="center", fontsize=9, bbox={**box, "facecolor": colour})

    def arrow(x0: float, y0: float, x1: float, y1: float) -> None:
        ax.annotate("", (x1, y1 + 0.2), (x0, y0 - 0.2), arrowprops=dict(arrowstyle="->", color="0.3"))

    node(2, 3.7, f"input: {in_channels} channels, H×W", "0.9")
    branches = [
        [(f"1×1 conv, {c1}", "#a6cee3")],
        [(f"1×1 conv, {c3_reduce}", "#fdbf6f"), (f"3×3 conv, {c3}", "#a6cee3")],
        [(f"1×1 conv, {c5_reduce}", "#fdbf6f"), (f"5×5 conv, {c5}", "#a6cee3")],
        [("3×3 max pool", "#cab2d6"), (f"1×1 conv, {pool_proj}", "#fdbf6f")],
    ]
    xs = [0.5, 1.5, 2.5, 3.5]
    for x, layers in zip(xs, branches):
        ys = [2.7, 1.9][: len(layers)] if len(layers) == 2 else [2.3]
        arrow(2, 3.7, x, ys[0])
        for (text, colour), y in zip(layers, ys):
            node(x, y, text, colour)
        if len(ys) == 2:
            arrow(x, ys[0], x, ys[1])
        arrow(x, ys[-1], 2, 0.5)
    out = c1 + c3 + c5 + pool_proj
    node(2, 0.5, f"concatenate along channels: {c1} + {c3} + {c5} + {pool_proj} = {out}, H×W", "0.9")
    ax.text(4.0, 3.95, "orange: 1×1 bottleneck / projection", ha="right", fontsize=8, color="#b15928")
    fig.tight_layout()
    return fig
