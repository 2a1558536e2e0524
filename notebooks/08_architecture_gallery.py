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
# # 08 · The architecture gallery
#
# Six networks mark the road from the first working CNN to today's efficient ones:
# LeNet-5, AlexNet, VGG, GoogLeNet/Inception, ResNet and EfficientNet. Lessons 04–07 built
# four of them; this lesson adds the other two and puts all six side by side.
#
# **In this notebook you will**
# - see what AlexNet added: ReLU, dropout and training on GPUs;
# - build an Inception block (parallel 1×1, 3×3, 5×5 and pooling branches) and compute what
#   its 1×1 bottlenecks save;
# - meet EfficientNet's depthwise separable convolutions and its compound scaling rule;
# - measure parameters, multiply-accumulates (MACs) and depth of all six on one table, and
#   plot accuracy against cost;
# - train a small Inception-style network on Fashion-MNIST against the small VGG and ResNet
#   of lessons 05–06, at the same parameter budget;
# - weigh when a CNN is the right tool, and where CNNs fall short.

# %% slideshow={"slide_type": "skip"}
import matplotlib.pyplot as plt
import torch
from torch import nn

import cnnlab
from cnnlab import viz
from cnnlab.experiments import ch08 as gallery
from cnnlab.models import (INCEPTION_TABLE, alexnet, compound_scaling, googlenet, inception_block,
                           scaled_channels, scaled_repeats, small_inception, small_resnet, small_vgg)
from cnnlab.shapes import conv_params, summary
from cnnlab.train import pick_device

# %matplotlib inline
QUICK = cnnlab.QUICK
print("quick mode:", QUICK)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Six landmarks
#
# Each network answered a question the previous one left open. The facts (year, native
# input, key idea) are stored in `cnnlab.experiments.ch08.ARCHITECTURES`:

