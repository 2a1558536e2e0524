"""Exercises of lesson 01: convolution by hand."""

from __future__ import annotations

import numpy as np

from cnnlab import layers
from cnnlab.checks import Exercise, Mistake
from cnnlab.checks.mistakes import Catalog
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

FLIPPED = Mistake(
    "kernel flipped",
    nudge="the size is right but the values are not: work out Y[0, 0] by hand from the formula and see "
          "which kernel entry meets which pixel",
    hint="you flipped the kernel by 180° (true convolution); in deep learning 'convolution' means "
         "cross-correlation, Y[i, j] = Σ X[i + m, j + n]·W[m, n] with W as given")

SINGLE = Catalog(
    off_by_one=Mistake(
        "size: off by one",
        nudge="the output is one row and one column off: count again how many positions a {kh}×{kw} kernel "
              "fits in (try a 5-pixel row and a 3-pixel kernel)",
        hint="off by one: a {kh}-row kernel fits at H − KH + 1 = {rows} positions down and W − KW + 1 = "
             "{cols} across"),
    padded=Mistake(
        "size: padded to the input's size",
        nudge="your output is as large as the input: where can the kernel sit near the border?",
        hint="no padding in this exercise: the kernel must lie entirely inside the image, so the output "
             "is (H − KH + 1, W − KW + 1), smaller than the input"),
    flipped=FLIPPED,
    transposed=Mistake(
        "kernel transposed",
        nudge="the size is right but the values are not: which index of W goes with the rows of X?",
        hint="rows and columns are swapped somewhere: W[m, n] multiplies X[i + m, j + n] (m down, n across)"),
)


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
    if shape == (h, wd) and shape != expected.shape:
        return SINGLE("padded")
    if shape in ((h - kh, wd - kw), (h - kh + 2, wd - kw + 2)) and shape != expected.shape:
        return SINGLE("off_by_one", kh=kh, kw=kw, rows=h - kh + 1, cols=wd - kw + 1)
    if _same(got, _single_ref(x, w[::-1, ::-1])):
        return SINGLE("flipped")
    if kh == kw and _same(got, _single_ref(x, w.T)):
        return SINGLE("transposed")
    return None


# --------------------------------------------------------------------------- exercise 2: channels and filters

MULTI = Catalog(
    stride_ignored=Mistake(
        "stride ignored",
        nudge="the output is too large when the stride is above 1: how far does the window move between "
              "two neighbouring outputs?",
        hint="the stride is {s}: move the window {s} pixels at a time, OH = ⌊(H + 2p − KH)/s⌋ + 1"),
    no_padding=Mistake(
        "padding missing",
        nudge="the output is too small when padding > 0: what surrounds the image before the window slides?",
        hint="pad the input with {zeros} on every side before sliding the window"),
    one_side=Mistake(
        "padding on one side only",
        nudge="with padding > 0 the output is too small or shifted: look at where your zeros go",
        hint="pad {zeros} on BOTH sides of each axis (top and bottom, left and right), so H becomes H + 2p"),
    round_up=Mistake(
        "size rounded up",
        nudge="there is one window too many along an axis: what happens to a window that does not fit?",
        hint="round down: a window that would hang over the edge is not used, OH = ⌊(H + 2p − KH)/s⌋ + 1"),
    channels=Mistake(
        "channels not summed",
        nudge="your output has a map per input channel (an extra axis): what happens to the channels?",
        hint="sum over the input channels as well: each filter gives ONE map, output (F, OH, OW)"),
    no_bias=Mistake(
        "bias missing",
        nudge="every value of a map is off by the same amount",
        hint="add the bias b[f] to every value of map f"),
    flipped=FLIPPED,
)


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


def _one_side_ref(x, w, b, stride, padding):
    """The convolution with ``padding`` zeros above and to the left only."""
    return _multi_ref(np.pad(x, ((0, 0), (padding, 0), (padding, 0))), w, b, stride, 0)


def conv_shape_mistake(catalog: Catalog, shape, want, hw, kernel, s, p):
    """The mistake a wrong (…, OH, OW) of a convolution points to, or None."""
    (h, wd), (kh, kw) = hw, kernel
    lead = tuple(want[:-2])
    if tuple(shape[:-2]) != lead:
        return None
    return catalog.unique({
        "stride_ignored": s > 1 and shape == lead + (h + 2 * p - kh + 1, wd + 2 * p - kw + 1),
        "no_padding": p > 0 and shape == lead + ((h - kh) // s + 1, (wd - kw) // s + 1),
        "one_side": p > 0 and shape == lead + ((h + p - kh) // s + 1, (wd + p - kw) // s + 1),
        "round_up": shape == lead + (-(-(h + 2 * p - kh) // s) + 1, -(-(wd + 2 * p - kw) // s) + 1),
    }, s=s, p=p, zeros=_zeros(p))


def _multi_hint(case, got, expected):
    x, w, b, s, p = case["x"], case["w"], case["b"], case["stride"], case["padding"]
    shape = _shape(got)
    if shape is not None and shape != expected.shape:
        if len(shape) == 4 and shape[:2] == (w.shape[0], x.shape[0]):
            return MULTI("channels")
        return conv_shape_mistake(MULTI, shape, expected.shape, x.shape[1:], w.shape[2:], s, p)
    if _same(got, expected - b[:, None, None]):
        return MULTI("no_bias")
    if _same(got, _multi_ref(x, w[:, :, ::-1, ::-1], b, s, p)):
        return MULTI("flipped")
    if p > 0 and _same(got, _one_side_ref(x, w, b, s, p)):
        return MULTI("one_side", p=p, zeros=_zeros(p))
    return None


# --------------------------------------------------------------------------- exercise 3: 1×1 convolution

MIX = Catalog(
    transposed=Mistake(
        "w transposed",
        nudge="with as many filters as channels the shape is right but the values are not: which index of "
              "w chooses the output map?",
        hint="w is (F, C): output map f is Σ_c w[f, c]·x[c], so ROW f of w mixes the channels (not column f)"),
    channels=Mistake(
        "channels not summed",
        nudge="your output has an extra axis: what happens to the C values of one pixel?",
        hint="sum over the channels: out[f] = Σ_c w[f, c]·x[c], one map per filter, shape (F, H, W)"),
    channels_last=Mistake(
        "channel axis last",
        nudge="the numbers are right but laid out differently: which axis comes first?",
        hint="the output is channels-first, (F, H, W): move the filter axis to the front "
             "(np.moveaxis(out, -1, 0)) or write the product so that it lands there"),
)


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
    shape = _shape(got)
    if shape == (w.shape[0],) + x.shape:
        return MIX("channels")
    if shape == expected.shape[1:] + expected.shape[:1] and _same(got, expected.transpose(1, 2, 0)):
        return MIX("channels_last")
    if w.shape[0] == w.shape[1] and _same(got, _mix_ref(x, w.T)):
        return MIX("transposed")
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

MISTAKES = {"conv2d_single": SINGLE, "conv2d_multi": MULTI, "conv1x1": MIX}
