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
# # Exercises 03 — backprop, layer by layer, and a CNN of your own
#
# Ten exercises that go with lesson 03, in two parts.
#
# **Part 1, the gradients layer by layer** (19 points):
#
# 1. the gradients of a convolution: dx, dw and db (4 points);
# 2. max pooling, forward (2 points);
# 3. max pooling, backward, with overlapping windows (3 points);
# 4. average pooling, backward, with stride and zero padding (3 points);
# 5. ReLU, backward (1 point);
# 6. a fully connected (affine) layer, backward (2 points);
# 7. softmax cross-entropy, stable for any logits (2 points);
# 8. a batched convolution, forward, without a loop over output pixels (2 points).
#
# **Part 2, the capstone** (7 points): put *your* layers together into a small CNN,
# check its gradients numerically, and train it on Fashion-MNIST to 80 % test accuracy:
#
# 9. the loss and every gradient of conv → ReLU → max-pool → linear → softmax (3 points);
# 10. training it (4 points).
#
# After each exercise, run the cell below it: it compares your answer with the reference
# layers (which agree with torch) and prints `✓` or what is wrong. A first failure says where
# to look; `check(fn, hint=True)`, or the next failing attempt, names the likely cause.
# NumPy only: `torch`, `scipy`, `cnnlab.layers` and `cnnlab.numpy_cnn` are not allowed (the
# grader refuses them; the capstone may not import anything from `cnnlab`). You can always
# test a gradient yourself with `cnnlab.gradcheck.numerical_gradient`.
#
# **Speed matters in part 2.** The capstone trains with your layers on thousands of
# images, so write them without a Python loop over images or output pixels: loop over the
# few kernel or window *entries* instead (9 for a 3×3 kernel) and let NumPy handle whole
# `(N, C, OH, OW)` slices at once, as the solutions below do. A version with four nested
# loops passes the checks of part 1 but would train for hours.

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
#
# The solution loops over the kernel entries `(m, q)`: entry `(m, q)` met the pixels
# `xp[:, :, m::s, q::s]` (the first `OH × OW` of them), one `(N, C, OH, OW)` slice.

# %% nbgrader={"grade": false, "grade_id": "conv_backward", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def conv_backward(dout, x, w, stride=1, padding=0):
    """Gradients of a convolution. Returns dx (N, C, H, W), dw (F, C, KH, KW), db (F,)."""
    ### BEGIN SOLUTION
    _, _, kh, kw = w.shape
    _, _, oh, ow = dout.shape
    s, p = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))              # (N, C, H+2p, W+2p)
    dxp = np.zeros(xp.shape)
    dw = np.zeros(w.shape)
    for m in range(kh):                                            # one kernel entry at a time
        for q in range(kw):
            rows, cols = slice(m, m + s * (oh - 1) + 1, s), slice(q, q + s * (ow - 1) + 1, s)
            dw[:, :, m, q] = np.einsum("nfij,ncij->fc", dout, xp[:, :, rows, cols])       # (F, C)
            dxp[:, :, rows, cols] += np.einsum("nfij,fc->ncij", dout, w[:, :, m, q])      # (N, C, OH, OW)
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
    out = np.full(x.shape[:2] + (oh, ow), -np.inf)                 # (N, C, OH, OW)
    for m in range(k):                                             # one window entry at a time
        for q in range(k):
            entry = x[:, :, m:m + s * (oh - 1) + 1:s, q:q + s * (ow - 1) + 1:s]   # (N, C, OH, OW)
            out = np.maximum(out, entry)
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
# (The check's inputs have no ties; pick any rule for them.)

# %% nbgrader={"grade": false, "grade_id": "maxpool_backward", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def maxpool_backward(dout, x, kernel_size, stride):
    """Gradient of max pooling with respect to x (N, C, H, W)."""
    ### BEGIN SOLUTION
    k, s = kernel_size, stride
    _, _, oh, ow = dout.shape
    windows = [(slice(m, m + s * (oh - 1) + 1, s), slice(q, q + s * (ow - 1) + 1, s))
               for m in range(k) for q in range(k)]                # each entry's (OH, OW) grid of pixels
    best = np.full(dout.shape, -np.inf)                            # each window's max so far
    argmax = np.zeros(dout.shape, dtype=int)                       # ... and which entry holds it
    for e, (rows, cols) in enumerate(windows):
        better = x[:, :, rows, cols] > best
        best = np.where(better, x[:, :, rows, cols], best)
        argmax[better] = e
    dx = np.zeros(x.shape)
    for e, (rows, cols) in enumerate(windows):
        dx[:, :, rows, cols] += np.where(argmax == e, dout, 0.0)   # += : windows may overlap
    return dx
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "maxpool_backward_test", "locked": true, "points": 3, "schema_version": 3, "solution": false}
check(maxpool_backward)

