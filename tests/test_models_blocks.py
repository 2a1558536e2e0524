"""conv_bn, the conv + batch norm (+ activation) unit that ResNet, EfficientNet and Inception share."""

import torch
from torch import nn

from cnnlab.models import conv_bn
from cnnlab.models.efficientnet import SamePad2d


def test_conv_bn_is_a_biasless_conv_then_batch_norm(n_params):
    unit = conv_bn(3, 8, 3, stride=2)
    assert [name for name, _ in unit.named_children()] == ["conv", "bn"]
    assert unit.conv.bias is None and unit.conv.padding == (1, 1) and unit.conv.stride == (2, 2)
    assert n_params(unit) == 8 * 3 * 9 + 2 * 8                       # weights + γ and β
    assert unit.eval()(torch.randn(1, 3, 9, 9)).shape == (1, 8, 5, 5)


def test_conv_bn_with_an_activation_a_padding_module_and_groups():
    unit = conv_bn(4, 4, 5, 2, groups=4, activation=nn.ReLU6, eps=1e-3, pad=SamePad2d(5, 2))
    assert [name for name, _ in unit.named_children()] == ["pad", "conv", "bn", "act"]
    assert unit.conv.padding == (0, 0) and unit.conv.groups == 4 and unit.bn.eps == 1e-3
    out = unit.eval()(torch.randn(2, 4, 8, 8))
    assert out.shape == (2, 4, 4, 4) and out.min() >= 0 and out.max() <= 6


def test_conv_bn_keeps_the_size_of_an_odd_kernel_at_stride_one():
    for k in (1, 3, 5, 7):
        assert conv_bn(2, 3, k).eval()(torch.randn(1, 2, 6, 7)).shape == (1, 3, 6, 7)
