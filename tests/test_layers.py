"""cnnlab.layers against torch.nn.functional (values and gradients), the lesson's worked
examples, numerical gradients, and the error messages."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab import layers as L
from cnnlab.gradcheck import numerical_gradient, rel_error

TOL = 1e-7
CASES = settings(max_examples=60, deadline=None)


def torch_grads(fn, arrays, dout):
    """Run fn on float64 tensors made from arrays; return (out, [grad of each array])."""
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    out.backward(torch.tensor(dout, dtype=torch.float64))
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


# --------------------------------------------------------------------------- hypothesis cases

@st.composite
def conv_cases(draw):
    n, c, f = (draw(st.integers(1, 3)) for _ in range(3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    span_h, span_w = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    h = draw(st.integers(max(1, span_h - 2 * padding[0]), span_h + 6))
    w = draw(st.integers(max(1, span_w - 2 * padding[1]), span_w + 6))
    seed = draw(st.integers(0, 2**32 - 1))
    # int stride/padding/dilation half of the time, as the API allows either
    as_int = draw(st.booleans()) and stride[0] == stride[1] and padding[0] == padding[1] \
        and dilation[0] == dilation[1]
    geometry = (stride[0], padding[0], dilation[0]) if as_int else (stride, padding, dilation)
    return (n, c, h, w), (f, c, kh, kw), geometry, seed


@st.composite
def pool_cases(draw):
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    # stride < kernel gives overlapping windows, stride == kernel tiles, None means kernel
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    h = draw(st.integers(max(1, kh - 2 * padding[0]), kh + 6))
    w = draw(st.integers(max(1, kw - 2 * padding[1]), kw + 6))
    ties = draw(st.booleans())                  # small integers: many equal values per window
    seed = draw(st.integers(0, 2**32 - 1))
    return (n, c, h, w), (kh, kw), stride, padding, ties, seed


@CASES
@given(conv_cases())
def test_conv2d_matches_torch(case):
    x_shape, w_shape, (stride, padding, dilation), seed = case
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    out, cache = L.conv2d_forward(x, w, b, stride, padding, dilation)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = L.conv2d_backward(dout, cache)
    ref, (rdx, rdw, rdb) = torch_grads(
        lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation),
        (x, w, b), dout)
    assert out.shape == ref.shape
    assert rel_error(out, ref) < TOL
    assert rel_error(dx, rdx) < TOL
    assert rel_error(dw, rdw) < TOL
    assert rel_error(db, rdb) < TOL
    assert rel_error(L.conv2d_naive(x, w, b, stride, padding, dilation), out) < 1e-12


@CASES
@given(pool_cases())
def test_maxpool2d_matches_torch(case):
    x_shape, kernel, stride, padding, ties, seed = case
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, x_shape).astype(np.float64) if ties else rng.standard_normal(x_shape)
    out, cache = L.maxpool2d_forward(x, kernel, stride, padding)
    dout = rng.standard_normal(out.shape)
    dx = L.maxpool2d_backward(dout, cache)
    ref, (rdx,) = torch_grads(lambda x: F.max_pool2d(x, kernel, stride, padding), (x,), dout)
    assert out.shape == ref.shape
    np.testing.assert_array_equal(out, ref)
    # with ties, the gradient lands on the same entry as in torch (the first max)
    assert rel_error(dx, rdx) < TOL


@CASES
@given(pool_cases())
def test_avgpool2d_matches_torch(case):
    x_shape, kernel, stride, padding, _, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape)
    out, cache = L.avgpool2d_forward(x, kernel, stride, padding)
    dout = rng.standard_normal(out.shape)
    dx = L.avgpool2d_backward(dout, cache)
    ref, (rdx,) = torch_grads(
        lambda x: F.avg_pool2d(x, kernel, stride, padding, count_include_pad=True), (x,), dout)
    assert out.shape == ref.shape
    assert rel_error(out, ref) < TOL
    assert rel_error(dx, rdx) < TOL


ACTIVATIONS = [
    (L.relu_forward, L.relu_backward, torch.relu),
    (L.sigmoid_forward, L.sigmoid_backward, torch.sigmoid),
    (L.tanh_forward, L.tanh_backward, torch.tanh),
]


@CASES
@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.integers(0, 2**32 - 1),
       st.sampled_from(range(len(ACTIVATIONS))))
def test_activations_match_torch(shape, seed, which):
    forward, backward, reference = ACTIVATIONS[which]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 5
    out, cache = forward(x)
    dout = rng.standard_normal(out.shape)
    ref, (rdx,) = torch_grads(reference, (x,), dout)
    assert rel_error(out, ref) < TOL
    assert rel_error(backward(dout, cache), rdx) < TOL


def test_sigmoid_is_stable_for_large_inputs():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out, _ = L.sigmoid_forward(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0]))
    np.testing.assert_allclose(out, [0.0, 1.9287498479639178e-22, 0.5, 1.0, 1.0], rtol=1e-12, atol=0)


def test_relu_gradient_at_zero_is_zero_like_torch():
    x = np.array([-1.0, 0.0, 2.0])
    _, cache = L.relu_forward(x)
    np.testing.assert_array_equal(L.relu_backward(np.ones(3), cache), [0.0, 0.0, 1.0])


@CASES
@given(st.integers(1, 5), st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_linear_matches_torch(n, d_in, d_out, seed):
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((n, d_in)), rng.standard_normal((d_out, d_in)), rng.standard_normal(d_out)
    out, cache = L.linear_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    ref, grads = torch_grads(F.linear, (x, w, b), dout)
    assert rel_error(out, ref) < TOL
    for mine, theirs in zip(L.linear_backward(dout, cache), grads):
        assert rel_error(mine, theirs) < TOL


@CASES
@given(st.integers(1, 6), st.integers(2, 7), st.floats(0.1, 100), st.integers(0, 2**32 - 1))
def test_softmax_cross_entropy_matches_torch(n, k, scale, seed):
    rng = np.random.default_rng(seed)
    logits, y = rng.standard_normal((n, k)) * scale, rng.integers(0, k, n)
    loss, dlogits = L.softmax_cross_entropy(logits, y)
    t = torch.tensor(logits, requires_grad=True)
    ref = F.cross_entropy(t, torch.tensor(y))
    ref.backward()
    assert abs(loss - ref.item()) <= TOL * max(1.0, abs(ref.item()))
    assert rel_error(dlogits, t.grad.numpy()) < TOL


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, dlogits = L.softmax_cross_entropy(np.array([[1000.0, 0.0], [0.0, 1000.0]]), np.array([0, 0]))
    assert loss == pytest.approx(500.0)
    np.testing.assert_allclose(dlogits, [[0.0, 0.0], [-0.5, 0.5]], atol=1e-12)   # (softmax − one-hot) / N


@CASES
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 5), st.integers(1, 5),
       st.sampled_from([1e-5, 1e-3, 0.1]), st.integers(0, 2**32 - 1))
def test_batchnorm2d_matches_torch_in_training_mode(n, c, h, w, eps, seed):
    if n * h * w == 1:
        return                  # one value per channel: torch refuses, the variance is undefined
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)) * 3 + rng.standard_normal((1, c, 1, 1))
    gamma, beta = rng.standard_normal(c) + 1, rng.standard_normal(c)
    out, cache = L.batchnorm2d_forward(x, gamma, beta, eps)
    dout = rng.standard_normal(out.shape)
    ref, grads = torch_grads(lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True, eps=eps),
                             (x, gamma, beta), dout)
    assert rel_error(out, ref) < TOL
    for mine, theirs in zip(L.batchnorm2d_backward(dout, cache), grads):
        assert rel_error(mine, theirs) < TOL


def test_batchnorm2d_numerical_gradients():
    rng = np.random.default_rng(7)
    arrays = (rng.standard_normal((3, 2, 2, 3)) * 2, rng.standard_normal(2) + 1, rng.standard_normal(2))
    check_numerically(lambda x, g, b: L.batchnorm2d_forward(x, g, b, 1e-3), L.batchnorm2d_backward, arrays)


def test_batchnorm2d_output_has_zero_mean_and_unit_variance_per_channel():
    x = np.random.default_rng(8).standard_normal((4, 3, 5, 5)) * 7 + 2
    out, _ = L.batchnorm2d_forward(x, np.ones(3), np.zeros(3), eps=1e-12)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, rtol=1e-9)


@CASES
@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.sampled_from([0.0, 0.2, 0.5, 0.9, 1.0]),
       st.integers(0, 2**32 - 1))
def test_dropout_matches_torch_given_its_mask(shape, p, seed):
    torch.manual_seed(seed % 2**31)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2.0, shape) * rng.choice([-1, 1], shape)       # never 0, so the mask shows
    t = torch.tensor(x, requires_grad=True)
    ref = F.dropout(t, p, training=True)
    dout = rng.standard_normal(shape)
    ref.backward(torch.from_numpy(dout))
    keep = ref.detach().numpy() != 0
    out, cache = L.dropout_forward(x, p, keep=keep)
    assert rel_error(out, ref.detach().numpy()) < TOL
    assert rel_error(L.dropout_backward(dout, cache), t.grad.numpy()) < TOL


def test_dropout_reuses_its_mask_and_keeps_the_expected_value():
    x = np.ones((200, 100))
    out, cache = L.dropout_forward(x, 0.3, rng=0)
    assert abs(out.mean() - 1.0) < 0.02                     # inverted: E[out] = x
    assert abs((out == 0).mean() - 0.3) < 0.02
    dx = L.dropout_backward(np.ones_like(x), cache)
    np.testing.assert_array_equal(dx == 0, out == 0)        # the same values are dropped
    np.testing.assert_array_equal(L.dropout_forward(x, 0.3, rng=0)[0], out)
    assert L.dropout_forward(x, 0.0, rng=1)[0] is not x and np.array_equal(L.dropout_forward(x, 0.0, rng=1)[0], x)


def test_flatten_round_trip():
    x = np.arange(24.0).reshape(2, 3, 2, 2)
    out, cache = L.flatten_forward(x)
    assert out.shape == (2, 12)
    np.testing.assert_array_equal(out[1], np.arange(12.0, 24.0))
    np.testing.assert_array_equal(L.flatten_backward(out * 2, cache), x * 2)


def test_float32_stays_float32():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    out, cache = L.conv2d_forward(x, w, np.zeros(4, np.float32), padding=1)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in L.conv2d_backward(np.ones_like(out), cache))
    assert L.maxpool2d_forward(x, 2)[0].dtype == np.float32


def test_im2col_col2im_are_adjoint():
    """<im2col(x), c> == <x, col2im(c)>: col2im is im2col's transpose, the fact backprop uses."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 6))
    cols = L.im2col(x, 3, 2, stride=(2, 1), padding=1, dilation=(1, 2))
    c = rng.standard_normal(cols.shape)
    back = L.col2im(c, x.shape, 3, 2, stride=(2, 1), padding=1, dilation=(1, 2))
    assert np.sum(cols * c) == pytest.approx(np.sum(x * back), rel=1e-12)


