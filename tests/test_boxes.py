"""cnnlab.boxes: IoU, anchors, box coding and NMS against torchvision-style rules and hand-computed
cases, and mAP@0.5 against pycocotools (the COCO evaluation) on the same boxes."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO            # the test extra installs it
from pycocotools.cocoeval import COCOeval

from cnnlab import boxes as B

CASES = settings(max_examples=40, deadline=None)


def random_boxes(rng, n, size=64.0, min_side=1.0, max_side=30.0):
    xy = rng.uniform(0, size - max_side, (n, 2))
    wh = rng.uniform(min_side, max_side, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


# --------------------------------------------------------------------------- IoU

def test_iou_by_hand():
    a = np.array([[0, 0, 2, 2]])
    b = np.array([[1, 1, 3, 3], [0, 0, 2, 2], [2, 0, 4, 2], [5, 5, 6, 6], [0, 0, 2, 1]])
    # overlap 1 of union 4 + 4 − 1; identical; touching edge; far apart; half inside
    np.testing.assert_allclose(B.box_iou(a, b), [[1 / 7, 1.0, 0.0, 0.0, 0.5]])
    assert B.box_area([[3, 5, 4, 6]]).tolist() == [1.0]


@CASES
@given(st.integers(0, 2**32 - 1), st.integers(0, 6), st.integers(0, 6))
def test_iou_properties(seed, n, m):
    rng = np.random.default_rng(seed)
    a, b = random_boxes(rng, n), random_boxes(rng, m)
    iou = B.box_iou(a, b)
    assert iou.shape == (n, m) and np.all((iou >= 0) & (iou <= 1))
    np.testing.assert_allclose(iou, B.box_iou(b, a).T)
    np.testing.assert_allclose(np.diag(B.box_iou(a, a)), np.ones(n))
    # the same numbers as a pixel count on a grid, for boxes with integer corners
    ia, ib = np.floor(a), np.floor(b) + 1
    for i in range(n):
        for j in range(m):
            grid_a, grid_b = np.zeros((70, 70), bool), np.zeros((70, 70), bool)
            x1, y1, x2, y2 = ia[i].astype(int)
            grid_a[y1:y2, x1:x2] = True
            x1, y1, x2, y2 = ib[j].astype(int)
            grid_b[y1:y2, x1:x2] = True
            union = (grid_a | grid_b).sum()
            expected = (grid_a & grid_b).sum() / union if union else 0.0
            assert B.box_iou(ia[i:i + 1], ib[j:j + 1])[0, 0] == pytest.approx(expected)


def test_boxes_given_as_width_and_height_are_refused():
    with pytest.raises(ValueError, match=r"box_iou: a\[0\] = \[10.0, 10.0, 5.0, 5.0\] has its right/bottom edge "
                                         r"before its left/top edge; boxes are \(x1, y1, x2, y2\)"):
        B.box_iou([[10, 10, 5, 5]], [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match=r"must be \(K, 4\) boxes"):
        B.box_iou([[0, 0, 1]], [[0, 0, 1, 1]])


# --------------------------------------------------------------------------- anchors and coding

def test_anchors_sit_on_cell_centres_in_head_order():
    anchors = B.make_anchors((2, 3), stride=8, sizes=(8, 16), ratios=(1.0, 4.0))
    assert anchors.shape == (2 * 3 * 4, 4)
    np.testing.assert_allclose(anchors[0], [0, 0, 8, 8])                      # row 0, column 0, size 8, square
    np.testing.assert_allclose(anchors[1], [4 - 8, 4 - 2, 4 + 8, 4 + 2])     # ratio 4: 16 wide, 4 high
    np.testing.assert_allclose(anchors[4], [8, 0, 16, 8])                     # row 0, column 1
    np.testing.assert_allclose(anchors[3 * 4], [0, 8, 8, 16])                 # row 1, column 0
    np.testing.assert_allclose(B.box_area(anchors[:4]), [64, 64, 256, 256])   # every ratio keeps size²


@CASES
@given(st.integers(0, 2**32 - 1))
def test_decode_undoes_encode(seed):
    rng = np.random.default_rng(seed)
    boxes, anchors = random_boxes(rng, 7), random_boxes(rng, 7)
    np.testing.assert_allclose(B.decode_boxes(B.encode_boxes(boxes, anchors), anchors), boxes, atol=1e-9)
    np.testing.assert_allclose(B.encode_boxes(anchors, anchors), 0, atol=1e-12)


def test_matching_gives_every_object_an_anchor():
    anchors = B.make_anchors(4, stride=16, sizes=(16,))                      # 16 anchors on a 64×64 image
    boxes = np.array([[0, 0, 16, 16], [40, 40, 50, 60], [20, 2, 22, 4]])     # the last overlaps nothing much
    classes, offsets = B.match_anchors(anchors, boxes, [3, 0, 7])
    assert classes[0] == 4 and (classes == 1).sum() >= 1 and (classes == 8).sum() == 1
    positive = classes > 0
    for k in np.flatnonzero(positive):
        target = boxes[[3, 0, 7].index(classes[k] - 1)]
        np.testing.assert_allclose(B.decode_boxes(offsets[k:k + 1], anchors[k:k + 1])[0], target)
    assert np.all(offsets[~positive] == 0)
    empty, _ = B.match_anchors(anchors, np.zeros((0, 4)), [])
    assert not empty.any()


# --------------------------------------------------------------------------- NMS

def reference_nms(boxes, scores, threshold):
    """torchvision.ops.nms, spelled out: quadratic, no early exits."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    removed, keep = set(), []
    for pos, i in enumerate(order):
        if i in removed:
            continue
        keep.append(i)
        for j in order[pos + 1:]:
            if B.box_iou(boxes[i:i + 1], boxes[j:j + 1])[0, 0] > threshold:
                removed.add(j)
    return keep


