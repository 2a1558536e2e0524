"""Lesson 09 exercises: the references pass, and each classic mistake fails with its own Mistake."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.checks import Mistake, ch09, exercises, get, run_exercise

EX = exercises("09")


def diagnosed(name, fn) -> set[str]:
    """The labels of the mistakes ``diagnose`` recognises in ``fn``'s answers, over all cases (it must fail)."""
    ex = get(name)
    result = run_exercise(ex, fn)
    assert result.status == "wrong", result.line()
    labels = set()
    for case in ex.cases(np.random.default_rng(0)):
        expected = ex.probe(ex.reference(**case), case) if ex.probe else ex.reference(**case)
        got = fn(**case)
        got = ex.probe(got, case) if ex.probe else got
        found = ex.diagnose(case, got, expected)
        if found is not None:
            assert isinstance(found, Mistake) and found.label and found.nudge and found.hint
            labels.add(found.label)
    return labels


def test_chapter_09_registers_four_exercises():
    assert set(EX) == {"box_iou", "nms", "conv_transpose_output_size", "mean_iou"}
    assert sum(ex.points for ex in EX.values()) == 9
    for ex in EX.values():
        assert "torch" in ex.forbidden and "cnnlab" in ex.forbidden


@pytest.mark.parametrize("name", sorted(EX))
def test_cases_are_fresh_each_seed_but_fixed_per_seed(name):
    draw = EX[name].cases
    a, b = draw(np.random.default_rng(1)), draw(np.random.default_rng(1))
    assert repr(a) == repr(b)
    assert repr(a) != repr(draw(np.random.default_rng(2)))


# --------------------------------------------------------------------------- IoU

