"""Transfer-learning helpers (freeze, heads, parameter groups, features, grey to RGB) and the
attribution maps (saliency, Grad-CAM)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from cnnlab import transfer
from cnnlab.common import parameter_count
from cnnlab.data import photo
from cnnlab.models import efficientnet_lite0, lenet5, small_resnet
from cnnlab.models.efficientnet import preprocess
from cnnlab.viz import grad_cam, saliency, show_heatmap


@pytest.fixture(scope="module")
def pretrained():
    return efficientnet_lite0(weights="imagenet")


def count(model):
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- freeze / heads

def test_freeze_and_unfreeze_count_trainable():
    net = lenet5(variant="modern")
    assert parameter_count(net, trainable_only=True) == count(net) == 62_158
    transfer.freeze(net)
    assert parameter_count(net, trainable_only=True) == 0
    transfer.unfreeze(net[-1])
    assert parameter_count(net, trainable_only=True) == 84 * 10 + 10


@pytest.mark.parametrize("make, head_name", [
    (lambda: lenet5(), "11"),                                    # conv, act, pool ×2, flatten, 3 × (fc, act) − 1
    (lambda: small_resnet(), "fc"),
    (lambda: efficientnet_lite0(), "classifier"),
])
def test_find_head_is_the_last_linear_layer(make, head_name):
    parent, attribute, head = transfer.find_head(make())
    assert attribute == head_name and isinstance(head, nn.Linear)
    assert getattr(parent, attribute) is head


def test_find_head_needs_a_linear_layer():
    with pytest.raises(ValueError, match="no nn.Linear"):
        transfer.find_head(nn.Sequential(nn.Conv2d(1, 2, 3)))


def test_replace_head_keeps_the_width_and_changes_the_outputs():
    net = efficientnet_lite0()
    transfer.freeze(net)
    transfer.replace_head(net, 5)
    assert net.classifier.out_features == 5 and net.classifier.in_features == 1280
    assert parameter_count(net, trainable_only=True) == 1280 * 5 + 5              # the new head learns
    assert net.eval()(torch.randn(2, 3, 64, 64)).shape == (2, 5)
    with pytest.raises(ValueError, match="at least 1"):
        transfer.replace_head(net, 0)


def test_feature_extractor_trains_only_the_head_and_keeps_the_original(pretrained):
    before = pretrained.classifier.weight.clone()
    fe = transfer.feature_extractor(pretrained, 4)
    assert parameter_count(fe, trainable_only=True) == 1280 * 4 + 4
    assert parameter_count(pretrained, trainable_only=True) == count(pretrained)  # the original is untouched
    assert torch.equal(pretrained.classifier.weight, before)
    x = torch.randn(3, 3, 64, 64)
    assert fe.backbone(x).shape == (3, 1280)
    assert fe(x).shape == (3, 4)


def test_feature_extractor_backbone_stays_in_eval_mode(pretrained):
    fe = transfer.feature_extractor(pretrained, 3)
    fe.train()
    assert fe.head.training and not fe.backbone.training
    bn = fe.backbone.features.stem.bn
    stats = bn.running_mean.clone()
    loss = fe(torch.randn(4, 3, 64, 64) * 3 + 1).logsumexp(1).sum()
    loss.backward()
    assert torch.equal(bn.running_mean, stats)                        # batch norm did not drift
    assert all(p.grad is None for p in fe.backbone.parameters())
    assert fe.head.weight.grad is not None


def test_finetune_param_groups_cover_every_parameter_once():
    net = efficientnet_lite0(num_classes=6)
    groups = transfer.finetune_param_groups(net, lr=1e-3, backbone_lr_scale=0.1)
    assert [g["lr"] for g in groups] == pytest.approx([1e-4, 1e-3])
    assert groups[1]["params"] == [net.classifier.weight, net.classifier.bias]
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(net.parameters()))
    opt = torch.optim.Adam(groups)                                    # usable as is
    assert len(opt.param_groups) == 2
    with pytest.raises(ValueError, match="lr > 0"):
        transfer.finetune_param_groups(net, lr=0)


def test_extract_features_equals_the_backbone_in_batches(pretrained):
    fe = transfer.feature_extractor(pretrained, 2)
    x = torch.randn(5, 3, 48, 48)
    feats = transfer.extract_features(fe.backbone, x, batch_size=2)
    with torch.no_grad():
        direct = fe.backbone(x)
    assert feats.shape == (5, 1280)
    assert torch.allclose(feats, direct, atol=1e-5)


# --------------------------------------------------------------------------- attribution

def test_saliency_shape_range_and_matches_autograd():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(4, 3)).eval()
    x = torch.randn(2, 3, 8, 10)
    heat = saliency(net, x, target=[1, 2])
    assert heat.shape == (2, 8, 10)
    assert heat.min() >= 0 and heat.max() <= 1 and torch.allclose(heat.amax(dim=(1, 2)), torch.ones(2))
    xg = x.clone().requires_grad_(True)
    net(xg)[0, 1].backward()
    grad = xg.grad[0].abs().amax(0)
    assert torch.allclose(heat[0], (grad - grad.min()) / (grad.max() - grad.min()), atol=1e-6)


def test_grad_cam_of_a_tiny_network_by_hand():
    # features (1, 2, 2, 2) -> mean pool -> linear. The gradient of class c w.r.t. the maps is
    # w[c, k] / 4 everywhere, so Grad-CAM = ReLU(sum_k w[c, k] / 4 * A_k).
    net = nn.Sequential(nn.Identity(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 2, bias=False))
    with torch.no_grad():
        net[3].weight.copy_(torch.tensor([[1.0, -1.0], [0.5, 2.0]]))
    a = torch.tensor([[[[1.0, 0.0], [3.0, 2.0]], [[0.0, 1.0], [1.0, 1.0]]]])
    cam = torch.relu((torch.tensor([1.0, -1.0])[:, None, None] / 4 * a[0]).sum(0))   # [[.25, 0], [.5, .25]]
    heat = grad_cam(net, a, target=0, layer=net[0])
    assert heat.shape == (1, 2, 2)
    assert torch.allclose(heat[0], cam / cam.max())


def test_grad_cam_rejects_a_layer_outside_the_model():
    net = nn.Sequential(nn.Conv2d(3, 2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 2))
    with pytest.raises(ValueError, match="not used"):
        grad_cam(net, torch.randn(1, 3, 4, 4), 0, layer=nn.Conv2d(3, 2, 1))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        grad_cam(net, torch.randn(3, 4, 4), 0, layer=net[0])
    with pytest.raises(ValueError, match="2 classes for 1 images"):
        saliency(net, torch.randn(1, 3, 4, 4), [0, 1])


def test_grad_cam_on_grace_hopper_is_a_sensible_map(pretrained):
    x = preprocess(photo("grace_hopper"))
    heat = grad_cam(pretrained, x, 652, pretrained.features.head)[0]
    assert heat.shape == (224, 224)
    assert heat.min() == 0 and heat.max() == pytest.approx(1.0)
    assert heat.std() > 0.1                                           # not constant
    # the evidence for "military uniform" (cap, jacket) is on the person in the middle,
    # not on the background strips at the left and right edges
    person, background = heat[:, 64:160].mean(), torch.cat([heat[:, :24], heat[:, -24:]]).mean()
    assert person > 2 * background
    assert not pretrained.training


def test_show_heatmap_draws_three_panels_and_resizes():
    image = photo("chelsea")                                          # (300, 451, 3)
    fig = show_heatmap(image, torch.rand(7, 7), title="cat")
    assert len(fig.axes) == 3
    assert fig.axes[2].images[1].get_array().shape == image.shape[:2]
    plt.close(fig)
    with pytest.raises(ValueError, match="one map"):
        show_heatmap(image, np.zeros((1, 7, 7)))


def test_grey_to_rgb_matches_the_pretrained_normalisation():
    x = torch.randn(2, 1, 28, 28)
    out = transfer.GreyToRGB(size=64)(x)
    assert out.shape == (2, 3, 64, 64)
    assert torch.equal(out[:, 0], out[:, 2])
    assert torch.equal(transfer.GreyToRGB()(x)[:, 1:2], 0.5 * x)
