"""ResNet (lesson 06): published parameter counts, block structure, layouts, the plain twin."""

import inspect

import pytest
import torch
from torch import nn

from cnnlab.models import (RESNET_LAYOUTS, BasicBlock, Bottleneck, ResNetLayout, resnet, resnet18, resnet34,
                           resnet50, small_resnet)
from cnnlab.models.resnet import make_stage


def test_resnet18_has_11689512_parameters(n_params, on_meta):
    assert n_params(on_meta(resnet18)) == 11_689_512


def test_deeper_resnets_match_the_published_counts(n_params, on_meta):
    assert n_params(on_meta(resnet34)) == 21_797_672
    assert n_params(on_meta(resnet50)) == 25_557_032


def test_resnet18_output_shape(on_meta):
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
    stage, width = make_stage(16, 32, blocks=3, stride=2, block=BasicBlock)
    assert width == 32 and len(stage) == 3
    assert stage(torch.randn(1, 16, 8, 8)).shape == (1, 32, 4, 4)
    _, width = make_stage(64, 32, blocks=2, stride=1, block=Bottleneck)
    assert width == 128


def test_plain_twin_has_no_shortcuts_and_the_same_layers_otherwise(n_params):
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
    assert RESNET_LAYOUTS["resnet18"] == ResNetLayout((2, 2, 2, 2), BasicBlock)
    with pytest.raises(ValueError, match="stages"):
        resnet([2, 2], widths=(8, 16, 32))
    with pytest.raises(ValueError, match="layout"):
        resnet("resnet19")
    with pytest.raises(ValueError, match="stem"):
        resnet([1], widths=(8,), stem="tiny")
    with pytest.raises(ValueError, match="Bottleneck blocks, not BasicBlock"):
        resnet("resnet50", BasicBlock)


@pytest.mark.parametrize("name, params", [("resnet18", 11_689_512), ("resnet34", 21_797_672),
                                          ("resnet50", 25_557_032), ("resnet101", 44_549_160),
                                          ("resnet152", 60_192_808)])
def test_a_layout_name_builds_its_own_block(name, params, n_params, on_meta):
    net = on_meta(resnet, name)
    block = RESNET_LAYOUTS[name].block
    assert {type(b) for stage in net.stages for b in stage} == {block}
    assert n_params(net) == params                        # the published counts
    convs = sum(isinstance(m, nn.Conv2d) and "shortcut" not in path for path, m in net.named_modules())
    assert convs + 1 == RESNET_LAYOUTS[name].depth == int(name[len("resnet"):])   # + the fully connected layer
