"""Exercises of lesson 03: backprop through convolution and pooling, layer by layer, and a capstone
that assembles the learner's own layers into a NumPy CNN and trains it.

The capstone has two graded parts. ``cnn_loss`` (forward and backward pass of
conv → ReLU → max-pool → linear → softmax cross-entropy, built from the learner's layer cells)
is judged on gradient agreement: its gradients, and the gradient flowing back between the
layers, must agree with the reference's; the first place where they stop agreeing names the
layer to fix. ``train_cnn`` is judged on what it achieves: the checker draws a fresh training set
(a random subset of the bundled Fashion-MNIST sample, with pixel noise, and the ten labels
shuffled by a permutation only the checker's process can work out), the learner's
code trains on it and returns the weights, and the checker measures their accuracy on the
sample's 1,000 test images, whose labels never reach the learner's code. Weights trained
elsewhere cannot pass: they answer with the classes' old numbers.

Quick mode (``CNNLAB_QUICK=1``, the test run) draws 1,500 training images for 2 epochs and asks
for 70 %; the full check draws 5,000 for 3 epochs and asks for 80 %, the target of the exercise.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from functools import lru_cache

import numpy as np

from cnnlab import layers, quick_mode
from cnnlab.checks import Exercise, Mistake, Verdict, compare
from cnnlab.checks.ch01 import FLIPPED, MULTI, NUMPY_ONLY, _same, _shape, _zeros, conv_shape_mistake
from cnnlab.checks.mistakes import Catalog

CAPSTONE_FORBIDDEN = ("torch", "scipy", "cnnlab")   # the capstone is NumPy and the learner's own layers


def _parts(got, count: int) -> list | None:
    """``got`` as a list of ``count`` arrays, or None when it is not such a tuple."""
    if not isinstance(got, (tuple, list)) or len(got) != count:
        return None
    try:
        return [np.asarray(g, dtype=np.float64) for g in got]
    except (TypeError, ValueError):
        return None


def _shared(shape, k: int, s: int, p: int = 0) -> np.ndarray:
    """True at the pixels of an (N, C, H, W) input that lie in more than one pooling window."""
    out, cache = layers.avgpool2d_forward(np.zeros(shape), k, s, p)
    counts = layers.avgpool2d_backward(np.full(out.shape, float(k * k)), cache)   # each window adds 1
    return counts > 1.5


def _only_shared_differ(got, expected, shared: np.ndarray) -> bool:
    """The answer is right on pixels in one window and wrong on some in several: overlaps mishandled."""
    got = np.asarray(got, dtype=np.float64)
    if got.shape != expected.shape:
        return False
    close = np.isclose(got, expected, rtol=1e-6, atol=1e-8)
    return bool(close[~shared].all() and not close[shared].all())


# --------------------------------------------------------------------------- exercise 1: conv backward

CONV_BACK = Catalog(
    not_rotated=Mistake(
        "dx: kernel not rotated",
        nudge="dx is wrong although its shape is right: which kernel entry did input pixel (a, b) meet at "
              "output (i, j)?",
        hint="dx is the FULL convolution of dout with the kernel ROTATED by 180°; you used the kernel as it is. "
             "Output (i, j) used pixel (i·s + m, j·s + q) with kernel entry (m, q): send dout back along the "
             "same pairs"),
    db_missing=Mistake(
        "db: missing",
        nudge="look at the third thing you return",
        hint="return (dx, dw, db): db[f] is the sum of dout[:, f] over the batch and every position "
             "(the bias was added everywhere)"),
    db_batch=Mistake(
        "db: not summed over the batch",
        nudge="db has shape (N, F): one bias is shared by every image",
        hint="db sums over the batch as well as over the positions: dout.sum(axis=(0, 2, 3)), shape (F,)"),
    db_positions=Mistake(
        "db: positions not summed",
        nudge="db has an (OH, OW) part: the bias is one number per filter",
        hint="the bias is added at every position, so its gradient sums dout over OH and OW as well as N: "
             "dout.sum(axis=(0, 2, 3))"),
    dw_first_image=Mistake(
        "dw: first image only",
        nudge="dw is right for a batch of one image but not for larger batches",
        hint="the filter is shared by every image too: sum dw over the whole batch"),
    stride_ignored=Mistake(
        "stride ignored in the backward pass",
        nudge="dx and dw are right when the stride is 1 and wrong when it is {s}: which pixels did the "
              "forward pass visit?",
        hint="with stride {s}, output (i, j) saw the window starting at (i·{s}, j·{s}): step through the "
             "input {s} pixels at a time in the backward pass too"),
    not_cropped=Mistake(
        "dx: padding not cropped",
        nudge="dx has shape {got}, x has shape {want}",
        hint="dx is the gradient of x, not of the padded x: drop the {p} padded rows and columns on each side"),
)


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


def _conv_back_unit_steps(dout, x, w, padding):
    """dx and dw of a strided conv computed as if the stride were 1 on the same dout."""
    kh, kw = w.shape[2:]
    oh, ow = dout.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + oh, j:j + ow]                             # (N, C, OH, OW)
            dw[:, :, i, j] = np.einsum("nfab,ncab->fc", dout, patch)
            dxp[:, :, i:i + oh, j:j + ow] += np.einsum("nfab,fc->ncab", dout, w[:, :, i, j])
    return dxp[:, :, padding:padding + x.shape[2], padding:padding + x.shape[3]], dw


def _conv_hint(case, got, expected):
    dout, x, w, s, p = case["dout"], case["x"], case["w"], case["stride"], case["padding"]
    if isinstance(got, (tuple, list)) and len(got) == 2:
        return CONV_BACK("db_missing")
    parts = _parts(got, 3)
    if parts is None:
        return None
    dx, dw, db = parts
    if dx.shape != x.shape:
        padded = x.shape[:2] + (x.shape[2] + 2 * p, x.shape[3] + 2 * p)
        return CONV_BACK("not_cropped", got=dx.shape, want=x.shape, p=p) if p and dx.shape == padded else None
    if s == 1 and _same(dx, _dx_by_full_conv(dout, w, p, rotate=False)) and not _same(dx, expected[0]):
        return CONV_BACK("not_rotated")
    if s > 1:
        unit_dx, unit_dw = _conv_back_unit_steps(dout, x, w, p)
        if _same(dx, unit_dx) or _same(dw, unit_dw):
            return CONV_BACK("stride_ignored", s=s)
    if _same(dx, expected[0]) and _same(dw, expected[1]):
        if db.shape == (dout.shape[0], dout.shape[1]):
            return CONV_BACK("db_batch")
        if db.shape == dout.shape[1:]:
            return CONV_BACK("db_positions")
        if db.shape == expected[2].shape and not db.any():
            return CONV_BACK("db_missing")
        return None
    if _same(dx, expected[0]) and x.shape[0] > 1:
        first = _conv_ref(dout[:1], x[:1], w, s, p)[1]
        if _same(dw, first):
            return CONV_BACK("dw_first_image")
    return None


# --------------------------------------------------------------------------- exercise 2: max-pool forward

POOL = Catalog(
    off_by_one=Mistake(
        "size: off by one",
        nudge="one window short along each axis: count the positions a window fits in again",
        hint="there are ⌊(H − K)/S⌋ + 1 windows along each axis: count the first one too"),
    round_up=Mistake(
        "size rounded up",
        nudge="one window too many where the size does not divide evenly: what happens to a window that "
              "sticks out?",
        hint="round down: a window that would stick out of the input is dropped, OH = ⌊(H − K)/S⌋ + 1"),
    stride_is_kernel=Mistake(
        "stride taken as the window size",
        nudge="the sizes are wrong only when the stride differs from the window: how far apart are two windows?",
        hint="the stride is {s}, not the window size {k}: windows start {s} pixels apart and may overlap"),
    mean=Mistake(
        "mean instead of max",
        nudge="the sizes are right and your values lie inside each window's range, yet they are not its "
              "largest value",
        hint="max pooling keeps the LARGEST value of each window, not the mean"),
)


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


def _maxpool_hint(case, got, expected):
    x, k, s = case["x"], case["kernel_size"], case["stride"]
    shape = _shape(got)
    if shape is not None and shape != expected.shape:
        lead, (h, w) = x.shape[:2], x.shape[2:]
        return POOL.unique({
            "off_by_one": shape == lead + ((h - k) // s, (w - k) // s),
            "round_up": shape == lead + (-(-(h - k) // s) + 1, -(-(w - k) // s) + 1),
            "stride_is_kernel": s != k and shape == lead + ((h - k) // k + 1, (w - k) // k + 1),
        }, s=s, k=k)
    if _same(got, layers.avgpool2d_forward(x, k, s)[0]):
        return POOL("mean")
    return None


# --------------------------------------------------------------------------- exercise 3: max-pool backward

MAX_BACK = Catalog(
    overlaps=Mistake(
        "overlapping windows overwrite",
        nudge="right wherever windows do not overlap, wrong at some pixels that several windows share",
        hint="overlapping windows: a value that is the max of several windows gets the SUM of their "
             "gradients; add (+=) instead of assigning (=)"),
    spread=Mistake(
        "gradient spread over the window",
        nudge="every entry of a window gets part of its gradient: which entries changed the window's output?",
        hint="max pooling sends the whole gradient to the window's max only (that is average pooling's rule)"),
    copied=Mistake(
        "gradient copied to the whole window",
        nudge="every entry of a window gets the window's full gradient: which entries changed its output?",
        hint="only the element that was the max gets the gradient; nudging the others did not change the output"),
)


def _maxpool_back_cases(rng):
    cases = []
    for x_case in _pool_cases(rng):
        out = _maxpool_ref(**x_case)
        cases.append(dict(dout=rng.standard_normal(out.shape), **x_case))
    return cases


def _maxpool_back_ref(dout, x, kernel_size, stride):
    _, cache = layers.maxpool2d_forward(x, kernel_size, stride)
    return layers.maxpool2d_backward(dout, cache)


def _spread_back(dout, shape, k, s, share):
    """Each window's gradient given to every entry of the window, times ``share``."""
    _, cache = layers.avgpool2d_forward(np.zeros(shape), k, s)
    return layers.avgpool2d_backward(dout * (k * k) * share, cache)


