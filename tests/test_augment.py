"""Augmentation of image batches: random shifts, flips, composition (cnnlab.augment)."""

import pytest
import torch
from torch import nn

from cnnlab.augment import compose, random_crop, random_hflip, standard_augment


def test_random_crop_shifts_each_image_within_the_padding():
    torch.manual_seed(0)
    x = torch.rand(16, 2, 6, 7)
    out = random_crop(x, padding=2)
    assert out.shape == x.shape
    padded = nn.functional.pad(x, (2, 2, 2, 2), mode="replicate")
    for i in range(len(x)):
        windows = [padded[i, :, dy:dy + 6, dx:dx + 7] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)
    assert not torch.equal(out, x)                  # some image moved
    assert torch.equal(random_crop(x, padding=0), x)
    with pytest.raises(ValueError, match="N, C, H, W"):
        random_crop(torch.zeros(6, 7))


def test_random_hflip_mirrors_some_images():
    torch.manual_seed(0)
    x = torch.rand(32, 1, 4, 5)
    out = random_hflip(x)
    flipped = [torch.equal(out[i], x[i].flip(-1)) for i in range(32)]
    kept = [torch.equal(out[i], x[i]) for i in range(32)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)
    assert torch.equal(random_hflip(x, p=0.0), x) and torch.equal(random_hflip(x, p=1.0), x.flip(-1))


def test_compose_applies_left_to_right():
    x = torch.rand(4, 1, 5, 5)
    both = compose(lambda t: t + 1, lambda t: t * 2)
    assert torch.allclose(both(x), (x + 1) * 2)
    assert standard_augment(2)(x).shape == x.shape
