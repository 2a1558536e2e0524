"""The exercises of lesson 03: the solutions pass, stubs and classic mistakes do not."""

from __future__ import annotations

import numpy as np
import pytest


from cnnlab.checks import get, run_exercise
from cnnlab.checks import ch03


@pytest.fixture
def solved(graded_cells):
    """This lesson's graded solution cells, run as the grader runs them."""
    return graded_cells("03")



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


def test_conv_backward_catches_a_missing_kernel_flip(assert_fails):
    assert_fails("conv_backward", lambda **case: _conv_backward(**case, flip_error=True), "dx: kernel not rotated")


def test_conv_backward_catches_a_forgotten_bias_gradient(assert_fails):
    def no_db(**case):
        dx, dw, db = _conv_backward(**case)
        return dx, dw, np.zeros_like(db)

    assert_fails("conv_backward", no_db, "db: missing")
    assert_fails("conv_backward", lambda **case: _conv_backward(**case)[:2], "db: missing")


def test_conv_backward_catches_db_not_summed_over_the_batch(assert_fails):
    def per_image(**case):
        dx, dw, _ = _conv_backward(**case)
        return dx, dw, case["dout"].sum(axis=(2, 3))

    assert_fails("conv_backward", per_image, "db: not summed over the batch")


def test_conv_backward_catches_dw_of_the_first_image_only(assert_fails):
    assert_fails("conv_backward", lambda **case: _conv_backward(**case, batch=False), "dw: first image only")


def test_conv_backward_solution_matches_torch_autograd(solved):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2))
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    out = torch.nn.functional.conv2d(tx, tw, tb, stride=2, padding=1)
    dout = rng.standard_normal(out.shape)
    out.backward(torch.from_numpy(dout))
    dx, dw, db = solved["conv_backward"](dout, x, w, stride=2, padding=1)
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


@pytest.mark.parametrize("mistake, label", [
    (dict(reduce=np.mean), "mean instead of max"),
    (dict(ceil=True), "size rounded up"),
    (dict(extra=1), "size: off by one"),
])
def test_maxpool_forward_catches_classic_mistakes(mistake, label, assert_fails):
    assert_fails("maxpool_forward", lambda x, kernel_size, stride: _maxpool(x, kernel_size, stride, **mistake), label)


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


def test_maxpool_backward_assignment_fails_only_with_overlapping_windows(assert_fails):
    def assign(dout, x, kernel_size, stride):
        return _maxpool_backward(dout, x, kernel_size, stride, accumulate=False)

    assert_fails("maxpool_backward", assign, "overlapping windows overwrite")
    cases = get("maxpool_backward").cases(np.random.default_rng(0))
    reference = get("maxpool_backward").reference
    for case in cases:
        same = np.allclose(assign(**case), reference(**case))
        assert same == (case["stride"] >= case["kernel_size"]), case["x"].shape


def test_maxpool_backward_catches_spreading_the_gradient(assert_fails):
    assert_fails("maxpool_backward", lambda **case: _maxpool_backward(**case, spread=True),
                 "gradient spread over the window")


# --------------------------------------------------------------------------- avgpool_backward

def _avgpool_backward(dout, x_shape, kernel_size, stride, padding, *, divide_by=None, accumulate=True,
                      crop=True):
    k, s, p = kernel_size, stride, padding
    n_, c_, h, w = x_shape
    dxp = np.zeros((n_, c_, h + 2 * p, w + 2 * p))
    for n, c, i, j in np.ndindex(dout.shape):
        share = dout[n, c, i, j] / (k * k if divide_by is None else divide_by(k))
        window = (n, c, slice(i * s, i * s + k), slice(j * s, j * s + k))
        if accumulate:
            dxp[window] += share
        else:
            dxp[window] = share
    return dxp[:, :, p:p + h, p:p + w] if crop else dxp


