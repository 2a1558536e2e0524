"""A tiny single-shot detector (the SSD idea, Liu et al., ECCV 2016) for the Fashion-MNIST scenes. Lesson 09.

One pass of a small CNN turns the image into a grid of feature vectors, one per
``stride`` × ``stride`` patch. At every grid cell sit a few anchor boxes (``cnnlab.boxes``);
for each anchor a 3×3 conv predicts class scores (background + the classes) and four numbers
that move and stretch the anchor onto the object. No region proposals, no second stage:
detection becomes dense classification and regression, trained with

- cross-entropy on the anchor classes, with *hard negative mining*: nearly all anchors are
  background, so only the background anchors the network finds hardest (three per object
  anchor) count, otherwise the easy background would swamp the loss;
- a smooth L1 loss on the box offsets of the object anchors only.

At test time the scores go through non-maximum suppression, class by class.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.boxes import decode_boxes, make_anchors, match_anchors, nms_per_class


def _unit(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class TinySSD(nn.Module):
    """Backbone down to stride 8, then one 3×3 conv predicting, per anchor, classes and box offsets. Lesson 09.

    Args:
        num_classes: object classes (background comes on top, as class 0 of the scores).
        image_size: side of the square input; the grid is image_size / 8 cells a side.
        widths: channels of the backbone stages; a 2×2 max pool follows each of the first three.
        anchor_sizes: anchor sides in pixels.
        anchor_ratios: anchor width / height.

    Attributes:
        anchors: (cells · A, 4) NumPy boxes in the order of the predictions.
    """

    stride = 8

    def __init__(self, num_classes: int = 10, image_size: int = 64, widths: Sequence[int] = (16, 32, 64, 96),
                 anchor_sizes: Sequence[float] = (16, 28), anchor_ratios: Sequence[float] = (0.5, 1.0, 2.0)):
        super().__init__()
        if image_size % self.stride:
            raise ValueError(f"TinySSD: image_size must be a multiple of {self.stride}, got {image_size}")
        if len(widths) != 4:
            raise ValueError(f"TinySSD: widths must name four stages, got {tuple(widths)}")
        self.num_classes = num_classes
        self.per_anchor = len(anchor_sizes) * len(anchor_ratios)
        a, b, c, d = widths
        self.backbone = nn.Sequential(
            _unit(1, a), nn.MaxPool2d(2),                  # (N, a, S/2, S/2)
            _unit(a, b), nn.MaxPool2d(2),                  # (N, b, S/4, S/4)
            _unit(b, c), nn.MaxPool2d(2),                  # (N, c, S/8, S/8)
            _unit(c, d), _unit(d, d))                      # (N, d, S/8, S/8): each cell sees about 60 pixels
        self.head = nn.Conv2d(d, self.per_anchor * (num_classes + 1 + 4), 3, padding=1)
        self.anchors = make_anchors(image_size // self.stride, self.stride, anchor_sizes, anchor_ratios)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (N, 1, S, S) -> class logits (N, P, num_classes + 1) and offsets (N, P, 4), P anchors."""
        out = self.head(self.backbone(x))                                   # (N, A·(K+1+4), G, G)
        n = out.shape[0]
        out = out.permute(0, 2, 3, 1).reshape(n, -1, self.num_classes + 1 + 4)   # (N, G·G·A, K+1+4)
        return out[..., :-4], out[..., -4:]


def tiny_ssd(num_classes: int = 10, image_size: int = 64, widths: Sequence[int] = (16, 32, 64, 96),
             anchor_sizes: Sequence[float] = (16, 28), anchor_ratios: Sequence[float] = (0.5, 1.0, 2.0)) -> TinySSD:
    """A ``TinySSD`` for 1-channel square images. Lesson 09."""
    return TinySSD(num_classes, image_size, widths, anchor_sizes, anchor_ratios)


