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
# # 05 · VGG (2014) and the road there
#
# **In this notebook you will**
# - see what AlexNet changed in 2012, and how VGG turned it into a simple recipe;
# - build networks from blocks of 3×3 convolutions, and see why two 3×3 beat one 5×5;
# - find where VGG-16's 138 million parameters live;
# - train a small VGG on Fashion-MNIST and *measure* what batch norm, dropout and data augmentation do;
# - collect the design rules of thumb for your own CNNs.

# %% slideshow={"slide_type": "skip"}
import dataclasses

import matplotlib.pyplot as plt
import torch
from torch import nn

import cnnlab
from cnnlab.models import VGG_CONFIGS, small_vgg, vgg16
from cnnlab.models.vgg import vgg_features
from cnnlab.models.alexnet import alexnet
from cnnlab.shapes import conv_params, receptive_field, summary
from cnnlab.augment import random_crop, random_hflip, standard_augment
from cnnlab.batches import fashion_mnist_batches
from cnnlab.recipes import RECIPES
from cnnlab.train import evaluate, predict, set_seed
from cnnlab.variants import Comparison, compare_variants
from cnnlab.viz import plot_history, plot_parameter_share, plot_receptive_field

QUICK = cnnlab.QUICK                       # CNNLAB_QUICK=1: seconds on the bundled sample
SOURCE = "sample" if QUICK else "auto"
LIMIT = 1_000 if QUICK else 5_000          # a small training set, so that over-fitting shows
VAL = 300 if QUICK else 3_000              # training images held out for validation
# each regularisation run: at most this many epochs or seconds (quick runs note the curves three times
# an epoch), in bfloat16 with channels-last images like the recipe below: about twice as fast on a CPU
BUDGET = dict(epochs=2, max_seconds=1, evals_per_epoch=3) if QUICK else dict(epochs=10, max_seconds=35)
FAST = dict(amp=True, channels_last=True)
RECIPE_SECONDS = 1.5 if QUICK else 90       # the full recipe's run at the end (its tuned budget: 147 s)
set_seed(0)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2012: AlexNet
#
# Fourteen years after LeNet, Krizhevsky, Sutskever and Hinton won the ImageNet challenge (1.2 million
# photos, 1,000 classes) with a top-5 error of 15.3 %, against 26.2 % for the best entry without a CNN.
# Its ingredients:
#
# - **8 layers with weights**: 5 convolutional, 3 fully connected (about 61 million parameters);
# - **ReLU** instead of tanh or sigmoid: several times faster training;
# - **dropout** in the big fully connected layers against over-fitting;
# - **GPU training**: two consumer graphics cards, about a week;
# - plenty of **data augmentation** (crops, flips, colour changes).

