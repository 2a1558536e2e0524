"""The tuned recipes of ``cnnlab train`` (cnnlab.recipes)."""

import pytest
import torch
from torch import nn

from cnnlab import recipes
from cnnlab.augment import standard_augment
from cnnlab.batches import TensorBatches
from cnnlab.train import FitConfig, evaluate


@pytest.mark.parametrize("name", sorted(recipes.RECIPES))
def test_every_recipe_builds_a_fashion_mnist_classifier_and_trains(name):
    recipe = recipes.RECIPES[name]
    model = recipe.build()
    assert model.eval()(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    x = torch.randn(64, 1, 28, 28)
    y = torch.randint(0, 10, (64,))
    history = recipe.fit(model, TensorBatches(x, y, 32), epochs=1, progress=False)
    assert len(history) == 1 and history.images == 64
    loss, acc = recipe.evaluate(model, TensorBatches(x, y, 32))
    assert loss > 0 and 0 <= acc <= 1


def test_recipe_describe_names_every_setting_that_is_on():
    recipe = recipes.Recipe(lambda: nn.Linear(1, 1), 128,
                            FitConfig(epochs=10, lr=0.1, optimizer="sgd", scheduler="onecycle", weight_decay=5e-4,
                                      augment=standard_augment(2), max_seconds=295, amp=True))
    text = recipe.describe()
    for words in ("SGD with Nesterov momentum", "peak learning rate 0.1", "one-cycle", "batches of 128",
                  "weight decay 0.0005", "random_crop(padding=2) + random_hflip", "at most 10 epochs or 295 s",
                  "bfloat16"):
        assert words in text, (words, text)
    assert "label smoothing" not in text and "channels-last" not in text
    plain = recipes.Recipe(lambda: nn.Linear(1, 1), 64, FitConfig(epochs=3, lr=1e-3, scheduler=None)).describe()
    assert "Adam, peak learning rate 0.001" in plain and "no augmentation" in plain and "3 epochs" in plain
    assert "at most" not in plain and "weight decay" not in plain


def test_a_recipe_with_test_flips_evaluates_with_them(left_half):
    generator = torch.Generator().manual_seed(1)
    x, y = torch.rand(30, 1, 4, 4, generator=generator), torch.randint(0, 2, (30,), generator=generator)
    model = left_half
    flipped = recipes.Recipe(lambda: model, 8, FitConfig(epochs=1, lr=0.1), test_flips=True)
    plain = recipes.Recipe(lambda: model, 8, FitConfig(epochs=1, lr=0.1))
    assert flipped.evaluate(model, TensorBatches(x, y, 8)) == evaluate(model, TensorBatches(x, y, 8), flips=True)
    assert plain.evaluate(model, TensorBatches(x, y, 8)) == evaluate(model, TensorBatches(x, y, 8))
    assert "mirror" in flipped.describe() and "mirror" not in plain.describe()
