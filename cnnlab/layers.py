"""NumPy reference layers of a CNN, in NCHW layout (lessons 01, 03, 05 and 09).

Every layer is a pair of functions with the same shape:

- ``*_forward(inputs...) -> (out, cache)`` computes the output and keeps what the backward
  pass will need;
- ``*_backward(dout, cache) -> gradients`` unpacks the cache first, then applies the local
  chain rule: given dL/dout, it returns dL/dinput (and dL/dw, dL/db for layers with weights).

Letters: N batch, C channels in, F filters out, H/W input height/width, KH/KW kernel,
OH/OW output. ``stride``, ``padding`` and ``dilation`` are an int or an (h, w) pair.

All of them agree with ``torch.nn.functional`` (conv2d, conv_transpose2d, max_pool2d, avg_pool2d
with ``count_include_pad=True``, relu, sigmoid, tanh, linear, batch_norm in training mode, dropout
given its mask, cross_entropy) on values and gradients; ``tests/test_layers.py`` checks it on
randomly drawn shapes. A bad argument raises a ``ValueError`` that names the function and the
shapes, before any work is done.

Max-pool ties: when several entries of a window share the maximum, the first one in
row-major window order (top row first, left to right) is the max, and only it receives the
gradient. That is torch's rule (its kernels replace the running max only on a strictly larger
value, or on NaN, which therefore propagates).
"""

from __future__ import annotations

from typing import Any, Iterator, NamedTuple

import numpy as np

from cnnlab.shapes import (IntOrPair, conv_output_size, conv_transpose_output_size, pool_output_size,
                           positive_int, to_pair)

Cache = tuple[Any, ...]


# --------------------------------------------------------------------------- argument checks

def _check_array(func: str, name: str, a: Any, ndim: int | None = None, letters: str = "") -> None:
    """``a`` must be a real-valued NumPy array, with ``ndim`` dimensions (named ``letters``) if given."""
    what = f"a NumPy array {letters}".rstrip()
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{func}: {name} must be {what}, got {type(a).__name__}")
    if a.dtype.kind not in "iuf":
        raise ValueError(f"{func}: {name} must hold real numbers, got dtype {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{func}: {name} must be {ndim}-D {letters}, got shape {a.shape}")


def _check_dout(func: str, dout: Any, expected: tuple[int, ...]) -> None:
    """The upstream gradient must have the shape the forward pass produced."""
    if not isinstance(dout, np.ndarray) or dout.shape != tuple(expected):
        got = dout.shape if isinstance(dout, np.ndarray) else type(dout).__name__
        raise ValueError(f"{func}: dout has shape {got} but the forward pass produced {tuple(expected)}")


def _float_dtype(*arrays: np.ndarray) -> np.dtype:
    """float32 stays float32, float64 stays float64, integers become float64."""
    return np.result_type(*arrays, np.float32)


def _pad(x: np.ndarray, ph: int, pw: int, value: float = 0.0) -> np.ndarray:
    """Pad the last two axes with ``value``: (..., H, W) -> (..., H + 2PH, W + 2PW)."""
    if ph == 0 and pw == 0:
        return x
    widths = [(0, 0)] * (x.ndim - 2) + [(ph, ph), (pw, pw)]
    return np.pad(x, widths, constant_values=value)


# --------------------------------------------------------------------------- sliding windows

class Window(NamedTuple):
    """Where a KH×KW kernel lands on a padded input: the geometry every sliding-window layer shares."""

    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int
    oh: int
    ow: int

    def offsets(self) -> Iterator[tuple[int, int, slice, slice]]:
        """``(i, j, ys, xs)`` for each kernel entry (i, j), in row-major order.

        ``padded[..., ys, xs]`` is an (OH, OW) grid: for every output position, the input
        pixel that kernel entry (i, j) multiplies. Looping over the KH·KW entries (9 for a 3×3
        kernel) instead of over the OH·OW output pixels keeps the Python loop short and lets
        NumPy move whole strided slices at once.
        """
        for i in range(self.kh):
            for j in range(self.kw):
                top, left = i * self.dh, j * self.dw
                ys = slice(top, top + self.sh * (self.oh - 1) + 1, self.sh)
                xs = slice(left, left + self.sw * (self.ow - 1) + 1, self.sw)
                yield i, j, ys, xs


def _conv_window(func: str, x_shape: tuple[int, ...], kernel: tuple[int, int], stride: IntOrPair,
                 padding: IntOrPair, dilation: IntOrPair, shapes: str) -> Window:
    """Check stride/padding/dilation and that the kernel fits, then build the Window."""
    (sh, sw) = to_pair(stride, "stride", func)
    (ph, pw) = to_pair(padding, "padding", func, minimum=0)
    (dh, dw) = to_pair(dilation, "dilation", func)
    (kh, kw), (h, w) = kernel, x_shape[-2:]
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if span_h > h + 2 * ph or span_w > w + 2 * pw:
        raise ValueError(
            f"{func}: the {kh}×{kw} kernel (spanning {span_h}×{span_w} with dilation {(dh, dw)}) does "
            f"not fit in the padded {h + 2 * ph}×{w + 2 * pw} input {shapes} with padding {(ph, pw)}")
    oh, ow = conv_output_size((h, w), kernel, (sh, sw), (ph, pw), (dh, dw))
    return Window(kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)


