"""Exercises of lesson 06: the residual block and the parameter budget of a ResNet."""

from __future__ import annotations

import numpy as np
from torch import nn

from cnnlab.checks import Exercise, Mistake, Probe
from cnnlab.checks.ch04 import network_difference, probe_for, same_outputs
from cnnlab.checks.mistakes import Catalog

BLOCK_INPUT = 7           # odd on purpose: stride 2 must give 4×4 on both paths


# --------------------------------------------------------------------------- exercise 1: residual block

def _block_cases(rng):
    return [dict(in_channels=4, out_channels=4, stride=1),       # identity shortcut
            dict(in_channels=4, out_channels=8, stride=2),       # projection: channels and size change
            dict(in_channels=3, out_channels=6, stride=1),       # projection: only the channels change
            dict(in_channels=5, out_channels=5, stride=2),       # projection: only the size changes
            dict(in_channels=int(rng.integers(2, 5)), out_channels=int(rng.integers(2, 5)) * 2, stride=2)]


def _block_ref(in_channels, out_channels, stride):
    from cnnlab.models.resnet import BasicBlock   # imported when the reference runs (in the checking process only)

    return BasicBlock(in_channels, out_channels, stride)


_probe_values = Probe("network", (("size", BLOCK_INPUT),))


BLOCK = Catalog(
    no_shortcut=Mistake(
        "shortcut missing",
        nudge="shapes and parameters match but the outputs differ: what is added before the last ReLU?",
        hint="your block has no shortcut: add the (projected) input before the last ReLU, ReLU(F(x) + shortcut(x))"),
    relu_before_add=Mistake(
        "ReLU before the addition",
        nudge="shapes and parameters match but the outputs differ: in which order do the addition and the last "
              "ReLU come?",
        hint="conv-BN-ReLU, conv-BN, then add the shortcut, then ReLU: the last ReLU comes AFTER the addition"),
    projection_bn=Mistake(
        "projection without batch norm",
        nudge="{count:,} parameters, expected {want:,}: look at the shortcut",
        hint="a projection shortcut is a 1×1 conv (stride {s}, no bias) FOLLOWED by a batch norm"),
    bias=Mistake(
        "convs with bias",
        nudge="{count:,} parameters, expected {want:,}: a few too many, one per output channel of each conv",
        hint="the convs of a ResNet have no bias (bias=False): the batch norm's β that follows does the shifting"),
    always_project=Mistake(
        "projection where identity suffices",
        nudge="{count:,} parameters, expected {want:,}: the shortcut has weights although the shape is kept",
        hint="when stride is 1 and the channels stay the same, the shortcut is the identity (no parameters); "
             "project only when the shape changes"),
)


def _block_params(c_in, c_out, stride, bias=False, projection_bn=True, always_project=False):
    """Parameters of a basic block with one classic slip switched on; used to recognise the slip."""
    def conv(c, f, k):
        return c * f * k * k + (f if bias else 0)
    total = conv(c_in, c_out, 3) + conv(c_out, c_out, 3) + 4 * c_out               # two convs, two BNs
    if always_project or stride != 1 or c_in != c_out:
        total += conv(c_in, c_out, 1) + (2 * c_out if projection_bn else 0)
    return total


class _ReluFirst(nn.Module):
    """A basic block whose last ReLU comes before the addition (``twice``: and again after it)."""

    def __init__(self, block: nn.Module, twice: bool):
        super().__init__()
        self.block, self.twice = block, twice

    def forward(self, x):
        b = self.block                                                 # a cnnlab BasicBlock
        out = b.conv2(b.conv1(x).relu()).relu() + b.shortcut(x)
        return out.relu() if self.twice else out


