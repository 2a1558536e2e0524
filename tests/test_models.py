"""LeNet-5, VGG and ResNet: parameter counts of the published layouts, shapes, block structure;
lesson 09's segmentation, detection, spectrogram and global-pooling networks."""

import inspect

import numpy as np
import pytest
import torch
from torch import nn

from cnnlab.models import (RESNET_STAGES, VGG_CONFIGS, BasicBlock, Bottleneck, lenet5, resnet, resnet18,
                           resnet34, resnet50, small_resnet, small_vgg, vgg, vgg16)
from cnnlab.models.resnet import make_stage
from cnnlab.models.vgg import vgg_features


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def on_meta(build, *args, **kwargs) -> nn.Module:
    """Build a large model without allocating or initialising its weights."""
    with torch.device("meta"):
        return build(*args, **kwargs)


# --------------------------------------------------------------------------- LeNet

def test_lenet5_classic_has_the_published_61706_parameters():
    assert n_params(lenet5()) == 61_706
    assert n_params(lenet5(variant="classic", in_channels=1)) == 61_706


def test_lenet5_modern_adds_two_parameters_per_batch_norm_channel():
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


# --------------------------------------------------------------------------- VGG

def test_vgg16_has_138357544_parameters_most_in_the_first_fc_layer():
    net = on_meta(vgg16)
    assert n_params(net) == 138_357_544
    first_fc = net.classifier[1]
    assert (first_fc.in_features, first_fc.out_features) == (25_088, 4_096)
    assert n_params(first_fc) == 102_764_544


@pytest.mark.parametrize("name, convs", [("vgg11", 8), ("vgg13", 10), ("vgg16", 13), ("vgg19", 16)])
def test_vgg_configs_have_the_named_number_of_weight_layers(name, convs):
    assert sum(isinstance(item, int) for item in VGG_CONFIGS[name]) == convs
    assert VGG_CONFIGS[name].count("M") == 5
    net = on_meta(vgg, name)
    assert sum(isinstance(m, nn.Conv2d) for m in net.modules()) == convs
    assert sum(isinstance(m, nn.Linear) for m in net.modules()) == 3


def test_vgg16_output_shape_on_imagenet_and_smaller_inputs():
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


# --------------------------------------------------------------------------- ResNet

def test_resnet18_has_11689512_parameters():
    assert n_params(on_meta(resnet18)) == 11_689_512


def test_deeper_resnets_match_the_published_counts():
    assert n_params(on_meta(resnet34)) == 21_797_672
    assert n_params(on_meta(resnet50)) == 25_557_032


def test_resnet18_output_shape():
    net = on_meta(resnet18, num_classes=10)
    assert net(torch.empty(2, 3, 224, 224, device="meta")).shape == (2, 10)


def test_basic_block_forward_is_relu_of_residual_plus_shortcut():
    torch.manual_seed(0)
    block = BasicBlock(4, 8, stride=2).eval()
    x = torch.randn(2, 4, 10, 10)
    residual = block.conv2(torch.relu(block.conv1(x)))
    expected = torch.relu(residual + block.shortcut(x))
    assert torch.allclose(block(x), expected, atol=1e-6)
    assert block(x).shape == (2, 8, 5, 5)


@pytest.mark.parametrize("in_channels, width, stride, projects", [
    (8, 8, 1, False), (8, 16, 2, True), (8, 16, 1, True), (8, 8, 2, True)])
def test_shortcut_is_identity_unless_the_shape_changes(in_channels, width, stride, projects):
    block = BasicBlock(in_channels, width, stride)
    if projects:
        conv, bn = block.shortcut
        assert (conv.kernel_size, conv.stride, conv.bias) == ((1, 1), (stride, stride), None)
        assert isinstance(bn, nn.BatchNorm2d)
    else:
        assert isinstance(block.shortcut, nn.Identity)


def test_an_identity_block_with_a_silent_residual_passes_its_input_through():
    block = BasicBlock(6, 6).eval()
    nn.init.zeros_(block.conv2[1].weight)                 # γ = 0: F(x) = β = 0
    x = torch.rand(2, 6, 5, 5)                            # non-negative, so ReLU keeps it
    assert torch.allclose(block(x), x)