def test_im2col_row_is_the_window_under_an_output_pixel():
    x = np.arange(2 * 2 * 4 * 5, dtype=np.float64).reshape(2, 2, 4, 5)
    cols = L.im2col(x, 2, 3)                          # OH = 3, OW = 3
    assert cols.shape == (2 * 3 * 3, 2 * 2 * 3)
    row = 1 * 9 + 2 * 3 + 1                           # image 1, output pixel (2, 1)
    np.testing.assert_array_equal(cols[row], x[1, :, 2:4, 1:4].ravel())


# --------------------------------------------------------------------------- ties in max pooling

def test_maxpool_ties_go_to_the_first_max_in_row_major_order():
    x = np.array([[[[1.0, 3.0, 3.0],
                    [3.0, 2.0, 1.0],
                    [0.0, 3.0, 0.0]]]])
    out, cache = L.maxpool2d_forward(x, 2, stride=1)
    np.testing.assert_array_equal(out[0, 0], [[3, 3], [3, 3]])
    dx = L.maxpool2d_backward(np.ones_like(out), cache)
    # windows: (0,0) first max at (0,1); (0,1) at (0,1); (1,0) at (1,0); (1,1) at (2,1)
    np.testing.assert_array_equal(dx[0, 0], [[0, 2, 0], [1, 0, 0], [0, 1, 0]])
    _, (rdx,) = torch_grads(lambda t: F.max_pool2d(t, 2, 1), (x,), np.ones_like(out))
    np.testing.assert_array_equal(dx, rdx)


