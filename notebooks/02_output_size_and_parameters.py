# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   rise:
#     scroll: true
#     start_slideshow_at: beginning
#     theme: white
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # 02 · Output size and parameter formulas
#
# **In this notebook you will**
# - derive the output size of a convolution with padding, stride and dilation, and of pooling;
# - count the parameters of convolution, fully connected and batch-norm layers (pooling has none);
# - count multiply-accumulates (MACs), the work a layer does;
# - see how the receptive field grows, and why two 3×3 convolutions beat one 5×5;
# - check every formula against the shapes PyTorch actually produces, over many settings;
# - read layer-by-layer tables of LeNet-5 and VGG-16 and find where VGG's 138 million parameters live.

# %% slideshow={"slide_type": "skip"}
import dataclasses
import itertools

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cnnlab import shapes, viz, widgets
from cnnlab.models import lenet5, vgg16
from cnnlab.train import set_seed

set_seed(0)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Output size of a convolution
#
# Along one axis: the input has $n$ pixels, $p$ zeros are added on each side, the kernel
# has $k$ taps. The kernel fits at $n + 2p - k + 1$ positions; moving $s$ pixels at a
# time we use every $s$-th of them, so
#
# $$\text{out} = \left\lfloor \frac{n - k + 2p}{s} \right\rfloor + 1 .$$
#
# The floor drops a last window that would stick out over the padded edge.
# **Dilation** $d$ spaces the taps $d$ pixels apart, so the kernel spans $d(k-1)+1$
# pixels, and in general
#
# $$\text{out} = \left\lfloor \frac{n + 2p - d(k-1) - 1}{s} \right\rfloor + 1 .$$

# %%
print("28×28, 5×5 kernel:               ", shapes.conv_output_size(28, 5))
print("32×32, 5×5, stride 1, padding 2: ", shapes.conv_output_size(32, 5, stride=1, padding=2))
print("224×224, 7×7, stride 2, padding 3:", shapes.conv_output_size(224, 7, stride=2, padding=3))
print("10×10, 3×3, dilation 2:          ", shapes.conv_output_size(10, 3, dilation=2))

# %% slideshow={"slide_type": "skip"}
assert shapes.conv_output_size(32, 5, stride=1, padding=2) == 32      # "same" padding

# %% [markdown] slideshow={"slide_type": "subslide"}
# **"Same" padding.** With stride 1 the size is kept when $2p = k - 1$, i.e. $p = (k-1)/2$
# for odd $k$: padding 1 for 3×3, padding 2 for 5×5. The picture shows the padded input
# with the first (red) and last (blue) window and the output; the calculator lets you move
# every parameter.

# %%
viz.plot_conv_geometry(32, 5, stride=1, padding=2)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The shape calculator (it needs a running kernel): move any slider and the picture and the
# formula follow.

# %%
widgets.shape_calculator(n=32, k=5, stride=1, padding=2, dilation=1)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The formula against PyTorch, over many settings
#
# We run a real convolution for every combination of input size, kernel, stride, padding
# and dilation below and compare the height torch produces with the formula. When the
# kernel does not fit, both must refuse.

# %%
checked = refused = 0
for n, k, s, p, d in itertools.product(range(1, 13), range(1, 6), range(1, 4), range(3), range(1, 3)):
    x, w = torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k)
    try:
        torch_size = F.conv2d(x, w, stride=s, padding=p, dilation=d).shape[-1]
    except RuntimeError:
        torch_size = None
    try:
        ours = shapes.conv_output_size(n, k, s, p, d)
    except ValueError:
        ours = None
    assert ours == torch_size, (n, k, s, p, d, ours, torch_size)
    checked, refused = checked + 1, refused + (ours is None)
print(f"{checked} settings agree with torch ({refused} of them rightly refused)")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Pooling
#
# A pooling window slides exactly like a kernel, so the same formula holds; only the
# default stride differs (the window size: non-overlapping windows). A 2×2 max pool with
# stride 2 halves the size. Torch also offers `ceil_mode=True`, which rounds up instead.

