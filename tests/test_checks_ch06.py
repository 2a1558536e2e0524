"""Lesson 06 exercises: the reference passes, stubs are "not implemented", classic mistakes fail with a hint."""

import pytest
from torch import nn

from cnnlab.checks import get, run_exercise
from cnnlab.checks.ch06 import _count_by_formula


# --------------------------------------------------------------------------- residual block

class Block(nn.Module):
    """A residual block with one classic mistake switched on by the arguments."""

    def __init__(self, in_channels, out_channels, stride=1, shortcut=True, project="shape", projection_bn=True,
                 relu_before_add=False, shortcut_first=False):
        super().__init__()
        needs = {"shape": stride != 1 or in_channels != out_channels, "channels": in_channels != out_channels,
                 "never": False}[project]
        projection = nn.Identity()
        if needs:
            layers = [nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)]
            projection = nn.Sequential(*layers, *([nn.BatchNorm2d(out_channels)] if projection_bn else []))
        if shortcut_first:
            self.projection = projection
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if not shortcut_first:
            self.projection = projection
        self.shortcut, self.relu_before_add = shortcut, relu_before_add

    def forward(self, x):
        out = self.bn2(self.conv2(self.bn1(self.conv1(x)).relu()))
        if self.relu_before_add:
            out = out.relu()
        if self.shortcut:
            out = out + self.projection(x)
        return out.relu()


def test_block_written_differently_passes(assert_passes):
    assert_passes("residual_block", lambda **k: Block(**k))


def test_block_without_shortcut_fails_with_hint(assert_fails):
    assert_fails("residual_block", lambda **k: Block(**k, shortcut=False), "shortcut missing")


def test_block_whose_shortcut_never_projects_fails(assert_fails):
    assert_fails("residual_block", lambda **k: Block(**k, project="never"))


def test_block_that_projects_only_for_new_channels_fails():
    result = run_exercise(get("residual_block"), lambda **k: Block(**k, project="channels"))
    assert not result and result.message.startswith("case 4: raised"), result.line()   # stride 2, same width


def test_projection_without_batch_norm_fails_with_hint(assert_fails):
    assert_fails("residual_block", lambda **k: Block(**k, projection_bn=False), "projection without batch norm")


def test_relu_before_the_addition_fails_with_hint(assert_fails):
    assert_fails("residual_block", lambda **k: Block(**k, relu_before_add=True), "ReLU before the addition")


def test_block_with_shortcut_defined_first_still_passes(assert_passes):
    # batch norms get the same values whatever their order; convs differ in shape from the 1×1 projection
    assert_passes("residual_block", lambda **k: Block(**k, shortcut_first=True))


# --------------------------------------------------------------------------- parameter count

@pytest.mark.parametrize("slip, label", [(dict(project_on_stride=False), "projection missing where the size halves"),
                                         (dict(projection_bn=False), "projection without batch norm"),
                                         (dict(bias=True), "convs with bias")])
def test_count_with_a_classic_slip_fails_with_hint(slip, label, assert_fails):
    assert_fails("resnet_param_count", lambda **k: _count_by_formula(**k, **slip), label)


def test_count_without_the_stem_fails(assert_fails):
    def no_stem(stages, widths, in_channels, num_classes):
        return _count_by_formula(stages, widths, in_channels, num_classes) - in_channels * widths[0] * 49 - 2 * widths[0]

    assert_fails("resnet_param_count", no_stem, "stem left out")


def test_resnet18_count_is_the_published_one():
    assert get("resnet_param_count").reference((2, 2, 2, 2), (64, 128, 256, 512), 3, 1000) == 11_689_512
