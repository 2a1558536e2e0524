"""Inception (lesson 08): blocks counted branch by branch, GoogLeNet's two counts, small_inception."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnnlab.models import INCEPTION_TABLE, conv_bn, googlenet, inception_block, small_inception
from cnnlab.models.inception import GOOGLENET_LAYOUT, UNIT


def conv_bn_params(c_in: int, c_out: int, k: int) -> int:
    """Conv without bias (c_out·c_in·k·k) + batch norm (γ, β per channel)."""
    return c_out * c_in * k * k + 2 * c_out


def block_params(c_in, c1, c3r, c3, c5r, c5, pp, k5=5) -> int:
    """Parameters of one Inception block, counted by hand, branch by branch."""
    return (conv_bn_params(c_in, c1, 1)
            + conv_bn_params(c_in, c3r, 1) + conv_bn_params(c3r, c3, 3)
            + conv_bn_params(c_in, c5r, 1) + conv_bn_params(c5r, c5, k5)
            + conv_bn_params(c_in, pp, 1))


# --------------------------------------------------------------------------- Inception block

@settings(max_examples=25, deadline=None)
@given(c_in=st.integers(1, 12), widths=st.lists(st.integers(1, 9), min_size=6, max_size=6),
       size=st.integers(1, 9), k5=st.sampled_from([3, 5]))
def test_inception_block_channels_params_and_shape(c_in, widths, size, k5, n_params):
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


def test_inception_3a_parameters(n_params):
    block = inception_block(192, *INCEPTION_TABLE["3a"])
    assert block.out_channels == 256
    assert n_params(block) == 164_064


def test_naive_inception_block_passes_the_pooled_input_through(n_params):
    block = inception_block(192, 64, None, 128, None, 32, None)
    assert block.out_channels == 64 + 128 + 32 + 192
    expected = conv_bn_params(192, 64, 1) + conv_bn_params(192, 128, 3) + conv_bn_params(192, 32, 5)
    assert n_params(block) == expected
    with torch.no_grad():
        assert block.eval()(torch.randn(1, 192, 5, 5)).shape == (1, 416, 5, 5)


def test_bottleneck_saves_parameters_in_the_5x5_branch(n_params):
    direct = conv_bn(192, 32, 5, **UNIT)
    bottleneck = nn.Sequential(conv_bn(192, 16, 1, **UNIT), conv_bn(16, 32, 5, **UNIT))
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


# --------------------------------------------------------------------------- GoogLeNet

def test_googlenet_reference_count_uses_a_3x3_wide_branch(n_params):
    assert n_params(googlenet(wide_kernel=3)) == 6_624_904


def test_googlenet_paper_layout_count(n_params):
    assert n_params(googlenet()) == 7_005_832


@pytest.mark.parametrize("k5", [3, 5])
def test_googlenet_parameters_by_hand(k5, n_params):
    stem = conv_bn_params(3, 64, 7) + conv_bn_params(64, 64, 1) + conv_bn_params(64, 192, 3)
    blocks, c_in = 0, 192
    for name in [n for n in GOOGLENET_LAYOUT if n != "M"]:
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


# --------------------------------------------------------------------------- small_inception

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


def test_small_inception_matches_the_small_vgg_budget(n_params):
    from cnnlab.models import small_vgg
    assert n_params(small_inception()) == 577_842
    assert abs(n_params(small_inception()) - n_params(small_vgg())) / n_params(small_vgg()) < 0.02
