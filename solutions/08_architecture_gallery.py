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
# # Exercises 08: the architecture gallery
#
# Three exercises on the ideas that lesson 08 adds to the gallery:
#
# 1. **An Inception module** (4 points): four parallel branches over the same input,
#    concatenated along the channels. Its output channels and its parameter count must match
#    GoogLeNet's block exactly.
# 2. **The bottleneck in numbers** (2 points): how many parameters a 1×1 convolution in
#    front of a wide kernel saves.
# 3. **Compound scaling** (2 points): EfficientNet's rule for growing depth, width and
#    resolution together.
#
# Each exercise ends with a self-check cell: `check(your_function)` prints one line that
# says whether your answer matches the reference, and what looks wrong if it does not.

# %%
import numpy as np
import torch
from torch import nn

from cnnlab.checks import check

# %% [markdown]
# ## Exercise 1 — an Inception module (4 points)
#
# Write `inception_module(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj)` that
# returns an `nn.Module` mapping `(N, in_channels, H, W)` to
# `(N, c1 + c3 + c5 + pool_proj, H, W)` with four branches, concatenated along dim 1 **in
# this order**:
#
# | branch | layers | output channels |
# |---|---|---|
# | 1 | 1×1 conv | `c1` |
# | 2 | 1×1 conv to `c3_reduce`, then 3×3 conv (padding 1) | `c3` |
# | 3 | 1×1 conv to `c5_reduce`, then 5×5 conv (padding 2) | `c5` |
# | 4 | 3×3 max pool (stride 1, padding 1), then 1×1 conv | `pool_proj` |
#
# Every conv is a *unit*: `nn.Conv2d(..., bias=False)` → `nn.BatchNorm2d(out, eps=0.001)` →
# `nn.ReLU()`. (The conv needs no bias: the batch norm's shift β does that job.)
#
# The checker gives your block fixed weights and compares its parameter count, output shape
# and output values with the reference. You may not use `cnnlab.models` here (it has the
# answer); `torch` and `torch.nn` are yours. Put the imports you need inside the cell.

# %% nbgrader={"grade": false, "grade_id": "inception_module", "locked": false, "schema_version": 3, "solution": true}
import torch
from torch import nn


def inception_module(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj):
    """An Inception block: 1×1, 1×1→3×3, 1×1→5×5 and pool→1×1 branches, concatenated.

    Args:
        in_channels: C of the input.
        c1: filters of the 1×1 branch.
        c3_reduce, c3: bottleneck width and filters of the 3×3 branch.
        c5_reduce, c5: bottleneck width and filters of the 5×5 branch.
        pool_proj: filters of the 1×1 conv after the max pool.

    Returns:
        An nn.Module: (N, in_channels, H, W) -> (N, c1 + c3 + c5 + pool_proj, H, W).
    """
    ### BEGIN SOLUTION
    def unit(c_in, c_out, k):
        return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False),
                             nn.BatchNorm2d(c_out, eps=0.001), nn.ReLU())

    class Inception(nn.Module):
        def __init__(self):
            super().__init__()
            self.branch1 = unit(in_channels, c1, 1)
            self.branch3 = nn.Sequential(unit(in_channels, c3_reduce, 1), unit(c3_reduce, c3, 3))
            self.branch5 = nn.Sequential(unit(in_channels, c5_reduce, 1), unit(c5_reduce, c5, 5))
            self.branch_pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), unit(in_channels, pool_proj, 1))

        def forward(self, x):
            parts = [self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)]
            return torch.cat(parts, dim=1)

    return Inception()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "inception_module_test", "locked": true, "points": 4, "schema_version": 3, "solution": false}
check(inception_module)

# %% [markdown]
# On GoogLeNet's first block, "3a", `inception_module(192, 64, 96, 128, 16, 32, 32)` turns
# (1, 192, 28, 28) into (1, 256, 28, 28) with 164,064 parameters.

# %% [markdown]
# ## Exercise 2 — the bottleneck in numbers (2 points)
#
# Write `bottleneck_params(in_channels, reduce, out_channels, kernel_size)` returning two
# integers: the parameters of
#
# 1. one `kernel_size`×`kernel_size` conv from `in_channels` to `out_channels`, and
# 2. a 1×1 conv from `in_channels` to `reduce` followed by the same k×k conv from `reduce` to
#    `out_channels`.
#
# Here every conv is a plain conv **with a bias** (lesson 02: filters · in · k · k + filters).
# Use arithmetic only: `torch` and `cnnlab` are not allowed in this cell.

# %% nbgrader={"grade": false, "grade_id": "bottleneck_params", "locked": false, "schema_version": 3, "solution": true}
def bottleneck_params(in_channels, reduce, out_channels, kernel_size):
    """(parameters of the direct k×k conv, parameters of 1×1 bottleneck + k×k conv)."""
    ### BEGIN SOLUTION
    k2 = kernel_size * kernel_size
    direct = out_channels * in_channels * k2 + out_channels
    squeezed = (reduce * in_channels + reduce) + (out_channels * reduce * k2 + out_channels)
    return direct, squeezed
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "bottleneck_params_test", "locked": true, "points": 2, "schema_version": 3, "solution": false}
check(bottleneck_params)

# %% [markdown]
# In block 3a the 5×5 branch squeezes 192 channels to 16 before its 5×5 conv:
# `bottleneck_params(192, 16, 32, 5)` is (153,632, 15,920), almost ten times fewer.

# %% [markdown]
# ## Exercise 3 — compound scaling (2 points)
#
# EfficientNet grows a base network with one coefficient φ: depth by α^φ, width by β^φ and
# the input resolution by γ^φ, with α · β² · γ² ≈ 2 so that every step of φ about doubles the
# cost.
#
# Write `compound_multipliers(phi, alpha, beta, gamma, base_resolution)` returning
# `(depth, width, resolution)`: the two multipliers as floats and the new input side in
# pixels, `base_resolution · γ^φ` rounded to the nearest whole pixel. No `torch`, no `cnnlab`.

# %% nbgrader={"grade": false, "grade_id": "compound_multipliers", "locked": false, "schema_version": 3, "solution": true}
def compound_multipliers(phi, alpha=1.2, beta=1.1, gamma=1.15, base_resolution=224):
    """(depth multiplier α^φ, width multiplier β^φ, resolution round(base · γ^φ))."""
    ### BEGIN SOLUTION
    return alpha ** phi, beta ** phi, round(base_resolution * gamma ** phi)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "compound_multipliers_test", "locked": true, "points": 2, "schema_version": 3, "solution": false}
check(compound_multipliers)

# %% [markdown]
# From a 224-pixel base, φ = 1 gives (1.2, 1.1, 258) and φ = 3 gives (1.728, 1.331, 341):
# a network 1.7 times deeper, 1.3 times wider, looking at 341×341 images, for about
# 1.92³ ≈ 7 times the cost.
#
# ## Summary
#
# - An Inception block runs 1×1, 3×3, 5×5 and pooling side by side and concatenates the
#   results; its 1×1 bottlenecks are what keep the wide kernels affordable.
# - A bottleneck trades one expensive k×k conv over many channels for a cheap 1×1 squeeze
#   plus a k×k conv over few channels.
# - Compound scaling grows depth, width and resolution together with one knob φ.
