"""The unit several architecture families share: a conv, its batch norm, and an activation. Lessons 06-08.

ResNet's blocks (lesson 06), EfficientNet's MBConv (07) and Inception's branches (08) are all
built from ``conv_bn``. The conv has no bias: the batch norm right after it subtracts the
mean and adds its own shift β, so a bias would be learned and then cancelled. Parameters:
``F·(C/groups)·KH·KW`` weights + ``2·F`` (γ and β).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

from torch import nn


def conv_bn(in_channels: int, out_channels: int, kernel: int, stride: int = 1, *, groups: int = 1,
            activation: Callable[[], nn.Module] | None = None, eps: float = 1e-5,
            pad: nn.Module | None = None) -> nn.Sequential:
    """Conv without bias -> batch norm -> activation (when given). Lessons 06-08.

    Args:
        in_channels: C of the input.
        out_channels: F, the number of filters.
        kernel: KH = KW.
        stride: step of the window.
        groups: 1 for an ordinary conv, ``in_channels`` for a depthwise one.
        activation: builds the activation, e.g. ``nn.ReLU`` or ``nn.ReLU6``; None: no activation
            (ResNet's second conv, whose ReLU comes after the shortcut is added; MBConv's
            linear projection).
        eps: the batch norm's ε (1e-3 for the families whose weights come from TensorFlow).
        pad: a padding module to run first, e.g. EfficientNet's TensorFlow-style "SAME"
            padding; None pads ``kernel // 2`` on every side, which keeps H×W at stride 1.

    Returns:
        ``nn.Sequential`` with children ``pad`` (when given), ``conv``, ``bn`` and ``act`` (when
        given): (N, C, H, W) -> (N, F, ⌈H/stride⌉, ⌈W/stride⌉) for an odd kernel.
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    if pad is not None:
        layers["pad"] = pad
    layers["conv"] = nn.Conv2d(in_channels, out_channels, kernel, stride, padding=0 if pad is not None else kernel // 2,
                               groups=groups, bias=False)
    layers["bn"] = nn.BatchNorm2d(out_channels, eps=eps)
    if activation is not None:
        layers["act"] = activation()
    return nn.Sequential(layers)
