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
# # 00 · Welcome to cnnlab
#
# A course on convolutional neural networks that runs on a laptop CPU, offline.
#
# **In this notebook you will**
# - see what convolutional networks are for, and why a plain fully connected network is a poor fit for images;
# - meet the three ideas every later lesson builds on;
# - check that your environment works and look at the data set used throughout the course.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## What a CNN is for
#
# Convolutional networks shine on data laid out on a grid, where neighbouring values belong together:
# photos, medical scans, satellite images, video frames, even audio once it is drawn as a spectrogram.
# On such data they solve
#
# - **classification**: what is in this picture?
# - **detection**: where are the objects, and what are they?
# - **segmentation**: which pixels belong to which object?
#
# A trained CNN learns a *hierarchy* straight from examples: its first layers respond to edges and
# blobs of colour, the middle ones to textures and simple shapes, the last ones to whole objects.
# Nobody writes these detectors by hand.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Why not a fully connected network?
#
# Flatten a 224×224 colour image and every pixel value becomes one input. Count them:

# %%
inputs = 224 * 224 * 3
hidden = 1_000
weights = inputs * hidden
print(f"{inputs:,} inputs; {hidden:,} hidden units need {weights:,} weights (about {weights / 1e6:.0f} million)")

# %% slideshow={"slide_type": "skip"}
assert inputs == 150_528

# %% [markdown] slideshow={"slide_type": "fragment"}
# That is one layer, before the network has learned anything. Worse, the flattened vector has no
# notion of *neighbourhood*: pixel (10, 10) is as far from (10, 11) as from (200, 3). And a pattern
# learned in the top-left corner must be learned again, with separate weights, for every other position.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Three ideas
#
# 1. **Local connectivity**: each unit looks at a small patch, its *receptive field* (say 3×3 pixels).
# 2. **Parameter sharing**: the same small set of weights, a *kernel*, slides over the whole image,
#    so a detector learned once works everywhere. A 3×3 kernel has 9 weights, whatever the image size.
# 3. **Spatial hierarchy**: stacking layers (and pooling) lets later units see ever larger regions,
#    combining edges into parts and parts into objects.
#
# These ideas were inspired by the visual cortex: Hubel and Wiesel found *simple cells* that fire for
# an edge at one orientation and place, and *complex cells* that fire for that edge anywhere nearby.
# Convolution plays the part of the simple cells; pooling, of the complex ones.

# %% [markdown] slideshow={"slide_type": "notes"}
# > **Instructor's notes** (speaker notes: they are not on the slides)
# >
# > Ask the room how many weights the fully connected layer needs before showing the cell; most
# > guesses are far too low. The 150 million figure is what motivates the whole course.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## How the course works
#
# | lesson | what you learn |
# |---|---|
# | 01 convolution by hand | the sliding window, stride, padding, channels, kernels on a real photo |
# | 02 output size and parameters | the formulas, checked against PyTorch; receptive fields |
# | 03 backprop through conv and pool | gradients by hand, gradient checking, im2col |
# | 04 LeNet | the first CNN that worked, trained on Fashion-MNIST |
# | 05 VGG | small 3×3 kernels stacked deep; batch norm, dropout, augmentation |
# | 06 ResNet | residual connections and the degradation problem |
# | 07 transfer learning | reuse an ImageNet network; when it helps and when it does not |
# | 08 architecture gallery | six landmark networks on one ruler |
# | 09 beyond classification | segmentation, detection, sound as an image, where translation invariance breaks |
#
# Each lesson has **exercises** in `exercises/` with instant **self-checks**: call
# `check(your_function)` and you get a ✓ or a message that says what is wrong.
# The code shown in the lessons lives in the `cnnlab` package, where it is tested against PyTorch.

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Quick mode.** Set the environment variable `CNNLAB_QUICK=1` and every lesson trains for a few
# seconds on a small sample (this is what the test run does). Without it the lessons train for real,
# which takes minutes on a laptop.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Check your environment

# %% slideshow={"slide_type": "skip"}
import platform

import matplotlib
import numpy as np
import torch

import cnnlab
from cnnlab import data
from cnnlab.train import pick_device

# %%
print(f"Python      {platform.python_version()}")
print(f"NumPy       {np.__version__}")
print(f"PyTorch     {torch.__version__}")
print(f"matplotlib  {matplotlib.__version__}")
print(f"cnnlab      {cnnlab.__version__}")
print(f"device      {pick_device()}")
print(f"quick mode  {cnnlab.QUICK}")
if cnnlab.QUICK:       # quick mode always trains on the bundled sample
    print(f"data        bundled sample (quick mode); without quick mode: {data.which_source()}")
else:
    print(f"data        {data.which_source()}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The data: Fashion-MNIST
#
# 70,000 greyscale photos of clothing, 28×28 pixels, in ten classes, published by Zalando Research as a
# harder drop-in replacement for the handwritten digits of MNIST. A class-balanced sample of 7,000
# images ships inside `cnnlab`, so everything works offline; `cnnlab data fetch` (or the Debian package
# `dataset-fashion-mnist`) gives the full set, and `source="auto"` picks it up when it is there.

# %%
images, labels = data.load_fashion_mnist("train", source="sample" if cnnlab.QUICK else "auto")
print(images.shape, images.dtype, labels.shape, labels.dtype)
print("images per class:", np.bincount(labels, minlength=10))

# %% [markdown] slideshow={"slide_type": "subslide"}
# Four examples of each class:

# %%
import matplotlib.pyplot as plt

names = data.class_names()
fig, axes = plt.subplots(4, 10, figsize=(9.2, 3.4))
for c in range(10):
    for row, index in enumerate(np.flatnonzero(labels == c)[:4]):
        ax = axes[row, c]
        ax.imshow(images[index], cmap="gray_r")
        ax.set_xticks([]), ax.set_yticks([])
    axes[0, c].set_title(names[c], fontsize=9)
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Check yourself
#
# 1. How many weights would one fully connected unit need for a 100×100 greyscale image? How many does
#    a 3×3 convolution kernel need, for the same image?
# 2. Name one kind of data where a CNN is a poor choice, and say why.
# 3. Which of the three ideas lets a network recognise a shirt wherever it appears in the picture?
#
# <details><summary>Answers</summary>
#
# 1. 100 × 100 = 10,000 weights for one fully connected unit; 9 for a 3×3 kernel, shared across the image.
# 2. Tabular data (columns of a spreadsheet have no neighbours: reordering them changes nothing),
#    or graphs and sequences without a spatial layout.
# 3. Parameter sharing: the same kernel is applied at every position.
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - CNNs are built for grid-shaped data and learn a hierarchy of features from examples.
# - Fully connected layers on raw pixels need huge numbers of weights and ignore neighbourhoods.
# - Local connectivity, parameter sharing and a spatial hierarchy fix both problems.
# - CNNs need plenty of labelled data and compute, are hard to interpret, and see long-range
#   relations only through deep stacks, dilation or attention; lesson 07 shows how transfer learning
#   eases the data problem.
#
# Next: **01 · Convolution by hand**.
