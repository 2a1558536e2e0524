"""The exercises of lesson 03: the solutions pass, stubs and classic mistakes do not."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.checks import get

# --------------------------------------------------------------------------- conv_backward

def _conv_backward(dout, x, w, stride, padding, *, flip_error=False, batch=True):
    """A loop-free-ish conv backward with planted mistakes."""
    kh, kw = w.shape[2:]
    p = padding
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    # a learner who forgets the 180° rotation puts each filter in upside down and mirrored
    kernel = w[:, :, ::-1, ::-1] if flip_error else w
    for n, f, i, j in np.ndindex(dout.shape):
        rows, cols = slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw)
        if batch or n == 0:
            dw[f] += xp[n, :, rows, cols] * dout[n, f, i, j]
        dxp[n, :, rows, cols] += kernel[f] * dout[n, f, i, j]
    dx = dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]]
    return dx, dw, dout.sum(axis=(0, 2, 3))


def test_conv_backward_catches_a_missing_kernel_flip(verdict):
    result = verdict("conv_backward", lambda **case: _conv_backward(**case, flip_error=True))
    assert result.status == "wrong"
    assert "ROTATED by 180°" in result.message


def test_conv_backward_catches_a_forgotten_bias_gradient(verdict):
    def no_db(**case):
        dx, dw, db = _conv_backward(**case)
        return dx, dw, np.zeros_like(db)

    result = verdict("conv_backward", no_db)
    assert result.status == "wrong"
    assert "db[f] is the sum of dout" in result.message
    two = verdict("conv_backward", lambda **case: _conv_backward(**case)[:2])
    assert two.status == "wrong"
    assert "bias gradient db is missing" in two.message


def test_conv_backward_catches_db_not_summed_over_the_batch(verdict):
    def per_image(**case):
        dx, dw, _ = _conv_backward(**case)
        return dx, dw, case["dout"].sum(axis=(2, 3))

    result = verdict("conv_backward", per_image)
    assert result.status == "wrong"
    assert "over the batch" in "\n".join(result.failures)


def test_conv_backward_catches_dw_of_the_first_image_only(verdict):
    result = verdict("conv_backward", lambda **case: _conv_backward(**case, batch=False))
    assert result.status == "wrong"
    assert "sum dw over the whole batch" in "\n".join(result.failures)


def test_conv_backward_solution_matches_torch_autograd(graded_cells):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2))
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    out = torch.nn.functional.conv2d(tx, tw, tb, stride=2, padding=1)
    dout = rng.standard_normal(out.shape)
    out.backward(torch.from_numpy(dout))
    dx, dw, db = graded_cells("03")["conv_backward"](dout, x, w, stride=2, padding=1)
    for mine, theirs in ((dx, tx.grad), (dw, tw.grad), (db, tb.grad)):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- maxpool_forward

def _maxpool(x, kernel_size, stride, *, reduce=np.max, ceil=False, extra=0):
    k, s = kernel_size, stride
    count = (lambda n: -(-(n - k) // s) + 1) if ceil else (lambda n: (n - k) // s + 1 - extra)
    oh, ow = count(x.shape[2]), count(x.shape[3])
    xp = np.pad(x, ((0, 0), (0, 0), (0, k), (0, k)), constant_values=-np.inf)
    out = np.zeros(x.shape[:2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = reduce(xp[:, :, i * s:i * s + k, j * s:j * s + k], axis=(2, 3))
    return out


@pytest.mark.parametrize("mistake, hint", [
    (dict(reduce=np.mean), "not the mean"),
    (dict(ceil=True), "round down"),
    (dict(extra=1), "off by one"),
])
def test_maxpool_forward_catches_classic_mistakes(mistake, hint, verdict):
    result = verdict("maxpool_forward", lambda x, kernel_size, stride: _maxpool(x, kernel_size, stride, **mistake))
    assert result.status == "wrong"
    assert hint in "\n".join(result.failures)


# --------------------------------------------------------------------------- maxpool_backward

def _maxpool_backward(dout, x, kernel_size, stride, *, accumulate=True, spread=False):
    k, s = kernel_size, stride
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(dout.shape):
        window = x[n, c, i * s:i * s + k, j * s:j * s + k]
        if spread:
            dx[n, c, i * s:i * s + k, j * s:j * s + k] += dout[n, c, i, j] / window.size
            continue
        r, q = np.unravel_index(np.argmax(window), window.shape)
        if accumulate:
            dx[n, c, i * s + r, j * s + q] += dout[n, c, i, j]
        else:
            dx[n, c, i * s + r, j * s + q] = dout[n, c, i, j]      # the classic: = instead of +=
    return dx


def test_maxpool_backward_assignment_fails_only_with_overlapping_windows(verdict):
    def assign(dout, x, kernel_size, stride):
        return _maxpool_backward(dout, x, kernel_size, stride, accumulate=False)

    result = verdict("maxpool_backward", assign)
    assert result.status == "wrong"
    assert "use += instead of =" in result.message
    cases = get("maxpool_backward").cases(np.random.default_rng(0))
    reference = get("maxpool_backward").reference
    for case in cases:
        same = np.allclose(assign(**case), reference(**case))
        assert same == (case["stride"] >= case["kernel_size"]), case["x"].shape


def test_maxpool_backward_catches_spreading_the_gradient(verdict):
    result = verdict("maxpool_backward", lambda **case: _maxpool_backward(**case, spread=True))
    assert result.status == "wrong"
    assert "argmax only" in result.message


# --------------------------------------------------------------------------- avgpool_backward

def _avgpool_backward(dout, x_shape, kernel_size, stride, *, divide_by=None, accumulate=True):
    k, s = kernel_size, stride
    dx = np.zeros(x_shape)
    for n, c, i, j in np.ndindex(dout.shape):
        share = dout[n, c, i, j] / (k * k if divide_by is None else divide_by(k))
        window = (n, c, slice(i * s, i * s + k), slice(j * s, j * s + k))
        if accumulate:
            dx[window] += share
        else:
            dx[window] = share
    return dx


@pytest.mark.parametrize("mistake, hint", [
    (dict(divide_by=lambda k: 1), "divide"),
    (dict(divide_by=lambda k: k), "not 2"),
    (dict(accumulate=False), "use +="),
])
def test_avgpool_backward_catches_classic_mistakes(mistake, hint, verdict):
    result = verdict("avgpool_backward", lambda **case: _avgpool_backward(**case, **mistake))
    assert result.status == "wrong"
    assert hint in "\n".join(result.failures)