def test_maxpool_all_equal_window_and_nan_like_torch():
    x = np.array([[[[5.0, 5.0, np.nan, 1.0],
                    [5.0, 5.0, 2.0, np.nan]]]])
    out, cache = L.maxpool2d_forward(x, 2)
    dx = L.maxpool2d_backward(np.ones_like(out), cache)
    ref, (rdx,) = torch_grads(lambda t: F.max_pool2d(t, 2), (x,), np.ones_like(out))
    np.testing.assert_array_equal(out, ref)       # NaN propagates, as in torch
    np.testing.assert_array_equal(dx, rdx)
    assert dx[0, 0, 0, 0] == 1 and dx[0, 0, :, :2].sum() == 1


# --------------------------------------------------------------------------- worked examples (lesson 01)

EDGE = np.array([[1, 0, -1],
                 [1, 0, -1],
                 [1, 0, -1]], dtype=np.float64)


def conv_single(image, kernel):
    """One image, one kernel, no bias, through the reference layers."""
    x = np.asarray(image, dtype=np.float64)[None, None]            # (1, 1, H, W)
    w = kernel[None, None]                                          # (1, 1, KH, KW)
    out, _ = L.conv2d_forward(x, w, np.zeros(1))
    np.testing.assert_array_equal(L.conv2d_naive(x, w, np.zeros(1)), out)
    return out[0, 0]


