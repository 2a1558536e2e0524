"""Self-checks for the exercise notebooks, and the exercise registry the grader shares.

An exercise is data: a name (the function the learner writes, also the nbgrader
``grade_id`` of its solution cell), how to draw test cases, the reference answer, and how
to recognise classic mistakes. In a notebook a learner calls::

    from cnnlab.checks import check
    check(conv2d_single)

and gets one line: ``✓ conv2d_single: 6/6 checks passed`` or what is wrong. The same
``Exercise`` objects drive the auto-grader (``cnnlab.grading``), which draws fresh cases in
its own process and compares the learner's outputs there.

Feedback that teaches without giving the answer away at once:

1. a failing check first says WHAT is wrong: which output, where, by how much (the first
   differing value and its index, or the shape), plus a nudge that says where to look;
2. the named cause of a recognised classic mistake (``Mistake.hint``: "dx: the kernel was not
   rotated by 180°") comes when the learner asks, ``check(fn, hint=True)``, or on the next
   failing check of the same exercise;
3. a check also reads the function's source for modules the exercise forbids.

Exercises live in one module per chapter (``cnnlab.checks.ch01`` …), each with a list
``EXERCISES``; probes that turn an object answer into numbers live in
``cnnlab.checks.probes`` (the grader's sandbox loads that file alone).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import pkgutil
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cnnlab.common import Failure, FailureKind, Outcome

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
            into its parameter count and output shape); runs where the learner's code runs,
            so it is named (a ``Probe``), never a function of this package.
        diagnose: ``(case, got, expected) -> Mistake or None``: recognises a classic mistake;
            for an exercise with a probe, ``case["probe"]`` is the ``Probe`` that made ``got``.
        forbidden: modules the learner's cell may not import or use (the grader enforces it).
        rtol, atol: tolerance of the value comparison.
        description: one line for reports.
        accept: ``(case, got, expected) -> Verdict`` replaces the value comparison, for an
            answer judged on what it achieves (an accuracy reached, a gradient that agrees)
            rather than on matching the reference's numbers.
        uses: other exercises of the same chapter whose cells the grader runs first, in the
            same sandboxed process (the capstone builds on the learner's own layers).
        timeout: seconds the grader allows this exercise (``None``: the run's limit).
        imports: course modules the learner's cell may import (the grader makes only these
            visible to it, e.g. ``("cnnlab.models",)``).
    """

    name: str
    chapter: str
    points: int
    cases: Callable[[np.random.Generator], list[Case]]
    reference: Callable[..., Any]
    probe: Probe | None = None
    diagnose: Callable[[Case, Any, Any], Mistake | None] | None = None
    forbidden: tuple[str, ...] = ()
    rtol: float = 1e-6
    atol: float = 1e-8
    description: str = ""
    accept: Callable[[Case, Any, Any], Verdict] | None = None
    uses: tuple[str, ...] = ()
    timeout: float | None = None
    imports: tuple[str, ...] = ()


PROBES = Path(__file__).resolve().with_name("probes.py")
_PROBE_MODULES: dict[str, Any] = {}


