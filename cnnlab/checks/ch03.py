"""Exercises of lesson 03: backprop through convolution and pooling."""

from __future__ import annotations

import numpy as np

from cnnlab import layers
from cnnlab.checks import Exercise
from cnnlab.checks.ch01 import NUMPY_ONLY, _same, _shape


def _parts(got, count: int) -> list | None:
    """``got`` as a list of ``count`` arrays, or None when it is not such a tuple."""
    if not isinstance(got, (tuple, list)) or len(got) != count:
        return None
    try:
        return [np.asarray(g, dtype=np.float64) for g in got]
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- exercise 1: conv backward

def _conv_cases(rng):
    def case(n, c, h, w, f, kh, kw, stride=1, padding=0):
        x, wt = rng.standard_normal((n, c, h, w)), rng.standard_normal((f, c, kh, kw))
        oh, ow = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
        return dict(dout=rng.standard_normal((n, f, oh, ow)), x=x, w=wt, stride=stride, padding=padding)
    return [case(1, 1, 5, 5, 1, 3, 3),         # one channel: the lesson's picture
            case(2, 3, 6, 6, 4, 3, 3),         # a batch, several channels and filters
            case(2, 2, 5, 7, 3, 2, 3),         # non-square input and kernel
            case(1, 2, 6, 6, 2, 3, 3, padding=1),
            case(2, 2, 7, 7, 3, 3, 3, stride=2, padding=1),
            case(3, 1, 4, 4, 2, 1, 1)]         # 1×1 kernel


def _conv_ref(dout, x, w, stride, padding):
    b = np.zeros(len(w))
    _, cache = layers.conv2d_forward(x, w, b, stride, padding)
    return layers.conv2d_backward(dout, cache)


def _dx_by_full_conv(dout, w, padding, rotate):
    """dx of a stride-1 conv as the full convolution of dout with w, rotated 180° or not."""
    kh, kw = w.shape[2:]
    kernel = w[:, :, ::-1, ::-1] if rotate else w
    full, _ = layers.conv2d_forward(dout, kernel.transpose(1, 0, 2, 3).copy(), np.zeros(w.shape[1]),
                                    padding=(kh - 1, kw - 1))                       # (N, C, H+2p, W+2p)
    h, wd = full.shape[2] - 2 * padding, full.shape[3] - 2 * padding
    return full[:, :, padding:padding + h, padding:padding + wd]


def _conv_hint(case, got, expected):
    dout, x, w = case["dout"], case["x"], case["w"]
    if isinstance(got, (tuple, list)) and len(got) == 2:
        return "return (dx, dw, db): the bias gradient db is missing"
    parts = _parts(got, 3)
    if parts is None:
        return None
    dx, dw, db = parts
    if case["stride"] == 1 and _same(dx, _dx_by_full_conv(dout, w, case["padding"], rotate=False)):
        return ("dx is the FULL convolution of dout with the kernel ROTATED by 180°; you used the kernel "
                "as it is (forgot the flip)")
    if _same(dw, expected[1]) and _same(dx, expected[0]) and not _same(db, expected[2]):
        if _shape(db) == (dout.shape[0], dout.shape[1]):
            return "db sums over the batch as well as over the positions: shape (F,)"
        return "db[f] is the sum of dout[:, f] over the batch and every position (the bias is added everywhere)"
    if _same(dx, expected[0]) and not _same(dw, expected[1]):
        first = _conv_ref(dout[:1], x[:1], w, case["stride"], case["padding"])[1]
        if x.shape[0] > 1 and _same(dw, first):
            return "the filter is shared by every image too: sum dw over the whole batch"
        return "dw accumulates window ⊗ dout over EVERY position where the filter was applied"
    return None


# --------------------------------------------------------------------------- exercise 2: max-pool forward

def _overlapping_max(rng, shape, stride):
    """Random x with a clear maximum in a cell shared by several windows (when they overlap)."""
    x = rng.standard_normal(shape)
    x[..., stride, stride] = 10.0          # inside windows 0 and 1 along both axes when stride < kernel
    return x


def _pool_cases(rng):
    def case(shape, k, s):
        return dict(x=_overlapping_max(rng, shape, s), kernel_size=k, stride=s)
    return [case((1, 1, 4, 4), 2, 2),
            case((2, 3, 6, 6), 2, 2),
            case((1, 2, 5, 5), 2, 2),          # 5 is not divisible: ⌊(5 − 2)/2⌋ + 1 = 2
            case((1, 1, 7, 7), 3, 2),          # overlapping windows
            case((2, 2, 5, 6), 2, 1),          # heavily overlapping, non-square
            case((1, 1, 6, 4), 3, 3)]


def _maxpool_ref(x, kernel_size, stride):
    return layers.maxpool2d_forward(x, kernel_size, stride)[0]


