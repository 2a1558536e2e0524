"""Transfer learning: start from a network trained on a big data set, adapt it to a small one. Lesson 07.

Two recipes, both starting from pretrained weights:

- **Feature extractor**: freeze every pretrained layer and train only a new head
  (``feature_extractor``). Cheap, and safe with very few labels: the head is a linear
  model on top of fixed features.
- **Fine-tuning**: train all layers, the pretrained ones with a smaller learning rate
  than the new head (``finetune_param_groups``), so that what they learned is adjusted,
  not wiped out.

The second half of the module is the lesson's experiment: learning curves (accuracy against
the number of labels per class) of training from scratch, feature extraction and
fine-tuning, on two tasks: texture patches (photos; ImageNet features fit) and
Fashion-MNIST (tiny grey clothes on black; they do not).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cnnlab.experiments import parameter_count
from cnnlab.train import TensorBatches, evaluate, pick_device, set_seed, train_step

__all__ = [
    "freeze", "unfreeze", "count_trainable", "find_head", "replace_head", "FeatureExtractor",
    "feature_extractor", "finetune_param_groups", "extract_features",
    "TEXTURES", "texture_patches", "few_labels", "GreyToRGB", "TransferTask", "texture_task", "fashion_task",
    "METHODS", "Budget", "train_steps", "accuracy", "run_scratch", "pretrained_features", "run_features",
    "run_finetune", "learning_curve", "summarize", "plot_learning_curves", "plot_patches",
]


# --------------------------------------------------------------------------- the recipes

def freeze(module: nn.Module) -> nn.Module:
    """Stop gradient updates of every parameter in ``module`` (in place; returns it). Lesson 07."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def unfreeze(module: nn.Module) -> nn.Module:
    """Let every parameter of ``module`` learn again (in place; returns it). Lesson 07."""
    for p in module.parameters():
        p.requires_grad_(True)
    return module


def count_trainable(model: nn.Module) -> int:
    """Number of parameters an optimizer would update (``requires_grad``): 0 once frozen. Lesson 07."""
    return parameter_count(model)


def find_head(model: nn.Module) -> tuple[nn.Module, str, nn.Linear]:
    """The classifier: the last ``nn.Linear`` of ``model``, with its parent and attribute name.

    Works for every network of ``cnnlab.models`` (``classifier`` of EfficientNet, ``fc`` of
    ResNet, the last layer of LeNet's ``nn.Sequential``).

    Returns:
        (parent module, attribute name in the parent, the linear layer).
    """
    heads = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not heads:
        raise ValueError(f"find_head: {type(model).__name__} has no nn.Linear layer to replace")
    parent_name, _, attribute = heads[-1].rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    return parent, attribute, getattr(parent, attribute)


def replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    """Swap the classifier for a fresh ``nn.Linear`` with ``num_classes`` outputs (in place). Lesson 07.

    The new layer keeps the old input width (1280 for EfficientNet-Lite0) and is trainable
    even when the rest of the model is frozen.
    """
    if num_classes < 1:
        raise ValueError(f"replace_head: num_classes must be at least 1, got {num_classes}")
    parent, attribute, old = find_head(model)
    new = nn.Linear(old.in_features, num_classes).to(old.weight.device)
    setattr(parent, attribute, new)
    return model


class FeatureExtractor(nn.Module):
    """A frozen backbone and a trainable head: ``head(backbone(x))``. Lesson 07.

    The backbone stays in eval mode even when the whole model is put in training mode, so
    its batch-norm statistics and dropout stay as they were pretrained: frozen means frozen.
    """

    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone = freeze(backbone).eval()
        self.head = head

    def train(self, mode: bool = True) -> "FeatureExtractor":
        super().train(mode)
        self.backbone.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.backbone(x)                     # (N, D); no parameter here wants a gradient
        return self.head(features)                      # (N, num_classes)


def feature_extractor(model: nn.Module, num_classes: int) -> FeatureExtractor:
    """Pretrained ``model`` as a frozen backbone plus a new linear head. Lesson 07.

    The model is copied, its classifier replaced by ``nn.Identity`` (so the backbone returns
    the features the classifier used to read, e.g. (N, 1280) for EfficientNet-Lite0) and
    frozen; only the new ``nn.Linear(D, num_classes)`` learns.
    """
    backbone = copy.deepcopy(model)
    parent, attribute, old = find_head(backbone)
    setattr(parent, attribute, nn.Identity())
    return FeatureExtractor(backbone, nn.Linear(old.in_features, num_classes).to(old.weight.device))