def test_block_forward_reads_top_to_bottom():
    for block in (BasicBlock, Bottleneck):
        lines = [line.strip() for line in inspect.getsource(block.forward).splitlines()[1:] if line.strip()]
        assert lines[0].startswith("identity = x")
        assert lines[-2].startswith("out = out + identity")
        assert lines[-1] == "return self.relu(out)"


def test_bottleneck_expands_four_times():
    block = Bottleneck(64, 16, stride=2).eval()
    assert block(torch.randn(1, 64, 8, 8)).shape == (1, 64, 4, 4)
    assert isinstance(block.shortcut, nn.Identity) is False
    assert isinstance(Bottleneck(64, 16).shortcut, nn.Identity)


def test_stage_builder_returns_the_new_width():
    stage, width = make_stage(BasicBlock, 16, 32, blocks=3, stride=2)
    assert width == 32 and len(stage) == 3
    assert stage(torch.randn(1, 16, 8, 8)).shape == (1, 32, 4, 4)
    _, width = make_stage(Bottleneck, 64, 32, blocks=2, stride=1)
    assert width == 128


def test_plain_twin_has_no_shortcuts_and_the_same_layers_otherwise():
    residual, plain = small_resnet(), small_resnet(shortcut=False)
    blocks = [m for m in plain.modules() if isinstance(m, BasicBlock)]
    assert blocks and all(b.shortcut is None for b in blocks)
    assert not any(isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) for m in plain.modules())
    projections = sum(n_params(b.shortcut) for b in residual.modules() if isinstance(b, BasicBlock))
    assert n_params(plain) == n_params(residual) - projections > 0


def test_plain_block_output_is_just_the_residual():
    torch.manual_seed(1)
    block = BasicBlock(4, 4, shortcut=False).eval()
    x = torch.randn(2, 4, 6, 6)
    assert torch.allclose(block(x), torch.relu(block.conv2(torch.relu(block.conv1(x)))))


@pytest.mark.parametrize("shortcut", [True, False])
def test_small_resnet_on_fashion_mnist_shape(shortcut):
    net = small_resnet(shortcut=shortcut).eval()
    assert net(torch.randn(3, 1, 28, 28)).shape == (3, 10)


def test_small_resnet_depth_follows_the_cifar_family():
    net = small_resnet(depth=20)
    assert [len(stage) for stage in net.stages] == [3, 3, 3]
    convs = sum(isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3) for m in net.modules())
    assert convs + 1 == 20                                # + the fully connected layer
    with pytest.raises(ValueError, match="6n \\+ 2"):
        small_resnet(depth=21)


def test_resnet_checks_its_arguments():
    assert RESNET_STAGES["resnet18"] == [2, 2, 2, 2]
    with pytest.raises(ValueError, match="stages"):
        resnet([2, 2], widths=(8, 16, 32))
    with pytest.raises(ValueError, match="layout"):
        resnet("resnet19")
    with pytest.raises(ValueError, match="stem"):
        resnet([1], widths=(8,), stem="tiny")


# --------------------------------------------------------------------------- lesson 09 networks

from cnnlab.models import Detections, detect, detection_loss, global_pool_cnn, small_unet, spectrogram_cnn, tiny_ssd


