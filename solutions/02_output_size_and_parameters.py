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
# # Exercises 02 — output sizes, parameters, receptive fields
#
# Three exercises that go with lesson 02:
#
# 1. the output size of a convolution (1 point);
# 2. the parameter count of a convolution layer (1 point);
# 3. the receptive field of a stack of convolutions and pools (2 points).
#
# After each exercise, run the cell below it: it checks your answer and prints `✓` or what
# is wrong. Plain Python arithmetic is enough: `torch`, `cnnlab.shapes` and
# `cnnlab.models` are not allowed here (the grader refuses them).

# %%
from cnnlab.checks import check

# %% [markdown]
# ## Exercise 1 — output size (1 point)
#
# Write `output_size(n, k, stride, padding, dilation)`: the height (or width) of the output
# of a convolution on an `n`-pixel input with a `k`-pixel kernel, `padding` zeros on each
# side, and taps `dilation` pixels apart (1 = an ordinary kernel). Return an `int`.
#
# Hint: a dilated kernel covers `dilation·(k − 1) + 1` pixels; count the positions where it
# fits in the padded input, moving `stride` pixels at a time. Example: 32, 5, stride 1,
# padding 2 → 32 ("same" padding).

# %% nbgrader={"grade": false, "grade_id": "output_size", "locked": false, "schema_version": 3, "solution": true}
def output_size(n, k, stride=1, padding=0, dilation=1):
    """Output length of a convolution: an int."""
    ### BEGIN SOLUTION
    span = dilation * (k - 1) + 1
    return (n + 2 * padding - span) // stride + 1
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "output_size_test", "locked": true, "points": 1, "schema_version": 3, "solution": false}
check(output_size)

# %% [markdown]
# ## Exercise 2 — parameters of a convolution (1 point)
#
# Write `conv_param_count(in_channels, filters, kh, kw, bias)`: how many numbers a layer
# `nn.Conv2d(in_channels, filters, (kh, kw), bias=bias)` learns. Each filter has one weight
# per input channel and kernel position, plus one bias when `bias` is true. Example: 64
# filters of 3×3 on an RGB image → 1,792.

# %% nbgrader={"grade": false, "grade_id": "conv_param_count", "locked": false, "schema_version": 3, "solution": true}
def conv_param_count(in_channels, filters, kh, kw, bias=True):
    """Learnable parameters of a convolution layer: an int."""
    ### BEGIN SOLUTION
    return filters * in_channels * kh * kw + (filters if bias else 0)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "conv_param_count_test", "locked": true, "points": 1, "schema_version": 3, "solution": false}
check(conv_param_count)

# %% [markdown]
# ## Exercise 3 — receptive field (2 points)
#
# Write `receptive_field_size(kernels, strides)` for a chain of layers (convolutions or
# pools, no dilation): `kernels[i]` and `strides[i]` describe layer `i`, input side first.
# Return how many input pixels (along one axis) one output pixel of the last layer depends on.
#
# Start from 1 (an output pixel sees itself). Layer `i` widens the field by `k − 1` steps,
# and one step of its input is as many input pixels as the product of the strides of the
# layers **before** it. Two 3×3 stride-1 convolutions see 5; three see 7.

# %% nbgrader={"grade": false, "grade_id": "receptive_field_size", "locked": false, "schema_version": 3, "solution": true}
def receptive_field_size(kernels, strides):
    """Receptive field (pixels along one axis) of a chain of layers: an int."""
    ### BEGIN SOLUTION
    field, jump = 1, 1
    for k, s in zip(kernels, strides):
        field += (k - 1) * jump
        jump *= s
    return field
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "receptive_field_size_test", "locked": true, "points": 2, "schema_version": 3, "solution": false}
check(receptive_field_size)

# %% [markdown]
# ## Where these come from
#
# `cnnlab.shapes` holds the same three formulas (`conv_output_size`, `conv_params`,
# `receptive_field`), and `cnnlab.shapes.summary(model, input_size)` applies them to every
# layer of a network: lesson 02 checks them against the shapes torch produces.
