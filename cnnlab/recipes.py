"""The tuned recipes of the course's Fashion-MNIST models, and training one by name. Lessons 04-06.

A ``Recipe`` is a network builder, a batch size and a ``FitConfig``: the settings
``bench/bench_models.py`` tuned on two CPU cores. ``RECIPES`` names them ("lenet5",
"small-vgg", "small-resnet", ...); ``train_recipe`` trains one on Fashion-MNIST, which is what
``cnnlab train MODEL`` runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from torch import nn

from cnnlab.augment import random_hflip
from cnnlab.batches import fashion_mnist_batches
from cnnlab.train import Batches, FitConfig, History, evaluate, fit, set_seed


@dataclass(frozen=True)
class Recipe:
    """How to train one of the course's Fashion-MNIST models: the settings ``bench/bench_models.py``
    tuned on two CPU cores, used by ``cnnlab train`` too. Lessons 04-06.

    Attributes:
        build: makes a fresh network.
        batch_size: images per training batch.
        config: how ``fit`` trains it (``FitConfig``).
        test_flips: test on each image and its mirror (for recipes that train with flips).
    """

    build: Callable[[], nn.Module]
    batch_size: int
    config: FitConfig
    test_flips: bool = False

    def fit(self, model: nn.Module, train: Batches, val: Batches | None = None, **overrides) -> History:
        """``fit`` with this recipe's config; keyword arguments of ``fit`` (config fields or run options) override it."""
        return fit(model, train, val, self.config, **overrides)

    def evaluate(self, model: nn.Module, loader: Batches) -> tuple[float, float]:
        """``evaluate`` with this recipe's precision, memory layout and test-time flips."""
        return evaluate(model, loader, amp=self.config.amp, channels_last=self.config.channels_last,
                        flips=self.test_flips)

    def describe(self) -> str:
        """The settings in words, e.g. for a lesson to print next to its results."""
        c = self.config
        optimizers = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD with Nesterov momentum 0.9"}
        schedules = {None: "a constant learning rate", "plateau": "a learning rate cut when progress stalls",
                     "cosine": "a cosine schedule", "onecycle": "a one-cycle schedule (warm up, then anneal)"}
        parts = [f"{optimizers.get(c.optimizer, c.optimizer)}, peak learning rate {c.lr:g}",
                 schedules.get(c.scheduler, str(c.scheduler)), f"batches of {self.batch_size}"]
        if c.weight_decay:
            parts.append(f"weight decay {c.weight_decay:g}")
        if c.label_smoothing:
            parts.append(f"label smoothing {c.label_smoothing:g}")
        parts.append("augmentation: " + getattr(c.augment, "__name__", "yes") if c.augment else
                     "no augmentation")
        length = f"{c.epochs} epochs"
        if c.max_seconds is not None:
            length = f"at most {length} or {c.max_seconds:g} s of training, whichever comes first"
        parts.append(length)
        if c.amp:
            parts.append("bfloat16 mixed precision")
        if c.channels_last:
            parts.append("channels-last memory layout")
        if self.test_flips:
            parts.append("tested on each image and its mirror image (probabilities averaged)")
        return "; ".join(parts)


def _recipes() -> dict[str, Recipe]:
    from cnnlab.models import lenet5, small_resnet, small_vgg

    # Tuned on a 55,000/5,000 split of the training set, timed on two idle CPU cores (bench/).
    # The time budgets are what the schedule anneals to; the epoch counts are caps that only a
    # faster machine reaches.
    return {
        "lenet5": Recipe(partial(lenet5, variant="modern"), 128,
                         FitConfig(epochs=10, lr=3e-3, scheduler="onecycle", max_seconds=29)),
        "lenet5-classic": Recipe(partial(lenet5, variant="classic"), 128,
                                 FitConfig(epochs=10, lr=3e-3, scheduler="onecycle", max_seconds=60)),
        "small-vgg": Recipe(small_vgg, 128,
                            FitConfig(epochs=8, lr=0.05, optimizer="sgd", weight_decay=5e-4, scheduler="onecycle",
                                      max_seconds=147, amp=True, channels_last=True)),
        "small-resnet": Recipe(partial(small_resnet, stages=(1, 1, 1)), 128,
                               FitConfig(epochs=10, lr=0.1, optimizer="sgd", weight_decay=5e-4, scheduler="onecycle",
                                         augment=random_hflip, max_seconds=295, amp=True, channels_last=True),
                               test_flips=True),
    }


RECIPES = _recipes()


def train_recipe(name: str, source: str = "auto", epochs: int | None = None, batch_size: int | None = None,
                 lr: float | None = None, max_seconds: float | None = None, seed: int = 0,
                 val_size: int = 0, limit: int | None = None, progress: bool = True) -> tuple[nn.Module, History, float]:
    """Train a named model of ``RECIPES`` on Fashion-MNIST; any argument given overrides the recipe. Lessons 04-06.

    Returns:
        (model, history, test accuracy).
    """
    if name not in RECIPES:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(RECIPES)}")
    recipe = RECIPES[name]
    set_seed(seed)
    train, val, test = fashion_mnist_batches(source, batch_size or recipe.batch_size, val_size, limit, seed)
    model = recipe.build()
    overrides = {key: value for key, value in dict(epochs=epochs, lr=lr, max_seconds=max_seconds).items()
                 if value is not None}
    history = recipe.fit(model, train, val, progress=progress, **overrides)
    _, test_acc = recipe.evaluate(model, test)
    return model, history, test_acc
