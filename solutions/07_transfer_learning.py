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
# # Exercises 07 — transfer learning
#
# Three exercises that go with lesson 07, all on cnnlab's EfficientNet-Lite0:
#
# 1. freeze the network and give it a new trainable head (3 points);
# 2. freeze the stem and the first stages, and count the parameters that still learn (2 points);
# 3. build the fine-tuning optimizer: the backbone at a smaller learning rate than the head (3 points).
#
# After each exercise, run the cell below it: it checks your answer on fresh inputs and prints
# `✓` or what is wrong. The grader runs each of your solution cells on its own, so put the
# imports a solution needs inside its cell. `cnnlab.transfer` (which holds the lesson's
# versions) is not allowed in these exercises; `cnnlab.models` and `torch` are.
#
# The checks use random weights (`efficientnet_lite0()`), so they run in a second; your code
# would be the same with `efficientnet_lite0(weights="imagenet")`. Remember the layout:
# `model.features` holds `stem`, `stage1` … `stage7` and `head` (the last 1×1 conv), and
# `model.classifier` is the `nn.Linear(1280, 1000)` that reads the pooled features.

# %%
from cnnlab.checks import check

# %% [markdown]
# ## Exercise 1 — a frozen backbone with a new head (3 points)
#
# Write `freeze_and_replace_head(num_classes)` that returns an EfficientNet-Lite0 ready to be
# used as a **feature extractor** for `num_classes` classes:
#
# - every parameter of the network is frozen (`requires_grad = False`);
# - `model.classifier` is replaced by a new `nn.Linear(1280, num_classes)`, which learns.
#
# So exactly 1280 · num_classes + num_classes parameters still learn, and the model outputs
# `(N, num_classes)`. The check counts trainable and total parameters, looks at which
# parameter tensors learn, and runs two small images through your model.

# %% nbgrader={"grade": false, "grade_id": "freeze_and_replace_head", "locked": false, "schema_version": 3, "solution": true}
from torch import nn

from cnnlab.models import efficientnet_lite0


def freeze_and_replace_head(num_classes):
    """EfficientNet-Lite0 with every layer frozen and a new trainable (1280 -> num_classes) head."""
    ### BEGIN SOLUTION
    model = efficientnet_lite0()
    for p in model.parameters():
        p.requires_grad = False
    model.classifier = nn.Linear(model.classifier.in_features, num_classes)   # new layers learn
    return model
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "freeze_and_replace_head_test", "locked": true, "points": 3, "schema_version": 3, "solution": false}
check(freeze_and_replace_head)

# %% [markdown]
# ## Exercise 2 — freeze the first stages, count what learns (2 points)
#
# Fine-tuning does not have to be all or nothing: a common middle way freezes the early layers
# (generic edges and textures) and trains the later ones.
#
# Write `trainable_after_freezing(frozen_stages, num_classes)`: build
# `efficientnet_lite0(num_classes=num_classes)`, freeze `model.features.stem` and the stages
# `stage1` … `stage{frozen_stages}` (none of them when `frozen_stages` is 0), and return the
# number of parameters that still learn (an `int`). Everything else (the later stages, the head
# conv and the classifier) stays trainable.

# %% nbgrader={"grade": false, "grade_id": "trainable_after_freezing", "locked": false, "schema_version": 3, "solution": true}
from cnnlab.models import efficientnet_lite0


def trainable_after_freezing(frozen_stages, num_classes):
    """Parameters that still learn after freezing the stem and stages 1..frozen_stages."""
    ### BEGIN SOLUTION
    model = efficientnet_lite0(num_classes=num_classes)
    frozen = [model.features.stem] + [getattr(model.features, f"stage{i}") for i in range(1, frozen_stages + 1)]
    for part in frozen:
        for p in part.parameters():
            p.requires_grad = False
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "trainable_after_freezing_test", "locked": true, "points": 2, "schema_version": 3, "solution": false}
check(trainable_after_freezing)

# %% [markdown]
# ## Exercise 3 — the fine-tuning optimizer (3 points)
#
# Write `finetune_optimizer(num_classes, lr, backbone_lr_scale)` that builds
# `efficientnet_lite0(num_classes=num_classes)` (its classifier is then the new head) and returns
# a `torch.optim.Adam` over **all** its parameters, in two parameter groups:
#
# - the backbone (every parameter except the classifier's) with learning rate `lr * backbone_lr_scale`;
# - the head (`model.classifier`'s weight and bias) with learning rate `lr`.
#
# Each parameter must be in exactly one group. Recall that an optimizer accepts a list of dicts,
# `[{"params": [...], "lr": ...}, ...]`. The check compares the groups' learning rates and sizes.

# %% nbgrader={"grade": false, "grade_id": "finetune_optimizer", "locked": false, "schema_version": 3, "solution": true}
import torch

from cnnlab.models import efficientnet_lite0


def finetune_optimizer(num_classes, lr, backbone_lr_scale):
    """Adam with the backbone at lr * backbone_lr_scale and the new head at lr."""
    ### BEGIN SOLUTION
    model = efficientnet_lite0(num_classes=num_classes)
    head = list(model.classifier.parameters())
    head_ids = {id(p) for p in head}
    backbone = [p for p in model.parameters() if id(p) not in head_ids]
    return torch.optim.Adam([{"params": backbone, "lr": lr * backbone_lr_scale},
                             {"params": head, "lr": lr}])
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "finetune_optimizer_test", "locked": true, "points": 3, "schema_version": 3, "solution": false}
check(finetune_optimizer)

# %% [markdown]
# ## Going further
#
# - Train the model of exercise 1 on the texture patches of the lesson
#   (`cnnlab.experiments.ch07.texture_task()`), once with frozen stages 1–3 only (exercise 2) and once
#   fully frozen. Which wins with 5 labels per class, and with 100?
# - Print `model.features.stem.bn.running_mean` before and after a few training steps of a model
#   whose backbone you froze with `requires_grad = False` but left in training mode. Why does it
#   change, and how does `cnnlab.transfer.FeatureExtractor` prevent it?
