"""Lesson 08's experiment: six landmark CNNs on one table of size, cost, depth, year and accuracy.

``ARCHITECTURES`` holds the facts that cannot be measured here: the year, the native input
size and the ImageNet top-1 accuracy others have reported. ``compare`` adds what can be
measured, by building each network and running ``cnnlab.shapes.summary`` on one image of
its native size: parameters, multiply-accumulates (MACs) and depth.

Two accuracy figures are kept apart, because they are not measured the same way:

- ``top1``: one 224×224 centre crop of each ImageNet validation image, the protocol that
  makes networks comparable. For AlexNet, VGG-16, GoogLeNet and ResNet-18 these are the
  torchvision reference evaluations; for EfficientNet-Lite0 the TensorFlow reference release.
- ``paper``: what the original paper reported, usually with more crops or scales at test
  time (and therefore higher).

Depth here is the number of layers with weights (convolutions and fully connected layers)
the forward pass runs. Papers count along the longest path instead: GoogLeNet is "22 layers
deep" although it holds 58 such layers side by side, and ResNet-18 does not count its three
1×1 projection shortcuts.

The figures of the table are ``cnnlab.viz.architectures``'s.
"""

from __future__ import annotations

import html
import importlib
from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from cnnlab.common import WEIGHTED_KINDS, human_count
from cnnlab.shapes import Summary, summary


@dataclass(frozen=True)
class Architecture:
    """One landmark network: the facts about it, and how to build it. Lesson 08.

    Attributes:
        name: the usual name, e.g. "ResNet-18".
        year: year of the paper (or of the release, for EfficientNet-Lite).
        builder: dotted path of the function in ``cnnlab.models`` that builds it.
        input_size: native input (C, H, W) of one image.
        top1: reported ImageNet top-1 accuracy in %, single 224×224 centre crop (None: not
            an ImageNet model).
        top1_source: who measured ``top1``.
        paper: the headline result of the original paper and how it was measured.
        key_idea: what the network added, in a few words.
    """

    name: str
    year: int
    builder: str
    input_size: tuple[int, int, int]
    top1: float | None
    top1_source: str
    paper: str
    key_idea: str

    def build(self) -> nn.Module:
        """A fresh network with the standard number of classes (randomly initialised)."""
        module, _, function = self.builder.rpartition(".")
        return getattr(importlib.import_module(module), function)()


TORCHVISION = "torchvision reference weights, 224×224 centre crop"

ARCHITECTURES: tuple[Architecture, ...] = (
    Architecture(
        "LeNet-5", 1998, "cnnlab.models.lenet.lenet5", (1, 28, 28), None, "not an ImageNet model",
        "0.95% test error on MNIST digits (0.8% with distorted training images)",
        "conv-pool-conv-pool-FC: convolutions learned by backprop"),
    Architecture(
        "AlexNet", 2012, "cnnlab.models.gallery.alexnet", (3, 224, 224), 56.5, TORCHVISION,
        "59.3% top-1 on ILSVRC-2012 val, one CNN averaging 10 crops (62.5% on ILSVRC-2010 test)",
        "ReLU, dropout and GPUs at ImageNet scale"),
    Architecture(
        "VGG-16", 2014, "cnnlab.models.vgg.vgg16", (3, 224, 224), 71.6, TORCHVISION,
        "74.4% top-1 on ILSVRC-2012 val, one net, dense evaluation at one scale (Q=384)",
        "only 3×3 convs, stacked deep"),
    Architecture(
        "GoogLeNet", 2014, "cnnlab.models.gallery.googlenet", (3, 224, 224), 69.8,
        TORCHVISION + " (batch-normalised version)",
        "top-5 only: 89.9% for one model and one crop; 93.3% for 7 models × 144 crops (ILSVRC-2014 winner)",
        "parallel 1×1/3×3/5×5/pool branches with 1×1 bottlenecks"),
    Architecture(
        "ResNet-18", 2015, "cnnlab.models.resnet.resnet18", (3, 224, 224), 69.8, TORCHVISION,
        "72.1% top-1 on ILSVRC-2012 val with 10 crops (ResNet-50: 77.2%; 76.1% with one crop)",
        "residual shortcuts: learn F(x) = H(x) − x"),
    Architecture(
        "EfficientNet-Lite0", 2019, "cnnlab.models.efficientnet.efficientnet_lite0", (3, 224, 224), 75.1,
        "TensorFlow reference release of EfficientNet-Lite (2020), 224×224 centre crop",
        "EfficientNet-B0: 77.1% top-1, one 224×224 crop (Lite0 drops squeeze-excitation and swish)",
        "depthwise separable MBConv blocks, compound scaling"),
)


