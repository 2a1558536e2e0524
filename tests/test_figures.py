"""Every figure of the lessons is readable where JupyterLab shows it: no text under 8 pixels.

JupyterLab shows a figure as a PNG rendered at the figure's dpi (100) and, when the PNG is
wider than the notebook's output area, scales it down to that width (``OUTPUT_WIDTH``: the
output area of JupyterLab in a 1366×768 window, measured by tests/test_browser.py). A text
of s points is then s · dpi / 72 · scale pixels tall on screen.

Here: every ``cnnlab.viz`` figure and every explorer picture, drawn as the lessons draw them
(quick mode), through the same rendering call as JupyterLab's inline backend; a further test
checks that this table covers every figure function a lesson calls. tests/test_slides.py
watches, with the same ``WATCH`` code, every figure the executed lessons display.
"""

from __future__ import annotations

import ast
import json
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import jupytext  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from IPython.core.pylabtools import print_figure  # noqa: E402

from cnnlab import audio, boxes, data, shapes, viz, widgets  # noqa: E402
from cnnlab.experiments import ch09  # noqa: E402
from cnnlab.experiments.ch04 import SizeRun  # noqa: E402
from cnnlab.models import lenet5, tiny_ssd, vgg16  # noqa: E402
from cnnlab.models.detection import Detections  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MIN_TEXT_PX = 8
OUTPUT_WIDTH = 930          # px: JupyterLab 4's output area in a 1366×768 window, file browser open

# Runs in the process that draws (a lesson's kernel, or this test): records, for every PNG a
# figure is rendered to, its size, its dpi and every text drawn with its size in points.
WATCH = r'''
def _cnnlab_watch_figures(path):
    """Record each figure rendered to PNG into the JSON file ``path``; return a function that stops."""
    import io, json, struct
    from matplotlib.backend_bases import FigureCanvasBase
    from matplotlib.backends.backend_agg import RendererAgg
    print_png, draw_text = FigureCanvasBase.print_figure, RendererAgg.draw_text
    records = []

    def watched_print(canvas, target, *args, **kwargs):
        drawn = []

        def watched_text(renderer, gc, x, y, s, prop, *rest, **kw):
            if str(s).strip():
                drawn.append((prop.get_size_in_points(), str(s)[:60]))
            return draw_text(renderer, gc, x, y, s, prop, *rest, **kw)

        RendererAgg.draw_text = watched_text
        try:
            result = print_png(canvas, target, *args, **kwargs)
        finally:
            RendererAgg.draw_text = draw_text
        png = target.getvalue() if isinstance(target, io.BytesIO) else b""
        if png[:8] == b"\x89PNG\r\n\x1a\n":
            width, height = struct.unpack(">II", png[16:24])
            records.append({"width": width, "height": height, "dpi": float(kwargs.get("dpi") or canvas.figure.dpi),
                            "texts": sorted(set(drawn))})
            with open(path, "w") as sink:
                json.dump(records, sink)
        return result

    def stop():
        FigureCanvasBase.print_figure = print_png

    FigureCanvasBase.print_figure = watched_print
    return stop
'''


def watch_code(path: Path) -> str:
    """Kernel set-up code that records every figure the notebook draws into ``path``."""
    return WATCH + f"\n_cnnlab_watch_figures({str(path)!r})\ndel _cnnlab_watch_figures\n"


def small_texts(record: dict, output_width: int = OUTPUT_WIDTH) -> list[tuple[float, str]]:
    """The texts of one recorded figure that JupyterLab shows under ``MIN_TEXT_PX``, as (pixels, text)."""
    scale = min(1.0, output_width / record["width"])
    shown = {(round(points * record["dpi"] / 72 * scale, 1), text) for points, text in record["texts"]}
    return sorted(item for item in shown if item[0] < MIN_TEXT_PX)


@pytest.fixture
def watched(tmp_path):
    """Figures rendered inside the test are recorded into the returned JSON file."""
    namespace: dict = {}
    exec(WATCH, namespace)
    log = tmp_path / "figures.json"
    stop = namespace["_cnnlab_watch_figures"](str(log))
    yield log
    stop()
    plt.close("all")


# --------------------------------------------------------------------------- the lessons' calls

