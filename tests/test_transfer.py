"""Transfer-learning helpers: freeze, heads, parameter groups, features, grey to RGB (cnnlab.transfer)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnlab import transfer
from cnnlab.common import parameter_count
from cnnlab.models import efficientnet_lite0, lenet5, small_resnet


# --------------------------------------------------------------------------- freeze / heads

def test_freeze_and_unfreeze_count_trainable(n_params):
    net = lenet5(variant="modern")
    assert parameter_count(net, trainable_only=True) == n_params(net) == 62_158
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


def test_feature_extractor_trains_only_the_head_and_keeps_the_original(pretrained, n_params):
    before = pretrained.classifier.weight.clone()
    fe = transfer.feature_extractor(pretrained, 4)
    assert parameter_count(fe, trainable_only=True) == 1280 * 4 + 4
    assert parameter_count(pretrained, trainable_only=True) == n_params(pretrained)  # the original is untouched
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


def test_grey_to_rgb_matches_the_pretrained_normalisation():
    x = torch.randn(2, 1, 28, 28)
    out = transfer.GreyToRGB(size=64)(x)
    assert out.shape == (2, 3, 64, 64)
    assert torch.equal(out[:, 0], out[:, 2])
    assert torch.equal(transfer.GreyToRGB()(x)[:, 1:2], 0.5 * x)
