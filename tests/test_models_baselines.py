"""Lesson 04's non-convolutional baselines: softmax regression and an MLP of LeNet-5's size."""

import torch

from cnnlab.models import lenet5, mlp, softmax_regression


def test_baselines_of_lesson_04(n_params):
    assert n_params(softmax_regression()) == 7_850
    assert n_params(mlp()) == 63_610 >= n_params(lenet5())                 # at least LeNet-5's 61,706
    assert mlp()(torch.randn(2, 1, 28, 28)).shape == softmax_regression()(torch.randn(2, 1, 28, 28)).shape == (2, 10)