def _history(epochs: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    loss = np.sort(rng.random(epochs))[::-1] + 0.3
    return {"epoch": list(range(1, epochs + 1)), "train_loss": loss, "val_loss": loss + 0.05,
            "train_acc": 1 - loss / 2, "val_acc": 1 - loss / 2 - 0.02}


def _predictions(n: int = 500):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, n)
    preds = np.where(rng.random(n) < 0.8, y, rng.integers(0, 10, n))
    return torch.rand(n, 1, 28, 28), y, preds, rng.dirichlet(np.ones(10), n)


def _lenet_maps():
    model = lenet5(variant="modern")
    return list(viz.feature_maps(model, torch.rand(1, 1, 28, 28), kinds=(torch.nn.ReLU,)).values())


def _photo_maps():
    photo = data.photo_gray("grace_hopper")
    bank = torch.nn.Conv2d(1, len(viz.KERNELS), 3, padding=1, bias=False)
    with torch.no_grad():
        bank.weight.copy_(torch.tensor(np.stack(list(viz.KERNELS.values())))[:, None])
    net = torch.nn.Sequential(bank, torch.nn.ReLU(), torch.nn.MaxPool2d(2))
    return viz.feature_maps(net, photo[None, None, ::2, ::2])


def _vgg16_rows():
    return [row for row in shapes.summary(vgg16(), (3, 224, 224)).rows if row.params]


def _learning_curves() -> dict:
    """Lesson 07's results: method -> labels per class -> test accuracy of each seed."""
    rng = np.random.default_rng(0)
    return {method: {n: list(rng.uniform(0.5, 0.95, 2)) for n in (5, 20)}
            for method in ("scratch", "features", "finetune")}


