"""ResNet (He et al., 2015): residual blocks, and their plain twins. Lesson 06.

A residual block learns F(x) = H(x) − x and outputs ReLU(F(x) + x): the identity is the
default, and the gradient reaches early layers through the shortcut. When a block changes
the shape (stride 2, or more channels) the shortcut becomes a projection, a 1×1 conv with
the same stride followed by batch norm. ``shortcut=False`` builds the "plain" twin, the
same layers without any shortcut, for the degradation experiment: a deeper plain net
trains *worse*, which is not overfitting.

A ResNet is a stem, a list of stages (``RESNET_STAGES``: blocks per stage), global average
pooling and one fully connected layer. ``resnet18()`` has exactly 11,689,512 parameters.
"""

from __future__ import annotations

from typing import Sequence

from torch import nn

RESNET_STAGES: dict[str, list[int]] = {
    "resnet18": [2, 2, 2, 2],
    "resnet34": [3, 4, 6, 3],
    "resnet50": [3, 4, 6, 3],     # same counts as resnet34, with Bottleneck blocks
    "resnet101": [3, 4, 23, 3],
    "resnet152": [3, 8, 36, 3],
}
IMAGENET_WIDTHS = (64, 128, 256, 512)


def conv_bn(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> nn.Sequential:
    """Conv ("same" padding, no bias: the batch norm's β replaces it) followed by batch norm."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
    )


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


def make_stage(block: type[nn.Module], in_channels: int, width: int, blocks: int, stride: int,
               shortcut: bool = True) -> tuple[nn.Sequential, int]:
    """``blocks`` blocks of one width; the first one may downsample. Returns (stage, out_channels). Lesson 06."""
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


def resnet(stages: str | Sequence[int], block: type[nn.Module] = BasicBlock, num_classes: int = 1000,
           in_channels: int = 3, widths: Sequence[int] = IMAGENET_WIDTHS, stem: str = "imagenet",
           shortcut: bool = True) -> ResNet:
    """A ResNet from a list of blocks per stage (or a name in ``RESNET_STAGES``). Lesson 06.

    Every stage after the first halves H and W (stride 2 in its first block) while its
    width grows, as in the paper.

    Args:
        stages: blocks per stage, e.g. [2, 2, 2, 2], or "resnet18", "resnet34", ...
        block: BasicBlock or Bottleneck.
        num_classes: size of the output layer.
        in_channels: channels of the input image.
        widths: width of each stage (one per stage); the stem has widths[0] channels.
        stem: "imagenet" (7×7 stride 2 + max pool, /4) or "small" (3×3, stride 1).
        shortcut: False builds the plain twin (no shortcuts anywhere).

    Returns:
        The network: (N, in_channels, H, W) -> logits (N, num_classes).
    """
    if isinstance(stages, str):
        if stages not in RESNET_STAGES:
            raise ValueError(f"resnet: unknown layout {stages!r}; choose one of {sorted(RESNET_STAGES)}")
        stages = RESNET_STAGES[stages]
    if len(stages) != len(widths):
        raise ValueError(f"resnet: {len(stages)} stages {list(stages)} but {len(widths)} widths {list(widths)}")
    stems = {"imagenet": imagenet_stem, "small": small_stem}
    if stem not in stems:
        raise ValueError(f"resnet: unknown stem {stem!r}; choose one of {sorted(stems)}")

    channels = widths[0]
    body = []
    for i, (blocks, width) in enumerate(zip(stages, widths)):
        stage, channels = make_stage(block, channels, width, blocks, 1 if i == 0 else 2, shortcut)
        body.append(stage)
    return ResNet(stems[stem](in_channels, widths[0]), nn.Sequential(*body), channels, num_classes)


def resnet18(num_classes: int = 1000) -> ResNet:
    """ResNet-18 for 224×224 RGB images: 11,689,512 parameters with 1000 classes. Lesson 06."""
    return resnet("resnet18", BasicBlock, num_classes)


def resnet34(num_classes: int = 1000) -> ResNet:
    """ResNet-34 for 224×224 RGB images (21,797,672 parameters). Lesson 06."""
    return resnet("resnet34", BasicBlock, num_classes)


def resnet50(num_classes: int = 1000) -> ResNet:
    """ResNet-50 (Bottleneck blocks) for 224×224 RGB images (25,557,032 parameters). Lesson 06."""
    return resnet("resnet50", Bottleneck, num_classes)


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
