"""cnnlab.optim: the NumPy update rules against torch.optim, step by step on the same numbers;
torch's optimizers made by name; learning-rate schedules; the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnnlab import optim
from cnnlab.optim import lr_factor, make_optimizer

STEPS = 6
CASES = settings(max_examples=40, deadline=None)
shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3)


def trajectories(shape, seed, steps=STEPS):
    """A starting parameter and one gradient per step (the gradients do not depend on w, so both sides see the same)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape), [rng.standard_normal(shape) * rng.choice([1e-4, 1.0, 10.0])
                                        for _ in range(steps)]


def torch_run(make, w0, grads):
    """Parameters after each step of a torch optimiser fed the given gradients."""
    p = torch.nn.Parameter(torch.tensor(w0))
    opt = make([p])
    seen = []
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
        seen.append(p.detach().numpy().copy())
    return seen


@CASES
@given(shapes, st.integers(0, 2**32 - 1), st.sampled_from([1e-3, 0.01, 0.5]), st.sampled_from([0.0, 0.5, 0.9, 0.99]),
       st.booleans(), st.sampled_from([0.0, 1e-4, 0.1]))
def test_sgd_step_matches_torch_step_by_step(shape, seed, lr, momentum, nesterov, weight_decay):
    nesterov = nesterov and momentum > 0
    w0, grads = trajectories(shape, seed)
    expected = torch_run(lambda ps: torch.optim.SGD(ps, lr=lr, momentum=momentum, nesterov=nesterov,
                                                    weight_decay=weight_decay), w0, grads)
    w, velocity = w0, np.zeros(shape)
    for step, (g, want) in enumerate(zip(grads, expected), 1):
        w, velocity = optim.sgd_step(w, g, velocity, lr, momentum, nesterov, weight_decay)
        np.testing.assert_allclose(w, want, rtol=1e-12, atol=1e-14, err_msg=f"step {step}")


@CASES
@given(shapes, st.integers(0, 2**32 - 1), st.sampled_from([1e-3, 0.01, 0.3]),
       st.sampled_from([(0.9, 0.999), (0.5, 0.9), (0.0, 0.99)]), st.sampled_from([1e-8, 1e-3]),
       st.sampled_from([0.0, 1e-2, 0.3]), st.booleans())
def test_adam_step_matches_torch_adam_and_adamw_step_by_step(shape, seed, lr, betas, eps, weight_decay, decoupled):
    w0, grads = trajectories(shape, seed)
    kind = torch.optim.AdamW if decoupled else torch.optim.Adam
    expected = torch_run(lambda ps: kind(ps, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay), w0, grads)
    w, m, v = w0, np.zeros(shape), np.zeros(shape)
    for t, (g, want) in enumerate(zip(grads, expected), 1):
        w, m, v = optim.adam_step(w, g, m, v, t, lr, *betas, eps, weight_decay, decoupled)
        np.testing.assert_allclose(w, want, rtol=1e-12, atol=1e-14, err_msg=f"step {t}")


def test_the_optimisers_update_a_dict_in_place_like_torch():
    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(3)}
    grads = [{k: rng.standard_normal(p.shape) for k, p in params.items()} for _ in range(STEPS)]
    for ours, theirs in [(lambda ps: optim.SGD(ps, 0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
                          lambda ps: torch.optim.SGD(ps, 0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)),
                         (lambda ps: optim.Adam(ps, 0.01, (0.8, 0.95), weight_decay=0.1, decoupled=True),
                          lambda ps: torch.optim.AdamW(ps, 0.01, (0.8, 0.95), weight_decay=0.1))]:
        mine = {k: p.copy() for k, p in params.items()}
        arrays = {k: id(p) for k, p in mine.items()}
        tensors = {k: torch.nn.Parameter(torch.tensor(p)) for k, p in params.items()}
        opt, reference = ours(mine), theirs(list(tensors.values()))
        for g in grads:
            opt.step(g)
            for k, t in tensors.items():
                t.grad = torch.tensor(g[k])
            reference.step()
        assert {k: id(p) for k, p in mine.items()} == arrays          # in place
        for k, t in tensors.items():
            np.testing.assert_allclose(mine[k], t.detach().numpy(), rtol=1e-12)


def test_bias_correction_makes_the_first_adam_step_lr_sized():
    w, m, v = optim.adam_step(np.zeros(3), np.array([1e-6, 1.0, -50.0]), np.zeros(3), np.zeros(3), t=1, lr=0.1, eps=0)
    np.testing.assert_allclose(w, [-0.1, -0.1, 0.1])                 # m̂/√v̂ = sign(g) on step 1


def test_l2_and_decoupled_decay_differ_under_adam_but_not_under_sgd():
    w, g = np.array([2.0, -3.0]), np.array([0.5, 0.5])
    l2 = optim.adam_step(w, g, np.zeros(2), np.zeros(2), 1, lr=0.1, weight_decay=0.5)[0]
    decoupled = optim.adam_step(w, g, np.zeros(2), np.zeros(2), 1, lr=0.1, weight_decay=0.5, decoupled=True)[0]
    assert not np.allclose(l2, decoupled)                           # Adam rescales the L2 term away
    sgd_l2 = optim.sgd_step(w, g, np.zeros(2), lr=0.1, weight_decay=0.5)[0]
    np.testing.assert_allclose(sgd_l2, w * (1 - 0.1 * 0.5) - 0.1 * g)   # plain SGD: the two are the same


def test_the_inputs_are_not_changed():
    w, g, velocity = np.ones(3), np.ones(3), np.ones(3)
    optim.sgd_step(w, g, velocity, 0.1, 0.9)
    optim.adam_step(w, g, velocity, velocity, 3)
    assert (w == 1).all() and (velocity == 1).all()


@pytest.mark.parametrize("call, message", [
    (lambda: optim.sgd_step(np.zeros(2), np.zeros(3), np.zeros(2), 0.1), "sgd_step: dw must have w's shape (2,), got (3,)"),
    (lambda: optim.sgd_step(np.zeros(2), np.zeros(2), np.zeros(2), -0.1), "sgd_step: lr must be a finite number ≥ 0, got -0.1"),
    (lambda: optim.sgd_step(np.zeros(2), np.zeros(2), np.zeros(2), 0.1, momentum=1.0),
     "sgd_step: momentum must be in [0, 1), got 1.0"),
    (lambda: optim.sgd_step(np.zeros(2), np.zeros(2), np.zeros(2), 0.1, nesterov=True),
     "sgd_step: Nesterov's look-ahead needs momentum > 0"),
    (lambda: optim.adam_step(np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2), t=0),
     "adam_step: t is the number of this step, an int from 1, got 0"),
    (lambda: optim.adam_step(np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2), t=1, beta2=1.0),
     "adam_step: beta2 must be in [0, 1), got 1.0"),
    (lambda: optim.adam_step(np.zeros(2), np.zeros(2), [0, 0], np.zeros(2), t=1), "adam_step: m must have w's shape (2,), got list"),
])
def test_errors_name_the_argument(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


# --------------------------------------------------------------------------- schedules and torch's optimizers

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
