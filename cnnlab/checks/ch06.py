"""Exercises of lesson 06: the residual block and the parameter budget of a ResNet."""

from __future__ import annotations

import numpy as np

from cnnlab.checks import Exercise
from cnnlab.checks.ch04 import network_hint, probe_network

BLOCK_INPUT = 7           # odd on purpose: stride 2 must give 4×4 on both paths


# --------------------------------------------------------------------------- exercise 1: residual block

def _block_cases(rng):
    return [dict(in_channels=4, out_channels=4, stride=1),       # identity shortcut
            dict(in_channels=4, out_channels=8, stride=2),       # projection: channels and size change
            dict(in_channels=3, out_channels=6, stride=1),       # projection: only the channels change
            dict(in_channels=5, out_channels=5, stride=2),       # projection: only the size changes
            dict(in_channels=int(rng.integers(2, 5)), out_channels=int(rng.integers(2, 5)) * 2, stride=2)]


def _block_ref(in_channels, out_channels, stride):
    from cnnlab.models.resnet import BasicBlock   # imported here: the probe may run where learners cannot import it

    return BasicBlock(in_channels, out_channels, stride)


_probe_values = probe_network(BLOCK_INPUT)


def _block_hint(case, got, expected):
    from cnnlab.models.resnet import BasicBlock

    in_channels, out_channels, stride = case["in_channels"], case["out_channels"], case["stride"]
    projects = stride != 1 or in_channels != out_channels
    if int(got[0]) != int(expected[0]):
        need = ("a 1×1 conv (stride {s}, no bias) and a batch norm on the shortcut, because the shape changes"
                .format(s=stride) if projects else "an identity shortcut (no parameters), because the shape is kept")
        return (f"{int(got[0]):,} parameters, expected {int(expected[0]):,}: two 3×3 convs without bias, "
                f"two batch norms, and {need}")
    hint = network_hint(got, expected, "the block")
    if hint is not None:
        return hint
    plain = _probe_values(BasicBlock(in_channels, out_channels, stride, shortcut=False), case)
    if np.allclose(got[3], plain[3], rtol=1e-4, atol=1e-5):
        return "your block has no shortcut: add the (projected) input before the last ReLU"
    return ("shapes and parameters match but the outputs differ: conv-BN-ReLU, conv-BN, then add the shortcut, "
            "then ReLU (the ReLU comes after the addition)")


# --------------------------------------------------------------------------- exercise 2: ResNet parameter count

def _count_cases(rng):
    return [dict(stages=(2, 2, 2, 2), widths=(64, 128, 256, 512), in_channels=3, num_classes=1000),   # ResNet-18
            dict(stages=(3, 4, 6, 3), widths=(64, 128, 256, 512), in_channels=3, num_classes=1000),   # ResNet-34
            dict(stages=(1, 1), widths=(8, 16), in_channels=1, num_classes=10),
            dict(stages=(2, 1, 3), widths=(16, 16, 32), in_channels=1, num_classes=10),  # same width, stride 2
            dict(stages=(1, 2), widths=(int(rng.integers(4, 12)), int(rng.integers(12, 20))), in_channels=3,
                 num_classes=int(rng.integers(2, 20)))]


def _count_ref(stages, widths, in_channels, num_classes):
    from cnnlab.common import parameter_count
    from cnnlab.models.resnet import BasicBlock, resnet

    return np.int64(parameter_count(resnet(list(stages), BasicBlock, num_classes, in_channels, list(widths)),
                                    trainable_only=True))


def _count_by_formula(stages, widths, in_channels, num_classes, projection_bn=True, project_on_stride=True,
                      bias=False):
    """The count with one classic slip switched on; used to recognise the slip."""
    conv = (lambda c, f, k: c * f * k * k + (f if bias else 0))
    total = conv(in_channels, widths[0], 7) + 2 * widths[0]                          # stem: 7×7 conv + BN
    channels = widths[0]
    for i, (blocks, width) in enumerate(zip(stages, widths)):
        for b in range(blocks):
            stride = 2 if (i > 0 and b == 0) else 1
            total += conv(channels, width, 3) + conv(width, width, 3) + 4 * width   # two convs + two BNs
            if channels != width or (stride != 1 and project_on_stride):
                total += conv(channels, width, 1) + (2 * width if projection_bn else 0)
            channels = width
    return total + channels * num_classes + num_classes                              # fully connected


def _count_hint(case, got, expected):
    slips = {
        "the first block of stages 2, 3, ... halves the size: it needs a 1×1 projection even when the width "
        "stays the same": dict(project_on_stride=False),
        "a projection shortcut is a 1×1 conv followed by a batch norm (2 parameters per channel)":
            dict(projection_bn=False),
        "the convs of a ResNet have no bias (the batch norm's β shifts instead)": dict(bias=True),
    }
    for hint, slip in slips.items():
        if int(np.asarray(got)) == _count_by_formula(**case, **slip):
            return hint
    return None


EXERCISES = [
    Exercise(name="residual_block", chapter="06", points=4, cases=_block_cases, reference=_block_ref,
             probe=_probe_values, diagnose=_block_hint, forbidden=("cnnlab.models",), rtol=1e-4, atol=1e-5,
             description="a basic residual block with a projection shortcut when the shape changes"),
    Exercise(name="resnet_param_count", chapter="06", points=3, cases=_count_cases, reference=_count_ref,
             diagnose=_count_hint, forbidden=("torch", "cnnlab"),
             description="count the parameters of a ResNet with basic blocks by formula"),
]
