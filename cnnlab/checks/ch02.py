"""Exercises of lesson 02: output sizes, parameter counts, receptive fields."""

from __future__ import annotations

import numpy as np

from cnnlab import shapes
from cnnlab.checks import Exercise, Mistake
from cnnlab.checks.mistakes import Catalog

NO_HELPERS = ("torch", "cnnlab.shapes", "cnnlab.models")


def _as_int(got) -> int | None:
    """``got`` as a Python int, or None when it is not a single whole number."""
    try:
        value = np.asarray(got)
        if value.shape != () or value.dtype.kind not in "iuf" or value != np.round(value):
            return None
        return int(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- exercise 1: output size

def _size_cases(rng):
    def case(n, k, stride=1, padding=0, dilation=1):
        return dict(n=n, k=k, stride=stride, padding=padding, dilation=dilation)
    return [case(32, 5, 1, 2),             # "same": 32
            case(28, 5),                   # 24
            case(7, 3, 2),                 # 3
            case(8, 3, 2, 1),              # ⌊7/2⌋ + 1 = 4: floor matters
            case(224, 7, 2, 3),            # ResNet's stem: 112
            case(10, 3, 1, 0, 2),          # dilation 2 spans 5: 6
            case(15, 3, 3, 1, 3),          # all at once: ⌊(15 + 2 − 6 − 1)/3⌋ + 1 = 4
            # fresh sizes for the same settings (the grader counts only cases no two draws repeat)
            case(2 * int(rng.integers(6, 20)), 3, 2, 1),        # even n: ⌊(n − 1)/2⌋ rounds down
            case(int(rng.integers(20, 60)), 5, 1, 2),          # "same"
            case(int(rng.integers(12, 40)), 3, 1, 0, 2),       # dilation
            case(int(rng.integers(16, 50)), 3, 3, 1, 3)]       # all at once


def _size_ref(n, k, stride, padding, dilation):
    return shapes.conv_output_size(n, k, stride, padding, dilation)


SIZE = Catalog(
    off_by_one=Mistake(
        "off by one",
        nudge="your answer is one short: does your count include the window's first position?",
        hint="count the first position too: ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1"),
    round_up=Mistake(
        "rounded up",
        nudge="one position too many for some strides: what happens to a window that would stick out?",
        hint="round down (//), not up: a window that would stick out over the padded edge is dropped"),
    dilation_ignored=Mistake(
        "dilation ignored",
        nudge="the answers with dilation above 1 are too large: how many pixels does a dilated kernel span?",
        hint="dilation {d} spreads the {k} taps over d(k−1) + 1 = {span} pixels: use that span instead of k"),
    one_side=Mistake(
        "padding on one side only",
        nudge="the answers with padding are too small: where does the padding go?",
        hint="padding goes on both sides: n + 2p"),
    stride_ignored=Mistake(
        "stride not divided",
        nudge="the answers with a stride above 1 are far too large: how far apart are two windows?",
        hint="divide by the stride {s} (rounding down) before adding 1"),
    true_division=Mistake(
        "true division instead of floor",
        nudge="your answer is not a whole number: a count of positions is",
        hint="use floor division //, which rounds down and gives an int: (n + 2p − d(k−1) − 1) // s + 1"),
)


def _size_hint(case, got, expected):
    n, k, s, p, d = (case[key] for key in ("n", "k", "stride", "padding", "dilation"))
    span = d * (k - 1) + 1
    value = _as_int(got)
    if value is None:
        try:
            exact = float(np.asarray(got))
        except (TypeError, ValueError):
            return None
        return SIZE("true_division") if np.isclose(exact, (n + 2 * p - span) / s + 1) else None
    if value == expected:
        return None
    return SIZE.unique({
        "off_by_one": value == (n + 2 * p - span) // s,
        "round_up": value == -(-(n + 2 * p - span) // s) + 1,
        "dilation_ignored": d > 1 and value == (n + 2 * p - k) // s + 1,
        "one_side": p > 0 and value == (n + p - span) // s + 1,
        "stride_ignored": s > 1 and value == n + 2 * p - span + 1,
    }, d=d, k=k, s=s, span=span)


# --------------------------------------------------------------------------- exercise 2: parameters

def _param_cases(rng):
    def case(c, f, kh, kw, bias=True):
        return dict(in_channels=c, filters=f, kh=kh, kw=kw, bias=bias)
    return [case(3, 64, 3, 3),             # 1,792
            case(1, 6, 5, 5),              # LeNet's first conv: 156
            case(64, 128, 3, 3),
            case(512, 512, 3, 3, False),
            case(16, 32, 1, 1),
            case(3, 8, 7, 5),              # non-square kernel
            case(int(rng.integers(2, 20)), int(rng.integers(2, 70)), 3, 3),
            case(int(rng.integers(2, 64)), int(rng.integers(2, 128)), 3, 3, False)]


def _param_ref(in_channels, filters, kh, kw, bias):
    return shapes.conv_params(in_channels, filters, (kh, kw), bias=bias)


PARAMS = Catalog(
    channels_ignored=Mistake(
        "input channels ignored",
        nudge="your count is too small whenever there are several input channels: how deep is one filter?",
        hint="each filter spans all {c} input channels: it has {c}·{kh}·{kw} weights"),
    no_bias=Mistake(
        "bias missing",
        nudge="your count is a little short when bias=True: what else does a filter learn besides its weights?",
        hint="add one bias per filter"),
    bias_when_false=Mistake(
        "bias counted when bias=False",
        nudge="your count is a little high for the layer with bias=False",
        hint="bias=False: the layer has no biases to count"),
    bias_per_slice=Mistake(
        "one bias per kernel slice",
        nudge="your count has too many biases: how many numbers does one filter add to its output map?",
        hint="a filter adds ONE bias to its whole output map (after summing over all input channels): "
             "one bias per filter, not one per (filter, channel) pair"),
)


def _param_hint(case, got, expected):
    c, f, kh, kw, bias = (case[key] for key in ("in_channels", "filters", "kh", "kw", "bias"))
    value = _as_int(got)
    if value is None:
        return None
    if value == f * kh * kw + f * bias and c > 1:
        return PARAMS("channels_ignored", c=c, kh=kh, kw=kw)
    if bias and value == f * c * kh * kw:
        return PARAMS("no_bias")
    if not bias and value == f * c * kh * kw + f:
        return PARAMS("bias_when_false")
    if bias and c > 1 and value == f * c * kh * kw + f * c:
        return PARAMS("bias_per_slice")
    return None


# --------------------------------------------------------------------------- exercise 3: receptive field

def _field_cases(rng):
    return [dict(kernels=(3, 3), strides=(1, 1)),             # 5: two 3×3 see 5×5
            dict(kernels=(3, 3, 3), strides=(1, 1, 1)),       # 7
            dict(kernels=(5,), strides=(1,)),
            dict(kernels=(3, 2, 3), strides=(1, 2, 1)),       # conv, pool, conv: 3 + 1 + 4 = 8
            dict(kernels=(7, 3, 3, 3), strides=(2, 2, 1, 1)),
            dict(kernels=(3, 3, 2, 3, 3, 2), strides=(1, 1, 2, 1, 1, 2)),   # a small VGG: 16
            *(_random_field_case(rng) for _ in range(3))]


def _field_variants(kernels, strides) -> tuple[int, int, int, int]:
    """The right field, then the answers of strides ignored, kernels summed and own stride included."""
    right, own, jump = 1, 1, 1
    for k, s in zip(kernels, strides):
        right += (k - 1) * jump
        own += (k - 1) * jump * s
        jump *= s
    return right, 1 + sum(k - 1 for k in kernels), sum(kernels), own


def _random_field_case(rng) -> dict:
    """A random stack of layers on which every classic mistake gives its own, wrong answer.

    These are the cases the grader counts (the worked examples above repeat in every draw), so
    each of them must tell every mistake from the right answer and from each other.
    """
    while True:
        n = int(rng.integers(3, 6))
        kernels = tuple(int(k) for k in rng.choice([1, 2, 3, 5], n))
        strides = tuple(int(s) for s in rng.choice([1, 2], n))
        if len(set(_field_variants(kernels, strides))) == 4:
            return dict(kernels=kernels, strides=strides)


def _field_ref(kernels, strides):
    return shapes.receptive_field(list(zip(kernels, strides)))


FIELD = Catalog(
    strides_ignored=Mistake(
        "strides ignored",
        nudge="your field is too small once a stride above 1 appears: how far apart are the inputs of the "
              "layer after a stride?",
        hint="a stride spaces the next layer's inputs apart: each later layer adds (k − 1) × (the product "
             "of the strides BEFORE it)"),
    kernels_summed=Mistake(
        "kernel sizes added",
        nudge="your field is too large even for two stacked 3×3 convolutions (they see 5×5): do the "
              "windows overlap?",
        hint="the layers overlap: start from 1 and let each layer add k − 1 (times the earlier strides)"),
    own_stride=Mistake(
        "own stride included",
        nudge="your field is too large after a layer with a stride: which strides act on a layer's window?",
        hint="multiply by the strides of the layers before, not including the layer's own stride"),
)


def _field_hint(case, got, expected):
    kernels, strides = case["kernels"], case["strides"]
    value = _as_int(got)
    if value is None:
        return None
    if value == 1 + sum(k - 1 for k in kernels) and any(s > 1 for s in strides):
        return FIELD("strides_ignored")
    if value == sum(kernels):
        return FIELD("kernels_summed")
    if value == _field_variants(kernels, strides)[3]:
        return FIELD("own_stride")
    return None


EXERCISES = [
    Exercise(name="output_size", chapter="02", points=1, cases=_size_cases, reference=_size_ref,
             diagnose=_size_hint, forbidden=NO_HELPERS,
             description="output size of a convolution with stride, padding and dilation"),
    Exercise(name="conv_param_count", chapter="02", points=1, cases=_param_cases, reference=_param_ref,
             diagnose=_param_hint, forbidden=NO_HELPERS,
             description="learnable parameters of a convolution layer"),
    Exercise(name="receptive_field_size", chapter="02", points=2, cases=_field_cases, reference=_field_ref,
             diagnose=_field_hint, forbidden=NO_HELPERS,
             description="receptive field of a stack of convolutions and pools"),
]

MISTAKES = {"output_size": SIZE, "conv_param_count": PARAMS, "receptive_field_size": FIELD}
