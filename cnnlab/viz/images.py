"""Figures of lessons 01-03: the sliding window, kernels on a photo, shapes, gradients.

Every function draws with matplotlib and returns the ``Figure``; nothing here needs a
widget backend, so the figures also appear in an exported (HTML) notebook. The
explorers in ``cnnlab.widgets`` call these same functions to draw, so the picture a
learner sees in a static page is the picture a slider redraws.

Figures are sized for JupyterLab on a 1366×768 laptop: at most ``MAX_WIDTH`` inches wide
(shown inline at 100 dpi, that is the width of a notebook's output area, so nothing is
scaled down) and no text smaller than 8 points. Input matrices are drawn like pictures:
a larger value is a brighter cell.

The worked examples of lesson 01 live here too, so that figures, widgets, notebooks
and tests all start from the same numbers.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import Colormap, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cnnlab import layers, shapes
from cnnlab.common import evaluating

# --------------------------------------------------------------------------- worked examples

EXAMPLE_IMAGE = np.array([[1, 2, 3, 4, 5],
                          [6, 7, 8, 9, 0],
                          [1, 2, 3, 4, 5],
                          [6, 7, 8, 9, 0],
                          [1, 2, 3, 4, 5]], dtype=np.float64)
"""Lesson 01's first 5×5 image; with ``EDGE_KERNEL`` its top-left output is −6."""

EXAMPLE_IMAGE_2 = np.array([[1, 2, 0, 3, 1],
                            [4, 5, 6, 7, 8],
                            [1, 0, 1, 2, 1],
                            [0, 1, 3, 4, 0],
                            [3, 4, 5, 1, 2]], dtype=np.float64)
"""Lesson 01's second 5×5 image; with ``EDGE_KERNEL`` it gives a 3×3 feature map."""

EDGE_KERNEL = np.array([[1, 0, -1],
                        [1, 0, -1],
                        [1, 0, -1]], dtype=np.float64)
"""The vertical-edge kernel of lesson 01: left column minus right column."""

KERNELS: dict[str, np.ndarray] = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float64),
    "box blur": np.full((3, 3), 1 / 9),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64),
    "Sobel x (vertical edges)": np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=np.float64),
    "Sobel y (horizontal edges)": np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=np.float64),
    "Laplacian (all edges)": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64),
}
"""Hand-designed 3×3 kernels of lesson 01 (cross-correlation convention, like every DL library)."""

WINDOW, LAST, PADDING = "#d62728", "#1f77b4", "#e8e8e8"
MAX_WIDTH = 9.2
"""Widest figure in inches: 920 pixels at JupyterLab's 100 dpi fit its output area on a 1366×768 screen."""


# --------------------------------------------------------------------------- drawing helpers

def _text_colour(rgba: Sequence[float]) -> str:
    luminance = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2]
    return "white" if luminance < 0.5 else "black"


def _format(value: float, fmt: str | Callable[[float], str]) -> str:
    value = float(value) + 0.0                                  # -0.0 (e.g. -1 · 0) prints as 0
    return fmt(value) if callable(fmt) else fmt.format(value)


def draw_matrix(ax, a: np.ndarray, title: str = "", *, fmt: str | Callable[[float], str] = "{:g}",
                cmap: str | Colormap = "gray", vmin: float | None = None, vmax: float | None = None,
                boxes: Sequence[tuple[int, int, int, int, str]] = (), annotate: bool = True,
                fontsize: float | None = None) -> None:
    """Draw a small matrix as coloured cells with its numbers written in. Lessons 01-03.

    Args:
        ax: the matplotlib axes to draw on.
        a: (H, W) values; NaN cells stay blank (an output not computed yet).
        title: axes title.
        fmt: format string or function for the numbers.
        cmap, vmin, vmax: colouring of the cells (default: grey levels, larger values brighter).
        boxes: rectangles to outline, each (row, col, height, width, colour).
        annotate: write the numbers in the cells.
        fontsize: size of the numbers (default: smaller for bigger matrices).
    """
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"draw_matrix: expected a 2-D array, got shape {a.shape}")
    finite = a[np.isfinite(a)]
    if vmin is None and vmax is None and finite.size and finite.min() == finite.max():
        vmin, vmax = finite[0] - 1, finite[0] + 1            # all equal: a middle grey, not the darkest
    image = ax.imshow(a, cmap=cmap, vmin=vmin, vmax=vmax)
    if annotate:
        size = fontsize or (11 if max(a.shape) <= 6 else 9 if max(a.shape) <= 10 else 8)
        for (r, c), v in np.ndenumerate(a):
            if np.isfinite(v):
                colour = _text_colour(image.cmap(image.norm(v)))
                ax.text(c, r, _format(v, fmt), ha="center", va="center", fontsize=size, color=colour)
    for row, col, height, width, colour in boxes:
        ax.add_patch(Rectangle((col - 0.5, row - 0.5), width, height, fill=False, edgecolor=colour, lw=3))
    ax.set_xticks(np.arange(-0.5, a.shape[1], 1), minor=True)
    ax.set_yticks(np.arange(-0.5, a.shape[0], 1), minor=True)
    ax.grid(which="minor", color="0.75", lw=0.6)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_title(title)