def _maxpool_back_hint(case, got, expected):
    dout, x, k, s = case["dout"], case["x"], case["kernel_size"], case["stride"]
    if _shape(got) != x.shape:
        return None
    if _only_shared_differ(got, expected, _shared(x.shape, k, s)):
        return MAX_BACK("overlaps")
    if _same(got, _spread_back(dout, x.shape, k, s, 1 / (k * k))):
        return MAX_BACK("spread")
    if _same(got, _spread_back(dout, x.shape, k, s, 1.0)):
        return MAX_BACK("copied")
    return None


# --------------------------------------------------------------------------- exercise 4: avg-pool backward

AVG_BACK = Catalog(
    not_divided=Mistake(
        "share not divided",
        nudge="your gradient is {area} times too large everywhere",
        hint="each of the {k}×{k} = {area} entries of a window gets 1/{area} of its gradient: divide by KH·KW"),
    divided_by_k=Mistake(
        "divided by K, not K·K",
        nudge="your gradient is {k} times too large everywhere",
        hint="a {k}×{k} window has {area} entries, not {k}: divide by KH·KW"),
    overlaps=Mistake(
        "overlapping windows overwrite",
        nudge="right wherever windows do not overlap, wrong at pixels that several windows share",
        hint="overlapping windows: an entry in several windows gets the sum of their shares; add (+=) "
             "instead of assigning (=)"),
    not_cropped=Mistake(
        "dx: padding not cropped",
        nudge="dx has shape {got}, x has shape {want}",
        hint="the padding is not part of x: drop the {p} padded rows and columns on each side of dx"),
    padding_not_counted=Mistake(
        "padding left out of the count",
        nudge="right in the middle of the image, wrong next to its border",
        hint="the window's mean divides by K·K = {area} even where it covers padding (zeros count, torch's "
             "count_include_pad=True): every entry gets 1/{area}, at the border too"),
)