# %% [markdown]
# ## Exercise 4 — average pooling, backward, with stride and padding (3 points)
#
# Average pooling outputs the mean of each `kernel_size × kernel_size` window of the input
# padded with `padding` zeros on each side; the mean always divides by `kernel_size²`, even
# for a window that covers padding (the zeros count, as in torch's default
# `count_include_pad=True`). Write `avgpool_backward(dout, x_shape, kernel_size, stride,
# padding)`: the gradient with respect to an input of shape `x_shape` `(N, C, H, W)` (the
# values of `x` do not matter: the mean's gradient does not depend on them). Every element of
# a window receives an equal share of the window's upstream value; overlapping windows add
# up; the padding's share is dropped at the end.

# %% nbgrader={"grade": false, "grade_id": "avgpool_backward", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def avgpool_backward(dout, x_shape, kernel_size, stride, padding=0):
    """Gradient of average pooling with respect to an input of shape x_shape (N, C, H, W)."""
    ### BEGIN SOLUTION
    k, s, p = kernel_size, stride, padding
    n, c, h, w = x_shape
    _, _, oh, ow = dout.shape
    dxp = np.zeros((n, c, h + 2 * p, w + 2 * p))                   # the padded input's gradient
    share = dout / (k * k)                                         # (N, C, OH, OW): the zeros count too
    for m in range(k):
        for q in range(k):
            dxp[:, :, m:m + s * (oh - 1) + 1:s, q:q + s * (ow - 1) + 1:s] += share
    return dxp[:, :, p:p + h, p:p + w]                             # (N, C, H, W)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "avgpool_backward_test", "locked": true, "points": 3, "schema_version": 3, "solution": false}
check(avgpool_backward)

# %% [markdown]
# ## Exercise 5 — ReLU, backward (1 point)
#
# ReLU computes `max(0, x)` element by element. Write `relu_backward(dout, x)`: the gradient
# with respect to `x` (any shape) given the upstream gradient `dout` of the same shape and the
# forward pass's input `x`. At exactly `x = 0` use 0, as torch does.

# %% nbgrader={"grade": false, "grade_id": "relu_backward", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def relu_backward(dout, x):
    """Gradient of ReLU with respect to x (same shape as x)."""
    ### BEGIN SOLUTION
    return dout * (x > 0)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "relu_backward_test", "locked": true, "points": 1, "schema_version": 3, "solution": false}
check(relu_backward)

# %% [markdown]
# ## Exercise 6 — a fully connected layer, backward (2 points)
#
# A fully connected (affine) layer flattens each input to a row of `D` numbers and computes
# `out = x_flat · wᵀ + b`, with `x` `(N, d1, …, dk)` (so `D = d1·…·dk`, images welcome),
# `w` `(M, D)` laid out like torch's `nn.Linear`, and `b` `(M,)`. Write
# `linear_backward(dout, x, w)` returning `(dx, dw, db)` for an upstream gradient `dout`
# `(N, M)`: `dx` in the shape of `x`, `dw` `(M, D)`, `db` `(M,)`.

# %% nbgrader={"grade": false, "grade_id": "linear_backward", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def linear_backward(dout, x, w):
    """Gradients of out = x.reshape(N, -1) @ w.T + b. Returns dx (shape of x), dw (M, D), db (M,)."""
    ### BEGIN SOLUTION
    n = x.shape[0]
    x_flat = x.reshape(n, -1)                                      # (N, D)
    dx = (dout @ w).reshape(x.shape)                               # (N, D) -> the shape of x
    dw = dout.T @ x_flat                                           # (M, D)
    db = dout.sum(axis=0)                                          # (M,)
    return dx, dw, db
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "linear_backward_test", "locked": true, "points": 2, "schema_version": 3, "solution": false}
check(linear_backward)

# %% [markdown]
# ## Exercise 7 — softmax cross-entropy (2 points)
#
# Write `softmax_cross_entropy(logits, y)` for scores `logits` `(N, K)` and integer labels `y`
# `(N,)`: return `(loss, dlogits)`, where `loss` is the mean over the batch of
# `−log softmax(logits[n])[y[n]]` and `dlogits` `(N, K)` its gradient with respect to the
# logits. It must give finite, exact answers for any logits: the check includes logits near
# 1,000 (where `e^z` overflows) and a correct class 800 below the best (where its probability
# rounds to 0).