def _size_runs() -> list[SizeRun]:
    """Lesson 04's bias-variance rows at the full run's sizes: (model, images, train accuracy, test accuracy)."""
    accuracies = {"softmax regression": [(1.00, 0.74), (0.93, 0.79), (0.88, 0.82), (0.86, 0.84)],
                  "MLP": [(1.00, 0.75), (0.99, 0.81), (0.95, 0.85), (0.91, 0.88)],
                  "LeNet-5": [(1.00, 0.74), (0.99, 0.82), (0.96, 0.87), (0.93, 0.90)]}
    params = {"softmax regression": 7_850, "MLP": 63_610, "LeNet-5": 62_158}
    return [SizeRun(model, n, params[model], max(1, 60_000 // n), train, test, 1.0)
            for model, rows in accuracies.items() for n, (train, test) in zip((500, 2_000, 10_000, 60_000), rows)]


@lru_cache(maxsize=1)
def _scenes():
    return data.make_scenes(60, "test", "sample", seed=1)


def _segmentation() -> np.ndarray:
    """Lesson 09's held-out masks as a half-trained network predicts them: outlines a pixel off, every
    third scene's garments taken for the next class."""
    masks = np.roll(_scenes().masks, 1, axis=2)                       # (N, 64, 64)
    confused = masks[::3]
    confused[confused > 0] = confused[confused > 0] % 10 + 1
    return masks


def _detections() -> list:
    """Per scene, boxes near the true ones (and a few stray ones), best score first, as ``detect`` returns them."""
    rng = np.random.default_rng(0)
    found = []
    for true_boxes, true_labels in zip(_scenes().boxes, _scenes().labels):
        stray = rng.uniform(0, 40, (2, 2))
        found_boxes = np.concatenate([true_boxes + rng.normal(0, 2, true_boxes.shape), np.hstack([stray, stray + 20])])
        labels = np.concatenate([true_labels, rng.integers(0, 10, 2)])
        scores = np.concatenate([rng.uniform(0.4, 1.0, len(true_boxes)), rng.uniform(0.2, 0.6, 2)])
        order = np.argsort(-scores)
        found.append(Detections(found_boxes[order], scores[order], labels[order]))
    return found


def _precision_recall():
    found = _detections()
    return boxes.mean_average_precision([d.boxes for d in found], [d.scores for d in found], [d.labels for d in found],
                                        _scenes().boxes, _scenes().labels)


def _anchors():
    detector, scene = tiny_ssd(), _scenes()[:1]
    classes, _ = boxes.match_anchors(detector.anchors, scene.boxes[0], scene.labels[0])
    cells = sorted({int(i) // detector.per_anchor for i in np.flatnonzero(classes > 0)})
    return viz.show_anchors(scene.images[0], detector.anchors, detector.per_anchor, cells, scene.boxes[0],
                            np.flatnonzero(classes > 0))


def _sound():
    words = data.load_spoken_words("train")
    waves, _ = data.spoken_word_examples()
    wave = waves[words.words.index("stop")]
    linear_db = audio.to_decibels(np.abs(audio.stft(wave, words.n_fft, words.hop)) ** 2)
    mel_db = audio.to_decibels(audio.mel_spectrogram(wave, words.sample_rate, words.n_fft, words.hop, words.n_mels))
    return viz.plot_sound(wave, words.sample_rate, linear_db, mel_db, word="stop")


def _stamp_counts() -> dict:
    resized = torch.nn.functional.interpolate(torch.ones(1, 1, 8, 8), scale_factor=2, mode="nearest")
    return {"transposed, kernel 3, stride 2": ch09.stamp_counts(8, 3, 2),
            "transposed, kernel 4, stride 2": ch09.stamp_counts(8, 4, 2, padding=1),
            "resize ×2, then 3×3 convolution": torch.nn.functional.conv2d(resized, torch.ones(1, 1, 3, 3),
                                                                          padding=1)[0, 0].numpy()}


@lru_cache(maxsize=1)
def _gallery():
    from cnnlab.experiments import ch08

    return ch08.compare()


X, W, X2 = viz.EXAMPLE_IMAGE, viz.EDGE_KERNEL, viz.EXAMPLE_IMAGE_2
POOL_X = np.array([[1, 0, 2, 1, 0], [0, 3, 1, 0, 1], [2, 1, 9, 1, 2], [0, 1, 1, 4, 0], [1, 0, 2, 0, 1]], float)
NAMES = data.class_names()

CASES = {
    "01": {
        "plot_conv_step": lambda: viz.plot_conv_step(X, W, 0, 0),
        "plot_conv_result": lambda: viz.plot_conv_result(X, W, np.full((3, 3), -6.0), "the first example"),
        "plot_conv_step stride 2": lambda: viz.plot_conv_step(X2, W, 1, 1, stride=2, padding=1),
        "plot_kernels_on_photo": lambda: viz.plot_kernels_on_photo(data.photo_gray("grace_hopper"), ncols=4),
        "plot_kernel_on_photo": lambda: viz.plot_kernel_on_photo(data.photo_gray("grace_hopper")[::2, ::2],
                                                                 viz.KERNELS["Sobel x (vertical edges)"]),
        "plot_feature_maps": lambda: viz.plot_feature_maps(next(iter(_photo_maps().values())), ncols=6,
                                                           title="conv: one channel per kernel",
                                                           labels=list(viz.KERNELS)),
        "plot_shift_demo": lambda: viz.plot_shift_demo(np.pad(np.ones((3, 1)), ((2, 3), (1, 6))), W, (0, 1), 2),
        "conv_stepper": lambda: widgets.conv_stepper(X, W),
        "conv_stepper stride 2": lambda: widgets.conv_stepper(X2, W, stride=2, padding=1),
        "kernel_editor": lambda: widgets.kernel_editor(data.photo_gray("grace_hopper")),
        "feature_map_viewer": lambda: widgets.feature_map_viewer(_photo_maps(), channel_names=list(viz.KERNELS)),
    },
    "02": {
        "plot_conv_geometry": lambda: viz.plot_conv_geometry(32, 5, stride=1, padding=2),
        "plot_receptive_field": lambda: viz.plot_receptive_field([3, 3]),
        "plot_parameter_share": lambda: viz.plot_parameter_share(
            [f"{row.name} ({row.kind})" for row in _vgg16_rows()], [row.params for row in _vgg16_rows()],
            "VGG-16: parameters per layer"),
        "shape_calculator": lambda: widgets.shape_calculator(n=32, k=5, stride=1, padding=2, dilation=1),
    },
    "03": {
        "plot_activations": lambda: viz.plot_activations(),
        "plot_conv_gradient_flow": lambda: viz.plot_conv_gradient_flow(W, np.array([[1., -2, 0], [2, 1, -1], [0, 2, 1]]),
                                                                       1, 1),
        "plot_pool_backward max": lambda: viz.plot_pool_backward(POOL_X, np.array([[1., 2], [3, 4]]), 3, 2, "max"),
        "plot_pool_backward avg": lambda: viz.plot_pool_backward(POOL_X, np.array([[1., 2], [3, 4]]), 3, 2, "avg"),
        "plot_im2col": lambda: viz.plot_im2col(np.arange(16.0).reshape(4, 4), 2, 2),
        "plot_timing": lambda: viz.plot_timing([8, 16, 24], {"loops (conv2d_naive)": [0.05, 0.2, 0.45],
                                                             "im2col (conv2d_forward)": [1e-3, 2e-3, 4e-3]},
                                               title="conv 3→8 channels, 3×3, batch of 4"),
    },
    "04": {
        "plot_history": lambda: viz.plot_history({"modern, Adam lr 0.001": _history(2, 0),
                                                  "modern, SGD+momentum lr 0.01": _history(2, 1)}),
        "plot_confusion_matrix": lambda: viz.plot_confusion_matrix(*_predictions()[1:3], NAMES),
        "show_misclassified": lambda: viz.show_misclassified(*_predictions()[:3], NAMES, n=16,
                                                             probs=_predictions()[3]),
        "plot_filters": lambda: viz.plot_filters(torch.randn(6, 1, 5, 5), ncols=6,
                                                 title="first-layer filters of the trained LeNet-5"),
        "plot_feature_maps conv1": lambda: viz.plot_feature_maps(_lenet_maps()[0], ncols=6,
                                                                 title="after conv1 + BN + ReLU (6 × 28×28)"),
        "plot_feature_maps conv2": lambda: viz.plot_feature_maps(_lenet_maps()[1], ncols=8,
                                                                 title="after conv2 + BN + ReLU (16 × 10×10)"),
        "plot_bias_variance": lambda: viz.plot_bias_variance(_size_runs()),
    },
    "05": {
        "plot_receptive_field": lambda: viz.plot_receptive_field([3, 3, 3]),
        "plot_parameter_share": lambda: viz.plot_parameter_share(
            [f"{row.name} {row.kind}" for row in _vgg16_rows()], [row.params for row in _vgg16_rows()],
            title="VGG-16: parameters per layer"),
        "plot_history": lambda: viz.plot_history({"plain": _history(3, 0), "batch norm": _history(3, 1),
                                                  "batch norm + dropout": _history(3, 2)},
                                                 title="small VGG on 5,500 images"),
    },
    "06": {
        "plot_history": lambda: viz.plot_history({"plain-20": _history(3, 0), "residual-20": _history(3, 1)},
                                                 title="training curves: plain vs residual"),
    },
    "07": {
        "plot_filters": lambda: viz.plot_filters(torch.randn(32, 3, 3, 3), ncols=16,
                                                 title="EfficientNet-Lite0: the 32 first-layer filters (3×3, RGB)"),
        "plot_feature_maps": lambda: viz.plot_feature_maps(np.random.default_rng(0).random((32, 112, 112)),
                                                           channels=range(8),
                                                           title="stem: 32 maps of 112×112 (first 8)"),
        "show_heatmap": lambda: viz.show_heatmap(np.random.default_rng(0).random((224, 224, 3)),
                                                 np.random.default_rng(1).random((224, 224)),
                                                 title="Grad-CAM for 'military uniform'"),
        "plot_patches": lambda: viz.plot_patches(torch.rand(60, 1, 64, 64), torch.arange(60) % 6,
                                                 ("brick", "grass", "gravel", "moon", "cell", "immunohistochemistry"),
                                                 per_class=3),
        "plot_learning_curves": lambda: viz.plot_learning_curves(_learning_curves(), "textures: ImageNet features fit"),
    },
    "08": {
        "draw_inception_block": lambda: viz.draw_inception_block(64, 96, 128, 16, 32, 32),
        "plot_cost_split": lambda: viz.plot_cost_split(_gallery()),
        "plot_accuracy_vs_cost": lambda: viz.plot_accuracy_vs_cost(_gallery()),
    },
    "09": {
        "show_scenes": lambda: viz.show_scenes(_scenes(), data.FASHION_MNIST_CLASSES, n=5),
        "plot_stamp_counts": lambda: viz.plot_stamp_counts(_stamp_counts()),
        "plot_class_iou": lambda: viz.plot_class_iou(np.random.default_rng(0).uniform(0.2, 0.95, 11),
                                                     data.SCENE_CLASSES, title="IoU per class on 60 held-out scenes"),
        "show_segmentation": lambda: viz.show_segmentation(_scenes().images, _scenes().masks, _segmentation(),
                                                           data.SCENE_CLASSES, n=5),
        "show_anchors": _anchors,
        "plot_precision_recall": lambda: viz.plot_precision_recall(
            _precision_recall().curves, _precision_recall().ap, data.FASHION_MNIST_CLASSES,
            title=f"precision–recall at IoU 0.5 (mAP {_precision_recall().map:.3f})"),
        "show_detections": lambda: viz.show_detections(_scenes().images, _detections(), _scenes().boxes,
                                                       _scenes().labels, data.FASHION_MNIST_CLASSES, n=5),
        "plot_sound": _sound,
        "plot_mel_filterbank": lambda: viz.plot_mel_filterbank(audio.mel_filterbank(40, 256, 8000), 8000, every=2),
        "show_spectrograms": lambda: viz.show_spectrograms(data.load_spoken_words("train").spectrograms,
                                                           data.load_spoken_words("train").labels,
                                                           data.load_spoken_words("train").words,
                                                           title="one clip per word"),
        "plot_shift_curves": lambda: viz.plot_shift_curves(list(range(-12, 13, 4)),
                                                           {"time (frames)": [0.7, 0.85, 0.95, 0.97, 0.95, 0.9, 0.75],
                                                            "frequency (mel bands)": [0.1, 0.15, 0.5, 0.97, 0.45, 0.12,
                                                                                      0.1]},
                                                           "shift", title="spoken words: accuracy under shifts",
                                                           chance=0.1),
        "show_position_pairs": lambda: viz.show_position_pairs(ch09.position_task(200, "test", source="sample", seed=1)[0], n=6),
    },
}

FIGURE_FUNCTIONS = {name for name in dir(viz) if name.startswith(("plot_", "show_", "draw_"))} - {"draw_matrix"}
EXPLORER_FUNCTIONS = {"conv_stepper", "kernel_editor", "shape_calculator", "feature_map_viewer"}


@pytest.mark.parametrize("lesson, case", [(lesson, case) for lesson, cases in CASES.items() for case in cases],
                         ids=lambda value: value.replace(" ", "-"))
def test_text_is_at_least_8_pixels_as_jupyterlab_shows_it(lesson, case, watched):
    drawn = CASES[lesson][case]()
    if isinstance(drawn, matplotlib.figure.Figure):
        print_figure(drawn, "png")                             # as JupyterLab's inline backend renders it
    [record] = json.loads(watched.read_text())
    assert record["texts"], f"lesson {lesson}, {case}: no text drawn"
    small = small_texts(record)
    assert not small, (f"lesson {lesson}, {case}: a {record['width']}×{record['height']} picture at "
                       f"{record['dpi']:g} dpi shows these texts under {MIN_TEXT_PX} px: {small[:5]}")


def _called_names(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return names


@pytest.mark.parametrize("lesson", sorted(ROOT.glob("notebooks/[0-9][0-9]_*.py")), ids=lambda p: p.stem)
def test_the_table_covers_every_figure_the_lesson_draws_with_cnnlab(lesson):
    cells = [cell.source for cell in jupytext.read(lesson).cells if cell.cell_type == "code"]
    source = "\n".join(line for cell in cells for line in cell.splitlines() if not line.startswith(("%", "!")))
    called = _called_names(source) & (FIGURE_FUNCTIONS | EXPLORER_FUNCTIONS)
    covered = {case.split()[0] for case in CASES.get(lesson.stem[:2], {})}
    assert called <= covered, f"{lesson.name} draws {sorted(called - covered)}: add them to CASES"


def test_small_texts_accounts_for_dpi_and_the_displayed_width():
    record = {"width": 1550, "height": 400, "dpi": 100.0, "texts": [[10.0, "title"], [8.0, "tick"]]}
    assert small_texts(record) == [(6.7, "tick")]              # 8 pt · 100/72 · 930/1550 = 6.7 px
    assert small_texts({**record, "width": 900}) == []         # shown 1:1, 8 pt is 11.1 px
    assert small_texts({**record, "width": 900, "dpi": 60.0}) == [(6.7, "tick")]
