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
# # 04 · LeNet-5: the first CNN that worked
#
# **In this notebook you will**
# - build LeNet-5 layer by layer and check every shape and all 61,706 parameters;
# - train it with cross-entropy, and compare Adam with SGD + momentum;
# - put the 1998 design (sigmoid, average pooling) next to a modern one (ReLU, max pooling, batch norm);
# - look inside the trained network: test accuracy, confusion matrix, mistakes, filters, feature maps;
# - measure how much a CNN really tolerates a shifted input;
# - measure bias and variance: softmax regression, an MLP and LeNet-5 on growing training sets.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1998: convolution meets real data
#
# Yann LeCun and colleagues built LeNet-5 to read handwritten digits, the kind on bank cheques and
# postal codes, and it went into production reading a sizeable share of the cheques written in the US.
# It showed that a network trained end to end with backpropagation, straight from pixels, could beat
# hand-engineered features on real, messy data.
#
# Its layout is the template every later CNN follows:
#
# **Conv → Pool → Conv → Pool → FC → FC** (→ output)
#
# Convolutions find local patterns, pooling shrinks the maps, and fully connected layers turn the
# final features into a decision. We train it on Fashion-MNIST (clothing, 28×28, ten classes), a harder
# stand-in for the digits that ships with the course; `cnnlab.data.load_mnist()` fetches the digits
# themselves when you are online.

# %% slideshow={"slide_type": "skip"}
import matplotlib.pyplot as plt
import numpy as np
from torch import nn

import cnnlab
from cnnlab import data
from cnnlab.experiments.ch04 import bias_variance, bias_variance_table, translation_test
from cnnlab.models import lenet5, mlp, softmax_regression
from cnnlab.shapes import conv_output_size, conv_params, linear_params, summary
from cnnlab.batches import fashion_mnist_batches
from cnnlab.train import evaluate, pick_device, predict, set_seed
from cnnlab.variants import compare_variants
from cnnlab.viz import (feature_maps, plot_bias_variance, plot_confusion_matrix, plot_feature_maps, plot_filters,
                        plot_history)
from cnnlab.viz import show_misclassified

QUICK = cnnlab.QUICK                       # CNNLAB_QUICK=1: seconds on the bundled sample
SOURCE = "sample" if QUICK else "auto"
VAL = 500 if QUICK else 6_000              # training images held out for validation
BUDGET = dict(epochs=2, max_seconds=5) if QUICK else dict(epochs=10, max_seconds=180)
SIZES = (250, 1000, 4000) if QUICK else (500, 2_000, 10_000, 60_000)   # training sets of the bias–variance runs
SIZE_IMAGES = 6_000 if QUICK else 120_000  # examples each of those runs sees
set_seed(0)
print("device:", pick_device(), "| quick mode:", QUICK)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Building it layer by layer
#
# Start with the first stage: six 5×5 filters and a 2×2 average pool. LeCun's images were 32×32;
# ours are 28×28, so the first convolution pads by 2 pixels to see the same 32×32 field.
# `summary` runs one dummy image through the layers and reports each output shape.

# %%
stage1 = [nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2)]
summary(nn.Sequential(*stage1), (1, 28, 28))

# %% [markdown] slideshow={"slide_type": "subslide"}
# Padding 2 keeps 28×28 ("same"), and the pool halves it to 14×14. The second stage has sixteen
# 5×5 filters *without* padding: 14 − 5 + 1 = 10, pooled to 5×5.

# %%
stage2 = [nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(2)]
summary(nn.Sequential(*stage1, *stage2), (1, 28, 28))

# %% [markdown] slideshow={"slide_type": "subslide"}
# Then flatten the 16 × 5 × 5 = 400 numbers and classify with three fully connected layers
# (120 and 84 hidden units, 10 outputs).

# %%
head = [nn.Flatten(), nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10)]
net = nn.Sequential(*stage1, *stage2, *head)
table = summary(net, (1, 28, 28))
table

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same count by the formulas of lesson 02, and the same network as `cnnlab.models.lenet5`:

# %%
by_formula = (conv_params(1, 6, 5) + conv_params(6, 16, 5)
              + linear_params(400, 120) + linear_params(120, 84) + linear_params(84, 10))
print(f"{conv_params(1, 6, 5)} + {conv_params(6, 16, 5)} + {linear_params(400, 120):,} + "
      f"{linear_params(120, 84):,} + {linear_params(84, 10)} = {by_formula:,}")

# %% slideshow={"slide_type": "skip"}
assert table.total_params == by_formula == 61_706
assert conv_params(1, 6, 5) + conv_params(6, 16, 5) == 2_572 and linear_params(400, 120) == 48_120
assert [type(m) for m in net] == [type(m) for m in lenet5(variant="classic")]