def _avg_back_cases(rng):
    def case(shape, k, s, p=0):
        oh, ow = (shape[2] + 2 * p - k) // s + 1, (shape[3] + 2 * p - k) // s + 1
        return dict(dout=rng.standard_normal(shape[:2] + (oh, ow)), x_shape=shape, kernel_size=k, stride=s,
                    padding=p)
    return [case((1, 1, 4, 4), 2, 2), case((2, 3, 6, 6), 2, 2), case((1, 2, 5, 5), 2, 2),
            case((1, 1, 7, 7), 3, 2), case((2, 2, 5, 6), 2, 1), case((1, 1, 6, 3), 3, 3),
            case((1, 2, 4, 4), 2, 2, p=1),              # padding: the border windows are half zeros
            case((2, 1, 5, 6), 3, 2, p=1),              # padding and overlapping windows
            case((1, 1, 6, 6), 3, 1, p=1)]              # "same" average pooling


def _avg_back_ref(dout, x_shape, kernel_size, stride, padding):
    _, cache = layers.avgpool2d_forward(np.zeros(x_shape), kernel_size, stride, padding)
    return layers.avgpool2d_backward(dout, cache)


def _real_pixels_back(dout, shape, k, s, p):
    """The gradient when each window divides by its number of real (unpadded) pixels."""
    ones = np.ones(shape)
    _, cache = layers.avgpool2d_forward(ones, k, s, p)
    counts = layers.avgpool2d_forward(ones, k, s, p)[0] * (k * k)           # real pixels per window
    return layers.avgpool2d_backward(dout * (k * k) / counts, cache)


def _avg_back_hint(case, got, expected):
    dout, shape, k, s, p = (case[key] for key in ("dout", "x_shape", "kernel_size", "stride", "padding"))
    shape = tuple(shape)
    got_shape = _shape(got)
    if got_shape != shape:
        padded = shape[:2] + (shape[2] + 2 * p, shape[3] + 2 * p)
        return AVG_BACK("not_cropped", got=got_shape, want=shape, p=p) if p and got_shape == padded else None
    got = np.asarray(got, dtype=np.float64)
    area = k * k
    if _same(got / area, expected):
        return AVG_BACK("not_divided", k=k, area=area)
    if _same(got / k, expected):
        return AVG_BACK("divided_by_k", k=k, area=area)
    if p and _same(got, _real_pixels_back(dout, shape, k, s, p)):
        return AVG_BACK("padding_not_counted", area=area)
    if _only_shared_differ(got, expected, _shared(shape, k, s, p)):
        return AVG_BACK("overlaps")
    return None


# --------------------------------------------------------------------------- exercise 5: ReLU backward

RELU = Catalog(
    mask_from_dout=Mistake(
        "mask taken from dout",
        nudge="your gradient is zero in places where x was positive",
        hint="which entries pass the gradient depends on the forward input x (x > 0), not on the sign of dout"),
    times_input=Mistake(
        "multiplied by the input",
        nudge="your gradient grows with the size of x: how steep is max(0, x) where x > 0?",
        hint="the derivative of ReLU is 1 where x > 0 and 0 elsewhere: multiply dout by the mask (x > 0), "
             "not by x or by ReLU(x)"),
    at_zero=Mistake(
        "gradient passed at x = 0",
        nudge="right everywhere except where x is exactly 0",
        hint="at x = 0 the gradient is 0 (torch's convention, and ReLU's output does not grow there): use x > 0, "
             "not x >= 0"),
    mask_only=Mistake(
        "dout not applied",
        nudge="your gradient holds only 0s and 1s: what about the gradient arriving from above?",
        hint="chain rule: dx = dout · ReLU'(x), so multiply the mask (x > 0) by dout"),
    inverted=Mistake(
        "mask inverted",
        nudge="the gradient comes through exactly where it should be blocked",
        hint="ReLU passes the gradient where x > 0 (where it let x through) and blocks it where x < 0"),
)


def _relu_cases(rng):
    def case(shape):
        x = rng.standard_normal(shape)
        x[rng.random(shape) < 0.2] = 0.0                       # exact zeros: the kink
        return dict(dout=rng.standard_normal(shape), x=x)
    return [case((4, 5)), case((2, 3, 4, 4)), case((7,)), case((1, 2, 3, 3))]


def _relu_ref(dout, x):
    return layers.relu_backward(dout, layers.relu_forward(x)[1])


def _relu_hint(case, got, expected):
    dout, x = case["dout"], case["x"]
    return RELU.unique({
        "mask_from_dout": _same(got, dout * (dout > 0)),
        "times_input": _same(got, dout * np.maximum(x, 0)) or _same(got, dout * x),
        "at_zero": _same(got, dout * (x >= 0)),
        "mask_only": _same(got, (x > 0).astype(np.float64)),
        "inverted": _same(got, dout * (x < 0)) or _same(got, dout * (x <= 0)),
    })


# --------------------------------------------------------------------------- exercise 6: linear backward

