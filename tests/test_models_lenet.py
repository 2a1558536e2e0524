"""LeNet-5 (lesson 04): the published parameter counts, shapes and the two variants."""

import pytest
import torch
from torch import nn

from cnnlab.models import lenet5


def test_lenet5_classic_has_the_published_61706_parameters(n_params):
    assert n_params(lenet5()) == 61_706
    assert n_params(lenet5(variant="classic", in_channels=1)) == 61_706


def test_lenet5_modern_adds_two_parameters_per_batch_norm_channel(n_params):
    assert n_params(lenet5(variant="modern")) == 61_706 + 2 * (6 + 16 + 120 + 84) == 62_158


@pytest.mark.parametrize("variant", ["classic", "modern"])
def test_lenet5_output_shape(variant):
    net = lenet5(num_classes=7, variant=variant).eval()
    assert net(torch.randn(3, 1, 28, 28)).shape == (3, 7)


def test_lenet5_variants_use_their_layers():
    classic = {type(m) for m in lenet5(variant="classic")}
    modern = {type(m) for m in lenet5(variant="modern")}
    assert {nn.Sigmoid, nn.AvgPool2d} <= classic and not {nn.ReLU, nn.MaxPool2d, nn.BatchNorm2d} & classic
    assert {nn.ReLU, nn.MaxPool2d, nn.BatchNorm2d, nn.BatchNorm1d} <= modern and nn.Sigmoid not in modern


def test_lenet5_rgb_input_and_bad_variant():
    assert lenet5(in_channels=3, image_size=32)(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="variant"):
        lenet5(variant="ancient")
