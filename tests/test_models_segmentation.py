"""The small U-Net of lesson 09: fully convolutional, one score map per class, sees the whole scene."""

import torch
from torch import nn

from cnnlab.models import small_unet


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