def test_first_worked_example_vertical_edge():
    image = [[1, 2, 3, 4, 5],
             [6, 7, 8, 9, 0],
             [1, 2, 3, 4, 5],
             [6, 7, 8, 9, 0],
             [1, 2, 3, 4, 5]]
    # Each kernel row takes (left column − right column) of one image row:
    #   row "1 2 3 4 5": 1−3 = −2, 2−4 = −2, 3−5 = −2
    #   row "6 7 8 9 0": 6−8 = −2, 7−9 = −2, 8−0 = +8
    # Output row i adds three consecutive image rows: rows 0-2 and 2-4 are (1..5, 6..0, 1..5),
    # rows 1-3 are (6..0, 1..5, 6..0).
    expected = np.array([[-2 - 2 - 2, -2 - 2 - 2, -2 + 8 - 2],
                         [-2 - 2 - 2, -2 - 2 - 2, 8 - 2 + 8],
                         [-2 - 2 - 2, -2 - 2 - 2, -2 + 8 - 2]])
    out = conv_single(image, EDGE)
    assert out[0, 0] == -6
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(expected, [[-6, -6, 4], [-6, -6, 14], [-6, -6, 4]])


def test_second_worked_example():
    image = [[1, 2, 0, 3, 1],
             [4, 5, 6, 7, 8],
             [1, 0, 1, 2, 1],
             [0, 1, 3, 4, 0],
             [3, 4, 5, 1, 2]]
    # left − right column of each image row, for the three horizontal positions:
    #   r0: 1−0=1, 2−3=−1, 0−1=−1     r1: 4−6=−2, 5−7=−2, 6−8=−2     r2: 1−1=0, 0−2=−2, 1−1=0
    #   r3: 0−3=−3, 1−4=−3, 3−0=3     r4: 3−5=−2, 4−1=3, 5−2=3
    expected = np.array([[1 - 2 + 0, -1 - 2 - 2, -1 - 2 + 0],      # rows 0-2
                         [-2 + 0 - 3, -2 - 2 - 3, -2 + 0 + 3],     # rows 1-3
                         [0 - 3 - 2, -2 - 3 + 3, 0 + 3 + 3]])      # rows 2-4
    out = conv_single(image, EDGE)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(expected, [[-1, -5, -3], [-5, -7, 1], [-5, -2, 6]])


