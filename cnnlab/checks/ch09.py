"""Exercises of lesson 09: IoU of two box sets, non-maximum suppression, the size of a transposed
convolution's output, and the mean IoU of a segmentation."""

from __future__ import annotations

import numpy as np

from cnnlab.checks import Exercise, Mistake

NUMPY_ONLY = ("torch", "torchvision", "cnnlab", "sklearn", "scipy")


def _as_array(result, case) -> np.ndarray:
    """What a learner returned as a NumPy array (lists and tuples of numbers are fine)."""
    if hasattr(result, "detach"):
        raise TypeError("return a NumPy array, not a torch tensor")
    return np.asarray(result)


def _as_number(got) -> float | None:
    try:
        value = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return float(value) if value.shape == () else None


# --------------------------------------------------------------------------- exercise 1: IoU of two box sets

def _random_boxes(rng, n, size=40.0):
    xy = rng.uniform(0, size - 12, (n, 2))
    return np.round(np.concatenate([xy, xy + rng.uniform(1, 12, (n, 2))], axis=1), 1)


def _iou_cases(rng):
    a = np.array([[0.0, 0.0, 2.0, 2.0], [10.0, 10.0, 20.0, 30.0]])
    b = np.array([[1.0, 1.0, 3.0, 3.0],          # overlaps a[0] by 1: IoU 1/7
                  [0.0, 0.0, 2.0, 2.0],          # identical to a[0]
                  [2.0, 0.0, 4.0, 2.0],          # touches a[0] along an edge: 0
                  [25.0, 40.0, 30.0, 45.0],      # apart on both axes: 0, not a positive product
                  [12.0, 12.0, 18.0, 28.0]])     # inside a[1]
    return [dict(a=a, b=b), dict(a=b, b=a),
            dict(a=_random_boxes(rng, 4), b=_random_boxes(rng, 6)),
            dict(a=_random_boxes(rng, 1), b=_random_boxes(rng, 3)),
            dict(a=_random_boxes(rng, 5, 20.0), b=_random_boxes(rng, 5, 20.0))]


def _iou_ref(a, b):
    from cnnlab.boxes import box_iou       # imported here: learners may not import it

    return box_iou(a, b)


def _iou_variants(a, b) -> dict[str, np.ndarray]:
    """The answers of the classic mistakes, keyed by their Mistake label."""
    def areas(boxes, plus=0.0):
        return (boxes[:, 2] - boxes[:, 0] + plus) * (boxes[:, 3] - boxes[:, 1] + plus)

    def iou(a, b, clip=True, plus=0.0, union="union"):
        lt = np.maximum(a[:, None, :2], b[None, :, :2])
        rb = np.minimum(a[:, None, 2:], b[None, :, 2:]) + plus
        wh = np.clip(rb - lt, 0, None) if clip else rb - lt
        inter = wh[..., 0] * wh[..., 1]
        area_a, area_b = areas(a, plus)[:, None], areas(b, plus)[None, :]
        denominator = {"union": area_a + area_b - inter, "sum": area_a + area_b, "first": area_a + 0 * area_b}[union]
        with np.errstate(divide="ignore", invalid="ignore"):
            return inter / denominator

    def as_xywh(boxes):
        return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)

    return {"IoU: negative overlap not clipped": iou(a, b, clip=False),
            "IoU: divided by the sum of the areas": iou(a, b, union="sum"),
            "IoU: divided by one box's area": iou(a, b, union="first"),
            "IoU: boxes read as (x, y, w, h)": iou(as_xywh(a), as_xywh(b)),
            "IoU: +1 on every side": iou(a, b, plus=1.0)}


IOU_MISTAKES = {
    "IoU: negative overlap not clipped": (
        "look at two boxes that are apart both left-right and up-down",
        "the overlap's width and height are negative when the boxes are apart; two negatives multiply to a "
        "positive area. Clip each of them at 0 before multiplying"),
    "IoU: divided by the sum of the areas": (
        "check the denominator for two identical boxes: their IoU must be 1",
        "the union counts the overlap once: area(a) + area(b) − intersection"),
    "IoU: divided by one box's area": (
        "swap a and b: IoU must not change",
        "divide by the union of the two boxes, not by the area of the first one"),
    "IoU: boxes read as (x, y, w, h)": (
        "what do the third and fourth numbers of a box mean here?",
        "boxes are (x1, y1, x2, y2): corners, not a width and a height"),
    "IoU: +1 on every side": (
        "compute the area of the box (0, 0, 2, 2) by hand",
        "width = x2 − x1 here (continuous coordinates); the old PASCAL convention adds 1, this one does not"),
}


