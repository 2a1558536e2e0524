"""Lesson 07's experiment: when do pretrained features help, and when do they not?

Learning curves (test accuracy against the number of labels per class) of three methods:
training LeNet-5 from scratch, a linear head on frozen ImageNet features, and fine-tuning
every layer (the recipes of ``cnnlab.transfer``), on two tasks: texture patches of photos
(ImageNet features fit) and Fashion-MNIST (tiny grey clothes on black; they do not).
The figures are ``cnnlab.viz.transfer``'s.

What is computed once and reused: the pretrained network is loaded once per process; the
frozen backbone's features of every image once per task, for all seeds and label counts;
and the linear head trained on them serves both the frozen-features result and, as its
starting point, the fine-tuning of the same labelled examples.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from cnnlab.augment import Augment, standard_augment
from cnnlab.batches import RandomBatches, TensorBatches, class_balanced_indices
from cnnlab.train import FitConfig, evaluate, fit, set_seed
from cnnlab.transfer import (FrozenNormStatistics, GreyToRGB, extract_features, feature_extractor, find_head,
                             finetune_param_groups, replace_head)

# --------------------------------------------------------------------------- data

TEXTURES = ("brick", "grass", "gravel", "moon", "cell", "immunohistochemistry")
"""scikit-image photos used as texture classes: one class per photo."""


def _grey_photo(name: str) -> np.ndarray:
    from cnnlab.data import photo

    return photo(name).astype(np.float32).mean(axis=-1)                 # (H, W)


def texture_patches(per_class: int, part: str = "train", size: int = 64,
                    names: Sequence[str] = TEXTURES, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random grey ``size``×``size`` patches of scikit-image photos, labelled by photo. Lesson 07.

    Training patches come from the top half of each photo and test patches from the bottom
    half, so no test pixel is ever seen in training. Each patch is standardised (mean 0,
    std 1): brightness and contrast tell nothing, only the texture does.

    Args:
        per_class: patches per photo.
        part: "train" (top halves) or "test" (bottom halves).
        size: side of a patch in pixels.
        names: the photos, one class each (``TEXTURES`` by default).
        seed: where the patches are cut.

    Returns:
        (x float32 (N, 1, size, size), y int64 (N,)), ``per_class`` patches of class 0, then of class 1, ...
    """
    if part not in ("train", "test"):
        raise ValueError(f"texture_patches: part must be 'train' or 'test', got {part!r}")
    rng = np.random.default_rng([seed, int(part == "test")])         # train and test cut differently
    patches = []
    for name in names:
        image = _grey_photo(name)
        half = image.shape[0] // 2
        rows = image[:half] if part == "train" else image[half:]
        if min(rows.shape) < size:
            raise ValueError(f"texture_patches: {name} is too small for {size}×{size} patches")
        for _ in range(per_class):
            top = rng.integers(0, rows.shape[0] - size + 1)
            left = rng.integers(0, rows.shape[1] - size + 1)
            patch = rows[top:top + size, left:left + size]
            patches.append((patch - patch.mean()) / (patch.std() + 1e-6))
    x = torch.from_numpy(np.stack(patches))[:, None]                     # (N, 1, size, size)
    y = torch.arange(len(names)).repeat_interleave(per_class)            # (N,)
    return x, y


def few_labels(y: torch.Tensor, per_class: int, seed: int = 0) -> torch.Tensor:
    """Indices (a tensor) of ``per_class`` random examples of every class: a small labelled set. Lesson 07."""
    return torch.from_numpy(class_balanced_indices(y, per_class, seed))


@dataclass
class TransferTask:
    """A small labelled task for the learning curves: a pool to draw labels from, a test set,
    a network to train from scratch and a pretrained one. Lesson 07."""

    name: str
    x_pool: torch.Tensor                       # (N, C, H, W): labels are drawn from here
    y_pool: torch.Tensor                       # (N,)
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    scratch: Callable[[int], nn.Module]        # num_classes -> a fresh, randomly initialised network
    pretrained: Callable[[], nn.Module]        # -> the pretrained network (its original head)
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None


@lru_cache(maxsize=1)
def _imagenet_lite0() -> nn.Module:
    """The ImageNet EfficientNet-Lite0, read from disk once per process; callers get copies."""
    from cnnlab.models import efficientnet_lite0

    return efficientnet_lite0(weights="imagenet")