# %%
net = alexnet()
kinds = [type(m).__name__ for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
print(kinds, f"{sum(p.numel() for p in net.parameters()):,} parameters")

# %% slideshow={"slide_type": "skip"}
assert kinds.count("Conv2d") == 5 and kinds.count("Linear") == 3

# %% [markdown] slideshow={"slide_type": "slide"}
# ## VGG: one kind of layer, stacked deep
#
# Simonyan and Zisserman (Oxford's Visual Geometry Group, 2014) asked what depth alone buys. Their
# recipe has almost no choices left:
#
# - only **3×3 convolutions** (stride 1, padding 1: the size is kept), each followed by ReLU;
# - grouped in **blocks [conv-conv-pool]**, each ending in a 2×2 max pool that halves the size;
# - the **number of channels doubles** after each pool: 64 → 128 → 256 → 512;
# - three fully connected layers at the end.
#
# So a whole VGG is a list: a number is a 3×3 conv with that many filters, `"M"` a max pool.

# %%
for name in ["vgg11", "vgg16", "vgg19"]:
    convs = sum(isinstance(item, int) for item in VGG_CONFIGS[name])
    print(f"{name}: {convs} conv + 3 FC = {convs + 3} layers with weights")
print("vgg16:", VGG_CONFIGS["vgg16"])

# %% slideshow={"slide_type": "skip"}
assert sum(isinstance(item, int) for item in VGG_CONFIGS["vgg16"]) + 3 == 16

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Why 3×3? The receptive-field argument
#
# Two stacked 3×3 convolutions see a 5×5 patch of the input; three see 7×7. The stack costs fewer
# weights than one big kernel and puts a ReLU between the layers, so it can express more.

# %%
plot_receptive_field([3, 3, 3])
plt.show()

# %% slideshow={"slide_type": "subslide"}
C = 256                                                     # channels in and out
for n, k in [(2, 5), (3, 7)]:
    stacked = n * conv_params(C, C, 3, bias=False)
    single = conv_params(C, C, k, bias=False)
    print(f"{n} × 3×3: field {receptive_field([(3, 1)] * n)}×{receptive_field([(3, 1)] * n)}, "
          f"{stacked:,} weights ({n * 9}C²)  vs  one {k}×{k}: {single:,} ({k * k}C²)")

# %% slideshow={"slide_type": "skip"}
assert receptive_field([(3, 1)] * 2) == 5 and receptive_field([(3, 1)] * 3) == 7

# %% [markdown] slideshow={"slide_type": "slide"}
# ## VGG-16's parameter budget
#
# 224×224 RGB in, 1,000 classes out. After five pools the maps are 7×7×512 = 25,088 numbers, and the
# first fully connected layer connects each of them to 4,096 units.

# %%
net = vgg16()
table = summary(net, (3, 224, 224))
layers = [(name, m) for name, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
counts = [sum(p.numel() for p in m.parameters()) for _, m in layers]
conv_total = sum(c for (_, m), c in zip(layers, counts) if isinstance(m, nn.Conv2d))
fc1 = net.classifier[1]
share = counts[-3] / table.total_params
print(f"total {table.total_params:,}; conv layers {conv_total:,}; "
      f"first FC ({fc1.in_features:,} → {fc1.out_features:,}) {counts[-3]:,} = {share:.1%}")

# %% slideshow={"slide_type": "skip"}
assert table.total_params == 138_357_544 and counts[-3] == 102_764_544

# %% slideshow={"slide_type": "subslide"}
plot_parameter_share([f"{name} {type(m).__name__}" for name, m in layers], counts,
                     title="VGG-16: parameters per layer")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Three quarters of the parameters (74.3 %) sit in one fully connected layer, while the 13
# convolutions, which do almost all the computation (about 15.5 billion multiply-accumulates per
# image), hold only 14.7 million. Later networks (GoogLeNet, ResNet) replace that layer with global
# average pooling and shrink the budget by an order of magnitude.

# %%
print(f"{table.total_macs / 1e9:.1f} billion MACs per image; conv share of parameters "
      f"{conv_total / table.total_params:.1%}")
del net                                                     # 138 M parameters: free the memory

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A small VGG for 28×28 images
#
# Three [conv-conv-pool] blocks with 32, 64 and 128 channels take 28×28 down to 3×3; batch norm after
# each conv; one hidden layer of 256 units with dropout. The table keeps the layers with parameters
# (ReLU, pooling and dropout have none; `print(small_table)` lists every layer).

# %%
small_table = summary(small_vgg(), (1, 28, 28))
dataclasses.replace(small_table, rows=[row for row in small_table.rows if row.params])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Regularisation, the toolbox
#
# - **Dropout**: while training, zero each unit with probability p (0.5 is the classic value) and
#   scale the survivors by 1/(1 − p). It goes in the large fully connected layers; conv layers rarely
#   need it, since they have few weights and strong structure already.
# - **Weight decay**: add λ‖w‖² to the loss (λ between 1e-4 and 1e-5), which pulls weights towards 0
#   (`weight_decay=` in `fit`).
# - **Batch norm**: for each channel, normalise with the batch's mean and variance, then scale by a
#   learned γ and shift by a learned β. Placed conv → BN → ReLU → pool. It speeds up and stabilises
#   training, and its batch-to-batch noise regularises a little.
# - **Data augmentation**: show every image in new variations (next slides).

# %% [markdown] slideshow={"slide_type": "subslide"}
# Batch norm by hand, against `nn.BatchNorm2d` in training mode:

# %%
x = torch.randn(8, 4, 5, 5) * 3 + 1                          # (N, C, H, W)
bn = nn.BatchNorm2d(4)
nn.init.normal_(bn.weight), nn.init.normal_(bn.bias)        # some γ and β
mean = x.mean(dim=(0, 2, 3), keepdim=True)                  # (1, C, 1, 1): one per channel
var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)    # (1, C, 1, 1)
x_hat = (x - mean) / torch.sqrt(var + bn.eps)               # (N, C, H, W)
by_hand = bn.weight.view(1, -1, 1, 1) * x_hat + bn.bias.view(1, -1, 1, 1)
print("the same as nn.BatchNorm2d:", torch.allclose(bn.train()(x), by_hand, atol=1e-5))
print("per channel after normalising: mean", x_hat.mean(dim=(0, 2, 3)).numpy().round(4) + 0.0,
      "variance", x_hat.var(dim=(0, 2, 3), unbiased=False).numpy().round(4))       # + 0.0: no "-0."

# %% slideshow={"slide_type": "skip"}
assert torch.allclose(bn.train()(x), by_hand, atol=1e-5)

# %% [markdown] slideshow={"slide_type": "fragment"}
# At test time batch norm uses running averages of the mean and variance collected during training,
# so one image gives the same answer alone or in a batch.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Measuring batch norm and dropout
#
# To make over-fitting visible we train on a small set of images and compare, with the same seed and
# budget: the full small VGG (BN + dropout), one without batch norm, one without dropout.

# %%
train, val, _ = fashion_mnist_batches(SOURCE, batch_size=64, val_size=VAL, limit=LIMIT)
print(f"{len(train.x):,} training images, {len(val.x):,} validation images")
runs = compare_variants({
    "BN + dropout": lambda: small_vgg(),
    "no batch norm": lambda: small_vgg(batch_norm=False),
    "no dropout": lambda: small_vgg(dropout=0.0),
}, train, val, lr=1e-3, **FAST, **BUDGET)
runs

# %% slideshow={"slide_type": "subslide"}
plot_history(runs.histories(), title=f"small VGG on {len(train.x):,} images")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Read the table by columns: **train acc − val acc** is the over-fitting gap. What to look for: without
# dropout the network memorises the small training set sooner and the gap opens wider; without batch
# norm the first epochs are slower and the curves noisier. On a large data set both effects shrink,
# since more data is the best regulariser of all. What this run measured (a quick run trains for
# seconds, too short for the gaps to open):

# %%
def gap(run) -> str:
    h = run.history
    return f"train {h.train_acc[-1]:.3f} − validation {h.val_acc[-1]:.3f} = gap {h.train_acc[-1] - h.val_acc[-1]:+.3f}"


for name, run in runs.runs.items():
    h = run.history
    print(f"{name:<14} {gap(run)}; validation {h.val_acc[0]:.3f} after {h.epoch[0]:.1f} epochs")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Data augmentation
#
# Every epoch, show each training image slightly changed, in ways that keep its class: **random crops**
# (shift by a few pixels), **horizontal flips** (a mirrored shirt is still a shirt; a mirrored digit is
# not always a digit). For colour photos add **colour jitter** (brightness, contrast, saturation), and
# often **small rotations** (±15°) and **scaling**.

# %% slideshow={"slide_type": "subslide"}
sample = next(iter(val))[0][:6]
rows = {"original": sample, "random crop ±2 px": random_crop(sample, 2),
        "horizontal flip": random_hflip(sample, p=1.0), "crop + flip": standard_augment()(sample)}
fig, axes = plt.subplots(len(rows), 6, figsize=(7.2, 1.15 * len(rows)))
for r, (title, images) in enumerate(rows.items()):
    for c in range(6):
        axes[r, c].imshow(images[c, 0], cmap="gray_r")
        axes[r, c].axis("off")
    axes[r, 0].set_title(title, loc="left", fontsize=9)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same network and budget as "BN + dropout", now with crops and flips:

# %%
augmented = compare_variants({"BN + dropout + augmentation": lambda: small_vgg()}, train, val,
                             lr=1e-3, augment=standard_augment(), **FAST, **BUDGET)
both = Comparison({"BN + dropout": runs["BN + dropout"], **augmented.runs})
plot_history(both.histories(), title="augmentation on a small training set")
plt.show()
both

# %% [markdown] slideshow={"slide_type": "subslide"}
# What to look for: with augmentation the training accuracy rises more slowly, since the task got
# harder, while the validation accuracy keeps up with it, so the gap between them stays small.
# Augmentation is the cheapest way to get "more data", but it is not free: the network needs epochs
# to learn from the variations, and a short run can lose validation accuracy to it. This run:

# %%
plain, shifted = both["BN + dropout"], both["BN + dropout + augmentation"]
print(f"without augmentation: {gap(plain)}")
print(f"with augmentation:    {gap(shifted)}")
change = 100 * (shifted.history.val_acc[-1] - plain.history.val_acc[-1])
print(f"augmentation {'gained' if change >= 0 else 'cost'} {abs(change):.1f} points of validation accuracy "
      f"in {shifted.history.epoch[-1]:.1f} epochs")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Test-time augmentation.** A network that learned that a mirrored shirt is still a shirt can be
# asked twice: about each test image and about its mirror image. Averaging the two probability
# vectors (`evaluate(..., flips=True)`) costs a second forward pass and no training. It changes the
# answer only where one view was unsure: it puts some of those images right and spoils others. For a
# well-trained network the balance is usually a small gain (the small ResNet of lesson 06 gains one or
# two tenths of a point from it, bench/results/models.json); after a short run it can go either way.
# Count them:

# %%
flip_model = augmented["BN + dropout + augmentation"].model
one_view, two_views = evaluate(flip_model, val)[1], evaluate(flip_model, val, flips=True)[1]
print(f"validation accuracy: one view {one_view:.3f}, image and mirror averaged {two_views:.3f}")
single = predict(flip_model, val.x)[1]                                   # (N, 10) probabilities
averaged = (single + predict(flip_model, val.x.flip(-1))[1]) / 2         # (N, 10)
right_before, right_after = single.argmax(1) == val.y, averaged.argmax(1) == val.y
print(f"averaging changed {int((single.argmax(1) != averaged.argmax(1)).sum())} of {len(val.y):,} answers: "
      f"{int((right_after & ~right_before).sum())} put right, {int((right_before & ~right_after).sum())} spoilt")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The full recipe on all the data
#
# Everything together, on the whole training set: the small VGG with batch norm and dropout, trained
# with the settings of `cnnlab train small-vgg`, the recipe that `make bench` times on two CPU cores
# (printed below). The one-cycle schedule warms the learning rate up, then anneals it to the time
# budget, so a slower laptop trains fewer epochs rather than longer. Here it gets a minute and a half
# (quick mode: a second and a half) instead of its tuned 147 s; with those 147 s on two idle cores it
# reached 93.8 % test accuracy (`make bench`, bench/results/models.json).

# %%
recipe = RECIPES["small-vgg"].with_budget(RECIPE_SECONDS)
print(recipe.describe())
full_train, full_val, full_test = fashion_mnist_batches(SOURCE, batch_size=recipe.batch_size, val_size=VAL)
set_seed(0)
model = small_vgg()
history = recipe.fit(model, full_train, full_val, desc="small-vgg recipe")
print(history)
print(f"test accuracy after {history.seconds[-1]:.0f} s of training: {recipe.evaluate(model, full_test)[1]:.3f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Designing your own CNN: rules of thumb
#
# - **Start simple**: 3–5 conv layers, then grow only if the validation accuracy asks for it.
# - **3×3 kernels**; a 5×5 or 7×7 only in the first layer, where the input has few channels.
# - **2×2 max pooling with stride 2**, after a block of convs; double the channels after each pool.
# - **Do not pool too aggressively early**: the first layers need the resolution to find fine detail.
# - conv → BN → ReLU; dropout 0.5 in the fully connected layers; weight decay 1e-4 to 1e-5;
#   augment the data.

# %% [markdown] slideshow={"slide_type": "notes"}
# > **Instructor's notes** (speaker notes: they are not on the slides)
# >
# > The regularisation experiments train on a few thousand images on purpose: over-fitting must be
# > visible within the lecture. Point at the train/val gap column of the tables rather than at the
# > absolute accuracies, which depend on the budget.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Check yourself
#
# 1. How many parameters does a VGG block [conv 3×3 64→128, conv 3×3 128→128, pool] have?
# 2. What is the receptive field of VGG-16's whole feature extractor (13 convs, 5 pools)?
# 3. Why is dropout usually placed in the fully connected layers and not after each convolution?
# 4. You train on 5,000 images; training accuracy reaches 99 %, validation 85 %. Name three remedies.

# %%
block = conv_params(64, 128, 3) + conv_params(128, 128, 3)
print(f"1. {conv_params(64, 128, 3):,} + {conv_params(128, 128, 3):,} = {block:,} (the pool has none)")
assert block == 221_440
field = receptive_field(vgg_features(VGG_CONFIGS["vgg16"])[0])
print(f"2. {field} × {field} pixels: nearly the whole 224×224 image")

# %% slideshow={"slide_type": "skip"}
assert field == 212

# %% [markdown]
# <details><summary>Answers to 3–4</summary>
#
# 3. The fully connected layers hold most of the weights and over-fit most; conv layers share a few
#    weights across the whole image and are regularised by that structure (and by batch norm).
# 4. Data augmentation, dropout (or more of it), weight decay; or more data, a smaller network, or
#    stopping earlier.
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - AlexNet (2012): 5 conv + 3 FC layers, ReLU, dropout, GPUs, and a large ImageNet win.
# - VGG (2014): only 3×3 convs in [conv-conv-pool] blocks, channels doubling after each pool; two 3×3
#   see 5×5 with fewer weights and an extra non-linearity.
# - VGG-16 has 138,357,544 parameters, 74 % of them in the first fully connected layer.
# - Batch norm speeds training; dropout and augmentation narrow the gap between training and
#   validation accuracy; weight decay 1e-4 to 1e-5 keeps weights small.
#
# Next: **06 · ResNet**, how to go from 16 layers to 152.