def _symmetric(a: np.ndarray) -> dict:
    """vmin/vmax centred on zero, for signed values (kernels, gradients)."""
    bound = float(np.nanmax(np.abs(a))) if np.isfinite(a).any() else 1.0
    return {"cmap": "RdBu_r", "vmin": -(bound or 1.0), "vmax": bound or 1.0}


def _short(v: float) -> str:
    return f"{v:.2g}" if abs(v - round(v)) > 1e-9 else f"{v:.0f}"


def _check_2d(name: str, **arrays: np.ndarray) -> None:
    for key, value in arrays.items():
        if np.ndim(value) != 2:
            raise ValueError(f"{name}: {key} must be 2-D (H, W), got shape {np.shape(value)}")


def _panels(shapes_hw: Sequence[tuple[int, int]], cell: float = 0.45, title_space: float = 0.9):
    """A row of axes whose matrix cells all come out the same size on the page.

    Args:
        shapes_hw: (rows, cols) of the matrix each panel will show.
        cell: side of one cell in inches, at most; smaller when the row would be wider than ``MAX_WIDTH``.
        title_space: inches above the tallest panel for the titles.
    """
    widths = [max(c, 3) for _, c in shapes_hw]                 # room for the title of a narrow panel
    height = max(r for r, _ in shapes_hw)
    cell = min(cell, (MAX_WIDTH - 0.7 * len(widths) - 0.3) / sum(widths))
    size = (cell * sum(widths) + 0.7 * len(widths) + 0.3, cell * height + title_space)
    return plt.subplots(1, len(widths), figsize=size, gridspec_kw={"width_ratios": widths})


# --------------------------------------------------------------------------- lesson 01: the sliding window

