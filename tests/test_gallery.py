"""Lesson 08: AlexNet, Inception/GoogLeNet, small_inception, compound scaling."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnnlab.models import gallery
from cnnlab.models.gallery import (
    INCEPTION_TABLE, alexnet, compound_scaling, conv_unit, googlenet, inception_block,
    scaled_channels, scaled_repeats, small_inception,
)
from cnnlab.shapes import conv_output_size


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def conv_unit_params(c_in: int, c_out: int, k: int) -> int:
    """Conv without bias (c_out·c_in·k·k) + batch norm (γ, β per channel)."""
    return c_out * c_in * k * k + 2 * c_out


def block_params(c_in, c1, c3r, c3, c5r, c5, pp, k5=5) -> int:
    """Parameters of one Inception block, counted by hand, branch by branch."""
    return (conv_unit_params(c_in, c1, 1)
            + conv_unit_params(c_in, c3r, 1) + conv_unit_params(c3r, c3, 3)
            + conv_unit_params(c_in, c5r, 1) + conv_unit_params(c5r, c5, k5)
            + conv_unit_params(c_in, pp, 1))


# --- AlexNet -------------------------------------------------------------------------------

def test_alexnet_has_the_standard_parameter_count():
    assert n_params(alexnet()) == 61_100_840


def test_alexnet_parameters_by_hand():
    convs = [(3, 64, 11), (64, 192, 5), (192, 384, 3), (384, 256, 3), (256, 256, 3)]
    fcs = [(9216, 4096), (4096, 4096), (4096, 1000)]
    expected = sum(o * i * k * k + o for i, o, k in convs) + sum(i * o + o for i, o in fcs)
    assert n_params(alexnet()) == expected


def test_alexnet_forward_shape_at_224():
    net = alexnet(num_classes=7).eval()
    with torch.no_grad():
        assert net(torch.zeros(2, 3, 224, 224)).shape == (2, 7)


def test_alexnet_num_classes_changes_only_the_last_layer():
    assert n_params(alexnet()) - n_params(alexnet(num_classes=10)) == 990 * 4096 + 990


# --- Inception block -----------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(c_in=st.integers(1, 12), widths=st.lists(st.integers(1, 9), min_size=6, max_size=6),
       size=st.integers(1, 9), k5=st.sampled_from([3, 5]))
def test_inception_block_channels_params_and_shape(c_in, widths, size, k5):
    c1, c3r, c3, c5r, c5, pp = widths
    block = inception_block(c_in, c1, c3r, c3, c5r, c5, pp, wide_kernel=k5).eval()
    assert block.out_channels == c1 + c3 + c5 + pp
    assert n_params(block) == block_params(c_in, c1, c3r, c3, c5r, c5, pp, k5)
    with torch.no_grad():
        out = block(torch.randn(2, c_in, size, size + 1))
    assert out.shape == (2, c1 + c3 + c5 + pp, size, size + 1)


def test_inception_block_concatenates_branches_in_order():
    torch.manual_seed(0)
    block = inception_block(6, 2, 3, 4, 2, 3, 5).eval()
    x = torch.randn(1, 6, 8, 8)
    with torch.no_grad():
        out = block(x)
        parts = [block.branch1(x), block.branch3(x), block.branch5(x), block.branch_pool(x)]
    torch.testing.assert_close(out, torch.cat(parts, dim=1))
    assert [p.shape[1] for p in parts] == [2, 4, 3, 5]


def test_inception_3a_parameters():
    block = inception_block(192, *INCEPTION_TABLE["3a"])
    assert block.out_channels == 256
    assert n_params(block) == 164_064


def test_naive_inception_block_passes_the_pooled_input_through():
    block = inception_block(192, 64, None, 128, None, 32, None)
    assert block.out_channels == 64 + 128 + 32 + 192
    expected = conv_unit_params(192, 64, 1) + conv_unit_params(192, 128, 3) + conv_unit_params(192, 32, 5)
    assert n_params(block) == expected
    with torch.no_grad():
        assert block.eval()(torch.randn(1, 192, 5, 5)).shape == (1, 416, 5, 5)


def test_bottleneck_saves_parameters_in_the_5x5_branch():
    direct = conv_unit(192, 32, 5)
    bottleneck = nn.Sequential(conv_unit(192, 16, 1), conv_unit(16, 32, 5))
    assert n_params(direct) == 153_600 + 64
    assert n_params(bottleneck) == 3_072 + 32 + 12_800 + 64
    assert n_params(direct) > 9 * n_params(bottleneck)


@pytest.mark.parametrize("args, word", [
    ((0, 1, 1, 1, 1, 1, 1), "positive"),
    ((4, 1, 1, -2, 1, 1, 1), "positive"),
    ((4, 1, 1, 1, 1, 1, 2.5), "positive"),
])
def test_inception_block_rejects_bad_channels(args, word):
    with pytest.raises(ValueError, match=word):
        inception_block(*args)


def test_inception_block_rejects_even_wide_kernel():
    with pytest.raises(ValueError, match="odd"):
        inception_block(4, 1, 1, 1, 1, 1, 1, wide_kernel=4)


# --- GoogLeNet -----------------------------------------------------------------------------

def test_googlenet_reference_count_uses_a_3x3_wide_branch():
    assert n_params(googlenet(wide_kernel=3)) == 6_624_904


def test_googlenet_paper_layout_count():
    assert n_params(googlenet()) == 7_005_832


@pytest.mark.parametrize("k5", [3, 5])
def test_googlenet_parameters_by_hand(k5):
    stem = conv_unit_params(3, 64, 7) + conv_unit_params(64, 64, 1) + conv_unit_params(64, 192, 3)
    blocks, c_in = 0, 192
    for name in [n for n in gallery.GOOGLENET_LAYOUT if n != "M"]:
        c1, c3r, c3, c5r, c5, pp = INCEPTION_TABLE[name]
        blocks += block_params(c_in, c1, c3r, c3, c5r, c5, pp, k5)
        c_in = c1 + c3 + c5 + pp
    assert c_in == 1024
    assert n_params(googlenet(wide_kernel=k5)) == stem + blocks + 1024 * 1000 + 1000


def test_googlenet_forward_shape_and_batch_norm_epsilon():
    net = googlenet(num_classes=5).eval()
    with torch.no_grad():
        assert net(torch.zeros(1, 3, 224, 224)).shape == (1, 5)
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(norms) == len(convs) == 57
    assert all(m.eps == 0.001 for m in norms) and all(m.bias is None for m in convs)


# --- small_inception -----------------------------------------------------------------------

def test_small_inception_forward_on_fashion_mnist_shape():
    net = small_inception().eval()
    with torch.no_grad():
        assert net(torch.randn(3, 1, 28, 28)).shape == (3, 10)


def test_small_inception_trains_one_step():
    torch.manual_seed(0)
    net = small_inception(num_classes=4)
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 4, (8,))
    loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_small_inception_matches_the_small_vgg_budget():
    from cnnlab.models import small_vgg
    assert n_params(small_inception()) == 577_842
    assert abs(n_params(small_inception()) - n_params(small_vgg())) / n_params(small_vgg()) < 0.02


# --- compound scaling ----------------------------------------------------------------------

def test_compound_scaling_phi_zero_is_the_base_network():
    s = compound_scaling(0)
    assert (s.depth, s.width, s.resolution_scale, s.resolution, s.flops) == (1, 1, 1, 224, 1)


def test_compound_scaling_phi_one():
    s = compound_scaling(1)
    assert s.depth == pytest.approx(1.2)
    assert s.width == pytest.approx(1.1)
    assert s.resolution_scale == pytest.approx(1.15)
    assert s.resolution == 258                      # 224 · 1.15 = 257.6
    assert s.flops == pytest.approx(1.92027)        # α·β²·γ² ≈ 2


def test_compound_scaling_phi_three():
    s = compound_scaling(3)
    assert s.depth == pytest.approx(1.728)
    assert s.width == pytest.approx(1.331)
    assert s.resolution == round(224 * 1.15 ** 3) == 341


@settings(max_examples=50, deadline=None)
@given(phi=st.floats(-2, 7), a=st.floats(1, 2), b=st.floats(1, 2), g=st.floats(1, 2),
       base=st.integers(16, 600))
def test_compound_scaling_flops_follow_depth_width2_resolution2(phi, a, b, g, base):
    s = compound_scaling(phi, a, b, g, base)
    assert s.flops == pytest.approx(s.depth * s.width ** 2 * s.resolution_scale ** 2, rel=1e-9)
    assert s.resolution == round(base * g ** phi)
    assert s.depth == pytest.approx(a ** phi) and s.width == pytest.approx(b ** phi)


@pytest.mark.parametrize("kwargs", [dict(alpha=0.9), dict(beta=0.5), dict(gamma=-1.0),
                                    dict(base_resolution=0), dict(base_resolution=224.0)])
def test_compound_scaling_rejects_bad_bases(kwargs):
    with pytest.raises(ValueError, match="compound_scaling"):
        compound_scaling(1, **kwargs)


@pytest.mark.parametrize("channels, width, expected", [
    (32, 1.0, 32), (1280, 1.0, 1280),
    (32, 1.1, 32), (1280, 1.1, 1408),      # EfficientNet-B2 stem and head
    (1280, 1.2, 1536),                     # B3 head
    (32, 1.4, 48), (16, 1.4, 24), (1280, 1.4, 1792),  # B4
    (32, 2.0, 64), (1280, 2.0, 2560),      # B7
    (3, 0.5, 8),                           # never below the divisor
])
def test_scaled_channels_reproduces_efficientnet_widths(channels, width, expected):
    assert scaled_channels(channels, width) == expected


@settings(max_examples=50, deadline=None)
@given(channels=st.integers(1, 2048), width=st.floats(0.25, 4.0))
def test_scaled_channels_is_a_close_multiple_of_8(channels, width):
    out = scaled_channels(channels, width)
    assert out % 8 == 0 and out >= 8
    assert out >= 0.9 * channels * width
    assert out <= max(8, channels * width + 8)


def test_scaled_repeats_reproduces_efficientnet_b4_depth():
    lite0_repeats = [1, 2, 2, 3, 3, 4, 1]
    b4 = [scaled_repeats(r, 1.8) for r in lite0_repeats]
    assert b4 == [2, 4, 4, 6, 6, 8, 2] and sum(b4) == 32


def test_scaled_repeats_is_not_fooled_by_floating_point():
    assert 25 * 2.2 > 55                   # 55.00000000000001
    assert scaled_repeats(25, 2.2) == 55
    assert scaled_repeats(5, compound_scaling(1).depth) == 6
    assert all(scaled_repeats(r, 1.0) == r for r in range(1, 10))


@pytest.mark.parametrize("call", [lambda: scaled_channels(0, 1.0), lambda: scaled_channels(8, 0.0),
                                  lambda: scaled_repeats(0, 1.0), lambda: scaled_repeats(2, -1.0)])
def test_rounding_helpers_reject_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


def test_compound_scaling_constraint_is_about_two():
    s = compound_scaling(1)
    assert math.isclose(s.flops, 2, rel_tol=0.05)