# %%
for arch in gallery.ARCHITECTURES:
    print(f"{arch.year}  {arch.name:<19} {arch.key_idea}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## AlexNet (2012): the same recipe, much bigger
#
# LeNet's conv-pool-conv-pool-FC recipe, scaled up for 1.2 million ImageNet photos: five
# convolutions (the first 11×11 with stride 4) and three fully connected layers, 8 layers with
# weights. It won ILSVRC-2012 by a wide margin, thanks to three changes:
#
# 1. **ReLU** instead of sigmoid or tanh: it does not saturate, so the gradient survives depth;
# 2. **dropout** in the big fully connected layers, against overfitting;
# 3. **GPUs**: the network was split over two graphics cards with 3 GB each.
#
# Our `alexnet()` is the usual single-GPU layout (64-192-384-256-256 filters).

# %%
net = alexnet()
n_alexnet = sum(p.numel() for p in net.parameters())
print(f"AlexNet: {n_alexnet:,} parameters")

# %% slideshow={"slide_type": "skip"}
assert n_alexnet == 61_100_840

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### ReLU: a gradient that does not fade
#
# Backprop multiplies by the activation's slope at every layer. The sigmoid's slope is at most
# 0.25, so after a few layers little is left; ReLU's slope is exactly 1 wherever the unit is on.

# %%
x = torch.linspace(-5, 5, 201, requires_grad=True)
fig, ax = plt.subplots(figsize=(7, 2.7))
for name, f in [("sigmoid", torch.sigmoid), ("tanh", torch.tanh), ("ReLU", torch.relu)]:
    slope, = torch.autograd.grad(f(x).sum(), x)
    ax.plot(x.detach(), slope, label=f"{name}'  (max {slope.max():.2f})")
ax.set(xlabel="pre-activation", ylabel="slope", title="Slopes of three activations")
ax.legend()
plt.show()
print(f"five sigmoid layers scale the gradient by at most 0.25^5 = {0.25 ** 5:.4f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Dropout and the GPU
#
# During training, dropout zeroes each activation with probability p and scales the survivors
# by 1/(1 − p), so the expected value is unchanged; at test time it does nothing.

# %%
drop = nn.Dropout(p=0.5)
ones = torch.ones(12)
print("train:", drop.train()(ones))
print("eval: ", drop.eval()(ones))

# %% [markdown] slideshow={"slide_type": "fragment"}
# Why two GPUs? The weights alone take 61.1 M × 4 bytes, and training also keeps activations,
# gradients and optimiser state for each. The original network ran half its filters on each card;
# a layer that only sees the half on its own card is a *grouped* convolution with half the weights.

# %%
print(f"weights in float32: {n_alexnet * 4 / 2**20:.0f} MiB")
full, grouped = conv_params(96, 256, 5), conv_params(96, 256, 5, groups=2)
print(f"conv2 of the 2012 paper: {full:,} weights on one GPU, {grouped:,} split over two")
print("this notebook computes on:", pick_device())

# %% [markdown] slideshow={"slide_type": "slide"}
# ## GoogLeNet / Inception (2014): several kernel sizes at once
#
# Which kernel size is right: 1×1, 3×3 or 5×5? An Inception block does not choose. It runs four
# branches side by side on the same input and stacks their outputs along the channels, so the
# next layer sees features at several scales. Every branch keeps H×W (padding), which is what
# makes the concatenation possible.
#
# The orange boxes are **1×1 convolutions**: they mix channels at each pixel and, placed in front
# of the 3×3 and 5×5, shrink the channel count first ("bottlenecks").

# %% slideshow={"slide_type": "subslide"}
viz.draw_inception_block(*INCEPTION_TABLE["3a"])
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# `inception_block(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj)` builds one; its
# `forward` runs the four branches and concatenates. Block "3a" of GoogLeNet:

# %%
block = inception_block(192, *INCEPTION_TABLE["3a"]).eval()
with torch.no_grad():
    out = block(torch.zeros(1, 192, 28, 28))
print("output:", tuple(out.shape), "=", "64 + 128 + 32 + 32 channels")

# %% slideshow={"slide_type": "skip"}
assert out.shape == (1, 256, 28, 28) and block.out_channels == 256

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### What the bottleneck saves
#
# The 5×5 branch of block 3a maps 192 channels to 32. Directly, that is one 5×5 conv over all 192
# channels; with the bottleneck, a 1×1 conv squeezes them to 16 first. With the formula of
# lesson 02 (weights + biases):

# %%
direct = conv_params(192, 32, 5)
squeezed = conv_params(192, 16, 1) + conv_params(16, 32, 5)
print(f"5×5 directly: {direct:,}   1×1 to 16, then 5×5: {squeezed:,}   saving ×{direct / squeezed:.1f}")

# %% slideshow={"slide_type": "skip"}
assert (direct, squeezed) == (153_632, 15_920)

# %% [markdown] slideshow={"slide_type": "subslide"}
# For the whole block, compare it with the "naive" version without any 1×1 reduction (pass
# `None`): its pool branch also forwards all 192 input channels, so its output grows to 416
# channels and makes the *next* block dearer too.

# %%
naive = inception_block(192, 64, None, 128, None, 32, None)
for label, b in [("naive", naive), ("with bottlenecks", block)]:
    s = summary(b, (192, 28, 28))
    print(f"{label:>17}: {b.out_channels} channels out, {s.total_params:>7,} parameters, "
          f"{s.total_macs / 1e6:6.1f} M MACs")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### GoogLeNet, written as a table
#
# A stem (7×7/2 conv, pools, 1×1 and 3×3 convs), nine Inception blocks with two pools between
# them, global average pooling and one fully connected layer. Each block is one row of the
# paper's table; the network is a loop over `GOOGLENET_LAYOUT`.

# %%
for name, row in INCEPTION_TABLE.items():
    print(name, row)

# %% [markdown] slideshow={"slide_type": "subslide"}
# GoogLeNet is usually quoted at 6,624,904 parameters (without its two auxiliary training
# heads). Counting ours, with every conv batch-normalised as in the common reference code:

# %%
n_paper = sum(p.numel() for p in googlenet().parameters())
n_reference = sum(p.numel() for p in googlenet(wide_kernel=3).parameters())
print(f"5×5 branches, as in the paper:  {n_paper:,}")
print(f"3×3 in place of every 5×5:      {n_reference:,}")

# %% slideshow={"slide_type": "skip"}
assert (n_paper, n_reference) == (7_005_832, 6_624_904)

# %% [markdown] slideshow={"slide_type": "fragment"}
# The quoted figure belongs to a network whose "5×5" branches are 3×3 convolutions: the widely
# used reference implementation (ported from TensorFlow) has that slip, and keeps it so that its
# pretrained weights still load. Counting parameters by hand is how such details come to light.

# %% [markdown] slideshow={"slide_type": "notes"}
# > **Instructor's notes** (speaker notes: they are not on the slides)
# >
# > Let the room guess which of the two counts matches the famous 6.6 M before running the cell. The
# > point is not the slip itself but the habit: when a number disagrees with the architecture you
# > believe in, count layer by layer until you know which one is wrong.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## EfficientNet (2019): cheap convolutions, scaled in balance
#
# **Depthwise separable convolution.** An ordinary k×k conv from C to F channels mixes space and
# channels at once: F·C·k² weights. Split it in two: a *depthwise* k×k conv filters each channel
# on its own (C·k²), then a 1×1 *pointwise* conv mixes channels (C·F). The cost falls to a share
# 1/F + 1/k² of the original: for 3×3 kernels about 8 times less at 112 channels, approaching 9 times
# as the channels grow.

# %%
C = F = 112
ordinary = conv_params(C, F, 3, bias=False)
separable = conv_params(C, C, 3, bias=False, groups=C) + conv_params(C, F, 1, bias=False)
print(f"3×3 conv {C}→{F}: {ordinary:,} weights; depthwise + pointwise: {separable:,} "
      f"(×{ordinary / separable:.1f} fewer; 1/F + 1/k² = {1 / F + 1 / 9:.3f})")
depthwise = nn.Conv2d(C, C, 3, groups=C, bias=False)

# %% slideshow={"slide_type": "skip"}
assert sum(p.numel() for p in depthwise.parameters()) == C * 9

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Compound scaling.** To get a bigger network from a good small one, make it deeper (×α^φ),
# wider (×β^φ) *and* feed it larger images (×γ^φ), all with one knob φ. A conv net's cost grows
# like depth · width² · resolution², so the constraint α·β²·γ² ≈ 2 makes each step of φ about
# double the cost. EfficientNet's grid search found α = 1.2, β = 1.1, γ = 1.15.

# %%
for phi in range(5):
    s = compound_scaling(phi)
    print(f"φ={phi}: depth ×{s.depth:.2f}  width ×{s.width:.2f}  {s.resolution}×{s.resolution} px  "
          f"cost ×{s.flops:.1f}")

# %% slideshow={"slide_type": "skip"}
assert compound_scaling(1).resolution == 258 and abs(compound_scaling(1).flops - 1.92) < 0.01

# %% slideshow={"slide_type": "subslide"}
phis = torch.linspace(0, 6, 61).tolist()
scales = [compound_scaling(p) for p in phis]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.3))
for attr, label in [("depth", "depth α^φ"), ("width", "width β^φ"), ("resolution_scale", "resolution γ^φ")]:
    ax1.plot(phis, [getattr(s, attr) for s in scales], label=label)