# %%
print("28×28, 2×2 pool:            ", shapes.pool_output_size(28, 2))
print("7×7, 3×3 pool, stride 2:    ", shapes.pool_output_size(7, 3, stride=2))
print("7×7, 2×2 pool, ceil_mode:   ", shapes.pool_output_size(7, 2, ceil_mode=True))
checked = 0
for n, k, s, ceil in itertools.product(range(2, 13), range(1, 5), range(1, 4), (False, True)):
    if k > n:
        continue
    for p in range(k // 2 + 1):
        torch_size = F.max_pool2d(torch.zeros(1, 1, n, n), k, s, p, ceil_mode=ceil).shape[-1]
        assert shapes.pool_output_size(n, k, s, p, ceil_mode=ceil) == torch_size, (n, k, s, p, ceil)
        checked += 1
print(f"{checked} pooling settings agree with torch")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Parameters of a convolution
#
# Each of the $F$ filters has one weight per input channel and kernel position, plus one bias:
#
# $$\text{params} = F \cdot (k_h \cdot k_w \cdot C_{in}) + F .$$
#
# The number does **not** depend on the image size: that is parameter sharing.
# 64 filters of 3×3 on an RGB image: 64 · (3 · 3 · 3) + 64 = 1,792.

# %%
def count(module):
    return sum(p.numel() for p in module.parameters())


print(f"conv 3→64, 3×3:  {shapes.conv_params(3, 64, 3):,}")

# %% slideshow={"slide_type": "skip"}
assert shapes.conv_params(3, 64, 3) == count(nn.Conv2d(3, 64, 3)) == 1_792

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Fully connected, batch norm, pooling
#
# - Fully connected: every input to every output, plus a bias per output: $\text{in} \cdot \text{out} + \text{out}$.
# - Batch norm: a scale γ and a shift β per channel, so $2C$ parameters. It also keeps a
#   running mean and variance per channel, but those are statistics, not parameters: no
#   gradient updates them (torch stores them as *buffers*).
# - Pooling: nothing to learn, 0 parameters.

# %%
bn = nn.BatchNorm2d(64)
buffers = {name: b.numel() for name, b in bn.named_buffers()}
print(f"linear 25,088→4,096: {shapes.linear_params(25_088, 4_096):,}")
print(f"batch norm, 64 channels: {shapes.batchnorm_params(64)} parameters; buffers {buffers}")
print(f"max pool: {count(nn.MaxPool2d(2))} parameters")

# %% slideshow={"slide_type": "skip"}
assert shapes.linear_params(25_088, 4_096) == count(nn.Linear(25_088, 4_096)) == 102_764_544
assert shapes.batchnorm_params(64) == count(bn) == 128
assert buffers["running_mean"] == buffers["running_var"] == 64 and count(nn.MaxPool2d(2)) == 0

# %% [markdown] slideshow={"slide_type": "subslide"}
# And against torch over many layer shapes:

# %%
for c, f, k, bias in itertools.product((1, 3, 16), (1, 8, 64), (1, 3, 5, (3, 5)), (True, False)):
    assert shapes.conv_params(c, f, k, bias=bias) == count(nn.Conv2d(c, f, k, bias=bias))
for i, o, bias in itertools.product((1, 10, 784), (1, 10, 120), (True, False)):
    assert shapes.linear_params(i, o, bias=bias) == count(nn.Linear(i, o, bias=bias))
for c in (1, 6, 512):
    assert shapes.batchnorm_params(c) == count(nn.BatchNorm2d(c))
print("parameter formulas agree with torch")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Why sharing matters
#
# A fully connected unit on a 100×100 grey image needs 10,000 weights, one per pixel; a
# 3×3 filter needs 9 and is reused at all 10,000 positions. On a 224×224 RGB image, 1,000
# fully connected units need about 150 million weights, while a conv layer of 64 3×3
# filters needs 1,792 parameters.

# %%
print(f"fully connected unit, 100×100 image: {shapes.linear_params(100 * 100, 1, bias=False):,} weights")
print(f"3×3 filter, any image size:          {shapes.conv_params(1, 1, 3, bias=False)} weights")
print(f"1,000 units on 224×224×3:            {shapes.linear_params(224 * 224 * 3, 1_000, bias=False):,} weights")

# %% slideshow={"slide_type": "skip"}
assert shapes.linear_params(100 * 100, 1, bias=False) == 10_000
assert shapes.conv_params(1, 1, 3, bias=False) == 9

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Multiply-accumulates: the work
#
# Parameters say how much a layer *stores*; MACs say how much it *computes*. Each of the
# $OH \cdot OW \cdot F$ outputs is a dot product of $C \cdot k_h \cdot k_w$ pairs:
#
# $$\text{MACs} = OH \cdot OW \cdot F \cdot C \cdot k_h \cdot k_w .$$
#
# Sharing keeps the parameters small, but the work still grows with the image: VGG-16's
# first conv has only 1,792 parameters yet costs 87 million MACs per image.

# %%
first_conv_macs = shapes.conv_macs(3, 64, 3, 224, padding=1)
print(f"VGG-16 first conv on 224×224: {first_conv_macs:,} MACs")

# %% slideshow={"slide_type": "skip"}
assert first_conv_macs == 224 * 224 * 64 * 3 * 3 * 3 == 86_704_128

# %% [markdown] slideshow={"slide_type": "subslide"}
# The formula against torch: the output positions come from the feature map torch
# produces, and each of its values is one dot product of C·k·k pairs.

# %%
for c, f, k, n, s, p in itertools.product((1, 3), (4, 8), (1, 3, 5), (9, 16), (1, 2), (0, 1)):
    out = F.conv2d(torch.zeros(1, c, n, n), torch.zeros(f, c, k, k), stride=s, padding=p)   # (1, F, OH, OW)
    assert shapes.conv_macs(c, f, k, n, s, p) == out.numel() * c * k * k
print("MAC formula agrees with torch's output shapes")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Receptive field
#
# One output of a 3×3 convolution sees 3×3 input pixels. Stack a second 3×3 convolution
# on top: each of its outputs sees 3×3 outputs of the first, which together see **5×5**
# input pixels. Each layer adds $(k-1)$ times the product of the strides before it.

# %%
for stack in ([(3, 1)], [(3, 1), (3, 1)], [(3, 1), (3, 1), (3, 1)], [(3, 1), (2, 2), (3, 1)]):
    print(f"{stack}: receptive field {shapes.receptive_field(stack)}")

# %% slideshow={"slide_type": "skip"}
assert shapes.receptive_field([(3, 1), (3, 1)]) == 5
assert shapes.receptive_field([(3, 1), (3, 1), (3, 1)]) == 7

# %% [markdown] slideshow={"slide_type": "subslide"}
# Two 3×3 layers, drawn in one dimension: the top cell depends on 3 cells of layer 1, which
# together depend on 5 input cells.

# %%
viz.plot_receptive_field([3, 3])
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Measured, not assumed
#
# Which input pixels influence one output pixel? Ask autograd: the gradient of that output
# is non-zero exactly on its receptive field.

# %%
def measured_field(net, size=21):
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    out = net(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(dim=1))
    return int(rows.max() - rows.min() + 1)


def ones_conv(k):
    conv = nn.Conv2d(1, 1, k, bias=False)
    nn.init.ones_(conv.weight)
    return conv


two_convs = nn.Sequential(ones_conv(3), ones_conv(3))
conv_pool_conv = nn.Sequential(ones_conv(3), nn.AvgPool2d(2), ones_conv(3))   # average: every pixel counts
for net in (two_convs, conv_pool_conv):
    print(f"measured {measured_field(net)}, formula {shapes.receptive_field(net)}")
    assert measured_field(net) == shapes.receptive_field(net)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Two 3×3 instead of one 5×5
#
# Both see 5×5 pixels. With $C$ channels in and out, one 5×5 layer has $25C^2$ weights, two
# 3×3 layers $2 \cdot 9C^2 = 18C^2$: 28% fewer. And there is a ReLU between the two, so the
# stack can represent more than a single linear filter. Three 3×3 layers see 7×7 with
# $27C^2$ weights instead of $49C^2$. This is VGG's design rule (lesson 05).

# %%
C = 64
one_5x5 = shapes.conv_params(C, C, 5, bias=False)
two_3x3 = 2 * shapes.conv_params(C, C, 3, bias=False)
print(f"{C} channels: one 5×5 = {one_5x5:,} weights, two 3×3 = {two_3x3:,} ({1 - two_3x3 / one_5x5:.0%} fewer)")

# %% slideshow={"slide_type": "skip"}
assert (shapes.conv_params(1, 1, 5, bias=False), 2 * shapes.conv_params(1, 1, 3, bias=False)) == (25, 18)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## LeNet-5, layer by layer
#
# `cnnlab.shapes.summary` runs one dummy image through a network and tabulates, for every
# layer, the output shape, the parameters and the MACs. LeNet-5 on a 28×28 image (padding 2
# in the first convolution, as if the image were 32×32) has the famous 61,706 parameters.

# %%
lenet_table = shapes.summary(lenet5(), (1, 28, 28))
lenet_table

# %% slideshow={"slide_type": "skip"}
assert lenet_table.total_params == 61_706

# %% [markdown] slideshow={"slide_type": "slide"}
# ## VGG-16, layer by layer
#
# VGG-16 on a 224×224 RGB image: 13 convolutions and 3 fully connected layers. The table keeps
# the 16 layers with weights (ReLU, pooling and dropout have none; `print(vgg_table)` lists all).

# %%
vgg_table = shapes.summary(vgg16(), (3, 224, 224))
dataclasses.replace(vgg_table, rows=[row for row in vgg_table.rows if row.params])

# %% slideshow={"slide_type": "skip"}
assert vgg_table.total_params == 138_357_544

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Where VGG-16's parameters live
#
# The first fully connected layer maps the 512×7×7 = 25,088 features to 4,096 units:
# 102,764,544 parameters, three quarters of the network. The 13 convolutions together hold
# about a tenth, yet do almost all of the computing.

# %%
rows = [row for row in vgg_table.rows if row.params]
first_fc = next(row for row in rows if row.kind == "Linear")
conv_params = sum(row.params for row in rows if row.kind == "Conv2d")
conv_macs = sum(row.macs for row in vgg_table.rows if row.kind == "Conv2d")
print(f"first FC layer: {first_fc.params:,} = {first_fc.params / vgg_table.total_params:.1%} of the parameters")
print(f"13 conv layers: {conv_params:,} = {conv_params / vgg_table.total_params:.1%} of the parameters, "
      f"{conv_macs / vgg_table.total_macs:.1%} of the MACs")

# %% slideshow={"slide_type": "skip"}
assert first_fc.params == 25_088 * 4_096 + 4_096 == 102_764_544
assert round(first_fc.params / vgg_table.total_params, 3) == 0.743

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same split as a picture, layer by layer:

# %%
viz.plot_parameter_share([f"{row.name} ({row.kind})" for row in rows], [row.params for row in rows],
                         "VGG-16: parameters per layer")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Check yourself
#
# 1. A 64×64 input, 3×3 kernel, stride 2, padding 1: output size?
# 2. A conv layer from 64 to 128 channels with 3×3 kernels: how many parameters?
# 3. Batch norm after that layer: how many more parameters, and how many running statistics?
# 4. What is the receptive field of three 3×3 convolutions followed by a 2×2 pool (stride 2) and one more 3×3?
# 5. Why does VGG-16's first fully connected layer hold so many parameters?
#
# <details><summary>Answers</summary>
#
# 1. ⌊(64 − 3 + 2)/2⌋ + 1 = 32.
# 2. 128 · (3·3·64) + 128 = 73,856.
# 3. 2 · 128 = 256 parameters; 256 running statistics (mean and variance), which are not parameters.
# 4. 1 + 2 + 2 + 2 + 1 + 2·2 = 12.
# 5. It connects every one of the 25,088 features (512 maps of 7×7) to each of 4,096 units.
# </details>

# %% slideshow={"slide_type": "skip"}
assert shapes.conv_output_size(64, 3, 2, 1) == 32 and shapes.conv_params(64, 128, 3) == 73_856
assert shapes.receptive_field([(3, 1), (3, 1), (3, 1), (2, 2), (3, 1)]) == 12

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - Output size: ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1; "same" padding p = (k−1)/2 at stride 1;
#   pooling uses the same formula with the stride defaulting to the window.
# - Parameters: conv F·(k·k·C) + F, fully connected in·out + out, batch norm 2C (its running
#   statistics are buffers), pooling 0. MACs: OH·OW·F·C·k·k.
# - The receptive field grows by (k − 1) × the earlier strides per layer; two 3×3 see 5×5 with
#   18 weights instead of 25 per channel pair, and add a non-linearity.
# - LeNet-5 has 61,706 parameters; VGG-16 138,357,544, 74% of them in its first fully
#   connected layer.
#
# Next: lesson 03 computes the gradients of convolution and pooling.

# %% [markdown] slideshow={"slide_type": "notes"}
# > **Instructor's notes** (speaker notes: they are not on the slides)
# >
# > Let the class compute the "same" example (32, 5, 1, 2) before showing the calculator, then
# > ask them to find a setting where the floor matters (e.g. 8, 3, stride 2, padding 1 → 4). For
# > VGG, ask them to guess where most parameters are before showing the bar chart: most guess
# > the convolutions.