# %% [markdown] slideshow={"slide_type": "fragment"}
# Almost 80 % of the weights sit in the first fully connected layer (48,120 of 61,706): the two
# convolutions, which do the seeing, need only 2,572 between them thanks to weight sharing.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The data
#
# `fashion_mnist_batches` holds out a validation set (6,000 of the 60,000 training images) and
# returns mini-batches of normalised tensors. We use batches of 64 images; anything from 32 to 128 is a sensible start:
# smaller batches give noisier, more frequent updates, larger ones smoother but fewer.

# %%
train, val, test = fashion_mnist_batches(SOURCE, batch_size=64, val_size=VAL)
x_test, y_test = test.x, test.y                             # (N, 1, 28, 28), (N,)
names = data.class_names()
print(f"{len(train.x):,} training, {len(val.x):,} validation, {len(test.x):,} test images")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Training: loss, optimiser, learning rate
#
# - **Loss**: cross-entropy between the softmax of the 10 outputs and the true class.
# - **Optimiser**: Adam with a learning rate around 0.001 works out of the box; plain SGD needs
#   momentum (0.9) and a larger rate, around 0.01.
# - **Schedule**: when the validation loss stops improving for a couple of epochs ("plateau"),
#   divide the learning rate by 10 (`scheduler="plateau"`).
#
# `compare_variants` trains each variant from the same seed, on the same data, with the same budget,
# and returns a table. Three runs: the modern LeNet with Adam and with SGD + momentum, and the 1998
# LeNet with Adam.

# %%
runs = compare_variants({
    "modern, Adam lr 0.001": (lambda: lenet5(variant="modern"), dict(optimizer="adam", lr=1e-3)),
    "modern, SGD+momentum lr 0.01": (lambda: lenet5(variant="modern"), dict(optimizer="sgd", lr=1e-2)),
    "classic 1998, Adam lr 0.001": (lambda: lenet5(variant="classic"), dict(optimizer="adam", lr=1e-3)),
}, train, val, test, scheduler="plateau", **BUDGET)
runs

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Adam vs SGD with momentum
#
# Solid lines are the training set, dashed lines the validation set.

# %%
histories = runs.histories()
plot_history({k: histories[k] for k in ["modern, Adam lr 0.001", "modern, SGD+momentum lr 0.01"]})
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# Both get there; Adam adapts a step size per weight and usually gets going faster, while well-tuned
# SGD with momentum often ends up as good or slightly better. On a small network like this one the
# difference is small; the learning rate matters more than the choice of optimiser.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1998 vs today
#
# | | 1998 (classic) | today (modern) |
# |---|---|---|
# | activation | sigmoid (LeCun used a scaled tanh) | ReLU |
# | pooling | average | max |
# | normalisation | none | batch norm after each conv and hidden layer |
#
# Same layout, same optimiser, same budget:

# %%
plot_history({k: histories[k] for k in ["classic 1998, Adam lr 0.001", "modern, Adam lr 0.001"]})
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The sigmoid saturates: for large inputs its slope is almost 0, so the gradient reaching the first
# layers is tiny and learning starts slowly. ReLU passes the gradient unchanged wherever it is
# active, max pooling keeps the strongest response instead of blurring it, and batch norm keeps each
# layer's inputs in a range where learning is easy. The modern variant has 452 more parameters
# (γ and β of its batch norms).

# %% [markdown] slideshow={"slide_type": "notes"}
# > **Instructor's notes** (speaker notes: they are not on the slides)
# >
# > If the classic curve looks flat for the first epoch, that is the point: ask why a sigmoid network
# > "wakes up" late. In quick mode the runs last a few seconds, so the gap is exaggerated; a full run
# > narrows it but the modern variant stays ahead.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Test accuracy
#
# The test images played no part in training or in choosing the learning rate: they give the honest
# number.

