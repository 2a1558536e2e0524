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
# # Exercises 04 — LeNet-5, looking at what it learned, and the update rules that train it
#
# Six exercises that go with lesson 04:
#
# 1. build the 1998 LeNet-5 yourself, layer by layer (4 points);
# 2. move images sideways without wrapping around, the heart of the translation test (2 points);
# 3. count a confusion matrix (2 points);
# 4. one step of SGD with momentum, Nesterov's too (2 points);
# 5. one step of Adam with bias correction (3 points);
# 6. weight decay, as an L2 term and decoupled (AdamW), on top of your Adam (2 points).
#
# Exercises 4–6 are checked against `torch.optim` step by step: your step must give the same
# numbers as torch's, to nine digits.
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
# ## Exercise 4 — SGD with momentum (2 points)
#
# Lesson 04 trains LeNet with `torch.optim.SGD(..., momentum=0.9)`. Write one of its steps for
# one parameter array, `sgd_momentum(w, dw, velocity, lr, momentum, nesterov)`, returning the
# new `(w, velocity)`:
#
# ```
# velocity ← momentum · velocity + dw          # a running sum of past gradients (zeros at first)
# w        ← w − lr · velocity                 # nesterov=False
# w        ← w − lr · (dw + momentum · velocity)   # nesterov=True: look one step ahead
# ```
#
# This is torch's convention: the velocity does not include the learning rate. Return new
# arrays; NumPy only (`torch` and `cnnlab` are not allowed here).

# %% nbgrader={"grade": false, "grade_id": "sgd_momentum", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def sgd_momentum(w, dw, velocity, lr, momentum, nesterov=False):
    """One step of SGD with momentum (torch.optim.SGD's rule). Returns (w, velocity)."""
    ### BEGIN SOLUTION
    velocity = momentum * velocity + dw                            # remembers the past steps
    step = dw + momentum * velocity if nesterov else velocity      # Nesterov: look one step ahead
    return w - lr * step, velocity
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "sgd_momentum_test", "locked": true, "points": 2, "schema_version": 3, "solution": false}
check(sgd_momentum)

# %% [markdown]
# ## Exercise 5 — Adam (3 points)
#
# Adam keeps two running averages per parameter, of the gradient and of its square, and
# steps by their ratio, so every weight gets a step of about `lr` whatever the scale of its
# gradient. Write `adam(w, dw, m, v, t, lr, beta1, beta2, eps)` returning the new
# `(w, m, v)`, where `t` is the number of this step (1 for the first):
#
# ```
# m ← β1·m + (1 − β1)·dw             v ← β2·v + (1 − β2)·dw²
# m̂ = m / (1 − β1^t)                 v̂ = v / (1 − β2^t)        # bias correction: m, v start at 0
# w ← w − lr · m̂ / (√v̂ + eps)
# ```
#
# NumPy only.

# %% nbgrader={"grade": false, "grade_id": "adam", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def adam(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """One step of Adam (torch.optim.Adam's rule); t counts steps from 1. Returns (w, m, v)."""
    ### BEGIN SOLUTION
    m = beta1 * m + (1 - beta1) * dw                               # average gradient
    v = beta2 * v + (1 - beta2) * dw**2                            # average squared gradient
    m_hat = m / (1 - beta1**t)                                     # bias correction: both start at 0
    v_hat = v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "adam_test", "locked": true, "points": 3, "schema_version": 3, "solution": false}
check(adam)

# %% [markdown]
# ## Exercise 6 — weight decay, two ways (2 points)
#
# Weight decay pulls the weights towards 0 (lesson 05 measures what it does). There are two
# ways to add it to Adam, and they are not the same:
#
# - **L2** (`decoupled=False`, `torch.optim.Adam(weight_decay=λ)`): add λ·w to the gradient,
#   then take the Adam step with that gradient. Adam then rescales the decay like any gradient.
# - **decoupled** (`decoupled=True`, `torch.optim.AdamW`): first shrink the weights,
#   `w ← w · (1 − lr·λ)`, then take the plain Adam step with `dw`.
#
# Write `adam_weight_decay(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay, decoupled)`
# returning `(w, m, v)`. Call your `adam` from exercise 5 (the grader runs that cell first).

# %% nbgrader={"grade": false, "grade_id": "adam_weight_decay", "locked": false, "schema_version": 3, "solution": true}
def adam_weight_decay(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay, decoupled):
    """Adam with weight decay λ: as an L2 term (Adam) or decoupled (AdamW). Returns (w, m, v)."""
    ### BEGIN SOLUTION
    if decoupled:                                                  # AdamW: shrink first, then step
        return adam(w * (1 - lr * weight_decay), dw, m, v, t, lr, beta1, beta2, eps)
    return adam(w, dw + weight_decay * w, m, v, t, lr, beta1, beta2, eps)   # L2: part of the gradient
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "adam_weight_decay_test", "locked": true, "points": 2, "schema_version": 3, "solution": false}
check(adam_weight_decay)

# %% [markdown]
# ## Where these come from
#
# - `cnnlab.models.lenet5(variant="classic")` is the package's LeNet-5; lesson 04 trains it.
# - `cnnlab.experiments.ch04.shift_images` and `translation_test` run the translation test.
# - `cnnlab.viz.training.plot_confusion_matrix` draws the matrix you just counted.
# - `cnnlab.optim` has the same update rules for NumPy (`sgd_step`, `adam_step`), checked
#   against `torch.optim` step by step; `cnnlab.numpy_cnn` trains with them.
