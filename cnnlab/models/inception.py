"""Inception / GoogLeNet (Szegedy et al., 2014, "Going deeper with convolutions"). Lesson 08.

- ``InceptionBlock`` / ``inception_block``: four parallel branches (1×1, 1×1→3×3, 1×1→5×5,
  3×3 max pool→1×1) whose outputs are concatenated along the channels. The 1×1 convolutions
  in front of the 3×3 and 5×5 ("bottlenecks") shrink the channels first, which is what makes
  the wide branches affordable.
- ``googlenet``: GoogLeNet from ``GOOGLENET_LAYOUT`` and ``INCEPTION_TABLE``, without the
  auxiliary heads.
- ``small_inception``: an Inception-style network for 1×28×28 Fashion-MNIST images.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.models.blocks import conv_bn

BN_EPS = 0.001  # the batch-norm epsilon of the BN-Inception family of implementations


UNIT = dict(activation=nn.ReLU, eps=BN_EPS)
"""How every Inception conv is a ``conv_bn``: batch norm with ε = 0.001, then ReLU."""


def _reduce_then_conv(in_channels: int, reduce: int | None, out_channels: int,
                      kernel_size: int) -> nn.Sequential:
    """A 1×1 bottleneck down to ``reduce`` channels (skipped when None), then a k×k "same" conv."""
    units: list[nn.Module] = []
    channels = in_channels
    if reduce is not None:
        units.append(conv_bn(channels, reduce, 1, **UNIT))              # (N, reduce, H, W)
        channels = reduce
    units.append(conv_bn(channels, out_channels, kernel_size, **UNIT))
    return nn.Sequential(*units)                                         # (N, out, H, W)


class InceptionBlock(nn.Module):
    """Four parallel branches over the same input, concatenated along the channels. Lesson 08.

    ===========  =========================================  ==============
    branch       layers                                     out channels
    ===========  =========================================  ==============
    ``branch1``  1×1 conv                                   ``c1``
    ``branch3``  1×1 conv (bottleneck) → 3×3 conv           ``c3``
    ``branch5``  1×1 conv (bottleneck) → 5×5 conv           ``c5``
    ``branch_pool``  3×3 max pool (stride 1) → 1×1 conv     ``pool_proj``
    ===========  =========================================  ==============

    Every branch keeps H×W, so the outputs can be stacked: the block sees the same pixels at
    several scales at once and lets training decide which scale matters. Each conv is a
    ``conv_bn`` (conv without bias → batch norm → ReLU).

    Passing ``None`` for ``c3_reduce``, ``c5_reduce`` or ``pool_proj`` drops that 1×1 conv:
    all three ``None`` give the paper's "naive" block, whose pool branch passes all
    ``in_channels`` through.

    Attributes:
        out_channels: ``c1 + c3 + c5 + pool_proj`` (``in_channels`` in place of ``pool_proj``
            when it is None).
    """

    def __init__(self, in_channels: int, c1: int, c3_reduce: int | None, c3: int,
                 c5_reduce: int | None, c5: int, pool_proj: int | None, wide_kernel: int = 5):
        super().__init__()
        sizes = {"in_channels": in_channels, "c1": c1, "c3_reduce": c3_reduce, "c3": c3,
                 "c5_reduce": c5_reduce, "c5": c5, "pool_proj": pool_proj}
        bad = {k: v for k, v in sizes.items() if v is not None and (not isinstance(v, int) or v < 1)}
        if bad:
            raise ValueError(f"InceptionBlock: channel counts must be positive integers, got {bad}")
        if wide_kernel < 1 or wide_kernel % 2 == 0:
            raise ValueError(f"InceptionBlock: wide_kernel must be odd so that 'same' padding keeps "
                             f"H×W, got {wide_kernel}")
        self.branch1 = conv_bn(in_channels, c1, 1, **UNIT)
        self.branch3 = _reduce_then_conv(in_channels, c3_reduce, c3, 3)
        self.branch5 = _reduce_then_conv(in_channels, c5_reduce, c5, wide_kernel)
        pool: list[nn.Module] = [nn.MaxPool2d(3, stride=1, padding=1)]
        if pool_proj is not None:
            pool.append(conv_bn(in_channels, pool_proj, 1, **UNIT))
        self.branch_pool = nn.Sequential(*pool)
        self.out_channels = c1 + c3 + c5 + (in_channels if pool_proj is None else pool_proj)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1(x)                       # (N, c1, H, W)
        b3 = self.branch3(x)                       # (N, c3, H, W)
        b5 = self.branch5(x)                       # (N, c5, H, W)
        bp = self.branch_pool(x)                   # (N, pool_proj, H, W)
        return torch.cat([b1, b3, b5, bp], dim=1)  # (N, c1 + c3 + c5 + pool_proj, H, W)


def inception_block(in_channels: int, c1: int, c3_reduce: int | None, c3: int,
                    c5_reduce: int | None, c5: int, pool_proj: int | None,
                    wide_kernel: int = 5) -> InceptionBlock:
    """Build an ``InceptionBlock`` from one row of the Inception table. Lesson 08.

    Args:
        in_channels: C of the input.
        c1: filters of the 1×1 branch.
        c3_reduce: 1×1 bottleneck in front of the 3×3 (None: no bottleneck).
        c3: filters of the 3×3 conv.
        c5_reduce: 1×1 bottleneck in front of the 5×5 (None: no bottleneck).
        c5: filters of the 5×5 conv.
        pool_proj: 1×1 projection after the 3×3 max pool (None: the pooled input as it is).
        wide_kernel: kernel of the "5×5" branch; 5 as in the paper (3 reproduces the common
            reference implementation, see ``googlenet``).

    Returns:
        The block: (N, in_channels, H, W) -> (N, block.out_channels, H, W).
    """
    return InceptionBlock(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj, wide_kernel)


# Table 1 of the paper: c1, c3_reduce, c3, c5_reduce, c5, pool_proj for each block.
INCEPTION_TABLE = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
# The body after the stem: Inception blocks by name, "M" a 3×3 max pool with stride 2.
GOOGLENET_LAYOUT = ["3a", "3b", "M", "4a", "4b", "4c", "4d", "4e", "M", "5a", "5b"]


def _googlenet_stem(in_channels: int) -> tuple[nn.Sequential, int]:
    """7×7/2 conv, pool, 1×1 conv, 3×3 conv, pool: 224×224 -> 28×28 with 192 channels."""
    stem = nn.Sequential(
        conv_bn(in_channels, 64, 7, stride=2, **UNIT),          # (N, 64, 112, 112)
        nn.MaxPool2d(3, stride=2, ceil_mode=True),              # (N, 64, 56, 56)
        conv_bn(64, 64, 1, **UNIT),                             # (N, 64, 56, 56)
        conv_bn(64, 192, 3, **UNIT),                            # (N, 192, 56, 56)
        nn.MaxPool2d(3, stride=2, ceil_mode=True),              # (N, 192, 28, 28)
    )
    return stem, 192


def inception_stage(in_channels: int, layout: list[str], table: dict[str, tuple[int, ...]],
                    wide_kernel: int = 5) -> tuple[nn.Sequential, int]:
    """Inception blocks and pools in the order of ``layout``, widths from ``table``. Lesson 08.

    Args:
        in_channels: C of the input to the first block.
        layout: block names (keys of ``table``) and "M" for a 3×3 max pool with stride 2.
        table: block name -> (c1, c3_reduce, c3, c5_reduce, c5, pool_proj).
        wide_kernel: kernel of the "5×5" branches.

    Returns:
        (the stage, its output channels).
    """
    layers: list[nn.Module] = []
    channels = in_channels
    for name in layout:
        if name == "M":
            layers.append(nn.MaxPool2d(3, stride=2, ceil_mode=True))    # (N, C, ⌈(H-3)/2⌉+1, ...)
            continue
        block = inception_block(channels, *table[name], wide_kernel=wide_kernel)
        layers.append(block)                                            # (N, block.out_channels, H, W)
        channels = block.out_channels
    return nn.Sequential(*layers), channels


def googlenet(num_classes: int = 1000, in_channels: int = 3, wide_kernel: int = 5,
              dropout: float = 0.4) -> nn.Sequential:
    """GoogLeNet (Inception v1) without the auxiliary heads. Lesson 08.

    Stem, then the nine Inception blocks of ``INCEPTION_TABLE`` in the order of
    ``GOOGLENET_LAYOUT``, global average pooling, dropout and one fully connected layer.
    Every conv is a ``conv_bn`` (conv without bias → BatchNorm(eps=0.001) → ReLU), the
    batch-normalised convention of the common reference implementation; the 2014 paper had
    convs with biases and local response normalisation instead (LRN is left out here).

    Parameter counts, 1000 classes, 3 input channels (the counting is in lesson 08):

    - ``wide_kernel=5`` (the paper's 5×5 branch): 7,005,832.
    - ``wide_kernel=3``: exactly 6,624,904, the figure usually quoted for GoogLeNet. It comes
      from the widely used reference implementation (ported from TensorFlow), whose "5×5"
      branch is in fact a 3×3 conv, kept so that its pretrained weights still load.
    - The paper's convention (conv with bias, no batch norm) would give 6,998,552 with 5×5.

    Args:
        num_classes: size of the output layer.
        in_channels: channels of the input image.
        wide_kernel: kernel of the wide branch of every block (5: paper; 3: reference count).
        dropout: drop probability before the classifier (0.4 in the paper).

    Returns:
        The network: input (N, in_channels, 224, 224) -> logits (N, num_classes).
    """
    stem, channels = _googlenet_stem(in_channels)
    body, channels = inception_stage(channels, GOOGLENET_LAYOUT, INCEPTION_TABLE, wide_kernel)
    return nn.Sequential(
        stem,                                    # (N, 192, 28, 28)
        body,                                    # (N, 1024, 7, 7)
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),   # (N, 1024)
        nn.Dropout(dropout),
        nn.Linear(channels, num_classes),        # (N, num_classes)
    )


# A scaled-down GoogLeNet for 1×28×28 images: same block, fewer and narrower rows. Like
# GoogLeNet's stem, the 3×3 stem and a pool bring the image down (28×28 -> 14×14) before the
# first block, so the many branches run on small maps.
SMALL_INCEPTION_STEM = 32
SMALL_INCEPTION_TABLE = {
    "a": (32, 32, 48, 8, 16, 16),         # 32 -> 112 channels at 14×14
    "b": (48, 48, 96, 12, 24, 24),        # 112 -> 192 channels at 14×14
    "c": (64, 64, 128, 16, 32, 32),       # 192 -> 256 channels at 7×7
    "d": (128, 120, 224, 24, 64, 64),     # 256 -> 480 channels at 7×7
}
SMALL_INCEPTION_LAYOUT = ["M", "a", "b", "M", "c", "d"]


def small_inception(num_classes: int = 10, in_channels: int = 1) -> nn.Sequential:
    """A small Inception-style network for 28×28 images (Fashion-MNIST). Lesson 08.

    A 3×3 stem conv at 28×28, then the pools and blocks of ``SMALL_INCEPTION_LAYOUT``
    (two blocks at 14×14, two at 7×7, widths from ``SMALL_INCEPTION_TABLE``), global average
    pooling and one fully connected layer, like GoogLeNet in miniature. It has 577,842
    parameters with 10 classes, the budget of lesson 05's ``small_vgg()`` (584,618), so that
    lesson 08 can compare the two (and a ``small_resnet`` of the same size) at equal size.

    Args:
        num_classes: size of the output layer.
        in_channels: channels of the input image.

    Returns:
        The network: input (N, in_channels, 28, 28) -> logits (N, num_classes).
    """
    stem = conv_bn(in_channels, SMALL_INCEPTION_STEM, 3, **UNIT)         # (N, 32, 28, 28)
    body, channels = inception_stage(SMALL_INCEPTION_STEM, SMALL_INCEPTION_LAYOUT,
                                     SMALL_INCEPTION_TABLE)              # (N, 480, 7, 7)
    return nn.Sequential(
        stem,
        body,
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),   # (N, 480)
        nn.Linear(channels, num_classes),        # (N, num_classes)
    )
