"""Exercises of lesson 08: the references pass, stubs and classic mistakes do not."""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import pytest
import torch
from torch import nn

from cnnlab.checks import ch08, exercises, run_exercise

SOLUTION = Path(__file__).resolve().parent.parent / "solutions" / "08_architecture_gallery.ipynb"
EX = exercises("08")


def failing(name, fn):
    result = run_exercise(EX[name], fn)
    assert not result and result.status in ("wrong", "error"), result.line()
    return result


# --- the registry and the references --------------------------------------------------------

def test_chapter_08_registers_three_exercises():
    assert set(EX) == {"inception_module", "bottleneck_params", "compound_multipliers"}
    assert {ex.chapter for ex in EX.values()} == {"08"}
    assert sum(ex.points for ex in EX.values()) == 8


@pytest.mark.parametrize("name", sorted(EX))
def test_cases_are_fresh_each_seed_but_fixed_per_seed(name):
    import numpy as np

    draw = EX[name].cases
    a, b = draw(np.random.default_rng(1)), draw(np.random.default_rng(1))
    assert repr(a) == repr(b)
    assert repr(a) != repr(draw(np.random.default_rng(2)))


def test_inception_cases_have_distinct_conv_shapes():
    import numpy as np

    for case in ch08._inception_cases(np.random.default_rng(3)):
        widths = [case["c1"], case["c3_reduce"], case["c5_reduce"], case["pool_proj"]]
        assert len(set(widths)) == 4, case


# --- exercise 1: planted mistakes in the Inception module ------------------------------------

def make_module(bias=False, norm=True, k5=5, pool="max", pool_proj=True, order=(0, 1, 2, 3), relu=True):
    """An Inception module builder with one classic mistake switched on."""
    def unit(c_in, c_out, k):
        layers = [nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=bias)]
        if norm:
            layers.append(nn.BatchNorm2d(c_out, eps=0.001))
        if relu:
            layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    def build(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj):
        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.b1 = unit(in_channels, c1, 1)
                self.b3 = nn.Sequential(unit(in_channels, c3_reduce, 1), unit(c3_reduce, c3, 3))
                self.b5 = nn.Sequential(unit(in_channels, c5_reduce, 1), unit(c5_reduce, c5, k5))
                pooling = nn.MaxPool2d(3, 1, 1) if pool == "max" else nn.AvgPool2d(3, 1, 1)
                self.bp = nn.Sequential(pooling, *([unit(in_channels, pool_proj, 1)] if project else []))

            def forward(self, x):
                parts = [self.b1(x), self.b3(x), self.b5(x), self.bp(x)]
                return torch.cat([parts[i] for i in order], dim=1)

        return Block()

    project = pool_proj
    return build


def test_correct_module_in_another_attribute_order_passes():
    def build(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj):
        ref = make_module()(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj)

        class Reordered(nn.Module):               # registers the branches last to first
            def __init__(self):
                super().__init__()
                self.p, self.five, self.three, self.one = ref.bp, ref.b5, ref.b3, ref.b1

            def forward(self, x):
                return torch.cat([self.one(x), self.three(x), self.five(x), self.p(x)], dim=1)

        return Reordered()

    assert run_exercise(EX["inception_module"], build).status == "passed"


def test_default_batch_norm_epsilon_is_tolerated():
    def build(**case):
        block = make_module()(**case)
        for m in block.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eps = 1e-5
        return block

    assert run_exercise(EX["inception_module"], build).status == "passed"


@pytest.mark.parametrize("mistake, label", [
    (dict(bias=True), "convs with bias"),
    (dict(bias=True, norm=False), "batch norm missing"),
    (dict(k5=3), "5×5 branch built as 3×3"),
    (dict(pool_proj=False), "pool branch without its 1×1 conv"),
    (dict(order=(3, 0, 1, 2)), "branches concatenated out of order"),
    (dict(pool="avg"), "average pooling instead of max"),
    (dict(relu=False), "ReLU missing"),
])
def test_inception_mistakes_fail_with_a_hint(mistake, label, assert_fails):
    assert_fails("inception_module", make_module(**mistake), label)


def test_inception_without_padding_fails():
    def build(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj):
        block = make_module()(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj)
        block.b3[1][0].padding = (0, 0)
        return block

    failing("inception_module", build)


def test_inception_must_return_a_module():
    result = failing("inception_module", lambda **case: torch.zeros(3))
    assert "Module" in result.message


# --- exercise 2: bottleneck arithmetic --------------------------------------------------------

def test_bottleneck_reference_numbers_for_block_3a():
    assert ch08._bottleneck_ref(192, 16, 32, 5) == (153_632, 15_920)


@pytest.mark.parametrize("wrong, label", [
    (lambda in_channels, reduce, out_channels, kernel_size: (
        out_channels * in_channels * kernel_size ** 2,
        reduce * in_channels + out_channels * reduce * kernel_size ** 2), "biases left out"),
    (lambda in_channels, reduce, out_channels, kernel_size: (
        out_channels * in_channels * kernel_size ** 2 + out_channels,
        out_channels * reduce * kernel_size ** 2 + out_channels), "the 1×1 conv's parameters left out"),
    (lambda in_channels, reduce, out_channels, kernel_size: (
        reduce * in_channels + reduce + out_channels * reduce * kernel_size ** 2 + out_channels,
        out_channels * in_channels * kernel_size ** 2 + out_channels), "the two numbers swapped"),
])
def test_bottleneck_mistakes_fail_with_a_hint(wrong, label, assert_fails):
    assert_fails("bottleneck_params", wrong, label)


# --- exercise 3: compound scaling -------------------------------------------------------------

@pytest.mark.parametrize("wrong, label", [
    (lambda phi, alpha, beta, gamma, base_resolution: (
        alpha * phi, beta * phi, round(base_resolution * gamma ** phi)), "multiplied, not raised to φ"),
    (lambda phi, alpha, beta, gamma, base_resolution: (
        alpha ** phi, beta ** phi, int(base_resolution * gamma ** phi)), "resolution truncated with int()"),
    (lambda phi, alpha, beta, gamma, base_resolution: (
        alpha ** phi, beta ** phi, gamma ** phi), "resolution left as a multiplier"),
    (lambda phi, alpha, beta, gamma, base_resolution: (alpha ** phi, beta ** phi), None),
])
def test_compound_scaling_mistakes_fail_with_a_hint(wrong, label, assert_fails):
    assert_fails("compound_multipliers", wrong, label)


def test_compound_reference_matches_the_lesson():
    depth, width, resolution = ch08._scaling_ref(1.0, 1.2, 1.1, 1.15, 224)
    assert math.isclose(depth, 1.2) and math.isclose(width, 1.1) and resolution == 258


# --- the solution notebook's own answers ------------------------------------------------------

def test_solution_notebook_answers_pass_on_fresh_cases(graded_cells):
    functions = graded_cells("08")
    assert set(functions) == set(EX)
    for name, fn in functions.items():
        assert run_exercise(EX[name], fn, seed=None).status == "passed", name


def test_solution_test_cells_carry_the_registered_points():
    nb = nbformat.read(SOLUTION, as_version=4)
    points = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
              for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert points == {f"{name}_test": ex.points for name, ex in EX.items()}
