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
# # Exercises 05 — the VGG block, batch norm and dropout, forward and backward
#
# Five exercises that go with lesson 05:
#
# 1. a VGG block builder, the one loop a whole VGG is made of (3 points);
# 2. batch norm's forward pass in training mode, with NumPy (2 points);
# 3. inverted dropout, with NumPy (1 point);
# 4. batch norm's backward pass, for feature maps (3 points);
# 5. dropout's backward pass (1 point).
#
# After each exercise, run the cell below it: it checks your answer on fresh inputs and
# prints `✓` or what is wrong. The grader runs each of your solution cells on its own, so
# put the imports a solution needs inside its cell.

# %%
import numpy as np
from cnnlab.checks import check

# %% [markdown]
# ## Exercise 1 — a VGG block (3 points)
#
# Write `vgg_block(in_channels, out_channels, num_convs)` returning an `nn.Sequential`:
# `num_convs` times a 3×3 convolution with padding 1 (with bias) followed by a ReLU, then one
# 2×2 max pool with stride 2. The first conv takes `in_channels`; every conv outputs
# `out_channels`. So a block keeps the size through its convs and halves it at the end:
# `(N, in_channels, H, W)` → `(N, out_channels, H/2, W/2)`.
#
# The check gives your block fixed weights and compares the parameter count, the output
# shape of every conv, and the outputs on random 12×12 images. Use `torch.nn`;
# `cnnlab.models` is not allowed here.

# %% nbgrader={"grade": false, "grade_id": "vgg_block", "locked": false, "schema_version": 3, "solution": true}
from torch import nn


def vgg_block(in_channels, out_channels, num_convs):
    """[conv3×3 (padding 1) -> ReLU] × num_convs, then a 2×2 max pool: (N, C, H, W) -> (N, out, H/2, W/2)."""
    ### BEGIN SOLUTION
    layers = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]  # (N, out, H, W)
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))                                      # (N, out, H/2, W/2)
    return nn.Sequential(*layers)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "vgg_block_test", "locked": true, "points": 3, "schema_version": 3, "solution": false}
check(vgg_block)

# %% [markdown]
# ## Exercise 2 — batch norm, training mode (2 points)
#
# Write `batchnorm_forward(x, gamma, beta, eps)` for a batch of feature maps
# `x` `(N, C, H, W)`, with `gamma` and `beta` `(C,)`:
#
# 1. per channel, the mean and the variance over the batch and both spatial axes
#    (N·H·W numbers each); use the biased variance (divide by N·H·W);
# 2. normalise: x̂ = (x − mean) / √(variance + eps);
# 3. scale and shift: γ·x̂ + β, with the γ and β of the channel.
#
# Return the result `(N, C, H, W)`. NumPy only: `torch` and `cnnlab` are not allowed here.

# %% nbgrader={"grade": false, "grade_id": "batchnorm_forward", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    """Batch norm of x (N, C, H, W) with the batch statistics; gamma, beta (C,). Returns (N, C, H, W)."""
    ### BEGIN SOLUTION
    mean = x.mean(axis=(0, 2, 3), keepdims=True)                   # (1, C, 1, 1)
    var = x.var(axis=(0, 2, 3), keepdims=True)                     # (1, C, 1, 1)
    x_hat = (x - mean) / np.sqrt(var + eps)                        # (N, C, H, W)
    return gamma.reshape(1, -1, 1, 1) * x_hat + beta.reshape(1, -1, 1, 1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "batchnorm_forward_test", "locked": true, "points": 2, "schema_version": 3, "solution": false}
check(batchnorm_forward)

# %% [markdown]
# ## Exercise 3 — inverted dropout (1 point)
#
# While training, dropout zeroes each unit with probability `p`. Write
# `dropout_forward(x, p, keep)` where `keep` is a boolean array of `x`'s shape (True: the
# unit survives, drawn for you). Return `x` with the dropped units set to 0 and the kept
# units divided by `1 − p`, so that each unit's expected value is unchanged and the
# network needs no change at test time ("inverted" dropout). NumPy only.

