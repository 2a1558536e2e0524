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


def test_a_failing_check_nudges_first_and_names_the_cause_when_asked_or_on_the_next_try(monkeypatch, capsys):
    monkeypatch.delenv("CNNLAB_CHECKS_STRICT", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setattr(checks, "_FAILED_BEFORE", {})
    mistake = checks.Mistake("scale: added", "compare x + k with x · k", "you added k instead of multiplying by it")
    exercise = Exercise("scale", "99", 1, double_cases, lambda x, k: x * k,
                        diagnose=lambda case, got, exp: mistake if np.allclose(got, case["x"] + case["k"]) else None)
    monkeypatch.setattr(checks, "get", lambda name: exercise)

    def scale(x, k):
        return x + k

    first = checks.check(scale)
    out = capsys.readouterr().out
    assert "values differ" in out and "compare x + k with x · k" in out and "you added" not in out
    assert "check(scale, hint=True)" in out
    assert first.mistakes == [mistake, mistake] and "you added" in first.message   # the record keeps the cause
    checks.check(scale)
    assert "you added k instead of multiplying by it" in capsys.readouterr().out
    monkeypatch.setattr(checks, "_FAILED_BEFORE", {})
    checks.check(scale, hint=True)
    assert "you added k instead of multiplying by it" in capsys.readouterr().out


def test_check_reads_the_source_for_forbidden_modules(monkeypatch, capsys):
    exercise = Exercise("scale", "99", 1, double_cases, lambda x, k: x * k, forbidden=("numpy.multiply",))
    monkeypatch.setattr(checks, "get", lambda name: exercise)
    monkeypatch.delenv("CNNLAB_CHECKS_STRICT", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)

    def scale(x, k):
        return np.multiply(x, k)

    result = checks.check(scale)
    assert result.status == "forbidden" and "numpy.multiply" in capsys.readouterr().out


def test_a_check_in_a_notebook_shows_its_verdict_once_and_no_value(tmp_path):
    """The verdict is printed once; the cell has no value for Jupyter to show again (or nbgrader to read as points)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import numpy as np\nfrom cnnlab.checks import check\n"
                                          "def conv2d_single(x, w):\n"
                                          "    kh, kw = w.shape\n"
                                          "    out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1))\n"
                                          "    for i in range(out.shape[0]):\n"
                                          "        for j in range(out.shape[1]):\n"
                                          "            out[i, j] = (x[i:i + kh, j:j + kw] * w).sum()\n"
                                          "    return out"),
                nbformat.v4.new_code_cell("check(conv2d_single)")]
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outputs = nb.cells[1].outputs
    assert [o.output_type for o in outputs] == ["stream"]
    assert outputs[0].text.count("conv2d_single: 6/6 checks passed") == 1