ax1.set(xlabel="φ", ylabel="multiplier", title="Three directions, one knob")
ax1.legend()
ax2.semilogy(phis, [s.flops for s in scales], label="(α·β²·γ²)^φ")
ax2.semilogy(phis, [2 ** p for p in phis], "--", label="2^φ")
ax2.set(xlabel="φ", ylabel="cost multiplier", title="About double the cost per step")
ax2.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Layer counts and widths must be whole numbers (and widths multiples of 8, which hardware likes).
# The rule scales every stage; the original EfficientNets scale the 1280-channel head as well, while
# the Lite variants keep their stem and head fixed (lesson 07) and scale only the stages between them.
# For φ = 3, Lite0's stages of 1, 2, 2, 3, 3, 4, 1 blocks become:

# %%
s3 = compound_scaling(3)
print("repeats:", [scaled_repeats(r, s3.depth) for r in [1, 2, 2, 3, 3, 4, 1]])
print(f"head: 1280 channels in a Lite network; {scaled_channels(1280, s3.width)} if it were scaled like the rest")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## All six on one table
#
# `gallery.compare()` builds each network and runs `cnnlab.shapes.summary` on one image of its
# native size: parameters, MACs per image, and depth counted as layers with weights (conv +
# fully connected). Top-1 is the reported ImageNet accuracy for one 224×224 centre crop.
# (The networks are built on PyTorch's "meta" device, where tensors have shapes but no values:
# counting needs nothing more, so even VGG-16 is measured in a blink.)

# %%
table = gallery.compare()
table

# %% slideshow={"slide_type": "skip"}
assert table["AlexNet"].params == 61_100_840 and table["VGG-16"].params == 138_357_544
assert table["ResNet-18"].params == 11_689_512 and table["EfficientNet-Lite0"].params == 4_652_008
assert table["LeNet-5"].params == 61_706 and table["GoogLeNet"].params == 7_005_832

