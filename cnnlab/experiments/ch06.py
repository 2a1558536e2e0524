"""Lesson 06's experiment: how large the loss gradient is at each layer, with and without shortcuts.

Through shortcuts every layer gets a gradient of similar size; in a deep plain network it is
scaled up or down by a factor that grows with depth. Lesson 06 also trains plain and residual
networks side by side with ``cnnlab.variants.compare_variants``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from cnnlab.common import is_weighted, training


def gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """L2 norm of the cross-entropy gradient of each conv / fully connected weight, input to output. Lesson 06.

    One forward and backward pass on the batch, with the model in training mode (batch
    norm uses the batch statistics, as it does while learning). The model's gradients are
    cleared afterwards.

    Args:
        model: a classifier.
        x: a batch of images (N, C, H, W); y: labels (N,).

    Returns:
        {layer name: gradient norm}, in the order the layers were defined.
    """
    device = next(model.parameters()).device
    model.zero_grad()
    try:
        with training(model):
            loss = F.cross_entropy(model(x.to(device)), y.to(device))
            loss.backward()
        return {name: float(module.weight.grad.norm()) for name, module in model.named_modules()
                if is_weighted(module) and module.weight.grad is not None}
    finally:
        model.zero_grad()
