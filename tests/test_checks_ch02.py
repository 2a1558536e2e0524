"""The exercises of lesson 02: the solutions pass, stubs and classic mistakes do not."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def solved(graded_cells):
    """This lesson's graded solution cells, run as the grader runs them."""
    return graded_cells("02")




# --------------------------------------------------------------------------- output_size

def test_output_size_matches_torch_on_many_settings(solved):
    output_size = solved["output_size"]
    for n in (5, 8, 13):
        for k, s, p, d in [(3, 1, 0, 1), (3, 2, 1, 1), (5, 2, 2, 1), (3, 1, 2, 2), (2, 3, 0, 1)]:
            conv = torch.nn.Conv2d(1, 1, k, s, p, d)
            assert output_size(n, k, s, p, d) == conv(torch.zeros(1, 1, n, n)).shape[-1]


@pytest.mark.parametrize("wrong, label", [
    (lambda n, k, stride, padding, dilation: (n + 2 * padding - dilation * (k - 1) - 1) // stride, "off by one"),
    (lambda n, k, stride, padding, dilation: -(-(n + 2 * padding - dilation * (k - 1) - 1) // stride) + 1,
     "rounded up"),
    (lambda n, k, stride, padding, dilation: (n + 2 * padding - k) // stride + 1, "dilation ignored"),
    (lambda n, k, stride, padding, dilation: (n + padding - dilation * (k - 1) - 1) // stride + 1,
     "padding on one side only"),
    (lambda n, k, stride, padding, dilation: float((n + 2 * padding - dilation * (k - 1) - 1) / stride + 1),
     "true division instead of floor"),
])
def test_output_size_catches_classic_mistakes(wrong, label, assert_fails):
    assert_fails("output_size", wrong, label)


# --------------------------------------------------------------------------- conv_param_count

@pytest.mark.parametrize("wrong, label", [
    (lambda in_channels, filters, kh, kw, bias: filters * kh * kw + filters * bias, "input channels ignored"),
    (lambda in_channels, filters, kh, kw, bias: filters * in_channels * kh * kw, "bias missing"),
    (lambda in_channels, filters, kh, kw, bias: filters * in_channels * kh * kw + filters,
     "bias counted when bias=False"),
])
def test_conv_param_count_catches_classic_mistakes(wrong, label, assert_fails):
    assert_fails("conv_param_count", wrong, label)


def test_conv_param_count_lesson_example(solved):
    assert solved["conv_param_count"](3, 64, 3, 3, True) == 1792


# --------------------------------------------------------------------------- receptive_field_size

def _field(kernels, strides, own_stride=False, ignore_strides=False):
    field, jump = 1, 1
    for k, s in zip(kernels, strides):
        if own_stride:
            jump *= s
        field += (k - 1) * (1 if ignore_strides else jump)
        if not own_stride:
            jump *= s
    return field


@pytest.mark.parametrize("wrong, label", [
    (lambda kernels, strides: _field(kernels, strides, ignore_strides=True), "strides ignored"),
    (lambda kernels, strides: _field(kernels, strides, own_stride=True), "own stride included"),
    (lambda kernels, strides: sum(kernels), "kernel sizes added"),
])
def test_receptive_field_size_catches_classic_mistakes(wrong, label, assert_fails):
    assert_fails("receptive_field_size", wrong, label)


def test_two_stacked_3x3_see_5x5(solved):
    assert solved["receptive_field_size"]((3, 3), (1, 1)) == 5