def test_small_unet_labels_every_pixel():
    net = small_unet().eval()
    assert net(torch.randn(2, 1, 64, 64)).shape == (2, 11, 64, 64)
    assert small_unet(num_classes=3, skips=False).eval()(torch.randn(1, 1, 32, 32)).shape == (1, 3, 32, 32)
    assert not any(isinstance(m, nn.Linear) for m in net.modules())          # fully convolutional
    ups = [m for m in net.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert ups and all(m.kernel_size == m.stride for m in ups)              # one stamp per pixel


def seen_pixels(net: nn.Module, size: int) -> torch.Tensor:
    """Which input pixels the scores of the centre pixel depend on (a random input, so no ReLU sits at 0)."""
    torch.manual_seed(0)
    x = torch.randn(1, 1, size, size, requires_grad=True)
    net.eval()(x)[0, 1, size // 2, size // 2].backward()
    return x.grad[0, 0] != 0


def test_small_unet_sees_the_whole_scene_thanks_to_dilation():
    torch.manual_seed(0)
    assert seen_pixels(small_unet(), 64).all()                              # every pixel of a 64×64 scene
    dilated, plain = seen_pixels(small_unet(), 128), seen_pixels(small_unet(dilations=(1, 1)), 128)
    assert plain.sum() < dilated.sum()                                      # without dilation it sees less


def test_tiny_ssd_predicts_per_anchor():
    net = tiny_ssd().eval()
    logits, offsets = net(torch.randn(3, 1, 64, 64))
    assert net.anchors.shape == (8 * 8 * 6, 4)
    assert logits.shape == (3, 384, 11) and offsets.shape == (3, 384, 4)
    with pytest.raises(ValueError, match="multiple of 8"):
        tiny_ssd(image_size=60)


def test_detection_loss_mines_three_negatives_per_positive():
    torch.manual_seed(0)
    logits, offsets = torch.randn(2, 50, 4), torch.zeros(2, 50, 4)
    classes = torch.zeros(2, 50, dtype=torch.long)
    classes[0, [3, 7]] = torch.tensor([1, 2])                                # two objects in image 0, none in 1
    targets = torch.zeros(2, 50, 4)
    ce = torch.nn.functional.cross_entropy(logits.flatten(0, 1), classes.flatten(), reduction="none").view(2, 50)
    background = ce.masked_fill(classes > 0, -1)
    expected = (ce[0, [3, 7]].sum() + background[0].topk(6).values.sum() + background[1].topk(3).values.sum()) / 2
    assert torch.isclose(detection_loss(logits, offsets, classes, targets), expected)
    targets[0, 3] = torch.tensor([1.0, 0, 0, 0])                             # a box off by one anchor width
    assert torch.isclose(detection_loss(logits, offsets, classes, targets), expected + 0.5 / 2)


def test_detect_decodes_the_confident_anchors():
    net = tiny_ssd().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()                                                        # features 0: the head says its bias
        bias = net.head.bias.view(net.per_anchor, 11 + 4)                    # per anchor: 11 scores, 4 offsets
        bias[:, 0] = 10.0                                                    # every anchor: background …
        bias[1, 0], bias[1, 4] = 0.0, 10.0                                   # … but the 16×16 one says class 3
    found = detect(net, torch.zeros(1, 1, 64, 64), score_threshold=0.5)[0]
    assert isinstance(found, Detections)
    # the 16×16 anchor of every cell fires; neighbours overlap by IoU 8/24 < 0.45, so all 64 survive NMS
    assert len(found.boxes) == 64 and set(found.labels.tolist()) == {3}
    np.testing.assert_allclose(np.sort(found.boxes, axis=0), np.sort(net.anchors[1::6], axis=0), atol=1e-5)
    np.testing.assert_allclose(found.scores, np.exp(10) / (np.exp(10) + 10), rtol=1e-5)


def test_circular_padding_makes_the_global_pool_cnn_shift_invariant():
    torch.manual_seed(0)
    x = torch.randn(4, 1, 32, 32)
    shifted = torch.roll(x, shifts=(16, 8), dims=(2, 3))                    # a multiple of the pools' stride 4
    circular = global_pool_cnn(2, padding_mode="circular").eval()
    zeros = global_pool_cnn(2, padding_mode="zeros").eval()
    with torch.no_grad():
        assert (circular(x) - circular(shifted)).abs().max() < 1e-5
        assert (zeros(x) - zeros(shifted)).abs().max() > 1e-3
    assert not any(isinstance(m, nn.Linear) and m.in_features != 64 for m in circular.modules())
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        global_pool_cnn(padding_mode="same")


def test_spectrogram_cnn_pools_time_but_not_frequency():
    net = spectrogram_cnn().eval()
    assert net(torch.randn(2, 1, 40, 63)).shape == (2, 10)
    assert net.head[-1].in_features == 32 * 5                               # 5 frequency rows kept apart
    assert net(torch.randn(2, 1, 40, 95)).shape == (2, 10)                  # any length of time
    with pytest.raises(ValueError, match="too few"):
        spectrogram_cnn(n_mels=4)


def test_baselines_of_lesson_04():
    from cnnlab.models import mlp, softmax_regression

    assert n_params(softmax_regression()) == 7_850
    assert n_params(mlp()) == 63_610 >= n_params(lenet5())                 # at least LeNet-5's 61,706
    assert mlp()(torch.randn(2, 1, 28, 28)).shape == softmax_regression()(torch.randn(2, 1, 28, 28)).shape == (2, 10)
