"""A small CNN that ends in global average pooling, with a choice of padding. Lesson 09.

Stacks of 3×3 conv → batch norm → ReLU, a 2×2 max pool after each stage, then the average of
every channel over all positions and one linear layer. No layer has a weight for a position,
so the network's only clue to *where* something is comes from the padding:

- ``padding_mode="zeros"``: the usual zero padding. Near the border a filter sees zeros, and
  layer by layer that difference spreads inwards, so the network can learn where the border
  is, and with it the absolute position of a pattern (Kayhan & van Gemert, CVPR 2020);
- ``padding_mode="circular"``: the image wraps around like a torus, so there is no border.
  Every layer then commutes with a circular shift (by a multiple of the pools' total stride),
  and the global average forgets the shift: the network *cannot* tell two positions of the
  same pattern apart.
"""

from __future__ import annotations

from torch import nn

PADDING_MODES = ("zeros", "circular", "reflect", "replicate")


def global_pool_cnn(num_classes: int = 2, in_channels: int = 1, widths: tuple[int, ...] = (16, 32, 64),
                    padding_mode: str = "zeros") -> nn.Sequential:
    """Conv stages with 2×2 max pools between them, global average pooling, one linear layer. Lesson 09.

    Args:
        num_classes: outputs.
        in_channels: channels of the input.
        widths: channels of each stage (one 3×3 conv each); a pool follows every stage but the last.
        padding_mode: "zeros" (border visible) or "circular" (no border); "reflect" and
            "replicate" are accepted too.

    Returns:
        (N, in_channels, H, W) -> logits (N, num_classes), for any H, W divisible by 2^(stages − 1).
    """
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"global_pool_cnn: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    layers: list[nn.Module] = []
    channels = in_channels
    for i, width in enumerate(widths):
        layers += [nn.Conv2d(channels, width, 3, padding=1, padding_mode=padding_mode, bias=False),
                   nn.BatchNorm2d(width), nn.ReLU()]                           # (N, width, H, W)
        if i < len(widths) - 1:
            layers.append(nn.MaxPool2d(2))                                     # (N, width, H/2, W/2)
        channels = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)]   # (N, num_classes)
    return nn.Sequential(*layers)
