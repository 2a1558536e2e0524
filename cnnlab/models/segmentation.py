"""A small encoder–decoder for semantic segmentation: the U-Net idea with dilated convolutions. Lesson 09.

A segmentation network must say *what* (which needs a wide view of the object) and *where*
(which needs full resolution). The encoder shrinks the image to a coarse grid of rich features;
the decoder grows it back with transposed convolutions; skip connections (Ronneberger et al.,
U-Net, 2015) hand the decoder the encoder's sharper maps of the same size, so the outline
does not have to survive the trip through the coarse grid. Dilated convolutions (Yu & Koltun,
2016) widen the view at the coarsest level without shrinking the grid further.

``SmallUNet`` for 1×S×S scenes (S = 64; widths a, b, c; every conv 3×3 + batch norm + ReLU):

    image ─ conv (a, S) ───────────────────────────────────────────────────┐ skip: the outline
      └ max pool ─ conv (b, S/2) ─ max pool ─ conv (b, S/4) ──────────────┐ │ skip
          max pool ─ conv (c, S/8) ─ conv dilation 2 ─ conv dilation 4    │ │
          transposed conv 2×2 stride 2 (b, S/4) ─ concatenate ────────────┘ │
          conv (b) ─ transposed conv 4×4 stride 4 (a, S) ─ concatenate ─────┘
          conv 1×1 → class scores (num_classes, S)

Every transposed convolution has a kernel as large as its stride, so each output pixel gets
exactly one stamp: no checkerboard (lesson 09 shows why).
"""

from __future__ import annotations

import torch
from torch import nn


def conv_unit(c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """3×3 conv (no bias) → batch norm → ReLU; padding keeps the size (divided by the stride). Lesson 09."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class SmallUNet(nn.Module):
    """Encoder (pools, dilated context) and decoder (transposed convs) with skip connections. Lesson 09.

    Args:
        num_classes: classes per pixel (background included).
        widths: channels (a, b, c) at full size, at S/2 and S/4, and at S/8 (see the module docstring).
        dilations: dilations of the convolutions after the first one at S/8; (1, 1) for none.
        skips: with the skip connections (False: a plain encoder–decoder, for comparison).
    """

    def __init__(self, num_classes: int = 11, widths: tuple[int, int, int] = (16, 32, 64),
                 dilations: tuple[int, ...] = (2, 4), skips: bool = True):
        super().__init__()
        a, b, c = widths
        self.skips = skips
        self.stem = conv_unit(1, a)                                                  # (N, a, S, S)
        self.encoder = nn.Sequential(nn.MaxPool2d(2), conv_unit(a, b), nn.MaxPool2d(2), conv_unit(b, b))
        self.context = nn.Sequential(nn.MaxPool2d(2), conv_unit(b, c),
                                     *(conv_unit(c, c, dilation=d) for d in dilations))
        self.up1 = nn.ConvTranspose2d(c, b, kernel_size=2, stride=2)                 # S/8 -> S/4
        self.decoder = conv_unit(2 * b if skips else b, b)
        self.up2 = nn.Sequential(nn.ConvTranspose2d(b, a, kernel_size=4, stride=4), nn.ReLU(inplace=True))
        self.classify = nn.Conv2d(2 * a if skips else a, num_classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, 1, S, S), S divisible by 8 -> class scores (N, num_classes, S, S)."""
        outline = self.stem(x)                                                       # (N, a, S, S)
        features = self.encoder(outline)                                             # (N, b, S/4, S/4)
        y = self.up1(self.context(features))                                         # (N, b, S/4, S/4)
        if self.skips:
            y = torch.cat([y, features], dim=1)                                      # (N, 2b, S/4, S/4)
        y = self.up2(self.decoder(y))                                                # (N, a, S, S)
        if self.skips:
            y = torch.cat([y, outline], dim=1)                                       # (N, 2a, S, S)
        return self.classify(y)                                                      # (N, K, S, S)


def small_unet(num_classes: int = 11, widths: tuple[int, int, int] = (16, 32, 64),
               dilations: tuple[int, ...] = (2, 4), skips: bool = True) -> SmallUNet:
    """A ``SmallUNet`` for 1-channel images whose side is a multiple of 8. Lesson 09."""
    return SmallUNet(num_classes, widths, dilations, skips)
