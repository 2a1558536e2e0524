"""Exercises of lesson 09: IoU of two box sets, non-maximum suppression, the size of a transposed
convolution's output, and the mean IoU of a segmentation.

Each exercise's classic mistakes are a ``Catalog`` (``MISTAKES`` at the end). The cases the
grader counts are the random ones (the worked examples repeat in every draw), so each random
case is drawn so that every classic mistake changes its answer: box sets with an overlapping
pair and a pair apart on both axes, NMS scenes with a chain of boxes and a pair whose IoU is
exactly the threshold, transposed-convolution settings whose wrong formulas all give
different sizes, and label maps with a class seen nowhere.
"""

from __future__ import annotations

import numpy as np

from cnnlab.checks import Exercise, Mistake, Verdict, compare
from cnnlab.checks.mistakes import Catalog

NUMPY_ONLY = ("torch", "torchvision", "cnnlab", "sklearn", "scipy")


def _accept_array(case, got, expected) -> Verdict:
    """Compare the answer as one array: a list (or nested list) of numbers is as good as an array."""
    try:
        got = np.asarray(got)
    except (TypeError, ValueError):             # a ragged nested list
        return Verdict(False, "output: not a rectangular array of numbers")
    return compare(got, expected)


def _as_number(got) -> float | None:
    try:
        value = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return float(value) if value.shape == () else None


# --------------------------------------------------------------------------- exercise 1: IoU of two box sets

IOU = Catalog(
    not_clipped=Mistake(
        "IoU: negative overlap not clipped",
        nudge="look at two boxes that are apart both left-right and up-down",
        hint="the overlap's width and height are negative when the boxes are apart; two negatives multiply to a "
             "positive area. Clip each of them at 0 before multiplying"),
    sum_of_areas=Mistake(
        "IoU: divided by the sum of the areas",
        nudge="two identical boxes must have IoU 1: what does your function give them?",
        hint="the union counts the overlap once: area(a) + area(b) − intersection"),
    first_area=Mistake(
        "IoU: divided by one box's area",
        nudge="swap a and b: IoU must not change",
        hint="divide by the union of the two boxes, not by the area of the first one"),
    xywh=Mistake(
        "IoU: boxes read as (x, y, w, h)",
        nudge="what do the third and fourth numbers of a box mean here?",
        hint="boxes are (x1, y1, x2, y2): corners, not a width and a height"),
    plus_one=Mistake(
        "IoU: +1 on every side",
        nudge="compute the area of the box (0, 0, 2, 2) by hand",
        hint="width = x2 − x1 here (continuous coordinates); the old PASCAL convention adds 1, this one does not"),
    pairs_only=Mistake(
        "IoU: pairs only",
        nudge="your answer has shape {got}: a holds {n} boxes and b holds {m}",
        hint="return an (N, M) = ({n}, {m}) array: every box of a against every box of b "
             "(broadcast a[:, None] against b[None, :]), not box i of a against box i of b"),
)


def _random_boxes(rng, n, size=40.0):
    xy = rng.uniform(0, size - 12, (n, 2))
    return np.round(np.concatenate([xy, xy + rng.uniform(1, 12, (n, 2))], axis=1), 1)


def _random_sets(rng, n, m, size=40.0):
    """Random boxes a (n, 4) and b (m ≥ 2, 4) where b[0] overlaps a[0] and b[-1] lies apart from a[0] on both axes."""
    a, b = _random_boxes(rng, n, size), _random_boxes(rng, m, size)
    wh = a[0, 2:] - a[0, :2]
    shift = np.round(rng.uniform(-0.4, 0.4, 2) * wh, 1)                  # less than the box: they overlap
    b[0] = a[0] + np.tile(shift, 2)
    gap = np.round(wh + rng.uniform(1, 5, 2), 1)                         # more than the box: apart
    b[-1] = a[0] + np.tile(gap, 2)
    return dict(a=a, b=b)


def _iou_cases(rng):
    a = np.array([[0.0, 0.0, 2.0, 2.0], [10.0, 10.0, 20.0, 30.0]])
    b = np.array([[1.0, 1.0, 3.0, 3.0],          # overlaps a[0] by 1: IoU 1/7
                  [0.0, 0.0, 2.0, 2.0],          # identical to a[0]
                  [2.0, 0.0, 4.0, 2.0],          # touches a[0] along an edge: 0
                  [25.0, 40.0, 30.0, 45.0],      # apart on both axes: 0, not a positive product
                  [12.0, 12.0, 18.0, 28.0]])     # inside a[1]
    return [dict(a=a, b=b), dict(a=b, b=a),
            _random_sets(rng, 4, 6), _random_sets(rng, 1, 3), _random_sets(rng, 5, 5, 20.0)]