@pytest.mark.parametrize("mistake, label", [
    (dict(divide_by=lambda k: 1), "share not divided"),
    (dict(divide_by=lambda k: k), "divided by K, not K·K"),
    (dict(accumulate=False), "overlapping windows overwrite"),
    (dict(crop=False), "dx: padding not cropped"),
])
def test_avgpool_backward_catches_classic_mistakes(mistake, label, assert_fails):
    assert_fails("avgpool_backward", lambda **case: _avgpool_backward(**case, **mistake), label)


def test_avgpool_backward_solution_matches_torch_with_padding(solved):
    torch = pytest.importorskip("torch")
    x = torch.zeros(2, 3, 5, 6, dtype=torch.float64, requires_grad=True)
    out = torch.nn.functional.avg_pool2d(x, 3, stride=2, padding=1)
    dout = np.random.default_rng(4).standard_normal(out.shape)
    out.backward(torch.from_numpy(dout))
    dx = solved["avgpool_backward"](dout, (2, 3, 5, 6), 3, 2, 1)
    np.testing.assert_allclose(dx, x.grad.numpy(), rtol=1e-12)


# --------------------------------------------------------------------------- the layers of part 1, against torch

def test_relu_linear_and_softmax_solutions_match_torch(solved):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2, 2, 3))
    x[0, 0, 0, 0] = 0.0
    tx = torch.tensor(x, requires_grad=True)
    dout = rng.standard_normal(x.shape)
    torch.relu(tx).backward(torch.from_numpy(dout))
    np.testing.assert_array_equal(solved["relu_backward"](dout, x), tx.grad.numpy())

    w, b = rng.standard_normal((4, 12)), rng.standard_normal(4)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = torch.nn.functional.linear(tx.reshape(3, -1), tw, tb)
    dout = rng.standard_normal(out.shape)
    out.backward(torch.from_numpy(dout))
    for mine, theirs in zip(solved["linear_backward"](dout, x, w), (tx.grad, tw.grad, tb.grad)):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-12)

    logits, y = rng.standard_normal((5, 7)) * 300, rng.integers(0, 7, 5)
    tl = torch.tensor(logits, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(tl, torch.from_numpy(y))
    loss.backward()
    mine, dlogits = solved["softmax_cross_entropy"](logits, y)
    assert np.isclose(mine, loss.item(), rtol=1e-12)
    np.testing.assert_allclose(dlogits, tl.grad.numpy(), rtol=1e-9, atol=1e-15)


def test_conv_forward_solution_matches_torch(solved):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x, w, b = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    expected = torch.nn.functional.conv2d(*(torch.from_numpy(a) for a in (x, w, b)), stride=2, padding=1)
    np.testing.assert_allclose(solved["conv_forward"](x, w, b, 2, 1), expected.numpy(), rtol=1e-10)


@pytest.mark.parametrize("name", ["relu_backward", "linear_backward", "softmax_cross_entropy"])
def test_stubs_and_lookalikes_fail(name, assert_fails):
    assert_fails(name, lambda **case: 0.0)


# --------------------------------------------------------------------------- the capstone, part 1

def test_cnn_loss_solution_matches_torch_autograd(solved):
    torch = pytest.importorskip("torch")
    case = ch03._cnn_cases(np.random.default_rng(7))[3]                 # 28×28 images, 10 classes
    loss, grads, trace = solved["cnn_loss"](**case)
    t = {k: torch.tensor(case[k], requires_grad=True) for k in ("x", "w1", "b1", "w2", "b2")}
    conv = torch.nn.functional.conv2d(t["x"], t["w1"], t["b1"], padding=1)
    pooled = torch.nn.functional.max_pool2d(torch.relu(conv), 2)
    scores = pooled.flatten(1) @ t["w2"].T + t["b2"]
    expected = torch.nn.functional.cross_entropy(scores, torch.from_numpy(case["y"]))
    expected.backward()
    assert np.isclose(loss, expected.item(), rtol=1e-12)
    for mine, name in zip(grads, ("w1", "b1", "w2", "b2")):
        np.testing.assert_allclose(mine, t[name].grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(trace[0], scores.detach().numpy(), rtol=1e-12)


def test_a_broken_layer_makes_the_capstone_name_that_layer():
    from planted import planted_function
    from planted import plant as make

    spread = make("cnn_loss", "maxpool_backward: d_act",
                  ("dx[:, :, rows, cols] += np.where(argmax == e, dout, 0.0)", "dx[:, :, rows, cols] += dout / (k * k)"),
                  cell="maxpool_backward")
    result = run_exercise(get("cnn_loss"), planted_function(spread))
    assert result.status == "wrong"
    assert "d_act" in result.message and "maxpool_backward" in result.message, result.message


def test_cnn_loss_tolerates_any_rule_for_ties_among_the_relus_zeros(solved):
    def last_max_wins(**case):                    # a max-pool backward that breaks ties the other way
        def backward(dout, x, k, s):
            flipped = solved["maxpool_backward"](dout[..., ::-1, ::-1], x[..., ::-1, ::-1], k, s)
            return flipped[..., ::-1, ::-1]
        loss, grads, trace = ch03.cnn_reference(**case)
        pad = case["w1"].shape[2] // 2
        conv = solved["conv_forward"](case["x"], case["w1"], case["b1"], 1, pad)
        act = np.maximum(conv, 0)
        h, w = act.shape[2] // 2 * 2, act.shape[3] // 2 * 2
        d_act = np.zeros_like(act)
        d_act[..., :h, :w] = backward(trace[2], act[..., :h, :w], 2, 2)
        return loss, grads, trace[:3] + (d_act, trace[4])

    assert run_exercise(get("cnn_loss"), last_max_wins).status == "passed"


def test_gradient_check_reports_tiny_errors_for_the_solution_and_waits_for_a_stub(capsys, solved):
    errors = ch03.gradient_check(solved["cnn_loss"])
    assert set(errors) == {"dw1", "db1", "dw2", "db2"} and max(errors.values()) < 1e-6
    assert "dw1: relative error" in capsys.readouterr().out

    def stub(x, y, w1, b1, w2, b2):
        raise NotImplementedError

    assert ch03.gradient_check(stub) == {} and np.isnan(ch03.seconds_per_epoch(stub))
    assert "not implemented yet" in capsys.readouterr().out
    assert ch03.seconds_per_epoch(solved["cnn_loss"]) > 0


# --------------------------------------------------------------------------- the capstone, part 2

def test_training_inputs_are_fresh_and_the_labels_are_shuffled_by_a_secret(monkeypatch):
    draw = get("train_cnn").cases
    (a,), (b,) = draw(np.random.default_rng(1)), draw(np.random.default_rng(2))
    assert not np.array_equal(a["x"][:50], b["x"][:50])
    first = ch03._relabelling(a["x"])
    assert sorted(first) == list(range(10))
    monkeypatch.setattr(ch03, "_SECRET", b"another process")
    assert not np.array_equal(ch03._relabelling(a["x"]), first)          # another process, another labelling


def test_weights_trained_in_one_run_fail_in_another():
    ex = get("train_cnn")
    (a,), (b,) = ex.cases(np.random.default_rng(3)), ex.cases(np.random.default_rng(4))
    weights = ex.reference(**a)
    assert ch03.capstone_accuracy(weights, a) >= ch03._bar(a)
    if not np.array_equal(ch03._relabelling(a["x"]), ch03._relabelling(b["x"])):
        assert ch03.capstone_accuracy(weights, b) < 0.6                   # a lookup of old weights cannot pass


@pytest.mark.slow
def test_the_full_capstone_check_reaches_80_percent_with_the_solutions_layers(monkeypatch, solved):
    monkeypatch.setenv("CNNLAB_QUICK", "0")
    ex = get("train_cnn")
    (case,) = ex.cases(np.random.default_rng(0))
    assert len(case["x"]) == ch03.FULL_IMAGES and case["epochs"] == ch03.FULL_EPOCHS
    weights = solved["train_cnn"](**case)
    assert ch03.capstone_accuracy(weights, case) >= ch03.FULL_BAR