# %% [markdown] slideshow={"slide_type": "subslide"}
# Where did each reported number come from? Papers measured differently, usually with more test
# crops than one, so their own figures are higher:

# %%
for arch in gallery.ARCHITECTURES:
    print(f"{arch.name}\n    one crop: {arch.top1} ({arch.top1_source})\n    paper: {arch.paper}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Where the weights live
#
# LeNet, AlexNet and VGG keep most of their parameters in the fully connected head, but spend
# their compute in the convolutions. GoogLeNet replaced the big head by global average pooling, and
# ResNet and EfficientNet followed: nearly everything is convolution.

# %%
viz.plot_cost_split(table)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Accuracy against cost

# %%
viz.plot_accuracy_vs_cost(table)
plt.show()

# %%
vgg, lite0 = table["VGG-16"], table["EfficientNet-Lite0"]
print(f"VGG-16 / EfficientNet-Lite0: ×{vgg.params / lite0.params:.0f} parameters, "
      f"×{vgg.macs / lite0.macs:.0f} MACs, {vgg.arch.top1 - lite0.arch.top1:+.1f} points of top-1")

# %% [markdown] slideshow={"slide_type": "subslide"}
# VGG-16 needs about 30 times the parameters and 40 times the MACs of EfficientNet-Lite0 and is
# still less accurate. Progress came from better building blocks (bottlenecks, shortcuts, separable
# convolutions, balanced scaling), not from size alone. Depth in layers says little either, and
# depends on what is counted. The table counts every layer with weights: GoogLeNet holds 58, yet the
# paper calls it 22 deep, counting the longest path; ResNet-18 shows 21, its 18 layers on the main
# path (the count in its name and in lesson 06) plus its three 1×1 projection shortcuts.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A small Inception on Fashion-MNIST
#
# `small_inception()` is GoogLeNet in miniature for 1×28×28: a 3×3 stem and a pool, then four
# Inception blocks, two at 14×14 and two at 7×7. We train it against the small VGG of lesson 05 and a
# small ResNet built like lesson 06's but deeper, two blocks per stage with widths 32-64-112, so that
# all three have about the same number of parameters (lesson 06's, one block per stage, has 308,074).
# Each gets the same data, seed and training time: a minute (a second in quick mode).

# %%
builders = {
    "small VGG": small_vgg,
    "small ResNet": lambda: small_resnet(widths=(32, 64, 112)),
    "small Inception": small_inception,
}
macs = {}
for name, build in builders.items():
    s = summary(build(), (1, 28, 28))
    macs[name] = s.total_macs
    print(f"{name:<16} {s.total_params:>8,} parameters  {s.total_macs / 1e6:5.1f} M MACs per image")

# %% slideshow={"slide_type": "subslide"}
from cnnlab.batches import TensorBatches, fashion_mnist_batches
from cnnlab.variants import compare_variants

if QUICK:   # a second each on part of the bundled sample: a smoke test, not a result
    train, _, test = fashion_mnist_batches("sample", batch_size=64, limit=1024)
    test = TensorBatches(test.x[::4], test.y[::4], 250)             # 250 of the 1,000 test images
    SECONDS = 1
else:      # the full training set, one minute each
    train, _, test = fashion_mnist_batches("auto", batch_size=128)
    SECONDS = 60
# The one-cycle schedule anneals to the time budget (the epoch cap is only reached by a fast machine);
# bfloat16 and channels-last (NHWC) images speed up convolutions on a CPU.
runs = compare_variants(builders, train, test=test, lr=3e-3, scheduler="onecycle", epochs=20, max_seconds=SECONDS,
                        amp=True, channels_last=True, progress=not QUICK)
runs

# %% slideshow={"slide_type": "subslide"}
rows = runs.rows()
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3))
ax1.barh([r["variant"] for r in rows], [r["test_acc"] for r in rows])
ax1.set(xlabel="test accuracy", xlim=(0, 1))
speed = {name: run.history.images_per_second for name, run in runs.runs.items()}
ax2.barh(list(speed), list(speed.values()), color="tab:orange")
ax2.set(xlabel="training images per second (this machine)")
fig.suptitle(f"About 0.58 M parameters and {SECONDS} s of training each "
             f"({'quick run on part of the sample' if QUICK else 'full data'})")
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Equal parameters do not mean equal work. The three networks hold about the same number of weights
# but use them a different number of times per image (the MACs printed above), and a CPU runs some
# layers better than others: VGG's few wide convolutions keep it busy, while Inception's many narrow
# branches, 1×1 convolutions and a stride-1 pool in every block give it less to do per call. Within
# the same time, each network therefore sees a different number of images (the epochs column),
# and what counts in the end is the accuracy bought per second. This run:

