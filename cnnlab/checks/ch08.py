"""Exercises of lesson 08: an Inception module, the bottleneck arithmetic, compound scaling."""

from __future__ import annotations

import numpy as np
import torch

from cnnlab.checks import Exercise
from cnnlab.common import fill_deterministic, parameter_count

PROBE_SIZE = (5, 7)       # a non-square input, so that a wrong padding cannot hide
INCEPTION_KEYS = ("in_channels", "c1", "c3_reduce", "c3", "c5_reduce", "c5", "pool_proj")


# --------------------------------------------------------------------------- exercise 1: Inception module

def _distinct_row(rng) -> dict[str, int]:
    """A random small block whose four 1×1 convs have different widths.

    With every conv of a different shape, ``fill_deterministic`` gives a learner's block the
    same weights as the reference whatever order its branches were written in.
    """
    c1, c3_reduce, c5_reduce, pool_proj = (int(v) for v in rng.choice(np.arange(2, 13), 4, replace=False))
    return dict(in_channels=int(rng.integers(3, 10)), c1=c1, c3_reduce=c3_reduce, c3=int(rng.integers(2, 12)),
                c5_reduce=c5_reduce, c5=int(rng.integers(2, 9)), pool_proj=pool_proj)


def _inception_cases(rng):
    paper_3a = dict(zip(INCEPTION_KEYS, (192, 64, 96, 128, 16, 32, 32)))
    tiny = dict(zip(INCEPTION_KEYS, (4, 2, 3, 5, 1, 6, 7)))
    return [paper_3a, tiny] + [_distinct_row(rng) for _ in range(4)]


def _inception_ref(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj):
    from cnnlab.models.gallery import inception_block    # imported here: learners may not import it

    return inception_block(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj)


def _probe_block(block, case):
    """(parameter count, output shape, output values) of a block with deterministic weights, in eval mode."""
    if not isinstance(block, torch.nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(block).__name__}")
    x = np.random.default_rng(8).standard_normal((2, case["in_channels"], *PROBE_SIZE))
    x = torch.from_numpy(x).float()                                          # (2, C, 5, 7)
    fill_deterministic(block, seed=8).eval()
    with torch.no_grad():
        out = block(x)                                                       # (2, F, 5, 7)
    return np.int64(parameter_count(block, trainable_only=True)), np.array(out.shape), out.numpy()


def _unit_params(c_in: int, c_out: int, k: int, bias: bool, norm: bool) -> int:
    return c_out * c_in * k * k + (c_out if bias else 0) + (2 * c_out if norm else 0)


def _block_params(case, k5: int = 5, bias: bool = False, norm: bool = True, pool_proj: bool = True) -> int:
    c = case
    units = [(c["in_channels"], c["c1"], 1), (c["in_channels"], c["c3_reduce"], 1), (c["c3_reduce"], c["c3"], 3),
             (c["in_channels"], c["c5_reduce"], 1), (c["c5_reduce"], c["c5"], k5)]
    if pool_proj:
        units.append((c["in_channels"], c["pool_proj"], 1))
    return sum(_unit_params(i, o, k, bias, norm) for i, o, k in units)


def _inception_hint(case, got, expected):
    count, shape, _ = got
    want_count, want_shape, _ = expected
    channels = int(shape[1]) if len(shape) > 1 else None
    if channels != int(want_shape[1]):
        if channels == case["c1"] + case["c3"] + case["c5"] + case["in_channels"]:
            return "the pool branch passes all input channels through: add its 1×1 conv down to pool_proj channels"
        return (f"{channels} output channels, expected c1 + c3 + c5 + pool_proj = {int(want_shape[1])}: "
                "concatenate the four branches along dim 1")
    if tuple(shape) != tuple(want_shape):
        return "every branch must keep H×W: padding 1 for the 3×3 conv and the pool, padding 2 for the 5×5"
    wrong_counts = {
        _block_params(case, bias=True): "each conv has a bias as well as batch norm: use bias=False, β already shifts",
        _block_params(case, bias=True, norm=False): "each conv needs a batch norm after it (γ and β, 2 per channel)",
        _block_params(case, k5=3): "the wide branch needs a 5×5 kernel (padding 2), not 3×3",
        _block_params(case, k5=3, bias=True, norm=False): "batch norm is missing and the wide branch is 3×3, not 5×5",
    }
    if int(count) != int(want_count):
        return wrong_counts.get(int(count), f"{int(count):,} parameters, expected {int(want_count):,}")
    return ("channels and parameters match but the values differ: concatenate in the order 1×1, 3×3, 5×5, "
            "pool; put a ReLU after every batch norm; use a 3×3 max pool with stride 1 and padding 1")


# --------------------------------------------------------------------------- exercise 2: bottleneck arithmetic

