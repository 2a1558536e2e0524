"""Exercises of lesson 01: convolution by hand."""

from __future__ import annotations

import numpy as np

from cnnlab import layers
from cnnlab.checks import Exercise
from cnnlab.viz.images import EDGE_KERNEL, EXAMPLE_IMAGE

NUMPY_ONLY = ("torch", "cnnlab.layers", "cnnlab.numpy_cnn", "scipy")


def _same(got, want) -> bool:
    """True when ``got`` is an array of ``want``'s shape with (nearly) the same numbers."""
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return got.shape == want.shape and np.allclose(got, want, rtol=1e-6, atol=1e-8)


def _shape(got) -> tuple[int, ...] | None:
    try:
        return np.asarray(got).shape
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- exercise 1: one channel

def _single_cases(rng):
    return [dict(x=EXAMPLE_IMAGE.copy(), w=EDGE_KERNEL.copy()),
            dict(x=rng.standard_normal((5, 5)), w=rng.standard_normal((3, 3))),
            dict(x=rng.standard_normal((6, 8)), w=rng.standard_normal((3, 2))),     # non-square both
            dict(x=rng.standard_normal((7, 4)), w=rng.standard_normal((2, 4))),     # kernel as wide as x
            dict(x=rng.standard_normal((4, 4)), w=rng.standard_normal((1, 1))),
            dict(x=rng.standard_normal((3, 3)), w=rng.standard_normal((3, 3)))]      # one output


def _single_ref(x, w):
    out, _ = layers.conv2d_forward(x[None, None], w[None, None], np.zeros(1))    # (1, 1, OH, OW)
    return out[0, 0]


def _single_hint(case, got, expected):
    x, w = case["x"], case["w"]
    (h, wd), (kh, kw) = x.shape, w.shape
    shape = _shape(got)
    if shape in ((h - kh, wd - kw), (h - kh + 2, wd - kw + 2)) and shape != expected.shape:
        return (f"off by one: a {kh}-row kernel fits at H − KH + 1 = {h - kh + 1} positions down "
                f"and W − KW + 1 = {wd - kw + 1} across")
    if shape == (h, wd):
        return "no padding here: the output is smaller than the input, (H − KH + 1, W − KW + 1)"
    if _same(got, _single_ref(x, w[::-1, ::-1])):
        return ("you flipped the kernel: in deep learning 'convolution' means cross-correlation, "
                "Y[i, j] = Σ X[i + m, j + n]·W[m, n] with W as given")
    if kh == kw and _same(got, _single_ref(x, w.T)):
        return "rows and columns are swapped somewhere: W[m, n] multiplies X[i + m, j + n]"
    return None


# --------------------------------------------------------------------------- exercise 2: channels and filters

def _multi_cases(rng):
    def case(c, h, w, f, kh, kw, stride, padding):
        return dict(x=rng.standard_normal((c, h, w)), w=rng.standard_normal((f, c, kh, kw)),
                    b=rng.standard_normal(f), stride=stride, padding=padding)
    return [case(1, 5, 5, 1, 3, 3, 1, 0), case(3, 6, 6, 2, 3, 3, 1, 1),
            case(2, 7, 7, 3, 3, 3, 2, 0),          # stride 2: (7 − 3)/2 + 1 = 3
            case(2, 8, 8, 2, 3, 3, 2, 1),          # stride 2, padding 1: ⌊(8 + 2 − 3)/2⌋ + 1 = 4 (floor!)
            case(3, 5, 7, 4, 2, 3, 1, 2),          # non-square input and kernel, padding 2
            case(4, 4, 4, 2, 1, 1, 1, 0)]          # 1×1: mixing channels


def _multi_ref(x, w, b, stride, padding):
    out, _ = layers.conv2d_forward(x[None], w, b, stride, padding)     # (1, F, OH, OW)
    return out[0]


def _zeros(p: int) -> str:
    return "1 zero" if p == 1 else f"{p} zeros"


