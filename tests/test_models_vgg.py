"""VGG (lesson 05): the network as a list, VGG-16's 138,357,544 parameters, small_vgg."""

import pytest
import torch
from torch import nn

from cnnlab.models import VGG_CONFIGS, small_vgg, vgg, vgg16
from cnnlab.models.vgg import vgg_features


def test_vgg16_has_138357544_parameters_most_in_the_first_fc_layer(n_params, on_meta):
    net = on_meta(vgg16)
    assert n_params(net) == 138_357_544
    first_fc = net.classifier[1]
    assert (first_fc.in_features, first_fc.out_features) == (25_088, 4_096)
    assert n_params(first_fc) == 102_764_544


@pytest.mark.parametrize("name, convs", [("vgg11", 8), ("vgg13", 10), ("vgg16", 13), ("vgg19", 16)])
def test_vgg_configs_have_the_named_number_of_weight_layers(name, convs, on_meta):
    assert sum(isinstance(item, int) for item in VGG_CONFIGS[name]) == convs
    assert VGG_CONFIGS[name].count("M") == 5
    net = on_meta(vgg, name)
    assert sum(isinstance(m, nn.Conv2d) for m in net.modules()) == convs
    assert sum(isinstance(m, nn.Linear) for m in net.modules()) == 3


def test_vgg16_output_shape_on_imagenet_and_smaller_inputs(on_meta):
    net = on_meta(vgg16)
    assert net(torch.empty(2, 3, 224, 224, device="meta")).shape == (2, 1000)
    assert net(torch.empty(1, 3, 64, 64, device="meta")).shape == (1, 1000)   # adaptive pool


def test_vgg_features_follow_the_list():
    features, channels = vgg_features([8, "M", 16, 16, "M"], in_channels=1, batch_norm=True)
    kinds = [type(m) for m in features]
    assert kinds == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d,
                     nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d]
    assert channels == 16
    assert features[0].bias is None                       # BN's shift replaces the bias
    assert features(torch.randn(2, 1, 28, 28)).shape == (2, 16, 7, 7)


def test_vgg_batch_norm_toggle_and_bad_config():
    plain = vgg([8, "M"], num_classes=3, in_channels=1, hidden=(16,), pool_size=2)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    assert plain(torch.randn(2, 1, 8, 8)).shape == (2, 3)
    with pytest.raises(ValueError, match="config"):
        vgg([8, "X"])
    with pytest.raises(ValueError, match="unknown config"):
        vgg("vgg17")


def test_small_vgg_on_fashion_mnist_shape():
    net = small_vgg().eval()
    assert net(torch.randn(4, 1, 28, 28)).shape == (4, 10)
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert any(isinstance(m, nn.Dropout) for m in net.modules())
