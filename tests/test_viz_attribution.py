"""Attribution maps: saliency and Grad-CAM, by hand and on a real photo (cnnlab.viz.attribution)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from cnnlab.data import photo
from cnnlab.models.efficientnet import preprocess
from cnnlab.viz import grad_cam, saliency, show_heatmap


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