def _pool_window(func: str, x: Any, kernel_size: IntOrPair, stride: IntOrPair | None,
                 padding: IntOrPair) -> Window:
    """Check a pooling layer's arguments and build its Window (stride defaults to the kernel)."""
    _check_array(func, "x", x, 4, "(N, C, H, W)")
    (kh, kw) = to_pair(kernel_size, "kernel_size", func)
    (sh, sw) = to_pair(kernel_size if stride is None else stride, "stride", func)
    (ph, pw) = to_pair(padding, "padding", func, minimum=0)
    h, w = x.shape[-2:]
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"{func}: padding {(ph, pw)} is more than half the {kh}×{kw} window "
                         f"(x {x.shape}); a window could then see only padding")
    if kh > h + 2 * ph or kw > w + 2 * pw:
        raise ValueError(f"{func}: the {kh}×{kw} window does not fit in the padded "
                         f"{h + 2 * ph}×{w + 2 * pw} input (x {x.shape}, padding {(ph, pw)})")
    oh, ow = pool_output_size((h, w), (kh, kw), (sh, sw), (ph, pw))
    return Window(kh, kw, sh, sw, ph, pw, 1, 1, oh, ow)


def _check_conv(func: str, x: Any, w: Any, b: Any, stride: IntOrPair, padding: IntOrPair,
                dilation: IntOrPair) -> Window:
    """All the checks of a convolution's arguments; returns its Window."""
    _check_array(func, "x", x, 4, "(N, C, H, W)")
    _check_array(func, "w", w, 4, "(F, C, KH, KW)")
    shapes = f"(x {x.shape}, w {w.shape})"
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"{func}: x has {x.shape[1]} channels but w expects {w.shape[1]} {shapes}")
    _check_array(func, "b", b, 1, "(F,)")
    if b.shape != (w.shape[0],):
        raise ValueError(f"{func}: b must have one bias per filter, shape ({w.shape[0]},), "
                         f"got {b.shape} (w {w.shape})")
    return _conv_window(func, x.shape, w.shape[2:], stride, padding, dilation, shapes)


# --------------------------------------------------------------------------- convolution

def conv2d_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: IntOrPair = 1,
                 padding: IntOrPair = 0, dilation: IntOrPair = 1) -> np.ndarray:
    """Convolution (cross-correlation) with plain loops, written to be read (lesson 01).

    Slide each filter over the zero-padded image; at every position multiply the window by
    the filter entry by entry, sum, and add the bias:
    ``Y[f, i, j] = Σc Σm Σn X[c, i·s + m·d, j·s + n·d] · W[f, c, m, n] + b[f]``.
    Like every deep-learning library, the kernel is not flipped.

    Args:
        x: images (N, C, H, W).
        w: filters (F, C, KH, KW).
        b: biases (F,).
        stride: step between windows, int or (h, w).
        padding: zeros added on each side, int or (h, w).
        dilation: gap between kernel taps, int or (h, w).

    Returns:
        Feature maps (N, F, OH, OW); the same numbers as ``conv2d_forward`` (only slower).
    """
    win = _check_conv("conv2d_naive", x, w, b, stride, padding, dilation)
    N, F = x.shape[0], w.shape[0]
    xp = _pad(x, win.ph, win.pw)                                   # (N, C, H+2PH, W+2PW)
    out = np.zeros((N, F, win.oh, win.ow), dtype=_float_dtype(x, w, b))
    span_h, span_w = win.dh * (win.kh - 1) + 1, win.dw * (win.kw - 1) + 1   # the dilated kernel's extent
    for n in range(N):
        for f in range(F):
            for i in range(win.oh):
                for j in range(win.ow):
                    top, left = i * win.sh, j * win.sw                       # where this window starts
                    window = xp[n, :, top:top + span_h:win.dh, left:left + span_w:win.dw]   # (C, KH, KW)
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]           # Σc Σm Σn X·W + b
    return out


def _im2col(x: np.ndarray, win: Window) -> np.ndarray:
    """im2col without the checks: (N, C, H, W) -> (N*OH*OW, C*KH*KW)."""
    N, C = x.shape[:2]
    xp = _pad(x.transpose(1, 0, 2, 3), win.ph, win.pw)            # (C, N, H+2PH, W+2PW)
    blocks = np.empty((C, win.kh, win.kw, N, win.oh, win.ow), dtype=x.dtype)
    for i, j, ys, xs in win.offsets():
        blocks[:, i, j] = xp[:, :, ys, xs]                         # (C, N, OH, OW)
    # Built as (C*KH*KW, N*OH*OW) so that each offset writes one contiguous block; the
    # transpose is a free view that BLAS reads as it is.
    return blocks.reshape(C * win.kh * win.kw, N * win.oh * win.ow).T   # (N*OH*OW, C*KH*KW)