def _imagenet_on_grey(size: int | None = None) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        return nn.Sequential(GreyToRGB(size), copy.deepcopy(_imagenet_lite0()))
    return make


def texture_task(pool_per_class: int = 100, test_per_class: int = 60, size: int = 64) -> TransferTask:
    """Texture patches of six photos; scratch = LeNet-5 (modern), pretrained = ImageNet EfficientNet-Lite0. Lesson 07."""
    from cnnlab.models import lenet5

    x_pool, y_pool = texture_patches(pool_per_class, "train", size)
    x_test, y_test = texture_patches(test_per_class, "test", size)
    return TransferTask("textures", x_pool, y_pool, x_test, y_test, len(TEXTURES),
                        scratch=lambda k: lenet5(k, "modern", in_channels=1, image_size=size),
                        pretrained=_imagenet_on_grey(), augment=standard_augment(padding=4))


def fashion_task(pool_per_class: int = 100, test_per_class: int = 100, source: str = "auto",
                 size: int = 64) -> TransferTask:
    """Fashion-MNIST; scratch = LeNet-5 (modern), pretrained = ImageNet EfficientNet-Lite0 on images resized to ``size``. Lesson 07."""
    from cnnlab.data import load_fashion_mnist, to_tensors
    from cnnlab.models import lenet5

    def first_per_class(split: str, per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = load_fashion_mnist(split, source)
        keep = class_balanced_indices(labels, per_class)
        return to_tensors(images[keep], labels[keep])

    x_pool, y_pool = first_per_class("train", pool_per_class)
    x_test, y_test = first_per_class("test", test_per_class)
    return TransferTask("fashion_mnist", x_pool, y_pool, x_test, y_test, 10,
                        scratch=lambda k: lenet5(k, "modern"),
                        pretrained=_imagenet_on_grey(size), augment=standard_augment(padding=2))


# --------------------------------------------------------------------------- methods

METHODS = ("scratch", "features", "finetune")


@dataclass(frozen=True)
class Budget:
    """How long each method trains. Steps, not epochs: the same work whether there are 5
    labels per class or 100. Fine-tuning starts from the linear head (``head_steps`` on the
    stored features), so its steps all go into adjusting the backbone. Lesson 07."""

    scratch_steps: int = 300
    finetune_steps: int = 10
    head_steps: int = 300
    batch_size: int = 32
    lr: float = 1e-3
    backbone_lr_scale: float = 0.1


def train_steps(model: nn.Module, params, x: torch.Tensor, y: torch.Tensor, steps: int,
                batch_size: int = 32, augment: Augment | None = None,
                device: torch.device | None = None) -> nn.Module:
    """Adam for ``steps`` steps on random mini-batches of (x, y), with ``cnnlab.train.fit``. Lesson 07.

    Args:
        model: the network (moved to ``device``).
        params: what Adam updates: groups with their own ``lr`` (e.g. ``finetune_param_groups``).
        x: inputs (N, ...), y: labels (N,).
        steps: number of updates.
        batch_size: examples per step (all of them when there are fewer).
        augment: applied to each batch of images.

    Returns:
        ``model``, trained, in eval mode.
    """
    fit(model, RandomBatches(x, y, batch_size, steps), config=FitConfig(epochs=1, augment=augment),
        params=params, device=device, progress=False)
    return model.eval()


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> float:
    """Share of correct predictions of ``model`` on (x, y). Lesson 07."""
    return evaluate(model, TensorBatches(x, y, batch_size))[1]


def run_scratch(task: TransferTask, idx: torch.Tensor, budget: Budget) -> float:
    """Train ``task.scratch`` on the labelled examples ``idx``; test accuracy. Lesson 07."""
    model = task.scratch(task.num_classes)
    train_steps(model, [{"params": model.parameters(), "lr": budget.lr}], task.x_pool[idx], task.y_pool[idx],
                budget.scratch_steps, budget.batch_size, task.augment)
    return accuracy(model, task.x_test, task.y_test)


def pretrained_features(task: TransferTask) -> tuple[torch.Tensor, torch.Tensor]:
    """The frozen pretrained backbone's features (N, D) of the whole pool and of the test set, computed once. Lesson 07."""
    backbone = feature_extractor(task.pretrained(), task.num_classes).backbone
    return extract_features(backbone, task.x_pool), extract_features(backbone, task.x_test)


def train_head(task: TransferTask, idx: torch.Tensor, budget: Budget,
               features: tuple[torch.Tensor, torch.Tensor]) -> nn.Linear:
    """A new linear head trained on the frozen features of the labelled examples ``idx``. Lesson 07.

    The head learns from stored features (``pretrained_features``): the backbone is frozen, so
    running it again for every step would give the same numbers, only slower.
    """
    f_pool, _ = features
    head = nn.Linear(f_pool.shape[1], task.num_classes)
    train_steps(head, [{"params": head.parameters(), "lr": budget.lr}], f_pool[idx], task.y_pool[idx],
                budget.head_steps, batch_size=len(idx))
    return head


def run_features(task: TransferTask, idx: torch.Tensor, budget: Budget,
                 features: tuple[torch.Tensor, torch.Tensor], head: nn.Linear | None = None) -> float:
    """Frozen pretrained backbone + a new linear head trained on the labelled examples ``idx``. Lesson 07.

    Args:
        head: the head ``train_head`` trained for these examples, when it exists already.

    Returns:
        The test accuracy.
    """
    head = head if head is not None else train_head(task, idx, budget, features)
    return accuracy(head, features[1], task.y_test)


def run_finetune(task: TransferTask, idx: torch.Tensor, budget: Budget, head: nn.Linear | None = None) -> float:
    """Pretrained network, every layer trained (backbone at a tenth of the rate). Lesson 07.

    With few labels two things keep fine-tuning from undoing what pretraining learned: it
    starts from ``head``, the linear head already trained on the frozen features of the same
    examples (a random head would send large, random gradients into the backbone for the
    first steps), and batch norm keeps its pretrained statistics (``FrozenNormStatistics``).

    Args:
        head: the starting head (``train_head``); None starts from a random one.

    Returns:
        The test accuracy.
    """
    model = replace_head(task.pretrained(), task.num_classes)
    if head is not None:
        find_head(model)[2].load_state_dict(head.state_dict())
    model = FrozenNormStatistics(model)
    groups = finetune_param_groups(model, budget.lr, budget.backbone_lr_scale)
    train_steps(model, groups, task.x_pool[idx], task.y_pool[idx], budget.finetune_steps, budget.batch_size,
                task.augment)
    return accuracy(model, task.x_test, task.y_test)


def learning_curve(task: TransferTask, labels_per_class: Sequence[int] = (5, 20, 100),
                   seeds: Sequence[int] = (0, 1, 2), methods: Sequence[str] = METHODS,
                   budget: Budget = Budget(), progress: bool = True) -> dict[str, dict[int, list[float]]]:
    """Test accuracy of each method for each number of labels per class and each seed. Lesson 07.

    For a given seed and label count, every method sees the same labelled examples, and one
    linear head trained on their frozen features serves both "features" and "finetune".

    Returns:
        {method: {labels per class: [accuracy for each seed]}}.
    """
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"learning_curve: unknown methods {sorted(unknown)}; choose from {METHODS}")
    from tqdm.auto import tqdm

    pretrained = {"features", "finetune"} & set(methods)
    features = pretrained_features(task) if pretrained else None
    results = {m: {n: [] for n in labels_per_class} for m in methods}
    bar = tqdm(total=len(labels_per_class) * len(seeds) * len(methods), desc=task.name, disable=not progress)
    for n in labels_per_class:
        for seed in seeds:
            idx = few_labels(task.y_pool, n, seed)
            set_seed(seed)
            head = train_head(task, idx, budget, features) if pretrained else None
            for method in methods:
                set_seed(seed)
                if method == "scratch":
                    acc = run_scratch(task, idx, budget)
                elif method == "features":
                    acc = run_features(task, idx, budget, features, head)
                else:
                    acc = run_finetune(task, idx, budget, head)
                results[method][n].append(acc)
                bar.update(1)
    bar.close()
    return results


def summarize(results: dict[str, dict[int, list[float]]]) -> dict[str, dict[int, tuple[float, float]]]:
    """{method: {labels per class: (mean, std over seeds)}} of a ``learning_curve``. Lesson 07."""
    return {m: {n: (float(np.mean(a)), float(np.std(a))) for n, a in by_n.items()} for m, by_n in results.items()}


LABELS = {"scratch": "from scratch (LeNet-5)", "features": "frozen features + linear head",
          "finetune": "fine-tuned (all layers)"}