def test_same_padding_keeps_32_by_32():
    x = np.zeros((1, 3, 32, 32))
    out, _ = L.conv2d_forward(x, np.zeros((8, 3, 5, 5)), np.zeros(8), stride=1, padding=2)
    assert out.shape == (1, 8, 32, 32)


# --------------------------------------------------------------------------- numerical gradients

def check_numerically(forward, backward, arrays, seed=0):
    """Every gradient backward returns agrees with numerical_gradient on each input array."""
    rng = np.random.default_rng(seed)
    out, cache = forward(*arrays)
    dout = rng.standard_normal(out.shape)
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    for k, (array, grad) in enumerate(zip(arrays, grads)):
        numeric = numerical_gradient(lambda _: forward(*arrays)[0], array, dout)
        assert rel_error(grad, numeric) < TOL, f"gradient of input {k}"


def test_conv2d_numerical_gradients():
    rng = np.random.default_rng(3)
    arrays = (rng.standard_normal((2, 2, 5, 6)), rng.standard_normal((3, 2, 3, 2)), rng.standard_normal(3))
    check_numerically(lambda x, w, b: L.conv2d_forward(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2)),
                      L.conv2d_backward, arrays)


def test_pool_numerical_gradients():
    x = np.random.default_rng(4).permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) / 7.0   # no ties
    check_numerically(lambda x: L.maxpool2d_forward(x, 3, stride=(1, 2), padding=1), L.maxpool2d_backward, (x,))
    check_numerically(lambda x: L.avgpool2d_forward(x, (2, 3), stride=1, padding=1), L.avgpool2d_backward, (x,))


def test_dense_and_activation_numerical_gradients():
    rng = np.random.default_rng(5)
    check_numerically(L.linear_forward, L.linear_backward,
                      (rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal(2)))
    x = rng.standard_normal((2, 3, 4)) + 0.05       # away from ReLU's kink at exactly 0
    for forward, backward in [(L.relu_forward, L.relu_backward), (L.sigmoid_forward, L.sigmoid_backward),
                              (L.tanh_forward, L.tanh_backward), (L.flatten_forward, L.flatten_backward)]:
        check_numerically(forward, backward, (x,))


def test_softmax_cross_entropy_numerical_gradient():
    rng = np.random.default_rng(6)
    logits, y = rng.standard_normal((4, 5)), np.array([0, 4, 2, 2])
    _, dlogits = L.softmax_cross_entropy(logits, y)
    numeric = numerical_gradient(lambda z: np.array(L.softmax_cross_entropy(z, y)[0]), logits, 1.0)
    assert rel_error(dlogits, numeric) < TOL


# --------------------------------------------------------------------------- errors that teach

def test_channel_mismatch_message_names_function_and_shapes():
    with pytest.raises(ValueError) as err:
        L.conv2d_forward(np.zeros((2, 3, 8, 8)), np.zeros((4, 1, 3, 3)), np.zeros(4))
    assert str(err.value) == "conv2d_forward: x has 3 channels but w expects 1 (x (2, 3, 8, 8), w (4, 1, 3, 3))"


X, W, B = np.zeros((2, 1, 8, 8)), np.zeros((4, 1, 3, 3)), np.zeros(4)

CONV_ERRORS = [
    ("x 3-D", dict(x=np.zeros((1, 8, 8))), "x must be 4-D (N, C, H, W), got shape (1, 8, 8)"),
    ("w 3-D", dict(w=np.zeros((4, 3, 3))), "w must be 4-D (F, C, KH, KW), got shape (4, 3, 3)"),
    ("x not an array", dict(x=[[1.0]]), "x must be a NumPy array"),
    ("kernel too big", dict(x=np.zeros((2, 1, 2, 8))), "does not fit in the padded 2×8 input (x (2, 1, 2, 8), w (4, 1, 3, 3))"),
    ("dilated kernel too big", dict(dilation=4), "spanning 9×9"),
    ("zero stride", dict(stride=0), "stride must be positive, got 0"),
    ("negative stride", dict(stride=(1, -2)), "stride must be positive, got (1, -2)"),
    ("negative padding", dict(padding=-1), "padding must be at least 0, got -1"),
    ("float stride", dict(stride=1.5), "stride must be an int or an (h, w) pair of ints, got 1.5"),
    ("float padding", dict(padding=(1, 0.5)), "padding must be an int or an (h, w) pair of ints"),
    ("triple", dict(dilation=(1, 1, 1)), "dilation must be an int or an (h, w) pair"),
    ("bias length", dict(b=np.zeros(3)), "b must have one bias per filter, shape (4,), got (3,) (w (4, 1, 3, 3))"),
    ("bias 2-D", dict(b=np.zeros((4, 1))), "b must be 1-D (F,), got shape (4, 1)"),
]