# %% nbgrader={"grade": false, "grade_id": "softmax_cross_entropy", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def softmax_cross_entropy(logits, y):
    """Mean cross-entropy of softmax(logits) (N, K) against labels y (N,), and its gradient (N, K)."""
    ### BEGIN SOLUTION
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)          # (N, K), largest 0: e^z cannot overflow
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))   # log softmax, (N, K)
    loss = -log_probs[np.arange(n), y].mean()
    dlogits = np.exp(log_probs)                                    # softmax, (N, K)
    dlogits[np.arange(n), y] -= 1                                  # minus the one-hot labels
    return loss, dlogits / n
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "softmax_cross_entropy_test", "locked": true, "points": 2, "schema_version": 3, "solution": false}
check(softmax_cross_entropy)

# %% [markdown]
# ## Exercise 8 — a fast convolution, forward (2 points)
#
# Write `conv_forward(x, w, b, stride, padding)` for a batch: `x` `(N, C, H, W)`, `w`
# `(F, C, KH, KW)`, `b` `(F,)`; return `(N, F, OH, OW)`, the cross-correlation of lesson 01
# (kernel not flipped) with zero padding on every side. Loop over the `KH·KW` kernel entries,
# not over the output pixels: kernel entry `(m, q)` multiplies the `(N, C, OH, OW)` slice
# `xp[:, :, m::s, q::s]` (its first `OH × OW` pixels) by `w[:, :, m, q]` and sums over `C`
# (`np.einsum` or `np.tensordot` do that in one call). This is lesson 03's im2col idea without
# the copy.

# %% nbgrader={"grade": false, "grade_id": "conv_forward", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def conv_forward(x, w, b, stride=1, padding=0):
    """Convolution (cross-correlation) of a batch x (N, C, H, W) with w (F, C, KH, KW), plus b (F,)."""
    ### BEGIN SOLUTION
    n = x.shape[0]
    f, _, kh, kw = w.shape
    s, p = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))              # (N, C, H+2p, W+2p)
    oh, ow = (xp.shape[2] - kh) // s + 1, (xp.shape[3] - kw) // s + 1
    out = np.zeros((n, f, oh, ow))
    for m in range(kh):                                            # one kernel entry at a time
        for q in range(kw):
            patch = xp[:, :, m:m + s * (oh - 1) + 1:s, q:q + s * (ow - 1) + 1:s]   # (N, C, OH, OW)
            out += np.einsum("ncij,fc->nfij", patch, w[:, :, m, q])
    return out + b.reshape(1, -1, 1, 1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "conv_forward_test", "locked": true, "points": 2, "schema_version": 3, "solution": false}
check(conv_forward)

# %% [markdown]
# ## Exercise 9 — capstone, part 1: a CNN of your own layers (3 points)
#
# The network, for images `x` `(N, C, H, W)` and labels `y` `(N,)`:
#
# ```
# conv   = conv_forward(x, w1, b1, stride 1, padding K // 2)   # (N, F, H, W), w1 (F, C, K, K), K odd
# act    = max(0, conv)                                        # ReLU
# pooled = maxpool_forward(act, 2, 2)                          # (N, F, H/2, W/2)
# scores = pooled.reshape(N, -1) @ w2.T + b2                   # (N, M), w2 (M, F·H/2·W/2)
# loss, d_scores = softmax_cross_entropy(scores, y)
# ```
#
# Write `cnn_loss(x, y, w1, b1, w2, b2)` with **your** functions from exercises 1–8: the
# forward pass above, then the backward pass layer by layer in reverse. Return
#
# ```
# loss, (dw1, db1, dw2, db2), (scores, d_scores, d_pooled, d_act, d_conv)
# ```
#
# where `d_pooled`, `d_act`, `d_conv` are the gradients of the loss with respect to `pooled`,
# `act` and `conv`. The check compares every one of them with the reference's, in the order the
# gradient travels back, and tells you the first layer where they stop agreeing. Call the
# functions of the cells above; import nothing from `cnnlab` here (the grader runs this cell
# after your cells of exercises 1–8).

