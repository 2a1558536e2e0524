"""cnnlab.experiments.ch08 (lesson 08): the gallery table, measured, and its figures."""

from __future__ import annotations

import pytest

from cnnlab.experiments import ch08 as table
from cnnlab.shapes import conv_output_size


def test_gallery_lists_the_six_landmarks_in_order():
    names = [a.name for a in table.ARCHITECTURES]
    assert names == ["LeNet-5", "AlexNet", "VGG-16", "GoogLeNet", "ResNet-18", "EfficientNet-Lite0"]
    years = [a.year for a in table.ARCHITECTURES]
    assert years == sorted(years) and years[0] == 1998
    assert table.get("lenet-5").top1 is None
    assert all(a.top1 is not None and 50 < a.top1 < 80 for a in table.ARCHITECTURES[1:])
    assert all(a.input_size == (3, 224, 224) for a in table.ARCHITECTURES[1:])


def test_gallery_builders_resolve_to_functions():
    import importlib

    for arch in table.ARCHITECTURES:
        module, _, function = arch.builder.rpartition(".")
        assert callable(getattr(importlib.import_module(module), function)), arch.builder


def test_gallery_get_rejects_unknown_names():
    with pytest.raises(KeyError, match="LeNet-5"):
        table.get("Transformer")


def test_measured_alexnet_row_matches_the_arithmetic():
    row = table.measure(table.get("AlexNet"))
    assert row.params == 61_100_840
    convs = [(3, 64, 11, 4, 2), (64, 192, 5, 1, 2), (192, 384, 3, 1, 1), (384, 256, 3, 1, 1), (256, 256, 3, 1, 1)]
    size, conv_macs = 224, 0
    for i, (c, f, k, s, p) in enumerate(convs):
        size = conv_output_size(size, k, s, p)
        conv_macs += size * size * f * c * k * k
        if i in (0, 1):
            size = conv_output_size(size, 3, 2)          # the max pools after conv1 and conv2
    fc_macs = 9216 * 4096 + 4096 * 4096 + 4096 * 1000
    assert row.macs == conv_macs + fc_macs == 714_188_480
    assert row.depth == 8
    assert table.parameters_by_kind(row.summary)["linear"] == 58_631_144


def test_compare_on_a_subset_gives_rows_in_order():
    g = table.compare([table.get("LeNet-5"), table.get("GoogLeNet")])
    assert [r.name for r in g.rows] == ["LeNet-5", "GoogLeNet"]
    assert g["lenet-5"].params == 61_706 and g["LeNet-5"].depth == 5
    assert g["GoogLeNet"].params == 7_005_832 and g["GoogLeNet"].depth == 58
    text = g.table()
    assert "61,706" in text and "n/a" in text and "7,005,832" in text
    assert "<table>" in g._repr_html_()
    assert sum(table.macs_by_kind(g["GoogLeNet"].summary).values()) == g["GoogLeNet"].macs


def test_measuring_on_the_meta_device_matches_a_real_network():
    from cnnlab.shapes import summary

    for name in ("LeNet-5", "GoogLeNet"):
        arch = table.get(name)
        meta, real = table.measure(arch), summary(arch.build(), arch.input_size)
        assert (meta.params, meta.macs, meta.depth) == (real.total_params, real.total_macs, table.depth(real))
        assert [r.output_shape for r in meta.summary.rows] == [r.output_shape for r in real.rows]


def test_compare_needs_an_architecture():
    with pytest.raises(ValueError, match="compare"):
        table.compare([])


def test_gallery_figures_draw():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnnlab import viz

    g = table.compare([table.get("LeNet-5"), table.get("AlexNet")])
    for fig in (viz.plot_accuracy_vs_cost(g), viz.plot_cost_split(g), viz.draw_inception_block()):
        assert fig.axes
        plt.close(fig)