LINEAR = Catalog(
    dx_flat=Mistake(
        "dx: not reshaped to x's shape",
        nudge="dx has shape {got}, x has shape {want}",
        hint="the layer flattened x to (N, D) on the way in; give dx the shape of x on the way back "
             "(.reshape(x.shape))"),
    dx_w_transposed=Mistake(
        "dx: w transposed",
        nudge="dx is wrong although its shape is right here (w is square): check the shapes on paper "
              "with w (M, D) and dout (N, M)",
        hint="out = x·wᵀ + b, so dx = dout · w: (N, M)·(M, D) = (N, D), not dout · wᵀ"),
    dw_transposed=Mistake(
        "dw: transposed",
        nudge="dw has the shape of wᵀ (or its transpose's values): w is (M, D)",
        hint="dw = doutᵀ · x, shape (M, D) like w: (M, N)·(N, D)"),
    db_not_summed=Mistake(
        "db: not summed over the batch",
        nudge="db has a row per image: the bias is shared by the batch",
        hint="every image adds b, so db sums dout over the batch: dout.sum(axis=0), shape (M,)"),
    averaged=Mistake(
        "dw, db: divided by the batch size",
        nudge="dw and db are N times too small",
        hint="the loss already averages over the batch (its gradient carries the 1/N), so the layer sums: "
             "dw = doutᵀ·x and db = Σ dout, without dividing by N again"),
)


def _linear_cases(rng):
    def case(x_shape, m):
        d = int(np.prod(x_shape[1:]))
        return dict(dout=rng.standard_normal((x_shape[0], m)), x=rng.standard_normal(x_shape),
                    w=rng.standard_normal((m, d)))
    return [case((4, 6), 3), case((3, 2, 3, 3), 5),         # images: flattened on the way in
            case((5, 4), 4),                                # square w: a transposed w still fits
            case((1, 7), 2), case((2, 3, 2, 2), 10)]


def _linear_ref(dout, x, w):
    flat, unflatten = layers.flatten_forward(x)                        # (N, D)
    _, cache = layers.linear_forward(flat, w, np.zeros(len(w)))
    dflat, dw, db = layers.linear_backward(dout, cache)
    return layers.flatten_backward(dflat, unflatten), dw, db


def _linear_hint(case, got, expected):
    dout, x, w = case["dout"], case["x"], case["w"]
    parts = _parts(got, 3)
    if parts is None:
        return None
    dx, dw, db = parts
    want_dx, want_dw, want_db = expected
    n = x.shape[0]
    if dx.shape == (n, w.shape[1]) and x.ndim > 2:
        return LINEAR("dx_flat", got=dx.shape, want=x.shape)
    if w.shape[0] == w.shape[1] and _same(dx, (dout @ w.T).reshape(x.shape)):
        return LINEAR("dx_w_transposed")
    if dw.shape == want_dw.T.shape and dw.shape != want_dw.shape or _same(dw, want_dw.T):
        return LINEAR("dw_transposed")
    if db.shape == dout.shape and db.shape != want_db.shape:
        return LINEAR("db_not_summed")
    if n > 1 and _same(dw, want_dw / n) and _same(db, want_db / n):
        return LINEAR("averaged")
    return None


# --------------------------------------------------------------------------- exercise 7: softmax cross-entropy

SOFTMAX = Catalog(
    overflow=Mistake(
        "overflow: max not subtracted",
        nudge="your answer is nan or inf for the batch with logits near 1,000: what is e^1000 in float64?",
        hint="e^z overflows for z above about 709; subtract each row's max from its logits first (softmax "
             "does not change), so the largest exponent is e^0 = 1"),
    log_underflow=Mistake(
        "log of an underflowed probability",
        nudge="the loss is inf for a row whose correct class scores far below the best one",
        hint="a probability like e^−800 rounds to 0 and log(0) = −inf; compute log-softmax directly, "
             "z − max − log Σ e^(z − max), instead of taking the log of the probabilities"),
    loss_summed=Mistake(
        "loss: summed, not averaged",
        nudge="the loss is N times too large",
        hint="the loss is the MEAN of −log p[y] over the batch, so that its size does not depend on N"),
    grad_not_divided=Mistake(
        "dlogits: not divided by N",
        nudge="the loss is right and dlogits is N times too large",
        hint="the loss is a mean over N rows, so each row's gradient (softmax − one_hot) carries a factor 1/N"),
    no_one_hot=Mistake(
        "dlogits: one-hot not subtracted",
        nudge="every entry of dlogits is positive: which logit should the loss push up?",
        hint="dloss/dz = softmax(z) − one_hot(y) (then / N): subtract 1 at the correct class"),
    sign=Mistake(
        "dlogits: sign flipped",
        nudge="dlogits has the right size but points the other way",
        hint="dloss/dz = (softmax − one_hot(y)) / N: the correct class's entry is negative (raising its "
             "logit lowers the loss)"),
)


def _softmax_cases(rng):
    def case(n, k, scale=1.0):
        return dict(logits=rng.standard_normal((n, k)) * scale, y=rng.integers(0, k, n))
    huge = case(3, 4)
    huge["logits"] = huge["logits"] + 1000.0                           # e^1000 overflows
    gap = case(2, 3)
    gap["logits"][0] = [-400.0, 400.0, 0.0] + rng.standard_normal(3)   # e^−800 rounds to 0
    gap["y"][0] = 0
    return [case(4, 5), case(3, 10, scale=5.0), case(2, 2), huge, gap, case(6, 4, scale=0.1)]


def _softmax_ref(logits, y):
    return layers.softmax_cross_entropy(logits, y)


def _softmax_hint(case, got, expected):
    logits, y = case["logits"], case["y"]
    parts = _parts(got, 2)
    if parts is None:
        return None
    loss, dlogits = parts
    n = len(y)
    with np.errstate(all="ignore"):
        if not (np.isfinite(loss).all() and np.isfinite(dlogits).all()):
            shifted = logits - logits.max(axis=1, keepdims=True)
            probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
            return SOFTMAX.unique({
                "overflow": bool(np.isinf(np.exp(logits)).any()),
                "log_underflow": bool((probs[np.arange(n), y] == 0).any()),
            })
    want_loss, want_d = expected
    if not np.isclose(loss, want_loss, rtol=1e-6):
        return SOFTMAX("loss_summed") if n > 1 and np.isclose(loss, n * want_loss, rtol=1e-6) else None
    softmax = want_d * n
    softmax[np.arange(n), y] += 1
    return SOFTMAX.unique({
        "grad_not_divided": n > 1 and _same(dlogits, want_d * n),
        "no_one_hot": _same(dlogits, softmax / n),
        "sign": _same(dlogits, -want_d),
    })


