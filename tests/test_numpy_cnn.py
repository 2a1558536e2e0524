"""The NumPy CNN: whole-network gradient check, the optimiser against torch, short training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnlab.gradcheck import numerical_gradient, rel_error
from cnnlab.numpy_cnn import NumpyCNN, train_numpy_cnn


def small_net():
    return NumpyCNN(input_shape=(2, 6, 8), num_filters=3, kernel_size=3, num_classes=4, seed=1,
                    dtype=np.float64)


def test_shapes_of_parameters_and_scores():
    net = NumpyCNN()
    assert {k: v.shape for k, v in net.params.items()} == {
        "w1": (8, 1, 3, 3), "b1": (8,), "w2": (10, 8 * 14 * 14), "b2": (10,)}
    assert all(v.dtype == np.float32 for v in net.params.values())
    scores, _ = net.forward(np.zeros((5, 1, 28, 28), np.float32))
    assert scores.shape == (5, 10)


def test_whole_network_gradient_check():
    net = small_net()
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((3, 2, 6, 8)), np.array([0, 3, 1])
    loss, grads = net.loss(x, y)
    assert set(grads) == set(net.params)
    for name, param in net.params.items():
        before = param.copy()
        numeric = numerical_gradient(lambda _: np.array(net.loss(x, y)[0]), param, 1.0)
        np.testing.assert_array_equal(param, before)              # restored after nudging
        assert grads[name].shape == param.shape
        assert rel_error(grads[name], numeric) < 1e-7, name
    assert net.loss(x, y)[0] == loss                              # nothing changed the network


def test_untrained_loss_is_near_log_of_the_number_of_classes():
    net = NumpyCNN(seed=3, dtype=np.float64)
    x = np.random.default_rng(3).standard_normal((64, 1, 28, 28))
    loss, _ = net.loss(x, np.arange(64) % 10)
    assert abs(loss - np.log(10)) < 0.1


def test_train_step_is_sgd_with_momentum_like_torch():
    net = small_net()
    rng = np.random.default_rng(4)
    batches = [(rng.standard_normal((3, 2, 6, 8)), rng.integers(0, 4, 3)) for _ in range(3)]
    reference = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    optimizer = torch.optim.SGD(reference.values(), lr=0.1, momentum=0.9)
    for x, y in batches:
        _, grads = net.loss(x, y)                                # gradients at the current weights
        for name, tensor in reference.items():
            tensor.grad = torch.tensor(grads[name])
        optimizer.step()
        net.train_step(x, y, lr=0.1, momentum=0.9)
    for name, tensor in reference.items():
        assert rel_error(net.params[name], tensor.detach().numpy()) < 1e-12, name


def test_short_training_beats_chance_clearly():
    net, history = train_numpy_cnn(epochs=1, limit=1000, seed=0)
    assert history["test_accuracy"][-1] > 0.5                    # chance is 0.1 on 10 balanced classes
    assert np.mean(history["loss"][-5:]) < history["loss"][0]
    predictions = net.predict(np.zeros((3, 1, 28, 28), np.float32))
    assert predictions.shape == (3,) and predictions.dtype.kind == "i"


def test_bad_arguments():
    with pytest.raises(ValueError, match="NumpyCNN: kernel_size must be odd"):
        NumpyCNN(kernel_size=4)
    with pytest.raises(ValueError, match="NumpyCNN: num_filters must be a positive int, got 0"):
        NumpyCNN(num_filters=0)
    with pytest.raises(ValueError, match="conv2d_forward: x has 3 channels but w expects 1"):
        NumpyCNN().loss(np.zeros((2, 3, 28, 28)), np.zeros(2, dtype=int))
