"""cnnlab.segmentation: the confusion matrix, IoU per class and mean IoU, by hand and against a
per-class set computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab import segmentation as S


def test_by_hand():
    target = np.array([[0, 0, 1, 1],
                       [0, 0, 1, 1]])
    pred = np.array([[0, 1, 1, 1],
                     [0, 0, 2, 1]])
    confusion = S.pixel_confusion(pred, target, 3)
    np.testing.assert_array_equal(confusion, [[3, 1, 0], [0, 3, 1], [0, 0, 0]])
    # class 0: 3 / (4 + 3 − 3); class 1: 3 / (4 + 4 − 3); class 2: 0 / (0 + 1 − 0)
    np.testing.assert_allclose(S.iou_per_class(pred, target, 3), [3 / 4, 3 / 5, 0.0])
    assert S.mean_iou(pred, target, 3) == pytest.approx((3 / 4 + 3 / 5 + 0) / 3)
    assert S.pixel_accuracy(pred, target) == 6 / 8


def test_absent_classes_are_left_out_not_counted_as_zero():
    target = pred = np.array([[0, 1], [1, 0]])
    iou = S.iou_per_class(pred, target, 5)
    assert iou[:2].tolist() == [1.0, 1.0] and np.isnan(iou[2:]).all()
    assert S.mean_iou(pred, target, 5) == 1.0


def test_counts_pool_all_images_before_dividing():
    target = np.array([[[1, 1, 1, 1]], [[0, 0, 0, 1]]])
    pred = np.array([[[1, 1, 1, 1]], [[0, 0, 0, 0]]])
    # pooled: class 1 has 4 hits of 5 pixels; the mean of the two images' IoUs would be (1 + 0) / 2
    assert S.iou_per_class(pred, target, 2)[1] == pytest.approx(4 / 5)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 6))
def test_iou_is_the_set_ratio(seed, k):
    rng = np.random.default_rng(seed)
    target, pred = rng.integers(0, k, (3, 5, 7)), rng.integers(0, k, (3, 5, 7))
    iou = S.iou_per_class(torch.from_numpy(pred), target, k)                 # tensors work too
    for c in range(k):
        union = ((pred == c) | (target == c)).sum()
        expected = ((pred == c) & (target == c)).sum() / union if union else np.nan
        np.testing.assert_equal(iou[c], expected)
    assert S.pixel_confusion(pred, target, k).sum() == pred.size


@pytest.mark.parametrize("call, message", [
    (lambda: S.pixel_confusion(np.zeros((2, 2), int), np.zeros((2, 3), int), 2),
     "pixel_confusion: pred has shape (2, 2) but target has (2, 3)"),
    (lambda: S.pixel_confusion(np.array([0, 3]), np.array([0, 1]), 3),
     "pixel_confusion: pred holds labels 0..3, outside [0, 3)"),
    (lambda: S.iou_per_class(np.zeros(3), np.zeros(3, int), 2),
     "pixel_confusion: pred must hold integer class labels, got dtype float64"),
])
def test_errors(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message
