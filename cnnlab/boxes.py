"""Boxes for object detection: IoU, anchors, box coding, non-maximum suppression and mAP (lesson 09).

A box is four numbers ``(x1, y1, x2, y2)`` in pixels: the left and top edges, then the right
and bottom edges, so a box's width is ``x2 − x1`` and a box covering the single pixel at
column 3, row 5 is ``(3, 5, 4, 6)``. Arrays of boxes are ``(K, 4)``. Everything here is
NumPy, small enough to read in one sitting:

- ``box_area``, ``box_iou``: intersection over union, all pairs of two sets;
- ``make_anchors``: the fixed reference boxes a single-shot detector predicts offsets from;
- ``encode_boxes`` / ``decode_boxes``: a box as offsets from an anchor, and back;
- ``match_anchors``: which anchor is responsible for which true box (the training targets);
- ``nms``, ``nms_per_class``: non-maximum suppression, one box per object;
- ``precision_recall``, ``average_precision``, ``mean_average_precision``: how good a detector
  is, following the COCO evaluation at one IoU threshold (``tests/test_boxes.py`` checks the
  numbers against ``pycocotools`` on the same boxes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

RECALL_POINTS = np.linspace(0.0, 1.0, 101)       # COCO samples precision at recall 0, 0.01, …, 1


# --------------------------------------------------------------------------- checks

def as_boxes(boxes, name: str = "boxes", func: str = "as_boxes") -> np.ndarray:
    """``boxes`` as a float64 array (K, 4) of (x1, y1, x2, y2), checked (lesson 09).

    Raises:
        ValueError: not (K, 4), or some box has x2 < x1 or y2 < y1 (a box given as
            (x, y, width, height) often shows up this way).
    """
    a = np.asarray(boxes, dtype=np.float64)
    if a.size == 0:
        return a.reshape(0, 4)
    if a.ndim != 2 or a.shape[1] != 4:
        raise ValueError(f"{func}: {name} must be (K, 4) boxes (x1, y1, x2, y2), got shape {a.shape}")
    bad = np.flatnonzero((a[:, 2] < a[:, 0]) | (a[:, 3] < a[:, 1]))
    if bad.size:
        raise ValueError(f"{func}: {name}[{bad[0]}] = {a[bad[0]].tolist()} has its right/bottom edge before its "
                         "left/top edge; boxes are (x1, y1, x2, y2), not (x, y, width, height)")
    return a


# --------------------------------------------------------------------------- IoU

def box_area(boxes) -> np.ndarray:
    """Area of each box, (x2 − x1)·(y2 − y1): (K, 4) -> (K,). Lesson 09."""
    b = as_boxes(boxes, func="box_area")
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def box_iou(a, b) -> np.ndarray:
    """Intersection over union of every box in ``a`` with every box in ``b``. Lesson 09.

    The overlap of two boxes is a box too: its left edge is the larger of the two left
    edges, its right edge the smaller of the right edges. When they do not overlap, that
    "box" has a negative width, which is clipped to 0. IoU = overlap / (area a + area b −
    overlap): 1 for identical boxes, 0 for disjoint ones.

    Args:
        a: (N, 4) boxes.
        b: (M, 4) boxes.

    Returns:
        (N, M) IoUs; 0 where both boxes are empty.
    """
    a, b = as_boxes(a, "a", "box_iou"), as_boxes(b, "b", "box_iou")
    left_top = np.maximum(a[:, None, :2], b[None, :, :2])              # (N, M, 2)
    right_bottom = np.minimum(a[:, None, 2:], b[None, :, 2:])          # (N, M, 2)
    wh = np.clip(right_bottom - left_top, 0, None)                     # (N, M, 2), 0 when apart
    inter = wh[..., 0] * wh[..., 1]                                    # (N, M)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter        # (N, M)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


# --------------------------------------------------------------------------- anchors and box coding

def make_anchors(grid: int | tuple[int, int], stride: int, sizes: Sequence[float],
                 ratios: Sequence[float] = (1.0,)) -> np.ndarray:
    """Anchor boxes: at the centre of every cell of a feature grid, one box per size and aspect ratio. Lesson 09.

    A detector's last feature map has one cell per ``stride`` × ``stride`` patch of the image.
    Each cell predicts, for each of its anchors, a class and how to move and stretch that
    anchor onto an object. An anchor of size s and ratio r (width / height) is s·√r wide and
    s/√r high, so every ratio has the same area s².

    Args:
        grid: cells (rows, columns) of the feature map, or one int for a square grid.
        stride: image pixels per cell.
        sizes: anchor sizes in pixels.
        ratios: width / height of the anchors.

    Returns:
        (rows · columns · A, 4) boxes, A = len(sizes) · len(ratios), ordered by row, column,
        then anchor: the order of a head's output (N, A·D, rows, columns) permuted to
        (N, rows, columns, A, D).
    """
    rows, cols = (grid, grid) if isinstance(grid, int) else grid
    shapes = np.array([(s * np.sqrt(r), s / np.sqrt(r)) for s in sizes for r in ratios])   # (A, 2): w, h
    cy, cx = np.meshgrid((np.arange(rows) + 0.5) * stride, (np.arange(cols) + 0.5) * stride, indexing="ij")
    centres = np.stack([cx, cy], axis=-1).reshape(-1, 1, 2)                # (rows*cols, 1, 2)
    half = shapes[None] / 2                                                # (1, A, 2)
    return np.concatenate([centres - half, centres + half], axis=-1).reshape(-1, 4)


def _centre_form(boxes: np.ndarray) -> tuple[np.ndarray, ...]:
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return boxes[:, 0] + w / 2, boxes[:, 1] + h / 2, w, h


def encode_boxes(boxes, anchors) -> np.ndarray:
    """Each box as offsets from its anchor: (Δx/w, Δy/h, log(w_box/w), log(h_box/h)). Lesson 09.

    Shifts are measured in anchor widths and heights and sizes as log ratios, so the network
    predicts numbers near 0 whatever the anchor's size.

    Args:
        boxes: (K, 4) true boxes; anchors: the (K, 4) anchors they belong to.

    Returns:
        (K, 4) offsets.
    """
    bx, by, bw, bh = _centre_form(as_boxes(boxes, func="encode_boxes"))
    ax, ay, aw, ah = _centre_form(as_boxes(anchors, "anchors", "encode_boxes"))
    return np.stack([(bx - ax) / aw, (by - ay) / ah, np.log(bw / aw), np.log(bh / ah)], axis=1)


def decode_boxes(offsets, anchors) -> np.ndarray:
    """Undo ``encode_boxes``: offsets (K, 4) from anchors (K, 4) -> boxes (K, 4). Lesson 09."""
    t = np.asarray(offsets, dtype=np.float64).reshape(-1, 4)
    ax, ay, aw, ah = _centre_form(as_boxes(anchors, "anchors", "decode_boxes"))
    cx, cy = ax + t[:, 0] * aw, ay + t[:, 1] * ah
    w, h = aw * np.exp(t[:, 2]), ah * np.exp(t[:, 3])
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def match_anchors(anchors, boxes, labels, iou_threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Training targets of a single-shot detector: the class and box each anchor should predict. Lesson 09.

    An anchor is responsible for the true box it overlaps most, when that IoU reaches
    ``iou_threshold``; every true box also claims the anchor that overlaps it most, so no
    object goes without one. All other anchors are background.

    Args:
        anchors: (A, 4).
        boxes: (K, 4) true boxes of one image; labels: (K,) their classes 0 … C−1.
        iou_threshold: the IoU that makes an anchor positive.

    Returns:
        classes (A,) int64, 0 for background and label + 1 for an object; offsets (A, 4) of the
        matched box from each anchor (``encode_boxes``; zeros for background anchors).
    """
    anchors = as_boxes(anchors, "anchors", "match_anchors")
    boxes = as_boxes(boxes, func="match_anchors")
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    classes, offsets = np.zeros(len(anchors), dtype=np.int64), np.zeros((len(anchors), 4))
    if len(boxes) == 0:
        return classes, offsets
    iou = box_iou(anchors, boxes)                                          # (A, K)
    best_box, best_iou = iou.argmax(axis=1), iou.max(axis=1)              # (A,), (A,)
    best_anchor = iou.argmax(axis=0)                                       # (K,)
    best_box[best_anchor] = np.arange(len(boxes))                          # each box keeps its best anchor
    best_iou[best_anchor] = 1.0
    positive = best_iou >= iou_threshold
    classes[positive] = labels[best_box[positive]] + 1
    offsets[positive] = encode_boxes(boxes[best_box[positive]], anchors[positive])
    return classes, offsets


