# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exercises 09: beyond classification
#
# Four exercises on the tools of lesson 09, in plain NumPy:
#
# 1. **IoU of two box sets** (2 points): every box of one set against every box of another.
# 2. **Non-maximum suppression** (3 points): one box per object.
# 3. **The size of a transposed convolution's output** (2 points).
# 4. **Mean IoU of a segmentation** (2 points).
#
# Each exercise ends with a self-check cell: `check(your_function)` prints one line that
# says whether your answer matches the reference, and what looks wrong if it does not.
# `torch`, `torchvision` and `cnnlab` are not allowed in the answers (they have them
# ready-made); NumPy is yours. Put the imports you need inside each cell.

# %%
import numpy as np

from cnnlab.checks import check

# %% [markdown]
# ## Exercise 1 — IoU of two box sets (2 points)
#
# A box is `(x1, y1, x2, y2)`: left, top, right and bottom edges, so its width is `x2 − x1`
# and its height `y2 − y1`. Write `box_iou(a, b)` for an `(N, 4)` array `a` and an `(M, 4)`
# array `b` that returns the `(N, M)` array of intersection over union of every pair:
#
# IoU = area of the overlap / (area of a + area of b − area of the overlap).
#
# The overlap of two boxes is again a box (the larger left edge, the smaller right edge, …);
# when the boxes are apart its width or height comes out negative and must count as 0. Try to
# do it without a Python loop: `a[:, None, :]` against `b[None, :, :]` broadcasts to all pairs.

# %% nbgrader={"grade": false, "grade_id": "box_iou", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def box_iou(a, b):
    """IoU of every box in a (N, 4) with every box in b (M, 4): an (N, M) array."""
    ### BEGIN SOLUTION
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    left_top = np.maximum(a[:, None, :2], b[None, :, :2])              # (N, M, 2)
    right_bottom = np.minimum(a[:, None, 2:], b[None, :, 2:])          # (N, M, 2)
    wh = np.clip(right_bottom - left_top, 0, None)
    inter = wh[..., 0] * wh[..., 1]                                    # (N, M)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "box_iou_test", "locked": true, "points": 2, "schema_version": 3, "solution": false}
check(box_iou)

# %% [markdown]
# `box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3], [2, 0, 4, 2]])` is `[[1/7, 0]]`: an overlap of one
# pixel out of 4 + 4 − 1, and two boxes that only touch.

# %% [markdown]
# ## Exercise 2 — non-maximum suppression (3 points)
#
# Write `nms(boxes, scores, iou_threshold)` for boxes `(K, 4)` and scores `(K,)`. Visit the
# boxes from the highest score down. Keep a box unless its IoU with a box you have already
# **kept** is greater than `iou_threshold`; a box you dropped suppresses nothing. Return the
# indices of the kept boxes, highest score first (a NumPy array of ints or a list), like
# `torchvision.ops.nms`. You may paste your `box_iou` into this cell and use it.

# %% nbgrader={"grade": false, "grade_id": "nms", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def nms(boxes, scores, iou_threshold):
    """Indices of the boxes that survive non-maximum suppression, highest score first."""
    ### BEGIN SOLUTION
    boxes, scores = np.asarray(boxes, dtype=float), np.asarray(scores, dtype=float)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        wh = np.clip(np.minimum(boxes[best, 2:], boxes[rest, 2:]) - np.maximum(boxes[best, :2], boxes[rest, :2]), 0, None)
        inter = wh[:, 0] * wh[:, 1]
        iou = inter / (area[best] + area[rest] - inter)
        order = rest[iou <= iou_threshold]
    return np.array(keep, dtype=np.int64)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "nms_test", "locked": true, "points": 3, "schema_version": 3, "solution": false}
check(nms)

# %% [markdown]
# Three boxes in a row, each overlapping the next by IoU 0.43 but the first and the third only
# by 0.11: with threshold 0.3 the first survives, the second goes, and the third survives,
# because the second was dropped before it could suppress anything.

# %% [markdown]
# ## Exercise 3 — the output size of a transposed convolution (2 points)
#
# Write `conv_transpose_output_size(size, kernel_size, stride, padding, output_padding,
# dilation)`: the height (or width) of the output of `nn.ConvTranspose2d` with these settings
# on a `size`-pixel input, as an `int`. Think of the stamps: `size` stamps `stride` apart, each
# spanning `dilation·(kernel_size − 1) + 1` pixels; `padding` is cropped from both sides and
# `output_padding` added at one side.

# %% nbgrader={"grade": false, "grade_id": "conv_transpose_output_size", "locked": false, "schema_version": 3, "solution": true}
def conv_transpose_output_size(size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    """Output length of a transposed convolution: an int."""
    ### BEGIN SOLUTION
    return (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "conv_transpose_output_size_test", "locked": true, "points": 2, "schema_version": 3, "solution": false}
check(conv_transpose_output_size)

# %% [markdown]
# The usual ×2 upsampling, kernel 4, stride 2, padding 1, turns 4 into 8; kernel 3 and stride 2
# turn 4 into 9, and `padding=1, output_padding=1` bring that back to 8.

# %% [markdown]
# ## Exercise 4 — mean IoU of a segmentation (2 points)
#
# Write `mean_iou(pred, target, num_classes)` for two integer label maps of the same shape
# (for example `(N, H, W)`, a batch) with classes `0 … num_classes − 1`. Over **all pixels of
# all images together**, the IoU of class c is
#
# |pred = c and target = c| / |pred = c or target = c|.
#
# Return the mean of these IoUs over the classes that appear in `pred` or in `target` (a class
# that appears in neither has no IoU and is left out), as one float.

# %% nbgrader={"grade": false, "grade_id": "mean_iou", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def mean_iou(pred, target, num_classes):
    """Mean over the classes present of |pred = c and target = c| / |pred = c or target = c|."""
    ### BEGIN SOLUTION
    pred, target = np.asarray(pred), np.asarray(target)
    ious = []
    for c in range(num_classes):
        union = np.sum((pred == c) | (target == c))
        if union:
            ious.append(np.sum((pred == c) & (target == c)) / union)
    return float(np.mean(ious))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "mean_iou_test", "locked": true, "points": 2, "schema_version": 3, "solution": false}
check(mean_iou)

# %% [markdown]
# For the truth `[[0, 0, 1, 1], [0, 0, 1, 1]]` and the prediction `[[0, 1, 1, 1], [0, 0, 2, 1]]`
# the IoUs are 3/4, 3/5 and 0 (class 2 was predicted once and is never true): the mean is 0.45.
#
# ## Summary
#
# - IoU compares two regions by their overlap relative to their union; clipping negative
#   overlaps and counting the overlap once in the union are the two details that matter.
# - NMS keeps the best box and drops only what overlaps a *kept* box.
# - A transposed convolution's size runs the convolution's formula backwards.
# - Mean IoU pools the pixels first and averages over the classes that are there.