@pytest.mark.parametrize("func", [L.conv2d_forward, L.conv2d_naive])
@pytest.mark.parametrize("label, change, message", CONV_ERRORS, ids=[c[0] for c in CONV_ERRORS])
def test_conv_errors(func, label, change, message, monkeypatch):
    def no_work(*args):
        raise AssertionError("computation started before the arguments were checked")

    monkeypatch.setattr(L, "_im2col", no_work)
    monkeypatch.setattr(L, "_pad", no_work)
    args = dict(x=X, w=W, b=B, stride=1, padding=0, dilation=1) | change
    with pytest.raises(ValueError) as err:
        func(**args)
    assert str(err.value).startswith(func.__name__ + ": ")
    assert message in str(err.value)


POOL_ERRORS = [
    ("x 2-D", dict(x=np.zeros((8, 8))), "x must be 4-D (N, C, H, W), got shape (8, 8)"),
    ("zero kernel", dict(kernel_size=0), "kernel_size must be positive, got 0"),
    ("float kernel", dict(kernel_size=2.0), "kernel_size must be an int or an (h, w) pair of ints"),
    ("zero stride", dict(stride=(0, 1)), "stride must be positive, got (0, 1)"),
    ("window too big", dict(kernel_size=(9, 2)), "the 9×2 window does not fit in the padded 8×8 input (x (2, 1, 8, 8)"),
    ("too much padding", dict(padding=2), "padding (2, 2) is more than half the 2×2 window (x (2, 1, 8, 8))"),
]


@pytest.mark.parametrize("func", [L.maxpool2d_forward, L.avgpool2d_forward])
@pytest.mark.parametrize("label, change, message", POOL_ERRORS, ids=[c[0] for c in POOL_ERRORS])
def test_pool_errors(func, label, change, message, monkeypatch):
    monkeypatch.setattr(L, "_pad", lambda *a, **k: pytest.fail("work before checks"))
    args = dict(x=X, kernel_size=2, stride=None, padding=0) | change
    with pytest.raises(ValueError) as err:
        func(**args)
    assert str(err.value).startswith(func.__name__ + ": ")
    assert message in str(err.value)