def conv_window(x: np.ndarray, w: np.ndarray, i: int, j: int, stride: int = 1,
                padding: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """What output cell (i, j) of a single-channel convolution sees. Lesson 01.

    Args:
        x: (H, W) input.
        w: (KH, KW) kernel.
        i, j: the output cell.
        stride, padding: as in ``conv2d_forward`` (zero padding on every side).

    Returns:
        window (KH, KW) of the padded input, products window·w (KH, KW), and their sum.
    """
    _check_2d("conv_window", x=x, w=w)
    oh, ow = conv_map_size(x, w, stride, padding)
    if not (0 <= i < oh and 0 <= j < ow):
        raise ValueError(f"conv_window: output cell ({i}, {j}) is outside the {oh}×{ow} output "
                         f"(x {np.shape(x)}, w {np.shape(w)}, stride {stride}, padding {padding})")
    xp = np.pad(np.asarray(x, dtype=np.float64), padding)     # (H+2p, W+2p)
    kh, kw = np.shape(w)
    window = xp[i * stride:i * stride + kh, j * stride:j * stride + kw]   # (KH, KW)
    products = window * w
    return window, products, float(products.sum())


def conv_map_size(x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int = 0) -> tuple[int, int]:
    """(OH, OW) of a single-channel convolution of x (H, W) with w (KH, KW). Lesson 01."""
    (h, wd), (kh, kw) = np.shape(x), np.shape(w)
    return (shapes.conv_output_size(h, kh, stride, padding),
            shapes.conv_output_size(wd, kw, stride, padding))


def plot_conv_step(x: np.ndarray, w: np.ndarray, i: int, j: int, stride: int = 1, padding: int = 0,
                   bias: float = 0.0) -> Figure:
    """One step of the sliding window: the window, the products, the output cell. Lesson 01.

    Args:
        x: (H, W) input, e.g. ``EXAMPLE_IMAGE``.
        w: (KH, KW) kernel, e.g. ``EDGE_KERNEL``.
        i, j: the output cell being filled; the cells before it (row by row) are shown filled.
        stride, padding, bias: as in ``conv2d_forward``.

    Returns:
        A figure with four panels: padded input with the window, kernel, products, output.
    """
    window, products, total = conv_window(x, w, i, j, stride, padding)
    oh, ow = conv_map_size(x, w, stride, padding)
    out = np.full((oh, ow), np.nan)
    for cell in range(i * ow + j + 1):                       # raster order up to (i, j)
        r, c = divmod(cell, ow)
        out[r, c] = conv_window(x, w, r, c, stride, padding)[2] + bias
    xp = np.pad(np.asarray(x, dtype=np.float64), padding)
    kh, kw = np.shape(w)

    fig, axes = _panels([xp.shape, (kh, kw), (kh, kw), (oh, ow)], title_space=1.3)
    boxes = [(i * stride, j * stride, kh, kw, WINDOW)]
    if padding:
        boxes.append((padding, padding, *np.shape(x), "0.35"))
    draw_matrix(axes[0], xp, f"input X (padding {padding}, stride {stride})", boxes=boxes)
    draw_matrix(axes[1], w, "kernel W", **_symmetric(w))
    draw_matrix(axes[2], products, f"X window ⊙ W\nsum = {total:g}", fmt=_short, **_symmetric(products),
                boxes=[(0, 0, kh, kw, WINDOW)])
    finite = out[np.isfinite(out)]
    draw_matrix(axes[3], out, f"output Y[{i}, {j}] = {total:g}" + (f" + {bias:g}" if bias else ""),
                boxes=[(i, j, 1, 1, WINDOW)], **_symmetric(finite))
    fig.suptitle("Y[i, j] = Σₘ Σₙ X[i·s + m, j·s + n] · W[m, n] + b")
    fig.tight_layout()
    return fig


def plot_conv_result(x: np.ndarray, w: np.ndarray, out: np.ndarray, title: str = "") -> Figure:
    """Input, kernel and the whole output map side by side (lesson 01)."""
    _check_2d("plot_conv_result", x=x, w=w, out=out)
    fig, axes = _panels([np.shape(x), np.shape(w), np.shape(out)], title_space=1.2 if title else 0.9)
    draw_matrix(axes[0], x, "input X")
    draw_matrix(axes[1], w, "kernel W", **_symmetric(np.asarray(w, float)))
    draw_matrix(axes[2], out, "output Y = X ⋆ W", fmt=_short, **_symmetric(np.asarray(out, float)))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def filter_image(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Cross-correlate a grey image with one kernel, zero padding keeping the size. Lesson 01.

    Args:
        image: (H, W) grey image.
        kernel: (KH, KW) with odd sides.

    Returns:
        (H, W) feature map, computed by ``cnnlab.layers.conv2d_forward``.
    """
    _check_2d("filter_image", image=image, kernel=kernel)
    kh, kw = np.shape(kernel)
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"filter_image: 'same' padding needs odd kernel sides, got {np.shape(kernel)}")
    x = np.asarray(image, dtype=np.float64)[None, None]             # (1, 1, H, W)
    w = np.asarray(kernel, dtype=np.float64)[None, None]            # (1, 1, KH, KW)
    out, _ = layers.conv2d_forward(x, w, np.zeros(1), padding=(kh // 2, kw // 2))   # (1, 1, H, W)
    return out[0, 0]


def _show_map(ax, fmap: np.ndarray, title: str) -> None:
    low, high = np.percentile(fmap, [1, 99])
    ax.imshow(fmap, cmap="gray", vmin=low, vmax=high if high > low else low + 1)
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def _kernel_label(kernel: np.ndarray) -> str:
    return "\n".join(" ".join(f"{float(v) + 0.0:>4.2g}" for v in row) for row in np.asarray(kernel))


def plot_kernels_on_photo(image: np.ndarray, kernels: Mapping[str, np.ndarray] | None = None,
                          ncols: int = 4) -> Figure:
    """A grey photo and its feature map under each kernel, side by side. Lesson 01.

    Args:
        image: (H, W) grey photo, e.g. ``cnnlab.data.photo_gray("grace_hopper")``.
        kernels: name -> (KH, KW) kernel; default ``KERNELS``.
        ncols: panels per row.

    Returns:
        The figure; each panel shows the kernel's numbers in its corner.
    """
    kernels = dict(KERNELS if kernels is None else kernels)
    panels = len(kernels) + 1
    rows = -(-panels // ncols)
    side = min(1.8, (MAX_WIDTH - 0.2) / ncols)                       # inches per panel
    aspect = np.shape(image)[0] / np.shape(image)[1]
    fig, axes = plt.subplots(rows, ncols, figsize=(side * ncols, (side * aspect + 0.35) * rows), squeeze=False)
    _show_map(axes.flat[0], np.asarray(image), "photo")
    for ax, (name, kernel) in zip(axes.flat[1:], kernels.items()):
        _show_map(ax, filter_image(image, kernel), name)
        ax.text(0.02, 0.02, _kernel_label(kernel), transform=ax.transAxes, fontsize=8, family="monospace",
                va="bottom", bbox={"facecolor": "white", "alpha": 0.8, "pad": 2})
    for ax in axes.flat[panels:]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_kernel_on_photo(image: np.ndarray, kernel: np.ndarray) -> Figure:
    """The photo and its feature map under one kernel (the kernel editor's picture). Lesson 01."""
    fmap = filter_image(image, kernel)
    aspect = np.shape(image)[0] / np.shape(image)[1]
    fig, axes = plt.subplots(1, 2, figsize=(5.4, 2.6 * aspect + 0.45))     # each panel about 1:1 for a 300×256 photo
    _show_map(axes[0], np.asarray(image), "photo")
    total = float(np.sum(kernel))
    _show_map(axes[1], fmap, f"feature map (kernel sum {total + 0.0:.3g})")
    axes[1].text(0.02, 0.02, _kernel_label(kernel), transform=axes[1].transAxes, fontsize=8,
                 family="monospace", va="bottom", bbox={"facecolor": "white", "alpha": 0.8, "pad": 2})
    fig.tight_layout()
    return fig


def plot_shift_demo(x: np.ndarray, kernel: np.ndarray, shift: tuple[int, int] = (0, 1),
                    pool: int = 2) -> Figure:
    """Equivariance of convolution and the invariance pooling adds. Lesson 01.

    The top row is the input, its feature map and the max-pooled map; the bottom row the
    same for the input shifted by ``shift`` pixels (rolled). The feature map shifts with
    the input; after ``pool``×``pool`` max pooling a shift that stays inside a pooling
    window changes nothing.

    Args:
        x: (H, W) input, H and W divisible by ``pool``.
        kernel: (KH, KW) odd-sided kernel.
        shift: (rows, cols) to roll the input by.
        pool: size and stride of the max pooling.
    """
    _check_2d("plot_shift_demo", x=x, kernel=kernel)
    shifted = np.roll(x, shift, axis=(0, 1))
    fig, axes = plt.subplots(2, 3, figsize=(7.2, 4.6))
    for row, (image, label) in enumerate([(x, "input"), (shifted, f"input shifted by {tuple(shift)}")]):
        fmap = filter_image(image, kernel)
        pooled, _ = layers.maxpool2d_forward(fmap[None, None], pool)          # (1, 1, H/p, W/p)
        draw_matrix(axes[row, 0], image, label, annotate=False)
        draw_matrix(axes[row, 1], fmap, "feature map", annotate=False, **_symmetric(fmap))
        draw_matrix(axes[row, 2], pooled[0, 0], f"after {pool}×{pool} max pooling", fmt=_short,
                    **_symmetric(pooled[0, 0]))
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- feature maps

def feature_maps(model, x, kinds: tuple[type, ...] | None = None) -> dict[str, np.ndarray]:
    """Run ``model`` on ``x`` in eval mode and collect each chosen layer's output for the first sample. Lessons 01, 04.

    Args:
        model: a ``torch.nn.Module``.
        x: (N, C, H, W) tensor or array.
        kinds: module types to record; default: conv, activation and pooling layers.

    Returns:
        Layer name -> (C, OH, OW) array, in the order the layers ran.
    """
    import torch
    from torch import nn

    kinds = kinds or (nn.Conv2d, nn.ReLU, nn.Sigmoid, nn.Tanh, nn.MaxPool2d, nn.AvgPool2d, nn.BatchNorm2d)
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, dtype=torch.float32)
    if x.ndim != 4:
        raise ValueError(f"feature_maps: x must be (N, C, H, W), got shape {tuple(x.shape)}")
    found: dict[str, np.ndarray] = {}

    def record(name):
        def hook(module, inputs, output):
            if output.ndim == 4:
                found[f"{name} ({type(module).__name__})"] = output[0].detach().cpu().numpy()
        return hook

    handles = [m.register_forward_hook(record(name)) for name, m in model.named_modules()
               if isinstance(m, kinds)]
    device = next(model.parameters(), torch.empty(0)).device
    try:
        with evaluating(model), torch.no_grad():
            model(x.to(device))
    finally:
        for handle in handles:
            handle.remove()
    return found


def plot_feature_maps(maps: np.ndarray, channels: Sequence[int] | None = None, ncols: int = 8,
                      title: str = "", labels: Sequence[str] | None = None) -> Figure:
    """A grid of feature maps, one panel per channel. Lessons 01, 04.

    Args:
        maps: (C, H, W) one layer's output for one image.
        channels: which channels to show (default: all, at most 32).
        ncols: panels per row.
        title: figure title.
        labels: a name per channel (C names, e.g. the kernels that made the maps); default
            "channel c".
    """
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"plot_feature_maps: maps must be (C, H, W), got shape {maps.shape}")
    if labels is not None and len(labels) != len(maps):
        raise ValueError(f"plot_feature_maps: {len(labels)} labels for {len(maps)} channels")
    channels = list(range(min(len(maps), 32)) if channels is None else channels)
    ncols = min(ncols, len(channels))
    rows = -(-len(channels) // ncols)
    side = min(1.6, MAX_WIDTH / ncols)                               # inches per panel
    lines = 2 if labels is not None else 1
    fig, axes = plt.subplots(rows, ncols, figsize=(side * ncols, (side + 0.2 * lines) * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, c in zip(axes.flat, channels):
        ax.imshow(maps[c], cmap="viridis")
        name = f"channel {c}" if labels is None else str(labels[c]).replace(" (", "\n(", 1)
        ax.set_title(name, fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_feature_map(maps: np.ndarray, channel: int, title: str = "") -> Figure:
    """One channel of one layer's output, large, with a colour bar (the feature-map viewer). Lessons 01, 04."""
    maps = np.asarray(maps)
    if maps.ndim != 3 or not 0 <= channel < len(maps):
        raise ValueError(f"plot_feature_map: channel {channel} of maps with shape {maps.shape}")
    aspect = maps.shape[2] / maps.shape[1]
    fig, ax = plt.subplots(figsize=(3.0 * aspect + 1.0, 3.4))           # the map about 300 pixels tall
    shown = ax.imshow(maps[channel], cmap="viridis")
    fig.colorbar(shown, ax=ax, fraction=0.046)
    ax.set_title(title or f"channel {channel} of {len(maps)} ({maps.shape[1]}×{maps.shape[2]})")
    ax.axis("off")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- lesson 02: shapes

def plot_conv_geometry(n: int, k: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> Figure:
    """An n×n input, its zero padding, the first and last kernel positions, and the output. Lesson 02.

    Args:
        n: input height = width.
        k: kernel size.
        stride, padding, dilation: as in ``torch.nn.Conv2d``.

    Returns:
        Two panels: the padded input with the taps of the first (red) and last (blue)
        window, and the output grid with the matching cells.
    """
    out = shapes.conv_output_size(n, k, stride, padding, dilation)
    size = n + 2 * padding
    codes = np.zeros((size, size), dtype=int)                     # 0 input, 1 padding, 2 first, 3 last
    codes[:padding, :] = codes[-padding or size:, :] = 1
    codes[:, :padding] = codes[:, -padding or size:] = 1
    taps = np.arange(k) * dilation
    for code, start in ((3, (out - 1) * stride), (2, 0)):
        codes[np.ix_(start + taps, start + taps)] = code
    out_codes = np.zeros((out, out), dtype=int)
    out_codes[-1, -1], out_codes[0, 0] = 3, 2
    colours = ListedColormap(["white", PADDING, WINDOW, LAST])

    fig, axes = _panels([(size, size), (out, out)], cell=min(0.3, 2.6 / size), title_space=1.0)
    for ax, grid, title in ((axes[0], codes, f"input {n}×{n} + padding {padding}"),
                            (axes[1], out_codes, f"output {out}×{out}")):
        draw_matrix(ax, grid, title, annotate=False, cmap=colours, vmin=0, vmax=3)
    axes[0].add_patch(Rectangle((padding - 0.5, padding - 0.5), n, n, fill=False, edgecolor="black", lw=1.5))
    fig.suptitle(f"⌊({n} + {2 * padding} − {dilation * (k - 1)} − 1)/{stride}⌋ + 1 = {out}"
                 f"   (kernel {k}, stride {stride}, dilation {dilation})", fontsize=11)
    fig.tight_layout()
    return fig


def plot_receptive_field(kernels: Sequence[int], strides: Sequence[int] | None = None,
                         dilations: Sequence[int] | None = None) -> Figure:
    """Which input pixels one output of a stack of convolutions sees, in one dimension. Lesson 02.

    Args:
        kernels: kernel size of each layer, bottom to top, e.g. [3, 3].
        strides: stride of each layer (default 1).
        dilations: dilation of each layer (default 1).
    """
    strides = list(strides or [1] * len(kernels))
    dilations = list(dilations or [1] * len(kernels))
    rf = shapes.receptive_field(list(zip(kernels, strides, dilations)))
    # Walk down from one output cell to the input cells it depends on.
    spans = [range(1)]
    for k, s, d in zip(reversed(kernels), reversed(strides), reversed(dilations)):
        cells = sorted({c * s + m * d for c in spans[-1] for m in range(k)})
        spans.append(cells)
    spans = spans[::-1]                                          # input first
    width = len(spans[0])
    fig, ax = plt.subplots(figsize=(max(4, 0.6 * width + 2), 0.8 * len(spans) + 0.7))
    jump, start = 1, 0.0
    centres = []
    for level, cells in enumerate(spans):
        xs = [start + c * jump for c in cells]
        centres.append(dict(zip(cells, xs)))
        for xpos in xs:
            ax.add_patch(Rectangle((xpos - 0.4, level - 0.3), 0.8, 0.6,
                                   facecolor=WINDOW if level == len(spans) - 1 else "#fbd5d5", edgecolor="black"))
        if level < len(kernels):
            k, s, d = kernels[level], strides[level], dilations[level]
            start += d * (k - 1) * jump / 2
            jump *= s
    for level in range(1, len(spans)):
        k, s, d = kernels[level - 1], strides[level - 1], dilations[level - 1]
        for c, xpos in centres[level].items():
            for m in range(k):
                below = centres[level - 1][c * s + m * d]
                ax.plot([below, xpos], [level - 0.7, level - 0.3], color="0.5", lw=0.8)
    ax.set_yticks(range(len(spans)), ["input"] + [f"layer {i + 1} ({k}×{k})" for i, k in enumerate(kernels)])
    ax.set_xticks([])
    ax.set_xlim(-1, width)
    ax.set_ylim(-0.6, len(spans) - 0.4)
    ax.set_title(f"one output sees {rf} input pixels per side")
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def plot_parameter_share(names: Sequence[str], counts: Sequence[int], title: str = "") -> Figure:
    """Parameters per layer as horizontal bars, each labelled with its share of the total. Lesson 02."""
    if len(names) != len(counts):
        raise ValueError(f"plot_parameter_share: {len(names)} names but {len(counts)} counts")
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    fig, ax = plt.subplots(figsize=(8, 0.24 * len(names) + 0.9))
    ax.barh(range(len(names)), counts, color="#4c72b0")
    for row, count in enumerate(counts):
        ax.text(count, row, f" {int(count):,} ({count / total:.1%})", va="center", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, counts.max() * 1.35)
    ax.set_xlabel("parameters")
    ax.set_title(title or f"{int(total):,} parameters")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- lesson 03: gradients

def plot_activations(x_range: tuple[float, float] = (-4.0, 4.0)) -> Figure:
    """ReLU, sigmoid and tanh (top) and their derivatives (bottom). Lesson 03."""
    z = np.linspace(*x_range, 401)[None, None, None]                           # (1, 1, 1, 401)
    fig, axes = plt.subplots(2, 3, figsize=(9.2, 3.8), sharex=True)
    for col, name in enumerate(("relu", "sigmoid", "tanh")):
        forward = getattr(layers, f"{name}_forward")
        backward = getattr(layers, f"{name}_backward")
        out, cache = forward(z)
        grad = backward(np.ones_like(out), cache)
        axes[0, col].plot(z.ravel(), out.ravel(), color="#4c72b0")
        axes[1, col].plot(z.ravel(), grad.ravel(), color="#dd8452")
        axes[0, col].set_title(name)
        axes[1, col].set_title(f"{name}′ (the local gradient)")
        for ax in axes[:, col]:
            ax.axhline(0, color="0.6", lw=0.6)
            ax.axvline(0, color="0.6", lw=0.6)
    fig.tight_layout()
    return fig


def plot_pool_backward(x: np.ndarray, dout: np.ndarray, kernel_size: int = 2, stride: int | None = None,
                       kind: str = "max") -> Figure:
    """Where the gradient of a pooling layer goes. Lesson 03.

    Max pooling sends each upstream value to the position of its window's maximum;
    average pooling spreads it evenly over the window. Overlapping windows add up.

    Args:
        x: (H, W) input of the pooling layer.
        dout: (OH, OW) upstream gradient.
        kernel_size, stride: the pooling window (stride defaults to kernel_size).
        kind: "max" or "avg".
    """
    _check_2d("plot_pool_backward", x=x, dout=dout)
    if kind not in ("max", "avg"):
        raise ValueError(f"plot_pool_backward: kind must be 'max' or 'avg', got {kind!r}")
    forward = layers.maxpool2d_forward if kind == "max" else layers.avgpool2d_forward
    backward = layers.maxpool2d_backward if kind == "max" else layers.avgpool2d_backward
    out, cache = forward(np.asarray(x, np.float64)[None, None], kernel_size, stride)   # (1, 1, OH, OW)
    if out.shape[2:] != np.shape(dout):
        raise ValueError(f"plot_pool_backward: dout has shape {np.shape(dout)} but the pooled output is "
                         f"{out.shape[2:]} (x {np.shape(x)}, kernel {kernel_size}, stride {stride})")
    dx = backward(np.asarray(dout, np.float64)[None, None], cache)[0, 0]                 # (H, W)
    step = stride or kernel_size
    windows = [(r * step, c * step, kernel_size, kernel_size, colour)
               for (r, c), colour in zip(np.ndindex(out.shape[2:]), plt.cm.tab10.colors)]
    fig, axes = _panels([np.shape(x), out.shape[2:], np.shape(dout), dx.shape])
    draw_matrix(axes[0], x, f"input x ({kernel_size}×{kernel_size} windows, stride {step})",
                fmt=_short, boxes=windows)
    draw_matrix(axes[1], out[0, 0], f"{kind} pool\noutput", fmt=_short)
    draw_matrix(axes[2], dout, "upstream\ngradient dout", fmt=_short, **_symmetric(np.asarray(dout, float)))
    draw_matrix(axes[3], dx, "dx: " + ("all to the argmax" if kind == "max" else "spread evenly"),
                fmt=_short, **_symmetric(dx))
    fig.tight_layout()
    return fig


def plot_conv_gradient_flow(w: np.ndarray, dout: np.ndarray, i: int, j: int, stride: int = 1) -> Figure:
    """How one upstream value reaches the input of a convolution. Lesson 03.

    Output cell (i, j) was computed from one window of the input, so its gradient
    dout[i, j] goes back to that window, weighted by the kernel: dx[window] += dout[i, j]·W.
    Summing over every cell gives dx, which equals the full convolution of dout with the
    kernel rotated by 180°.

    Args:
        w: (KH, KW) kernel.
        dout: (OH, OW) upstream gradient.
        i, j: the output cell to follow.
        stride: the convolution's stride.
    """
    _check_2d("plot_conv_gradient_flow", w=w, dout=dout)
    (kh, kw), (oh, ow) = np.shape(w), np.shape(dout)
    h, wd = (oh - 1) * stride + kh, (ow - 1) * stride + kw
    dx = np.zeros((h, wd))
    part = np.zeros((h, wd))
    for r, c in np.ndindex(oh, ow):
        dx[r * stride:r * stride + kh, c * stride:c * stride + kw] += dout[r, c] * w
    part[i * stride:i * stride + kh, j * stride:j * stride + kw] = dout[i, j] * w
    box = [(i * stride, j * stride, kh, kw, WINDOW)]
    fig, axes = _panels([(oh, ow), (kh, kw), (h, wd), (h, wd)])
    draw_matrix(axes[0], dout, "upstream gradient dout", fmt=_short, boxes=[(i, j, 1, 1, WINDOW)],
                **_symmetric(np.asarray(dout, float)))
    draw_matrix(axes[1], w, "kernel W", fmt=_short, **_symmetric(np.asarray(w, float)))
    draw_matrix(axes[2], part, f"dout[{i}, {j}] · W into its window", fmt=_short, boxes=box, **_symmetric(part))
    draw_matrix(axes[3], dx, "dx: every window summed", fmt=_short, boxes=box, **_symmetric(dx))
    fig.tight_layout()
    return fig


def plot_im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1) -> Figure:
    """Unfold an input into one row per window: convolution becomes a matrix product. Lesson 03.

    Args:
        x: (H, W) input (use small numbers, e.g. ``np.arange(16).reshape(4, 4)``).
        kh, kw: kernel size.
        stride: the convolution's stride.
    """
    _check_2d("plot_im2col", x=x)
    cols = layers.im2col(np.asarray(x, np.float64)[None, None], kh, kw, stride, 0)    # (OH*OW, KH*KW)
    oh, ow = conv_map_size(x, np.zeros((kh, kw)), stride)
    fig, axes = _panels([np.shape(x), cols.shape], cell=0.34)
    colours = plt.cm.tab10.colors
    boxes = [(r * stride, c * stride, kh, kw, colours[n % 10]) for n, (r, c) in enumerate(np.ndindex(oh, ow))][:3]
    draw_matrix(axes[0], x, "input x (first three windows)", fmt=_short, cmap="Blues", boxes=boxes)
    draw_matrix(axes[1], cols, f"im2col: {cols.shape[0]} windows × {cols.shape[1]} values", fmt=_short,
                cmap="Blues", boxes=[(n, 0, 1, cols.shape[1], colours[n]) for n in range(len(boxes))])
    fig.tight_layout()
    return fig


def plot_timing(sizes: Sequence[int], seconds: Mapping[str, Sequence[float]], xlabel: str = "image size (pixels)",
                title: str = "") -> Figure:
    """Run time of several implementations against input size, on a log scale. Lesson 03."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for label, times in seconds.items():
        if len(times) != len(sizes):
            raise ValueError(f"plot_timing: {label!r} has {len(times)} times for {len(sizes)} sizes")
        ax.plot(sizes, np.asarray(times) * 1e3, marker="o", label=label)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("milliseconds (log scale)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    return fig


__all__ = [
    "EXAMPLE_IMAGE", "EXAMPLE_IMAGE_2", "EDGE_KERNEL", "KERNELS", "draw_matrix", "conv_window", "conv_map_size",
    "plot_conv_step", "plot_conv_result", "filter_image", "plot_kernels_on_photo", "plot_kernel_on_photo",
    "plot_shift_demo", "feature_maps", "plot_feature_maps", "plot_feature_map", "plot_conv_geometry",
    "plot_receptive_field", "plot_parameter_share", "plot_activations", "plot_pool_backward",
    "plot_conv_gradient_flow", "plot_im2col", "plot_timing", "MAX_WIDTH",
]
