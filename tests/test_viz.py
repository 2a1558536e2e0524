"""Figures of lessons 04 and 09 draw what they are given (counted artists, not pixels)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import Rectangle

from cnnlab import data, viz
from cnnlab.experiments.ch04 import SizeRun


@pytest.fixture(scope="module")
def scenes():
    return data.make_scenes(5, "test", "sample", seed=2)


def rectangles(fig) -> int:
    return sum(isinstance(p, Rectangle) for ax in fig.axes for p in ax.patches)


def test_scenes_show_one_box_per_item(scenes):
    fig = viz.show_scenes(scenes, data.FASHION_MNIST_CLASSES, n=4)
    assert rectangles(fig) == sum(len(b) for b in scenes.boxes[:4])
    plt.close(fig)


def test_detections_below_the_score_are_not_drawn(scenes):
    found = [(b, np.array([0.9] + [0.1] * (len(b) - 1)), lab) for b, lab in zip(scenes.boxes, scenes.labels)]
    fig = viz.show_detections(scenes.images, found, scenes.boxes, scenes.labels, data.FASHION_MNIST_CLASSES, n=3)
    assert rectangles(fig) == sum(len(b) for b in scenes.boxes[:3]) + 3        # true boxes + one confident each
    plt.close(fig)


def test_segmentation_counts_wrong_pixels(scenes):
    predicted = scenes.masks.copy()
    predicted[0, :8, :8] = 3 if predicted[0, 0, 0] != 3 else 4                  # 64 pixels wrong
    fig = viz.show_segmentation(scenes.images, scenes.masks, predicted, data.SCENE_CLASSES, n=2)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert f"{64 / 64 ** 2:.1%} of pixels wrong" in texts and "0.0% of pixels wrong" in texts
    plt.close(fig)


def test_bias_variance_plot_has_a_train_and_a_test_line_per_model():
    runs = [SizeRun(m, n, 10, 3, 0.9, 0.8, 1.0) for m in ("a", "b") for n in (100, 1000)]
    fig = viz.plot_bias_variance(runs)
    assert len(fig.axes[0].lines) == 4
    plt.close(fig)


def test_shift_curves_and_class_iou():
    fig = viz.plot_shift_curves([-1, 0, 1], {"time": [0.9, 1.0, 0.9], "frequency": [0.2, 1.0, 0.3]}, "shift",
                                chance=0.1)
    assert len(fig.axes[0].lines) == 3
    plt.close(fig)
    fig = viz.plot_class_iou(np.array([0.9, np.nan, 0.5]), ["a", "b", "c"])
    assert "mean IoU 0.700" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    plt.close(fig)