# --------------------------------------------------------------------------- non-maximum suppression

def nms(boxes, scores, iou_threshold: float = 0.5) -> np.ndarray:
    """Non-maximum suppression: keep the best box, drop the boxes that overlap it, repeat. Lesson 09.

    A detector fires on several neighbouring anchors for one object. Go through the boxes
    from the highest score down; keep a box unless it overlaps an already *kept* box by an
    IoU above ``iou_threshold`` (a box that was dropped suppresses nothing). Same rule as
    ``torchvision.ops.nms``.

    Args:
        boxes: (K, 4).
        scores: (K,) confidence of each box.
        iou_threshold: boxes overlapping a kept box by more than this are dropped.

    Returns:
        Indices of the kept boxes, highest score first, int64.
    """
    boxes = as_boxes(boxes, func="nms")
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(scores) != len(boxes):
        raise ValueError(f"nms: {len(boxes)} boxes but {len(scores)} scores")
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        overlap = box_iou(boxes[best:best + 1], boxes[rest])[0]           # (len(rest),)
        order = rest[overlap <= iou_threshold]
    return np.array(keep, dtype=np.int64)


def nms_per_class(boxes, scores, labels, iou_threshold: float = 0.5) -> np.ndarray:
    """``nms`` within each class separately: a box only suppresses boxes of its own class. Lesson 09.

    Returns:
        Indices of the kept boxes, highest score first.
    """
    labels = np.asarray(labels).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    keep = [np.flatnonzero(labels == c)[nms(np.asarray(boxes)[labels == c], scores[labels == c], iou_threshold)]
            for c in np.unique(labels)]
    keep = np.concatenate(keep) if keep else np.zeros(0, dtype=np.int64)
    return keep[np.argsort(-scores[keep], kind="stable")]


