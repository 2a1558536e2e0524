"""Exercises of lesson 08: an Inception module, the bottleneck arithmetic, compound scaling."""

from __future__ import annotations

import itertools

import numpy as np
import torch
from torch import nn

from cnnlab.checks import Exercise, Mistake, Probe
from cnnlab.checks.mistakes import Catalog

PROBE_SIZE = (5, 7)       # a non-square input, so that a wrong padding cannot hide
INCEPTION_KEYS = ("in_channels", "c1", "c3_reduce", "c3", "c5_reduce", "c5", "pool_proj")
INCEPTION_PROBE = Probe("block", (("height", PROBE_SIZE[0]), ("width", PROBE_SIZE[1])))


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
    from cnnlab.models.inception import inception_block    # imported here: learners may not import it

    return inception_block(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj)


def _unit_params(c_in: int, c_out: int, k: int, bias: bool, norm: bool) -> int:
    return c_out * c_in * k * k + (c_out if bias else 0) + (2 * c_out if norm else 0)


def _block_params(case, k5: int = 5, bias: bool = False, norm: bool = True, pool_proj: bool = True) -> int:
    c = case
    units = [(c["in_channels"], c["c1"], 1), (c["in_channels"], c["c3_reduce"], 1), (c["c3_reduce"], c["c3"], 3),
             (c["in_channels"], c["c5_reduce"], 1), (c["c5_reduce"], c["c5"], k5)]
    if pool_proj:
        units.append((c["in_channels"], c["pool_proj"], 1))
    return sum(_unit_params(i, o, k, bias, norm) for i, o, k in units)


INCEPTION = Catalog(
    pool_projection=Mistake(
        "pool branch without its 1×1 conv",
        nudge="your output has c1 + c3 + c5 + in_channels channels: which branch passes the input's channels "
              "through?",
        hint="the pool branch passes all input channels: add its 1×1 conv down to pool_proj channels"),
    bias=Mistake(
        "convs with bias",
        nudge="{count:,} parameters, expected {want:,}: one too many per output channel of each conv",
        hint="each conv is followed by batch norm: use bias=False, the batch norm's β already shifts"),
    no_norm=Mistake(
        "batch norm missing",
        nudge="{count:,} parameters, expected {want:,}: what follows each conv?",
        hint="each conv needs a batch norm after it (γ and β, 2 per channel), then the ReLU"),
    k5_as_3=Mistake(
        "5×5 branch built as 3×3",
        nudge="{count:,} parameters, expected {want:,}: look at the widest branch",
        hint="the wide branch needs a 5×5 kernel (padding 2), not 3×3"),
    order=Mistake(
        "branches concatenated out of order",
        nudge="the right numbers, in the wrong channels: in which order do the branches go?",
        hint="concatenate in the order 1×1, 3×3, 5×5, pool, along dim 1"),
    avg_pool=Mistake(
        "average pooling instead of max",
        nudge="channels and parameters match; only the pool branch's outputs differ",
        hint="the pool branch starts with a 3×3 MAX pool, stride 1, padding 1"),
    no_relu=Mistake(
        "ReLU missing",
        nudge="channels and parameters match but some outputs are negative",
        hint="put a ReLU after every batch norm: conv → BN → ReLU in every unit"),
)


def _inception_variant(case, order=(0, 1, 2, 3), pool=nn.MaxPool2d, relu=True) -> nn.Module:
    """The reference block with its branches in another order, another pool or no ReLU."""
    def unit(c_in, c_out, k):
        layers = [nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm2d(c_out, eps=0.001)]
        return nn.Sequential(*layers, *([nn.ReLU()] if relu else []))

    c = case

    class Variant(nn.Module):
        def __init__(self):
            super().__init__()
            self.b1 = unit(c["in_channels"], c["c1"], 1)
            self.b3 = nn.Sequential(unit(c["in_channels"], c["c3_reduce"], 1), unit(c["c3_reduce"], c["c3"], 3))
            self.b5 = nn.Sequential(unit(c["in_channels"], c["c5_reduce"], 1), unit(c["c5_reduce"], c["c5"], 5))
            self.bp = nn.Sequential(pool(3, 1, 1), unit(c["in_channels"], c["pool_proj"], 1))

        def forward(self, x):
            parts = [self.b1(x), self.b3(x), self.b5(x), self.bp(x)]
            return torch.cat([parts[i] for i in order], dim=1)

    return Variant()