def _col2im(cols: np.ndarray, x_shape: tuple[int, ...], win: Window) -> np.ndarray:
    """col2im without the checks: (N*OH*OW, C*KH*KW) -> (N, C, H, W), summing overlaps."""
    N, C, H, W = x_shape
    blocks = cols.T.reshape(C, win.kh, win.kw, N, win.oh, win.ow)  # free when cols came from im2col's layout
    xp = np.zeros((C, N, H + 2 * win.ph, W + 2 * win.pw), dtype=cols.dtype)
    for i, j, ys, xs in win.offsets():
        xp[:, :, ys, xs] += blocks[:, i, j]                   # overlapping windows add up
    x = xp[:, :, win.ph:win.ph + H, win.pw:win.pw + W]             # (C, N, H, W)
    return np.ascontiguousarray(x.transpose(1, 0, 2, 3))          # (N, C, H, W)


def im2col(x: np.ndarray, kh: int, kw: int, stride: IntOrPair = 1, padding: IntOrPair = 0,
           dilation: IntOrPair = 1) -> np.ndarray:
    """Unfold every KH×KW window of x into a row, so a convolution becomes one matrix product (lesson 03).

    Row ``n·OH·OW + i·OW + j`` holds the window under output pixel (i, j) of image n, in the
    order (c, kh, kw) — the order of ``w.reshape(F, -1)``, so ``im2col(x, ...) @ w.reshape(F, -1).T``
    is the convolution, laid out (N*OH*OW, F). The copy costs memory (each pixel appears up to
    KH·KW times) but turns the work into a single large matrix multiply, which BLAS runs at
    near-peak speed.

    Args:
        x: images (N, C, H, W).
        kh: kernel height.
        kw: kernel width.
        stride: int or (h, w).
        padding: int or (h, w).
        dilation: int or (h, w).

    Returns:
        cols (N*OH*OW, C*KH*KW).
    """
    _check_array("im2col", "x", x, 4, "(N, C, H, W)")
    kernel = (positive_int(kh, "kh", "im2col"), positive_int(kw, "kw", "im2col"))
    win = _conv_window("im2col", x.shape, kernel, stride, padding, dilation, f"(x {x.shape})")
    return _im2col(x, win)


def col2im(cols: np.ndarray, x_shape: tuple[int, int, int, int], kh: int, kw: int,
           stride: IntOrPair = 1, padding: IntOrPair = 0, dilation: IntOrPair = 1) -> np.ndarray:
    """The adjoint of ``im2col``: add every row back onto the window it came from (lesson 03).

    A pixel that sat in several windows receives the sum of their entries, which is exactly
    the gradient with respect to the input when ``cols`` holds dL/dcols.

    Args:
        cols: (N*OH*OW, C*KH*KW), laid out as ``im2col`` returns it.
        x_shape: (N, C, H, W) of the images ``im2col`` unfolded.
        kh: kernel height.
        kw: kernel width.
        stride: int or (h, w).
        padding: int or (h, w).
        dilation: int or (h, w).

    Returns:
        Images (N, C, H, W).
    """
    func = "col2im"
    shape = tuple(x_shape) if isinstance(x_shape, (tuple, list)) else ()
    if len(shape) != 4:
        raise ValueError(f"{func}: x_shape must be (N, C, H, W), got {x_shape!r}")
    shape = tuple(positive_int(v, "each entry of x_shape", func) for v in shape)
    _check_array(func, "cols", cols, 2, "(N*OH*OW, C*KH*KW)")
    kernel = (positive_int(kh, "kh", func), positive_int(kw, "kw", func))
    win = _conv_window(func, shape, kernel, stride, padding, dilation, f"(x_shape {shape})")
    N, C = shape[:2]
    expected = (N * win.oh * win.ow, C * win.kh * win.kw)
    if cols.shape != expected:
        raise ValueError(f"{func}: cols has shape {cols.shape} but x_shape {shape} with a {kh}×{kw} "
                         f"kernel unfolds to {expected}")
    return _col2im(cols, shape, win)


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: IntOrPair = 1,
                   padding: IntOrPair = 0, dilation: IntOrPair = 1) -> tuple[np.ndarray, Cache]:
    """Convolution as one matrix product over im2col's unfolded windows (lesson 03).

    Args:
        x: images (N, C, H, W).
        w: filters (F, C, KH, KW).
        b: biases (F,).
        stride: int or (h, w).
        padding: zeros on each side, int or (h, w).
        dilation: gap between kernel taps, int or (h, w).

    Returns:
        out: feature maps (N, F, OH, OW).
        cache: what ``conv2d_backward`` needs.
    """
    win = _check_conv("conv2d_forward", x, w, b, stride, padding, dilation)
    dtype = _float_dtype(x, w, b)
    x, w, b = x.astype(dtype, copy=False), w.astype(dtype, copy=False), b.astype(dtype, copy=False)
    N, F = x.shape[0], w.shape[0]
    cols = _im2col(x, win)                                         # (N*OH*OW, C*KH*KW)
    out = w.reshape(F, -1) @ cols.T + b[:, None]                   # (F, N*OH*OW)
    out = out.reshape(F, N, win.oh, win.ow).transpose(1, 0, 2, 3)  # (N, F, OH, OW)
    return np.ascontiguousarray(out), (x.shape, w, cols, win)


