"""Exercises of lesson 04: LeNet-5, layer by layer, and looking at what it learned."""

from __future__ import annotations

import numpy as np
import torch

from cnnlab.checks import Exercise
from cnnlab.common import fill_deterministic, parameter_count, weighted_layer_shapes
from cnnlab.experiments.ch04 import shift_images

LENET_INPUT = 28          # Fashion-MNIST images; padding 2 in the first conv gives LeNet's 32×32 view


# --------------------------------------------------------------------------- shared probe of a network

def probe_network(size: int, seed: int = 0):
    """A probe that turns a network into numbers: parameters, output shape, weighted-layer shapes, outputs.

    The network gets deterministic weights (``fill_deterministic``) and runs in eval mode on
    two fixed random images of ``size``×``size`` with ``case["in_channels"]`` channels, so a
    learner's network and the reference can be compared value by value.
    """
    def probe(net, case):
        if not isinstance(net, torch.nn.Module):
            raise TypeError(f"expected an nn.Module, got {type(net).__name__}")
        x = np.random.default_rng(seed + 1).standard_normal((2, case["in_channels"], size, size))
        x = torch.from_numpy(x).float()                                      # (2, C, size, size)
        fill_deterministic(net, seed).eval()
        shapes = weighted_layer_shapes(net, x)
        with torch.no_grad():
            out = net(x)
        return (np.int64(parameter_count(net, trainable_only=True)), np.array(out.shape),
                tuple(np.array(shape) for shape in shapes), out.numpy())
    return probe


def network_hint(got, expected, what: str) -> str | None:
    """Say which part of a probed network differs first: parameter count, layer shapes, or values."""
    count, shape, layers, _ = got
    want_count, want_shape, want_layers, _ = expected
    if len(layers) != len(want_layers):
        return (f"your network has {len(layers)} conv/fully connected layers, {what} has {len(want_layers)}")
    for i, (g, e) in enumerate(zip(layers, want_layers)):
        g, e = tuple(int(n) for n in g), tuple(int(n) for n in e)
        if g != e:
            return f"layer {i + 1} with weights outputs {g}, expected {e}"
    if int(count) != int(want_count):
        return f"{int(count):,} parameters, expected {int(want_count):,}"
    shape, want_shape = tuple(int(n) for n in shape), tuple(int(n) for n in want_shape)
    if shape != want_shape:
        return f"output shape {shape}, expected {want_shape}"
    return None


# --------------------------------------------------------------------------- exercise 1: LeNet-5

def _lenet_cases(rng):
    return [dict(num_classes=10, in_channels=1), dict(num_classes=7, in_channels=1),
            dict(num_classes=10, in_channels=3), dict(num_classes=int(rng.integers(2, 6)), in_channels=2)]


def _lenet_ref(num_classes, in_channels):
    from cnnlab.models import lenet5          # imported here: the probe may run where learners cannot import it

    return lenet5(num_classes, variant="classic", in_channels=in_channels)


def _lenet_hint(case, got, expected):
    layers = got[2]
    if layers and tuple(layers[0])[-1] == LENET_INPUT - 4:
        return "the first conv shrinks 28×28 to 24×24: give it padding=2 (LeNet saw 32×32 images)"
    hint = network_hint(got, expected, "LeNet-5")
    if hint is None:
        return ("shapes and parameters match but the outputs differ: the 1998 LeNet uses a sigmoid "
                "after every conv and hidden layer, and 2×2 average pooling with stride 2")
    return hint


# --------------------------------------------------------------------------- exercise 2: shift images

def _shift_cases(rng):
    def images(n, h, w):
        return rng.standard_normal((n, h, w))
    return [dict(images=images(2, 6, 6), k=2, fill=0.0),
            dict(images=images(3, 5, 7), k=-3, fill=-0.5),
            dict(images=images(1, 4, 4), k=0, fill=0.0),
            dict(images=images(2, 4, 5), k=5, fill=1.0),
            dict(images=images(2, 4, 5), k=-9, fill=0.0),
            dict(images=images(2, 8, 3), k=1, fill=0.25)]


def _shift_ref(images, k, fill):
    x = torch.from_numpy(images)[:, None]                                    # (N, 1, H, W)
    return shift_images(x, dx=k, fill=fill)[:, 0].numpy()                    # (N, H, W)


def _shift_hint(case, got, expected):
    got = np.asarray(got)
    if got.shape == expected.shape and np.allclose(got, np.roll(case["images"], case["k"], axis=2)):
        return "the pixels wrapped around (np.roll): what leaves one edge must be lost, and `fill` enters"
    if got.shape == expected.shape and np.allclose(got, _shift_ref(case["images"], -case["k"], case["fill"])):
        return "you shifted left: a positive k moves the picture to the right"
    return None


# --------------------------------------------------------------------------- exercise 3: confusion matrix

def _confusion_cases(rng):
    cases = []
    for n, k in [(20, 3), (50, 4), (7, 5), (100, 10)]:
        y_true = rng.integers(0, k, n)
        y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, n))
        cases.append(dict(y_true=y_true, y_pred=y_pred, num_classes=k))
    cases.append(dict(y_true=np.array([0, 0, 1, 2, 2, 2]), y_pred=np.array([1, 1, 2, 2, 0, 2]), num_classes=4))
    return cases


def _confusion_ref(y_true, y_pred, num_classes):
    from cnnlab.viz.training import confusion_matrix   # rows: true class, columns: predicted class

    return confusion_matrix(y_true, y_pred, num_classes)


def _confusion_hint(case, got, expected):
    got = np.asarray(got)
    if got.shape == expected.shape and np.array_equal(got, expected.T):
        return "rows and columns are swapped: row i counts the images whose TRUE class is i"
    if got.shape != expected.shape and got.shape[0] == max(case["y_true"].max(), case["y_pred"].max()) + 1:
        return "the size must be num_classes × num_classes, even when a class never occurs"
    return None


EXERCISES = [
    Exercise(name="lenet_classic", chapter="04", points=4, cases=_lenet_cases, reference=_lenet_ref,
             probe=probe_network(LENET_INPUT), diagnose=_lenet_hint, forbidden=("cnnlab.models",),
             rtol=1e-4, atol=1e-5,
             description="build the 1998 LeNet-5 (sigmoid, average pooling) for 28×28 images"),
    Exercise(name="shift_right", chapter="04", points=2, cases=_shift_cases, reference=_shift_ref,
             diagnose=_shift_hint, forbidden=("torch", "cnnlab", "scipy"),
             description="move images k pixels to the right without wrapping around"),
    Exercise(name="confusion_matrix", chapter="04", points=2, cases=_confusion_cases, reference=_confusion_ref,
             diagnose=_confusion_hint, forbidden=("torch", "cnnlab", "sklearn"),
             description="count (true class, predicted class) pairs"),
]