def _inception_hint(case, got, expected):
    count, shape, _ = got
    want_count, want_shape, _ = expected
    channels = int(shape[1]) if len(shape) > 1 else None
    if channels != int(want_shape[1]):
        if channels == case["c1"] + case["c3"] + case["c5"] + case["in_channels"]:
            return INCEPTION("pool_projection")
        return None
    if tuple(shape) != tuple(want_shape):
        return None
    numbers = dict(count=int(count), want=int(want_count))
    if int(count) != int(want_count):
        return INCEPTION.unique({
            "bias": int(count) == _block_params(case, bias=True),
            "no_norm": int(count) in (_block_params(case, bias=True, norm=False), _block_params(case, norm=False)),
            "k5_as_3": int(count) == _block_params(case, k5=3),
        }, **numbers)
    orders = [o for o in itertools.permutations(range(4)) if o != (0, 1, 2, 3)]
    return INCEPTION.unique({
        "order": any(_same_block(got, _inception_variant(case, order=o), case) for o in orders),
        "avg_pool": _same_block(got, _inception_variant(case, pool=nn.AvgPool2d), case),
        "no_relu": _same_block(got, _inception_variant(case, relu=False), case),
    }, **numbers)


def _same_block(got, block, case) -> bool:
    other = case.get("probe", INCEPTION_PROBE)(block, case)      # the probe that made the answer
    return got[2].shape == other[2].shape and np.allclose(got[2], other[2], rtol=5e-3, atol=3e-3)


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


BOTTLENECK = Catalog(
    no_bias=Mistake(
        "biases left out",
        nudge="both numbers are a little short: what else does every conv learn?",
        hint="every conv has one bias per filter: add out_channels (and reduce) biases"),
    no_reduce=Mistake(
        "the 1×1 conv's parameters left out",
        nudge="the second number is too small: how many convs does the bottleneck path have?",
        hint="the bottleneck's own 1×1 conv has weights too: reduce · in_channels + reduce"),
    swapped=Mistake(
        "the two numbers swapped",
        nudge="your two numbers are right but in the wrong order",
        hint="first the parameters without the bottleneck, then with it"),
    area=Mistake(
        "kernel area k, not k²",
        nudge="right for 1×1 kernels, too small for larger ones",
        hint="a k×k kernel has k·k weights per input channel"),
)


def _bottleneck_hint(case, got, expected):
    c, r, f, k = case["in_channels"], case["reduce"], case["out_channels"], case["kernel_size"]
    try:
        direct, squeezed = (int(v) for v in np.asarray(got, dtype=np.float64).ravel()[:2])
    except (TypeError, ValueError):
        return None
    return BOTTLENECK.unique({
        "no_bias": direct == f * c * k * k and squeezed == r * c + f * r * k * k,
        "no_reduce": direct == int(expected[0]) and squeezed == f * r * k * k + f,
        "swapped": (direct, squeezed) == (int(expected[1]), int(expected[0])),
        "area": k > 1 and direct == f * c * k + f and squeezed == r * c + r + f * r * k + f,
    })


# --------------------------------------------------------------------------- exercise 3: compound scaling

def _scaling_cases(rng):
    return [dict(phi=0.0, alpha=1.2, beta=1.1, gamma=1.15, base_resolution=224),
            dict(phi=1.0, alpha=1.2, beta=1.1, gamma=1.15, base_resolution=224),   # 257.6 rounds up to 258
            dict(phi=3.0, alpha=1.2, beta=1.1, gamma=1.15, base_resolution=224),
            dict(phi=2.5, alpha=1.3, beta=1.05, gamma=1.2, base_resolution=192),
            dict(phi=-1.0, alpha=1.2, beta=1.1, gamma=1.15, base_resolution=224),
            dict(phi=float(rng.uniform(0, 7)), alpha=float(rng.uniform(1, 1.5)), beta=float(rng.uniform(1, 1.3)),
                 gamma=float(rng.uniform(1, 1.3)), base_resolution=int(rng.integers(64, 320))),
            _rounds_up(rng)]