def conv2d_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of a convolution (lesson 03).

    The filter is used at every output position, so its gradient sums over all of them
    (``dw = dout_mat @ cols``, a sum over the N·OH·OW positions); the input gradient sends
    each output's gradient back through the filter onto the window it came from (``col2im``),
    which amounts to convolving dout with the filter rotated by 180°.

    Args:
        dout: upstream gradient (N, F, OH, OW).
        cache: from ``conv2d_forward``.

    Returns:
        dx (N, C, H, W), dw (F, C, KH, KW), db (F,).
    """
    x_shape, w, cols, win = cache
    N, F = x_shape[0], w.shape[0]
    _check_dout("conv2d_backward", dout, (N, F, win.oh, win.ow))
    dout_mat = dout.astype(w.dtype, copy=False).transpose(1, 0, 2, 3).reshape(F, -1)  # (F, N*OH*OW)
    db = dout_mat.sum(axis=1)                                      # (F,)
    # Both products are computed transposed, with C*KH*KW rows: BLAS is several times faster
    # at that orientation than at (F, C*KH*KW) from a long sum over N*OH*OW, and dcols then
    # lands in im2col's memory layout, so col2im reads contiguous blocks.
    dw = (cols.T @ dout_mat.T).T.reshape(w.shape)                  # (F, C, KH, KW)
    dcols = (w.reshape(F, -1).T @ dout_mat).T                      # (N*OH*OW, C*KH*KW)
    dx = _col2im(dcols, x_shape, win)                              # (N, C, H, W)
    return dx, dw, db


# --------------------------------------------------------------------------- transposed convolution

def _check_conv_transpose(func: str, x: Any, w: Any, b: Any, stride: IntOrPair, padding: IntOrPair,
                          output_padding: IntOrPair, dilation: IntOrPair) -> Window:
    """All the checks of a transposed convolution's arguments; returns the Window of the
    convolution it mirrors (a conv over the output with these settings lands on H×W positions)."""
    _check_array(func, "x", x, 4, "(N, C, H, W)")
    _check_array(func, "w", w, 4, "(C, F, KH, KW)")
    shapes = f"(x {x.shape}, w {w.shape})"
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"{func}: x has {x.shape[1]} channels but w expects {w.shape[0]}; a transposed "
                         f"convolution's weight is laid out (C in, F out, KH, KW) {shapes}")
    _check_array(func, "b", b, 1, "(F,)")
    if b.shape != (w.shape[1],):
        raise ValueError(f"{func}: b must have one bias per output channel, shape ({w.shape[1]},), "
                         f"got {b.shape} (w {w.shape})")
    (sh, sw) = to_pair(stride, "stride", func)
    (ph, pw) = to_pair(padding, "padding", func, minimum=0)
    (dh, dw) = to_pair(dilation, "dilation", func)
    to_pair(output_padding, "output_padding", func, minimum=0)
    (kh, kw), (h, wd) = w.shape[2:], x.shape[2:]
    try:
        conv_transpose_output_size((h, wd), (kh, kw), (sh, sw), (ph, pw), output_padding, (dh, dw))
    except ValueError as err:
        raise ValueError(f"{func}: {str(err).split(': ', 1)[1]} {shapes}") from None
    return Window(kh, kw, sh, sw, ph, pw, dh, dw, h, wd)


def conv_transpose2d_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: IntOrPair = 1,
                           padding: IntOrPair = 0, output_padding: IntOrPair = 0,
                           dilation: IntOrPair = 1) -> np.ndarray:
    """Transposed convolution with plain loops, written to be read (lesson 09).

    Every input pixel stamps a copy of the kernel, scaled by its value, onto the output; the
    stamps of neighbouring pixels sit ``stride`` apart and add up where they overlap:
    ``Y[f, i·s + m·d − p, j·s + n·d − p] += X[c, i, j] · W[c, f, m, n]``, then the bias.
    It is the gradient of a convolution with respect to its input, run forwards.

    Args:
        x: images (N, C, H, W).
        w: kernels (C, F, KH, KW), laid out like ``torch.nn.ConvTranspose2d``'s weight.
        b: biases (F,).
        stride: distance between stamps (the upsampling factor), int or (h, w).
        padding: rows/columns cropped from each side of the result, int or (h, w).
        output_padding: extra rows/columns at the bottom/right, int or (h, w).
        dilation: gap between kernel taps, int or (h, w).

    Returns:
        (N, F, OH, OW) with OH = (H − 1)·s − 2p + d(KH − 1) + output_padding + 1; the same
        numbers as ``conv_transpose2d_forward``.
    """
    win = _check_conv_transpose("conv_transpose2d_naive", x, w, b, stride, padding, output_padding, dilation)
    (N, C, H, W), F = x.shape, w.shape[1]
    oh, ow = conv_transpose_output_size((H, W), w.shape[2:], (win.sh, win.sw), (win.ph, win.pw),
                                        output_padding, (win.dh, win.dw))
    # stamp onto an output that still has the padding around it, then crop it off
    full = np.zeros((N, F, oh + 2 * win.ph, ow + 2 * win.pw), dtype=_float_dtype(x, w, b))
    span_h, span_w = win.dh * (win.kh - 1) + 1, win.dw * (win.kw - 1) + 1
    for n in range(N):
        for c in range(C):
            for i in range(H):
                for j in range(W):
                    top, left = i * win.sh, j * win.sw                     # where this pixel's stamp starts
                    stamp = full[n, :, top:top + span_h:win.dh, left:left + span_w:win.dw]   # (F, KH, KW)
                    stamp += x[n, c, i, j] * w[c]                          # the kernel, scaled by the pixel
    out = full[:, :, win.ph:win.ph + oh, win.pw:win.pw + ow]              # (N, F, OH, OW)
    return out + b[None, :, None, None]


def conv_transpose2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: IntOrPair = 1,
                             padding: IntOrPair = 0, output_padding: IntOrPair = 0,
                             dilation: IntOrPair = 1) -> tuple[np.ndarray, Cache]:
    """Transposed convolution ("deconvolution", learnable upsampling), vectorised (lesson 09).

    One matrix product turns each input pixel into its scaled kernel stamp, laid out as the
    rows of an im2col matrix; ``col2im`` then adds every stamp onto the output, overlaps summed.
    That is exactly the backward pass of ``conv2d_forward`` with respect to its input, which
    is why the two share their window geometry: a convolution with the same kernel, stride,
    padding and dilation maps the output back to the input's size.

    Args:
        x: images (N, C, H, W).
        w: kernels (C, F, KH, KW), like ``torch.nn.ConvTranspose2d``'s weight.
        b: biases (F,).
        stride: int or (h, w); the upsampling factor.
        padding: cropped from each side of the result, int or (h, w).
        output_padding: extra rows/columns at the bottom/right, smaller than the stride or the
            dilation; int or (h, w).
        dilation: gap between kernel taps, int or (h, w).

    Returns:
        out: (N, F, OH, OW) with OH = (H − 1)·s − 2p + d(KH − 1) + output_padding + 1.
        cache: what ``conv_transpose2d_backward`` needs.
    """
    win = _check_conv_transpose("conv_transpose2d_forward", x, w, b, stride, padding, output_padding, dilation)
    dtype = _float_dtype(x, w, b)
    x, w, b = x.astype(dtype, copy=False), w.astype(dtype, copy=False), b.astype(dtype, copy=False)
    (N, C, H, W), F = x.shape, w.shape[1]
    oh, ow = conv_transpose_output_size((H, W), w.shape[2:], (win.sh, win.sw), (win.ph, win.pw),
                                        output_padding, (win.dh, win.dw))
    x_mat = x.transpose(0, 2, 3, 1).reshape(N * H * W, C)              # (N*H*W, C)
    cols = x_mat @ w.reshape(C, -1)                                    # (N*H*W, F*KH*KW): one stamp per pixel
    out = _col2im(cols, (N, F, oh, ow), win)                           # (N, F, OH, OW), overlaps added
    out += b[None, :, None, None]
    return out, (x_mat, w, (N, C, H, W), (oh, ow), win)


def conv_transpose2d_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of a transposed convolution (lesson 09).

    Its forward pass was a convolution's backward pass, so its backward pass is a convolution:
    im2col gathers, for every input pixel, the KH×KW output gradients its stamp touched; one
    product with the kernels gives dx, another (summed over every pixel) gives dw.

    Args:
        dout: upstream gradient (N, F, OH, OW).
        cache: from ``conv_transpose2d_forward``.

    Returns:
        dx (N, C, H, W), dw (C, F, KH, KW), db (F,).
    """
    x_mat, w, (N, C, H, W), (oh, ow), win = cache
    F = w.shape[1]
    _check_dout("conv_transpose2d_backward", dout, (N, F, oh, ow))
    dout = dout.astype(w.dtype, copy=False)
    dcols = _im2col(dout, win)                                         # (N*H*W, F*KH*KW)
    dx = (dcols @ w.reshape(C, -1).T).reshape(N, H, W, C).transpose(0, 3, 1, 2)   # (N, C, H, W)
    dw = (x_mat.T @ dcols).reshape(w.shape)                            # (C, F, KH, KW)
    db = dout.sum(axis=(0, 2, 3))                                      # (F,)
    return np.ascontiguousarray(dx), dw, db