def get(name: str) -> Architecture:
    """The entry of ``ARCHITECTURES`` called ``name`` (case-insensitive). Lesson 08."""
    for arch in ARCHITECTURES:
        if arch.name.lower() == name.lower():
            return arch
    raise KeyError(f"no architecture {name!r}; the gallery has {', '.join(a.name for a in ARCHITECTURES)}")


# --------------------------------------------------------------------------- measuring

def depth(s: Summary) -> int:
    """Layers with weights (conv + fully connected) in a summary; a layer called twice counts once. Lesson 08."""
    return sum(row.kind in WEIGHTED_KINDS and not row.repeated for row in s.rows)


def parameters_by_kind(s: Summary) -> dict[str, int]:
    """Parameters of a summary split into "conv", "linear" and "norm" (anything else: "other"). Lesson 08."""
    split = {"conv": 0, "linear": 0, "norm": 0, "other": 0}
    for row in s.rows:
        split[_family(row.kind)] += row.params
    return split


def macs_by_kind(s: Summary) -> dict[str, int]:
    """Multiply-accumulates of a summary split like ``parameters_by_kind``. Lesson 08."""
    split = {"conv": 0, "linear": 0, "norm": 0, "other": 0}
    for row in s.rows:
        split[_family(row.kind)] += row.macs or 0
    return split


def _family(kind: str) -> str:
    if kind.startswith("Conv"):
        return "conv"
    if kind == "Linear":
        return "linear"
    if "Norm" in kind:
        return "norm"
    return "other"


@dataclass(frozen=True)
class GalleryRow:
    """One measured row of the comparison table. Lesson 08."""

    arch: Architecture
    params: int
    macs: int
    depth: int
    summary: Summary = field(repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.arch.name


@dataclass
class Gallery:
    """The comparison table of ``compare``: one ``GalleryRow`` per architecture. Lesson 08.

    Prints as a text table and renders as HTML in a notebook.
    """

    rows: list[GalleryRow]

    def __getitem__(self, name: str) -> GalleryRow:
        for row in self.rows:
            if row.name.lower() == name.lower():
                return row
        raise KeyError(f"no row {name!r} in this gallery")

    def _cells(self) -> tuple[list[str], list[list[str]]]:
        header = ["Architecture", "Year", "Input", "Params", "MACs", "Depth", "Top-1 (%)"]
        body = [[r.name, str(r.arch.year), "×".join(map(str, r.arch.input_size)), f"{r.params:,}",
                 human_count(r.macs), str(r.depth), "n/a" if r.arch.top1 is None else f"{r.arch.top1:.1f}"]
                for r in self.rows]
        return header, body

    def table(self) -> str:
        """An aligned text table."""
        header, body = self._cells()
        widths = [max(len(line[c]) for line in [header, *body]) for c in range(len(header))]
        lines = ["  ".join(c.ljust(w) if k < 3 else c.rjust(w) for k, (c, w) in enumerate(zip(line, widths)))
                 for line in [header, *body]]
        lines.insert(1, "-" * len(lines[0]))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        header, body = self._cells()

        def tr(cells: list[str], tag: str) -> str:
            return "<tr>" + "".join(f'<{tag} style="text-align:{"left" if k < 3 else "right"}">'
                                    f"{html.escape(c)}</{tag}>" for k, c in enumerate(cells)) + "</tr>"

        rows = "".join(tr(cells, "td") for cells in body)
        return f"<table><thead>{tr(header, 'th')}</thead><tbody>{rows}</tbody></table>"


def measure(arch: Architecture) -> GalleryRow:
    """Build ``arch`` and summarise it on one image of its native size. Lesson 08.

    The network is built on PyTorch's "meta" device: its tensors have shapes but no memory
    and no values, and a forward pass there only works out shapes. That is all ``summary``
    needs to count parameters and MACs, so measuring VGG-16 (138 M parameters, 15 G MACs)
    takes a fraction of a second and no memory.

    Returns:
        Its ``GalleryRow``: parameters, MACs per image, depth, and the full ``Summary``.
    """
    with torch.device("meta"):
        net = arch.build()
    s = summary(net, arch.input_size)
    return GalleryRow(arch, s.total_params, s.total_macs, depth(s), s)


def compare(architectures: Sequence[Architecture] = ARCHITECTURES) -> Gallery:
    """The comparison table of lesson 08: each architecture measured with ``cnnlab.shapes.summary``.

    Args:
        architectures: the entries to measure (default: all six of ``ARCHITECTURES``).

    Returns:
        A ``Gallery`` (print it, or show it in a notebook), in the order given.
    """
    if not architectures:
        raise ValueError("compare: give at least one architecture")
    return Gallery([measure(arch) for arch in architectures])