def _iou_ref(a, b):
    from cnnlab.boxes import box_iou       # imported here: learners may not import it

    return box_iou(a, b)


def _iou_variants(a, b) -> dict[str, np.ndarray]:
    """The answers of the classic mistakes, keyed as in ``IOU``."""
    def areas(boxes, plus=0.0):
        return (boxes[:, 2] - boxes[:, 0] + plus) * (boxes[:, 3] - boxes[:, 1] + plus)

    def iou(a, b, clip=True, plus=0.0, union="union"):
        lt = np.maximum(a[:, None, :2], b[None, :, :2])                  # (N, M, 2)
        rb = np.minimum(a[:, None, 2:], b[None, :, 2:]) + plus           # (N, M, 2)
        wh = np.clip(rb - lt, 0, None) if clip else rb - lt
        inter = wh[..., 0] * wh[..., 1]                                  # (N, M)
        area_a, area_b = areas(a, plus)[:, None], areas(b, plus)[None, :]
        denominator = {"union": area_a + area_b - inter, "sum": area_a + area_b, "first": area_a + 0 * area_b}[union]
        with np.errstate(divide="ignore", invalid="ignore"):
            return inter / denominator

    def as_xywh(boxes):
        return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)

    return {"not_clipped": iou(a, b, clip=False), "sum_of_areas": iou(a, b, union="sum"),
            "first_area": iou(a, b, union="first"), "xywh": iou(as_xywh(a), as_xywh(b)),
            "plus_one": iou(a, b, plus=1.0)}


def _iou_hint(case, got, expected):
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    n, m = len(case["a"]), len(case["b"])
    one_per_pair = got.shape == (min(n, m),) or (min(n, m) == 1 and got.shape == (max(n, m),))
    if got.shape != (n, m):
        return IOU("pairs_only", got=got.shape, n=n, m=m) if one_per_pair else None
    variants = _iou_variants(case["a"], case["b"])
    return IOU.unique({key: not np.allclose(wrong, expected, equal_nan=True) and np.allclose(got, wrong, equal_nan=True)
                       for key, wrong in variants.items()})


# --------------------------------------------------------------------------- exercise 2: non-maximum suppression

NMS = Catalog(
    unordered_output=Mistake(
        "NMS: kept boxes not in score order",
        nudge="the right boxes, in the wrong order",
        hint="return the kept indices from the highest score down, as torchvision.ops.nms does"),
    dropped_suppress=Mistake(
        "NMS: dropped boxes still suppress",
        nudge="follow three boxes in a row, each overlapping the next but the first not the third",
        hint="only boxes you keep suppress others; a box that was dropped has no say, so the third survives"),
    equal_dropped=Mistake(
        "NMS: IoU equal to the threshold dropped",
        nudge="look at two boxes whose IoU is exactly the threshold",
        hint="drop a box only when its IoU with a kept box is strictly greater than the threshold"),
    ascending=Mistake(
        "NMS: lowest score first",
        nudge="which box does NMS look at first?",
        hint="sort by score from the highest down (np.argsort(-scores)); the best box must win"),
    unsorted=Mistake(
        "NMS: boxes not sorted by score",
        nudge="try the same boxes with their scores in another order",
        hint="visit the boxes by decreasing score, not in the order they were given"),
    mask=Mistake(
        "NMS: mask instead of indices",
        nudge="your answer has one entry per box, {k} in all",
        hint="return the indices of the kept boxes (np.flatnonzero of your mask), ordered by score"),
)


def _chain(rng, threshold: float, corner) -> np.ndarray:
    """Three equal boxes in a row: each overlaps the next above the threshold, the first and the third not."""
    w, h = int(rng.integers(10, 21)), int(rng.integers(8, 17))
    dx = round(w * (0.4 if threshold < 0.4 else 0.25))        # IoU (w − dx)/(w + dx) above, (w − 2dx)/(w + 2dx) not
    x, y = corner
    return np.array([[x + i * dx, y, x + i * dx + w, y + h] for i in range(3)], dtype=float)