# --------------------------------------------------------------------------- pooling

def maxpool2d_forward(x: np.ndarray, kernel_size: IntOrPair, stride: IntOrPair | None = None,
                      padding: IntOrPair = 0) -> tuple[np.ndarray, Cache]:
    """Max pooling: the largest value of each window (lesson 03).

    Windows may overlap (stride < kernel). Padding is -inf, so it never wins. Ties go to
    the first maximum in row-major window order, like torch.

    Args:
        x: (N, C, H, W).
        kernel_size: window, int or (h, w).
        stride: int or (h, w); ``None`` means the window size.
        padding: int or (h, w), at most half the window.

    Returns:
        out: (N, C, OH, OW).
        cache: what ``maxpool2d_backward`` needs.
    """
    win = _pool_window("maxpool2d_forward", x, kernel_size, stride, padding)
    x = x.astype(_float_dtype(x), copy=False)
    xp = _pad(x, win.ph, win.pw, value=-np.inf)                   # (N, C, H+2PH, W+2PW)
    out = np.full(x.shape[:2] + (win.oh, win.ow), -np.inf, dtype=x.dtype)
    argmax = np.zeros(out.shape, dtype=np.intp)                   # index i*KW + j within the window
    for i, j, ys, xs in win.offsets():
        candidate = xp[:, :, ys, xs]                              # (N, C, OH, OW)
        # strictly larger: an equal value later in the window does not replace the first max
        better = (candidate > out) | np.isnan(candidate)
        out = np.where(better, candidate, out)
        argmax[better] = i * win.kw + j
    return out, (x.shape, argmax, win)


