"""Transfer learning: start from a network trained on a big data set, adapt it to a small one. Lesson 07.

Two recipes, both starting from pretrained weights:

- **Feature extractor**: freeze every pretrained layer and train only a new head
  (``feature_extractor``). Cheap, and safe with very few labels: the head is a linear
  model on top of fixed features.
- **Fine-tuning**: train all layers, the pretrained ones with a smaller learning rate
  than the new head (``finetune_param_groups``), so that what they learned is adjusted,
  not wiped out.

``GreyToRGB`` feeds grey images to a network pretrained on colour photos. The lesson's
experiment, which measures the recipes against training from scratch, is
``cnnlab.experiments.ch07``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

from cnnlab.common import evaluating
from cnnlab.train import pick_device

__all__ = [
    "freeze", "unfreeze", "find_head", "replace_head", "FeatureExtractor", "feature_extractor",
    "finetune_param_groups", "extract_features", "GreyToRGB",
]



def freeze(module: nn.Module) -> nn.Module:
    """Stop gradient updates of every parameter in ``module`` (in place; returns it). Lesson 07."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def unfreeze(module: nn.Module) -> nn.Module:
    """Let every parameter of ``module`` learn again (in place; returns it). Lesson 07."""
    for p in module.parameters():
        p.requires_grad_(True)
    return module


def find_head(model: nn.Module) -> tuple[nn.Module, str, nn.Linear]:
    """The classifier: the last ``nn.Linear`` of ``model``, with its parent and attribute name.

    Works for every network of ``cnnlab.models`` (``classifier`` of EfficientNet, ``fc`` of
    ResNet, the last layer of LeNet's ``nn.Sequential``).

    Returns:
        (parent module, attribute name in the parent, the linear layer).
    """
    heads = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not heads:
        raise ValueError(f"find_head: {type(model).__name__} has no nn.Linear layer to replace")
    parent_name, _, attribute = heads[-1].rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    return parent, attribute, getattr(parent, attribute)


def replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    """Swap the classifier for a fresh ``nn.Linear`` with ``num_classes`` outputs (in place). Lesson 07.

    The new layer keeps the old input width (1280 for EfficientNet-Lite0) and is trainable
    even when the rest of the model is frozen.
    """
    if num_classes < 1:
        raise ValueError(f"replace_head: num_classes must be at least 1, got {num_classes}")
    parent, attribute, old = find_head(model)
    new = nn.Linear(old.in_features, num_classes).to(old.weight.device)
    setattr(parent, attribute, new)
    return model


class FeatureExtractor(nn.Module):
    """A frozen backbone and a trainable head: ``head(backbone(x))``. Lesson 07.

    The backbone stays in eval mode even when the whole model is put in training mode, so
    its batch-norm statistics and dropout stay as they were pretrained: frozen means frozen.
    """

    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone = freeze(backbone).eval()
        self.head = head

    def train(self, mode: bool = True) -> "FeatureExtractor":
        super().train(mode)
        self.backbone.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.backbone(x)                     # (N, D); no parameter here wants a gradient
        return self.head(features)                      # (N, num_classes)


def feature_extractor(model: nn.Module, num_classes: int) -> FeatureExtractor:
    """Pretrained ``model`` as a frozen backbone plus a new linear head. Lesson 07.

    The model is copied, its classifier replaced by ``nn.Identity`` (so the backbone returns
    the features the classifier used to read, e.g. (N, 1280) for EfficientNet-Lite0) and
    frozen; only the new ``nn.Linear(D, num_classes)`` learns.
    """
    backbone = copy.deepcopy(model)
    parent, attribute, old = find_head(backbone)
    setattr(parent, attribute, nn.Identity())
    return FeatureExtractor(backbone, nn.Linear(old.in_features, num_classes).to(old.weight.device))


def finetune_param_groups(model: nn.Module, lr: float, backbone_lr_scale: float = 0.1) -> list[dict]:
    """Optimizer parameter groups for fine-tuning: the head at ``lr``, the rest at ``lr * scale``. Lesson 07.

    Pass the result to any optimizer: ``torch.optim.Adam(finetune_param_groups(model, 1e-3))``.
    Every parameter of the model is in exactly one group (frozen ones included: unfreeze first).

    Returns:
        [{"params": backbone parameters, "lr": lr * backbone_lr_scale},
         {"params": head parameters, "lr": lr}]
    """
    if lr <= 0 or backbone_lr_scale < 0:
        raise ValueError(f"finetune_param_groups: need lr > 0 and backbone_lr_scale >= 0, "
                         f"got lr={lr}, backbone_lr_scale={backbone_lr_scale}")
    head_ids = {id(p) for p in find_head(model)[2].parameters()}
    backbone = [p for p in model.parameters() if id(p) not in head_ids]
    head = [p for p in model.parameters() if id(p) in head_ids]
    return [{"params": backbone, "lr": lr * backbone_lr_scale}, {"params": head, "lr": lr}]


@torch.no_grad()
def extract_features(backbone: nn.Module, x: torch.Tensor, batch_size: int = 64,
                     device: torch.device | str | None = None) -> torch.Tensor:
    """Run a frozen backbone once over all images and keep its outputs. Lesson 07.

    Training a head on stored features gives the same result as training a
    ``FeatureExtractor`` (the backbone never changes), at the cost of one forward pass.

    Args:
        backbone: maps images (N, C, H, W) to features (N, D), e.g. ``feature_extractor(...).backbone``.
        x: images (N, C, H, W).
        batch_size: images per forward pass.

    Returns:
        Features (N, D) on the CPU.
    """
    device = pick_device() if device is None else torch.device(device)
    with evaluating(backbone.to(device)):
        out = [backbone(x[i:i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(out)


class GreyToRGB(nn.Module):
    """Feed standardised grey images to a network pretrained on colour photos. Lesson 07.

    Repeats the one channel three times and scales it by 0.5: the ImageNet weights of
    ``efficientnet_lite0`` expect (pixel − 127) / 128, and a standardised image (std 1)
    stands for a photo whose grey levels spread by about 64, i.e. 64 / 128 = 0.5.
    Optionally resizes first (28×28 Fashion-MNIST is tiny for a network built for 224×224).
    """

    def __init__(self, size: int | None = None, scale: float = 0.5):
        super().__init__()
        self.size, self.scale = size, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.size is not None and x.shape[-1] != self.size:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)  # (N, 1, S, S)
        return (x * self.scale).expand(-1, 3, -1, -1)                                # (N, 3, S, S)
