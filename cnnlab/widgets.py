"""Interactive explorers for lessons 01 and 02 (ipywidgets).

- ``ConvStepper`` (``conv_stepper``): slide the kernel over the image one position at a time.
- ``KernelEditor`` (``kernel_editor``): type the nine numbers of a 3×3 kernel, watch the photo's
  feature map change.
- ``ShapeCalculator`` (``shape_calculator``): input size, kernel, stride, padding, dilation ->
  output size, with a picture.
- ``FeatureMapViewer`` (``feature_map_viewer``): pick a layer and a channel of a network's
  feature maps.

Each explorer draws with the static figure of ``cnnlab.viz.images`` that shares its name
(``plot_conv_step``, ``plot_kernel_on_photo``, ``plot_conv_geometry``, ``plot_feature_map``),
so an exported notebook that cannot run widgets still shows the same picture when the
notebook draws it statically first. The picture is rendered at the size it is shown
(``DPI`` pixels per inch of the figure, one image pixel per screen pixel), never stretched,
and every explorer fits JupyterLab on a 1366×768 laptop while it is used.

An explorer is a small object that owns its state. A cell that ends with one shows it (it
displays its ``widget``, an ipywidgets box); without a browser it is driven through

- ``controls``: name -> the input widgets (set ``.value`` as a learner would),
- ``update(name=value, ...)``: sets those controls, redraws once and returns ``state``,
- ``state``: a dict of the numbers the picture shows (e.g. ``state["value"] == -6`` for the
  first conv step of lesson 01), and ``readout`` / ``image``: the HTML line and the picture.

When ipywidgets cannot be imported, each function returns the static figure instead.
"""

from __future__ import annotations

import io
import struct
from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from cnnlab import shapes
from cnnlab.viz import images

DPI = 100
"""Pixels per inch of an explorer's picture: the same as a figure shown inline in JupyterLab."""


def _ipywidgets():
    """The ipywidgets module, or None when it cannot be imported."""
    try:
        import ipywidgets
    except ImportError:
        return None
    return ipywidgets


def figure_png(fig, dpi: int = DPI) -> bytes:
    """Render a figure to PNG bytes and close it (so inline backends do not show it twice)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels of a PNG, read from its header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("png_size: not a PNG image")
    return struct.unpack(">II", png[16:24])


class Explorer:
    """Controls, a readout line and a picture that redraws whenever a control changes. Lessons 01-02.

    A subclass passes its controls to ``__init__``, arranges them in ``arrange`` and draws in
    ``draw(**values) -> (figure, readout html, state)``; a ``ValueError`` from ``draw`` (an
    impossible setting) is shown in the readout and the last good picture stays.
    """

    css_class = "cnnlab-explorer"

    def __init__(self, controls: Mapping[str, Any]):
        import ipywidgets

        self.controls = dict(controls)
        self.readout = ipywidgets.HTML()
        self.image = ipywidgets.Image(format="png")
        self.state: dict = {}
        self._holding = False                    # True while several controls change at once
        self.widget = self.arrange(ipywidgets)
        self.widget.add_class("cnnlab-explorer")
        self.widget.add_class(self.css_class)
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self.redraw()

    def arrange(self, ipywidgets):
        """The box shown in the notebook: the controls, then the readout, then the picture."""
        return ipywidgets.VBox([*self.controls.values(), self.readout, self.image])

    def draw(self, **values) -> tuple[Any, str, dict]:
        raise NotImplementedError(f"{type(self).__name__} must define draw(**values)")

    def update(self, **values) -> dict:
        """Set the named controls (as a learner would), then redraw once; return the new state."""
        unknown = sorted(set(values) - set(self.controls))
        if unknown:
            raise ValueError(f"{type(self).__name__}.update: no control named {', '.join(unknown)}; "
                             f"the controls are {', '.join(self.controls)}")
        self._set(**values)
        return self.redraw()

    def redraw(self) -> dict:
        """Draw the picture for the controls' current values; return the new state."""
        try:
            fig, line, state = self.draw(**{name: control.value for name, control in self.controls.items()})
        except ValueError as err:                 # an impossible setting: say why, keep the last picture
            self.readout.value = f"<b style='color:#cf222e'>{err}</b>"
            self.state = {"error": str(err)}
            return self.state
        self._show(figure_png(fig))
        self.readout.value = line
        self.state = state
        return state

    def _set(self, **values) -> None:
        """Set several controls without a redraw after each one."""
        self._holding = True
        try:
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._holding = False

    def _show(self, png: bytes) -> None:
        """Show the picture one image pixel per screen pixel (narrower screens shrink it evenly)."""
        width, _ = png_size(png)
        self.image.value = png
        self.image.layout.width = f"{width}px"
        self.image.layout.height = "auto"
        self.image.layout.max_width = "100%"

    def _changed(self, change) -> None:
        if not self._holding:
            self.redraw()

    def _repr_mimebundle_(self, **kwargs):
        """A cell that ends with the explorer shows its widget."""
        return self.widget._repr_mimebundle_(**kwargs)