def maxpool2d_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Gradient of max pooling: each window's gradient goes to its max only (lesson 03).

    Args:
        dout: (N, C, OH, OW).
        cache: from ``maxpool2d_forward``.

    Returns:
        dx (N, C, H, W); overlapping windows add up.
    """
    x_shape, argmax, win = cache
    _check_dout("maxpool2d_backward", dout, argmax.shape)
    N, C, H, W = x_shape
    dxp = np.zeros((N, C, H + 2 * win.ph, W + 2 * win.pw), dtype=_float_dtype(dout))
    for i, j, ys, xs in win.offsets():
        dxp[:, :, ys, xs] += np.where(argmax == i * win.kw + j, dout, 0)
    return dxp[:, :, win.ph:win.ph + H, win.pw:win.pw + W]


def avgpool2d_forward(x: np.ndarray, kernel_size: IntOrPair, stride: IntOrPair | None = None,
                      padding: IntOrPair = 0) -> tuple[np.ndarray, Cache]:
    """Average pooling: the mean of each window, padding zeros included (lesson 03).

    Every window divides by KH·KW, even where it overlaps the zero padding
    (torch's default ``count_include_pad=True``).

    Args:
        x: (N, C, H, W).
        kernel_size: window, int or (h, w).
        stride: int or (h, w); ``None`` means the window size.
        padding: int or (h, w), at most half the window.

    Returns:
        out: (N, C, OH, OW).
        cache: what ``avgpool2d_backward`` needs.
    """
    win = _pool_window("avgpool2d_forward", x, kernel_size, stride, padding)
    xp = _pad(x.astype(_float_dtype(x), copy=False), win.ph, win.pw)   # (N, C, H+2PH, W+2PW)
    out = np.zeros(x.shape[:2] + (win.oh, win.ow), dtype=xp.dtype)
    for _, _, ys, xs in win.offsets():
        out += xp[:, :, ys, xs]                                   # (N, C, OH, OW)
    out /= win.kh * win.kw
    return out, (x.shape, win)


def avgpool2d_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Gradient of average pooling: each window's gradient is shared equally by its KH·KW entries (lesson 03).

    Args:
        dout: (N, C, OH, OW).
        cache: from ``avgpool2d_forward``.

    Returns:
        dx (N, C, H, W); overlapping windows add up.
    """
    x_shape, win = cache
    N, C, H, W = x_shape
    _check_dout("avgpool2d_backward", dout, (N, C, win.oh, win.ow))
    share = dout / (win.kh * win.kw)                              # (N, C, OH, OW)
    dxp = np.zeros((N, C, H + 2 * win.ph, W + 2 * win.pw), dtype=share.dtype)
    for _, _, ys, xs in win.offsets():
        dxp[:, :, ys, xs] += share
    return dxp[:, :, win.ph:win.ph + H, win.pw:win.pw + W]


# --------------------------------------------------------------------------- activations

def relu_forward(x: np.ndarray) -> tuple[np.ndarray, Cache]:
    """ReLU: max(0, x), element-wise (lesson 03).

    Args:
        x: any shape.

    Returns:
        out (same shape), cache.
    """
    _check_array("relu_forward", "x", x)
    return np.maximum(x, 0), (x,)


def relu_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Gradient of ReLU: passes dout where x > 0, zero elsewhere (also at exactly 0, like torch) (lesson 03).

    Args:
        dout: same shape as x.
        cache: from ``relu_forward``.

    Returns:
        dx.
    """
    (x,) = cache
    _check_dout("relu_backward", dout, x.shape)
    return dout * (x > 0)


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, Cache]:
    """Sigmoid: 1 / (1 + e^(−x)), element-wise (lesson 03).

    Computed from e^(−|x|), which never overflows, for both signs of x.

    Args:
        x: any shape.

    Returns:
        out (same shape, in (0, 1)), cache.
    """
    _check_array("sigmoid_forward", "x", x)
    x = x.astype(_float_dtype(x), copy=False)
    z = np.exp(-np.abs(x))                                        # in (0, 1]
    out = np.where(x >= 0, 1 / (1 + z), z / (1 + z))
    return out, (out,)


def sigmoid_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Gradient of sigmoid: dout · σ(x) · (1 − σ(x)) (lesson 03).

    Args:
        dout: same shape as x.
        cache: from ``sigmoid_forward``.

    Returns:
        dx.
    """
    (out,) = cache
    _check_dout("sigmoid_backward", dout, out.shape)
    return dout * out * (1 - out)


def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, Cache]:
    """Hyperbolic tangent, element-wise (lesson 03).

    Args:
        x: any shape.

    Returns:
        out (same shape, in (−1, 1)), cache.
    """
    _check_array("tanh_forward", "x", x)
    out = np.tanh(x.astype(_float_dtype(x), copy=False))
    return out, (out,)


