"""LeNet-5 (LeCun et al., 1998), classic and modern. Lesson 04.

The network is Conv-Pool-Conv-Pool-FC-FC-FC. Two variants share that layout:

- ``"classic"`` keeps the 1998 choices: sigmoid activations and average pooling.
  (The paper used a scaled tanh; we use the sigmoid, as most modern re-creations do, so
  that the lesson can show how slowly a saturating activation learns.)
  On a 1×28×28 input (padding 2 in the first conv, which gives the paper's 32×32 view)
  it has exactly 61,706 parameters.
- ``"modern"`` swaps in what a designer would pick today: ReLU, max pooling and batch
  norm after every conv and hidden fully connected layer. Each batch norm adds 2
  parameters per channel (γ and β; its running mean and variance are buffers, not
  parameters): 2·(6 + 16 + 120 + 84) = 452 more, 62,158 in all.
"""

from __future__ import annotations

from torch import nn

VARIANTS = ("classic", "modern")

# (filters, kernel, padding) of the two conv layers, then the widths of the hidden FC layers.
LENET_CONVS = [(6, 5, 2), (16, 5, 0)]
LENET_HIDDEN = [120, 84]


def _conv_output(size: int, kernel: int, padding: int) -> int:
    return size - kernel + 2 * padding + 1


def lenet5(num_classes: int = 10, variant: str = "classic", in_channels: int = 1,
           image_size: int = 28) -> nn.Sequential:
    """LeNet-5 as an ``nn.Sequential`` built from ``LENET_CONVS`` and ``LENET_HIDDEN``. Lesson 04.

    Args:
        num_classes: size of the output layer.
        variant: "classic" (sigmoid, average pooling) or "modern" (batch norm, ReLU, max pooling).
        in_channels: channels of the input image (1 for Fashion-MNIST).
        image_size: height = width of the input; 28 (padding 2 keeps the first conv "same").

    Returns:
        The network: input (N, in_channels, image_size, image_size) -> logits (N, num_classes).
    """
    if variant not in VARIANTS:
        raise ValueError(f"lenet5: unknown variant {variant!r}; choose one of {VARIANTS}")
    modern = variant == "modern"
    act = nn.ReLU if modern else nn.Sigmoid
    pool = nn.MaxPool2d if modern else nn.AvgPool2d

    layers: list[nn.Module] = []
    channels, size = in_channels, image_size
    for filters, kernel, padding in LENET_CONVS:
        layers.append(nn.Conv2d(channels, filters, kernel, padding=padding))  # (N, F, OH, OW)
        if modern:
            layers.append(nn.BatchNorm2d(filters))
        layers += [act(), pool(2)]                                             # (N, F, OH/2, OW/2)
        channels, size = filters, _conv_output(size, kernel, padding) // 2
    if size < 1:
        raise ValueError(f"lenet5: a {image_size}×{image_size} input is too small for two 5×5 convs "
                         "and two 2×2 pools")

    layers.append(nn.Flatten())                                                # (N, C*H*W)
    features = channels * size * size                                          # 16*5*5 = 400 at 28×28
    for width in LENET_HIDDEN:
        layers.append(nn.Linear(features, width))
        if modern:
            layers.append(nn.BatchNorm1d(width))
        layers.append(act())
        features = width
    layers.append(nn.Linear(features, num_classes))                            # (N, num_classes)
    return nn.Sequential(*layers)
