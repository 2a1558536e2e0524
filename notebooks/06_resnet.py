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
# # 06 · ResNet (2015): going deep with shortcuts
#
# **In this notebook you will**
# - meet the degradation problem: deeper plain networks train *worse*, and it is not over-fitting;
# - see how a residual block fixes it by learning a correction F(x) = H(x) − x;
# - use projection shortcuts when a block changes the shape;
# - reproduce the degradation experiment: training curves and per-layer gradient norms, with and
#   without shortcuts;
# - take ResNet-18 apart (11,689,512 parameters) and train a small ResNet on Fashion-MNIST.

# %% slideshow={"slide_type": "skip"}
import inspect

import matplotlib.pyplot as plt
import torch
from torch import nn

import cnnlab
from cnnlab.experiments.ch06 import gradient_norms
from cnnlab.models import RESNET_LAYOUTS, BasicBlock, resnet18, small_resnet
from cnnlab.shapes import summary
from cnnlab.batches import fashion_mnist_batches
from cnnlab.recipes import RECIPES
from cnnlab.train import set_seed
from cnnlab.variants import compare_variants
from cnnlab.viz import plot_history

QUICK = cnnlab.QUICK                       # CNNLAB_QUICK=1: seconds on the bundled sample
SOURCE = "sample" if QUICK else "auto"
LIMIT = 2_000 if QUICK else 10_000         # training images for the degradation experiment
VAL = 300 if QUICK else 3_000              # training images held out for validation
# each degradation run: at most this many epochs or seconds (quick runs note the curves three times an
# epoch), in bfloat16 with channels-last images like the recipe below: about twice as fast on a CPU
BUDGET = dict(epochs=2, max_seconds=1, evals_per_epoch=3) if QUICK else dict(epochs=6, max_seconds=40)
FAST = dict(amp=True, channels_last=True)
RECIPE_SECONDS = 1.5 if QUICK else 120      # the small ResNet's run at the end (its tuned budget: 295 s)
DEEP = 32                                  # depth of the deep nets (6n + 2 weighted layers)
set_seed(0)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The degradation problem
#
# VGG showed that depth helps, so why stop at 19 layers? Because beyond some depth, *plain* networks
# (a simple stack of conv layers, even with batch norm) get **worse**. He, Zhang, Ren and Sun (2015)
# trained a 20-layer and a 56-layer plain network on CIFAR-10: the 56-layer one had the higher error,
# on the test set *and on the training set*.
#
# That last part rules out over-fitting: an over-fitting network does well on the training data and
# badly on new data. Here the deeper network cannot even fit the training data, although it could in
# principle copy the 20-layer network and set its extra layers to the identity. The optimiser just does
# not find that solution. The problem is optimisation, not capacity.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The residual block
#
# Instead of asking a few layers to learn the mapping H(x) they should compute, let them learn the
# *correction* **F(x) = H(x) − x**, and add the input back through a shortcut:
#
# **output = ReLU(F(x) + x)**, with F = conv-BN-ReLU-conv-BN.
#
# - If the best thing a block can do is nothing, it only needs F = 0: push the weights towards zero.
#   The identity is easy.
# - Backward, the addition copies the gradient into both branches: ∂output/∂x = ∂F/∂x + 1 (before the
#   ReLU). The "+1" path through the shortcuts lets the gradient reach the first layers directly.
#
# This made networks of 152 layers trainable, and won ImageNet 2015.

# %%
print(inspect.getsource(BasicBlock.forward))

# %% [markdown] slideshow={"slide_type": "subslide"}
# The identity really is one step away: set the last batch norm's γ and β to zero, so F(x) = 0, and the
# block passes any non-negative input (the output of an earlier ReLU) through unchanged.