def _block_hint(case, got, expected):
    from cnnlab.models.resnet import BasicBlock

    in_channels, out_channels, stride = case["in_channels"], case["out_channels"], case["stride"]
    count, want = int(got[0]), int(expected[0])
    if count != want:
        numbers = dict(count=count, want=want, s=stride)
        return BLOCK.unique({
            "projection_bn": count == _block_params(in_channels, out_channels, stride, projection_bn=False),
            "bias": count == _block_params(in_channels, out_channels, stride, bias=True),
            "always_project": count == _block_params(in_channels, out_channels, stride, always_project=True),
        }, **numbers)
    if network_difference(got, expected, "the block") is not None:
        return None
    block, probe = BasicBlock(in_channels, out_channels, stride), probe_for(case, _probe_values)
    return BLOCK.unique({
        "no_shortcut": same_outputs(got, probe(BasicBlock(in_channels, out_channels, stride, shortcut=False), case)),
        "relu_before_add": any(same_outputs(got, probe(_ReluFirst(block, twice), case)) for twice in (False, True)),
    })


# --------------------------------------------------------------------------- exercise 2: ResNet parameter count

def _count_cases(rng):
    return [dict(stages=(2, 2, 2, 2), widths=(64, 128, 256, 512), in_channels=3, num_classes=1000),   # ResNet-18
            dict(stages=(3, 4, 6, 3), widths=(64, 128, 256, 512), in_channels=3, num_classes=1000),   # ResNet-34
            dict(stages=(1, 1), widths=(8, 16), in_channels=1, num_classes=10),
            dict(stages=(2, 1, 3), widths=(16, 16, 32), in_channels=1, num_classes=10),  # same width, stride 2
            dict(stages=(1, 2), widths=(int(rng.integers(4, 12)), int(rng.integers(12, 20))), in_channels=3,
                 num_classes=int(rng.integers(2, 20))),
            dict(stages=(1, 1), widths=(int(rng.integers(4, 24)),) * 2, in_channels=int(rng.integers(1, 4)),
                 num_classes=int(rng.integers(2, 20)))]                                   # stride 2, same width


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


COUNT = Catalog(
    no_stride_projection=Mistake(
        "projection missing where the size halves",
        nudge="your count is short for networks whose stages keep the width: what happens at a stage's first block?",
        hint="the first block of stages 2, 3, ... halves the size: it needs a 1×1 projection even when the "
             "width stays the same"),
    projection_bn=Mistake(
        "projection without batch norm",
        nudge="your count is short by 2 per channel of every projection",
        hint="a projection shortcut is a 1×1 conv followed by a batch norm (2 parameters per channel)"),
    bias=Mistake(
        "convs with bias",
        nudge="your count is a little high: one extra number per output channel of every conv",
        hint="the convs of a ResNet have no bias (the batch norm's β shifts instead)"),
    no_stem=Mistake(
        "stem left out",
        nudge="your count is short by the same amount for every layout of stages: what comes before stage 1?",
        hint="count the stem too: a 7×7 conv from in_channels to widths[0] (no bias) and its batch norm"),
)


def _count_hint(case, got, expected):
    value = int(np.asarray(got))
    stem = case["in_channels"] * case["widths"][0] * 49 + 2 * case["widths"][0]
    return COUNT.unique({
        "no_stride_projection": value == _count_by_formula(**case, project_on_stride=False),
        "projection_bn": value == _count_by_formula(**case, projection_bn=False),
        "bias": value == _count_by_formula(**case, bias=True),
        "no_stem": value == _count_by_formula(**case) - stem,
    })


EXERCISES = [
    Exercise(name="residual_block", chapter="06", points=4, cases=_block_cases, reference=_block_ref,
             probe=_probe_values, diagnose=_block_hint, forbidden=("cnnlab.models",), rtol=1e-4, atol=1e-5,
             description="a basic residual block with a projection shortcut when the shape changes"),
    Exercise(name="resnet_param_count", chapter="06", points=3, cases=_count_cases, reference=_count_ref,
             diagnose=_count_hint, forbidden=("torch", "cnnlab"),
             description="count the parameters of a ResNet with basic blocks by formula"),
]

MISTAKES = {"residual_block": BLOCK, "resnet_param_count": COUNT}
