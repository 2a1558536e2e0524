"""Data augmentation on batches of images (N, C, H, W), on whatever device they are. Lesson 05.

Each function takes a batch and returns a new, randomly changed batch of the same shape: a
different shift or flip for every image. ``cnnlab.train.fit`` applies one to every training
batch (``augment=``), never to validation or test batches.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

Augment = Callable[[torch.Tensor], torch.Tensor]


def random_crop(x: torch.Tensor, padding: int = 2) -> torch.Tensor:
    """Shift every image by up to ``padding`` pixels in each direction (pad, then crop back). Lesson 05.

    The border is padded by repeating the edge pixels, so no artificial frame appears.

    Args:
        x: images (N, C, H, W).
        padding: largest shift in pixels.

    Returns:
        Shifted images (N, C, H, W), an independent random shift per image.
    """
    if x.dim() != 4:
        raise ValueError(f"random_crop: expected images (N, C, H, W), got shape {tuple(x.shape)}")
    if padding == 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (padding,) * 4, mode="replicate")                      # (N, C, H+2p, W+2p)
    dy = torch.randint(0, 2 * padding + 1, (n, 1), device=x.device)
    dx = torch.randint(0, 2 * padding + 1, (n, 1), device=x.device)
    rows = (dy + torch.arange(h, device=x.device))[:, None, :, None]        # (N, 1, H, 1)
    cols = (dx + torch.arange(w, device=x.device))[:, None, None, :]        # (N, 1, 1, W)
    batch = torch.arange(n, device=x.device)[:, None, None, None]           # (N, 1, 1, 1)
    channel = torch.arange(x.shape[1], device=x.device)[None, :, None, None]  # (1, C, 1, 1)
    return padded[batch, channel, rows, cols]                                # (N, C, H, W)


def random_hflip(x: torch.Tensor, p: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``. Lesson 05.

    Args:
        x: images (N, C, H, W).

    Returns:
        Images (N, C, H, W), some of them flipped.
    """
    if x.dim() != 4:
        raise ValueError(f"random_hflip: expected images (N, C, H, W), got shape {tuple(x.shape)}")
    flip = torch.rand(x.shape[0], device=x.device) < p                       # (N,)
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def compose(*augments: Augment) -> Augment:
    """Chain augmentations left to right: ``compose(random_crop, random_hflip)(x)``. Lesson 05."""
    def apply(x: torch.Tensor) -> torch.Tensor:
        for augment in augments:
            x = augment(x)
        return x
    apply.__name__ = " + ".join(getattr(augment, "__name__", "augment") for augment in augments)
    return apply


def standard_augment(padding: int = 2) -> Augment:
    """Shift by up to ``padding`` pixels, then flip half the images: the usual recipe for small images."""
    def shift(x: torch.Tensor) -> torch.Tensor:
        return random_crop(x, padding)
    shift.__name__ = f"random_crop(padding={padding})"
    return compose(shift, random_hflip)