@CASES
@given(st.integers(0, 2**32 - 1), st.integers(0, 12), st.sampled_from([0.3, 0.5, 0.7]))
def test_nms_matches_the_reference_rule(seed, n, threshold):
    rng = np.random.default_rng(seed)
    boxes, scores = random_boxes(rng, n, size=40), rng.permutation(n) / max(n, 1)
    assert B.nms(boxes, scores, threshold).tolist() == reference_nms(boxes, scores, threshold)


def test_nms_by_hand():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [2, 0, 12, 10], [30, 30, 40, 40]])
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    # 1 overlaps 0 (IoU 9/11): dropped; 2 overlaps 0 by 8/12 (dropped), not by the dropped 1
    assert B.nms(boxes, scores, 0.5).tolist() == [0, 3]
    assert B.nms(boxes, scores, 0.7).tolist() == [0, 2, 3]
    # exactly at the threshold is kept, as in torchvision
    assert B.nms([[0, 0, 2, 1], [0, 0, 1, 1]], [0.9, 0.8], 0.5).tolist() == [0, 1]
    labels = np.array([0, 1, 0, 0])
    assert B.nms_per_class(boxes, scores, labels, 0.5).tolist() == [0, 1, 3]


# --------------------------------------------------------------------------- mAP against pycocotools