def _iou_hint(case, got, expected):
    got = np.asarray(got, dtype=np.float64) if np.asarray(got).dtype.kind in "iuf" else None
    n, m = len(case["a"]), len(case["b"])
    if got is None or got.shape != (n, m):
        if got is not None and got.shape == (min(n, m),):
            return Mistake("IoU: pairs only", "the answer holds one number per box, not per pair",
                           f"return an (N, M) = ({n}, {m}) array: every box of a against every box of b "
                           "(broadcast a[:, None] against b[None, :])")
        return None
    for label, wrong in _iou_variants(case["a"], case["b"]).items():
        if not np.allclose(wrong, expected, equal_nan=True) and np.allclose(got, wrong, equal_nan=True):
            nudge, hint = IOU_MISTAKES[label]
            return Mistake(label, nudge, hint)
    return None


# --------------------------------------------------------------------------- exercise 2: non-maximum suppression

def _nms_cases(rng):
    chain = np.array([[0.0, 0.0, 10.0, 10.0],      # A
                      [4.0, 0.0, 14.0, 10.0],      # B overlaps A (IoU 6/14) and C
                      [8.0, 0.0, 18.0, 10.0],      # C overlaps B but barely A (2/18)
                      [40.0, 40.0, 50.0, 50.0]])   # far away
    exact = np.array([[0.0, 0.0, 2.0, 1.0], [0.0, 0.0, 1.0, 1.0], [5.0, 5.0, 6.0, 6.0]])   # IoU exactly 0.5
    cases = [dict(boxes=chain, scores=np.array([0.9, 0.8, 0.7, 0.6]), iou_threshold=0.3),
             dict(boxes=chain[::-1].copy(), scores=np.array([0.6, 0.7, 0.8, 0.9]), iou_threshold=0.3),
             dict(boxes=exact, scores=np.array([0.9, 0.8, 0.3]), iou_threshold=0.5)]
    for _ in range(3):                              # clusters of jittered copies, scores shuffled
        centres = rng.uniform(0, 60, (3, 2))
        boxes = np.concatenate([np.concatenate([c - 6 + rng.normal(0, 2, (4, 2)), c + 6 + rng.normal(0, 2, (4, 2))], 1)
                                for c in centres])
        cases.append(dict(boxes=np.round(boxes, 2), scores=np.round(rng.permutation(12) / 12 + 0.01, 3),
                          iou_threshold=float(rng.choice([0.3, 0.5]))))
    return cases


def _nms_ref(boxes, scores, iou_threshold):
    from cnnlab.boxes import nms

    return nms(boxes, scores, iou_threshold)


def _nms_variants(boxes, scores, iou_threshold) -> dict[str, np.ndarray]:
    from cnnlab.boxes import box_iou

    iou = box_iou(boxes, boxes)
    order = list(np.argsort(-scores, kind="stable"))

    def greedy(dropped_suppress=False, keep_equal=True, ascending=False, sort=True):
        sequence = order[::-1] if ascending else (order if sort else list(range(len(scores))))
        kept, dropped = [], []
        for i in sequence:
            blockers = kept + (dropped if dropped_suppress else [])
            over = [iou[i, j] >= iou_threshold if not keep_equal else iou[i, j] > iou_threshold for j in blockers]
            (dropped if any(over) else kept).append(i)
        return np.array(kept, dtype=np.int64)

    right = greedy()
    return {"NMS: kept boxes not in score order": np.sort(right),
            "NMS: dropped boxes still suppress": greedy(dropped_suppress=True),
            "NMS: IoU equal to the threshold dropped": greedy(keep_equal=False),
            "NMS: lowest score first": greedy(ascending=True),
            "NMS: boxes not sorted by score": greedy(sort=False)}


NMS_MISTAKES = {
    "NMS: kept boxes not in score order": (
        "the right boxes, in the wrong order",
        "return the kept indices from the highest score down, as torchvision.ops.nms does"),
    "NMS: dropped boxes still suppress": (
        "follow three boxes in a row, each overlapping the next but the first not the third",
        "only boxes you keep suppress others; a box that was dropped has no say, so the third survives"),
    "NMS: IoU equal to the threshold dropped": (
        "look at two boxes whose IoU is exactly the threshold",
        "drop a box only when its IoU with a kept box is strictly greater than the threshold"),
    "NMS: lowest score first": (
        "which box does NMS look at first?",
        "sort by score from the highest down (np.argsort(-scores)); the best box must win"),
    "NMS: boxes not sorted by score": (
        "try the same boxes with their scores in another order",
        "visit the boxes by decreasing score, not in the order they were given"),
}


