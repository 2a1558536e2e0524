"""Where did the network look? Saliency maps and Grad-CAM. Lesson 07.

Both answer "which pixels made the score of class c high?" with a gradient:

- ``saliency`` (Simonyan et al., 2014): the gradient of the class score with respect to
  the input pixels. Sharp but noisy: it shows single pixels whose change would move the
  score most.
- ``grad_cam`` (Selvaraju et al., 2017): the gradient with respect to the feature maps of
  a late conv layer, averaged over space to give one weight per channel; the weighted sum
  of the maps, clipped at 0, is a coarse map of the regions that speak *for* class c.
  Late layers see whole object parts, so the map highlights objects rather than edges.

Both return maps scaled to [0, 1] per image, with the input's height and width.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn
from torch.nn import functional as F

from .images import MAX_WIDTH

__all__ = ["saliency", "grad_cam", "show_heatmap"]


def _targets(target: int | Sequence[int] | torch.Tensor, n: int, device: torch.device) -> torch.Tensor:
    """One class index per image (N,); a single int applies to every image."""
    t = torch.as_tensor(target, device=device).long().reshape(-1)
    if t.numel() == 1:
        t = t.expand(n)
    if t.numel() != n:
        raise ValueError(f"target has {t.numel()} classes for {n} images")
    return t


def _check_images(name: str, x: torch.Tensor) -> None:
    if x.dim() != 4:
        raise ValueError(f"{name}: expected images (N, C, H, W), got shape {tuple(x.shape)}")


def _rescale(maps: torch.Tensor) -> torch.Tensor:
    """Scale each map of (N, H, W) to [0, 1] (an all-zero map stays zero)."""
    flat = maps.flatten(1)
    low = flat.min(dim=1).values[:, None, None]
    span = (flat.max(dim=1).values[:, None, None] - low).clamp_min(1e-12)
    return (maps - low) / span


def _class_scores(model: nn.Module, x: torch.Tensor, target) -> torch.Tensor:
    """Sum over the batch of each image's logit for its target class (a scalar to differentiate)."""
    logits = model(x)                                                       # (N, K)
    t = _targets(target, len(x), logits.device)
    return logits.gather(1, t[:, None]).sum()


def saliency(model: nn.Module, x: torch.Tensor, target: int | Sequence[int] | torch.Tensor) -> torch.Tensor:
    """Vanilla gradient saliency: |d score_target / d pixel|, max over colour channels. Lesson 07.

    Args:
        model: a classifier returning logits (N, K); put it in eval mode first.
        x: images (N, C, H, W), already preprocessed.
        target: the class to explain, one int for all images or one per image.

    Returns:
        Heat maps (N, H, W) in [0, 1], on the CPU.
    """
    _check_images("saliency", x)
    x = x.detach().clone().requires_grad_(True)
    score = _class_scores(model, x, target)
    (grad,) = torch.autograd.grad(score, x)                                  # (N, C, H, W)
    return _rescale(grad.abs().amax(dim=1)).cpu()                           # (N, H, W)


def grad_cam(model: nn.Module, x: torch.Tensor, target: int | Sequence[int] | torch.Tensor,
             layer: nn.Module) -> torch.Tensor:
    """Grad-CAM heat maps for ``target``, read at ``layer``'s output. Lesson 07.

    Args:
        model: a classifier returning logits (N, K); put it in eval mode first.
        x: images (N, C, H, W), already preprocessed.
        target: the class to explain, one int for all images or one per image.
        layer: a module inside ``model`` whose output is a feature map (N, K, h, w), usually
            the last conv block (``model.features.head`` for EfficientNet-Lite0).

    Returns:
        Heat maps (N, H, W) in [0, 1], upsampled from h×w to the input size, on the CPU.
    """
    _check_images("grad_cam", x)
    x = x.detach().clone().requires_grad_(True)     # so the maps join the graph even in a frozen model
    captured = {}
    hook = layer.register_forward_hook(lambda module, inputs, output: captured.update(maps=output))
    try:
        score = _class_scores(model, x, target)
    finally:
        hook.remove()
    if "maps" not in captured:
        raise ValueError("grad_cam: the layer was not used in the forward pass; pass a module of the model")
    maps = captured["maps"]                                                  # (N, K, h, w)
    if maps.dim() != 4:
        raise ValueError(f"grad_cam: the layer must output feature maps (N, K, h, w), got {tuple(maps.shape)}")
    (grads,) = torch.autograd.grad(score, maps)                              # (N, K, h, w)
    weights = grads.mean(dim=(2, 3), keepdim=True)                           # (N, K, 1, 1): one per channel
    cam = F.relu((weights * maps).sum(dim=1, keepdim=True))                  # (N, 1, h, w)
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)  # (N, 1, H, W)
    return _rescale(cam[:, 0].detach()).cpu()                               # (N, H, W)


def show_heatmap(image: np.ndarray, heat, alpha: float = 0.5, title: str = "",
                 cmap: str = "jet") -> Figure:
    """The image, the heat map, and the heat map laid over the image, side by side. Lesson 07.

    Args:
        image: the picture the network saw, (H, W, 3) uint8 or float in [0, 1], or (H, W).
        heat: heat map (H, W) in [0, 1] (a tensor or array); resized if its size differs.
        alpha: opacity of the heat map in the overlay.
        title: figure title.
    """
    heat = heat.detach().cpu().numpy() if hasattr(heat, "detach") else np.asarray(heat)
    if heat.ndim != 2:
        raise ValueError(f"show_heatmap: heat must be one map (H, W), got shape {heat.shape}")
    image = np.asarray(image)
    if image.shape[:2] != heat.shape:
        resized = F.interpolate(torch.as_tensor(heat, dtype=torch.float32)[None, None],
                                size=image.shape[:2], mode="bilinear", align_corners=False)
        heat = resized[0, 0].numpy()
    gray = image.ndim == 2
    fig, axes = plt.subplots(1, 3, figsize=(MAX_WIDTH, 3.5), layout="constrained")   # leaves room for the title
    axes[0].imshow(image, cmap="gray" if gray else None)
    axes[0].set_title("image")
    axes[1].imshow(heat, cmap=cmap, vmin=0, vmax=1)
    axes[1].set_title("heat map")
    axes[2].imshow(image, cmap="gray" if gray else None)
    axes[2].imshow(heat, cmap=cmap, vmin=0, vmax=1, alpha=alpha)
    axes[2].set_title("overlay")
    for ax in axes:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return fig