# --------------------------------------------------------------------------- lesson 01

def _sum_expression(window: np.ndarray, w: np.ndarray) -> str:
    terms = [f"{a:g}·{b:g}" if b >= 0 else f"{a:g}·({b:g})" for a, b in zip(window.ravel(), w.ravel())]
    return " + ".join(terms)


class ConvStepper(Explorer):
    """A slider over the output positions of a single-channel convolution. Lesson 01.

    Each position shows the window on the (padded) input, the element-wise products, and
    the output cell being filled; the readout writes the sum out in full.
    """

    css_class = "cnnlab-conv-stepper"

    def __init__(self, x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int = 0, bias: float = 0.0):
        import ipywidgets

        self.x, self.w, self.stride, self.padding, self.bias = x, w, stride, padding, bias
        oh, self.ow = images.conv_map_size(x, w, stride, padding)
        slider = ipywidgets.IntSlider(value=0, min=0, max=oh * self.ow - 1, description="position",
                                      continuous_update=False)
        super().__init__({"position": slider})

    def draw(self, position: int):
        i, j = divmod(position, self.ow)
        window, _, total = images.conv_window(self.x, self.w, i, j, self.stride, self.padding)
        value = total + self.bias
        fig = images.plot_conv_step(self.x, self.w, i, j, self.stride, self.padding, self.bias)
        line = (f"<code>Y[{i}, {j}] = {_sum_expression(window, self.w)}"
                + (f" + {self.bias:g}" if self.bias else "") + f" = <b>{value:g}</b></code>")
        return fig, line, {"i": i, "j": j, "value": value}


def conv_stepper(x: np.ndarray | None = None, w: np.ndarray | None = None, stride: int = 1,
                 padding: int = 0, bias: float = 0.0):
    """A slider over the output positions of a single-channel convolution. Lesson 01.

    Args:
        x: (H, W) input; default lesson 01's 5×5 ``EXAMPLE_IMAGE``.
        w: (KH, KW) kernel; default the vertical-edge ``EDGE_KERNEL``.
        stride, padding, bias: as in ``conv2d_forward``.

    Returns:
        A ``ConvStepper`` (``controls["position"]`` is the slider; ``state`` holds i, j and the
        output ``value``), or the static figure of position (0, 0) without ipywidgets.
    """
    x = images.EXAMPLE_IMAGE if x is None else np.asarray(x, dtype=np.float64)
    w = images.EDGE_KERNEL if w is None else np.asarray(w, dtype=np.float64)
    images.conv_map_size(x, w, stride, padding)           # a kernel that does not fit fails here
    if _ipywidgets() is None:
        return images.plot_conv_step(x, w, 0, 0, stride, padding, bias)
    return ConvStepper(x, w, stride, padding, bias)


def _kernel_note(kernel: np.ndarray) -> str:
    total = float(kernel.sum())
    if abs(total) < 1e-9:
        return "the numbers sum to 0: flat regions go to 0 and only changes (edges) remain"
    if abs(total - 1) < 1e-9:
        return "the numbers sum to 1: the overall brightness is kept"
    return f"the numbers sum to {total:.3g}: the brightness is scaled by that factor"


def _check_kernel(kernel: np.ndarray) -> np.ndarray:
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.shape != (3, 3):
        raise ValueError(f"kernel_editor: the kernel must be 3×3, got shape {kernel.shape}")
    return kernel


