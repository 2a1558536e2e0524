"""Interactive explorers for lessons 01, 02 and 04 (ipywidgets).

- ``conv_stepper``: slide the kernel over the image one position at a time.
- ``kernel_editor``: type the nine numbers of a 3×3 kernel, watch the photo's feature map change.
- ``shape_calculator``: input size, kernel, stride, padding, dilation -> output size, with a picture.
- ``feature_map_viewer``: pick a layer and a channel of a network's feature maps.

Each explorer draws with the static figure of ``cnnlab.viz.images`` that shares its name
(``plot_conv_step``, ``plot_kernel_on_photo``, ``plot_conv_geometry``, ``plot_feature_map``),
rendered into an ``ipywidgets.Image``, so an exported notebook that cannot run widgets
still shows the same picture when the notebook draws it statically first.

Every explorer is testable without a browser: the returned box carries

- ``controls``: name -> the input widgets (set ``.value`` as a learner would),
- ``update(name=value, ...)``: sets those controls, redraws once and returns ``state``,
  the numbers the picture shows,
- ``state``: a dict of those numbers (e.g. ``state["value"] == -6`` for the first
  conv step of lesson 01), and ``readout`` / ``image``: the HTML line and the picture.

When ipywidgets cannot be imported, each function returns the static figure instead.
"""

from __future__ import annotations

import io
from typing import Any, Callable, Mapping

import matplotlib.pyplot as plt
import numpy as np

from cnnlab import shapes
from cnnlab.viz import images


def _ipywidgets():
    """The ipywidgets module, or None when it cannot be imported."""
    try:
        import ipywidgets
    except ImportError:
        return None
    return ipywidgets