# %%
model = runs["modern, Adam lr 0.001"].model
classic = runs["classic 1998, Adam lr 0.001"].model
test_loss, test_acc = evaluate(model, test)
print(f"modern LeNet-5: test loss {test_loss:.3f}, test accuracy {test_acc:.3f}")
print(f"classic LeNet-5: test accuracy {evaluate(classic, test)[1]:.3f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Where it goes wrong: the confusion matrix
#
# Row *i*, column *j*: the share of class *i* images predicted as class *j*. The diagonal holds the
# correct answers.

# %%
preds, probs = predict(model, x_test)
plot_confusion_matrix(y_test, preds, names)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The mistakes are not random: shirts are confused with T-shirts, pullovers and coats, which share
# their outline at 28×28 pixels; trousers, bags and footwear are almost never wrong.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The mistakes themselves
#
# Each title reads "true → predicted (confidence)". Many of these are hard for a person too.

# %%
show_misclassified(x_test, y_test, preds, names, n=16, probs=probs)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## What the first layer learned
#
# The six 5×5 filters of the first convolution, red positive and blue negative. Nobody designed them:
# they are kernels like those of lesson 01, with numbers that came from the data. Look for
# edge-like patterns (a red side next to a blue side) and blob detectors.

# %%
plot_filters(model[0].weight, ncols=6, title="first-layer filters of the trained LeNet-5")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Feature maps: the image as the network sees it
#
# The outputs of the two ReLU layers for one test image: six 28×28 maps after the first convolution,
# sixteen 10×10 maps after the second.

# %%
image = x_test[:1]
model.eval()                               # batch norm uses its running statistics for one image
maps = list(feature_maps(model, image, kinds=(nn.ReLU,)).values())
plt.figure(figsize=(2.4, 2.6))
plt.imshow(image[0, 0], cmap="gray_r")
plt.title(f"input: {names[y_test[0]]}")
plt.axis("off")
plt.show()

# %% slideshow={"slide_type": "subslide"}
plot_feature_maps(maps[0], ncols=6, title="after conv1 + BN + ReLU (6 × 28×28)")
plt.show()

# %% slideshow={"slide_type": "subslide"}
plot_feature_maps(maps[1], ncols=8, title="after conv2 + BN + ReLU (16 × 10×10)")
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# The first maps still look like the garment, each lighting up different edges; the second-stage
# maps are coarser and more abstract, combinations of the first ones.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## How shift-proof is a CNN?
#
# Convolution is *equivariant*: shift the input and its feature maps shift with it. Pooling adds a
# little *invariance*, a pixel or two. But the fully connected layers at the end see every position
# separately. So: move every test image by *k* pixels (what enters at the edge is background) and
# measure the accuracy again.

# %% slideshow={"slide_type": "subslide"}
shifts = np.arange(-6, 7)
curves = {"modern (max pool)": translation_test(model, x_test, y_test, shifts),
          "classic (average pool)": translation_test(classic, x_test, y_test, shifts)}
plt.figure(figsize=(7, 3.4))
for label, accs in curves.items():
    plt.plot(shifts, accs, "o-", label=label)
plt.xlabel("horizontal shift k (pixels)")
plt.ylabel("test accuracy")
plt.title("accuracy of LeNet-5 on shifted test images")
plt.grid(alpha=0.3)
plt.legend()
plt.show()

# %% slideshow={"slide_type": "subslide"}
for label, accs in curves.items():
    print(f"{label:24s} " + "  ".join(f"{k:+d}: {a:.2f}" for k, a in zip(shifts, accs) if k in (0, 2, 4, 6)))

# %% [markdown] slideshow={"slide_type": "fragment"}
# Accuracy is highest at (or next to) no shift and falls off within a few pixels. A CNN is not
# shift-invariant by construction; it becomes more tolerant when it *sees* shifted examples while
# training (data augmentation, lesson 05) and when global pooling replaces the position-bound fully
# connected layers (ResNet, lesson 06).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Why a CNN? Bias and variance, measured
#
# The usual claim: a CNN has lower **bias** than a linear model (it can represent what images need),
# fewer parameters than a fully connected network of the same power, and it **generalises** better
# because its structure (local filters, shared weights) fits images. Measure it with three models:
#
# - **softmax regression**: one linear layer on the 784 pixels (7,850 parameters);
# - an **MLP** with one hidden layer of 80 ReLU units (63,610 parameters, a few more than LeNet-5);
# - the modern **LeNet-5** (62,158).
#
# Each trains on the first n training images, for growing n, seeing about the same number of
# examples (many passes over a small set, few over a large one). High bias shows as a *training*
# accuracy that stays low; high variance as a large **gap** between training and test accuracy.

# %%
full_train, _, _ = fashion_mnist_batches(SOURCE, batch_size=64)       # every training image, shuffled once
size_runs = bias_variance({"softmax regression": softmax_regression, "MLP": mlp,
                           "LeNet-5": lambda: lenet5(variant="modern")},
                          full_train, test, SIZES, images=SIZE_IMAGES)
print(bias_variance_table(size_runs))

# %% slideshow={"slide_type": "subslide"}
plot_bias_variance(size_runs)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# What this run measured, read off the table:

# %%
models = list(dict.fromkeys(r.model for r in size_runs))
for n in SIZES:
    rows = {r.model: r for r in size_runs if r.n == n}
    gaps = ", ".join(f"{m} {rows[m].gap:+.3f}" for m in models)
    best = max(rows.values(), key=lambda r: r.test_acc)
    print(f"{n:>6,} images: gap train − test: {gaps}; best test accuracy: {best.model} ({best.test_acc:.3f})")
largest = [r for r in size_runs if r.n == max(SIZES)]
print(f"with {max(SIZES):,} training images, training accuracy: "
      + ", ".join(f"{r.model} {r.train_acc:.3f}" for r in sorted(largest, key=lambda r: r.train_acc)))

# %% [markdown] slideshow={"slide_type": "fragment"}
# How to read it. **Variance** is the gap: with a few hundred images a model with tens of thousands
# of parameters can memorise its training set, and what it memorised does not carry over; the gaps
# shrink as the training set grows. **Bias** is a ceiling on the training accuracy itself: a linear
# model cannot separate the classes well even on images it has seen, and more data cannot fix
# that. The CNN's structure (5×5 filters reused at every position) pays where there is enough data
# to learn filters but too little for an MLP to learn every pattern at every position again.
#
# In our full run (all 60,000 images) every model fitted 500 images almost perfectly and all three
# tested about equally; softmax regression ended with the lowest training and test accuracy on the
# full set; and LeNet-5's test accuracy led from 10,000 images on, ahead of the MLP with the same
# number of parameters. Quick mode trains for seconds on the bundled sample, too little to settle it.

# %% [markdown] slideshow={"slide_type": "notes"}
# Point at the gap column first, then at the smallest size. If someone asks why the MLP does not
# simply win with its extra parameters: parameters are not capacity *for images*; the MLP spends
# them on every pixel position separately.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Check yourself
#
# 1. Without the padding of the first convolution, what size would the maps have after the second
#    pool, and how many inputs would the first fully connected layer take?
# 2. How many parameters does the modern LeNet add for its batch norms, and why are its running
#    means and variances not counted?
# 3. Your validation loss has stopped falling for three epochs while the training loss still falls.
#    What does `scheduler="plateau"` do, and what else might be going on?
# 4. Why does the translation test hurt a LeNet more than you might expect from "convolution is
#    shift-equivariant"?
# 5. In the bias–variance runs, which model had the largest gap between training and test accuracy
#    on the smallest training set? Is that a sign of bias or of variance, and what would reduce it?

# %%
size = conv_output_size(28, 5) // 2                       # conv1 without padding, then pool
size = conv_output_size(size, 5) // 2                     # conv2, then pool
print(f"1. {size}×{size} maps, so the first fully connected layer would take 16·{size}·{size} = {16 * size * size}")
print(f"2. {summary(lenet5(variant='modern'), (1, 28, 28)).total_params - 61_706} parameters")
smallest = [r for r in size_runs if r.n == min(SIZES)]
widest = max(smallest, key=lambda r: r.gap)
print(f"5. {widest.model}: {widest.train_acc:.3f} on its {widest.n:,} training images, {widest.test_acc:.3f} on the test set")

# %% slideshow={"slide_type": "skip"}
assert size == 4

# %% [markdown]
# <details><summary>Answers to 2–5</summary>
#
# 2. 452 = 2 · (6 + 16 + 120 + 84): a scale γ and a shift β per channel or unit. The running
#    statistics are averages the layer keeps for test time; no gradient updates them.
# 3. It divides the learning rate by 10 once the validation loss has not improved for `patience`
#    epochs. A widening gap between training and validation loss is also the sign of over-fitting:
#    more data, augmentation or regularisation (lesson 05) help there.
# 4. The convolutions shift their maps along with the image, but the first fully connected layer has
#    a separate weight for every position of the 5×5 maps, so it sees a different input. Only the two
#    2×2 pools give a little slack.
# 5. A large gap is variance: the model fits its particular training images better than the task.
#    More data shrinks it (see the curves), as do regularisation and augmentation (lesson 05) and a
#    structure that suits images.
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - LeNet-5 (1998): Conv-Pool-Conv-Pool-FC-FC, 61,706 parameters, most of them in the first fully
#   connected layer; it proved that CNNs trained from pixels work on real data.
# - Train with cross-entropy; Adam at lr ≈ 0.001 or SGD + momentum at lr ≈ 0.01, batches of 32–128,
#   and lower the rate when the validation loss plateaus.
# - ReLU, max pooling and batch norm make the same layout learn much faster than sigmoid and
#   average pooling.
# - Look inside: the confusion matrix and the mistakes show *what* is hard; filters and feature maps
#   show *how* the network sees.
# - A CNN tolerates only small shifts unless it is trained to.
# - Bias and variance, measured: with few images every model memorises (large train − test gaps,
#   variance) and the gaps shrink with data; a linear model stays below the others even on its
#   training images (bias); LeNet-5 beats an MLP of the same size once there are thousands of images.
#
# Next: **05 · VGG**, deeper networks made of small 3×3 convolutions.