# %%
block = BasicBlock(16, 16).eval()
nn.init.zeros_(block.conv2[1].weight)                       # γ of the last batch norm
nn.init.zeros_(block.conv2[1].bias)                         # β of the last batch norm
x = torch.rand(2, 16, 8, 8)                                 # (N, C, H, W), non-negative
print("F(x) = 0, so the block computes ReLU(0 + x) = x:", torch.equal(block(x), x))

# %% slideshow={"slide_type": "skip"}
assert torch.equal(block(x), x)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Projection shortcuts
#
# F(x) + x only works when both have the same shape. When a block halves the size (stride 2) or
# changes the number of channels, the shortcut becomes a **projection**: a 1×1 convolution with the
# same stride, followed by batch norm. It costs C_in · C_out + 2 · C_out parameters.

# %%
block = BasicBlock(64, 128, stride=2)
print(block.shortcut)
shortcut_params = sum(p.numel() for p in block.shortcut.parameters())
print(f"projection: {shortcut_params:,} parameters = 64·128 + 2·128")

# %% slideshow={"slide_type": "skip"}
assert shortcut_params == 64 * 128 + 2 * 128

# %% slideshow={"slide_type": "subslide"}
summary(block, (64, 56, 56))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The degradation experiment
#
# Three networks built the same way (a 3×3 stem, three stages at 28×28, 14×14 and 7×7, global average
# pooling, one fully connected layer), trained on the same images with the same budget:
#
# - **plain-8**: a shallow plain network;
# - **plain-32**: the same design, four times deeper, no shortcuts;
# - **residual-32**: the same 32 layers, with shortcuts.

# %%
train, val, _ = fashion_mnist_batches(SOURCE, batch_size=64, val_size=VAL, limit=LIMIT)
widths = (8, 16, 32)                                        # narrow, so that depth is affordable on a CPU
variants = {
    "plain-8": lambda: small_resnet(depth=8, widths=widths, shortcut=False),
    f"plain-{DEEP}": lambda: small_resnet(depth=DEEP, widths=widths, shortcut=False),
    f"residual-{DEEP}": lambda: small_resnet(depth=DEEP, widths=widths, shortcut=True),
}
runs = compare_variants(variants, train, val, lr=1e-3, **FAST, **BUDGET)
runs

# %% slideshow={"slide_type": "subslide"}
plot_history(runs.histories(), title="training curves: plain vs residual")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Compare the **training** losses (solid lines). The degradation problem shows as a deep plain
# network that learns more slowly than the shallow one, though it has four times the layers; its fix
# shows as a residual network of the same depth that does not. A quick run trains for seconds, which
# can be too short to tell; the gradient measurements below need no training at all. This run:

