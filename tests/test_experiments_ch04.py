"""cnnlab.experiments.ch04 (lesson 04): shifting images and the translation test."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

from cnnlab.experiments import ch04 as ex
from cnnlab.models import lenet5


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


# --------------------------------------------------------------------------- bias and variance

def test_epochs_for_gives_small_sets_many_passes():
    assert ex.epochs_for(500) == 60 and ex.epochs_for(10_000) == 20 and ex.epochs_for(60_000) == 3
    assert ex.epochs_for(1_000, images=5_000, fewest=2, most=10) == 5


def test_bias_variance_records_train_and_test_accuracy_per_size():
    from cnnlab.models import mlp, softmax_regression
    from cnnlab.train import TensorBatches

    torch.manual_seed(0)
    x = torch.randn(300, 1, 28, 28)
    y = (x[:, 0, :14].mean(dim=(1, 2)) > 0).long()                  # learnable from the pixels
    train, test = TensorBatches(x[:200], y[:200], 32), TensorBatches(x[200:], y[200:], 100)
    runs = ex.bias_variance({"linear": lambda: softmax_regression(2), "mlp": lambda: mlp(2)}, train, test,
                            (40, 160), images=4_000)
    assert [(r.model, r.n) for r in runs] == [("linear", 40), ("linear", 160), ("mlp", 40), ("mlp", 160)]
    assert runs[0].params == 784 * 2 + 2 and runs[2].params == 784 * 80 + 80 + 80 * 2 + 2
    small = runs[2]
    assert small.train_acc == 1.0 and small.gap == small.train_acc - small.test_acc > 0   # 40 images: memorised
    assert runs[0].epochs == 60 and runs[1].epochs == 25
    table = ex.bias_variance_table(runs)
    assert table.splitlines()[0].split() == ["model", "images", "params", "epochs", "train", "test", "gap", "seconds"]
    assert len(table.splitlines()) == 5
    with pytest.raises(ValueError, match="exceeds the 200 training images"):
        ex.bias_variance({"linear": lambda: softmax_regression(2)}, train, test, (500,))