def _rounds_up(rng) -> dict:
    """A random setting whose resolution has a fractional part of at least 0.5: int() and round() differ."""
    while True:
        case = dict(phi=float(rng.uniform(0.5, 5)), alpha=float(rng.uniform(1, 1.5)), beta=float(rng.uniform(1, 1.3)),
                    gamma=float(rng.uniform(1.05, 1.3)), base_resolution=int(rng.integers(64, 320)))
        if (case["base_resolution"] * case["gamma"] ** case["phi"]) % 1 >= 0.5:
            return case


def _scaling_ref(phi, alpha, beta, gamma, base_resolution):
    from cnnlab.models.efficientnet import compound_scaling

    s = compound_scaling(phi, alpha, beta, gamma, base_resolution)
    return s.depth, s.width, np.int64(s.resolution)


SCALING = Catalog(
    not_powers=Mistake(
        "multiplied, not raised to φ",
        nudge="the depth and width multipliers grow too slowly (or too fast) with φ",
        hint="the multipliers are powers: depth = alpha ** phi, width = beta ** phi, not alpha * phi"),
    truncated=Mistake(
        "resolution truncated with int()",
        nudge="the resolution is sometimes one pixel short",
        hint="round the resolution to the nearest pixel (round): int() cuts 257.6 down to 257"),
    multiplier=Mistake(
        "resolution left as a multiplier",
        nudge="the third number should be a size in pixels",
        hint="the third number is the resolution in pixels: base_resolution · gamma ** phi, rounded"),
    not_rounded=Mistake(
        "resolution not rounded",
        nudge="the resolution is not a whole number of pixels",
        hint="round the resolution to a whole number of pixels: round(base_resolution * gamma ** phi)"),
)


def _scaling_hint(case, got, expected):
    phi, a, b, g, base = (case[k] for k in ("phi", "alpha", "beta", "gamma", "base_resolution"))
    try:
        depth, width, resolution = (float(v) for v in got)
    except (TypeError, ValueError):
        return None
    powers_right = np.isclose(depth, a ** phi) and np.isclose(width, b ** phi)
    exact = base * g ** phi
    return SCALING.unique({
        "not_powers": not powers_right and (np.isclose(depth, a * phi) or np.isclose(width, b * phi)),
        "truncated": powers_right and resolution == int(exact) and resolution != round(exact),
        "multiplier": powers_right and np.isclose(resolution, g ** phi),
        "not_rounded": powers_right and np.isclose(resolution, exact) and resolution != round(exact),
    })


EXERCISES = [
    Exercise(name="inception_module", chapter="08", points=4, cases=_inception_cases, reference=_inception_ref,
             probe=INCEPTION_PROBE, diagnose=_inception_hint,
             forbidden=("cnnlab.models",), rtol=5e-3, atol=3e-3,   # PyTorch's default BN eps passes too
             description="build an Inception block: four parallel branches concatenated along the channels"),
    Exercise(name="bottleneck_params", chapter="08", points=2, cases=_bottleneck_cases, reference=_bottleneck_ref,
             diagnose=_bottleneck_hint, forbidden=("torch", "cnnlab"),
             description="parameters of a k×k conv with and without a 1×1 bottleneck in front"),
    Exercise(name="compound_multipliers", chapter="08", points=2, cases=_scaling_cases, reference=_scaling_ref,
             diagnose=_scaling_hint, forbidden=("torch", "cnnlab"),
             description="EfficientNet's compound scaling: depth, width and resolution for one phi"),
]

MISTAKES = {"inception_module": INCEPTION, "bottleneck_params": BOTTLENECK, "compound_multipliers": SCALING}
