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
# # Exercises 04 — LeNet-5 and looking at what it learned
#
# Three exercises that go with lesson 04:
#
# 1. build the 1998 LeNet-5 yourself, layer by layer (4 points);
# 2. move images sideways without wrapping around, the heart of the translation test (2 points);
# 3. count a confusion matrix (2 points).
#
# After each exercise, run the cell below it: it checks your answer on fresh inputs and
# prints `✓` or what is wrong. The grader runs each of your solution cells on its own, so
# put the imports a solution needs inside its cell.

# %%
import numpy as np
from cnnlab.checks import check

# %% [markdown]
# ## Exercise 1 — LeNet-5, layer by layer (4 points)
#
# Write `lenet_classic(num_classes, in_channels)` returning an `nn.Module` that maps images
# `(N, in_channels, 28, 28)` to logits `(N, num_classes)` with the 1998 layout:
#
# | layer | what | output for a 28×28 input |
# |---|---|---|
# | conv1 | 6 filters 5×5, padding 2, then sigmoid | (N, 6, 28, 28) |
# | pool1 | 2×2 average pool, stride 2 | (N, 6, 14, 14) |
# | conv2 | 16 filters 5×5, no padding, then sigmoid | (N, 16, 10, 10) |
# | pool2 | 2×2 average pool, stride 2 | (N, 16, 5, 5) |
# | fc1 | flatten, 400 → 120, then sigmoid | (N, 120) |
# | fc2 | 120 → 84, then sigmoid | (N, 84) |
# | fc3 | 84 → num_classes | (N, num_classes) |
#
# Every conv and fully connected layer has a bias. With one input channel and ten classes
# the network has **61,706 parameters**. The check gives your network fixed weights and
# compares, on random images: the parameter count, the output shape of every conv and
# fully connected layer, and the outputs themselves. Use `torch.nn`; `cnnlab.models` is
# not allowed here.

# %% nbgrader={"grade": false, "grade_id": "lenet_classic", "locked": false, "schema_version": 3, "solution": true}
from torch import nn


def lenet_classic(num_classes=10, in_channels=1):
    """The 1998 LeNet-5 (sigmoid, average pooling) for (N, in_channels, 28, 28) images -> (N, num_classes)."""
    ### BEGIN SOLUTION
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), nn.Sigmoid(),   # (N, 6, 28, 28)
        nn.AvgPool2d(2),                                                     # (N, 6, 14, 14)
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),                       # (N, 16, 10, 10)
        nn.AvgPool2d(2),                                                     # (N, 16, 5, 5)
        nn.Flatten(),                                                        # (N, 400)
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),                            # (N, 120)
        nn.Linear(120, 84), nn.Sigmoid(),                                    # (N, 84)
        nn.Linear(84, num_classes),                                          # (N, num_classes)
    )
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "lenet_classic_test", "locked": true, "points": 4, "schema_version": 3, "solution": false}
check(lenet_classic)

# %% [markdown]
# ## Exercise 2 — shift images without wrapping around (2 points)
#
# The translation test of lesson 04 moves every test image a few pixels and measures the
# accuracy again. Write `shift_right(images, k, fill)`:
#
# - `images`: a float array `(N, H, W)`;
# - `k`: an int; move every image `k` pixels to the right (a negative `k` moves it left);
# - `fill`: the value of the pixels that the move uncovers.
#
# Return a new array `(N, H, W)`. Pixels pushed past the edge are lost: nothing wraps
# around to the other side (that is what `np.roll` would do). If `|k| ≥ W`, every pixel is
# `fill`. NumPy only: `torch`, `scipy` and `cnnlab` are not allowed here.

# %% nbgrader={"grade": false, "grade_id": "shift_right", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def shift_right(images, k, fill=0.0):
    """Move every image of (N, H, W) k pixels right (k < 0: left); uncovered pixels become fill."""
    ### BEGIN SOLUTION
    width = images.shape[2]
    out = np.full_like(images, fill)
    if abs(k) >= width:
        return out
    if k >= 0:
        out[:, :, k:] = images[:, :, :width - k]
    else:
        out[:, :, :width + k] = images[:, :, -k:]
    return out
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "shift_right_test", "locked": true, "points": 2, "schema_version": 3, "solution": false}
check(shift_right)

# %% [markdown]
# ## Exercise 3 — the confusion matrix (2 points)
#
# Write `confusion_matrix(y_true, y_pred, num_classes)`: `y_true` and `y_pred` are int
# arrays `(N,)` of class indices in `0 … num_classes − 1`. Return an int array
# `(num_classes, num_classes)` whose entry `[i, j]` counts the images of true class `i`
# that the network called `j`. Rows are true classes, columns are predictions, so the
# diagonal holds the correct answers. The matrix has all `num_classes` rows even when a
# class never occurs. NumPy only: `torch`, `sklearn` and `cnnlab` are not allowed here.

# %% nbgrader={"grade": false, "grade_id": "confusion_matrix", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def confusion_matrix(y_true, y_pred, num_classes):
    """Counts (num_classes, num_classes): [i, j] = images of true class i predicted as j."""
    ### BEGIN SOLUTION
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    for true, pred in zip(y_true, y_pred):
        matrix[true, pred] += 1
    return matrix
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "confusion_matrix_test", "locked": true, "points": 2, "schema_version": 3, "solution": false}
check(confusion_matrix)

# %% [markdown]
# ## Where these come from
#
# - `cnnlab.models.lenet5(variant="classic")` is the package's LeNet-5; lesson 04 trains it.
# - `cnnlab.experiments.ch04.shift_images` and `translation_test` run the translation test.
# - `cnnlab.viz.training.plot_confusion_matrix` draws the matrix you just counted.
