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
# # Exercises 01 — convolution by hand
#
# Three exercises that go with lesson 01:
#
# 1. one channel, one kernel, with loops (2 points);
# 2. several channels and filters, with bias, stride and zero padding (3 points);
# 3. a 1×1 convolution as per-pixel mixing of channels (1 point).
#
# After each exercise, run the cell below it: it checks your answer on fresh inputs and
# prints `✓` or what is wrong. The grader runs each of your solution cells on its own, so
# put the imports a solution needs inside its cell. NumPy only: `torch`, `scipy` and
# `cnnlab.layers` are not allowed in these exercises (the grader refuses them).

# %%
import numpy as np
from cnnlab.checks import check

# %% [markdown]
# ## Exercise 1 — one channel, with loops (2 points)
#
# Write `conv2d_single(x, w)` for a grey image `x` `(H, W)` and a kernel `w` `(KH, KW)`:
# no padding, stride 1, no bias. Place the kernel at every position where it fits entirely,
# multiply element by element, and sum:
#
# $$Y[i, j] = \sum_m \sum_n X[i + m,\, j + n]\; W[m, n]$$
#
# Return `Y` `(H − KH + 1, W − KW + 1)` as floats. Like every deep-learning library, do
# **not** flip the kernel (this is cross-correlation). On the lesson's 5×5 image with the
# vertical-edge kernel, `Y[0, 0]` is −6.

# %% nbgrader={"grade": false, "grade_id": "conv2d_single", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def conv2d_single(x, w):
    """Cross-correlate x (H, W) with w (KH, KW), no padding, stride 1. Returns (H-KH+1, W-KW+1)."""
    ### BEGIN SOLUTION
    kh, kw = w.shape
    oh, ow = x.shape[0] - kh + 1, x.shape[1] - kw + 1
    out = np.zeros((oh, ow))                                   # (OH, OW)
    for i in range(oh):
        for j in range(ow):
            out[i, j] = np.sum(x[i:i + kh, j:j + kw] * w)
    return out
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "conv2d_single_test", "locked": true, "points": 2, "schema_version": 3, "solution": false}
check(conv2d_single)

# %% [markdown]
# ## Exercise 2 — channels, filters, stride and padding (3 points)
#
# Write `conv2d_multi(x, w, b, stride, padding)` for one image `x` `(C, H, W)`, filters `w`
# `(F, C, KH, KW)` and biases `b` `(F,)`:
#
# 1. pad `x` with `padding` zeros on every side of both spatial axes;
# 2. slide each filter `stride` pixels at a time; at each position sum the products over
#    **all C channels** and the kernel window, then add `b[f]`;
# 3. return `(F, OH, OW)` with `OH = ⌊(H + 2·padding − KH) / stride⌋ + 1` (same for `OW`).
#
# Each filter gives one feature map, however many channels the input has.

# %% nbgrader={"grade": false, "grade_id": "conv2d_multi", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def conv2d_multi(x, w, b, stride=1, padding=0):
    """Convolve x (C, H, W) with filters w (F, C, KH, KW) plus b (F,). Returns (F, OH, OW)."""
    ### BEGIN SOLUTION
    f_count, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))     # (C, H+2p, W+2p)
    oh = (xp.shape[1] - kh) // stride + 1
    ow = (xp.shape[2] - kw) // stride + 1
    out = np.zeros((f_count, oh, ow))                                    # (F, OH, OW)
    for f in range(f_count):
        for i in range(oh):
            for j in range(ow):
                window = xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw]   # (C, KH, KW)
                out[f, i, j] = np.sum(window * w[f]) + b[f]
    return out
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "conv2d_multi_test", "locked": true, "points": 3, "schema_version": 3, "solution": false}
check(conv2d_multi)

# %% [markdown]
# ## Exercise 3 — a 1×1 convolution (1 point)
#
# A 1×1 kernel sees one pixel at a time, so a 1×1 convolution mixes the channels of each
# pixel and nothing else. Write `conv1x1(x, w)` for `x` `(C, H, W)` and a mixing matrix `w`
# `(F, C)` (no bias): output map `f` is `Σ_c w[f, c] · x[c]`. Return `(F, H, W)`.
# One line of NumPy does it (`np.einsum` or `np.tensordot`); loops are fine too.

# %% nbgrader={"grade": false, "grade_id": "conv1x1", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def conv1x1(x, w):
    """Mix the channels of x (C, H, W) at every pixel with w (F, C). Returns (F, H, W)."""
    ### BEGIN SOLUTION
    return np.einsum("fc,chw->fhw", w, x)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "conv1x1_test", "locked": true, "points": 1, "schema_version": 3, "solution": false}
check(conv1x1)

# %% [markdown]
# ## Where these come from
#
# - `cnnlab.layers.conv2d_naive` is exercise 2 for a whole batch, with dilation too;
#   `cnnlab.layers.conv2d_forward` computes the same numbers with one matrix product (lesson 03).
# - A 1×1 convolution is what `torch.nn.Conv2d(C, F, kernel_size=1)` computes; lesson 08's
#   Inception block uses it to shrink the channels before the expensive 3×3 and 5×5 branches.