def _exact_pair(rng, threshold: float, corner) -> np.ndarray:
    """A box and a smaller one inside it whose IoU is exactly the threshold (0.3 = 3/10 or 0.5 = 1/2)."""
    (big_w, big_h), (small_w, small_h) = ((5, 2), (3, 1)) if threshold < 0.4 else ((2, 1), (1, 1))
    u = int(rng.integers(2, 6))
    x, y = corner
    return np.array([[x, y, x + big_w * u, y + big_h * u], [x, y, x + small_w * u, y + small_h * u]], dtype=float)


def _cluster(rng, corner) -> np.ndarray:
    """Four jittered copies of one 12 × 12 box."""
    centre = np.asarray(corner, dtype=float) + 12
    corners = [centre - 6 + rng.normal(0, 2, (4, 2)), centre + 6 + rng.normal(0, 2, (4, 2))]
    return np.round(np.concatenate(corners, axis=1), 2)                           # (4, 4)


def _nms_scene(rng):
    """A random scene where every classic mistake changes the answer.

    A chain (scores falling along it), a pair with IoU exactly the threshold and a cluster of
    jittered copies, far apart from each other and listed in a shuffled order; the order is
    drawn again until each mistake's answer differs from the right one and from every other's.
    """
    threshold = float(rng.choice([0.3, 0.5]))
    corners = [(60.0 * i + int(rng.integers(0, 10)), float(rng.integers(0, 40))) for i in range(3)]
    boxes = np.concatenate([_chain(rng, threshold, corners[0]), _exact_pair(rng, threshold, corners[1]),
                            _cluster(rng, corners[2])])                           # (9, 4)
    scores = np.round(rng.permutation(len(boxes)) / len(boxes) + 0.01, 3)
    scores[:3] = np.sort(scores[:3])[::-1]                                        # the chain's first box is its best
    for _ in range(100):
        order = rng.permutation(len(boxes))
        case = dict(boxes=boxes[order], scores=scores[order], iou_threshold=threshold)
        answers = [tuple(_nms_ref(**case))] + [tuple(v) for v in _nms_variants(**case).values()]
        if len(set(answers)) == len(answers):
            return case
    raise RuntimeError("no order of the NMS scene tells every mistake apart")


def _nms_cases(rng):
    chain = np.array([[0.0, 0.0, 10.0, 10.0],      # A
                      [4.0, 0.0, 14.0, 10.0],      # B overlaps A (IoU 6/14) and C
                      [8.0, 0.0, 18.0, 10.0],      # C overlaps B but barely A (2/18)
                      [40.0, 40.0, 50.0, 50.0]])   # far away
    exact = np.array([[0.0, 0.0, 2.0, 1.0], [0.0, 0.0, 1.0, 1.0], [5.0, 5.0, 6.0, 6.0]])   # IoU exactly 0.5
    cases = [dict(boxes=chain, scores=np.array([0.9, 0.8, 0.7, 0.6]), iou_threshold=0.3),
             dict(boxes=chain[::-1].copy(), scores=np.array([0.6, 0.7, 0.8, 0.9]), iou_threshold=0.3),
             dict(boxes=exact, scores=np.array([0.9, 0.8, 0.3]), iou_threshold=0.5)]
    return cases + [_nms_scene(rng) for _ in range(3)]


def _nms_ref(boxes, scores, iou_threshold):
    from cnnlab.boxes import nms

    return nms(boxes, scores, iou_threshold)


def _nms_variants(boxes, scores, iou_threshold) -> dict[str, np.ndarray]:
    """The answers of the classic mistakes, keyed as in ``NMS``."""
    from cnnlab.boxes import box_iou

    iou = box_iou(boxes, boxes)                                                   # (K, K)
    order = list(np.argsort(-scores, kind="stable"))

    def greedy(dropped_suppress=False, keep_equal=True, ascending=False, sort=True):
        sequence = order[::-1] if ascending else (order if sort else list(range(len(scores))))
        kept, dropped = [], []
        for i in sequence:
            blockers = kept + (dropped if dropped_suppress else [])
            over = [iou[i, j] >= iou_threshold if not keep_equal else iou[i, j] > iou_threshold for j in blockers]
            (dropped if any(over) else kept).append(i)
        return np.array(kept, dtype=np.int64)

    return {"unordered_output": np.sort(greedy()), "dropped_suppress": greedy(dropped_suppress=True),
            "equal_dropped": greedy(keep_equal=False), "ascending": greedy(ascending=True),
            "unsorted": greedy(sort=False)}