def tanh_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Gradient of tanh: dout · (1 − tanh(x)²) (lesson 03).

    Args:
        dout: same shape as x.
        cache: from ``tanh_forward``.

    Returns:
        dx.
    """
    (out,) = cache
    _check_dout("tanh_backward", dout, out.shape)
    return dout * (1 - out * out)


# --------------------------------------------------------------------------- fully connected

def linear_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Cache]:
    """Fully connected layer: x @ w.T + b, with w laid out (out, in) like torch (lesson 03).

    Args:
        x: (N, D) inputs; flatten images first with ``flatten_forward``.
        w: (M, D) weights.
        b: (M,) biases.

    Returns:
        out (N, M), cache.
    """
    func = "linear_forward"
    _check_array(func, "x", x, 2, "(N, D) (use flatten_forward on images)")
    _check_array(func, "w", w, 2, "(M, D)")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"{func}: x has {x.shape[1]} features but w expects {w.shape[1]} "
                         f"(x {x.shape}, w {w.shape})")
    _check_array(func, "b", b, 1, "(M,)")
    if b.shape != (w.shape[0],):
        raise ValueError(f"{func}: b must have one bias per output, shape ({w.shape[0]},), "
                         f"got {b.shape} (w {w.shape})")
    out = x @ w.T + b                                             # (N, M)
    return out, (x, w)


def linear_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of a fully connected layer (lesson 03).

    Args:
        dout: (N, M).
        cache: from ``linear_forward``.

    Returns:
        dx (N, D), dw (M, D), db (M,).
    """
    x, w = cache
    _check_dout("linear_backward", dout, (x.shape[0], w.shape[0]))
    dx = dout @ w                                                 # (N, D)
    dw = dout.T @ x                                               # (M, D)
    db = dout.sum(axis=0)                                         # (M,)
    return dx, dw, db


def flatten_forward(x: np.ndarray) -> tuple[np.ndarray, Cache]:
    """Flatten everything but the batch axis: (N, C, H, W) -> (N, C*H*W) (lesson 03).

    Args:
        x: (N, ...) with at least one axis after N.

    Returns:
        out (N, D), cache.
    """
    _check_array("flatten_forward", "x", x)
    if x.ndim < 2:
        raise ValueError(f"flatten_forward: x must have a batch axis and at least one more, got shape {x.shape}")
    return x.reshape(x.shape[0], -1), (x.shape,)


def flatten_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Gradient of flatten: the same numbers, put back in the input's shape (lesson 03).

    Args:
        dout: (N, D).
        cache: from ``flatten_forward``.

    Returns:
        dx (N, ...).
    """
    (x_shape,) = cache
    _check_dout("flatten_backward", dout, (x_shape[0], int(np.prod(x_shape[1:]))))
    return dout.reshape(x_shape)


# --------------------------------------------------------------------------- normalisation and dropout

def batchnorm2d_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                        eps: float = 1e-5) -> tuple[np.ndarray, Cache]:
    """Batch norm of feature maps in training mode: one mean and variance per channel (lesson 05).

    Each channel is normalised with the mean and the biased variance of its N·H·W values in
    this batch, then scaled by γ and shifted by β: ``γ·(x − mean)/√(var + eps) + β``, as
    ``torch.nn.functional.batch_norm(..., training=True)`` computes it.

    Args:
        x: feature maps (N, C, H, W).
        gamma: scales (C,).
        beta: shifts (C,).
        eps: added to the variance before the square root; positive.

    Returns:
        out (N, C, H, W), cache.
    """
    func = "batchnorm2d_forward"
    _check_array(func, "x", x, 4, "(N, C, H, W)")
    for name, value in (("gamma", gamma), ("beta", beta)):
        _check_array(func, name, value, 1, "(C,)")
        if value.shape != (x.shape[1],):
            raise ValueError(f"{func}: {name} must have one entry per channel, shape ({x.shape[1]},), "
                             f"got {value.shape} (x {x.shape})")
    if not eps > 0:
        raise ValueError(f"{func}: eps must be positive (it keeps the square root away from 0), got {eps}")
    x = x.astype(_float_dtype(x, gamma, beta), copy=False)
    mean = x.mean(axis=(0, 2, 3), keepdims=True)                  # (1, C, 1, 1)
    var = x.var(axis=(0, 2, 3), keepdims=True)                    # (1, C, 1, 1), divides by N·H·W
    inv_std = 1 / np.sqrt(var + eps)                              # (1, C, 1, 1)
    x_hat = (x - mean) * inv_std                                  # (N, C, H, W)
    out = gamma.reshape(1, -1, 1, 1) * x_hat + beta.reshape(1, -1, 1, 1)
    return out.astype(x.dtype, copy=False), (x_hat, gamma.astype(x.dtype), inv_std)


def batchnorm2d_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of batch norm in training mode, in the simplified closed form (lesson 05).

    The mean and the variance are computed from x, so every value of a channel influences
    every output of that channel. Collecting the three paths (through x̂ directly, through
    the mean, through the variance) gives, per channel over its M = N·H·W values,
    ``dx = γ/σ · (dout − mean(dout) − x̂·mean(dout·x̂))`` with σ = √(var + eps).

    Args:
        dout: upstream gradient (N, C, H, W).
        cache: from ``batchnorm2d_forward``.

    Returns:
        dx (N, C, H, W), dgamma (C,), dbeta (C,).
    """
    x_hat, gamma, inv_std = cache
    _check_dout("batchnorm2d_backward", dout, x_hat.shape)
    dbeta = dout.sum(axis=(0, 2, 3))                              # (C,)
    dgamma = (dout * x_hat).sum(axis=(0, 2, 3))                   # (C,)
    m = x_hat.size // x_hat.shape[1]                              # N·H·W values per channel
    mean_dout = (dbeta / m).reshape(1, -1, 1, 1)                  # (1, C, 1, 1)
    mean_dout_xhat = (dgamma / m).reshape(1, -1, 1, 1)            # (1, C, 1, 1)
    dx = gamma.reshape(1, -1, 1, 1) * inv_std * (dout - mean_dout - x_hat * mean_dout_xhat)
    return dx, dgamma, dbeta


