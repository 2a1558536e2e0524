"""A small CNN in pure NumPy, built only from ``cnnlab.layers`` (lesson 03).

    x (N, 1, 28, 28) → conv 3×3 "same" → ReLU → max-pool 2×2 → flatten → linear → softmax cross-entropy

Everything a deep-learning framework does for us is spelled out: the forward pass keeps each
layer's cache, the backward pass walks the layers in reverse handing each one the gradient of
the next, and SGD with momentum (``cnnlab.optim``) updates the parameters, stored by name in a plain dict.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from cnnlab.layers import (conv2d_backward, conv2d_forward, flatten_backward, flatten_forward,
                           linear_backward, linear_forward, maxpool2d_backward, maxpool2d_forward,
                           relu_backward, relu_forward, softmax_cross_entropy)
from cnnlab.optim import sgd_step
from cnnlab.shapes import conv_output_size, pool_output_size, positive_int


class NumpyCNN:
    """conv → ReLU → max-pool → linear, trained with softmax cross-entropy (lesson 03).

    Attributes:
        params: ``{"w1": (F, C, K, K), "b1": (F,), "w2": (classes, F·PH·PW), "b2": (classes,)}``.
        velocity: momentum buffers, one per parameter, same shapes.
    """

    def __init__(self, input_shape: tuple[int, int, int] = (1, 28, 28), num_filters: int = 8,
                 kernel_size: int = 3, pool_size: int = 2, num_classes: int = 10, seed: int = 0,
                 dtype: Any = np.float32):
        """Random weights (He initialisation for the conv, suited to ReLU), zero biases.

        Args:
            input_shape: (C, H, W) of one image.
            num_filters: F, feature maps of the conv layer.
            kernel_size: K, odd, so that padding K // 2 keeps H×W ("same").
            pool_size: max-pool window and stride.
            num_classes: outputs of the linear layer.
            seed: for the initial weights.
            dtype: float32 trains fast; float64 for gradient checks.
        """
        func = "NumpyCNN"
        c, h, w = (positive_int(v, "each entry of input_shape", func) for v in input_shape)
        f = positive_int(num_filters, "num_filters", func)
        k = positive_int(kernel_size, "kernel_size", func)
        if k % 2 == 0:
            raise ValueError(f"{func}: kernel_size must be odd so that padding {k} // 2 keeps the size, got {k}")
        self.padding, self.pool_size = k // 2, positive_int(pool_size, "pool_size", func)
        oh, ow = conv_output_size((h, w), k, 1, self.padding)                # = (h, w)
        ph, pw = pool_output_size((oh, ow), self.pool_size)
        features = f * ph * pw
        rng = np.random.default_rng(seed)
        # The last layer starts 10× smaller than usual, so the untrained network predicts
        # nearly uniform probabilities: its loss starts near ln(classes) instead of higher.
        self.params = {
            "w1": rng.standard_normal((f, c, k, k)) * math.sqrt(2 / (c * k * k)),
            "b1": np.zeros(f),
            "w2": rng.standard_normal((num_classes, features)) * 0.1 * math.sqrt(1 / features),
            "b2": np.zeros(num_classes),
        }
        self.params = {name: p.astype(dtype) for name, p in self.params.items()}
        self.velocity = {name: np.zeros_like(p) for name, p in self.params.items()}

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, tuple]:
        """Class scores for a batch, and every layer's cache for the backward pass.

        Args:
            x: images (N, C, H, W).

        Returns:
            scores (N, classes) and the caches, in layer order.
        """
        p = self.params
        out, conv = conv2d_forward(x, p["w1"], p["b1"], padding=self.padding)   # (N, F, H, W)
        out, relu = relu_forward(out)
        out, pool = maxpool2d_forward(out, self.pool_size)                     # (N, F, PH, PW)
        out, flat = flatten_forward(out)                                       # (N, F*PH*PW)
        scores, fc = linear_forward(out, p["w2"], p["b2"])                     # (N, classes)
        return scores, (conv, relu, pool, flat, fc)

    def loss(self, x: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """Mean cross-entropy of a batch and its gradient for every parameter.

        Args:
            x: images (N, C, H, W).
            y: labels (N,).

        Returns:
            loss and ``grads``, a dict with the same keys and shapes as ``params``.
        """
        scores, (conv, relu, pool, flat, fc) = self.forward(x)
        loss, dout = softmax_cross_entropy(scores, y)                          # (N, classes)
        grads = {}
        dout, grads["w2"], grads["b2"] = linear_backward(dout, fc)            # (N, F*PH*PW)
        dout = flatten_backward(dout, flat)                                    # (N, F, PH, PW)
        dout = maxpool2d_backward(dout, pool)                                  # (N, F, H, W)
        dout = relu_backward(dout, relu)
        _, grads["w1"], grads["b1"] = conv2d_backward(dout, conv)              # dx unused: x is data
        return loss, grads

    def predict(self, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
        """Predicted labels (N,), computed batch by batch to bound memory."""
        batches = [self.forward(x[i:i + batch_size])[0].argmax(axis=1)
                   for i in range(0, len(x), batch_size)]
        return np.concatenate(batches)

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        """Fraction of images whose predicted label is y."""
        return float(np.mean(self.predict(x) == y))

    def train_step(self, x: np.ndarray, y: np.ndarray, lr: float = 0.01, momentum: float = 0.9) -> float:
        """One step of SGD with momentum on a batch; returns the batch loss before the step.

        Same rule as ``torch.optim.SGD`` (``cnnlab.optim.sgd_step``): ``v ← momentum·v + grad``,
        then ``p ← p − lr·v`` (in place, so ``params`` keeps its arrays).
        """
        loss, grads = self.loss(x, y)
        for name, grad in grads.items():
            new, self.velocity[name] = sgd_step(self.params[name], grad, self.velocity[name], lr, momentum)
            self.params[name][...] = new
        return loss


def fashion_mnist_arrays(split: str, source: str = "sample", limit: int | None = None
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST as normalised float32 NumPy arrays: images (N, 1, 28, 28), labels (N,)."""
    from cnnlab.data import load_fashion_mnist, to_tensors

    images, labels = load_fashion_mnist(split, source)
    x, y = to_tensors(images[:limit], labels[:limit])
    return x.numpy(), y.numpy()