def coco_ap50(pred_boxes, pred_scores, pred_labels, true_boxes, true_labels, num_classes):
    """mAP@0.5 and per-class AP from pycocotools' COCOeval on the same boxes."""
    def xywh(b):
        return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]

    images = [{"id": i + 1} for i in range(len(true_boxes))]
    annotations = []
    for i, (bs, cs) in enumerate(zip(true_boxes, true_labels)):
        for b, c in zip(bs, cs):
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": int(c) + 1,
                                "bbox": xywh(b), "area": float((b[2] - b[0]) * (b[3] - b[1])), "iscrowd": 0})
    gt = COCO()
    gt.dataset = {"images": images, "annotations": annotations,
                  "categories": [{"id": c + 1} for c in range(num_classes)]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        results = [{"image_id": i + 1, "category_id": int(c) + 1, "bbox": xywh(b), "score": float(s)}
                   for i, (bs, ss, cs) in enumerate(zip(pred_boxes, pred_scores, pred_labels))
                   for b, s, c in zip(bs, ss, cs)]
        dt = gt.loadRes(results) if results else COCO()
        evaluation = COCOeval(gt, dt, "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    precision = evaluation.eval["precision"][0, :, :, 0, 2]                 # IoU 0.5, all areas, 100 dets
    per_class = {c: float(precision[:, c].mean()) for c in range(num_classes) if precision[0, c] > -1}
    return evaluation.stats[1], per_class


def synthetic_detections(rng, images=12, classes=4):
    """Objects, and detections near them (some off, some duplicated, some of the wrong class)."""
    true_boxes, true_labels, pred_boxes, pred_scores, pred_labels = [], [], [], [], []
    for _ in range(images):
        k = rng.integers(0, 5)
        truth = random_boxes(rng, k, min_side=4)
        labels = rng.integers(0, classes, k)
        jitter = rng.normal(0, rng.uniform(0.5, 6), (k, 4))
        found = rng.random(k) < 0.8
        boxes = [truth[found] + jitter[found]] + [truth[found][:2] + rng.normal(0, 2, (min(2, found.sum()), 4))]
        boxes.append(random_boxes(rng, rng.integers(0, 4), min_side=4))    # false alarms
        det_labels = [labels[found], labels[found][:2], rng.integers(0, classes, len(boxes[-1]))]
        boxes = np.concatenate(boxes)
        boxes = np.concatenate([np.minimum(boxes[:, :2], boxes[:, 2:]), np.maximum(boxes[:, :2], boxes[:, 2:])], 1)
        det_labels = np.concatenate(det_labels)
        flip = rng.random(len(det_labels)) < 0.1                               # wrong class now and then
        det_labels[flip] = rng.integers(0, classes, flip.sum())
        true_boxes.append(truth)
        true_labels.append(labels)
        pred_boxes.append(boxes)
        pred_scores.append(rng.random(len(boxes)))
        pred_labels.append(det_labels)
    return pred_boxes, pred_scores, pred_labels, true_boxes, true_labels


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_map_matches_pycocotools(seed):
    args = synthetic_detections(np.random.default_rng(seed))
    ours = B.mean_average_precision(*args, iou_threshold=0.5)
    theirs, per_class = coco_ap50(*args, num_classes=4)
    assert set(ours.ap) == set(per_class)
    for c, value in per_class.items():
        assert ours.ap[c] == pytest.approx(value, abs=1e-12), c
    assert ours.map == pytest.approx(theirs if per_class else 0.0, abs=1e-12)


def test_map_by_hand():
    truth = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), np.array([[0, 0, 10, 10]])]
    labels = [np.array([0, 0]), np.array([1])]
    # class 0: a hit (0.9), a miss (0.8), the second object (0.7): precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
    boxes = [np.array([[0, 0, 10, 10], [50, 50, 60, 60], [21, 20, 31, 30]]), np.array([[0, 0, 10, 9]])]
    scores = [np.array([0.9, 0.8, 0.7]), np.array([0.5])]
    result = B.mean_average_precision(boxes, scores, [np.array([0, 0, 0]), np.array([1])], truth, labels)
    # envelope: precision 1 up to recall 0.5 (51 levels), then 2/3 up to recall 1 (50 levels)
    assert result.ap[0] == pytest.approx((51 * 1 + 50 * 2 / 3) / 101)
    assert result.ap[1] == 1.0
    assert result.map == pytest.approx((result.ap[0] + 1) / 2)
    np.testing.assert_allclose(result.curves[0].precision, [1, 0.5, 2 / 3])
    np.testing.assert_allclose(result.curves[0].recall, [0.5, 0.5, 1])


def test_a_second_detection_of_the_same_object_is_a_false_positive():
    hit = B.match_detections([[0, 0, 10, 10], [0, 0, 10, 10]], [0.9, 0.8], [[0, 0, 10, 10]])
    assert hit.tolist() == [True, False]
    assert B.average_precision([], []) == 0.0
