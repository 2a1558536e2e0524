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
# # Exercises 03 — backprop through convolution and pooling
#
# Four exercises that go with lesson 03:
#
# 1. the gradients of a convolution: dx, dw and db (4 points);
# 2. max pooling, forward (2 points);
# 3. max pooling, backward, with overlapping windows (3 points);
# 4. average pooling, backward (2 points).
#
# After each exercise, run the cell below it: it compares your answer with the reference
# layers (which agree with torch) and prints `✓` or what is wrong. NumPy only: `torch`,
# `scipy`, `cnnlab.layers` and `cnnlab.numpy_cnn` are not allowed (the grader refuses them).
# You can always test a gradient yourself with `cnnlab.gradcheck.numerical_gradient`.

# %%
import numpy as np
from cnnlab.checks import check

# %% [markdown]
# ## Exercise 1 — the gradients of a convolution (4 points)
#
# The forward pass was `out[n, f, i, j] = Σ_c Σ_m Σ_q xp[n, c, i·s + m, j·s + q] · w[f, c, m, q] + b[f]`,
# where `xp` is `x` padded with `padding` zeros on each side and `s` the stride.
# Write `conv_backward(dout, x, w, stride, padding)` returning `(dx, dw, db)` for an
# upstream gradient `dout` `(N, F, OH, OW)`, images `x` `(N, C, H, W)` and filters `w`
# `(F, C, KH, KW)`:
#
# - `dw` `(F, C, KH, KW)`: every window of `xp` times its upstream value, summed over all
#   positions and images (the filter is shared, so its gradients accumulate);
# - `db` `(F,)`: the bias was added at every position, so sum `dout` over `N`, `OH`, `OW`;
# - `dx` `(N, C, H, W)`: each upstream value goes back to its window, weighted by the
#   filter (`dxp[window] += dout · w[f]`), then drop the padding. For stride 1 this is the
#   full convolution of `dout` with the kernel rotated by 180°.

# %% nbgrader={"grade": false, "grade_id": "conv_backward", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def conv_backward(dout, x, w, stride=1, padding=0):
    """Gradients of a convolution. Returns dx (N, C, H, W), dw (F, C, KH, KW), db (F,)."""
    ### BEGIN SOLUTION
    _, _, kh, kw = w.shape
    n_count, f_count, oh, ow = dout.shape
    p = padding
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))              # (N, C, H+2p, W+2p)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for n in range(n_count):
        for f in range(f_count):
            for i in range(oh):
                for j in range(ow):
                    rows = slice(i * stride, i * stride + kh)
                    cols = slice(j * stride, j * stride + kw)
                    dw[f] += xp[n, :, rows, cols] * dout[n, f, i, j]    # (C, KH, KW)
                    dxp[n, :, rows, cols] += w[f] * dout[n, f, i, j]
    db = dout.sum(axis=(0, 2, 3))                                  # (F,)
    dx = dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]]             # (N, C, H, W)
    return dx, dw, db
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "conv_backward_test", "locked": true, "points": 4, "schema_version": 3, "solution": false}
check(conv_backward)

# %% [markdown]
# ## Exercise 2 — max pooling, forward (2 points)
#
# Write `maxpool_forward(x, kernel_size, stride)` for `x` `(N, C, H, W)`: the largest value
# of every `kernel_size × kernel_size` window, windows `stride` pixels apart (they overlap
# when the stride is smaller than the window). No padding. Return `(N, C, OH, OW)` with
# `OH = ⌊(H − kernel_size) / stride⌋ + 1`.

# %% nbgrader={"grade": false, "grade_id": "maxpool_forward", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def maxpool_forward(x, kernel_size, stride):
    """Max pooling of x (N, C, H, W). Returns (N, C, OH, OW)."""
    ### BEGIN SOLUTION
    k, s = kernel_size, stride
    oh, ow = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
    out = np.zeros(x.shape[:2] + (oh, ow))                         # (N, C, OH, OW)
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = x[:, :, i * s:i * s + k, j * s:j * s + k].max(axis=(2, 3))
    return out
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "maxpool_forward_test", "locked": true, "points": 2, "schema_version": 3, "solution": false}
check(maxpool_forward)

# %% [markdown]
# ## Exercise 3 — max pooling, backward (3 points)
#
# Write `maxpool_backward(dout, x, kernel_size, stride)`: the gradient with respect to `x`
# `(N, C, H, W)` given the upstream gradient `dout` `(N, C, OH, OW)` of the max pooling of
# exercise 2. Each window sends its whole upstream value to the element that was its
# maximum (the others did not change the output). When windows overlap, an element can be
# the maximum of several windows: it receives the **sum** of their gradients.
# (The check's inputs have no ties.)

# %% nbgrader={"grade": false, "grade_id": "maxpool_backward", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def maxpool_backward(dout, x, kernel_size, stride):
    """Gradient of max pooling with respect to x (N, C, H, W)."""
    ### BEGIN SOLUTION
    k, s = kernel_size, stride
    dx = np.zeros_like(x, dtype=np.float64)
    for n, c, i, j in np.ndindex(dout.shape):
        window = x[n, c, i * s:i * s + k, j * s:j * s + k]             # (K, K)
        r, q = np.unravel_index(np.argmax(window), window.shape)
        dx[n, c, i * s + r, j * s + q] += dout[n, c, i, j]             # += : windows may overlap
    return dx
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "maxpool_backward_test", "locked": true, "points": 3, "schema_version": 3, "solution": false}
check(maxpool_backward)

# %% [markdown]
# ## Exercise 4 — average pooling, backward (2 points)
#
# Average pooling outputs the mean of each `kernel_size × kernel_size` window. Write
# `avgpool_backward(dout, x_shape, kernel_size, stride)`: the gradient with respect to an
# input of shape `x_shape` `(N, C, H, W)` (the values of `x` do not matter: the mean's
# gradient does not depend on them). Every element of a window receives an equal share of
# the window's upstream value; overlapping windows add up.

# %% nbgrader={"grade": false, "grade_id": "avgpool_backward", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def avgpool_backward(dout, x_shape, kernel_size, stride):
    """Gradient of average pooling with respect to an input of shape x_shape (N, C, H, W)."""
    ### BEGIN SOLUTION
    k, s = kernel_size, stride
    dx = np.zeros(x_shape)
    share = dout / (k * k)                                             # (N, C, OH, OW)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * s:i * s + k, j * s:j * s + k] += share[:, :, i, j, None, None]
    return dx
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "avgpool_backward_test", "locked": true, "points": 2, "schema_version": 3, "solution": false}
check(avgpool_backward)

# %% [markdown]
# ## Where these come from
#
# `cnnlab.layers.conv2d_backward`, `maxpool2d_backward` and `avgpool2d_backward` compute
# the same gradients without a loop over positions (a loop over the kernel offsets instead),
# and the tests check them against torch's autograd. Lesson 03 shows where each gradient
# goes in pictures.
