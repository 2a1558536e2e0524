"""cnnlab.experiments (lessons 04-06): shifts, deterministic weights, gradient norms, variant comparison."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

from cnnlab import experiments as ex
from cnnlab.models import lenet5, small_resnet
from cnnlab.train import TensorBatches


# --------------------------------------------------------------------------- shift_images

@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 7), w=st.integers(1, 7), dx=st.integers(-9, 9), dy=st.integers(-9, 9),
       fill=st.floats(-2, 2))
def test_shift_matches_pad_then_crop(h, w, dx, dy, fill):
    x = torch.randn(2, 3, h, w)
    pad = 10
    padded = F.pad(x, (pad, pad, pad, pad), value=fill)               # (N, C, H+20, W+20)
    expected = padded[:, :, pad - dy:pad - dy + h, pad - dx:pad - dx + w]
    assert torch.equal(ex.shift_images(x, dx, dy, fill), expected)


def test_shift_keeps_the_input_and_moves_a_pixel():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 1, 2] = 1.0
    out = ex.shift_images(x, dx=2, dy=1, fill=0.0)
    assert out[0, 0, 2, 4] == 1.0 and out.sum() == 1.0
    assert x[0, 0, 1, 2] == 1.0                                        # a new tensor


def test_shift_fills_with_the_background_by_default():
    x = torch.rand(2, 1, 4, 4) + 1.0
    x[0, 0, 0, 0] = -0.5
    assert torch.all(ex.shift_images(x, dx=4)[..., :] == -0.5)


def test_shift_rejects_a_batch_without_channels():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\).*\(2, 4, 4\)"):
        ex.shift_images(torch.zeros(2, 4, 4), 1)


def test_translation_test_scores_each_shift():
    # a "network" that answers 1 when the bright pixel sits in the right half, else 0
    class RightHalf(nn.Module):
        def __init__(self):
            super().__init__()
            self.dummy = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            right = x[:, 0, :, 4:].amax(dim=(1, 2)) > 0.5
            return torch.stack([~right, right], 1).float()

    x = torch.zeros(4, 1, 8, 8)
    x[:, 0, 3, 5] = 1.0                                               # every image: bright pixel in column 5
    y = torch.ones(4, dtype=torch.long)
    acc = ex.translation_test(RightHalf(), x, y, shifts=[-2, -1, 0, 2, 3])
    assert acc.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]                 # col 3, 4, 5, 7, gone


def test_translation_test_rejects_an_unknown_direction():
    with pytest.raises(ValueError, match="direction"):
        ex.translation_test(lenet5(), torch.zeros(1, 1, 28, 28), torch.zeros(1, dtype=torch.long), direction="up")


# --------------------------------------------------------------------------- looking inside

def test_weighted_layer_shapes_of_lenet():
    shapes = ex.weighted_layer_shapes(lenet5(), torch.zeros(2, 1, 28, 28))
    assert shapes == [(2, 6, 28, 28), (2, 16, 10, 10), (2, 120), (2, 84), (2, 10)]


def test_fill_deterministic_makes_equivalent_networks_agree():
    class Nested(nn.Module):                                          # same layers, other names and nesting
        def __init__(self):
            super().__init__()
            self.body = nn.ModuleDict({"a": nn.Conv2d(1, 4, 3, padding=1), "n": nn.BatchNorm2d(4)})
            self.head = nn.Linear(4 * 6 * 6, 3)

        def forward(self, x):
            return self.head(F.relu(self.body["n"](self.body["a"](x))).flatten(1))

    flat = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 6 * 6, 3))
    x = torch.randn(2, 1, 6, 6)
    a, b = ex.fill_deterministic(flat, 3).eval(), ex.fill_deterministic(Nested(), 3).eval()
    assert torch.allclose(a(x), b(x))
    c = ex.fill_deterministic(Nested(), 4).eval()
    assert not torch.allclose(a(x), c(x))                            # the seed matters


def test_fill_deterministic_tells_same_shaped_layers_apart():
    net = ex.fill_deterministic(nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4)))
    assert not torch.equal(net[0].weight, net[1].weight)
    assert torch.equal(net[0].weight, ex.fill_deterministic(nn.Linear(4, 4)).weight)


def test_parameter_count_skips_buffers_and_frozen_weights():
    net = lenet5(variant="modern")
    assert ex.parameter_count(net) == 62_158
    net[0].weight.requires_grad_(False)
    assert ex.parameter_count(net) == 62_158 - 6 * 25


# --------------------------------------------------------------------------- gradient norms

def test_gradient_norms_match_autograd():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 5))
    x, y = torch.randn(4, 1, 6, 6), torch.tensor([0, 1, 2, 3])
    norms = ex.gradient_norms(net, x, y)
    F.cross_entropy(net(x), y).backward()
    assert list(norms) == ["0", "3"]
    assert math.isclose(norms["0"], float(net[0].weight.grad.norm()), rel_tol=1e-6)
    assert math.isclose(norms["3"], float(net[3].weight.grad.norm()), rel_tol=1e-6)


def test_gradient_norms_leave_no_gradient_and_keep_the_mode():
    net = small_resnet(stages=(1, 1, 1), widths=(4, 8, 8)).eval()
    norms = ex.gradient_norms(net, torch.randn(4, 1, 28, 28), torch.arange(4))
    assert len(norms) == 1 + 6 + 2 + 1                                # stem, 6 convs, 2 projections, fc
    assert all(p.grad is None for p in net.parameters())
    assert not net.training


# --------------------------------------------------------------------------- compare_variants

def test_compare_variants_trains_each_and_tabulates():
    torch.manual_seed(0)
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    train, test = TensorBatches(x, y, 32, shuffle=True), TensorBatches(x, y, 64)
    result = ex.compare_variants({"classic": lenet5, "sgd": (lenet5, {"optimizer": "sgd", "lr": 0.01})},
                                 train, test, test, epochs=1, progress=False)
    assert list(result.runs) == ["classic", "sgd"]
    assert [len(h) for h in result.histories().values()] == [1, 1]
    rows = result.rows()
    assert rows[0]["params"] == 61_706 and 0.0 <= rows[1]["test_acc"] <= 1.0
    assert "classic" in result.table() and "test acc" in repr(result)


def test_table_leaves_out_what_was_not_measured():
    x, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    result = ex.compare_variants({"only": lenet5}, TensorBatches(x, y, 32), epochs=1, progress=False)
    header = result.table().splitlines()[0]
    assert "train acc" in header and "val acc" not in header and "test acc" not in header
    assert "nan" not in result.table()


def test_compare_variants_starts_every_variant_from_the_same_weights():
    x, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    train = TensorBatches(x, y, 32)
    result = ex.compare_variants({"a": lenet5, "b": lenet5}, train, epochs=1, progress=False, lr=1e-3)
    a, b = result["a"].model.state_dict(), result["b"].model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_compare_variants_needs_a_variant():
    with pytest.raises(ValueError, match="at least one"):
        ex.compare_variants({}, [])