def _bottleneck_cases(rng):
    cases = [dict(in_channels=192, reduce=16, out_channels=32, kernel_size=5),     # Inception 3a, 5×5 branch
             dict(in_channels=192, reduce=96, out_channels=128, kernel_size=3),    # Inception 3a, 3×3 branch
             dict(in_channels=3, reduce=1, out_channels=2, kernel_size=1)]
    for _ in range(3):
        cases.append(dict(in_channels=int(rng.integers(1, 600)), reduce=int(rng.integers(1, 200)),
                          out_channels=int(rng.integers(1, 400)), kernel_size=int(rng.choice([1, 3, 5, 7]))))
    return cases


def _bottleneck_ref(in_channels, reduce, out_channels, kernel_size):
    from cnnlab.shapes import conv_params

    direct = conv_params(in_channels, out_channels, kernel_size)
    squeezed = conv_params(in_channels, reduce, 1) + conv_params(reduce, out_channels, kernel_size)
    return np.int64(direct), np.int64(squeezed)


def _bottleneck_hint(case, got, expected):
    c, r, f, k = case["in_channels"], case["reduce"], case["out_channels"], case["kernel_size"]
    try:
        direct, squeezed = (int(v) for v in np.asarray(got, dtype=np.float64).ravel()[:2])
    except (TypeError, ValueError):
        return "return two numbers: (parameters without the bottleneck, parameters with it)"
    if direct == f * c * k * k or squeezed == r * c + f * r * k * k:
        return "every conv has one bias per filter: add out_channels (and reduce) biases"
    if squeezed == f * r * k * k + f:
        return "the bottleneck's own 1×1 conv has weights too: reduce · in_channels + reduce"
    if (direct, squeezed) == (int(expected[1]), int(expected[0])):
        return "the two numbers are swapped: first without the bottleneck, then with it"
    return None


# --------------------------------------------------------------------------- exercise 3: compound scaling

def _scaling_cases(rng):
    return [dict(phi=0.0, alpha=1.2, beta=1.1, gamma=1.15, base_resolution=224),
            dict(phi=1.0, alpha=1.2, beta=1.1, gamma=1.15, base_resolution=224),   # 257.6 rounds up to 258
            dict(phi=3.0, alpha=1.2, beta=1.1, gamma=1.15, base_resolution=224),
            dict(phi=2.5, alpha=1.3, beta=1.05, gamma=1.2, base_resolution=192),
            dict(phi=-1.0, alpha=1.2, beta=1.1, gamma=1.15, base_resolution=224),
            dict(phi=float(rng.uniform(0, 7)), alpha=float(rng.uniform(1, 1.5)), beta=float(rng.uniform(1, 1.3)),
                 gamma=float(rng.uniform(1, 1.3)), base_resolution=int(rng.integers(64, 320)))]


def _scaling_ref(phi, alpha, beta, gamma, base_resolution):
    from cnnlab.models.gallery import compound_scaling

    s = compound_scaling(phi, alpha, beta, gamma, base_resolution)
    return s.depth, s.width, np.int64(s.resolution)


def _scaling_hint(case, got, expected):
    phi, a, b, g, base = (case[k] for k in ("phi", "alpha", "beta", "gamma", "base_resolution"))
    try:
        depth, width, resolution = (float(v) for v in got)
    except (TypeError, ValueError):
        return "return three numbers: (depth multiplier, width multiplier, resolution in pixels)"
    powers_wrong = not (np.isclose(depth, a ** phi) and np.isclose(width, b ** phi))
    if powers_wrong and (np.isclose(depth, a * phi) or np.isclose(width, b * phi)):
        return "the multipliers are powers: depth = alpha ** phi, not alpha * phi"
    if np.isclose(resolution, g ** phi):
        return "the third number is the resolution in pixels: base_resolution · gamma ** phi"
    if resolution == int(base * g ** phi) and resolution != round(base * g ** phi):
        return "round the resolution to the nearest pixel (round), int() cuts 257.6 down to 257"
    if np.isclose(resolution, base * g ** phi):
        return "round the resolution to a whole number of pixels"
    return None


EXERCISES = [
    Exercise(name="inception_module", chapter="08", points=4, cases=_inception_cases, reference=_inception_ref,
             probe=_probe_block, diagnose=_inception_hint,
             forbidden=("cnnlab.models",), rtol=5e-3, atol=3e-3,   # PyTorch's default BN eps passes too
             description="build an Inception block: four parallel branches concatenated along the channels"),
    Exercise(name="bottleneck_params", chapter="08", points=2, cases=_bottleneck_cases, reference=_bottleneck_ref,
             diagnose=_bottleneck_hint, forbidden=("torch", "cnnlab"),
             description="parameters of a k×k conv with and without a 1×1 bottleneck in front"),
    Exercise(name="compound_multipliers", chapter="08", points=2, cases=_scaling_cases, reference=_scaling_ref,
             diagnose=_scaling_hint, forbidden=("torch", "cnnlab"),
             description="EfficientNet's compound scaling: depth, width and resolution for one phi"),
]
