"""cnnlab.checks: comparisons that only trust numbers, and the verdicts learners read."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab import checks
from cnnlab.checks import Exercise, compare, run_exercise


def double_cases(rng):
    return [dict(x=rng.standard_normal((2, 3)), k=2), dict(x=rng.standard_normal(4), k=3)]


DOUBLE = Exercise("scale", "99", 1, double_cases, lambda x, k: x * k,
                  diagnose=lambda case, got, exp: "did you add instead of multiply?"
                  if np.allclose(got, case["x"] + case["k"]) else None)


class AlwaysEqual(np.ndarray):
    def __eq__(self, other):
        return True


def test_compare_reports_shape_then_the_first_wrong_value():
    assert compare(np.ones((2, 2)), np.ones((2, 2))).ok
    assert compare(np.ones(3), np.ones(4)).message == "output: shape (3,), expected (4,)"
    message = compare(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 2.0], [3.0, 5.0]])).message
    assert "1 of 4 values differ" in message and "at [1, 1] got 4, expected 5" in message


def test_compare_never_trusts_objects():
    liar = np.zeros(3).view(AlwaysEqual)
    assert not compare(liar, np.ones(3)).ok
    assert not compare("42", np.array(42)).ok
    assert not compare(np.array([np.nan]), np.array([np.nan])).ok


def test_compare_tuples_and_numbers():
    assert compare((np.ones(2), 3), (np.ones(2), 3)).ok
    assert "returned 1 value(s), expected 2" in compare(np.ones(2), (np.ones(2), 3)).message
    assert compare(3.0000000001, 3.0).ok
    assert not compare(np.ones(2, dtype=bool), np.array([True, False])).ok


def test_run_exercise_statuses():
    assert run_exercise(DOUBLE, lambda x, k: x * k).status == "passed"

    def stub(x, k):
        raise NotImplementedError("scale")

    assert run_exercise(DOUBLE, stub).status == "not implemented"
    wrong = run_exercise(DOUBLE, lambda x, k: x + k)
    assert wrong.status == "wrong" and "did you add instead of multiply?" in wrong.message
    crashed = run_exercise(DOUBLE, lambda x, k: 1 / 0)
    assert crashed.status == "error" and "ZeroDivisionError" in crashed.message


def test_inputs_are_copies_so_mutation_cannot_change_the_reference():
    def mutating(x, k):
        out = x * k
        x[...] = 0
        return out

    assert run_exercise(DOUBLE, mutating).status == "passed"


def test_check_prints_one_line_and_is_strict_only_when_asked(monkeypatch, capsys):
    monkeypatch.setattr(checks, "get", lambda name: DOUBLE)
    monkeypatch.delenv("CNNLAB_CHECKS_STRICT", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)

    def scale(x, k):
        return x + k

    result = checks.check(scale)
    assert not result and capsys.readouterr().out.startswith("✗ scale: 0/2 checks passed")
    monkeypatch.setenv("CNNLAB_CHECKS_STRICT", "1")
    with pytest.raises(AssertionError, match="scale"):
        checks.check(scale)

    def stub(x, k):
        raise NotImplementedError

    monkeypatch.delenv("CNNLAB_CHECKS_STRICT")
    assert checks.check(stub).status == "not implemented"
    assert "not implemented yet" in capsys.readouterr().out
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(AssertionError):
        checks.check(stub)


def test_registry_names_are_unique_and_match_chapters():
    every = checks.exercises()
    for name, ex in every.items():
        assert ex.name == name and ex.points > 0
        assert ex.chapter in checks.chapters()
        cases = ex.cases(np.random.default_rng(1))
        assert 1 <= len(cases) <= 20
