"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012), the ImageNet winner that started it all. Lesson 08.

``alexnet`` builds the common single-tower layout (61,100,840 parameters). Its ideas: ReLU
instead of saturating activations, dropout in the large fully connected layers, and training
on GPUs.
"""

from __future__ import annotations

from torch import nn

# (filters, kernel, stride, padding) for each conv; "M" is a 3×3 max pool with stride 2
# (overlapping pooling, as in the paper). Every conv is followed by a ReLU.
ALEXNET_FEATURES = [(64, 11, 4, 2), "M", (192, 5, 1, 2), "M",
                    (384, 3, 1, 1), (256, 3, 1, 1), (256, 3, 1, 1), "M"]
ALEXNET_HIDDEN = [4096, 4096]
ALEXNET_POOLED = 6  # the features are average-pooled to 6×6 before the classifier


def alexnet(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> nn.Sequential:
    """AlexNet, single-tower layout, built from ``ALEXNET_FEATURES``. Lesson 08.

    The paper split the network over two GPUs (two "towers" that talk only at some layers);
    the layout here is the common single-GPU version with 64-192-384-256-256 filters. With
    ``num_classes=1000`` and 3 input channels it has exactly 61,100,840 parameters, about 94 %
    of them in the three fully connected layers (the first alone has 9216·4096 + 4096).

    Args:
        num_classes: size of the output layer.
        in_channels: channels of the input image.
        dropout: drop probability in front of each hidden fully connected layer (0.5 in the paper).

    Returns:
        The network: input (N, in_channels, 224, 224) -> logits (N, num_classes). Any input of at
        least 63×63 works, because the features are average-pooled to 6×6.
    """
    layers: list[nn.Module] = []
    channels = in_channels
    for item in ALEXNET_FEATURES:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=3, stride=2))         # (N, C, (H-3)/2+1, ...)
            continue
        filters, kernel, stride, padding = item
        layers += [nn.Conv2d(channels, filters, kernel, stride, padding),  # (N, F, OH, OW)
                   nn.ReLU(inplace=True)]
        channels = filters
    layers += [nn.AdaptiveAvgPool2d(ALEXNET_POOLED), nn.Flatten()]      # (N, 256*6*6) = (N, 9216)

    features = channels * ALEXNET_POOLED * ALEXNET_POOLED
    for width in ALEXNET_HIDDEN:
        layers += [nn.Dropout(dropout), nn.Linear(features, width), nn.ReLU(inplace=True)]
        features = width
    layers.append(nn.Linear(features, num_classes))                      # (N, num_classes)
    return nn.Sequential(*layers)