def _nms_hint(case, got, expected):
    got = np.asarray(got)
    if got.dtype == bool:
        return Mistake("NMS: mask instead of indices", "the answer has one entry per box",
                       "return the indices of the kept boxes (np.flatnonzero of your mask, ordered by score)")
    if got.dtype.kind not in "iu" or got.ndim != 1:
        return None
    for label, wrong in _nms_variants(case["boxes"], case["scores"], case["iou_threshold"]).items():
        if not np.array_equal(wrong, expected) and np.array_equal(got, wrong):
            nudge, hint = NMS_MISTAKES[label]
            return Mistake(label, nudge, hint)
    return None


# --------------------------------------------------------------------------- exercise 3: transposed conv output size

def _tsize_cases(rng):
    def case(size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
        return dict(size=size, kernel_size=kernel_size, stride=stride, padding=padding,
                    output_padding=output_padding, dilation=dilation)
    return [case(4, 4, 2, 1),              # the usual ×2 upsampling: 8
            case(4, 3, 2),                 # 9: stamps 2 apart, the last one reaching 2 further
            case(4, 3, 2, 1, 1),           # 8: output_padding picks the even size
            case(7, 3, 1, 1),              # stride 1, "same": 7
            case(5, 3, 3, 1, 2),           # output_padding 2 (below the stride 3): 4·3 − 2 + 2 + 2 + 1 = 15
            case(6, 3, 2, 2, 0, 3),        # dilation 3: a stamp spans 7 pixels, 5·2 − 4 + 6 + 1 = 13
            case(16, 2, 2),                # kernel = stride: 32, no overlap
            case(int(rng.integers(3, 30)), int(rng.integers(3, 6)), 2, 1, 1, int(rng.integers(1, 3)))]


def _tsize_ref(size, kernel_size, stride, padding, output_padding, dilation):
    from cnnlab.shapes import conv_transpose_output_size

    return np.int64(conv_transpose_output_size(size, kernel_size, stride, padding, output_padding, dilation))


TSIZE_MISTAKES = {
    "transposed size: the convolution's formula": (
        "this layer makes the image larger, not smaller",
        "that is the forward convolution's ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1; a transposed convolution runs it "
        "backwards: (n − 1)·s − 2p + d(k−1) + output_padding + 1"),
    "transposed size: n·s instead of (n − 1)·s": (
        "where does the last stamp start?",
        "n pixels put n stamps s apart: the last one starts (n − 1)·s after the first"),
    "transposed size: padding added": (
        "does padding make a transposed convolution's output larger or smaller?",
        "padding undoes the padding of the convolution it mirrors: it crops 2p, so subtract it"),
    "transposed size: dilation ignored": (
        "how wide is one stamp of a dilated kernel?",
        "a dilated kernel spans d(k−1) + 1 pixels: use d·(k − 1), not k − 1"),
    "transposed size: output_padding ignored": (
        "check the case with output_padding",
        "output_padding adds its rows at the bottom (right): + output_padding"),
    "transposed size: the + 1 missing": (
        "count the pixels of a single stamp",
        "one stamp of a 1×1 kernel is 1 pixel: the formula ends in + 1"),
}


def _tsize_variants(size, kernel_size, stride, padding, output_padding, dilation) -> dict[str, int]:
    n, k, s, p, op, d = size, kernel_size, stride, padding, output_padding, dilation
    span = d * (k - 1)
    return {"transposed size: the convolution's formula": (n + 2 * p - span - 1) // s + 1,
            "transposed size: n·s instead of (n − 1)·s": n * s - 2 * p + span + op + 1,
            "transposed size: padding added": (n - 1) * s + 2 * p + span + op + 1,
            "transposed size: dilation ignored": (n - 1) * s - 2 * p + (k - 1) + op + 1,
            "transposed size: output_padding ignored": (n - 1) * s - 2 * p + span + 1,
            "transposed size: the + 1 missing": (n - 1) * s - 2 * p + span + op}


def _tsize_hint(case, got, expected):
    value = _as_number(got)
    if value is None or value != round(value):
        return Mistake("transposed size: not one whole number", "what type did the function return?",
                       "return one int, the output's height (or width)")
    variants = _tsize_variants(**case)
    for label, wrong in variants.items():
        alone = list(variants.values()).count(wrong) == 1          # two mistakes giving one number: say neither
        if alone and wrong != int(expected) and value == wrong:
            nudge, hint = TSIZE_MISTAKES[label]
            return Mistake(label, nudge, hint)
    return None


# --------------------------------------------------------------------------- exercise 4: mean IoU

def _miou_cases(rng):
    target = np.array([[[0, 0, 1, 1], [0, 0, 1, 1]]])
    pred = np.array([[[0, 1, 1, 1], [0, 0, 2, 1]]])
    cases = [dict(pred=pred, target=target, num_classes=3),         # mean of 3/4, 3/5, 0
             dict(pred=pred, target=target, num_classes=5)]         # classes 3 and 4 appear nowhere
    two = np.array([[[1, 1, 1, 1]], [[0, 0, 0, 1]]])                # per image vs pooled differ
    cases.append(dict(pred=np.array([[[1, 1, 1, 1]], [[0, 0, 0, 0]]]), target=two, num_classes=2))
    for _ in range(3):
        k = int(rng.integers(3, 7))
        target = rng.integers(0, k - 1, (3, 6, 7))                  # class k − 1 never true …
        noisy = np.where(rng.random(target.shape) < 0.3, rng.integers(0, k, target.shape), target)
        cases.append(dict(pred=noisy, target=target, num_classes=k + 1))   # … and class k never anywhere
    return cases


def _miou_ref(pred, target, num_classes):
    from cnnlab.segmentation import mean_iou

    return np.float64(mean_iou(pred, target, num_classes))


def _miou_variants(pred, target, num_classes) -> dict[str, float]:
    def per_class(p, t):
        hits = np.array([((p == c) & (t == c)).sum() for c in range(num_classes)], dtype=float)
        union = np.array([((p == c) | (t == c)).sum() for c in range(num_classes)], dtype=float)
        true = np.array([(t == c).sum() for c in range(num_classes)], dtype=float)
        return hits, union, true

    hits, union, true = per_class(pred, target)
    present = union > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        per_image = [np.nanmean(np.where(u > 0, h / u, np.nan)) for h, u, _ in
                     (per_class(p, t) for p, t in zip(pred, target))]
        return {"mIoU: absent classes counted as 0": float(np.where(present, hits / union, 0).mean()),
                "mIoU: pixel accuracy": float((pred == target).mean()),
                "mIoU: per image, then averaged": float(np.mean(per_image)),
                "mIoU: divided by the true pixels only": float(np.nanmean(np.where(true > 0, hits / true, np.nan)))}


MIOU_MISTAKES = {
    "mIoU: absent classes counted as 0": (
        "which classes does the mean run over?",
        "a class that is neither in the prediction nor in the truth has no IoU (0/0): leave it out of the mean"),
    "mIoU: pixel accuracy": (
        "that number is the share of right pixels",
        "compute each class's IoU = |pred = c and target = c| / |pred = c or target = c|, then average"),
    "mIoU: per image, then averaged": (
        "count over the whole batch first",
        "pool the pixels of all images before dividing, then average over classes; an image-wise mean "
        "weights a tiny image region like a large one"),
    "mIoU: divided by the true pixels only": (
        "what about pixels predicted as c that are not c?",
        "the union also counts the false alarms: divide by |pred = c| + |target = c| − |both|"),
}


def _miou_hint(case, got, expected):
    value = _as_number(got)
    if value is None:
        return Mistake("mIoU: not one number", "what type did the function return?", "return one float, the mean")
    for label, wrong in _miou_variants(**case).items():
        if not np.isclose(wrong, expected) and np.isclose(value, wrong):
            nudge, hint = MIOU_MISTAKES[label]
            return Mistake(label, nudge, hint)
    return None


EXERCISES = [
    Exercise(name="box_iou", chapter="09", points=2, cases=_iou_cases, reference=_iou_ref, probe=_as_array,
             diagnose=_iou_hint, forbidden=NUMPY_ONLY,
             description="intersection over union of every box of one set with every box of another"),
    Exercise(name="nms", chapter="09", points=3, cases=_nms_cases, reference=_nms_ref, probe=_as_array,
             diagnose=_nms_hint, forbidden=NUMPY_ONLY,
             description="non-maximum suppression: the indices of the kept boxes, best first"),
    Exercise(name="conv_transpose_output_size", chapter="09", points=2, cases=_tsize_cases, reference=_tsize_ref,
             diagnose=_tsize_hint, forbidden=NUMPY_ONLY,
             description="output size of a transposed convolution with stride, padding, output padding, dilation"),
    Exercise(name="mean_iou", chapter="09", points=2, cases=_miou_cases, reference=_miou_ref,
             diagnose=_miou_hint, forbidden=NUMPY_ONLY,
             description="mean intersection over union of a segmentation, over the classes present"),
]