def finetune_param_groups(model: nn.Module, lr: float, backbone_lr_scale: float = 0.1) -> list[dict]:
    """Optimizer parameter groups for fine-tuning: the head at ``lr``, the rest at ``lr * scale``. Lesson 07.

    Pass the result to any optimizer: ``torch.optim.Adam(finetune_param_groups(model, 1e-3))``.
    Every parameter of the model is in exactly one group (frozen ones included: unfreeze first).

    Returns:
        [{"params": backbone parameters, "lr": lr * backbone_lr_scale},
         {"params": head parameters, "lr": lr}]
    """
    if lr <= 0 or backbone_lr_scale < 0:
        raise ValueError(f"finetune_param_groups: need lr > 0 and backbone_lr_scale >= 0, "
                         f"got lr={lr}, backbone_lr_scale={backbone_lr_scale}")
    head_ids = {id(p) for p in find_head(model)[2].parameters()}
    backbone = [p for p in model.parameters() if id(p) not in head_ids]
    head = [p for p in model.parameters() if id(p) in head_ids]
    return [{"params": backbone, "lr": lr * backbone_lr_scale}, {"params": head, "lr": lr}]


@torch.no_grad()
def extract_features(backbone: nn.Module, x: torch.Tensor, batch_size: int = 64,
                     device: torch.device | str | None = None) -> torch.Tensor:
    """Run a frozen backbone once over all images and keep its outputs. Lesson 07.

    Training a head on stored features gives the same result as training a
    ``FeatureExtractor`` (the backbone never changes), at the cost of one forward pass.

    Args:
        backbone: maps images (N, C, H, W) to features (N, D), e.g. ``feature_extractor(...).backbone``.
        x: images (N, C, H, W).
        batch_size: images per forward pass.

    Returns:
        Features (N, D) on the CPU.
    """
    device = pick_device() if device is None else torch.device(device)
    was_training = backbone.training
    backbone.eval().to(device)
    out = [backbone(x[i:i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
    backbone.train(was_training)
    return torch.cat(out)


# --------------------------------------------------------------------------- the lesson's experiment: data

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
    """Indices of ``per_class`` random examples of every class: a small labelled set. Lesson 07."""
    g = torch.Generator().manual_seed(seed)
    picks = []
    for c in torch.unique(y):
        members = torch.nonzero(y == c).flatten()
        if len(members) < per_class:
            raise ValueError(f"few_labels: class {int(c)} has {len(members)} examples, fewer than {per_class}")
        picks.append(members[torch.randperm(len(members), generator=g)[:per_class]])
    return torch.cat(picks)


class GreyToRGB(nn.Module):
    """Feed standardised grey images to a network pretrained on colour photos. Lesson 07.

    Repeats the one channel three times and scales it by 0.5: the ImageNet weights of
    ``efficientnet_lite0`` expect (pixel − 127) / 128, and a standardised image (std 1)
    stands for a photo whose grey levels spread by about 64, i.e. 64 / 128 = 0.5.
    Optionally resizes first (28×28 Fashion-MNIST is tiny for a network built for 224×224).
    """

    def __init__(self, size: int | None = None, scale: float = 0.5):
        super().__init__()
        self.size, self.scale = size, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.size is not None and x.shape[-1] != self.size:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)  # (N, 1, S, S)
        return (x * self.scale).expand(-1, 3, -1, -1)                                # (N, 3, S, S)


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


def _imagenet_on_grey(size: int | None = None) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        from cnnlab.models import efficientnet_lite0

        return nn.Sequential(GreyToRGB(size), efficientnet_lite0(weights="imagenet"))
    return make


def texture_task(pool_per_class: int = 100, test_per_class: int = 60, size: int = 64) -> TransferTask:
    """Texture patches of six photos; scratch = LeNet-5 (modern), pretrained = ImageNet EfficientNet-Lite0. Lesson 07."""
    from cnnlab.models import lenet5
    from cnnlab.train import standard_augment

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
    from cnnlab.train import standard_augment

    def first_per_class(split: str, per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = load_fashion_mnist(split, source)
        keep = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(10)])
        return to_tensors(images[keep], labels[keep])

    x_pool, y_pool = first_per_class("train", pool_per_class)
    x_test, y_test = first_per_class("test", test_per_class)
    return TransferTask("fashion_mnist", x_pool, y_pool, x_test, y_test, 10,
                        scratch=lambda k: lenet5(k, "modern"),
                        pretrained=_imagenet_on_grey(size), augment=standard_augment(padding=2))


# --------------------------------------------------------------------------- the lesson's experiment: methods

METHODS = ("scratch", "features", "finetune")


@dataclass(frozen=True)
class Budget:
    """How long each method trains. Steps, not epochs: the same work whether there are 5
    labels per class or 100. Lesson 07."""

    scratch_steps: int = 300
    finetune_steps: int = 40
    head_steps: int = 300
    batch_size: int = 32
    lr: float = 1e-3
    backbone_lr_scale: float = 0.1


def train_steps(model: nn.Module, params, x: torch.Tensor, y: torch.Tensor, steps: int,
                batch_size: int = 32, augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
                device: torch.device | None = None) -> nn.Module:
    """Adam for ``steps`` steps on random mini-batches of (x, y). Lesson 07.

    Args:
        model: the network (moved to ``device``).
        params: what Adam updates: parameters, or groups with their own ``lr``
            (e.g. ``finetune_param_groups``).
        x: inputs (N, ...), y: labels (N,).
        steps: number of updates.
        batch_size: examples per step (all of them when there are fewer).
        augment: applied to each batch of images.
    """
    device = device or pick_device()
    model.to(device).train()
    opt = torch.optim.Adam(params)
    for _ in range(steps):
        idx = torch.randint(len(x), (min(batch_size, len(x)),))
        xb = x[idx] if augment is None else augment(x[idx])
        train_step(model, opt, xb.to(device), y[idx].to(device))
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


def run_features(task: TransferTask, idx: torch.Tensor, budget: Budget,
                 features: tuple[torch.Tensor, torch.Tensor]) -> float:
    """Frozen pretrained backbone + a new linear head trained on the labelled examples ``idx``. Lesson 07.

    The head learns from stored features (``pretrained_features``): the backbone is frozen, so
    running it again for every step would give the same numbers, only slower.
    """
    f_pool, f_test = features
    head = nn.Linear(f_pool.shape[1], task.num_classes)
    train_steps(head, [{"params": head.parameters(), "lr": budget.lr}], f_pool[idx], task.y_pool[idx],
                budget.head_steps, batch_size=len(idx))
    return accuracy(head, f_test, task.y_test)


def run_finetune(task: TransferTask, idx: torch.Tensor, budget: Budget) -> float:
    """Pretrained network, new head, every layer trained (backbone at a tenth of the rate). Lesson 07."""
    model = replace_head(task.pretrained(), task.num_classes)
    groups = finetune_param_groups(model, budget.lr, budget.backbone_lr_scale)
    train_steps(model, groups, task.x_pool[idx], task.y_pool[idx], budget.finetune_steps, budget.batch_size,
                task.augment)
    return accuracy(model, task.x_test, task.y_test)


def learning_curve(task: TransferTask, labels_per_class: Sequence[int] = (5, 20, 100),
                   seeds: Sequence[int] = (0, 1, 2), methods: Sequence[str] = METHODS,
                   budget: Budget = Budget(), progress: bool = True) -> dict[str, dict[int, list[float]]]:
    """Test accuracy of each method for each number of labels per class and each seed. Lesson 07.

    For a given seed and label count, every method sees the same labelled examples.

    Returns:
        {method: {labels per class: [accuracy for each seed]}}.
    """
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"learning_curve: unknown methods {sorted(unknown)}; choose from {METHODS}")
    from tqdm.auto import tqdm

    features = pretrained_features(task) if "features" in methods else None
    results = {m: {n: [] for n in labels_per_class} for m in methods}
    runs = [(n, seed, m) for n in labels_per_class for seed in seeds for m in methods]
    for n, seed, method in tqdm(runs, desc=task.name, disable=not progress):
        idx = few_labels(task.y_pool, n, seed)
        set_seed(seed)
        if method == "scratch":
            acc = run_scratch(task, idx, budget)
        elif method == "features":
            acc = run_features(task, idx, budget, features)
        else:
            acc = run_finetune(task, idx, budget)
        results[method][n].append(acc)
    return results