# %%
for name, run in runs.runs.items():
    print(f"{name:<16} {speed[name]:6.0f} images/s × {macs[name] / 1e6:4.1f} M MACs = "
          f"{speed[name] * macs[name] / 1e9:5.1f} G MACs/s of forward work; {run.history.epoch[-1]:.2f} epochs, "
          f"test accuracy {run.test_acc:.3f}")
ranked = sorted(runs.runs, key=lambda name: runs[name].test_acc, reverse=True)
print(f"most accurate after {SECONDS} s: {ranked[0]}; slowest per image: {min(speed, key=speed.get)}"
      + ("  (quick run: a smoke test, not a result)" if QUICK else ""))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## When a CNN fits, and when it does not
#
# A convolution assumes two things: nearby values belong together (locality), and a pattern means
# the same wherever it appears (translation equivariance). Where that holds, CNNs shine:
#
# - **images** of every kind: photos, medical scans, satellite and microscope images;
# - **video**, with 3D convolutions over (time, height, width);
# - **audio** drawn as a spectrogram, and other signals on a grid (1D convs over time series with
#   local structure, 3D convs over volumes).
#
# Where it does not, other models fit better:
#
# - **tabular data**: the column order is arbitrary, so "neighbouring" columns mean nothing
#   (gradient-boosted trees usually win);
# - **sequences without spatial structure**, where far-apart items interact (language):
#   attention and transformers;
# - **graphs** (molecules, social networks): no fixed grid, so graph neural networks.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Limitations
#
# - **Labelled data**: millions of labelled images trained the networks above; with little data,
#   start from a pretrained network (lesson 07).
# - **Compute**: the table shows billions of MACs per image; training needs far more, and GPUs.
# - **Interpretability**: it is hard to say why a CNN decided as it did; saliency maps and Grad-CAM
#   (lesson 07) show where it looked, not why.
# - **Long-range dependencies**: a unit only sees its receptive field. Relating distant parts of an
#   image takes many layers, large strides, dilated convolutions or attention.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Check yourself
#
# 1. Block 4e of GoogLeNet takes 528 channels and has a 5×5 branch with a bottleneck of 32 and
#    128 outputs. How many weights and biases would its 5×5 conv need without the bottleneck, and
#    how many does the bottlenecked branch need?
# 2. By roughly what factor does φ = 2 multiply EfficientNet's cost?
# 3. Which of the six networks keeps the largest share of its parameters in fully connected layers?
#
# Think first, then run the cell.

# %%
c1, c3r, c3, c5r, c5, pool_proj = INCEPTION_TABLE["4e"]
print("1.", f"{conv_params(528, c5, 5):,} without,",
      f"{conv_params(528, c5r, 1) + conv_params(c5r, c5, 5):,} with the bottleneck")
print("2.", f"{compound_scaling(2).flops:.2f}, close to 2² = 4")
shares = {r.name: gallery.parameters_by_kind(r.summary)["linear"] / r.params for r in table.rows}
print("3.", max(shares, key=shares.get), f"({max(shares.values()):.0%} of its parameters)")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - **AlexNet** scaled LeNet up with ReLU, dropout and GPUs; most of its 61.1 M parameters sit in the
#   fully connected layers, most of its compute in the convolutions.
# - **Inception** runs 1×1, 3×3, 5×5 and pooling branches in parallel and concatenates them; 1×1
#   bottlenecks make the wide kernels affordable (≈ 10× fewer weights in block 3a's 5×5 branch).
# - **EfficientNet** builds on depthwise separable convolutions and grows depth, width and resolution
#   together: depth α^φ, width β^φ, resolution γ^φ with α·β²·γ² ≈ 2.
# - On one table, accuracy did not follow size: from VGG-16 to EfficientNet-Lite0 the parameters fell
#   about 30 times and the accuracy rose.
# - CNNs fit data on a grid with local structure; they need data and compute, are hard to interpret,
#   and see far only through depth, dilation or attention.
#
# Next: **09 · Beyond classification and beyond photos**, a label for every pixel, a box for every
# object, and sound as an image.
