"""Learning-rate schedules and optimizers (cnnlab.optim)."""

import pytest
import torch
from torch import nn

from cnnlab.optim import lr_factor, make_optimizer


def test_lr_factor_shapes():
    assert lr_factor(None, 0.3) == lr_factor("plateau", 0.9) == 1.0
    assert lr_factor("cosine", 0.0) == pytest.approx(1.0) and lr_factor("cosine", 1.0) == pytest.approx(0.0)
    assert lr_factor("cosine", 0.5) == pytest.approx(0.5)
    assert lr_factor("onecycle", 0.0) == pytest.approx(0.025)
    assert lr_factor("onecycle", 0.25) == pytest.approx(1.0)
    assert lr_factor("onecycle", 1.0) == pytest.approx(1e-3)
    values = [lr_factor("onecycle", p / 100) for p in range(101)]
    peak = values.index(max(values))
    assert all(a <= b for a, b in zip(values[:peak], values[1:peak + 1]))
    assert all(a >= b for a, b in zip(values[peak:], values[peak + 1:]))
    with pytest.raises(ValueError, match="scheduler"):
        lr_factor("linear", 0.5)


def test_make_optimizer_keeps_the_learning_rate_of_each_group():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    opt = make_optimizer([{"params": a.parameters(), "lr": 0.5}, {"params": b.parameters()}], "sgd", lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.1]
    assert isinstance(make_optimizer(a.parameters(), "adamw", 1e-3), torch.optim.AdamW)
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer(a.parameters(), "rmsprop", 1e-3)
