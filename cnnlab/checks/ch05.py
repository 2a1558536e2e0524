"""Exercises of lesson 05: the VGG block, batch norm and dropout."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from cnnlab.checks import Exercise, Probe
from cnnlab.checks.ch04 import network_hint

BLOCK_INPUT = 12          # probe images are 12×12: one block must give 6×6


# --------------------------------------------------------------------------- exercise 1: a VGG block

def _block_cases(rng):
    return [dict(in_channels=1, out_channels=4, num_convs=1), dict(in_channels=3, out_channels=8, num_convs=2),
            dict(in_channels=4, out_channels=4, num_convs=3), dict(in_channels=2, out_channels=6, num_convs=2),
            dict(in_channels=int(rng.integers(1, 4)), out_channels=int(rng.integers(2, 6)), num_convs=2)]


def _block_ref(in_channels, out_channels, num_convs):
    from cnnlab.models.vgg import vgg_features   # imported when the reference runs (in the checking process only)

    return vgg_features([out_channels] * num_convs + ["M"], in_channels)[0]


def _block_hint(case, got, expected):
    layers, want = got[2], expected[2]
    if len(layers) == len(want) and layers and tuple(layers[0])[-1] == BLOCK_INPUT - 2:
        return "a 3×3 conv without padding shrinks the image by 2: use padding=1, only the pool may halve it"
    if len(layers) == len(want) and tuple(got[1])[-1] == BLOCK_INPUT:
        return "the block must end with a 2×2 max pool, stride 2"
    hint = network_hint(got, expected, "the block")
    if hint is None:
        return "shapes and parameters match but the outputs differ: conv → ReLU after every conv, then a 2×2 max pool"
    return hint


# --------------------------------------------------------------------------- exercise 2: batch norm

def _bn_cases(rng):
    def case(n, c, h, w, eps=1e-5):
        return dict(x=rng.standard_normal((n, c, h, w)) * 3 + 1, gamma=rng.standard_normal(c) + 1,
                    beta=rng.standard_normal(c), eps=eps)
    return [case(4, 3, 5, 5), case(2, 2, 3, 4), case(1, 4, 6, 6), case(8, 1, 2, 2, eps=1e-3), case(3, 5, 1, 1)]


def _bn_ref(x, gamma, beta, eps):
    out = F.batch_norm(torch.from_numpy(x), None, None, torch.from_numpy(gamma), torch.from_numpy(beta),
                       training=True, eps=eps)
    return out.numpy()


def _bn_hint(case, got, expected):
    x, gamma, beta, eps = case["x"], case["gamma"], case["beta"], case["eps"]
    got = np.asarray(got)
    if got.shape != expected.shape:
        return None

    def normalise(axes, ddof=0):
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True, ddof=ddof)
        return (x - mean) / np.sqrt(var + eps)

    scale = (lambda z: gamma[None, :, None, None] * z + beta[None, :, None, None])
    if np.allclose(got, scale(normalise((0, 2, 3), ddof=1))):
        return "use the biased variance (divide by N·H·W, not N·H·W − 1), as batch norm does while training"
    if np.allclose(got, normalise((0, 2, 3))):
        return "the normalised values still need the scale γ and the shift β: γ·x̂ + β"
    for axes in [(0,), (1, 2, 3), (2, 3)]:
        if np.allclose(got, scale(normalise(axes))):
            return f"you averaged over axes {axes}: batch norm takes one mean and variance per channel, over (0, 2, 3)"
    return None


# --------------------------------------------------------------------------- exercise 3: dropout

def _dropout_cases(rng):
    def case(shape, p):
        return dict(x=rng.standard_normal(shape), p=p, keep=rng.random(shape) >= p)
    return [case((4, 6), 0.5), case((2, 3, 4, 4), 0.2), case((5,), 0.0), case((3, 10), 0.8)]


def _dropout_ref(x, p, keep):
    return np.where(keep, x / (1 - p), 0.0)


def _dropout_hint(case, got, expected):
    got = np.asarray(got)
    x, p, keep = case["x"], case["p"], case["keep"]
    if got.shape == expected.shape and np.allclose(got, np.where(keep, x, 0.0)):
        return "scale the kept units by 1/(1 − p), so the expected output equals the input and test time needs no change"
    if got.shape == expected.shape and np.allclose(got, np.where(keep, x * (1 - p), 0.0)):
        return "divide by (1 − p) while training; multiplying belongs to the old, non-inverted dropout at test time"
    return None


EXERCISES = [
    Exercise(name="vgg_block", chapter="05", points=3, cases=_block_cases, reference=_block_ref,
             probe=Probe("network", (("size", BLOCK_INPUT),)), diagnose=_block_hint, forbidden=("cnnlab.models",),
             rtol=1e-4, atol=1e-5, description="[conv3×3-ReLU] × num_convs, then a 2×2 max pool"),
    Exercise(name="batchnorm_forward", chapter="05", points=2, cases=_bn_cases, reference=_bn_ref,
             diagnose=_bn_hint, forbidden=("torch", "cnnlab"), rtol=1e-6, atol=1e-8,
             description="batch norm in training mode over (N, C, H, W) with NumPy"),
    Exercise(name="dropout_forward", chapter="05", points=1, cases=_dropout_cases, reference=_dropout_ref,
             diagnose=_dropout_hint, forbidden=("torch", "cnnlab"),
             description="inverted dropout with a given keep mask"),
]
