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
# # Exercises 06 — the residual block and a ResNet's parameter budget
#
# Two exercises that go with lesson 06:
#
# 1. a basic residual block, with a projection shortcut when the shape changes (4 points);
# 2. the parameter count of a ResNet, by formula (3 points).
#
# After each exercise, run the cell below it: it checks your answer on fresh inputs and
# prints `✓` or what is wrong. The grader runs each of your solution cells on its own, so
# put the imports a solution needs inside its cell.

# %%
import numpy as np
from cnnlab.checks import check

# %% [markdown]
# ## Exercise 1 — a residual block (4 points)
#
# Write `residual_block(in_channels, out_channels, stride)` returning an `nn.Module` that maps
# `(N, in_channels, H, W)` to `(N, out_channels, ⌈H/stride⌉, ⌈W/stride⌉)`:
#
# ```
# out = ReLU(BN(conv3×3(x, stride)))        # padding 1, no bias
# out = BN(conv3×3(out))                    # padding 1, no bias
# out = ReLU(out + shortcut(x))
# ```
#
# The shortcut is the identity when the shape is kept (`stride == 1` and
# `in_channels == out_channels`), and otherwise a **projection**: a 1×1 conv with the same
# stride (no bias) followed by a batch norm. The convs have no bias because the batch norm's
# shift β does that job.
#
# The check gives your block fixed weights and compares, on random 7×7 images (in eval
# mode): the parameter count, the output shape of every conv, and the outputs. Create the
# main path's layers before the shortcut's. Use `torch.nn`; `cnnlab.models` is not allowed here.

# %% nbgrader={"grade": false, "grade_id": "residual_block", "locked": false, "schema_version": 3, "solution": true}
from torch import nn


class Residual(nn.Module):
    """ReLU(F(x) + shortcut(x)) with F = conv-BN-ReLU-conv-BN."""

    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        ### BEGIN SOLUTION
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        identity = self.shortcut(x)                       # (N, out, H/s, W/s)
        out = self.bn1(self.conv1(x)).relu()              # (N, out, H/s, W/s)
        out = self.bn2(self.conv2(out))                   # (N, out, H/s, W/s)
        return (out + identity).relu()
        ### END SOLUTION


def residual_block(in_channels, out_channels, stride=1):
    """A basic residual block (N, in, H, W) -> (N, out, H/stride, W/stride)."""
    return Residual(in_channels, out_channels, stride)


# %% nbgrader={"grade": true, "grade_id": "residual_block_test", "locked": true, "points": 4, "schema_version": 3, "solution": false}
check(residual_block)

# %% [markdown]
# ## Exercise 2 — how many parameters does a ResNet have? (3 points)
#
# Write `resnet_param_count(stages, widths, in_channels, num_classes)` that returns the
# number of parameters of this ResNet, by formula (no network is built: `torch` and
# `cnnlab` are not allowed here):
#
# - **stem**: a 7×7 conv from `in_channels` to `widths[0]` (no bias), a batch norm; then a max pool;
# - **stages**: stage `i` has `stages[i]` residual blocks of width `widths[i]`, the blocks of
#   exercise 1; the first block of every stage after the first has stride 2;
# - **head**: global average pooling, then one fully connected layer (with bias) to `num_classes`.
#
# Remember: a batch norm has 2 parameters per channel; a projection shortcut appears
# whenever a block changes the shape, the number of channels *or* the size. With
# `stages=(2, 2, 2, 2)`, `widths=(64, 128, 256, 512)`, 3 input channels and 1000 classes
# (ResNet-18) the answer is 11,689,512.

# %% nbgrader={"grade": false, "grade_id": "resnet_param_count", "locked": false, "schema_version": 3, "solution": true}
def resnet_param_count(stages, widths, in_channels, num_classes):
    """Parameters of a ResNet with basic blocks: stem, stages of residual blocks, one FC layer."""
    ### BEGIN SOLUTION
    total = in_channels * widths[0] * 7 * 7 + 2 * widths[0]              # stem conv + BN
    channels = widths[0]
    for i, (blocks, width) in enumerate(zip(stages, widths)):
        for b in range(blocks):
            stride = 2 if i > 0 and b == 0 else 1
            total += channels * width * 9 + 2 * width                    # conv1 + BN
            total += width * width * 9 + 2 * width                       # conv2 + BN
            if stride != 1 or channels != width:
                total += channels * width + 2 * width                    # 1×1 projection + BN
            channels = width
    return total + channels * num_classes + num_classes                  # fully connected
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "resnet_param_count_test", "locked": true, "points": 3, "schema_version": 3, "solution": false}
check(resnet_param_count)

# %% [markdown]
# ## Where these come from
#
# - `cnnlab.models.resnet.BasicBlock` is the package's block (and `shortcut=False` its plain
#   twin, used in lesson 06's degradation experiment).
# - `cnnlab.models.resnet18()` has exactly the 11,689,512 parameters you just counted.
