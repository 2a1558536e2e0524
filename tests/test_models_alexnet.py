"""AlexNet (lesson 08): 61,100,840 parameters, counted by hand too."""

import torch

from cnnlab.models import alexnet


def test_alexnet_has_the_standard_parameter_count(n_params):
    assert n_params(alexnet()) == 61_100_840


def test_alexnet_parameters_by_hand(n_params):
    convs = [(3, 64, 11), (64, 192, 5), (192, 384, 3), (384, 256, 3), (256, 256, 3)]
    fcs = [(9216, 4096), (4096, 4096), (4096, 1000)]
    expected = sum(o * i * k * k + o for i, o, k in convs) + sum(i * o + o for i, o in fcs)
    assert n_params(alexnet()) == expected


def test_alexnet_forward_shape_at_224():
    net = alexnet(num_classes=7).eval()
    with torch.no_grad():
        assert net(torch.zeros(2, 3, 224, 224)).shape == (2, 7)


def test_alexnet_num_classes_changes_only_the_last_layer(n_params):
    assert n_params(alexnet()) - n_params(alexnet(num_classes=10)) == 990 * 4096 + 990
