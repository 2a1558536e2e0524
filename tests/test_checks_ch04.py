"""Lesson 04 exercises: the reference passes, stubs are "not implemented", classic mistakes fail with a hint."""

import numpy as np
import pytest
import torch
from torch import nn

from cnnlab.checks import get


# --------------------------------------------------------------------------- LeNet-5

def lenet(num_classes=10, in_channels=1, pad=2, act=nn.Sigmoid, pool=nn.AvgPool2d, hidden=(120, 84)):
    """A LeNet-5 with one classic mistake switched on by the arguments."""
    size = (28 + 2 * pad - 4) // 2
    size = (size - 4) // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5, padding=pad), act(), pool(2),
        nn.Conv2d(6, 16, 5), act(), pool(2), nn.Flatten(),
        nn.Linear(16 * size * size, hidden[0]), act(),
        nn.Linear(hidden[0], hidden[1]), act(),
        nn.Linear(hidden[1], num_classes))


def test_a_correct_lenet_written_differently_passes(assert_passes):
    class Functional(nn.Module):             # pools and activations as functions, layers in a custom order
        def __init__(self, num_classes, in_channels):
            super().__init__()
            self.c1 = nn.Conv2d(in_channels, 6, 5, padding=2)
            self.c2 = nn.Conv2d(6, 16, 5)
            self.f = nn.ModuleList([nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, num_classes)])

        def forward(self, x):
            x = nn.functional.avg_pool2d(torch.sigmoid(self.c1(x)), 2)
            x = nn.functional.avg_pool2d(torch.sigmoid(self.c2(x)), 2).flatten(1)
            x = torch.sigmoid(self.f[0](x))
            return self.f[2](torch.sigmoid(self.f[1](x)))

    assert_passes("lenet_classic", lambda num_classes, in_channels: Functional(num_classes, in_channels))


def test_lenet_reference_has_61706_parameters(n_params):
    net = get("lenet_classic").reference(num_classes=10, in_channels=1)
    assert n_params(net) == 61_706


def test_lenet_without_padding_fails_on_shapes(assert_fails):
    assert_fails("lenet_classic", lambda num_classes, in_channels: lenet(num_classes, in_channels, pad=0),
                 "conv1 without padding")


def test_lenet_with_wrong_parameter_count_fails(assert_fails):
    assert_fails("lenet_classic", lambda num_classes, in_channels: lenet(num_classes, in_channels, hidden=(100, 84)),
                 "layer sizes differ")


@pytest.mark.parametrize("act, pool, label", [(nn.Sigmoid, nn.MaxPool2d, "max pooling instead of average"),
                                             (nn.ReLU, nn.AvgPool2d, "activation not sigmoid"),
                                             (nn.Tanh, nn.AvgPool2d, "activation not sigmoid"),
                                             (nn.ReLU, nn.MaxPool2d, "activation not sigmoid")])
def test_lenet_with_modern_parts_fails_on_values(act, pool, label, assert_fails):
    assert_fails("lenet_classic", lambda num_classes, in_channels: lenet(num_classes, in_channels, act=act, pool=pool),
                 label)


def test_lenet_ignoring_arguments_fails(assert_fails):
    assert_fails("lenet_classic", lambda num_classes, in_channels: lenet())


def test_lenet_returning_a_non_module_fails(assert_fails):
    assert_fails("lenet_classic", lambda num_classes, in_channels: np.zeros(3))


# --------------------------------------------------------------------------- shift_right

def test_shift_with_roll_fails_with_hint(assert_fails):
    assert_fails("shift_right", lambda images, k, fill: np.roll(images, k, axis=2), "pixels wrapped around")


def test_shift_in_the_wrong_direction_fails_with_hint(assert_fails):
    right = get("shift_right").reference
    assert_fails("shift_right", lambda images, k, fill: right(images, -k, fill), "shifted left")


def test_shift_that_ignores_fill_fails(assert_fails):
    right = get("shift_right").reference
    assert_fails("shift_right", lambda images, k, fill: right(images, k, 0.0), "fill ignored")


def test_shift_along_rows_fails(assert_fails):
    right = get("shift_right").reference
    assert_fails("shift_right", lambda images, k, fill: right(images.transpose(0, 2, 1), k, fill).transpose(0, 2, 1)
                 if images.shape[1] == images.shape[2] else np.full_like(images, np.nan))


# --------------------------------------------------------------------------- confusion matrix

def test_transposed_confusion_matrix_fails_with_hint(assert_fails):
    count = get("confusion_matrix").reference
    assert_fails("confusion_matrix", lambda y_true, y_pred, num_classes: count(y_true, y_pred, num_classes).T,
                 "rows and columns swapped")


def test_confusion_matrix_sized_by_the_labels_fails_with_hint(assert_fails):
    def sized_by_data(y_true, y_pred, num_classes):
        k = max(y_true.max(), y_pred.max()) + 1
        return get("confusion_matrix").reference(y_true, y_pred, k)

    assert_fails("confusion_matrix", sized_by_data, "size taken from the labels")


def test_confusion_matrix_of_fractions_fails(assert_fails):
    count = get("confusion_matrix").reference
    assert_fails("confusion_matrix", lambda y_true, y_pred, num_classes: count(y_true, y_pred, num_classes) / len(y_true),
                 "fractions instead of counts")