class KernelEditor(Explorer):
    """Nine number boxes and a preset menu beside the photo and its feature map. Lesson 01.

    ``controls`` holds ``k00`` … ``k22`` (row, column) and ``preset``; typing a number turns
    the preset to "custom", choosing a preset loads its nine numbers.
    """

    css_class = "cnnlab-kernel-editor"
    CELLS = [f"k{r}{c}" for r in range(3) for c in range(3)]

    def __init__(self, image: np.ndarray, start: np.ndarray, preset: str):
        import ipywidgets

        self.photo = image
        cells = {name: ipywidgets.FloatText(value=float(start[int(name[1]), int(name[2])]), step=0.1,
                                            layout=ipywidgets.Layout(width="72px"))
                 for name in self.CELLS}
        menu = ipywidgets.Dropdown(options=["custom", *images.KERNELS], value=preset, description="preset",
                                   layout=ipywidgets.Layout(width="300px"))
        super().__init__({**cells, "preset": menu})

    def arrange(self, ipywidgets):
        """The preset menu and the 3×3 grid of numbers on the left, the picture on the right."""
        grid = ipywidgets.GridBox([self.controls[name] for name in self.CELLS],
                                  layout=ipywidgets.Layout(grid_template_columns="repeat(3, 76px)",
                                                           grid_gap="4px", margin="8px 0 0 72px"))
        self.readout.layout.width = "310px"
        left = ipywidgets.VBox([self.controls["preset"], grid, self.readout],
                               layout=ipywidgets.Layout(width="330px", flex="0 0 auto"))
        return ipywidgets.HBox([left, self.image], layout=ipywidgets.Layout(align_items="flex-start"))

    def update(self, kernel: np.ndarray | None = None, **values) -> dict:
        """Load ``kernel`` (3×3) into the nine inputs and/or set named controls, then redraw once."""
        if kernel is not None:
            kernel = _check_kernel(kernel)
            named = next((name for name, known in images.KERNELS.items() if np.array_equal(known, kernel)), "custom")
            values = {**{name: float(v) for name, v in zip(self.CELLS, kernel.ravel())}, "preset": named, **values}
        return super().update(**values)

    def draw(self, preset: str, **cells):
        kernel = np.array([cells[name] for name in self.CELLS], dtype=np.float64).reshape(3, 3)
        fig = images.plot_kernel_on_photo(self.photo, kernel)
        state = {"kernel": kernel, "feature_map": images.filter_image(self.photo, kernel)}
        return fig, f"<i>{_kernel_note(kernel)}</i>", state

    def _changed(self, change) -> None:
        if self._holding:
            return
        menu = self.controls["preset"]
        if change["owner"] is menu:
            if change["new"] != "custom":
                self.update(kernel=images.KERNELS[change["new"]])
            return
        self._set(preset="custom")                  # a learner typed a number: no preset any more
        self.redraw()


def kernel_editor(image: np.ndarray | None = None, kernel: np.ndarray | str = "Sobel x (vertical edges)",
                  downsample: int = 2):
    """Edit the nine numbers of a 3×3 kernel and watch the photo's feature map update. Lesson 01.

    The widget's top-level box has the CSS class ``cnnlab-kernel-editor``.

    Args:
        image: (H, W) grey photo; default ``cnnlab.data.photo_gray("grace_hopper")``.
        kernel: the starting kernel, (3, 3) or a name in ``images.KERNELS``.
        downsample: keep every n-th pixel of the photo so that redrawing stays quick.

    Returns:
        A ``KernelEditor`` (``controls["k00"]`` … ``controls["k22"]`` and ``controls["preset"]``;
        ``state["kernel"]`` and ``state["feature_map"]``; ``update(kernel=...)`` loads a kernel),
        or the static figure without ipywidgets.
    """
    if image is None:
        from cnnlab.data import photo_gray

        image = photo_gray("grace_hopper")
    image = np.asarray(image, dtype=np.float64)[::downsample, ::downsample]
    start = _check_kernel(images.KERNELS[kernel] if isinstance(kernel, str) else kernel)
    if _ipywidgets() is None:
        return images.plot_kernel_on_photo(image, start)
    return KernelEditor(image, start, kernel if isinstance(kernel, str) else "custom")


# --------------------------------------------------------------------------- lesson 02

class ShapeCalculator(Explorer):
    """Sliders for n, k, stride, padding and dilation; the output size and its picture. Lesson 02."""

    css_class = "cnnlab-shape-calculator"

    def __init__(self, n: int, k: int, stride: int, padding: int, dilation: int):
        import ipywidgets

        def slider(label, value, low, high):
            return ipywidgets.IntSlider(value=value, min=low, max=high, description=label,
                                        continuous_update=False, layout=ipywidgets.Layout(width="300px"))

        super().__init__({"n": slider("input n", n, 1, 32), "k": slider("kernel k", k, 1, 7),
                          "stride": slider("stride s", stride, 1, 4), "padding": slider("padding p", padding, 0, 3),
                          "dilation": slider("dilation d", dilation, 1, 3)})

    def arrange(self, ipywidgets):
        """Two rows of sliders (sizes, then steps), the readout, the picture."""
        c = self.controls
        return ipywidgets.VBox([ipywidgets.HBox([c["n"], c["k"], c["dilation"]]),
                                ipywidgets.HBox([c["stride"], c["padding"]]), self.readout, self.image])

    def draw(self, n, k, stride, padding, dilation):
        out = shapes.conv_output_size(n, k, stride, padding, dilation)
        fig = images.plot_conv_geometry(n, k, stride, padding, dilation)
        line = (f"<code>⌊(n + 2p − d(k−1) − 1)/s⌋ + 1 = ⌊({n} + {2 * padding} − {dilation * (k - 1)} − 1)"
                f"/{stride}⌋ + 1 = <b>{out}</b></code>")
        return fig, line, {"output": out}