def figure_png(fig, dpi: int = 80) -> bytes:
    """Render a figure to PNG bytes and close it (so inline backends do not show it twice)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _explorer(widgets, controls: Mapping[str, Any], draw: Callable[..., tuple[Any, str, dict]],
              css_class: str, extra: list | None = None):
    """Assemble controls, a readout line and a picture into one VBox that redraws on every change.

    ``draw(**values)`` returns (figure, readout html, state); the box gets ``controls``,
    ``readout``, ``image``, ``state`` and ``update`` attributes for headless use, and
    ``hold`` (set it while changing several controls, then call ``update`` once).
    """
    readout = widgets.HTML()
    image = widgets.Image(format="png")
    box = widgets.VBox([*(extra or controls.values()), readout, image])
    box.add_class(css_class)
    box.controls, box.readout, box.image, box.state = dict(controls), readout, image, {}
    box.hold = False                              # True while several controls change at once

    def update(**values):
        """Set the named controls (as a learner would), then redraw once; return the new state."""
        box.hold = True
        try:
            for name, value in values.items():
                box.controls[name].value = value
        finally:
            box.hold = False
        try:
            fig, line, state = draw(**{name: control.value for name, control in box.controls.items()})
        except ValueError as err:                 # an impossible setting: say why, keep the last picture
            readout.value = f"<b style='color:#cf222e'>{err}</b>"
            box.state = {"error": str(err)}
            return box.state
        image.value = figure_png(fig)
        readout.value = line
        box.state = state
        return state

    def redraw(change):
        if not box.hold:
            update()

    for control in box.controls.values():
        control.observe(redraw, names="value")
    box.update = update
    update()
    return box


# --------------------------------------------------------------------------- lesson 01

def _sum_expression(window: np.ndarray, w: np.ndarray) -> str:
    terms = [f"{a:g}·{b:g}" if b >= 0 else f"{a:g}·({b:g})" for a, b in zip(window.ravel(), w.ravel())]
    return " + ".join(terms)


def conv_stepper(x: np.ndarray | None = None, w: np.ndarray | None = None, stride: int = 1,
                 padding: int = 0, bias: float = 0.0):
    """A slider over the output positions of a single-channel convolution. Lesson 01.

    Each position shows the window on the (padded) input, the element-wise products, and
    the output cell being filled; the readout writes the sum out in full.

    Args:
        x: (H, W) input; default lesson 01's 5×5 ``EXAMPLE_IMAGE``.
        w: (KH, KW) kernel; default the vertical-edge ``EDGE_KERNEL``.
        stride, padding, bias: as in ``conv2d_forward``.

    Returns:
        A VBox (``controls["position"]`` is the slider; ``state`` holds i, j and the output
        ``value``), or the static figure of position (0, 0) without ipywidgets.
    """
    x = images.EXAMPLE_IMAGE if x is None else np.asarray(x, dtype=np.float64)
    w = images.EDGE_KERNEL if w is None else np.asarray(w, dtype=np.float64)
    oh, ow = images.conv_map_size(x, w, stride, padding)
    widgets = _ipywidgets()
    if widgets is None:
        return images.plot_conv_step(x, w, 0, 0, stride, padding, bias)

    def draw(position: int):
        i, j = divmod(position, ow)
        window, _, total = images.conv_window(x, w, i, j, stride, padding)
        value = total + bias
        fig = images.plot_conv_step(x, w, i, j, stride, padding, bias)
        line = (f"<code>Y[{i}, {j}] = {_sum_expression(window, w)}"
                + (f" + {bias:g}" if bias else "") + f" = <b>{value:g}</b></code>")
        return fig, line, {"i": i, "j": j, "value": value}

    slider = widgets.IntSlider(value=0, min=0, max=oh * ow - 1, description="position",
                               continuous_update=False)
    return _explorer(widgets, {"position": slider}, draw, "cnnlab-conv-stepper")


def _kernel_note(kernel: np.ndarray) -> str:
    total = float(kernel.sum())
    if abs(total) < 1e-9:
        return "the numbers sum to 0: flat regions go to 0 and only changes (edges) remain"
    if abs(total - 1) < 1e-9:
        return "the numbers sum to 1: the overall brightness is kept"
    return f"the numbers sum to {total:.3g}: the brightness is scaled by that factor"


def kernel_editor(image: np.ndarray | None = None, kernel: np.ndarray | str = "Sobel x (vertical edges)",
                  downsample: int = 2):
    """Edit the nine numbers of a 3×3 kernel and watch the photo's feature map update. Lesson 01.

    A ``GridBox`` of nine ``FloatText`` inputs, a preset menu (``images.KERNELS``) and the
    picture; the top-level box has the CSS class ``cnnlab-kernel-editor``.

    Args:
        image: (H, W) grey photo; default ``cnnlab.data.photo_gray("grace_hopper")``.
        kernel: the starting kernel, (3, 3) or a name in ``images.KERNELS``.
        downsample: keep every n-th pixel of the photo so that redrawing stays quick.

    Returns:
        A VBox (``controls["k00"]`` … ``controls["k22"]`` and ``controls["preset"]``;
        ``state["kernel"]`` and ``state["feature_map"]``; ``update(kernel=...)`` loads a
        kernel), or the static figure without ipywidgets.
    """
    if image is None:
        from cnnlab.data import photo_gray

        image = photo_gray("grace_hopper")
    image = np.asarray(image, dtype=np.float64)[::downsample, ::downsample]
    start = images.KERNELS[kernel] if isinstance(kernel, str) else np.asarray(kernel, dtype=np.float64)
    if start.shape != (3, 3):
        raise ValueError(f"kernel_editor: the kernel must be 3×3, got shape {start.shape}")
    widgets = _ipywidgets()
    if widgets is None:
        return images.plot_kernel_on_photo(image, start)

    cells = {f"k{r}{c}": widgets.FloatText(value=float(start[r, c]), step=0.1,
                                           layout=widgets.Layout(width="72px"))
             for r in range(3) for c in range(3)}
    preset = widgets.Dropdown(options=["custom", *images.KERNELS],
                              value=kernel if isinstance(kernel, str) else "custom", description="preset")
    grid = widgets.GridBox(list(cells.values()),
                           layout=widgets.Layout(grid_template_columns="repeat(3, 76px)", grid_gap="4px"))

    def draw(**values):
        kernel_now = np.array([[values[f"k{r}{c}"] for c in range(3)] for r in range(3)], dtype=np.float64)
        fig = images.plot_kernel_on_photo(image, kernel_now)
        state = {"kernel": kernel_now, "feature_map": images.filter_image(image, kernel_now)}
        return fig, f"<i>{_kernel_note(kernel_now)}</i>", state

    box = _explorer(widgets, cells, draw, "cnnlab-kernel-editor", extra=[preset, grid])
    set_cells = box.update

    def update(kernel: np.ndarray | None = None):
        """Load ``kernel`` (3×3) into the nine inputs, if given, then redraw once."""
        if kernel is None:
            return set_cells()
        kernel = np.asarray(kernel, dtype=np.float64)
        if kernel.shape != (3, 3):
            raise ValueError(f"kernel_editor: the kernel must be 3×3, got shape {kernel.shape}")
        return set_cells(**{f"k{r}{c}": float(v) for (r, c), v in np.ndenumerate(kernel)})

    def load_preset(change):
        if change["new"] != "custom":
            update(images.KERNELS[change["new"]])

    def mark_custom(change):
        if not box.hold:                             # a learner typed a number: no preset any more
            preset.value = "custom"

    preset.observe(load_preset, names="value")
    for cell in cells.values():
        cell.observe(mark_custom, names="value")
    box.controls["preset"] = preset
    box.update = update
    return box


# --------------------------------------------------------------------------- lesson 02

def shape_calculator(n: int = 32, k: int = 5, stride: int = 1, padding: int = 2, dilation: int = 1):
    """Sliders for input size, kernel, stride, padding and dilation -> output size, with a picture. Lesson 02.

    Args:
        n, k, stride, padding, dilation: the starting setting (default: lesson 02's "same"
            example, 32×32 with a 5×5 kernel and padding 2).

    Returns:
        A VBox (``controls`` n, k, stride, padding, dilation; ``state["output"]``), or the
        static figure without ipywidgets.
    """
    widgets = _ipywidgets()
    if widgets is None:
        return images.plot_conv_geometry(n, k, stride, padding, dilation)

    def slider(name, value, low, high):
        return widgets.IntSlider(value=value, min=low, max=high, description=name, continuous_update=False)

    controls = {"n": slider("input n", n, 1, 32), "k": slider("kernel k", k, 1, 7),
                "stride": slider("stride s", stride, 1, 4), "padding": slider("padding p", padding, 0, 3),
                "dilation": slider("dilation d", dilation, 1, 3)}

    def draw(n, k, stride, padding, dilation):
        out = shapes.conv_output_size(n, k, stride, padding, dilation)
        fig = images.plot_conv_geometry(n, k, stride, padding, dilation)
        line = (f"<code>⌊(n + 2p − d(k−1) − 1)/s⌋ + 1 = ⌊({n} + {2 * padding} − {dilation * (k - 1)} − 1)"
                f"/{stride}⌋ + 1 = <b>{out}</b></code>")
        return fig, line, {"output": out}

    return _explorer(widgets, controls, draw, "cnnlab-shape-calculator")


# --------------------------------------------------------------------------- lessons 01, 04

def feature_map_viewer(maps: Mapping[str, np.ndarray]):
    """Pick a layer and a channel; see that feature map. Lessons 01 and 04.

    Args:
        maps: layer name -> (C, H, W) feature maps of one image, e.g. from
            ``cnnlab.viz.feature_maps(model, x)``.

    Returns:
        A VBox (``controls["layer"]`` a dropdown, ``controls["channel"]`` a slider;
        ``state`` holds the layer, channel, shape, min and max), or a static grid of the
        first layer's maps without ipywidgets.
    """
    maps = {name: np.asarray(m) for name, m in maps.items()}
    if not maps or any(m.ndim != 3 for m in maps.values()):
        raise ValueError("feature_map_viewer: give at least one layer, each (C, H, W); got "
                         + str({name: m.shape for name, m in maps.items()}))
    widgets = _ipywidgets()
    first = next(iter(maps))
    if widgets is None:
        return images.plot_feature_maps(maps[first], title=first)

    layer = widgets.Dropdown(options=list(maps), value=first, description="layer")
    channel = widgets.IntSlider(value=0, min=0, max=len(maps[first]) - 1, description="channel",
                                continuous_update=False)

    def draw(layer, channel):
        chosen = maps[layer]
        channel = min(channel, len(chosen) - 1)
        fig = images.plot_feature_map(chosen, channel, f"{layer}: channel {channel} of {len(chosen)}")
        fmap = chosen[channel]
        state = {"layer": layer, "channel": channel, "shape": fmap.shape,
                 "min": float(fmap.min()), "max": float(fmap.max())}
        return fig, f"<code>{layer}: {chosen.shape} — channel {channel}: {fmap.shape}, " \
                    f"values {fmap.min():.3g} … {fmap.max():.3g}</code>", state

    def follow_layer(change):
        channel.max = len(maps[change["new"]]) - 1          # clamps the value, which redraws

    layer.observe(follow_layer, names="value")
    return _explorer(widgets, {"layer": layer, "channel": channel}, draw, "cnnlab-feature-map-viewer")


__all__ = ["conv_stepper", "kernel_editor", "shape_calculator", "feature_map_viewer", "figure_png"]