# %%
final = {name: run.history.train_loss[-1] for name, run in runs.runs.items()}
print("training loss at the end:", ", ".join(f"{name} {loss:.3f}" for name, loss in final.items()))
plain_deep, residual_deep = final[f"plain-{DEEP}"], final[f"residual-{DEEP}"]
print(f"plain-{DEEP} trained {'worse' if plain_deep > final['plain-8'] else 'better'} than plain-8; "
      f"residual-{DEEP} {'better' if residual_deep < plain_deep else 'worse'} than plain-{DEEP}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Where the gradient goes
#
# One batch, one backward pass, at initialisation: the size (L2 norm) of the loss gradient of every
# conv and fully connected weight, from the input (left) to the output (right). We measure plain and
# residual networks of several depths, and plot the three of the experiment. The 1×1 projections sit
# beside the main path, so we leave them out: both kinds of network then have the same layers.

# %%
x_batch, y_batch = next(iter(train))
x_batch, y_batch = x_batch[:32], y_batch[:32]              # (32, 1, 28, 28): one small batch is enough
norms = {}
for depth in [8, 20, DEEP, 56]:
    for shortcut in (False, True):
        set_seed(0)
        net = small_resnet(depth=depth, widths=widths, shortcut=shortcut)
        layers = gradient_norms(net, x_batch, y_batch)                  # {layer name: norm}
        norms[("residual" if shortcut else "plain", depth)] = [v for k, v in layers.items() if "shortcut" not in k]

# %% slideshow={"slide_type": "subslide"}
for kind, depth in [("plain", 8), ("plain", DEEP), ("residual", DEEP)]:
    values = norms[(kind, depth)]
    plt.semilogy(range(1, len(values) + 1), values, "o-", markersize=3, label=f"{kind}-{depth}")
plt.xlabel("layer (input → output)")
plt.ylabel("gradient norm (log scale)")
plt.title("per-layer gradient norms at initialisation")
plt.grid(alpha=0.3, which="both")
plt.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# In the deep plain network the gradient changes by a large factor from one end to the other: with
# batch norm it *grows* towards the input; in other set-ups (saturating activations, a poor
# initialisation) it shrinks instead and vanishes. Either way,
# the first and last layers get updates of very different sizes, and no single learning rate suits
# them all. With shortcuts the gradient stays within a much narrower band.

# %% [markdown] slideshow={"slide_type": "subslide"}
# How the spread (largest / smallest layer gradient) grows with depth: by orders of magnitude without
# shortcuts, slowly with them.

# %%
spread = {key: max(values) / min(values) for key, values in norms.items()}
for depth in [8, 20, DEEP, 56]:
    print(f"depth {depth:2d}: plain {spread[('plain', depth)]:8.1f}×   residual {spread[('residual', depth)]:6.1f}×")

# %% [markdown] slideshow={"slide_type": "notes"}
# > **Instructor's notes** (speaker notes: they are not on the slides)
# >
# > Stress that the degradation problem is about the *training* curve. Learners often answer
# > "over-fitting" by reflex; ask what over-fitting would look like on the training set. The quick-mode
# > curves are short; the spread table tells the same story at any budget.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## ResNet-18
#
# A 7×7 stem with stride 2 and a max pool (224 → 56), four stages of two basic blocks each
# (64, 128, 256, 512 channels; every stage after the first halves the size with a projection
# shortcut), global average pooling, one fully connected layer. 1 + 4·2·2 + 1 = 18 layers with weights.

# %%
net = resnet18()
table = summary(net, (3, 224, 224))
per_stage = {f"stage {i + 1}": sum(p.numel() for p in stage.parameters()) for i, stage in enumerate(net.stages)}
print(f"total {table.total_params:,} parameters, {table.total_macs / 1e9:.2f} billion MACs per image")
for name, count in per_stage.items():
    print(f"  {name}: {count:>10,}")
print(f"  fc: {sum(p.numel() for p in net.fc.parameters()):>10,}")

# %% slideshow={"slide_type": "skip"}
assert table.total_params == 11_689_512

# %%
convs = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1)]
print(f"{len(convs)} convs (stem + 16 in blocks) + 1 fully connected = {len(convs) + 1} layers; "
      f"plus {sum(m.kernel_size == (1, 1) for m in net.modules() if isinstance(m, nn.Conv2d))} projections")

# %% slideshow={"slide_type": "skip"}
assert len(convs) + 1 == 18

# %% [markdown] slideshow={"slide_type": "subslide"}
# Global average pooling turns 7×7×512 into 512 numbers, so the classifier has 513,000 parameters
# instead of the 123.6 million in VGG-16's three fully connected layers. Deeper ResNets stack more blocks; from ResNet-50 on, each block is a
# **bottleneck** (1×1 conv to shrink the channels, 3×3, 1×1 to expand them ×4: three layers per block).

# %%
for name, layout in RESNET_LAYOUTS.items():
    blocks, per_block = list(layout.stages), layout.block.convs
    print(f"{name:9s} blocks per stage {blocks}: {per_block} · {sum(blocks)} + 2 = {layout.depth} layers")

