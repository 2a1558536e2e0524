"""Two baselines without convolutions: softmax regression and a one-hidden-layer MLP. Lesson 04.

Lesson 04 puts LeNet-5 between them to measure the bias–variance claim: a linear model is too
simple for images (high bias: train and test accuracy both low), a fully connected network
with as many parameters as LeNet can fit its training images but ignores that neighbouring
pixels belong together (it must learn every pattern at every position: high variance), and a
CNN builds locality and weight sharing in.
"""

from __future__ import annotations

from torch import nn


def softmax_regression(num_classes: int = 10, in_features: int = 28 * 28) -> nn.Sequential:
    """Flatten, then one linear layer: logits = W·x + b (7,850 parameters for 28×28 and 10 classes). Lesson 04."""
    return nn.Sequential(nn.Flatten(), nn.Linear(in_features, num_classes))      # (N, num_classes)


def mlp(num_classes: int = 10, in_features: int = 28 * 28, hidden: int = 80) -> nn.Sequential:
    """Flatten, a hidden layer of ``hidden`` ReLU units, the output layer. Lesson 04.

    With the default 80 hidden units it has 784·80 + 80 + 80·10 + 10 = 63,610 parameters, a few
    more than LeNet-5's 61,706.
    """
    return nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU(),   # (N, hidden)
                         nn.Linear(hidden, num_classes))                            # (N, num_classes)