# --------------------------------------------------------------------------- exercise 8: conv forward, fast

CONV = Catalog(
    stride_ignored=MULTI["stride_ignored"],
    no_padding=MULTI["no_padding"],
    one_side=MULTI["one_side"],
    round_up=MULTI["round_up"],
    channels=Mistake(
        "channels not summed",
        nudge="your output has a map per input channel (an extra axis): what happens to the channels?",
        hint="sum over the input channels as well: each filter gives ONE map, output (N, F, OH, OW)"),
    no_bias=MULTI["no_bias"],
    flipped=FLIPPED,
)


def _fast_conv_cases(rng):
    def case(n, c, h, w, f, kh, kw, stride, padding):
        return dict(x=rng.standard_normal((n, c, h, w)), w=rng.standard_normal((f, c, kh, kw)),
                    b=rng.standard_normal(f), stride=stride, padding=padding)
    return [case(2, 1, 5, 5, 2, 3, 3, 1, 0), case(3, 3, 6, 6, 2, 3, 3, 1, 1),
            case(2, 2, 7, 7, 3, 3, 3, 2, 0), case(1, 2, 8, 8, 2, 3, 3, 2, 1),
            case(2, 3, 5, 7, 4, 2, 3, 1, 2), case(4, 1, 28, 28, 8, 3, 3, 1, 1)]   # the capstone's first layer


def _fast_conv_ref(x, w, b, stride, padding):
    return layers.conv2d_forward(x, w, b, stride, padding)[0]


def _fast_conv_hint(case, got, expected):
    x, w, b, s, p = case["x"], case["w"], case["b"], case["stride"], case["padding"]
    shape = _shape(got)
    if shape is not None and shape != expected.shape:
        if len(shape) == 5 and shape[:3] == (x.shape[0], w.shape[0], x.shape[1]):
            return CONV("channels")
        return conv_shape_mistake(CONV, shape, expected.shape, x.shape[2:], w.shape[2:], s, p)
    if _same(got, expected - b[None, :, None, None]):
        return CONV("no_bias")
    if _same(got, _fast_conv_ref(x, w[:, :, ::-1, ::-1].copy(), b, s, p)):
        return CONV("flipped")
    if p and _same(got, _fast_conv_ref(np.pad(x, ((0, 0), (0, 0), (p, 0), (p, 0))), w, b, s, 0)):
        return CONV("one_side", p=p, zeros=_zeros(p))
    return None


# --------------------------------------------------------------------------- capstone 1: loss and gradients

GRADS = ("dw1", "db1", "dw2", "db2")
SHAPE_OF_ANSWER = "return (loss, (dw1, db1, dw2, db2), (scores, d_scores, d_pooled, d_act, d_conv))"

CNN = Catalog(
    forward=Mistake(
        "forward pass: scores differ",
        nudge="the scores already differ, so the forward pass goes wrong before any gradient is computed: "
              "check each layer's output shape",
        hint="scores = flatten(maxpool(ReLU(conv(x, w1, b1, stride 1, padding K // 2)), 2×2, stride 2)) · w2ᵀ "
             "+ b2, flattened in (F, H, W) order with reshape(N, −1)"),
    loss=Mistake(
        "loss differs",
        nudge="the scores are right but the loss is not",
        hint="the loss is softmax_cross_entropy(scores, y): the mean over the batch of −log softmax(scores)[y]"),
    d_scores=Mistake(
        "softmax_cross_entropy: d_scores",
        nudge="the loss is right but the gradient leaving it, d_scores, is not",
        hint="d_scores = (softmax(scores) − one_hot(y)) / N, the second value softmax_cross_entropy returns"),
    d_pooled=Mistake(
        "linear_backward: d_pooled",
        nudge="the gradient is right at d_scores and wrong one step further back, at d_pooled",
        hint="d_pooled is linear_backward's dx: d_scores · w2, in the pooled maps' shape (N, F, H/2, W/2); "
             "check the arguments you give it (upstream d_scores, input pooled, weights w2) and its dx"),
    d_act=Mistake(
        "maxpool_backward: d_act",
        nudge="the gradient is right at d_pooled and wrong after going back through the max pool, at d_act",
        hint="d_act = maxpool_backward(d_pooled, act, 2, 2): each window's gradient goes to the largest entry of "
             "the ReLU output that maxpool_forward saw, and nowhere else"),
    d_conv=Mistake(
        "relu_backward: d_conv",
        nudge="the gradient is right at d_act and wrong after going back through the ReLU, at d_conv",
        hint="d_conv = relu_backward(d_act, conv): the gradient passes where the conv's output (the ReLU's "
             "input) was positive"),
    linear_params=Mistake(
        "linear_backward: dw2, db2",
        nudge="the gradient flowing back is right at every step, but dw2 or db2 is not",
        hint="dw2 = d_scoresᵀ · flatten(pooled), shape (M, F·H/2·W/2) like w2, and db2 = Σ over the batch of "
             "d_scores: linear_backward's dw and db"),
    conv_params=Mistake(
        "conv_backward: dw1, db1",
        nudge="the gradient reaches the conv layer right (d_conv), but dw1 or db1 is wrong",
        hint="dw1 and db1 come from conv_backward(d_conv, x, w1, 1, K // 2): check its dw and db, and that it gets "
             "the same padding as the forward pass"),
)