def _pool_shape_hint(got_shape, x_shape, k, s):
    h, w = x_shape[2:]
    if got_shape == x_shape[:2] + ((h - k) // s, (w - k) // s):
        return "off by one: there are ⌊(H − K)/S⌋ + 1 windows along each axis"
    if got_shape == x_shape[:2] + (-(-(h - k) // s) + 1, -(-(w - k) // s) + 1):
        return "round down: a window that would stick out of the input is dropped"
    if got_shape == x_shape[:2] + (h // k, w // k) and s != k:
        return f"the stride is {s}, not the window size {k}: windows may overlap"
    return None


def _maxpool_hint(case, got, expected):
    x, k, s = case["x"], case["kernel_size"], case["stride"]
    shape = _shape(got)
    if shape is not None and shape != expected.shape:
        return _pool_shape_hint(shape, x.shape, k, s)
    if _same(got, layers.avgpool2d_forward(x, k, s)[0]):
        return "take the largest value of each window, not the mean"
    return None


# --------------------------------------------------------------------------- exercise 3: max-pool backward

def _maxpool_back_cases(rng):
    cases = []
    for x_case in _pool_cases(rng):
        out = _maxpool_ref(**x_case)
        cases.append(dict(dout=rng.standard_normal(out.shape), **x_case))
    return cases


def _maxpool_back_ref(dout, x, kernel_size, stride):
    _, cache = layers.maxpool2d_forward(x, kernel_size, stride)
    return layers.maxpool2d_backward(dout, cache)


def _window_routes(dout, x, k, s, share):
    """Send each window's gradient back by ``share(window, g)`` and either add or overwrite."""
    added, overwritten = np.zeros_like(x), np.zeros_like(x)
    for n, c, i, j in np.ndindex(dout.shape):
        window = (n, c, slice(i * s, i * s + k), slice(j * s, j * s + k))
        part = share(x[window], dout[n, c, i, j])
        added[window] += part
        overwritten[window] = np.where(part != 0, part, overwritten[window])
    return added, overwritten


def _max_share(window, g):
    part = np.zeros_like(window)
    part[np.unravel_index(np.argmax(window), window.shape)] = g
    return part


def _maxpool_back_hint(case, got, expected):
    dout, x, k, s = case["dout"], case["x"], case["kernel_size"], case["stride"]
    if _shape(got) != x.shape:
        return f"dx has the shape of x, {x.shape}"
    _, overwritten = _window_routes(dout, x, k, s, _max_share)
    if _same(got, overwritten):
        return ("overlapping windows: a value that is the max of several windows gets the SUM of their "
                "gradients; use += instead of =")
    if _same(got, _window_routes(dout, x, k, s, lambda window, g: np.full_like(window, g / window.size))[0]):
        return "max pooling sends the whole gradient to the argmax only, it does not spread it"
    if _same(got, _window_routes(dout, x, k, s, lambda window, g: np.full_like(window, g))[0]):
        return "only the element that was the max gets the gradient; the others did not affect the output"
    return None


# --------------------------------------------------------------------------- exercise 4: avg-pool backward

def _avg_back_cases(rng):
    def case(shape, k, s):
        oh, ow = (shape[2] - k) // s + 1, (shape[3] - k) // s + 1
        return dict(dout=rng.standard_normal(shape[:2] + (oh, ow)), x_shape=shape, kernel_size=k, stride=s)
    return [case((1, 1, 4, 4), 2, 2), case((2, 3, 6, 6), 2, 2), case((1, 2, 5, 5), 2, 2),
            case((1, 1, 7, 7), 3, 2), case((2, 2, 5, 6), 2, 1), case((1, 1, 6, 3), 3, 3)]


def _avg_back_ref(dout, x_shape, kernel_size, stride):
    _, cache = layers.avgpool2d_forward(np.zeros(x_shape), kernel_size, stride)
    return layers.avgpool2d_backward(dout, cache)


def _avg_back_hint(case, got, expected):
    dout, shape, k, s = case["dout"], case["x_shape"], case["kernel_size"], case["stride"]
    if _shape(got) != tuple(shape):
        return f"dx has the shape of x, {tuple(shape)}"
    if _same(np.asarray(got, dtype=np.float64) / (k * k), expected):
        return f"each of the {k}×{k} = {k * k} entries of a window gets 1/{k * k} of its gradient: divide"
    if _same(np.asarray(got, dtype=np.float64) / k, expected):
        return f"a {k}×{k} window has {k * k} entries, not {k}: divide by KH·KW"
    _, overwritten = _window_routes(dout, np.ones(shape), k, s, lambda window, g: np.full_like(window, g / window.size))
    if _same(got, overwritten):
        return "overlapping windows: an entry in several windows gets the sum of their shares; use +="
    return None


EXERCISES = [
    Exercise(name="conv_backward", chapter="03", points=4, cases=_conv_cases, reference=_conv_ref,
             diagnose=_conv_hint, forbidden=NUMPY_ONLY,
             description="gradients of a convolution: dx, dw, db"),
    Exercise(name="maxpool_forward", chapter="03", points=2, cases=_pool_cases, reference=_maxpool_ref,
             diagnose=_maxpool_hint, forbidden=NUMPY_ONLY,
             description="max pooling with any window and stride"),
    Exercise(name="maxpool_backward", chapter="03", points=3, cases=_maxpool_back_cases,
             reference=_maxpool_back_ref, diagnose=_maxpool_back_hint, forbidden=NUMPY_ONLY,
             description="gradient of max pooling, overlapping windows included"),
    Exercise(name="avgpool_backward", chapter="03", points=2, cases=_avg_back_cases, reference=_avg_back_ref,
             diagnose=_avg_back_hint, forbidden=NUMPY_ONLY,
             description="gradient of average pooling"),
]
