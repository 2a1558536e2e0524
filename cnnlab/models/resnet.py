"""ResNet (He et al., 2015): residual blocks, and their plain twins. Lesson 06.

A residual block learns F(x) = H(x) − x and outputs ReLU(F(x) + x): the identity is the
default, and the gradient reaches early layers through the shortcut. When a block changes
the shape (stride 2, or more channels) the shortcut becomes a projection, a 1×1 conv with
the same stride followed by batch norm. ``shortcut=False`` builds the "plain" twin, the
same layers without any shortcut, for the degradation experiment: a deeper plain net
trains *worse*, which is not overfitting.

A ResNet is a stem, a list of stages, global average pooling and one fully connected layer.
A ``ResNetLayout`` (``RESNET_LAYOUTS``: "resnet18" ... "resnet152") names the blocks per stage
and the block they repeat. ``resnet18()`` has exactly 11,689,512 parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from torch import nn

from cnnlab.models.blocks import conv_bn

IMAGENET_WIDTHS = (64, 128, 256, 512)


def make_shortcut(in_channels: int, out_channels: int, stride: int, shortcut: bool) -> nn.Module | None:
    """Identity when the shape is kept, a 1×1 projection (conv + BN) when it changes, None for a plain block."""
    if not shortcut:
        return None
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return conv_bn(in_channels, out_channels, 1, stride)                      # (N, out, H/stride, W/stride)


class BasicBlock(nn.Module):
    """Two 3×3 conv-BN layers plus a shortcut: ReLU(F(x) + x). Lesson 06.

    Args:
        in_channels: channels of the input.
        width: channels of both convs (and of the output).
        stride: stride of the first conv (2 halves H and W).
        shortcut: False gives the plain twin (no shortcut at all).
    """

    expansion = 1
    convs = 2                     # layers with weights on the main path

    def __init__(self, in_channels: int, width: int, stride: int = 1, shortcut: bool = True):
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = conv_bn(in_channels, width, 3, stride)
        self.conv2 = conv_bn(width, out_channels, 3)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = make_shortcut(in_channels, out_channels, stride, shortcut)

    def forward(self, x):
        identity = x                                  # (N, C, H, W)
        out = self.relu(self.conv1(x))                # (N, width, H/s, W/s)
        out = self.conv2(out)                         # (N, width, H/s, W/s)
        if self.shortcut is not None:
            identity = self.shortcut(identity)        # (N, width, H/s, W/s)
            out = out + identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """1×1 reduce -> 3×3 -> 1×1 expand (×4) plus a shortcut, as in ResNet-50. Lesson 06.

    Args:
        in_channels: channels of the input.
        width: channels of the inner 3×3 conv; the output has 4 × width channels.
        stride: stride of the 3×3 conv.
        shortcut: False gives the plain twin.
    """

    expansion = 4
    convs = 3

    def __init__(self, in_channels: int, width: int, stride: int = 1, shortcut: bool = True):
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = conv_bn(in_channels, width, 1)
        self.conv2 = conv_bn(width, width, 3, stride)
        self.conv3 = conv_bn(width, out_channels, 1)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = make_shortcut(in_channels, out_channels, stride, shortcut)

    def forward(self, x):
        identity = x                                  # (N, C, H, W)
        out = self.relu(self.conv1(x))                # (N, width, H, W)
        out = self.relu(self.conv2(out))              # (N, width, H/s, W/s)
        out = self.conv3(out)                         # (N, 4*width, H/s, W/s)
        if self.shortcut is not None:
            identity = self.shortcut(identity)        # (N, 4*width, H/s, W/s)
            out = out + identity
        return self.relu(out)


@dataclass(frozen=True)
class ResNetLayout:
    """A ResNet's body as data: blocks per stage, and which block they are. Lesson 06.

    Attributes:
        stages: blocks in each stage, e.g. (2, 2, 2, 2) for ResNet-18.
        block: ``BasicBlock`` (two 3×3 convs) or ``Bottleneck`` (1×1, 3×3, 1×1).
    """

    stages: tuple[int, ...]
    block: type[nn.Module]

    @property
    def depth(self) -> int:
        """Layers with weights as the paper counts them: stem + convs of every block + fc (18, 34, 50, ...)."""
        return 1 + self.block.convs * sum(self.stages) + 1


RESNET_LAYOUTS: dict[str, ResNetLayout] = {
    "resnet18": ResNetLayout((2, 2, 2, 2), BasicBlock),
    "resnet34": ResNetLayout((3, 4, 6, 3), BasicBlock),
    "resnet50": ResNetLayout((3, 4, 6, 3), Bottleneck),     # resnet34's counts, with Bottleneck blocks
    "resnet101": ResNetLayout((3, 4, 23, 3), Bottleneck),
    "resnet152": ResNetLayout((3, 8, 36, 3), Bottleneck),
}


def make_stage(in_channels: int, width: int, blocks: int, stride: int, block: type[nn.Module] = BasicBlock,
               shortcut: bool = True) -> tuple[nn.Sequential, int]:
    """``blocks`` blocks of one width; the first one may downsample. Returns (stage, out_channels). Lesson 06.

    Args:
        in_channels: channels coming in.
        width: the blocks' width (a Bottleneck puts out 4 × width channels).
        blocks: how many blocks.
        stride: stride of the first block (2 halves H and W).
        block: ``BasicBlock`` or ``Bottleneck``.
        shortcut: False builds the plain twin.
    """
    layers = []
    for i in range(blocks):
        layers.append(block(in_channels, width, stride if i == 0 else 1, shortcut))
        in_channels = width * block.expansion
    return nn.Sequential(*layers), in_channels


def imagenet_stem(in_channels: int, width: int) -> nn.Sequential:
    """7×7 conv stride 2 + BN + ReLU + 3×3 max pool stride 2: 224×224 -> 56×56."""
    return nn.Sequential(conv_bn(in_channels, width, 7, stride=2), nn.ReLU(inplace=True),
                         nn.MaxPool2d(3, stride=2, padding=1))


def small_stem(in_channels: int, width: int) -> nn.Sequential:
    """3×3 conv + BN + ReLU, no downsampling: for 28×28 or 32×32 images."""
    return nn.Sequential(conv_bn(in_channels, width, 3), nn.ReLU(inplace=True))


class ResNet(nn.Module):
    """stem -> stages -> global average pool -> fully connected. Lesson 06."""

    def __init__(self, stem: nn.Module, stages: nn.Sequential, out_channels: int, num_classes: int):
        super().__init__()
        self.stem = stem
        self.stages = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(out_channels, num_classes)

    def forward(self, x):
        x = self.stem(x)            # (N, widths[0], H', W')
        x = self.stages(x)          # (N, C, H'', W'')
        x = self.pool(x).flatten(1)  # (N, C)
        return self.fc(x)           # (N, num_classes)


def resnet(stages: str | Sequence[int], block: type[nn.Module] | None = None, num_classes: int = 1000,
           in_channels: int = 3, widths: Sequence[int] = IMAGENET_WIDTHS, stem: str = "imagenet",
           shortcut: bool = True) -> ResNet:
    """A ResNet from a list of blocks per stage, or from a layout's name in ``RESNET_LAYOUTS``. Lesson 06.

    Every stage after the first halves H and W (stride 2 in its first block) while its
    width grows, as in the paper.

    Args:
        stages: blocks per stage, e.g. [2, 2, 2, 2], or a layout's name: "resnet18", "resnet34",
            "resnet50", "resnet101", "resnet152" (the name brings its block: Bottleneck from 50 on).
        block: BasicBlock or Bottleneck; None takes the layout's block (BasicBlock for a list).
        num_classes: size of the output layer.
        in_channels: channels of the input image.
        widths: width of each stage (one per stage); the stem has widths[0] channels.
        stem: "imagenet" (7×7 stride 2 + max pool, /4) or "small" (3×3, stride 1).
        shortcut: False builds the plain twin (no shortcuts anywhere).

    Returns:
        The network: (N, in_channels, H, W) -> logits (N, num_classes).
    """
    if isinstance(stages, str):
        if stages not in RESNET_LAYOUTS:
            raise ValueError(f"resnet: unknown layout {stages!r}; choose one of {sorted(RESNET_LAYOUTS)}")
        layout = RESNET_LAYOUTS[stages]
        if block is not None and block is not layout.block:
            raise ValueError(f"resnet: {stages} is built from {layout.block.__name__} blocks, not {block.__name__}; "
                             "pass a list of blocks per stage to build another combination")
        stages, block = layout.stages, layout.block
    block = BasicBlock if block is None else block
    if len(stages) != len(widths):
        raise ValueError(f"resnet: {len(stages)} stages {list(stages)} but {len(widths)} widths {list(widths)}")
    stems = {"imagenet": imagenet_stem, "small": small_stem}
    if stem not in stems:
        raise ValueError(f"resnet: unknown stem {stem!r}; choose one of {sorted(stems)}")

    channels = widths[0]
    body = []
    for i, (blocks, width) in enumerate(zip(stages, widths)):
        stage, channels = make_stage(channels, width, blocks, 1 if i == 0 else 2, block, shortcut)
        body.append(stage)
    return ResNet(stems[stem](in_channels, widths[0]), nn.Sequential(*body), channels, num_classes)


def resnet18(num_classes: int = 1000) -> ResNet:
    """ResNet-18 for 224×224 RGB images: 11,689,512 parameters with 1000 classes. Lesson 06."""
    return resnet("resnet18", num_classes=num_classes)


def resnet34(num_classes: int = 1000) -> ResNet:
    """ResNet-34 for 224×224 RGB images (21,797,672 parameters). Lesson 06."""
    return resnet("resnet34", num_classes=num_classes)


def resnet50(num_classes: int = 1000) -> ResNet:
    """ResNet-50 (Bottleneck blocks) for 224×224 RGB images (25,557,032 parameters). Lesson 06."""
    return resnet("resnet50", num_classes=num_classes)


def small_resnet(num_classes: int = 10, stages: Sequence[int] = (2, 2, 2), widths: Sequence[int] = (32, 64, 128),
                 in_channels: int = 1, shortcut: bool = True, depth: int | None = None) -> ResNet:
    """A ResNet for 28×28 images (Fashion-MNIST), and its plain twin with ``shortcut=False``. Lesson 06.

    Three stages at 28×28, 14×14 and 7×7 after a 3×3 stem. ``depth`` counts weighted
    layers as the paper's CIFAR family does (stem + 2 convs per block + fc: with three
    stages depth = 6n + 2, n blocks per stage, e.g. 20, 32, 56) and, when given, replaces
    ``stages``.

    Returns:
        The network: (N, in_channels, 28, 28) -> logits (N, num_classes).
    """
    if depth is not None:
        per_block = 2 * len(widths)                   # each stage adds n blocks of 2 convs
        if depth < per_block + 2 or (depth - 2) % per_block:
            raise ValueError(f"small_resnet: with {len(widths)} stages depth must be {per_block}n + 2 "
                             f"({', '.join(str(per_block * n + 2) for n in (1, 2, 3, 5, 9))}, ...), got {depth}")
        stages = [(depth - 2) // per_block] * len(widths)
    return resnet(stages, BasicBlock, num_classes, in_channels, widths, stem="small", shortcut=shortcut)