def detection_targets(anchors: np.ndarray, boxes: Sequence[np.ndarray], labels: Sequence[np.ndarray],
                      iou_threshold: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """The class and offsets every anchor should predict, for a batch of images (``match_anchors``). Lesson 09.

    Returns:
        classes (N, P) int64 (0 = background) and offsets (N, P, 4) float32.
    """
    pairs = [match_anchors(anchors, b, lab, iou_threshold) for b, lab in zip(boxes, labels)]
    classes = torch.from_numpy(np.stack([c for c, _ in pairs]))
    offsets = torch.from_numpy(np.stack([o for _, o in pairs])).float()
    return classes, offsets


def detection_loss(class_logits: torch.Tensor, offsets: torch.Tensor, target_classes: torch.Tensor,
                   target_offsets: torch.Tensor, negatives_per_positive: int = 3) -> torch.Tensor:
    """SSD's loss: cross-entropy with hard negative mining, plus smooth L1 on the object anchors' boxes. Lesson 09.

    Args:
        class_logits: (N, P, K+1); offsets: (N, P, 4) as the detector predicts them.
        target_classes: (N, P), 0 = background; target_offsets: (N, P, 4).
        negatives_per_positive: background anchors kept per object anchor, the hardest ones.

    Returns:
        The loss, averaged over the object anchors of the batch.
    """
    ce = F.cross_entropy(class_logits.flatten(0, 1), target_classes.flatten(), reduction="none")
    ce = ce.view_as(target_classes)                                         # (N, P)
    positive = target_classes > 0                                           # (N, P)
    n_pos = positive.sum(dim=1, keepdim=True)                               # (N, 1)
    # rank each image's background anchors by their loss; keep the worst 3 per object anchor
    background_loss = ce.detach().masked_fill(positive, -1.0)
    rank = background_loss.argsort(dim=1, descending=True).argsort(dim=1)   # (N, P): 0 = hardest
    hard_negative = rank < negatives_per_positive * n_pos.clamp(min=1)
    class_loss = ce[positive | hard_negative].sum()
    box_loss = F.smooth_l1_loss(offsets[positive], target_offsets[positive], reduction="sum")
    return (class_loss + box_loss) / n_pos.sum().clamp(min=1)


class Detections(NamedTuple):
    """What a detector found in one image: boxes (K, 4), scores (K,), classes (K,), best first. Lesson 09."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray


@torch.no_grad()
def detect(model: TinySSD, images: torch.Tensor, score_threshold: float = 0.05, iou_threshold: float = 0.45,
           max_detections: int = 100, candidates: int = 200, batch_size: int = 256) -> list[Detections]:
    """Boxes, scores and classes for each image: decode every anchor, drop weak scores, NMS per class. Lesson 09.

    Every (anchor, class) pair whose softmax probability reaches ``score_threshold`` is a
    candidate box of that class, the ``candidates`` most probable of them at most (an
    untrained network is unsure everywhere, and NMS over thousands of boxes is slow);
    non-maximum suppression then keeps one box per object and class, and the
    ``max_detections`` best remain.

    Args:
        model: a trained ``TinySSD``.
        images: (N, 1, S, S).
        score_threshold: smallest class probability kept.
        iou_threshold: NMS threshold.
        max_detections: boxes kept per image.
        candidates: (anchor, class) pairs considered per image before NMS.
        batch_size: images per forward pass.

    Returns:
        One ``Detections`` per image.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    found = []
    for start in range(0, len(images), batch_size):
        logits, offsets = model(images[start:start + batch_size].to(device))
        probs = logits.softmax(dim=-1)[..., 1:].cpu().numpy()             # (n, P, K): no background
        offsets = offsets.cpu().numpy()                                    # (n, P, 4)
        for p, t in zip(probs, offsets):
            best = np.argsort(-p, axis=None, kind="stable")[:candidates]    # the most probable (anchor, class) pairs
            best = best[p.ravel()[best] >= score_threshold]
            anchor, cls = np.unravel_index(best, p.shape)
            boxes = decode_boxes(t[anchor], model.anchors[anchor])
            scores = p[anchor, cls]
            keep = nms_per_class(boxes, scores, cls, iou_threshold)[:max_detections]
            found.append(Detections(boxes[keep], scores[keep], cls[keep].astype(np.int64)))
    model.train(was_training)
    return found