# --------------------------------------------------------------------------- precision, recall, AP

def match_detections(boxes, scores, true_boxes, iou_threshold: float = 0.5,
                     max_detections: int = 100) -> np.ndarray:
    """Which detections of one class in one image find an object of that class (true positives). Lesson 09.

    From the highest score down, a detection takes the not yet taken true box it overlaps
    most, if that IoU is at least ``iou_threshold``; otherwise it is a false positive (so is
    a second detection of an object already found). Only the ``max_detections`` best
    detections count, as in the COCO evaluation.

    Args:
        boxes: (K, 4) detections; scores: (K,).
        true_boxes: (T, 4) objects of the class in the image.

    Returns:
        (min(K, max_detections),) bool, in the order of decreasing score.
    """
    boxes, true_boxes = as_boxes(boxes, func="match_detections"), as_boxes(true_boxes, "true_boxes", "match_detections")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:max_detections]
    iou = box_iou(boxes[order], true_boxes)                                # (K, T)
    taken = np.zeros(len(true_boxes), dtype=bool)
    hit = np.zeros(len(order), dtype=bool)
    for d in range(len(order)):
        free = np.where(taken, -1.0, iou[d])                               # taken boxes cannot match again
        if free.size and free.max() >= iou_threshold:
            best = len(free) - 1 - int(np.argmax(free[::-1]))             # ties: the last, as COCO does
            taken[best], hit[d] = True, True
    return hit


@dataclass
class PrecisionRecall:
    """One class's precision–recall curve over a data set, best detections first. Lesson 09."""

    precision: np.ndarray     # (D,) after the 1st, 2nd, … detection
    recall: np.ndarray        # (D,)
    scores: np.ndarray        # (D,) the score threshold at each point
    num_true: int             # objects of the class in the data set


def precision_recall(pred_boxes: Sequence, pred_scores: Sequence, true_boxes: Sequence,
                     iou_threshold: float = 0.5, max_detections: int = 100) -> PrecisionRecall:
    """Precision and recall of one class as the score threshold falls, over every image. Lesson 09.

    Each image's detections are matched to its objects (``match_detections``); then all
    detections are sorted by score. After the first k: precision = true positives / k, and
    recall = true positives / objects.

    Args:
        pred_boxes, pred_scores: per image, the (K, 4) detections of this class and their (K,) scores.
        true_boxes: per image, the (T, 4) objects of this class.

    Returns:
        A ``PrecisionRecall``.
    """
    if not len(pred_boxes) == len(pred_scores) == len(true_boxes):
        raise ValueError(f"precision_recall: {len(pred_boxes)} images of boxes, {len(pred_scores)} of scores and "
                         f"{len(true_boxes)} of true boxes; give one entry per image for each")
    hits, scores = [], []
    for boxes, s, truth in zip(pred_boxes, pred_scores, true_boxes):
        s = np.asarray(s, dtype=np.float64).reshape(-1)
        hits.append(match_detections(boxes, s, truth, iou_threshold, max_detections))
        scores.append(s[np.argsort(-s, kind="stable")[:max_detections]])   # in the order of ``hits``
    hit, score = np.concatenate(hits or [np.zeros(0, bool)]), np.concatenate(scores or [np.zeros(0)])
    order = np.argsort(-score, kind="stable")                              # across images, images in order
    hit, score = hit[order], score[order]
    num_true = sum(len(as_boxes(t, "true_boxes", "precision_recall")) for t in true_boxes)
    tp = np.cumsum(hit).astype(np.float64)
    fp = np.cumsum(~hit).astype(np.float64)
    recall = tp / num_true if num_true else np.zeros_like(tp)
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    return PrecisionRecall(precision, recall, score, num_true)