@pytest.mark.parametrize("call, message", [
    (lambda: L.linear_forward(np.zeros((2, 5)), np.zeros((3, 4)), np.zeros(3)),
     "linear_forward: x has 5 features but w expects 4 (x (2, 5), w (3, 4))"),
    (lambda: L.linear_forward(np.zeros((2, 1, 2, 2)), np.zeros((3, 4)), np.zeros(3)),
     "linear_forward: x must be 2-D (N, D) (use flatten_forward on images), got shape (2, 1, 2, 2)"),
    (lambda: L.linear_forward(np.zeros((2, 4)), np.zeros((3, 4)), np.zeros(4)),
     "linear_forward: b must have one bias per output, shape (3,), got (4,) (w (3, 4))"),
    (lambda: L.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3])),
     "softmax_cross_entropy: labels must lie in [0, 3) for 3 classes, got 0..3"),
    (lambda: L.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])),
     "softmax_cross_entropy: y must hold integer class labels, got dtype float64"),
    (lambda: L.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2])),
     "softmax_cross_entropy: y has 3 labels but logits has 2 rows (logits (2, 3), y (3,))"),
    (lambda: L.conv2d_backward(np.zeros((2, 4, 5, 5)), L.conv2d_forward(X, W, B)[1]),
     "conv2d_backward: dout has shape (2, 4, 5, 5) but the forward pass produced (2, 4, 6, 6)"),
    (lambda: L.maxpool2d_backward(np.zeros((2, 1, 3, 3)), L.maxpool2d_forward(X, 2)[1]),
     "maxpool2d_backward: dout has shape (2, 1, 3, 3) but the forward pass produced (2, 1, 4, 4)"),
    (lambda: L.relu_forward([1.0, -1.0]), "relu_forward: x must be a NumPy array, got list"),
    (lambda: L.batchnorm2d_forward(np.zeros((2, 3, 4, 4)), np.ones(2), np.zeros(3)),
     "batchnorm2d_forward: gamma must have one entry per channel, shape (3,), got (2,) (x (2, 3, 4, 4))"),
    (lambda: L.batchnorm2d_forward(np.zeros((2, 3)), np.ones(3), np.zeros(3)),
     "batchnorm2d_forward: x must be 4-D (N, C, H, W), got shape (2, 3)"),
    (lambda: L.batchnorm2d_forward(np.zeros((2, 3, 4, 4)), np.ones(3), np.zeros(3), eps=0),
     "batchnorm2d_forward: eps must be positive (it keeps the square root away from 0), got 0"),
    (lambda: L.dropout_forward(np.zeros(3), 1.5), "dropout_forward: p is a probability of dropping, in [0, 1], got 1.5"),
    (lambda: L.dropout_forward(np.zeros(3), 0.5, keep=np.ones(3)),
     "dropout_forward: keep must be a boolean array of x's shape (3,), got float64 (3,)"),
    (lambda: L.im2col(X, 3, 0), "im2col: kw must be a positive int, got 0"),
    (lambda: L.col2im(np.zeros((5, 9)), (2, 1, 8, 8), 3, 3),
     "col2im: cols has shape (5, 9) but x_shape (2, 1, 8, 8) with a 3×3 kernel unfolds to (72, 9)"),
])
def test_other_errors(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


# --------------------------------------------------------------------------- transposed convolution (lesson 09)

@st.composite
def conv_transpose_cases(draw):
    n, c, f = (draw(st.integers(1, 3)) for _ in range(3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    # output_padding below the stride or the dilation, padding that leaves at least one pixel
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    full = [(size - 1) * s + d * (k - 1) + op + 1
            for size, s, d, k, op in zip((h, w), stride, dilation, (kh, kw), output_padding)]
    padding = tuple(draw(st.integers(0, min(2, (length - 1) // 2))) for length in full)
    seed = draw(st.integers(0, 2**32 - 1))
    return (n, c, h, w), (c, f, kh, kw), (stride, padding, output_padding, dilation), seed


@CASES
@given(conv_transpose_cases())
def test_conv_transpose2d_matches_torch(case):
    x_shape, w_shape, (stride, padding, output_padding, dilation), seed = case
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[1])
    out, cache = L.conv_transpose2d_forward(x, w, b, stride, padding, output_padding, dilation)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = L.conv_transpose2d_backward(dout, cache)
    ref, (rdx, rdw, rdb) = torch_grads(
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=stride, padding=padding,
                                           output_padding=output_padding, dilation=dilation),
        (x, w, b), dout)
    assert out.shape == ref.shape
    assert rel_error(out, ref) < TOL
    assert rel_error(dx, rdx) < TOL
    assert rel_error(dw, rdw) < TOL
    assert rel_error(db, rdb) < TOL
    naive = L.conv_transpose2d_naive(x, w, b, stride, padding, output_padding, dilation)
    assert rel_error(naive, out) < 1e-12


def test_conv_transpose_is_the_input_gradient_of_a_convolution():
    """conv_transpose2d(y, w) == conv2d's dx for dout = y: the same kernel, run backwards."""
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3))   # conv: 3 -> 4 channels
    out, cache = L.conv2d_forward(x, w, np.zeros(4), stride=2, padding=1)           # (2, 4, 5, 4)
    y = rng.standard_normal(out.shape)
    dx, _, _ = L.conv2d_backward(y, cache)
    # a 9×8 input went to 5×4; the transposed conv gives back 9×7 unless output_padding adds a column
    up, _ = L.conv_transpose2d_forward(y, w, np.zeros(3), stride=2, padding=1, output_padding=(0, 1))
    np.testing.assert_allclose(up, dx, rtol=1e-12, atol=1e-12)


def test_conv_transpose_numerical_gradients():
    rng = np.random.default_rng(8)
    arrays = (rng.standard_normal((2, 2, 3, 4)), rng.standard_normal((2, 3, 3, 2)), rng.standard_normal(3))
    check_numerically(lambda x, w, b: L.conv_transpose2d_forward(x, w, b, stride=(2, 1), padding=1,
                                                                output_padding=(1, 0), dilation=(1, 2)),
                      L.conv_transpose2d_backward, arrays)


def test_stride_2_kernel_3_stamps_overlap_unevenly():
    """The checkerboard of lesson 09: ones in, and every other output pixel gets two stamps."""
    out, _ = L.conv_transpose2d_forward(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), np.zeros(1), stride=2)
    assert out.shape == (1, 1, 9, 9)
    per_axis = np.array([1, 1, 2, 1, 2, 1, 2, 1, 1])                  # stamps over 0-2, 2-4, 4-6, 6-8
    np.testing.assert_array_equal(out[0, 0], np.outer(per_axis, per_axis))
    even, _ = L.conv_transpose2d_forward(np.ones((1, 1, 4, 4)), np.ones((1, 1, 4, 4)), np.zeros(1), stride=2,
                                         padding=1)
    assert even.shape == (1, 1, 8, 8)
    np.testing.assert_array_equal(even[0, 0, 1:-1, 1:-1], 4)          # kernel divisible by stride: even inside


CONV_TRANSPOSE_ERRORS = [
    ("weight layout", dict(w=np.zeros((4, 1, 3, 3))), "x has 2 channels but w expects 4; a transposed convolution's "
                                                       "weight is laid out (C in, F out, KH, KW)"),
    ("bias length", dict(b=np.zeros(2)), "b must have one bias per output channel, shape (3,), got (2,)"),
    ("output padding", dict(stride=2, output_padding=2), "output_padding 2 must be smaller than the stride 2 or the "
                                                         "dilation 1"),
    ("cropped away", dict(padding=3), "padding 3 crops more than the 6 pixels"),
    ("negative output padding", dict(output_padding=-1), "output_padding must be at least 0, got -1"),
    ("x 3-D", dict(x=np.zeros((2, 4, 4))), "x must be 4-D (N, C, H, W), got shape (2, 4, 4)"),
]


@pytest.mark.parametrize("func", [L.conv_transpose2d_forward, L.conv_transpose2d_naive])
@pytest.mark.parametrize("label, change, message", CONV_TRANSPOSE_ERRORS, ids=[c[0] for c in CONV_TRANSPOSE_ERRORS])
def test_conv_transpose_errors(func, label, change, message, monkeypatch):
    monkeypatch.setattr(L, "_col2im", lambda *a, **k: pytest.fail("work before checks"))
    args = dict(x=np.zeros((2, 2, 4, 4)), w=np.zeros((2, 3, 3, 3)), b=np.zeros(3), stride=1, padding=0,
                output_padding=0, dilation=1) | change
    with pytest.raises(ValueError) as err:
        func(**args)
    assert str(err.value).startswith(func.__name__ + ": ")
    assert message in str(err.value)


def test_conv_transpose_backward_checks_dout():
    _, cache = L.conv_transpose2d_forward(np.zeros((2, 2, 4, 4)), np.zeros((2, 3, 3, 3)), np.zeros(3), stride=2)
    with pytest.raises(ValueError) as err:
        L.conv_transpose2d_backward(np.zeros((2, 3, 8, 8)), cache)
    assert str(err.value) == ("conv_transpose2d_backward: dout has shape (2, 3, 8, 8) but the forward pass "
                              "produced (2, 3, 9, 9)")