def train_numpy_cnn(epochs: int = 1, batch_size: int = 32, lr: float = 0.01, momentum: float = 0.9,
                    num_filters: int = 8, source: str = "sample", limit: int | None = None,
                    seed: int = 0) -> tuple[NumpyCNN, dict[str, Any]]:
    """Train a ``NumpyCNN`` on Fashion-MNIST with minibatch SGD + momentum (lesson 03).

    Args:
        epochs: passes over the training images.
        batch_size: images per step.
        lr: learning rate.
        momentum: momentum coefficient.
        num_filters: feature maps of the conv layer.
        source: "sample" (the bundled 6,000/1,000 images), "full" or "auto", as in
            ``cnnlab.data.load_fashion_mnist``.
        limit: use at most this many training images (quick runs).
        seed: initial weights and shuffling.

    Returns:
        The trained model and a history dict: ``loss`` (one per step), ``test_accuracy``
        (one per epoch), ``train_accuracy`` (on the training images, after the last epoch),
        ``seconds`` (training time).
    """
    x, y = fashion_mnist_arrays("train", source, limit)
    x_test, y_test = fashion_mnist_arrays("test", source)
    model = NumpyCNN(input_shape=x.shape[1:], num_filters=num_filters, seed=seed)
    rng = np.random.default_rng(seed)
    history: dict[str, Any] = {"loss": [], "test_accuracy": []}
    start = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch_size):
            batch = order[i:i + batch_size]
            history["loss"].append(model.train_step(x[batch], y[batch], lr, momentum))
        history["test_accuracy"].append(model.accuracy(x_test, y_test))
    history["seconds"] = time.perf_counter() - start
    history["train_accuracy"] = model.accuracy(x, y)
    return model, history