def shape_calculator(n: int = 32, k: int = 5, stride: int = 1, padding: int = 2, dilation: int = 1):
    """Sliders for input size, kernel, stride, padding and dilation -> output size, with a picture. Lesson 02.

    Args:
        n, k, stride, padding, dilation: the starting setting (default: lesson 02's "same"
            example, 32×32 with a 5×5 kernel and padding 2).

    Returns:
        A ``ShapeCalculator`` (``controls`` n, k, stride, padding, dilation; ``state["output"]``),
        or the static figure without ipywidgets.
    """
    if _ipywidgets() is None:
        return images.plot_conv_geometry(n, k, stride, padding, dilation)
    return ShapeCalculator(n, k, stride, padding, dilation)


# --------------------------------------------------------------------------- lesson 01: feature maps

class FeatureMapViewer(Explorer):
    """A layer menu and a channel slider over a network's feature maps of one image. Lesson 01."""

    css_class = "cnnlab-feature-map-viewer"

    def __init__(self, maps: Mapping[str, np.ndarray], channel_names: Sequence[str] | None = None):
        import ipywidgets

        self.maps, self.channel_names = maps, list(channel_names or [])
        first = next(iter(maps))
        layer = ipywidgets.Dropdown(options=list(maps), value=first, description="layer",
                                    layout=ipywidgets.Layout(width="360px"))
        channel = ipywidgets.IntSlider(value=0, min=0, max=len(maps[first]) - 1, description="channel",
                                       continuous_update=False)
        super().__init__({"layer": layer, "channel": channel})

    def arrange(self, ipywidgets):
        """The layer menu and the channel slider side by side, the readout, the picture."""
        return ipywidgets.VBox([ipywidgets.HBox([self.controls["layer"], self.controls["channel"]]),
                                self.readout, self.image])

    def _name(self, layer: str, channel: int) -> str:
        named = len(self.channel_names) == len(self.maps[layer])
        return f"channel {channel} ({self.channel_names[channel]})" if named else f"channel {channel}"

    def draw(self, layer, channel):
        chosen = self.maps[layer]                                 # (C, H, W)
        channel = min(channel, len(chosen) - 1)
        fmap = chosen[channel]                                    # (H, W)
        fig = images.plot_feature_map(chosen, channel, f"{self._name(layer, channel)} of {len(chosen)}")
        state = {"layer": layer, "channel": channel, "shape": fmap.shape,
                 "min": float(fmap.min()), "max": float(fmap.max())}
        line = (f"<code>{layer}: {chosen.shape} — {self._name(layer, channel)}: {fmap.shape}, "
                f"values {fmap.min():.3g} … {fmap.max():.3g}</code>")
        return fig, line, state

    def _changed(self, change) -> None:
        if self._holding:
            return
        if change["owner"] is self.controls["layer"]:
            self._set(channel=min(self.controls["channel"].value, len(self.maps[change["new"]]) - 1))
            self.controls["channel"].max = len(self.maps[change["new"]]) - 1
        self.redraw()


def feature_map_viewer(maps: Mapping[str, np.ndarray], channel_names: Sequence[str] | None = None):
    """Pick a layer and a channel; see that feature map. Lesson 01 (any network: try lesson 04's LeNet).

    Args:
        maps: layer name -> (C, H, W) feature maps of one image, e.g. from
            ``cnnlab.viz.feature_maps(model, x)``.
        channel_names: a name per channel (e.g. the kernels of lesson 01), shown for every
            layer that has that many channels.

    Returns:
        A ``FeatureMapViewer`` (``controls["layer"]`` a dropdown, ``controls["channel"]`` a
        slider; ``state`` holds the layer, channel, shape, min and max), or a static grid of
        the first layer's maps without ipywidgets.
    """
    maps = {name: np.asarray(m) for name, m in maps.items()}
    if not maps or any(m.ndim != 3 for m in maps.values()):
        raise ValueError("feature_map_viewer: give at least one layer, each (C, H, W); got "
                         + str({name: m.shape for name, m in maps.items()}))
    if _ipywidgets() is None:
        first = next(iter(maps))
        return images.plot_feature_maps(maps[first], title=first, labels=channel_names)
    return FeatureMapViewer(maps, channel_names)


__all__ = ["Explorer", "ConvStepper", "KernelEditor", "ShapeCalculator", "FeatureMapViewer", "conv_stepper",
           "kernel_editor", "shape_calculator", "feature_map_viewer", "figure_png", "png_size", "DPI"]
