"""Gradient checking with centred differences (lesson 03).

A backward pass is easy to get subtly wrong; a numerical gradient is slow but hard to get
wrong. For a layer ``out = f(x)`` and an upstream gradient ``dout``, the analytic ``dx`` must
match the derivative of the scalar ``L(x) = sum(f(x) · dout)``, estimated one entry at a time:

    dL/dx[i] ≈ (L(x + h·e_i) − L(x − h·e_i)) / (2h)

The centred difference has error O(h²) (a one-sided one only O(h)). In float64 with
h = 1e-5, a correct gradient typically agrees to a relative error around 1e-8 or better;
1e-2 or worse almost always means a bug.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

TINY = np.finfo(np.float64).tiny


def numerical_gradient(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: np.ndarray,
                       h: float = 1e-5) -> np.ndarray:
    """Centred-difference gradient of ``sum(f(x) * dout)`` with respect to ``x`` (lesson 03).

    ``x`` is nudged in place, one entry at a time, and every entry is restored afterwards, so
    ``f`` may close over ``x`` (for example, a weight array inside a network).

    Args:
        f: function of x returning an array shaped like ``dout`` (or a scalar when dout is 1.0).
        x: float array to differentiate with respect to; use float64 for a meaningful check.
        dout: upstream gradient, the weights of the sum.
        h: step size.

    Returns:
        An array shaped like x.
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        kind = f"dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__
        raise ValueError(f"numerical_gradient: x must be a float NumPy array (nudged in place), got {kind}")
    if not h > 0:
        raise ValueError(f"numerical_gradient: h must be positive, got {h!r}")
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        plus = np.sum(f(x) * dout)
        x[index] = original - h
        minus = np.sum(f(x) * dout)
        x[index] = original                                  # restore before the next entry
        grad[index] = (plus - minus) / (2 * h)
    return grad


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Relative error ``max |a − b| / max(|a| + |b|)`` of two arrays (lesson 03).

    Dividing by the size of the values makes the number comparable across layers; taking the
    max over the whole array (not entry by entry) keeps tiny entries, whose few correct
    digits mean little, from dominating. Two all-zero arrays have error 0.

    Args:
        a: array.
        b: array of the same shape.

    Returns:
        A float in [0, 1].
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(a) + np.abs(b))), TINY)
    return float(np.max(np.abs(a - b)) / scale)