# Where each array comes from, in the order a gradient travels: (index in the answer, name, step, key).
_PATH = [(("trace", 0), "scores", "the forward pass", "forward"),
         (("loss",), "loss", "softmax_cross_entropy", "loss"),
         (("trace", 1), "d_scores", "softmax_cross_entropy", "d_scores"),
         (("trace", 2), "d_pooled", "linear_backward", "d_pooled"),
         (("trace", 3), "d_act", "maxpool_backward", "d_act"),
         (("trace", 4), "d_conv", "relu_backward", "d_conv"),
         (("grads", 2), "dw2", "linear_backward", "linear_params"),
         (("grads", 3), "db2", "linear_backward", "linear_params"),
         (("grads", 0), "dw1", "conv_backward", "conv_params"),
         (("grads", 1), "db1", "conv_backward", "conv_params")]


def cnn_reference(x, y, w1, b1, w2, b2):
    """The capstone network with ``cnnlab.layers``: (loss, (dw1, db1, dw2, db2), trace) (lesson 03).

    conv (K×K, stride 1, padding K // 2) → ReLU → 2×2 max pool → flatten → linear → softmax
    cross-entropy. ``trace`` is (scores, d_scores, d_pooled, d_act, d_conv): the scores and the
    gradient of the loss at the output of each layer on the way back.
    """
    pad = w1.shape[2] // 2
    conv, conv_cache = layers.conv2d_forward(x, w1, b1, 1, pad)                # (N, F, H, W)
    act, relu_cache = layers.relu_forward(conv)
    pooled, pool_cache = layers.maxpool2d_forward(act, 2)                      # (N, F, H/2, W/2)
    flat, flat_cache = layers.flatten_forward(pooled)                          # (N, F·H/2·W/2)
    scores, fc_cache = layers.linear_forward(flat, w2, b2)                     # (N, M)
    loss, d_scores = layers.softmax_cross_entropy(scores, y)
    d_flat, dw2, db2 = layers.linear_backward(d_scores, fc_cache)
    d_pooled = layers.flatten_backward(d_flat, flat_cache)                     # (N, F, H/2, W/2)
    d_act = layers.maxpool2d_backward(d_pooled, pool_cache)                    # (N, F, H, W)
    d_conv = layers.relu_backward(d_act, relu_cache)
    _, dw1, db1 = layers.conv2d_backward(d_conv, conv_cache)
    return loss, (dw1, db1, dw2, db2), (scores, d_scores, d_pooled, d_act, d_conv)