def _multi_hint(case, got, expected):
    x, w, b, s, p = case["x"], case["w"], case["b"], case["stride"], case["padding"]
    (_, h, wd), (f, _, kh, kw) = x.shape, w.shape
    shape = _shape(got)
    if shape is not None and shape != expected.shape:
        floor = (f, (h + 2 * p - kh) // s + 1, (wd + 2 * p - kw) // s + 1)
        if shape == (f, h + 2 * p - kh + 1, wd + 2 * p - kw + 1) and s > 1:
            return f"the stride is {s}: move the window {s} pixels at a time, OH = ⌊(H + 2p − KH)/s⌋ + 1"
        if shape == (f, (h - kh) // s + 1, (wd - kw) // s + 1) and p > 0:
            return f"pad the input with {_zeros(p)} on every side before sliding the window"
        if shape == (f, (h + p - kh) // s + 1, (wd + p - kw) // s + 1) and p > 0:
            return f"pad {_zeros(p)} on BOTH sides of each axis (top and bottom, left and right)"
        if shape == (f, -(-(h + 2 * p - kh) // s) + 1, -(-(wd + 2 * p - kw) // s) + 1):
            return "round down: a window that would hang over the edge is not used, OH = ⌊(H + 2p − KH)/s⌋ + 1"
        if len(shape) == 4 or (len(shape) == 3 and shape[0] == x.shape[0] and shape[0] != f):
            return "sum over the input channels: each filter gives ONE map, output (F, OH, OW)"
        return f"expected (F, OH, OW) = {floor}"
    if _same(got, expected - b[:, None, None]):
        return "add the bias b[f] to every value of map f"
    if _same(got, _multi_ref(x, w[:, :, ::-1, ::-1], b, s, p)):
        return "you flipped the kernel: deep-learning convolution is cross-correlation, use W as given"
    return None


# --------------------------------------------------------------------------- exercise 3: 1×1 convolution

def _mix_cases(rng):
    return [dict(x=rng.standard_normal((3, 4, 4)), w=rng.standard_normal((2, 3))),
            dict(x=rng.standard_normal((4, 5, 3)), w=rng.standard_normal((4, 4))),    # F = C: a transposed w still fits
            dict(x=rng.standard_normal((1, 2, 2)), w=rng.standard_normal((5, 1))),
            dict(x=rng.standard_normal((6, 3, 7)), w=rng.standard_normal((2, 6)))]


def _mix_ref(x, w):
    out, _ = layers.conv2d_forward(x[None], w[:, :, None, None], np.zeros(len(w)))   # (1, F, H, W)
    return out[0]


def _mix_hint(case, got, expected):
    x, w = case["x"], case["w"]
    if w.shape[0] == w.shape[1] and _same(got, _mix_ref(x, w.T)):
        return "w is (F, C): output map f is Σ_c w[f, c]·x[c], so row f of w mixes the channels (not column f)"
    if _shape(got) == x.shape and w.shape[0] != x.shape[0]:
        return f"the output has one map per row of w: (F, H, W) = {expected.shape}"
    return None


EXERCISES = [
    Exercise(name="conv2d_single", chapter="01", points=2, cases=_single_cases, reference=_single_ref,
             diagnose=_single_hint, forbidden=NUMPY_ONLY,
             description="cross-correlate one channel with one kernel, with loops"),
    Exercise(name="conv2d_multi", chapter="01", points=3, cases=_multi_cases, reference=_multi_ref,
             diagnose=_multi_hint, forbidden=NUMPY_ONLY,
             description="several channels and filters, with bias, stride and zero padding"),
    Exercise(name="conv1x1", chapter="01", points=1, cases=_mix_cases, reference=_mix_ref,
             diagnose=_mix_hint, forbidden=NUMPY_ONLY,
             description="a 1×1 convolution as per-pixel mixing of channels"),
]
