"""cnnlab.gradcheck: numerical gradients of known functions, and the relative error."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab.gradcheck import numerical_gradient, rel_error


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.integers(0, 2**32 - 1))
def test_gradient_of_known_functions(shape, seed):
    rng = np.random.default_rng(seed)
    x, dout = rng.standard_normal(shape), rng.standard_normal(shape)
    # d/dx sum(sin(x) * dout) = cos(x) * dout ; d/dx sum(x**3 * dout) = 3x² * dout
    assert rel_error(numerical_gradient(np.sin, x, dout), np.cos(x) * dout) < 1e-8
    # Centred differences of x³ are off by exactly h²·dout (the third-derivative term), which is
    # large relative to a tiny true gradient near x = 0: bound the absolute error by that term,
    # plus the rounding of the summed output sum(x³·dout) divided by 2h.
    h = 1e-5
    error = numerical_gradient(lambda v: v ** 3, x, dout, h) - 3 * x ** 2 * dout
    rounding = 100 * np.finfo(float).eps * np.sum(np.abs(x ** 3 * dout)) / h
    assert np.all(np.abs(error) <= h ** 2 * np.abs(dout) + rounding + 1e-12)


def test_matrix_product_and_scalar_output():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    dout = rng.standard_normal((3, 2))
    assert rel_error(numerical_gradient(lambda m: m @ b, a, dout), dout @ b.T) < 1e-9
    # a scalar function: dout = 1.0
    assert rel_error(numerical_gradient(lambda v: np.array(np.sum(v ** 2)), a, 1.0), 2 * a) < 1e-9


def test_x_is_restored_and_f_sees_the_nudged_array():
    x = np.array([1.0, 2.0, 3.0])
    seen = []
    numerical_gradient(lambda v: seen.append(v.copy()) or v, x, np.ones(3), h=0.5)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])
    assert len(seen) == 6 and seen[0].tolist() == [1.5, 2.0, 3.0] and seen[1].tolist() == [0.5, 2.0, 3.0]


def test_centred_difference_is_second_order():
    # for x³ at 1 the centred error is exactly h² (the one-sided one would be ~3h)
    x = np.array([1.0])
    assert numerical_gradient(lambda v: v ** 3, x, np.ones(1), h=1e-2)[0] == pytest.approx(3 + 1e-4, abs=1e-12)


def test_rel_error():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.array([1.0, -1.0]), np.array([1.0, 1.0])) == pytest.approx(1.0)
    assert rel_error(np.array([100.0, 1e-9]), np.array([100.0, 2e-9])) == pytest.approx(1e-9 / 200)
    assert rel_error(np.array([3.0]), np.array([3.3])) == pytest.approx(0.3 / 6.3)


def test_errors():
    with pytest.raises(ValueError, match="numerical_gradient: x must be a float NumPy array"):
        numerical_gradient(np.sin, np.arange(3), np.ones(3))
    with pytest.raises(ValueError, match="numerical_gradient: h must be positive"):
        numerical_gradient(np.sin, np.zeros(3), np.ones(3), h=0)
    with pytest.raises(ValueError, match=r"rel_error: shapes differ, \(2,\) vs \(3,\)"):
        rel_error(np.zeros(2), np.zeros(3))