def _nms_hint(case, got, expected):
    try:
        got = np.asarray(got)
    except (TypeError, ValueError):
        return None
    k = len(case["scores"])
    if got.dtype == bool and got.shape == (k,):
        return NMS("mask", k=k)
    if got.dtype.kind not in "iu" or got.ndim != 1:
        return None
    variants = _nms_variants(case["boxes"], case["scores"], case["iou_threshold"])
    return NMS.unique({key: not np.array_equal(wrong, expected) and np.array_equal(got, wrong)
                       for key, wrong in variants.items()})


# --------------------------------------------------------------------------- exercise 3: transposed conv output size

TSIZE = Catalog(
    conv_formula=Mistake(
        "transposed size: the convolution's formula",
        nudge="this layer makes the image larger, not smaller",
        hint="that is the forward convolution's ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1; a transposed convolution runs it "
             "backwards: (n − 1)·s − 2p + d(k−1) + output_padding + 1"),
    n_times_s=Mistake(
        "transposed size: n·s instead of (n − 1)·s",
        nudge="where does the last stamp start?",
        hint="n pixels put n stamps s apart: the last one starts (n − 1)·s after the first"),
    padding_added=Mistake(
        "transposed size: padding added",
        nudge="does padding make a transposed convolution's output larger or smaller?",
        hint="padding undoes the padding of the convolution it mirrors: it crops 2p, so subtract it"),
    dilation_ignored=Mistake(
        "transposed size: dilation ignored",
        nudge="how wide is one stamp of a dilated kernel?",
        hint="a dilated kernel spans d(k−1) + 1 pixels: use d·(k − 1), not k − 1"),
    output_padding_ignored=Mistake(
        "transposed size: output_padding ignored",
        nudge="check the case with output_padding",
        hint="output_padding adds its rows at the bottom (right): + output_padding"),
    plus_one_missing=Mistake(
        "transposed size: the + 1 missing",
        nudge="count the pixels of a single stamp",
        hint="one stamp of a 1×1 kernel is 1 pixel: the formula ends in + 1"),
    not_a_number=Mistake(
        "transposed size: not one whole number",
        nudge="what type did the function return?",
        hint="return one int, the output's height (or width), not a pair or an array"),
)


