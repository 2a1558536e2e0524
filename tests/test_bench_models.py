"""bench/bench_models.py: the model benchmark records what it measured, against each target."""

import importlib.util
import json
from functools import partial
from pathlib import Path

import pytest
import torch

from cnnlab import recipes
from cnnlab.augment import random_hflip
from cnnlab.batches import fashion_mnist_batches
from cnnlab.train import FitConfig
from cnnlab.models import small_resnet

SCRIPT = Path(__file__).parents[1] / "bench" / "bench_models.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_models", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_network_names_the_call_that_builds_it(bench):
    assert bench.network(partial(small_resnet, stages=(1, 1, 1))) == "small_resnet(stages=(1, 1, 1))"
    assert bench.network(small_resnet) == "small_resnet()"


def test_every_target_has_a_recipe(bench):
    assert set(bench.TARGETS) <= set(recipes.RECIPES)


def test_a_run_writes_accuracy_seconds_and_speed(bench, monkeypatch, tmp_path, capsys):
    tiny = recipes.Recipe(partial(torch.nn.Sequential, torch.nn.Flatten(), torch.nn.Linear(784, 10)), 100,
                          FitConfig(epochs=1, lr=1e-3, scheduler="onecycle", augment=random_hflip, max_seconds=5),
                          test_flips=True)
    monkeypatch.setitem(bench.RECIPES, "lenet5", tiny)
    monkeypatch.setattr(bench, "fashion_mnist_batches",
                        lambda source, batch_size, val_size, seed: fashion_mnist_batches(
                            "sample", batch_size, val_size, limit=1000, seed=seed))
    out = tmp_path / "models.json"
    threads = torch.get_num_threads()
    try:
        assert bench.main(["--only", "lenet5", "--threads", "1", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    row = json.loads(out.read_text())["results"]["lenet5"]
    assert row["parameters"] == 7850 and row["recipe"]["test_flips"] is True
    assert 0.1 < row["test_accuracy"] <= 1 and 0.1 < row["test_accuracy_single_view"] <= 1
    assert 0 <= row["train_seconds"] <= 6 and row["train_images_per_second"] > 0
    assert row["met"] == (row["test_accuracy"] >= 0.905 and row["train_seconds"] <= 30)
    assert "mirror" in row["recipe"]["in_words"]
    assert "lenet5" in capsys.readouterr().out


def test_unknown_models_are_refused(bench):
    with pytest.raises(SystemExit):
        bench.main(["--only", "alexnet"])
