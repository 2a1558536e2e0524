"""Self-checks for the exercise notebooks, and the exercise registry the grader shares.

An exercise is data: a name (the function the learner writes, also the nbgrader
``grade_id`` of its solution cell), how to draw test cases, the reference answer, and how
to explain a classic mistake. In a notebook a learner calls::

    from cnnlab.checks import check
    check(conv2d_single)

and gets one line: ``✓ conv2d_single: 6/6 checks passed`` or what is wrong (shape, the
first wrong value and where, a suspected cause). The same ``Exercise`` objects drive the
auto-grader (``cnnlab.grading``), which draws fresh cases in its own process and compares
the learner's outputs there.

Exercises live in one module per chapter (``cnnlab.checks.ch01`` …), each with a list
``EXERCISES``.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

Case = dict[str, Any]          # keyword arguments of one call: arrays, ints, floats, tuples of ints


@dataclass(frozen=True)
class Exercise:
    """One graded function.

    Attributes:
        name: the function's name; also the nbgrader ``grade_id`` of its solution cell.
        chapter: two-digit lesson number, e.g. "01".
        points: marks for a fully correct answer (the grader's, never the notebook's).
        cases: draws the test cases from a NumPy generator: a list of keyword-argument dicts
            holding only arrays, ints, floats, bools and tuples of ints.
        reference: computes the expected result from the same keywords.
        probe: turns what the learner's function returns into plain values (e.g. a module
            into its parameter count and output shape); runs where the learner's code runs.
        diagnose: ``(case, got, expected) -> Mistake or None``: recognises a classic mistake.
        forbidden: modules the learner's cell may not import or use (the grader enforces it).
        rtol, atol: tolerance of the value comparison.
        description: one line for reports.
        accept: ``(case, got, expected) -> Verdict`` replaces the value comparison, for an
            answer judged on what it achieves (an accuracy reached, a gradient that agrees)
            rather than on matching the reference's numbers.
        uses: other exercises of the same chapter whose cells the grader runs first, in the
            same sandboxed process (the capstone builds on the learner's own layers).
        timeout: seconds the grader allows this exercise (``None``: the run's limit).
    """

    name: str
    chapter: str
    points: int
    cases: Callable[[np.random.Generator], list[Case]]
    reference: Callable[..., Any]
    probe: Callable[[Any, Case], Any] | None = None
    diagnose: Callable[[Case, Any, Any], Mistake | None] | None = None
    forbidden: tuple[str, ...] = ()
    rtol: float = 1e-6
    atol: float = 1e-8
    description: str = ""
    accept: Callable[[Case, Any, Any], Verdict] | None = None
    uses: tuple[str, ...] = ()
    timeout: float | None = None


@dataclass(frozen=True)
class Mistake:
    """A classic mistake that ``Exercise.diagnose`` recognised in a wrong answer.

    Attributes:
        label: short and stable, counted in a class summary ("dx: kernel not rotated").
        nudge: where to look, without naming the cause (shown on a first failing check).
        hint: the cause and how to fix it (shown when asked for, or on the next failure).
    """

    label: str
    nudge: str
    hint: str


@dataclass
class Verdict:
    """What one comparison found: ``ok``, and a message that says what is wrong."""

    ok: bool
    message: str = ""


@dataclass
class CheckResult:
    """The outcome of ``check``: counts, the first failure, and the printed line."""

    name: str
    passed: int
    total: int
    status: str                      # "passed", "wrong", "not implemented", "error"
    message: str = ""
    failures: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.status == "passed"

    def line(self) -> str:
        if self.status == "passed":
            return f"✓ {self.name}: {self.passed}/{self.total} checks passed"
        if self.status == "not implemented":
            return f"… {self.name}: not implemented yet"
        return f"✗ {self.name}: {self.passed}/{self.total} checks passed; {self.message}"

    def _repr_html_(self) -> str:
        colour = {"passed": "#1a7f37", "not implemented": "#6e7781"}.get(self.status, "#cf222e")
        import html

        return f'<pre style="color:{colour}">{html.escape(self.line())}</pre>'

    def __repr__(self) -> str:
        return self.line()


# --------------------------------------------------------------------------- registry

def chapters() -> list[str]:
    """The chapters that have exercises, e.g. ["01", "02", ...]."""
    names = [m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("ch")]
    return sorted(n[2:] for n in names)


def exercises(chapter: str | None = None) -> dict[str, Exercise]:
    """Exercises by name, of one chapter or of all."""
    found: dict[str, Exercise] = {}
    for ch in [chapter] if chapter else chapters():
        try:
            module = importlib.import_module(f"{__name__}.ch{ch}")
        except ModuleNotFoundError as err:
            raise ValueError(f"no exercises for chapter {ch!r}; chapters with exercises: {chapters()}") from err
        for ex in module.EXERCISES:
            if ex.name in found:
                raise RuntimeError(f"exercise name {ex.name!r} is used twice")
            found[ex.name] = ex
    return found


def get(name: str) -> Exercise:
    """The exercise called ``name`` (the function's name)."""
    every = exercises()
    if name not in every:
        raise KeyError(f"no exercise called {name!r}; known: {', '.join(sorted(every))}")
    return every[name]


# --------------------------------------------------------------------------- comparison

def as_plain(value: Any) -> Any:
    """Turn a result into plain values: arrays (float64/int64/bool), or a tuple of them.

    Raises TypeError for anything else, so an object that merely claims equality never
    passes: only numbers are compared.
    """
    if isinstance(value, tuple | list):
        return tuple(as_plain(v) for v in value)
    if hasattr(value, "detach") and hasattr(value, "numpy"):        # a torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, bool | int | float | np.number | np.bool_):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray) or type(value) is not np.ndarray:
        raise TypeError(f"expected a NumPy array or a number, got {type(value).__name__}")
    if value.dtype.kind == "f":
        return value.astype(np.float64)
    if value.dtype.kind in "iu":
        return value.astype(np.int64)
    if value.dtype.kind == "b":
        return value.copy()
    raise TypeError(f"expected numbers, got an array of dtype {value.dtype}")


def _where(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]"


def compare(got: Any, expected: Any, rtol: float = 1e-6, atol: float = 1e-8, what: str = "output") -> Verdict:
    """Compare plain values (see ``as_plain``): structure, shape, then values."""
    try:
        got = as_plain(got)
    except TypeError as err:
        return Verdict(False, f"{what}: {err}")
    expected = as_plain(expected)
    if isinstance(expected, tuple):
        if not isinstance(got, tuple) or len(got) != len(expected):
            n = len(got) if isinstance(got, tuple) else 1
            return Verdict(False, f"{what}: returned {n} value(s), expected {len(expected)}")
        for i, (g, e) in enumerate(zip(got, expected)):
            verdict = compare(g, e, rtol, atol, f"{what}[{i}]")
            if not verdict.ok:
                return verdict
        return Verdict(True)
    if isinstance(got, tuple):
        return Verdict(False, f"{what}: returned {len(got)} values, expected one array")
    if got.shape != expected.shape:
        return Verdict(False, f"{what}: shape {got.shape}, expected {expected.shape}")
    if expected.dtype.kind == "b" or got.dtype.kind == "b":
        bad = np.argwhere(got != expected)
    else:
        close = np.isclose(got, expected, rtol=rtol, atol=atol) & np.isfinite(got)
        bad = np.argwhere(~close)
    if len(bad):
        index = tuple(int(i) for i in bad[0])
        g, e = (got[index], expected[index]) if got.ndim else (got, expected)
        return Verdict(False, f"{what}: {len(bad)} of {expected.size} values differ; "
                              f"at {_where(index)} got {float(g):.6g}, expected {float(e):.6g}")
    return Verdict(True)


def judge_answer(ex: Exercise, case: Case, got: Any, expected: Any) -> Verdict:
    """The exercise's own acceptance test when it has one, else the value comparison."""
    if ex.accept is not None:
        return ex.accept(case, got, expected)
    return compare(got, expected, ex.rtol, ex.atol)


def hint_text(found: Mistake | str | None) -> str | None:
    """The hint of a diagnosed mistake."""
    if found is None or isinstance(found, str):
        return found or None
    return found.hint


def _call(ex: Exercise, fn: Callable, case: Case) -> Any:
    result = fn(**{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()})
    return ex.probe(result, case) if ex.probe else result


def run_exercise(ex: Exercise, fn: Callable, seed: int | None = 0) -> CheckResult:
    """Run every case of ``ex`` on ``fn`` in this process and summarise (never raises)."""
    cases = ex.cases(np.random.default_rng(seed))
    passed, failures = 0, []
    for i, case in enumerate(cases, 1):
        expected = ex.reference(**case)
        if ex.probe:
            expected = ex.probe(expected, case)
        try:
            got = _call(ex, fn, case)
        except NotImplementedError:
            return CheckResult(ex.name, 0, len(cases), "not implemented")
        except Exception as err:          # the learner's code failed: say how, not a traceback
            failures.append(f"case {i}: raised {type(err).__name__}: {err}")
            continue
        verdict = judge_answer(ex, case, got, expected)
        if verdict.ok:
            passed += 1
            continue
        hint = hint_text(ex.diagnose(case, got, expected)) if ex.diagnose else None
        failures.append(f"case {i}: {verdict.message}" + (f": {hint}" if hint else ""))
    if passed == len(cases):
        return CheckResult(ex.name, passed, len(cases), "passed")
    status = "error" if all("raised" in f for f in failures) else "wrong"
    return CheckResult(ex.name, passed, len(cases), status, failures[0], failures)


def check(fn: Callable, name: str | None = None, seed: int | None = 0) -> CheckResult:
    """Check an exercise function against the reference and print one line. Used in every exercise notebook.

    An unimplemented stub prints "not implemented yet" and a wrong answer prints what is
    wrong; the notebook goes on either way. Under nbgrader (``NBGRADER_EXECUTION`` set) or
    with ``CNNLAB_CHECKS_STRICT=1`` (the test run of the solutions), anything but a pass
    raises ``AssertionError``, so an empty or wrong answer never earns marks there.

    Args:
        fn: the learner's function; its ``__name__`` names the exercise unless ``name`` is given.
        name: the exercise name, when the function is called something else.
        seed: seed of the drawn cases (``None`` for fresh ones).

    Returns:
        The ``CheckResult`` (truthy when everything passed).
    """
    ex = get(name or fn.__name__)
    result = run_exercise(ex, fn, seed)
    print(result.line())
    for extra in result.failures[1:3]:
        print("   " + extra)
    strict = any(os.environ.get(v, "") not in ("", "0") for v in ("NBGRADER_EXECUTION", "CNNLAB_CHECKS_STRICT"))
    if strict and not result:
        raise AssertionError(result.line())
    return result


__all__ = ["Exercise", "Mistake", "CheckResult", "Verdict", "judge_answer", "check", "compare", "as_plain", "exercises", "get",
           "chapters", "run_exercise"]