def iou(a, b, clip=True, plus=0.0, denominator="union", xywh=False):
    a, b = np.asarray(a, float), np.asarray(b, float)
    if xywh:
        a = np.concatenate([a[:, :2], a[:, :2] + a[:, 2:]], 1)
        b = np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], 1)
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + plus
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + plus
    inter = np.clip(w, 0, None) * np.clip(h, 0, None) if clip else w * h
    area_a = ((a[:, 2] - a[:, 0] + plus) * (a[:, 3] - a[:, 1] + plus))[:, None]
    area_b = ((b[:, 2] - b[:, 0] + plus) * (b[:, 3] - b[:, 1] + plus))[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / {"union": area_a + area_b - inter, "sum": area_a + area_b,
                        "first": area_a + 0 * area_b}[denominator]


def test_iou_written_with_loops_passes(assert_passes):
    def loops(a, b):
        out = np.zeros((len(a), len(b)))
        for i, (ax1, ay1, ax2, ay2) in enumerate(a):
            for j, (bx1, by1, bx2, by2) in enumerate(b):
                inter = max(0, min(ax2, bx2) - max(ax1, bx1)) * max(0, min(ay2, by2) - max(ay1, by1))
                out[i, j] = inter / ((ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter)
        return out.tolist()                                     # a nested list is fine

    assert_passes("box_iou", loops)
    assert_passes("box_iou", iou)


@pytest.mark.parametrize("options, label", [
    (dict(clip=False), "IoU: negative overlap not clipped"),
    (dict(denominator="sum"), "IoU: divided by the sum of the areas"),
    (dict(denominator="first"), "IoU: divided by one box's area"),
    (dict(xywh=True), "IoU: boxes read as (x, y, w, h)"),
    (dict(plus=1.0), "IoU: +1 on every side"),
])
def test_iou_mistakes(options, label):
    assert diagnosed("box_iou", lambda a, b: iou(a, b, **options)) == {label}


def test_iou_of_pairs_only():
    result = run_exercise(get("box_iou"), lambda a, b: np.diag(iou(a, b)) if len(a) == len(b) else iou(a, b))
    assert result.status == "wrong" and "(N, M)" in result.message


# --------------------------------------------------------------------------- NMS

def nms(boxes, scores, iou_threshold, dropped_suppress=False, strict=True, order="descending", sort_output=False):
    overlap = iou(boxes, boxes)
    visit = {"descending": np.argsort(-scores, kind="stable"), "ascending": np.argsort(scores, kind="stable"),
             "given": np.arange(len(scores))}[order]
    kept, dropped = [], []
    for i in visit:
        blockers = kept + (dropped if dropped_suppress else [])
        hit = any(overlap[i, j] > iou_threshold if strict else overlap[i, j] >= iou_threshold for j in blockers)
        (dropped if hit else kept).append(int(i))
    return sorted(kept) if sort_output else kept


def test_nms_as_a_list_passes(assert_passes):
    assert_passes("nms", nms)


@pytest.mark.parametrize("options, label", [
    (dict(sort_output=True), "NMS: kept boxes not in score order"),
    (dict(dropped_suppress=True), "NMS: dropped boxes still suppress"),
    (dict(strict=False), "NMS: IoU equal to the threshold dropped"),
    (dict(order="ascending"), "NMS: lowest score first"),
    (dict(order="given"), "NMS: boxes not sorted by score"),
])
def test_nms_mistakes(options, label):
    assert diagnosed("nms", lambda boxes, scores, iou_threshold: nms(boxes, scores, iou_threshold, **options)) == {label}


def test_nms_mask_instead_of_indices():
    def mask(boxes, scores, iou_threshold):
        keep = np.zeros(len(scores), bool)
        keep[nms(boxes, scores, iou_threshold)] = True
        return keep

    assert diagnosed("nms", mask) == {"NMS: mask instead of indices"}


# --------------------------------------------------------------------------- transposed convolution size

def tsize(size, kernel_size, stride, padding, output_padding, dilation):
    return (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1


def test_tsize_reference_numbers(assert_passes):
    assert [int(ch09._tsize_ref(**c)) for c in ch09._tsize_cases(np.random.default_rng(0))[:7]] == [8, 9, 8, 7, 15, 13, 32]
    assert_passes("conv_transpose_output_size", tsize)


@pytest.mark.parametrize("wrong, label", [
    (lambda size, kernel_size, stride, padding, output_padding, dilation:
     (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1, "transposed size: the convolution's formula"),
    (lambda size, kernel_size, stride, padding, output_padding, dilation:
     size * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1,
     "transposed size: n·s instead of (n − 1)·s"),
    (lambda size, kernel_size, stride, padding, output_padding, dilation:
     (size - 1) * stride + 2 * padding + dilation * (kernel_size - 1) + output_padding + 1,
     "transposed size: padding added"),
    (lambda size, kernel_size, stride, padding, output_padding, dilation:
     (size - 1) * stride - 2 * padding + (kernel_size - 1) + output_padding + 1, "transposed size: dilation ignored"),
    (lambda size, kernel_size, stride, padding, output_padding, dilation:
     (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + 1, "transposed size: output_padding ignored"),
    (lambda size, kernel_size, stride, padding, output_padding, dilation:
     (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding, "transposed size: the + 1 missing"),
    (lambda **case: (tsize(**case), tsize(**case)), "transposed size: not one whole number"),
])
def test_tsize_mistakes(wrong, label):
    assert diagnosed("conv_transpose_output_size", wrong) == {label}


# --------------------------------------------------------------------------- mean IoU

def miou(pred, target, num_classes, absent_as_zero=False, per_image=False, recall=False):
    if per_image:
        return float(np.mean([miou(p[None], t[None], num_classes) for p, t in zip(pred, target)]))
    values = []
    for c in range(num_classes):
        both = ((pred == c) & (target == c)).sum()
        union = ((pred == c) | (target == c)).sum()
        if union == 0:
            if absent_as_zero:
                values.append(0.0)
            continue
        values.append(both / ((target == c).sum() if recall else union) if not recall or (target == c).sum() else None)
    values = [v for v in values if v is not None]
    return float(np.mean(values))


def test_mean_iou_reference_and_by_hand(assert_passes):
    case = ch09._miou_cases(np.random.default_rng(0))[0]
    assert ch09._miou_ref(**case) == pytest.approx((3 / 4 + 3 / 5 + 0) / 3)
    assert_passes("mean_iou", miou)


@pytest.mark.parametrize("wrong, label", [
    (lambda pred, target, num_classes: miou(pred, target, num_classes, absent_as_zero=True),
     "mIoU: absent classes counted as 0"),
    (lambda pred, target, num_classes: float((pred == target).mean()), "mIoU: pixel accuracy"),
    (lambda pred, target, num_classes: miou(pred, target, num_classes, per_image=True),
     "mIoU: per image, then averaged"),
    (lambda pred, target, num_classes: miou(pred, target, num_classes, recall=True),
     "mIoU: divided by the true pixels only"),
])
def test_mean_iou_mistakes(wrong, label):
    assert diagnosed("mean_iou", wrong) == {label}
