"""cnnlab.common: parameter counts, layer shapes, deterministic weights, train/eval switching."""

import torch
from torch import nn
from torch.nn import functional as F

from cnnlab import common as ex
from cnnlab.models import lenet5


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
    assert ex.parameter_count(net) == ex.parameter_count(net, trainable_only=True) == 62_158
    net[0].weight.requires_grad_(False)
    assert ex.parameter_count(net, trainable_only=True) == 62_158 - 6 * 25


def test_evaluating_restores_each_module_flag():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU())
    net.train()
    net[1].eval()                               # a batch norm frozen on purpose
    with ex.evaluating(net):
        assert not any(m.training for m in net.modules())
    assert net.training and net[0].training and not net[1].training


def test_evaluating_restores_the_flags_when_the_block_raises():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).train()
    try:
        with ex.evaluating(net):
            raise RuntimeError("inside")
    except RuntimeError:
        pass
    assert net.training and net[1].training


def test_training_switches_a_model_in_eval_mode_and_back():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout()).eval()
    with ex.training(net):
        assert all(m.training for m in net.modules())
    assert not any(m.training for m in net.modules())


def test_importing_common_does_not_load_torch():
    import subprocess
    import sys

    code = "import sys, cnnlab.common; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_human_count_formats_sizes_and_costs():
    assert ex.human_count(15_470_264_320) == "15.47 G"
    assert ex.human_count(138_357_544) == "138.36 M"
    assert ex.human_count(4_096) == "4.10 k"
    assert ex.human_count(999) == "999"
