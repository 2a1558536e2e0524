"""cnnlab.experiments.ch07 (lesson 07): texture patches, few labels, the learning curves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from cnnlab.experiments import ch07 as ex
from cnnlab.viz import plot_learning_curves


def test_texture_patches_are_standardised_and_split_by_half():
    x, y = ex.texture_patches(3, "train", size=32)
    assert x.shape == (3 * len(ex.TEXTURES), 1, 32, 32) and x.dtype == torch.float32
    assert y.tolist() == [c for c in range(len(ex.TEXTURES)) for _ in range(3)]
    assert torch.allclose(x.mean(dim=(1, 2, 3)), torch.zeros(len(x)), atol=1e-4)
    assert torch.allclose(x.std(dim=(1, 2, 3), unbiased=False), torch.ones(len(x)), atol=1e-3)
    again, _ = ex.texture_patches(3, "train", size=32)
    test, _ = ex.texture_patches(3, "test", size=32)
    assert torch.equal(x, again) and not torch.equal(x, test)
    with pytest.raises(ValueError, match="'train' or 'test'"):
        ex.texture_patches(3, "val")


def test_test_patches_come_from_the_bottom_half_only(monkeypatch):
    # a photo that is flat in its top half and noisy in its bottom half
    image = np.zeros((128, 128), np.float32)
    image[64:] = 100 + np.random.default_rng(0).standard_normal((64, 128))
    monkeypatch.setattr(ex, "_grey_photo", lambda name: image)
    test, _ = ex.texture_patches(20, "test", size=16, names=("fake",))
    train, _ = ex.texture_patches(20, "train", size=16, names=("fake",))
    assert (test.std(dim=(1, 2, 3)) > 0.5).all()            # noise, standardised to std 1
    assert (train.abs().amax(dim=(1, 2, 3)) < 1e-3).all()   # flat zeros stay zeros


def test_few_labels_draws_per_class_without_repeats():
    y = torch.tensor([0, 1, 2] * 10)
    idx = ex.few_labels(y, 4, seed=1)
    assert len(idx) == 12 and len(set(idx.tolist())) == 12
    assert torch.bincount(y[idx]).tolist() == [4, 4, 4]
    assert torch.equal(idx, ex.few_labels(y, 4, seed=1))
    with pytest.raises(ValueError, match="fewer than 11"):
        ex.few_labels(y, 11)


def test_learning_curve_runs_every_method_on_a_tiny_budget():
    x, y = ex.texture_patches(6, "train", size=32, names=("brick", "grass"))
    xt, yt = ex.texture_patches(4, "test", size=32, names=("brick", "grass"))
    tiny = lambda k: nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, k))         # noqa: E731
    pre = lambda: nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # noqa: E731
                                nn.Linear(4, 9))
    task = ex.TransferTask("tiny", x, y, xt, yt, 2, scratch=tiny, pretrained=pre)
    budget = ex.Budget(scratch_steps=2, finetune_steps=2, head_steps=2, batch_size=4)
    results = ex.learning_curve(task, (1, 3), seeds=(0, 1), budget=budget, progress=False)
    assert set(results) == set(ex.METHODS)
    for by_n in results.values():
        assert set(by_n) == {1, 3} and all(len(a) == 2 and all(0 <= v <= 1 for v in a) for a in by_n.values())
    summary = ex.summarize(results)
    assert summary["scratch"][3][0] == pytest.approx(np.mean(results["scratch"][3]))
    fig = plot_learning_curves(results, "tiny")
    assert len(fig.axes[0].lines) > 0
    plt.close(fig)
    with pytest.raises(ValueError, match="unknown methods"):
        ex.learning_curve(task, methods=("magic",))


def test_pretrained_features_are_the_frozen_backbone_outputs():
    # training the head on stored features is the same as training a FeatureExtractor end to end
    x, y = ex.texture_patches(4, "train", size=16, names=("brick", "grass"))
    pre = lambda: nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # noqa: E731
                                nn.Linear(3, 5))
    task = ex.TransferTask("t", x, y, x, y, 2, scratch=None, pretrained=pre)
    torch.manual_seed(0)
    f_pool, f_test = ex.pretrained_features(task)
    torch.manual_seed(0)
    backbone = pre()[:-1]                                     # the same network without its head
    assert f_pool.shape == f_test.shape == (8, 3)
    assert torch.allclose(f_pool, backbone(x), atol=1e-6)
