"""Probes: how the checks and the grader turn an answer that is an object into numbers. Lesson: exercises.

A network, a block or an optimizer cannot be compared with the reference directly; a probe
runs it (or looks inside it) and returns plain arrays that can. Each function here is a
factory: it takes the probe's settings and returns ``probe(answer, case) -> plain values``.
An exercise names one with ``cnnlab.checks.Probe("network", (("size", 28),))``.

This file is loaded by its path, alone, in the grader's sandbox, where learner code runs
beside it (and may walk the stack into it). So it imports only NumPy, ``cnnlab.common`` and,
inside the probes that need it, torch: nothing here leads to the course's reference code.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from cnnlab.common import fill_deterministic, parameter_count, weighted_layer_shapes

ProbeFn = Callable[[Any, dict], Any]


def _module(answer: Any):
    import torch

    if not isinstance(answer, torch.nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(answer).__name__}")
    return torch


def network(size: int, seed: int = 0) -> ProbeFn:
    """Parameters, output shape, weighted-layer shapes and outputs of a network. Lessons 04-06.

    The network gets deterministic weights (``fill_deterministic``) and runs in eval mode on
    two fixed random images of ``size``×``size`` with ``case["in_channels"]`` channels, so a
    learner's network and the reference can be compared value by value.
    """
    def probe(net, case):
        torch = _module(net)
        x = np.random.default_rng(seed + 1).standard_normal((2, case["in_channels"], size, size))
        x = torch.from_numpy(x).float()                                      # (2, C, size, size)
        fill_deterministic(net, seed).eval()
        shapes = weighted_layer_shapes(net, x)
        with torch.no_grad():
            out = net(x)
        return (np.int64(parameter_count(net, trainable_only=True)), np.array(out.shape),
                tuple(np.array(shape) for shape in shapes), out.numpy())
    return probe


def block(height: int, width: int, seed: int = 8) -> ProbeFn:
    """Parameter count, output shape and output values of a block with deterministic weights. Lesson 08.

    The input is ``height``×``width`` (non-square, so that a wrong padding cannot hide).
    """
    def probe(net, case):
        torch = _module(net)
        x = np.random.default_rng(seed).standard_normal((2, case["in_channels"], height, width))
        x = torch.from_numpy(x).float()                                      # (2, C, H, W)
        fill_deterministic(net, seed=seed).eval()
        with torch.no_grad():
            out = net(x)                                                     # (2, F, H, W)
        return np.int64(parameter_count(net, trainable_only=True)), np.array(out.shape), out.numpy()
    return probe


def classifier_head(size: int = 32, seed: int = 0) -> ProbeFn:
    """Trainable and total parameters, output shape, and which tensors learn, of a network. Lesson 07."""
    def probe(model, case):
        torch = _module(model)
        params = list(model.parameters())
        x = torch.from_numpy(np.random.default_rng(seed).standard_normal((2, 3, size, size))).float()
        with torch.no_grad():
            out = model.eval()(x)
        return (np.int64(parameter_count(params, trainable_only=True)), np.int64(parameter_count(params)),
                np.array(out.shape), np.array([p.requires_grad for p in params]))
    return probe


def optimizer_groups(seed: int = 0) -> ProbeFn:
    """Learning rates, parameters per group and distinct parameters of an optimizer, by rate. Lesson 07.

    ``seed`` is accepted like every probe's; an optimizer is examined, not run.
    """
    def probe(opt, case):
        import torch

        if not isinstance(opt, torch.optim.Optimizer):
            raise TypeError(f"expected a torch optimizer, got {type(opt).__name__}")
        groups = sorted(opt.param_groups, key=lambda g: g["lr"])
        distinct = {id(p): p.numel() for g in groups for p in g["params"]}
        return (np.array([g["lr"] for g in groups], dtype=float),
                np.array([parameter_count(g["params"]) for g in groups]),
                np.int64(sum(distinct.values())))
    return probe