def _cnn_cases(rng):
    def case(n, c, h, w, f, k, m):
        features = f * (h // 2) * (w // 2)
        return dict(x=rng.standard_normal((n, c, h, w)), y=rng.integers(0, m, n),
                    w1=rng.standard_normal((f, c, k, k)) * 0.5, b1=rng.standard_normal(f) * 0.1,
                    w2=rng.standard_normal((m, features)) * 0.3, b2=rng.standard_normal(m) * 0.1)
    return [case(2, 1, 8, 8, 3, 3, 4), case(3, 2, 6, 10, 2, 3, 5),
            case(4, 1, 7, 9, 2, 5, 3),                     # odd sizes: the pool drops the last row and column
            case(2, 1, 28, 28, 4, 3, 10)]                  # the size train_cnn works with


def _cnn_structure(got) -> dict | None:
    """The answer as {"loss": ..., "grads": [...], "trace": [...]}, or None when it is not shaped like one."""
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return None
    loss, grads, trace = got
    if not isinstance(grads, (tuple, list)) or len(grads) != 4 or not isinstance(trace, (tuple, list)) \
            or len(trace) != 5:
        return None
    return {"loss": loss, "grads": list(grads), "trace": list(trace)}


def _active_only(got, want, case):
    """d_act where the ReLU let the conv's output through, and 0 elsewhere, in both answers.

    Elsewhere the gradient stops at the ReLU anyway, and a window of the ReLU's zeros is a tie
    that any max-pool rule may break its own way.
    """
    w1 = case["w1"]
    active = layers.conv2d_forward(case["x"], w1, case["b1"], 1, w1.shape[2] // 2)[0] > 0    # (N, F, H, W)
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return got, want
    if got.shape != active.shape:
        return got, want
    return np.where(active, got, 0.0), np.where(active, want, 0.0)


def _first_disagreement(case, got, expected) -> tuple[str, Verdict] | None:
    """(key of the step, verdict) of the first array along the gradient's path that disagrees."""
    mine, want = _cnn_structure(got), _cnn_structure(expected)
    for where, name, step, key in _PATH:
        g, e = mine[where[0]], want[where[0]]
        if len(where) == 2:
            g, e = g[where[1]], e[where[1]]
        if name == "d_act":
            g, e = _active_only(g, e, case)
        verdict = compare(g, e, rtol=1e-6, atol=1e-9, what=name)
        if not verdict.ok:
            where = f" ({name} comes from {step})"
            return key, Verdict(False, verdict.message + where, verdict.summary + where)
    return None


def _cnn_accept(case, got, expected) -> Verdict:
    if _cnn_structure(got) is None:
        return Verdict(False, SHAPE_OF_ANSWER)
    found = _first_disagreement(case, got, expected)
    return Verdict(True) if found is None else found[1]


def _cnn_hint(case, got, expected):
    if _cnn_structure(got) is None:
        return None
    found = _first_disagreement(case, got, expected)
    return None if found is None else CNN(found[0])


def gradient_check(cnn_loss, seed: int = 0, h: float = 1e-5) -> dict[str, float]:
    """Centred differences of YOUR ``cnn_loss`` against YOUR gradients, one parameter at a time (lesson 03).

    Draws a small float64 problem (2 images of 8×8, 2 filters 3×3, 3 classes), estimates the
    gradient of the loss your function returns by nudging every weight by ±h, and prints the
    relative error of each of your gradients. Below about 1e-7 is right; 1e-2 is a bug.

    Args:
        cnn_loss: the capstone function ``(x, y, w1, b1, w2, b2) -> (loss, grads, trace)``.
        seed: of the drawn problem.
        h: the nudge.

    Returns:
        {"dw1": error, "db1": ..., "dw2": ..., "db2": ...}; empty when cnn_loss is not written yet.
    """
    from cnnlab.gradcheck import numerical_gradient, rel_error

    case = _cnn_cases(np.random.default_rng(seed))[0]
    params = [case[name] for name in ("w1", "b1", "w2", "b2")]
    try:
        _, grads, _ = cnn_loss(case["x"], case["y"], *params)
    except NotImplementedError:
        print("… cnn_loss: not implemented yet")
        return {}
    errors = {}
    for i, (name, grad) in enumerate(zip(GRADS, grads)):
        def loss_of(value, i=i):
            trial = list(params)
            trial[i] = value
            return np.asarray(cnn_loss(case["x"], case["y"], *trial)[0])
        numeric = numerical_gradient(loss_of, params[i].copy(), 1.0, h)
        errors[name] = rel_error(np.asarray(grad, dtype=np.float64), numeric)
        print(f"{name}: relative error {errors[name]:.1e}")
    return errors


def seconds_per_epoch(cnn_loss, images: int = 5_000, batch_size: int = 32, filters: int = 8) -> float:
    """How long one epoch of ``train_cnn`` would take with YOUR ``cnn_loss``, from one timed batch (lesson 03).

    Returns:
        Estimated seconds for ``images`` 28×28 images in batches of ``batch_size`` (nan when
        cnn_loss is not written yet).
    """
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((batch_size, 1, 28, 28)), rng.integers(0, 10, batch_size)
    params = (rng.standard_normal((filters, 1, 3, 3)) * 0.3, np.zeros(filters),
              rng.standard_normal((10, filters * 14 * 14)) * 0.01, np.zeros(10))
    start = time.perf_counter()
    try:
        cnn_loss(x, y, *params)
    except NotImplementedError:
        print("… cnn_loss: not implemented yet")
        return float("nan")
    seconds = (time.perf_counter() - start) * -(-images // batch_size)
    print(f"one batch of {batch_size}: {seconds / -(-images // batch_size) * 1000:.0f} ms; "
          f"an epoch of {images:,} images ≈ {seconds:.0f} s")
    return seconds


# --------------------------------------------------------------------------- capstone 2: training

NUM_CLASSES = 10
FULL_IMAGES, QUICK_IMAGES = 5_000, 1_500
FULL_BAR, QUICK_BAR = 0.80, 0.70
FULL_EPOCHS, QUICK_EPOCHS = 3, 2
CHANCE = 0.2                               # below this a network has learned (almost) nothing
_SECRET = secrets.token_bytes(16)          # drawn in the checker's process: learner code never sees it

TRAIN = Catalog(
    shapes=Mistake(
        "parameters: wrong shapes",
        nudge="the weights you return do not fit the network: {problem}",
        hint="return (w1, b1, w2, b2) of cnn_loss's network: w1 (F, 1, K, K) with K odd, b1 (F,), "
             "w2 (10, F·14·14), b2 (10,)"),
    diverged=Mistake(
        "training diverged",
        nudge="some of the weights you return are nan or inf",
        hint="the updates grew without bound: lower the learning rate (0.01 with momentum 0.9 works), and "
             "start the weights small (He initialisation for w1, w2 near 0)"),
    chance=Mistake(
        "not learning (chance level)",
        nudge="the trained network scores {accuracy:.0%} on the test images, about chance: did the weights "
              "you return change at all, and in the right direction?",
        hint="update the arrays you return, in place (w -= lr·v; a plain `w = w − lr·v` inside a loop only "
             "renames), step against the gradient, and check cnn_loss first: its check finds a broken layer"),
    short=Mistake(
        "accuracy below the bar",
        nudge="the network learns ({accuracy:.0%}) but stops short of the {bar:.0%} asked for",
        hint="train on all of x for every epoch in mini-batches of 32–64, with SGD with momentum 0.9 and a "
             "learning rate near 0.01 that decays to 0 by the end; start w1 with He initialisation "
             "(std √(2/(K·K))) and w2 small"),
)


@lru_cache(maxsize=2)
def _sample(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The bundled Fashion-MNIST sample, normalised: images float32 (N, 1, 28, 28), labels (N,)."""
    from cnnlab.numpy_cnn import fashion_mnist_arrays

    return fashion_mnist_arrays(split, "sample")


def _relabelling(x: np.ndarray) -> np.ndarray:
    """The permutation of the ten labels for the training images ``x``, known only to this process."""
    digest = hashlib.blake2b(np.ascontiguousarray(x).tobytes(), key=_SECRET, digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "little")).permutation(NUM_CLASSES)


def _bar(case) -> float:
    return FULL_BAR if len(case["x"]) >= FULL_IMAGES else QUICK_BAR


def _train_cases(rng):
    images, labels = _sample("train")
    n, epochs = (QUICK_IMAGES, QUICK_EPOCHS) if quick_mode() else (FULL_IMAGES, FULL_EPOCHS)
    pick = rng.choice(len(images), n, replace=False)
    x = images[pick]                                                   # (n, 1, 28, 28), a copy
    x += rng.normal(0.0, 0.1, x.shape).astype(np.float32)             # no two runs see the same pixels
    return [dict(x=x, y=_relabelling(x)[labels[pick]], epochs=epochs, seed=int(rng.integers(2**31)))]


def _train_ref(x, y, epochs, seed):
    from cnnlab.numpy_cnn import NumpyCNN

    model = NumpyCNN(num_filters=8, seed=seed)
    order = np.random.default_rng(seed)
    steps, step = epochs * -(-len(x) // 32), 0
    for _ in range(epochs):
        shuffled = order.permutation(len(x))
        for start in range(0, len(x), 32):
            batch = shuffled[start:start + 32]
            rate = 0.01 * 0.5 * (1 + np.cos(np.pi * step / steps))      # cosine decay to 0
            model.train_step(x[batch], y[batch], lr=rate, momentum=0.9)
            step += 1
    p = model.params
    return p["w1"], p["b1"], p["w2"], p["b2"]


def _weights_problem(got) -> str | None:
    """What keeps ``got`` from being the weights of the capstone network, or None."""
    parts = _parts(got, 4)
    if parts is None:
        return "expected four arrays (w1, b1, w2, b2)"
    w1, b1, w2, b2 = parts
    if w1.ndim != 4 or w1.shape[1] != 1 or w1.shape[2] != w1.shape[3] or w1.shape[2] % 2 == 0:
        return f"w1 has shape {w1.shape}, expected (F, 1, K, K) with K odd"
    f = w1.shape[0]
    want = {"b1": (f,), "w2": (NUM_CLASSES, f * 14 * 14), "b2": (NUM_CLASSES,)}
    for name, array in zip(("b1", "w2", "b2"), (b1, w2, b2)):
        if array.shape != want[name]:
            return f"{name} has shape {array.shape}, expected {want[name]}"
    return None


def capstone_accuracy(weights, case) -> float:
    """Accuracy of the capstone network with ``weights`` on the sample's test images, under this case's labels."""
    w1, b1, w2, b2 = (np.asarray(a, dtype=np.float32) for a in weights)
    x, labels = _sample("test")
    y = _relabelling(case["x"])[labels]
    hits = 0
    for start in range(0, len(x), 250):
        batch = x[start:start + 250]
        out, _ = layers.conv2d_forward(batch, w1, b1, 1, w1.shape[2] // 2)        # (B, F, 28, 28)
        out, _ = layers.maxpool2d_forward(np.maximum(out, 0), 2)                 # (B, F, 14, 14)
        scores = out.reshape(len(batch), -1) @ w2.T + b2                         # (B, 10)
        hits += int((scores.argmax(axis=1) == y[start:start + 250]).sum())
    return hits / len(x)


def _train_verdict(case, got, expected) -> tuple[str | None, Verdict, dict]:
    """(mistake key or None, verdict, numbers for the mistake's text)."""
    problem = _weights_problem(got)
    if problem is not None:
        return "shapes", Verdict(False, f"the weights do not fit the network: {problem}"), {"problem": problem}
    if not all(np.isfinite(np.asarray(a, dtype=np.float64)).all() for a in got):
        return "diverged", Verdict(False, "some weights are nan or inf"), {}
    with np.errstate(all="ignore"):
        accuracy = capstone_accuracy(got, case)
    bar = _bar(case)
    if accuracy >= bar:
        return None, Verdict(True, f"test accuracy {accuracy:.1%}"), {}
    reference = capstone_accuracy(expected, case)
    message = (f"test accuracy {accuracy:.1%} after training on {len(case['x']):,} images; {bar:.0%} is asked "
               f"for (the reference network reached {reference:.1%} on the same images)")
    key = "chance" if accuracy < CHANCE else "short"
    return key, Verdict(False, message), {"accuracy": accuracy, "bar": bar}


def _train_accept(case, got, expected) -> Verdict:
    return _train_verdict(case, got, expected)[1]


def _train_hint(case, got, expected):
    key, _, values = _train_verdict(case, got, expected)
    return None if key is None else TRAIN(key, **values)


LAYER_CELLS = ("conv_forward", "maxpool_forward", "softmax_cross_entropy", "linear_backward", "maxpool_backward",
               "relu_backward", "conv_backward")

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
    Exercise(name="avgpool_backward", chapter="03", points=3, cases=_avg_back_cases, reference=_avg_back_ref,
             diagnose=_avg_back_hint, forbidden=NUMPY_ONLY,
             description="gradient of average pooling with stride and zero padding"),
    Exercise(name="relu_backward", chapter="03", points=1, cases=_relu_cases, reference=_relu_ref,
             diagnose=_relu_hint, forbidden=NUMPY_ONLY,
             description="gradient of ReLU"),
    Exercise(name="linear_backward", chapter="03", points=2, cases=_linear_cases, reference=_linear_ref,
             diagnose=_linear_hint, forbidden=NUMPY_ONLY,
             description="gradients of a fully connected (affine) layer that flattens its input"),
    Exercise(name="softmax_cross_entropy", chapter="03", points=2, cases=_softmax_cases, reference=_softmax_ref,
             diagnose=_softmax_hint, forbidden=NUMPY_ONLY, rtol=1e-7,
             description="softmax cross-entropy and its gradient, stable for any logits"),
    Exercise(name="conv_forward", chapter="03", points=2, cases=_fast_conv_cases, reference=_fast_conv_ref,
             diagnose=_fast_conv_hint, forbidden=NUMPY_ONLY,
             description="a batched convolution without a loop over output pixels"),
    Exercise(name="cnn_loss", chapter="03", points=3, cases=_cnn_cases, reference=cnn_reference,
             diagnose=_cnn_hint, accept=_cnn_accept, forbidden=CAPSTONE_FORBIDDEN, uses=LAYER_CELLS,
             description="capstone: loss and gradients of a CNN made of your own layers"),
    Exercise(name="train_cnn", chapter="03", points=4, cases=_train_cases, reference=_train_ref,
             diagnose=_train_hint, accept=_train_accept, forbidden=CAPSTONE_FORBIDDEN,
             uses=LAYER_CELLS + ("cnn_loss",), timeout=120,
             description="capstone: train your CNN on Fashion-MNIST to 80 % test accuracy"),
]

MISTAKES = {"conv_backward": CONV_BACK, "maxpool_forward": POOL, "maxpool_backward": MAX_BACK,
            "avgpool_backward": AVG_BACK, "relu_backward": RELU, "linear_backward": LINEAR,
            "softmax_cross_entropy": SOFTMAX, "conv_forward": CONV, "cnn_loss": CNN, "train_cnn": TRAIN}