def average_precision(precision, recall) -> float:
    """Area under a precision–recall curve, sampled as COCO does at recall 0, 0.01, …, 1. Lesson 09.

    First the curve is replaced by its upper envelope (the best precision reachable at this
    recall or any higher one), so that it only falls; then it is read at 101 recall levels
    and averaged. A recall level the detector never reaches counts as precision 0.

    Args:
        precision, recall: (D,) as in ``PrecisionRecall``, recall not decreasing.

    Returns:
        AP in [0, 1].
    """
    precision = np.asarray(precision, dtype=np.float64)
    recall = np.asarray(recall, dtype=np.float64)
    if precision.size == 0:
        return 0.0
    envelope = np.maximum.accumulate(precision[::-1])[::-1]               # best precision at ≥ this recall
    index = np.searchsorted(recall, RECALL_POINTS, side="left")           # first point reaching each level
    reached = index < len(envelope)
    return float(np.where(reached, envelope[np.minimum(index, len(envelope) - 1)], 0.0).mean())


@dataclass
class DetectionScores:
    """``mean_average_precision``'s answer: mAP and every class's AP and curve. Lesson 09."""

    map: float                                   # mean AP over the classes that have objects
    ap: dict[int, float]                         # class -> AP
    curves: dict[int, PrecisionRecall]           # class -> precision–recall curve
    iou_threshold: float


def mean_average_precision(pred_boxes: Sequence, pred_scores: Sequence, pred_labels: Sequence,
                           true_boxes: Sequence, true_labels: Sequence, iou_threshold: float = 0.5,
                           max_detections: int = 100) -> DetectionScores:
    """mAP@``iou_threshold``: the average precision of each class, averaged over classes. Lesson 09.

    The COCO evaluation at one IoU threshold (COCO's "AP50" when it is 0.5): per image and
    class the best ``max_detections`` detections are matched, precision is sampled at 101
    recall levels, and classes without any object in the data set are left out.

    Args:
        pred_boxes, pred_scores, pred_labels: per image, detections (K, 4), scores (K,), classes (K,).
        true_boxes, true_labels: per image, objects (T, 4) and classes (T,).
        iou_threshold: the IoU a detection needs to count as finding an object.
        max_detections: detections per image and class that count.

    Returns:
        ``DetectionScores``.
    """
    n = len(true_boxes)
    if not len(pred_boxes) == len(pred_scores) == len(pred_labels) == n == len(true_labels):
        raise ValueError("mean_average_precision: give one entry per image in each of the five lists, got "
                         f"{[len(v) for v in (pred_boxes, pred_scores, pred_labels, true_boxes, true_labels)]}")
    pred_labels = [np.asarray(v).reshape(-1) for v in pred_labels]
    true_labels = [np.asarray(v).reshape(-1) for v in true_labels]
    classes = sorted({int(c) for labels in true_labels for c in labels})
    ap, curves = {}, {}
    for c in classes:
        curve = precision_recall([np.asarray(b).reshape(-1, 4)[lab == c] for b, lab in zip(pred_boxes, pred_labels)],
                                 [np.asarray(s).reshape(-1)[lab == c] for s, lab in zip(pred_scores, pred_labels)],
                                 [np.asarray(b).reshape(-1, 4)[lab == c] for b, lab in zip(true_boxes, true_labels)],
                                 iou_threshold, max_detections)
        curves[c], ap[c] = curve, average_precision(curve.precision, curve.recall)
    mean = float(np.mean(list(ap.values()))) if ap else 0.0
    return DetectionScores(mean, ap, curves, iou_threshold)