def _tsize_case(size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    return dict(size=size, kernel_size=kernel_size, stride=stride, padding=padding,
                output_padding=output_padding, dilation=dilation)


def _tsize_telling(rng):
    """Random settings (valid for nn.ConvTranspose2d) under which every classic mistake gives another size."""
    for _ in range(1000):
        stride, dilation = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        case = _tsize_case(int(rng.integers(2, 30)), int(rng.integers(2, 7)), stride, int(rng.integers(0, 4)),
                           int(rng.integers(0, max(stride, dilation))), dilation)
        try:
            sizes = [int(_tsize_ref(**case)), *_tsize_variants(**case).values()]
        except ValueError:                            # the padding crops the whole output: draw again
            continue
        if len(set(sizes)) == len(sizes):
            return case
    raise RuntimeError("no transposed-convolution setting tells every mistake apart")


def _tsize_cases(rng):
    return [_tsize_case(4, 4, 2, 1),              # the usual ×2 upsampling: 8
            _tsize_case(4, 3, 2),                 # 9: stamps 2 apart, the last one reaching 2 further
            _tsize_case(4, 3, 2, 1, 1),           # 8: output_padding picks the even size
            _tsize_case(7, 3, 1, 1),              # stride 1, "same": 7
            _tsize_case(5, 3, 3, 1, 2),           # output_padding 2 (below the stride 3): 4·3 − 2 + 2 + 2 + 1 = 15
            _tsize_case(6, 3, 2, 2, 0, 3),        # dilation 3: a stamp spans 7 pixels, 5·2 − 4 + 6 + 1 = 13
            _tsize_case(16, 2, 2),                # kernel = stride: 32, no overlap
            _tsize_case(int(rng.integers(3, 30)), int(rng.integers(3, 6)), 2, 1, 1, int(rng.integers(1, 3))),
            _tsize_telling(rng), _tsize_telling(rng)]


def _tsize_ref(size, kernel_size, stride, padding, output_padding, dilation):
    from cnnlab.shapes import conv_transpose_output_size

    return np.int64(conv_transpose_output_size(size, kernel_size, stride, padding, output_padding, dilation))


def _tsize_variants(size, kernel_size, stride, padding, output_padding, dilation) -> dict[str, int]:
    """The answers of the classic mistakes, keyed as in ``TSIZE``."""
    n, k, s, p, op, d = size, kernel_size, stride, padding, output_padding, dilation
    span = d * (k - 1)
    return {"conv_formula": (n + 2 * p - span - 1) // s + 1,
            "n_times_s": n * s - 2 * p + span + op + 1,
            "padding_added": (n - 1) * s + 2 * p + span + op + 1,
            "dilation_ignored": (n - 1) * s - 2 * p + (k - 1) + op + 1,
            "output_padding_ignored": (n - 1) * s - 2 * p + span + 1,
            "plus_one_missing": (n - 1) * s - 2 * p + span + op}


def _tsize_hint(case, got, expected):
    value = _as_number(got)
    if value is None or value != round(value):
        return TSIZE("not_a_number")
    variants = _tsize_variants(**case)                  # two mistakes giving one number: say neither
    return TSIZE.unique({key: wrong != int(expected) and value == wrong for key, wrong in variants.items()})


# --------------------------------------------------------------------------- exercise 4: mean IoU

MIOU = Catalog(
    absent_as_zero=Mistake(
        "mIoU: absent classes counted as 0",
        nudge="which classes does the mean run over?",
        hint="a class that is neither in the prediction nor in the truth has no IoU (0/0): leave it out of the mean"),
    pixel_accuracy=Mistake(
        "mIoU: pixel accuracy",
        nudge="does your number look at each class on its own?",
        hint="that number is the share of right pixels; compute each class's IoU = |pred = c and target = c| / "
             "|pred = c or target = c|, then average"),
    per_image=Mistake(
        "mIoU: per image, then averaged",
        nudge="your answer would be right for a batch of one image: what changes with several?",
        hint="pool the pixels of all images before dividing, then average over classes; an image-wise mean "
             "weights a tiny image region like a large one"),
    true_only=Mistake(
        "mIoU: divided by the true pixels only",
        nudge="what about pixels predicted as c that are not c?",
        hint="the union also counts the false alarms: divide by |pred = c| + |target = c| − |both|"),
    not_a_number=Mistake(
        "mIoU: not one number",
        nudge="what type did the function return?",
        hint="return one float, the mean of the classes' IoUs, not the IoUs themselves"),
)


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
    """The answers of the classic mistakes, keyed as in ``MIOU``."""
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
        return {"absent_as_zero": float(np.where(present, hits / union, 0).mean()),
                "pixel_accuracy": float((pred == target).mean()),
                "per_image": float(np.mean(per_image)),
                "true_only": float(np.nanmean(np.where(true > 0, hits / true, np.nan)))}


def _miou_hint(case, got, expected):
    value = _as_number(got)
    if value is None:
        return MIOU("not_a_number")
    variants = _miou_variants(**case)                   # two mistakes giving one number: say neither
    return MIOU.unique({key: not np.isclose(wrong, expected) and np.isclose(value, wrong)
                        for key, wrong in variants.items()})


EXERCISES = [
    Exercise(name="box_iou", chapter="09", points=2, cases=_iou_cases, reference=_iou_ref, accept=_accept_array,
             diagnose=_iou_hint, forbidden=NUMPY_ONLY,
             description="intersection over union of every box of one set with every box of another"),
    Exercise(name="nms", chapter="09", points=3, cases=_nms_cases, reference=_nms_ref, accept=_accept_array,
             diagnose=_nms_hint, forbidden=NUMPY_ONLY,
             description="non-maximum suppression: the indices of the kept boxes, best first"),
    Exercise(name="conv_transpose_output_size", chapter="09", points=2, cases=_tsize_cases, reference=_tsize_ref,
             diagnose=_tsize_hint, forbidden=NUMPY_ONLY,
             description="output size of a transposed convolution with stride, padding, output padding, dilation"),
    Exercise(name="mean_iou", chapter="09", points=2, cases=_miou_cases, reference=_miou_ref,
             diagnose=_miou_hint, forbidden=NUMPY_ONLY,
             description="mean intersection over union of a segmentation, over the classes present"),
]

MISTAKES = {"box_iou": IOU, "nms": NMS, "conv_transpose_output_size": TSIZE, "mean_iou": MIOU}
