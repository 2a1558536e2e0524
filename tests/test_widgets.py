"""The explorers of lessons 01-02 build without a browser and redraw what a learner expects,
show their picture unstretched at a size that fits a laptop; the static figures they share render."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from cnnlab import layers, shapes, viz, widgets  # noqa: E402

PNG = b"\x89PNG"
SMALL_PHOTO = np.linspace(0, 1, 40 * 30).reshape(40, 30)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------------- conv stepper

def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def test_conv_stepper_starts_at_minus_six():
    stepper = widgets.conv_stepper()
    assert isinstance(stepper, widgets.ConvStepper) and isinstance(stepper.widget, ipywidgets.VBox)
    assert stepper.state == {"i": 0, "j": 0, "value": -6.0}
    assert "<b>-6</b>" in stepper.readout.value
    assert bytes(stepper.image.value).startswith(PNG)


def test_conv_stepper_slider_moves_the_window():
    stepper = widgets.conv_stepper()
    expected = layers.conv2d_naive(viz.EXAMPLE_IMAGE[None, None], viz.EDGE_KERNEL[None, None], np.zeros(1))[0, 0]
    assert stepper.controls["position"].max == expected.size - 1
    first_picture = stepper.image.value
    for position in range(expected.size):
        stepper.controls["position"].value = position          # as a learner drags the slider
        i, j = divmod(position, 3)
        assert (stepper.state["i"], stepper.state["j"]) == (i, j)
        assert stepper.state["value"] == expected[i, j]
        assert f"Y[{i}, {j}]" in stepper.readout.value
    assert stepper.image.value != first_picture


def test_conv_stepper_second_example_with_stride_padding_and_bias():
    stepper = widgets.conv_stepper(viz.EXAMPLE_IMAGE_2, viz.EDGE_KERNEL, stride=2, padding=1, bias=1.0)
    out, _ = layers.conv2d_forward(viz.EXAMPLE_IMAGE_2[None, None], viz.EDGE_KERNEL[None, None], np.ones(1),
                                   stride=2, padding=1)
    assert stepper.controls["position"].max == 8                 # 3×3 outputs
    state = stepper.update(position=4)
    assert state["value"] == out[0, 0, 1, 1]
    assert stepper.controls["position"].value == 4                # the slider follows update()


# --------------------------------------------------------------------------- kernel editor

def test_kernel_editor_is_a_standard_layout_with_its_css_class():
    editor = widgets.kernel_editor(SMALL_PHOTO, downsample=1)
    assert "cnnlab-kernel-editor" in editor.widget._dom_classes
    parts = list(_walk(editor.widget))
    grid = [part for part in parts if isinstance(part, ipywidgets.GridBox)]
    assert len(grid) == 1 and len(grid[0].children) == 9
    assert all(isinstance(cell, ipywidgets.FloatText) for cell in grid[0].children)
    assert editor.image in parts and editor.controls["preset"] in parts
    np.testing.assert_array_equal(editor.state["kernel"], viz.KERNELS["Sobel x (vertical edges)"])


def test_kernel_editor_typing_a_number_redraws_the_feature_map():
    editor = widgets.kernel_editor(SMALL_PHOTO, kernel="identity", downsample=1)
    np.testing.assert_allclose(editor.state["feature_map"], SMALL_PHOTO)
    before = editor.image.value
    editor.controls["k11"].value = 2.0                           # the centre weight, as typed
    np.testing.assert_allclose(editor.state["feature_map"], 2 * SMALL_PHOTO)
    assert editor.controls["preset"].value == "custom"
    assert "sum to 2" in editor.readout.value
    assert editor.image.value != before


def test_kernel_editor_preset_loads_nine_numbers_and_matches_torch():
    editor = widgets.kernel_editor(SMALL_PHOTO, kernel="identity", downsample=1)
    editor.controls["preset"].value = "Laplacian (all edges)"
    kernel = viz.KERNELS["Laplacian (all edges)"]
    np.testing.assert_array_equal(editor.state["kernel"], kernel)
    expected = torch.nn.functional.conv2d(torch.from_numpy(SMALL_PHOTO)[None, None],
                                          torch.from_numpy(kernel)[None, None], padding=1)[0, 0].numpy()
    np.testing.assert_allclose(editor.state["feature_map"], expected, atol=1e-12)
    assert "sum to 0" in editor.readout.value


def test_kernel_editor_update_loads_a_kernel_and_rejects_a_wrong_shape():
    editor = widgets.kernel_editor(SMALL_PHOTO, downsample=2)
    box = np.full((3, 3), 1 / 9)
    state = editor.update(kernel=box)
    np.testing.assert_allclose(state["kernel"], box)
    assert state["feature_map"].shape == (20, 15)
    assert editor.controls["preset"].value == "box blur"         # the menu names a kernel it knows
    editor.update(kernel=np.full((3, 3), 0.1))
    assert editor.controls["preset"].value == "custom"
    with pytest.raises(ValueError, match="3×3"):
        editor.update(kernel=np.ones((5, 5)))


# --------------------------------------------------------------------------- shape calculator

def test_shape_calculator_same_padding_and_every_slider():
    calc = widgets.shape_calculator()
    assert calc.state == {"output": 32}                          # 32×32, 5×5, stride 1, padding 2
    assert "<b>32</b>" in calc.readout.value
    calc.controls["stride"].value = 2
    assert calc.state["output"] == 16
    calc.controls["dilation"].value = 2
    assert calc.state["output"] == shapes.conv_output_size(32, 5, 2, 2, 2) == 14
    conv = torch.nn.Conv2d(1, 1, 5, stride=2, padding=2, dilation=2)
    assert conv(torch.zeros(1, 1, 32, 32)).shape[-1] == calc.state["output"]


def test_shape_calculator_explains_an_impossible_setting():
    calc = widgets.shape_calculator(n=4, k=3, stride=1, padding=0, dilation=1)
    assert calc.state["output"] == 2
    picture = calc.image.value
    calc.controls["k"].value = 7
    assert "error" in calc.state and "does not fit" in calc.readout.value
    assert calc.image.value == picture                          # the last good picture stays


# --------------------------------------------------------------------------- feature-map viewer

def test_feature_map_viewer_picks_layer_and_channel():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Conv2d(4, 2, 3))
    x = torch.randn(1, 1, 12, 12)
    maps = viz.feature_maps(net, x)
    assert [m.shape for m in maps.values()] == [(4, 12, 12), (4, 12, 12), (4, 6, 6), (2, 4, 4)]
    viewer = widgets.feature_map_viewer(maps)
    assert viewer.state["shape"] == (12, 12)
    viewer.controls["channel"].value = 3
    first = list(maps)[0]
    assert viewer.state["channel"] == 3
    assert viewer.state["max"] == pytest.approx(float(maps[first][3].max()))
    viewer.controls["layer"].value = list(maps)[3]               # only 2 channels: the slider follows
    assert viewer.controls["channel"].max == 1
    assert viewer.state["channel"] == 1 and viewer.state["shape"] == (4, 4)


def test_feature_map_viewer_names_the_channels():
    maps = {"conv": np.random.default_rng(0).random((3, 8, 8)), "pool": np.zeros((3, 4, 4)), "fc": np.zeros((2, 1, 1))}
    viewer = widgets.feature_map_viewer(maps, channel_names=["blur", "edge", "sharp"])
    viewer.update(channel=1)
    assert "channel 1 (edge)" in viewer.readout.value
    viewer.update(layer="fc")                                   # two channels: the names do not apply
    assert "channel 1:" in viewer.readout.value and "edge" not in viewer.readout.value


def test_feature_map_viewer_rejects_maps_without_channels():
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        widgets.feature_map_viewer({"conv": np.zeros((5, 5))})


# --------------------------------------------------------------------------- every explorer

EXPLORERS = ["conv_stepper", "conv_stepper stride 2", "kernel_editor", "shape_calculator", "feature_map_viewer"]


@pytest.fixture(scope="module")
def explorers():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 6, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2))
    photo = np.random.default_rng(0).random((600, 512))           # lesson 01's photo is 600×512
    return {
        "conv_stepper": widgets.conv_stepper(),
        "conv_stepper stride 2": widgets.conv_stepper(viz.EXAMPLE_IMAGE_2, viz.EDGE_KERNEL, stride=2, padding=1),
        "kernel_editor": widgets.kernel_editor(photo),
        "shape_calculator": widgets.shape_calculator(),
        "feature_map_viewer": widgets.feature_map_viewer(viz.feature_maps(net, torch.rand(1, 1, 300, 256))),
    }


@pytest.mark.parametrize("name", EXPLORERS)
def test_explorer_shows_its_picture_unstretched_and_small_enough(name, explorers):
    explorer = explorers[name]
    width, height = widgets.png_size(bytes(explorer.image.value))
    layout = explorer.image.layout
    assert (layout.width, layout.height, layout.max_width) == (f"{width}px", "auto", "100%")   # one pixel per pixel
    assert width <= 560 if name == "kernel_editor" else width <= 920    # the editor's numbers sit beside it
    assert height <= 400, f"{name}: a {width}×{height} picture leaves no room for the controls on a laptop"


@pytest.mark.parametrize("name", EXPLORERS)
def test_explorer_owns_its_state_and_displays_its_widget(name, explorers):
    explorer = explorers[name]
    bundle = explorer._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.widget.model_id
    assert not {"state", "update", "controls", "hold"} & set(vars(explorer.widget))
    with pytest.raises(ValueError, match="no control named"):
        explorer.update(colour="red")


# --------------------------------------------------------------------------- static figures

def test_conv_window_and_plot_conv_step_show_the_worked_number():
    window, products, total = viz.conv_window(viz.EXAMPLE_IMAGE, viz.EDGE_KERNEL, 0, 0)
    assert total == -6
    np.testing.assert_array_equal(window, viz.EXAMPLE_IMAGE[:3, :3])
    fig = viz.plot_conv_step(viz.EXAMPLE_IMAGE, viz.EDGE_KERNEL, 0, 0)
    titles = [ax.get_title() for ax in fig.axes]
    assert "output Y[0, 0] = -6" in titles
    with pytest.raises(ValueError, match="outside"):
        viz.conv_window(viz.EXAMPLE_IMAGE, viz.EDGE_KERNEL, 3, 0)


def test_filter_image_keeps_the_size_and_rejects_even_kernels():
    out = viz.filter_image(SMALL_PHOTO, viz.KERNELS["box blur"])
    assert out.shape == SMALL_PHOTO.shape
    assert out[10, 10] == pytest.approx(SMALL_PHOTO[9:12, 9:12].mean())
    with pytest.raises(ValueError, match="odd"):
        viz.filter_image(SMALL_PHOTO, np.ones((2, 2)))


def _renders(fig) -> bool:
    fig.canvas.draw()
    return fig.canvas.buffer_rgba() is not None and len(fig.axes) > 0


@pytest.mark.parametrize("draw", [
    lambda: viz.plot_conv_step(viz.EXAMPLE_IMAGE_2, viz.EDGE_KERNEL, 1, 1, stride=2, padding=1, bias=1),
    lambda: viz.plot_conv_result(viz.EXAMPLE_IMAGE, viz.EDGE_KERNEL, np.zeros((3, 3)), "title"),
    lambda: viz.plot_kernels_on_photo(SMALL_PHOTO),
    lambda: viz.plot_kernel_on_photo(SMALL_PHOTO, viz.EDGE_KERNEL),
    lambda: viz.plot_shift_demo(np.eye(8), viz.EDGE_KERNEL),
    lambda: viz.plot_feature_maps(np.random.default_rng(0).random((5, 6, 6)), title="maps"),
    lambda: viz.plot_feature_map(np.random.default_rng(0).random((5, 6, 6)), 2),
    lambda: viz.plot_conv_geometry(7, 3, 2, 1, 2),
    lambda: viz.plot_receptive_field([3, 3, 2], [1, 1, 2]),
    lambda: viz.plot_parameter_share(["a", "b"], [10, 30]),
    lambda: viz.plot_activations(),
    lambda: viz.plot_pool_backward(np.arange(25.).reshape(5, 5), np.ones((2, 2)), 3, 2, "max"),
    lambda: viz.plot_pool_backward(np.arange(16.).reshape(4, 4), np.ones((2, 2)), 2, 2, "avg"),
    lambda: viz.plot_conv_gradient_flow(viz.EDGE_KERNEL, np.ones((3, 3)), 1, 2),
    lambda: viz.plot_im2col(np.arange(16.).reshape(4, 4), 2, 2),
    lambda: viz.plot_timing([8, 16], {"naive": [0.1, 0.4], "im2col": [0.001, 0.002]}),
])
def test_static_figures_render(draw):
    assert _renders(draw())


def test_receptive_field_picture_agrees_with_shapes():
    fig = viz.plot_receptive_field([3, 3])
    assert "5 input pixels" in fig.axes[0].get_title()


def test_conv_geometry_title_gives_the_output_size():
    fig = viz.plot_conv_geometry(32, 5, 1, 2)
    assert "= 32" in fig._suptitle.get_text()
    assert "output 32×32" in [ax.get_title() for ax in fig.axes]


def test_pool_backward_rejects_a_mismatched_gradient():
    with pytest.raises(ValueError, match="pooled output"):
        viz.plot_pool_backward(np.zeros((4, 4)), np.zeros((3, 3)), 2)


def test_widgets_fall_back_to_static_figures_without_ipywidgets(monkeypatch):
    monkeypatch.setattr(widgets, "_ipywidgets", lambda: None)
    assert isinstance(widgets.conv_stepper(), matplotlib.figure.Figure)
    assert isinstance(widgets.shape_calculator(), matplotlib.figure.Figure)
    assert isinstance(widgets.kernel_editor(SMALL_PHOTO), matplotlib.figure.Figure)
    assert isinstance(widgets.feature_map_viewer({"conv": np.zeros((2, 3, 3))}), matplotlib.figure.Figure)
    labelled = widgets.feature_map_viewer({"conv": np.zeros((2, 3, 3))}, channel_names=["a (b)", "c"])
    assert [ax.get_title() for ax in labelled.axes] == ["a\n(b)", "c"]


def test_feature_maps_work_on_a_model_left_in_training_mode():
    import torch
    from torch import nn

    from cnnlab.viz import feature_maps

    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.BatchNorm1d(4 * 26 * 26))
    net.train()
    maps = feature_maps(net, torch.randn(1, 1, 28, 28))
    assert [m.shape for m in maps.values()] == [(4, 26, 26)] * 3
    assert net.training and all(m.training for m in net.modules())