# %% nbgrader={"grade": false, "grade_id": "cnn_loss", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def cnn_loss(x, y, w1, b1, w2, b2):
    """Loss, gradients (dw1, db1, dw2, db2) and trace (scores, d_scores, d_pooled, d_act, d_conv)."""
    ### BEGIN SOLUTION
    pad = w1.shape[2] // 2
    conv = conv_forward(x, w1, b1, 1, pad)                         # (N, F, H, W)
    act = np.maximum(conv, 0)                                      # ReLU
    pooled = maxpool_forward(act, 2, 2)                            # (N, F, H/2, W/2)
    scores = pooled.reshape(len(x), -1) @ w2.T + b2                # (N, M)
    loss, d_scores = softmax_cross_entropy(scores, y)
    d_pooled, dw2, db2 = linear_backward(d_scores, pooled, w2)     # (N, F, H/2, W/2)
    d_act = maxpool_backward(d_pooled, act, 2, 2)                  # (N, F, H, W)
    d_conv = relu_backward(d_act, conv)
    _, dw1, db1 = conv_backward(d_conv, x, w1, 1, pad)
    return loss, (dw1, db1, dw2, db2), (scores, d_scores, d_pooled, d_act, d_conv)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "cnn_loss_test", "locked": true, "points": 3, "schema_version": 3, "solution": false}
check(cnn_loss)

# %% [markdown]
# Before training, check the gradients numerically, as in the lesson: nudge each weight by
# ±h, see how your loss changes, and compare with your gradients. Relative errors around
# 1e-8 mean the backward pass is right; 1e-2 means a bug. Then see how long an epoch of
# training will take with your layers (the solution needs well under a second per epoch of
# 5,000 images on one core for the layers of part 1 written as above; loops over pixels take
# hours).

# %%
from cnnlab.checks.ch03 import gradient_check, seconds_per_epoch

gradient_check(cnn_loss)
seconds_per_epoch(cnn_loss)

# %% [markdown]
# ## Exercise 10 — capstone, part 2: train it (4 points)
#
# Write `train_cnn(x, y, epochs, seed)`: train the network of exercise 9 on images `x`
# `(N, 1, 28, 28)` (Fashion-MNIST, normalised) with labels `y` `(N,)` in `0..9`, for `epochs`
# passes over the data, and return the trained `(w1, b1, w2, b2)`, with `w2` of shape
# `(10, F·14·14)`. You choose the rest: the number of filters `F`, the kernel size `K` (odd),
# the initialisation (seeded by `seed`), the batch size, the update rule and the learning rate.
# Minibatch SGD with momentum works well: 8 filters of 3×3, batches of 32, momentum 0.9 and a
# learning rate of 0.01 that decays to 0 over the run (without the decay, the last steps' noise
# costs a few points of accuracy).
#
# The check trains your network itself and measures its accuracy on the 1,000 test images of
# the bundled sample, which your code never sees. Its training set is fresh every time: a
# random subset of the 6,000 sample images with a little noise, and the ten labels shuffled
# (so class 3 need not be "Dress" this time). To pass, the network needs **80 %** test
# accuracy after 3 epochs on 5,000 images (in the course's quick test run: 70 % after 2 epochs
# on 1,500). The check trains the reference network too, for comparison, so it takes a little
# more than your training time. Call your `cnn_loss`; import nothing from `cnnlab`.

# %% nbgrader={"grade": false, "grade_id": "train_cnn", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def train_cnn(x, y, epochs, seed):
    """Train the CNN of cnn_loss on x (N, 1, 28, 28), y (N,); return (w1, b1, w2, b2)."""
    ### BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    f, k, classes = 8, 3, 10
    features = f * (x.shape[2] // 2) * (x.shape[3] // 2)
    w1 = rng.standard_normal((f, 1, k, k)) * np.sqrt(2 / (k * k))   # He initialisation, for ReLU
    w2 = rng.standard_normal((classes, features)) * 0.1 / np.sqrt(features)   # small: near-uniform start
    params = [w1, np.zeros(f), w2, np.zeros(classes)]
    velocity = [np.zeros_like(p) for p in params]
    lr, momentum, batch = 0.01, 0.9, 32
    steps, step = epochs * -(-len(x) // batch), 0
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            rows = order[start:start + batch]
            _, grads, _ = cnn_loss(x[rows], y[rows], *params)
            rate = lr * 0.5 * (1 + np.cos(np.pi * step / steps))   # cosine decay: calm steps at the end
            step += 1
            for p, v, g in zip(params, velocity, grads):
                v *= momentum
                v += g
                p -= rate * v                                      # in place: params holds these arrays
    return tuple(params)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "train_cnn_test", "locked": true, "points": 4, "schema_version": 3, "solution": false}
check(train_cnn)

# %% [markdown]
# ## Where these come from
#
# `cnnlab.layers` holds the same layers written once for the whole course (`conv2d_forward`
# with im2col, `conv2d_backward`, `maxpool2d_*`, `avgpool2d_*`, `relu_*`, `linear_*`,
# `softmax_cross_entropy`), and the tests check them against torch's autograd.
# `cnnlab.numpy_cnn.NumpyCNN` is the capstone's network built from them; lesson 03 trains it.
