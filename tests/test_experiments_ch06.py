"""cnnlab.experiments.ch06 (lesson 06): gradient norms layer by layer."""

import math

import torch
from torch import nn
from torch.nn import functional as F

from cnnlab.experiments import ch06 as ex
from cnnlab.models import small_resnet


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
