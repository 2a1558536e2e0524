"""VGG (Simonyan & Zisserman, 2014): a network written down as a list. Lesson 05.

Every VGG is a stack of 3×3 convs ("same" padding) separated by 2×2 max pools, with the
channel count doubling after each pool, then a fully connected classifier. So the whole
feature extractor is a list: a number is a 3×3 conv with that many filters (+ ReLU), and
``"M"`` is a 2×2 max pool. ``vgg`` turns any such list into a network with one loop.

``vgg16()`` is the ImageNet layout (224×224 RGB in, 1000 classes out) with exactly
138,357,544 parameters, 102,764,544 of them in the first fully connected layer
(25,088 → 4,096). ``small_vgg()`` is a VGG-style net for 1×28×28 Fashion-MNIST.
"""

from __future__ import annotations

from typing import Sequence, Union

from torch import nn

Config = Sequence[Union[int, str]]

VGG_CONFIGS: dict[str, list[int | str]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
              512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
    # 28×28 Fashion-MNIST: three [conv-conv-pool] blocks, 28 -> 14 -> 7 -> 3.
    "vgg_fashion": [32, 32, "M", 64, 64, "M", 128, 128, "M"],
}


def vgg_features(config: Config, in_channels: int = 3, batch_norm: bool = False) -> tuple[nn.Sequential, int]:
    """The convolutional part of a VGG, one loop over ``config``. Lesson 05.

    Args:
        config: numbers (3×3 conv with that many filters) and "M" (2×2 max pool, stride 2).
        in_channels: channels of the input image.
        batch_norm: put a batch norm between each conv and its ReLU (conv -> BN -> ReLU).

    Returns:
        (features, out_channels): the network (N, C, H, W) -> (N, out_channels, H', W'),
        where every "M" halves H and W, and the channel count after the last conv.
    """
    layers: list[nn.Module] = []
    channels = in_channels
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(2))                                   # (N, C, H/2, W/2)
        elif isinstance(item, int) and item > 0:
            # A conv followed by batch norm needs no bias: BN's shift β plays its part.
            layers.append(nn.Conv2d(channels, item, 3, padding=1, bias=not batch_norm))  # (N, item, H, W)
            if batch_norm:
                layers.append(nn.BatchNorm2d(item))
            layers.append(nn.ReLU(inplace=True))
            channels = item
        else:
            raise ValueError(f"vgg: config items are positive ints (conv filters) or 'M' (max pool), got {item!r}")
    return nn.Sequential(*layers), channels


def vgg_classifier(in_features: int, num_classes: int, hidden: Sequence[int] = (4096, 4096),
                   dropout: float = 0.5) -> nn.Sequential:
    """Fully connected head: (Linear -> ReLU -> Dropout) per hidden width, then the output layer. Lesson 05."""
    layers: list[nn.Module] = [nn.Flatten()]                                 # (N, C*H*W)
    features = in_features
    for width in hidden:
        layers += [nn.Linear(features, width), nn.ReLU(inplace=True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        features = width
    layers.append(nn.Linear(features, num_classes))                          # (N, num_classes)
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """features -> adaptive average pool -> classifier. Lesson 05."""

    def __init__(self, features: nn.Sequential, pool: nn.Module, classifier: nn.Sequential):
        super().__init__()
        self.features = features
        self.pool = pool
        self.classifier = classifier

    def forward(self, x):
        x = self.features(x)       # (N, C, H', W')
        x = self.pool(x)           # (N, C, P, P)
        return self.classifier(x)  # (N, num_classes)


def vgg(config: str | Config, num_classes: int = 1000, batch_norm: bool = False, in_channels: int = 3,
        dropout: float = 0.5, hidden: Sequence[int] = (4096, 4096), pool_size: int = 7) -> VGG:
    """A VGG network from a config name in ``VGG_CONFIGS`` or a list. Lesson 05.

    Args:
        config: "vgg11", "vgg13", "vgg16", "vgg19", "vgg_fashion", or a list like [64, "M", ...].
        num_classes: size of the output layer.
        batch_norm: conv -> BN -> ReLU instead of conv -> ReLU.
        in_channels: channels of the input image.
        dropout: dropout probability after each hidden fully connected layer (0 turns it off).
        hidden: widths of the hidden fully connected layers.
        pool_size: the feature maps are average-pooled to pool_size × pool_size before the
            classifier (7 for ImageNet: a 224×224 input already arrives at 7×7, and any other
            input size still fits the classifier).

    Returns:
        The network: (N, in_channels, H, W) -> logits (N, num_classes).
    """
    if isinstance(config, str):
        if config not in VGG_CONFIGS:
            raise ValueError(f"vgg: unknown config {config!r}; choose one of {sorted(VGG_CONFIGS)} or pass a list")
        config = VGG_CONFIGS[config]
    features, channels = vgg_features(config, in_channels, batch_norm)
    pool = nn.AdaptiveAvgPool2d(pool_size)                                    # (N, C, P, P)
    return VGG(features, pool, vgg_classifier(channels * pool_size * pool_size, num_classes, hidden, dropout))


def vgg16(num_classes: int = 1000, batch_norm: bool = False) -> VGG:
    """VGG-16 for 224×224 RGB images: 138,357,544 parameters with 1000 classes. Lessons 02, 05."""
    return vgg("vgg16", num_classes=num_classes, batch_norm=batch_norm)


def small_vgg(num_classes: int = 10, in_channels: int = 1, config: str | Config = "vgg_fashion",
              batch_norm: bool = True, dropout: float = 0.5, hidden: Sequence[int] = (256,)) -> VGG:
    """A VGG-style network for 28×28 images (Fashion-MNIST). Lesson 05.

    Three [conv-conv-pool] blocks (32, 64, 128 filters) take 28×28 down to 3×3, with batch
    norm after every conv, then one hidden layer of 256 with dropout.

    Returns:
        The network: (N, in_channels, 28, 28) -> logits (N, num_classes).
    """
    return vgg(config, num_classes=num_classes, batch_norm=batch_norm, in_channels=in_channels,
               dropout=dropout, hidden=hidden, pool_size=3)