# %% nbgrader={"grade": false, "grade_id": "dropout_forward", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def dropout_forward(x, p, keep):
    """Inverted dropout: zero where keep is False, scale the rest by 1 / (1 - p)."""
    ### BEGIN SOLUTION
    return np.where(keep, x / (1.0 - p), 0.0)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "dropout_forward_test", "locked": true, "points": 1, "schema_version": 3, "solution": false}
check(dropout_forward)

# %% [markdown]
# ## Exercise 4 — batch norm, backward (3 points)
#
# Write `batchnorm_backward(dout, x, gamma, eps)` returning `(dx, dgamma, dbeta)` for the batch
# norm of exercise 2, given the upstream gradient `dout` `(N, C, H, W)` and the forward pass's
# input `x`. Per channel, with the `M = N·H·W` values of the channel, `σ = √(var + eps)` and
# `x̂ = (x − mean)/σ`:
#
# - `dbeta = Σ dout` and `dgamma = Σ dout·x̂`, sums over `N`, `H`, `W`, shape `(C,)`;
# - `dx`: the mean and the variance are computed from `x` too, so every value of a channel
#   reaches every output of the channel three ways. Collected, they give the closed form
#   `dx = γ/σ · (dout − mean(dout) − x̂ · mean(dout·x̂))`, means over `N`, `H`, `W` per channel.
#
# (Derive it once on paper: `∂mean/∂x = 1/M` and `∂var/∂x = 2(x − mean)/M`.) The check compares
# with torch's autograd. NumPy only.

# %% nbgrader={"grade": false, "grade_id": "batchnorm_backward", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def batchnorm_backward(dout, x, gamma, eps=1e-5):
    """Gradients of training-mode batch norm: dx (N, C, H, W), dgamma (C,), dbeta (C,)."""
    ### BEGIN SOLUTION
    axes = (0, 2, 3)                                               # per channel: over N, H and W
    mean = x.mean(axis=axes, keepdims=True)                        # (1, C, 1, 1)
    inv_std = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)   # (1, C, 1, 1)
    x_hat = (x - mean) * inv_std                                   # (N, C, H, W)
    dbeta = dout.sum(axis=axes)                                    # (C,)
    dgamma = (dout * x_hat).sum(axis=axes)                         # (C,)
    d_hat = dout * gamma.reshape(1, -1, 1, 1)                      # gradient at x̂
    dx = inv_std * (d_hat - d_hat.mean(axis=axes, keepdims=True)
                    - x_hat * (d_hat * x_hat).mean(axis=axes, keepdims=True))
    return dx, dgamma, dbeta
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "batchnorm_backward_test", "locked": true, "points": 3, "schema_version": 3, "solution": false}
check(batchnorm_backward)

# %% [markdown]
# ## Exercise 5 — dropout, backward (1 point)
#
# Write `dropout_backward(dout, keep, p)`: the gradient of exercise 3's inverted dropout with
# respect to its input, given the upstream gradient `dout` and the **same** mask `keep` the
# forward pass used (a layer keeps its mask from the forward pass for exactly this). NumPy only.

# %% nbgrader={"grade": false, "grade_id": "dropout_backward", "locked": false, "schema_version": 3, "solution": true}
import numpy as np


def dropout_backward(dout, keep, p):
    """Gradient of inverted dropout with the forward pass's mask keep."""
    ### BEGIN SOLUTION
    return np.where(keep, dout / (1.0 - p), 0.0)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "dropout_backward_test", "locked": true, "points": 1, "schema_version": 3, "solution": false}
check(dropout_backward)

# %% [markdown]
# ## Where these come from
#
# - `cnnlab.models.vgg.vgg_features` builds a whole VGG feature extractor from a list like
#   `[64, 64, "M", 128, 128, "M", ...]`: your block, in one loop.
# - `torch.nn.BatchNorm2d` and `torch.nn.Dropout` are the layers lesson 05 measures;
#   `cnnlab.layers.batchnorm2d_forward/backward` and `dropout_forward/backward` are the NumPy
#   versions, checked against torch's autograd.