@dataclass(frozen=True)
class Probe:
    """How an answer that is an object (a network, an optimizer) becomes numbers, by name.

    ``function`` names a factory in a probes file (``cnnlab/checks/probes.py`` unless ``file``
    says otherwise) that takes ``args`` and returns ``probe(answer, case) -> plain values``.
    The file is loaded by its path, alone, both here and in the grader's sandbox, so a probe
    never brings the course's reference code within the learner's reach.
    """

    function: str
    args: tuple[tuple[str, Any], ...] = ()
    file: str | None = None

    @property
    def path(self) -> str:
        return str(Path(self.file).resolve()) if self.file else str(PROBES)

    def spec(self) -> dict:
        """What the sandbox's fork server needs to build the probe: the factory's name and arguments."""
        return {"name": self.function, "args": dict(self.args)}

    def reseeded(self, seed: int) -> Probe:
        """The same probe drawing its inputs and weights from ``seed`` (the grader's fresh draw)."""
        return Probe(self.function, tuple((k, v) for k, v in self.args if k != "seed") + (("seed", seed),), self.file)

    def resolve(self) -> Callable[[Any, Case], Any]:
        path = self.path
        if path not in _PROBE_MODULES:
            spec = importlib.util.spec_from_file_location(f"cnnlab_probes_{len(_PROBE_MODULES)}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            _PROBE_MODULES[path] = module
        return getattr(_PROBE_MODULES[path], self.function)(**dict(self.args))

    def __call__(self, value: Any, case: Case) -> Any:
        return self.resolve()(value, case)


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
    """What one comparison found: ``ok``, a message that says what is wrong, and its short form.

    ``summary`` says which output and how much without the exact values (what the grader
    shows when the hidden tests' details stay hidden); it defaults to ``message``.
    """

    ok: bool
    message: str = ""
    summary: str = ""

    def __post_init__(self) -> None:
        if not self.summary:
            self.summary = self.message


@dataclass
class CaseFailure:
    """One failing case: what is wrong, and the classic mistake behind it when one is recognised."""

    case: int
    message: str                         # which output, where, by how much (or what was raised)
    mistake: Mistake | None = None
    failure: Failure | None = None       # set when the learner's code raised

    def text(self, reveal: bool = True) -> str:
        if self.mistake is None:
            return f"case {self.case}: {self.message}"
        return f"case {self.case}: {self.message}: {self.mistake.hint if reveal else self.mistake.nudge}"


@dataclass
class CheckResult:
    """The outcome of ``check``: counts, the failing cases, and the printed line."""

    name: str
    passed: int
    total: int
    status: Outcome
    cases: list[CaseFailure] = field(default_factory=list)
    reveal: bool = True                  # whether ``line()`` names the cause of a recognised mistake
    shown: bool = False                  # printed by ``check`` already (so the cell shows it once)

    @property
    def message(self) -> str:
        """The first failure with the cause of its mistake, if any."""
        return self.cases[0].text() if self.cases else ""

    @property
    def failures(self) -> list[str]:
        return [c.text() for c in self.cases]

    @property
    def mistakes(self) -> list[Mistake]:
        return [c.mistake for c in self.cases if c.mistake is not None]

    def __bool__(self) -> bool:
        return self.status == Outcome.PASSED

    def line(self) -> str:
        if self.status == Outcome.PASSED:
            return f"✓ {self.name}: {self.passed}/{self.total} checks passed"
        if self.status == Outcome.NOT_IMPLEMENTED:
            return f"… {self.name}: not implemented yet"
        first = self.cases[0].text(self.reveal) if self.cases else ""
        return f"✗ {self.name}: {self.passed}/{self.total} checks passed; {first}"

    def lines(self) -> list[str]:
        """The line, up to two more failing cases, and how to get the cause when it is held back."""
        out = [self.line()] + ["   " + c.text(self.reveal) for c in self.cases[1:3]]
        if not self.reveal and self.mistakes:
            out.append(f"   for the likely cause: check({self.name}, hint=True)")
        return out

    def _ipython_display_(self) -> None:
        if self.shown:
            return
        from IPython.display import HTML, display

        display(HTML(self._repr_html_()))

    def _repr_html_(self) -> str:
        import html

        colour = {Outcome.PASSED: "#1a7f37", Outcome.NOT_IMPLEMENTED: "#6e7781"}.get(self.status, "#cf222e")
        return f'<pre style="color:{colour}">{html.escape(chr(10).join(self.lines()))}</pre>'

    def __repr__(self) -> str:
        return "\n".join(self.lines())


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
        summary = f"{what}: {len(bad)} of {expected.size} values differ"
        return Verdict(False, f"{summary}; at {_where(index)} got {float(g):.6g}, expected {float(e):.6g}",
                       f"{summary} (first at {_where(index)})")
    return Verdict(True)


def judge_answer(ex: Exercise, case: Case, got: Any, expected: Any) -> Verdict:
    """The exercise's own acceptance test when it has one, else the value comparison."""
    if ex.accept is not None:
        return ex.accept(case, got, expected)
    return compare(got, expected, ex.rtol, ex.atol)


def _call(ex: Exercise, fn: Callable, case: Case) -> Any:
    result = fn(**{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()})
    return ex.probe(result, case) if ex.probe else result


def run_exercise(ex: Exercise, fn: Callable, seed: int | None = 0) -> CheckResult:
    """Run every case of ``ex`` on ``fn`` in this process and summarise (never raises)."""
    cases = ex.cases(np.random.default_rng(seed))
    passed, failed = 0, []
    for i, case in enumerate(cases, 1):
        expected = ex.reference(**case)
        if ex.probe:
            expected = ex.probe(expected, case)
        try:
            got = _call(ex, fn, case)
        except Exception as err:          # the learner's code failed: say how, not a traceback
            failure = Failure.of(err)
            if failure.kind == FailureKind.NOT_IMPLEMENTED:
                return CheckResult(ex.name, 0, len(cases), Outcome.NOT_IMPLEMENTED)
            failed.append(CaseFailure(i, f"raised {failure.message}", failure=failure))
            continue
        verdict = judge_answer(ex, case, got, expected)
        if verdict.ok:
            passed += 1
            continue
        failed.append(CaseFailure(i, verdict.message, diagnosis(ex, case, got, expected)))
    if passed == len(cases):
        return CheckResult(ex.name, passed, len(cases), Outcome.PASSED)
    status = Outcome.ERROR if all(c.failure is not None for c in failed) else Outcome.WRONG
    return CheckResult(ex.name, passed, len(cases), status, failed)


def diagnosis(ex: Exercise, case: Case, got: Any, expected: Any) -> Mistake | None:
    """The classic mistake ``ex`` recognises in a wrong answer, or None (a failing diagnosis is none)."""
    if ex.diagnose is None:
        return None
    if ex.probe is not None:
        case = dict(case, probe=ex.probe)
    try:
        found = ex.diagnose(case, got, expected)
    except Exception:                     # noqa: BLE001 - a hint that fails is no hint
        return None
    if isinstance(found, str):
        return Mistake(found[:80], found, found)
    return found if isinstance(found, Mistake) else None


_FAILED_BEFORE: dict[str, int] = {}


def _strict() -> bool:
    return any(os.environ.get(v, "") not in ("", "0") for v in ("NBGRADER_EXECUTION", "CNNLAB_CHECKS_STRICT"))


def _forbidden_in_source(fn: Callable, ex: Exercise) -> list[str]:
    """Forbidden modules the function's own source uses (a static read, as the grader does first)."""
    if not ex.forbidden:
        return []
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return []
    from cnnlab.grading.scan import forbidden_uses

    known = {}
    for name, value in getattr(fn, "__globals__", {}).items():
        if inspect.ismodule(value):
            known[name] = value.__name__
        elif callable(value) and isinstance(getattr(value, "__module__", None), str) and hasattr(value, "__name__"):
            known[name] = f"{value.__module__}.{value.__name__}"
    try:
        return [str(u) for u in forbidden_uses(source, ex.forbidden, known)]
    except (SyntaxError, ValueError, RecursionError):
        return []


def check(fn: Callable, name: str | None = None, seed: int | None = 0, hint: bool = False) -> CheckResult:
    """Check an exercise function against the reference and print what it found. Used in every exercise notebook.

    A pass prints one line; a stub prints "not implemented yet"; a wrong answer prints which
    output is wrong, where and by how much, with a nudge. The cause of a recognised classic
    mistake is printed with ``hint=True`` or on the next failing check of the same exercise.
    The notebook goes on either way, except under nbgrader (``NBGRADER_EXECUTION`` set) or with
    ``CNNLAB_CHECKS_STRICT=1`` (the test run of the solutions), where anything but a pass
    raises ``AssertionError`` carrying the same text. That is formative feedback: marks come
    from ``cnnlab grade``, which never runs in the learner's process.

    Args:
        fn: the learner's function; its ``__name__`` names the exercise unless ``name`` is given.
        name: the exercise name, when the function is called something else.
        seed: seed of the drawn cases (``None`` for fresh ones).
        hint: name the cause of a recognised mistake now.

    Returns:
        The ``CheckResult`` (truthy when everything passed); the cell shows it once.
    """
    __tracebackhide__ = True              # noqa: F841 - IPython and pytest hide this frame
    ex = get(name or fn.__name__)
    uses = _forbidden_in_source(fn, ex)
    if uses:
        message = f"uses {', '.join(uses[:3])}, which the grader does not allow in this exercise"
        result = CheckResult(ex.name, 0, 1, Outcome.FORBIDDEN, [CaseFailure(1, message)])
    else:
        result = run_exercise(ex, fn, seed)
    if result.status in (Outcome.WRONG, Outcome.ERROR):
        result.reveal = hint or _FAILED_BEFORE.get(ex.name, 0) > 0
        _FAILED_BEFORE[ex.name] = _FAILED_BEFORE.get(ex.name, 0) + 1
    text = "\n".join(result.lines())
    print(text)
    result.shown = True
    if _strict() and not result:
        raise AssertionError("\n" + "\n".join(textwrap.fill(line, 88, subsequent_indent="   ")
                                               for line in text.splitlines()))
    return result


__all__ = ["Exercise", "Mistake", "Probe", "CheckResult", "CaseFailure", "Verdict", "judge_answer", "diagnosis", "check", "compare", "as_plain", "exercises", "get",
           "chapters", "run_exercise"]