def dropout_forward(x: np.ndarray, p: float, keep: np.ndarray | None = None,
                    rng: np.random.Generator | int | None = None) -> tuple[np.ndarray, Cache]:
    """Inverted dropout in training: zero each value with probability p, scale the rest by 1/(1 − p) (lesson 05).

    Scaling while training keeps the expected output equal to the input, so at test time
    the layer is the identity. The mask is kept in the cache: the backward pass must zero
    the same values, not draw new ones.

    Args:
        x: any shape.
        p: probability of dropping a value, in [0, 1] (1 drops everything, like torch).
        keep: boolean mask of x's shape (True = kept); drawn from ``rng`` when None.
        rng: a NumPy generator or a seed, used only when ``keep`` is None.

    Returns:
        out (same shape as x), cache.
    """
    func = "dropout_forward"
    _check_array(func, "x", x)
    if not 0 <= p <= 1:
        raise ValueError(f"{func}: p is a probability of dropping, in [0, 1], got {p}")
    if keep is None:
        keep = np.random.default_rng(rng).random(x.shape) >= p       # each value kept with probability 1 − p
    elif not isinstance(keep, np.ndarray) or keep.dtype != bool or keep.shape != x.shape:
        got = f"{keep.dtype} {keep.shape}" if isinstance(keep, np.ndarray) else type(keep).__name__
        raise ValueError(f"{func}: keep must be a boolean array of x's shape {x.shape}, got {got}")
    scale = 1 / (1 - p) if p < 1 else 0.0
    x = x.astype(_float_dtype(x), copy=False)
    out = np.where(keep, x * scale, 0).astype(x.dtype, copy=False)
    return out, (keep, scale)


def dropout_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Gradient of inverted dropout: the forward pass's mask and scale, applied to dout (lesson 05).

    Args:
        dout: same shape as x.
        cache: from ``dropout_forward``.

    Returns:
        dx.
    """
    keep, scale = cache
    _check_dout("dropout_backward", dout, keep.shape)
    return np.where(keep, dout * scale, 0).astype(_float_dtype(dout), copy=False)


# --------------------------------------------------------------------------- loss

def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax + cross-entropy, averaged over the batch, and its gradient (lesson 03).

    loss = mean over n of −log softmax(logits[n])[y[n]]. Subtracting each row's max before
    exponentiating changes nothing mathematically and keeps e^z from overflowing. The
    gradient has the famous simple form (softmax − one_hot(y)) / N.

    Args:
        logits: (N, K) unnormalised scores.
        y: (N,) integer labels in [0, K).

    Returns:
        loss (a float) and dlogits (N, K).
    """
    func = "softmax_cross_entropy"
    _check_array(func, "logits", logits, 2, "(N, K)")
    _check_array(func, "y", y, 1, "(N,)")
    N, K = logits.shape
    if N == 0:
        raise ValueError(f"{func}: the batch is empty (logits {logits.shape})")
    if y.dtype.kind not in "iu":
        raise ValueError(f"{func}: y must hold integer class labels, got dtype {y.dtype}")
    if y.shape != (N,):
        raise ValueError(f"{func}: y has {y.shape[0]} labels but logits has {N} rows "
                         f"(logits {logits.shape}, y {y.shape})")
    if (y.min() < 0 or y.max() >= K):
        raise ValueError(f"{func}: labels must lie in [0, {K}) for {K} classes, got {y.min()}..{y.max()}")
    shifted = logits - logits.max(axis=1, keepdims=True)          # (N, K), each row's max is 0
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))   # (N, K)
    rows = np.arange(N)
    loss = -log_probs[rows, y].mean()
    dlogits = np.exp(log_probs)                                   # softmax, (N, K)
    dlogits[rows, y] -= 1
    dlogits /= N
    return float(loss), dlogits