# %% slideshow={"slide_type": "skip"}
assert RESNET_LAYOUTS["resnet152"].depth == 3 * sum(RESNET_LAYOUTS["resnet152"].stages) + 2 == 152

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A small ResNet on Fashion-MNIST
#
# The network of `cnnlab train small-resnet`: a 3×3 stem (no downsampling: the images are only
# 28×28), three stages of **one** block each (32, 64, 128 channels at 28×28, 14×14, 7×7; projection
# shortcuts where the shape changes), global average pooling, 8 layers with weights. Why so shallow,
# after a lesson on depth? The budget: five minutes on two CPU cores. Two blocks per stage would about
# double the work per image and halve the epochs that fit in the budget, and on held-out images the
# single-block network scored about as well as the deeper ones tried while tuning it, so the time goes
# into epochs. With a GPU, or an hour, depth pays again.
#
# It is trained with flipped images, so it is also tested on each image and its mirror image
# (lesson 05's test-time augmentation); the recipe is printed below. Here it gets two minutes (quick
# mode: a second and a half) instead of its tuned 295 s; with those 295 s on two idle cores it reached
# 93.4–93.6 % test accuracy over two seeds (`make bench`, bench/results/models.json).

# %% slideshow={"slide_type": "subslide"}
recipe = RECIPES["small-resnet"].with_budget(RECIPE_SECONDS)
print(recipe.describe())
full_train, full_val, full_test = fashion_mnist_batches(SOURCE, batch_size=recipe.batch_size, val_size=VAL)
set_seed(0)
model = recipe.build()
print(f"{sum(p.numel() for p in model.parameters()):,} parameters")
history = recipe.fit(model, full_train, full_val, desc="small-resnet recipe")
print(history)
print(f"test accuracy after {history.seconds[-1]:.0f} s of training: {recipe.evaluate(model, full_test)[1]:.3f}")

# %% slideshow={"slide_type": "subslide"}
plot_history(history, title="small ResNet on Fashion-MNIST")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Check yourself
#
# 1. A 56-layer plain network has a higher *training* error than a 20-layer one. Why is this not
#    over-fitting?
# 2. How many parameters does the projection shortcut of a block going from 128 to 256 channels have?
# 3. A block keeps 64 channels but has stride 2. Can its shortcut be the identity?
# 4. Why does ResNet-18 need far fewer classifier parameters than VGG-16?

# %%
projection = 128 * 256 + 2 * 256
print(f"2. 1×1 conv 128·256 = {128 * 256:,}, batch norm 2·256 = 512: {projection:,} in all")

# %% slideshow={"slide_type": "skip"}
assert projection == sum(p.numel() for p in BasicBlock(128, 256, stride=2).shortcut.parameters())

# %% [markdown]
# <details><summary>Answers to 1, 3, 4</summary>
#
# 1. Over-fitting means a low training error and a high test error. Here the training error itself is
#    higher: the optimiser fails to fit the data, although a solution at least as good as the 20-layer
#    one exists (copy it, make the extra layers identities).
# 3. No: the output is half the size of the input, so x and F(x) cannot be added. It needs a 1×1
#    projection with stride 2 (64·64 + 2·64 = 4,224 parameters).
# 4. Global average pooling reduces the last 7×7×512 maps to 512 numbers before the only fully
#    connected layer (512·1000 + 1000); VGG-16 flattens them into 25,088 numbers and feeds two
#    4,096-unit layers.
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - Degradation: beyond some depth, plain networks train worse, on the training set too. It is an
#   optimisation problem, not over-fitting.
# - A residual block learns F(x) = H(x) − x and outputs ReLU(F(x) + x): the identity is easy, and the
#   gradient reaches every layer through the shortcuts. This enabled networks of 152 layers.
# - When the shape changes, the shortcut is a 1×1 projection (conv with the same stride + batch norm).
# - ResNet-18: 11,689,512 parameters, 18 layers with weights, global average pooling before one fully
#   connected layer.
#
# Next: **07 · Transfer learning**, reusing a network trained on ImageNet.
