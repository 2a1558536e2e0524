"""The exercises of lesson 01: the solutions pass, stubs and classic mistakes do not."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def solved(graded_cells):
    """This lesson's graded solution cells, run as the grader runs them."""
    return graded_cells("01")




# --------------------------------------------------------------------------- conv2d_single

def _single(x, w, flip=False, extra=0):
    kh, kw = w.shape
    w = w[::-1, ::-1] if flip else w
    oh, ow = x.shape[0] - kh + 1 - extra, x.shape[1] - kw + 1 - extra
    return np.array([[np.sum(x[i:i + kh, j:j + kw] * w) for j in range(ow)] for i in range(oh)])


def test_conv2d_single_catches_a_flipped_kernel(assert_fails):
    assert_fails("conv2d_single", lambda x, w: _single(x, w, flip=True), "kernel flipped")


def test_conv2d_single_catches_an_off_by_one_size(assert_fails):
    assert_fails("conv2d_single", lambda x, w: _single(x, w, extra=1), "size: off by one")


def test_conv2d_single_catches_same_padding(assert_fails):
    assert_fails("conv2d_single", lambda x, w: np.pad(_single(x, w), ((0, w.shape[0] - 1), (0, w.shape[1] - 1))),
                 "size: padded to the input's size")


def test_conv2d_single_lesson_example(solved):
    solved = solved["conv2d_single"]
    from cnnlab.viz.images import EDGE_KERNEL, EXAMPLE_IMAGE

    assert solved(EXAMPLE_IMAGE, EDGE_KERNEL)[0, 0] == -6


# --------------------------------------------------------------------------- conv2d_multi

def _multi(x, w, b, stride, padding, *, bias=True, flip=False, ceil=False, one_side=False, ignore_stride=False):
    f_count, _, kh, kw = w.shape
    w = w[:, :, ::-1, ::-1] if flip else w
    pads = ((0, 0), (padding, 0 if one_side else padding), (padding, 0 if one_side else padding))
    xp = np.pad(x, pads)
    s = 1 if ignore_stride else stride
    rounding = (lambda a: -(-a // s)) if ceil else (lambda a: a // s)
    oh, ow = rounding(xp.shape[1] - kh) + 1, rounding(xp.shape[2] - kw) + 1
    xp = np.pad(xp, ((0, 0), (0, s), (0, s)))              # room for a window hanging over (ceil)
    out = np.zeros((f_count, oh, ow))
    for f in range(f_count):
        for i in range(oh):
            for j in range(ow):
                out[f, i, j] = np.sum(xp[:, i * s:i * s + kh, j * s:j * s + kw] * w[f]) + (b[f] if bias else 0)
    return out


@pytest.mark.parametrize("mistake, label", [
    (dict(bias=False), "bias missing"),
    (dict(flip=True), "kernel flipped"),
    (dict(ceil=True), "size rounded up"),
    (dict(one_side=True), "padding on one side only"),
    (dict(ignore_stride=True), "stride ignored"),
])
def test_conv2d_multi_catches_classic_mistakes(mistake, label, assert_fails):
    assert_fails("conv2d_multi", lambda x, w, b, stride, padding: _multi(x, w, b, stride, padding, **mistake), label)


def test_conv2d_multi_says_how_much_padding_was_forgotten(verdict):
    result = verdict("conv2d_multi", lambda x, w, b, stride, padding: _multi(x, w, b, stride, 0))
    text = "\n".join(result.failures)
    assert "pad the input with 1 zero on every side" in text and "pad the input with 2 zeros" in text


def test_conv2d_multi_catches_a_missing_channel_sum(assert_fails):
    def per_channel(x, w, b, stride, padding):
        full = _multi(x, w, b, stride, padding)
        return np.stack([full] * x.shape[0], axis=1)       # (F, C, OH, OW): one map per channel

    assert_fails("conv2d_multi", per_channel, "channels not summed")


# --------------------------------------------------------------------------- conv1x1

def test_conv1x1_catches_a_transposed_mixing_matrix(assert_fails):
    assert_fails("conv1x1", lambda x, w: np.einsum("cf,chw->fhw", w, x) if w.shape[0] == w.shape[1]
                 else np.einsum("fc,chw->fhw", w, x), "w transposed")


def test_conv1x1_equals_torch(solved):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((3, 4, 5)), rng.standard_normal((2, 3))
    expected = torch.nn.functional.conv2d(torch.from_numpy(x)[None], torch.from_numpy(w)[:, :, None, None])
    np.testing.assert_allclose(solved["conv1x1"](x, w), expected[0].numpy(), rtol=1e-10)