def summarize(results: dict[str, dict[int, list[float]]]) -> dict[str, dict[int, tuple[float, float]]]:
    """{method: {labels per class: (mean, std over seeds)}} of a ``learning_curve``. Lesson 07."""
    return {m: {n: (float(np.mean(a)), float(np.std(a))) for n, a in by_n.items()} for m, by_n in results.items()}


LABELS = {"scratch": "from scratch (LeNet-5)", "features": "frozen features + linear head",
          "finetune": "fine-tuned (all layers)"}


def plot_learning_curves(results: dict[str, dict[int, list[float]]], title: str = "", ax=None):
    """Accuracy against labels per class, mean ± std over seeds, one line per method. Lesson 07."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.8))
    for method, by_n in summarize(results).items():
        ns = sorted(by_n)
        means = [100 * by_n[n][0] for n in ns]
        stds = [100 * by_n[n][1] for n in ns]
        ax.errorbar(ns, means, yerr=stds, marker="o", capsize=4, label=LABELS.get(method, method))
    ax.set(xscale="log", xlabel="labelled examples per class", ylabel="test accuracy (%)", title=title)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.minorticks_off()
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax.figure


def plot_patches(x: torch.Tensor, y: torch.Tensor, class_names: Sequence[str], per_class: int = 4):
    """A few examples of every class, one column per class. Lesson 07.

    Args:
        x: grey images (N, 1, H, W).
        y: labels (N,).
        class_names: name of each label.
        per_class: rows of the grid.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(per_class, len(class_names), figsize=(1.4 * len(class_names), 1.4 * per_class + 0.3),
                             squeeze=False)
    for c, name in enumerate(class_names):
        members = torch.nonzero(y == c).flatten()[:per_class]
        for row, i in enumerate(members):
            axes[row, c].imshow(x[i, 0].cpu().numpy(), cmap="gray")
        axes[0, c].set_title(name, fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig
