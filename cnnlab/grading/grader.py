"""Grade submissions: find each exercise's cell, run it in the sandbox, judge it here. Lesson: exercises.

The parent draws fresh test inputs for every run (a random seed per run, reported), computes
the expected answers with the ``cnnlab.checks`` references in its own process, and compares
them with the plain arrays the child sends back. A learner's object is never compared
directly, nothing in the notebook (its points included) changes what an exercise is worth,
and only freshly drawn cases earn credit: a case that comes out the same whatever the seed
(a worked example from the lesson) is left out of grading.

Scoring: an exercise is worth ``Exercise.points``. All cases right: full points. With
partial credit (the default) an answer that is wrong on some cases, or fails on some, earns
``points × passed / cases``, rounded to hundredths; a timeout, crash, missing answer or
forbidden module earns 0. ``partial_credit=False`` gives points only for a full pass.

The chapter of a submission comes from ``--chapter`` or from its file name (``01_…``); a
notebook whose metadata names another chapter gets an error row, not a guess.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import secrets
import signal
import sys
import threading
import traceback
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from cnnlab import checks
from cnnlab.checks import Exercise, Mistake, as_plain, diagnosis, judge_answer
from cnnlab.common import FailureKind, Outcome
from cnnlab.grading import notebook, scan
from cnnlab.grading.sandbox import (BadResult, ChildRun, Isolation, Limits, Sandbox, SandboxRefused, ServerDied,
                                    UNSAFE_FLAG, assess, load_result, tree_arrays)

STATUSES = tuple(Outcome)
FIXTURES_ENV = "CNNLAB_GRADING_FIXTURES"      # tests only: a folder of extra chapter modules chNN.py
ALWAYS_FORBIDDEN = ("cnnlab.checks", "cnnlab.grading")
CREDITED = (Outcome.WRONG, Outcome.ERROR, Outcome.MEMORY)   # outcomes that may earn partial credit


# --------------------------------------------------------------------------- results

@dataclass
class ExerciseResult:
    """One exercise of one submission: what it earned and a message for the learner."""

    name: str
    max_points: float
    points: float
    status: Outcome
    message: str
    passed: int = 0
    total: int = 0
    seconds: float = 0.0
    details: list[str] = field(default_factory=list)   # per-case lines (with --show-details only)
    mistakes: list[str] = field(default_factory=list)  # labels of the classic mistakes recognised
    hints: list[str] = field(default_factory=list)     # their hints, for feedback files
    grader_error: bool = False   # the grader failed, not the learner (e.g. its sandbox did not start)


@dataclass
class SubmissionResult:
    """One submission's row."""

    path: str
    student: str
    chapter: str | None
    exercises: list[ExerciseResult]
    message: str = ""            # about the whole notebook (unreadable, unknown chapter, ...)
    grader_error: bool = False   # something failed on the grader's side, not the learner's

    @property
    def score(self) -> float:
        return round(sum(e.points for e in self.exercises), 2)

    @property
    def max_score(self) -> float:
        return round(sum(e.max_points for e in self.exercises), 2)


@dataclass
class GradeConfig:
    """How to grade: see ``cnnlab grade --help``."""

    chapter: str | None = None
    limits: Limits = field(default_factory=Limits)
    jobs: int = 1
    seed: int | None = None
    show_details: bool = False
    partial_credit: bool = True
    unsafe: bool = False                  # --unsafe-no-isolation: grade even where isolation is incomplete
    hidden: list[str] = field(default_factory=list)     # more folders learner code must not see (e.g. --out)
    work_root: str | None = None          # where the run's temporary folder goes (default: the system's)
    isolation: Isolation | None = None    # use this instead of assessing the host (tests)


@dataclass
class Report:
    """Everything a grading run found: rows, the seed, the isolation achieved."""

    submissions: list[SubmissionResult]
    seed: int
    isolation: Isolation
    config: GradeConfig

    def as_dict(self) -> dict:
        return {"seed": self.seed, "isolation": self.isolation.as_dict(),
                "isolation_report": self.isolation.lines(), "unsafe": self.isolation.unsafe,
                "limits": asdict(self.config.limits), "partial_credit": self.config.partial_credit,
                "submissions": [dict(asdict(s), score=s.score, max_score=s.max_score) for s in self.submissions]}


# --------------------------------------------------------------------------- the registry

def _fixture_module(chapter: str) -> ModuleType | None:
    folder = os.environ.get(FIXTURES_ENV)
    path = Path(folder) / f"ch{chapter}.py" if folder else None
    if path is None or not path.is_file():
        return None
    name = f"cnnlab_grading_fixture_ch{chapter}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def known_chapters() -> list[str]:
    found = set(checks.chapters())
    folder = os.environ.get(FIXTURES_ENV)
    if folder and Path(folder).is_dir():
        found |= {p.stem[2:] for p in Path(folder).glob("ch[0-9][0-9].py")}
    return sorted(found)


def chapter_exercises(chapter: str) -> list[Exercise]:
    """The chapter's exercises in registry order."""
    fixture = _fixture_module(chapter)
    if fixture is not None:
        return list(fixture.EXERCISES)
    return list(checks.exercises(chapter).values())


def normal_chapter(chapter: str | int) -> str:
    text = str(chapter).strip()
    if not text.isdigit() or len(text) > 2:
        raise ValueError(f"a chapter is a number such as 01, got {chapter!r}")
    return f"{int(text):02d}"


# --------------------------------------------------------------------------- test inputs, drawn once per run

@dataclass
class Prepared:
    """An exercise with this run's fresh cases, the expected answers and the inputs file for the children."""

    exercise: Exercise
    cases: list[dict]
    expected: list[Any]
    inputs: Path
    schema: list[dict]
    fixed: int = 0               # cases that came out the same for another seed: not graded


def encode_case(case: dict, index: int, arrays: dict) -> dict:
    """Store one case's keyword arguments as arrays; return {name: kind} to rebuild them."""
    kinds = {}
    for name, value in case.items():
        if isinstance(value, np.ndarray):
            kind, array = "array", value
        elif isinstance(value, bool | np.bool_):
            kind, array = "bool", np.asarray(value)
        elif isinstance(value, int | np.integer):
            kind, array = "int", np.asarray(value, dtype=np.int64)
        elif isinstance(value, float | np.floating):
            kind, array = "float", np.asarray(value, dtype=np.float64)
        elif isinstance(value, tuple) and all(isinstance(v, int | np.integer) for v in value):
            kind, array = "tuple", np.asarray(value, dtype=np.int64).reshape(-1)
        else:
            raise TypeError(f"case argument {name!r} is a {type(value).__name__}; cases hold only arrays, "
                            "ints, floats, bools and tuples of ints")
        if array.dtype.hasobject:
            raise TypeError(f"case argument {name!r} is an object array")
        arrays[f"{index}/{name}"] = array
        kinds[name] = kind
    return kinds


def _same_case(a: dict, b: dict) -> bool:
    if set(a) != set(b):
        return False
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and x.shape == y.shape
                    and np.array_equal(x, y)):
                return False
        elif x != y:
            return False
    return True


def fresh_cases(ex: Exercise, seed: int) -> tuple[list[dict], int]:
    """The cases of ``seed`` that independent draws do not repeat, and how many were fixed.

    A case that two other seeds draw identically is a worked example from the lesson: a
    lookup table could answer it, so it earns no credit. An exercise with a probe is fresh
    whatever its cases, because the probe's inputs and weights are drawn from the run's seed.
    """
    name = zlib.crc32(ex.name.encode())
    cases = ex.cases(np.random.default_rng(np.random.SeedSequence([seed, name])))
    if ex.probe is not None:
        return cases, 0
    others = [ex.cases(np.random.default_rng(np.random.SeedSequence([seed, name, k]))) for k in (1, 2)]
    fresh = [c for i, c in enumerate(cases)
             if not all(i < len(other) and _same_case(c, other[i]) for other in others)]
    if not fresh:
        raise ValueError(f"exercise {ex.name} draws no fresh cases: every case is fixed")
    return fresh, len(cases) - len(fresh)


def probe_seed(ex: Exercise, seed: int) -> int:
    """The seed of the probe's inputs and weights in this run (the same in the parent and the child)."""
    return int(np.random.SeedSequence([seed, zlib.crc32(ex.name.encode()), 7]).generate_state(1)[0] % (1 << 31))


def prepare(ex: Exercise, seed: int, folder: Path) -> Prepared:
    if ex.probe is not None:
        ex = dataclasses.replace(ex, probe=ex.probe.reseeded(probe_seed(ex, seed)))
    cases, fixed = fresh_cases(ex, seed)        # the probe's seed is fresh: Prepared keeps this exercise
    arrays: dict = {}
    schema = [encode_case(case, i, arrays) for i, case in enumerate(cases)]
    inputs = folder / f"inputs-{ex.name}.npz"
    np.savez(inputs, **arrays)
    os.chmod(inputs, 0o600)
    expected = []
    for case in cases:
        copy = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()}
        value = ex.reference(**copy)
        if ex.probe:
            value = ex.probe(value, case)
        expected.append(as_plain(value))
    return Prepared(ex, cases, expected, inputs, schema, fixed)


def uses_torch(ex: Exercise) -> bool:
    """Whether the exercise's children start with torch already imported: unless it forbids torch."""
    return "torch" not in ex.forbidden and importlib.util.find_spec("torch") is not None


# --------------------------------------------------------------------------- judging one exercise

def _case_inputs(case: dict) -> str:
    parts = []
    for name, value in case.items():
        if isinstance(value, np.ndarray):
            parts.append(f"{name} {value.shape} {value.dtype}")
        else:
            parts.append(f"{name}={value!r}")
    return ", ".join(parts)


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(code).name
    except ValueError:
        return f"signal {code}"


def _died(run: ChildRun, limits: Limits, timeout: float) -> tuple[Outcome, str]:
    """Outcome and message for a child that left no usable answer."""
    code = run.returncode
    sig = -code if code is not None and code < 0 else (code - 128 if code and 128 < code < 160 else None)
    if sig == signal.SIGXCPU:
        return Outcome.TIMEOUT, f"used more than {int(timeout) + 1} s of CPU time (the limit): is there a loop that never ends?"
    if sig == signal.SIGXFSZ:
        return Outcome.CRASHED, f"tried to write a file over {limits.file_mb} MB"
    if sig == signal.SIGKILL:
        return Outcome.MEMORY, "was killed by the system: did it use too much memory?"
    if sig is not None:
        return Outcome.CRASHED, f"the process crashed ({_signal_name(sig)}) before returning its answers"
    return Outcome.CRASHED, (f"the process ended (exit code {code}) before returning its answers: "
                             "does the code call exit(), sys.exit() or os._exit()?")


@dataclass
class CaseVerdict:
    """One case: its outcome, a short and a detailed message, and the mistake recognised (if any)."""

    outcome: Outcome
    short: str
    long: str
    mistake: Mistake | None = None


class Judge:
    """Turns a child's answers into an outcome, points and a message."""

    def __init__(self, prep: Prepared, config: GradeConfig):
        self.prep, self.config = prep, config
        self.ex = prep.exercise                 # with the run's reseeded probe

    def result(self, status: Outcome, message: str, passed: int = 0, details: list[str] | None = None,
               seconds: float = 0.0, mistakes: list[Mistake] | None = None) -> ExerciseResult:
        total = len(self.prep.cases)
        points = 0.0
        if status == Outcome.PASSED:
            points = float(self.ex.points)
        elif self.config.partial_credit and status in CREDITED and total:
            points = round(self.ex.points * passed / total, 2)
        shown = details if self.config.show_details else []
        found = list(dict.fromkeys(m for m in mistakes or [] if m is not None))
        return ExerciseResult(self.ex.name, float(self.ex.points), points, status, message, passed, total,
                              round(seconds, 3), shown or [], [m.label for m in found], [m.hint for m in found])

    def cell_failure(self, failure: dict) -> tuple[Outcome, str]:
        kind, text = FailureKind(failure["kind"]), failure["message"]
        if kind == FailureKind.NOT_IMPLEMENTED:
            return Outcome.NOT_IMPLEMENTED, "not implemented yet"
        if kind == FailureKind.MEMORY:
            return Outcome.MEMORY, f"running the cell ran out of memory ({self.config.limits.memory_mb} MB)"
        if kind == FailureKind.FORBIDDEN:
            return Outcome.FORBIDDEN, f"the cell {text}"
        if kind == FailureKind.EXIT:
            return Outcome.CRASHED, "the cell calls exit(): the grader cannot call your function"
        return Outcome.ERROR, f"running the cell raised {text}{_name_hint(text)}"

    def judge(self, meta: dict, arrays: dict, seconds: float) -> ExerciseResult:
        """The result of a child that answered: forbidden use, a failing cell, or case by case."""
        if meta["forbidden"]:
            names = ", ".join(meta["forbidden"][:3])
            return self.result(Outcome.FORBIDDEN, f"uses {names}, which is not allowed in this exercise",
                               seconds=seconds)
        if not meta["cell"]["ok"]:
            status, message = self.cell_failure(meta["cell"])
            return self.result(status, message, seconds=seconds)
        if not meta["function"]["ok"]:
            defined = meta["function"]["defined"][:5]
            also = f" (it defines {', '.join(defined)})" if defined else ""
            return self.result(Outcome.MISSING, f"the cell does not define {self.ex.name}(){also}", seconds=seconds)
        verdicts = [self.judge_case(case, expected, outcome, arrays) for case, expected, outcome
                    in zip(self.prep.cases, self.prep.expected, meta["cases"])]
        details = [f"case {i}: {v.long}" for i, v in enumerate(verdicts, 1)]
        outcomes = [v.outcome for v in verdicts]
        mistakes = [v.mistake for v in verdicts]
        passed, total = outcomes.count(Outcome.PASSED), len(outcomes)
        if passed == total:
            return self.result(Outcome.PASSED, f"{passed}/{total} cases passed", passed, details, seconds)
        if outcomes.count(Outcome.NOT_IMPLEMENTED) == total:
            return self.result(Outcome.NOT_IMPLEMENTED, "not implemented yet", 0, details, seconds)
        status = next((o for o in (Outcome.WRONG, Outcome.MEMORY, Outcome.FORBIDDEN, Outcome.CRASHED)
                       if o in outcomes), Outcome.ERROR)
        i, first = next((i, v) for i, v in enumerate(verdicts, 1) if v.outcome != Outcome.PASSED)
        shown = f"case {i}: {first.long if self.config.show_details else first.short}"
        return self.result(status, f"{passed}/{total} cases passed; {shown}", passed, details, seconds, mistakes)

    def judge_case(self, case: dict, expected: Any, outcome: dict, arrays: dict) -> CaseVerdict:
        inputs = f" (inputs: {_case_inputs(case)})"
        if outcome["ok"]:
            got = tree_arrays(outcome["tree"], arrays)
            verdict = judge_answer(self.ex, case, got, expected)
            if verdict.ok:
                return CaseVerdict(Outcome.PASSED, "passed", f"passed{inputs}")
            mistake = self.diagnose(case, got, expected)
            suffix = f": {mistake.hint}" if mistake else ""
            return CaseVerdict(Outcome.WRONG, verdict.summary + suffix, verdict.message + suffix + inputs, mistake)
        kind, text = FailureKind(outcome["kind"]), outcome["message"]
        short = {FailureKind.MEMORY: f"ran out of memory ({self.config.limits.memory_mb} MB)",
                 FailureKind.NOT_IMPLEMENTED: "not implemented yet",
                 FailureKind.EXIT: "called exit()",
                 FailureKind.FORBIDDEN: text,
                 FailureKind.CONVERT: f"returned something that is not numbers: {text}",
                 FailureKind.PROBE: f"the answer could not be checked: {text}",
                 FailureKind.TOO_BIG: "the answer is too large to check"}.get(kind, f"raised {text}{_name_hint(text)}")
        return CaseVerdict(kind.outcome, short, short + inputs)

    def diagnose(self, case: dict, got: Any, expected: Any) -> Mistake | None:
        return diagnosis(self.ex, case, got, expected)


# --------------------------------------------------------------------------- a grading run

class GradingRun:
    """State shared by the submissions of one run: seed, sandbox, prepared exercises."""

    def __init__(self, config: GradeConfig, paths: list[Path]):
        self.config = config
        self.seed = config.seed if config.seed is not None else secrets.randbits(32)
        regular = [p.resolve() for p in paths if p.is_file() and not p.is_symlink()]
        hidden = list(dict.fromkeys([p.absolute().parent for p in paths] + [p.parent for p in regular]
                                    + [Path(p) for p in config.hidden]))
        sentinels = regular[:1]
        work_root = Path(config.work_root) if config.work_root else None
        self.isolation = config.isolation or assess(config.limits, config.unsafe, sentinels, hidden, work_root)
        if not self.isolation.safe and not self.isolation.unsafe:
            raise SandboxRefused(refusal_message(self.isolation))
        self.sandbox = Sandbox(config.limits, self.isolation, config.jobs, hidden, work_root)
        self.inputs = self.sandbox.root / "inputs"
        self.inputs.mkdir(mode=0o700)
        self._prepared: dict[str, list[Prepared] | Exception] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.sandbox.close()

    def chapter(self, chapter: str) -> list[Prepared]:
        with self._lock:
            if chapter not in self._prepared:
                try:
                    self._prepared[chapter] = [prepare(ex, self.seed, self.inputs) for ex in chapter_exercises(chapter)]
                except Exception as err:     # noqa: BLE001 - reported on every row of that chapter
                    self._prepared[chapter] = err
            found = self._prepared[chapter]
        if isinstance(found, Exception):
            raise found
        return found

    def server_spec(self, chapter: str, torch: bool) -> dict:
        """What the chapter's fork server imports and holds: NumPy (and torch), inputs, probes."""
        prepared = [p for p in self.chapter(chapter) if uses_torch(p.exercise) == torch]
        probes = {p.exercise.probe.path for p in prepared if p.exercise.probe}
        if len(probes) > 1:
            raise ValueError(f"chapter {chapter}'s probes live in more than one module: {sorted(probes)}")
        return {"preload": ["numpy", "torch"] if torch else ["numpy"],
                "probes": probes.pop() if probes else None,
                "exercises": {p.exercise.name: {"inputs": str(p.inputs), "schema": p.schema,
                                                "probe": p.exercise.probe.spec() if p.exercise.probe else None}
                              for p in prepared}}

    def grade_exercise(self, prep: Prepared, cells: list[notebook.Cell], chapter: str) -> ExerciseResult:
        judge, ex = Judge(prep, self.config), prep.exercise
        forbidden = tuple(dict.fromkeys([*ex.forbidden, *ALWAYS_FORBIDDEN]))
        sources = []
        for name in [*ex.uses, ex.name]:
            located = notebook.locate(cells, name)
            if located.cell is None:
                problem = located.problem if name == ex.name else f"the exercise builds on {name}(): {located.problem}"
                return _noted(judge.result(Outcome.MISSING, problem), located.note)
            if located.cell.too_large:
                return _noted(judge.result(Outcome.ERROR, f"the cell is {len(located.cell.source):,} characters "
                                                          f"long, more than the grader reads "
                                                          f"({notebook.MAX_CELL_CHARS:,})"), located.note)
            source = notebook.plain_python(located.cell.source)
            try:
                notebook.parse(source)
            except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
                line = getattr(err, "lineno", None)
                where = f" on line {line}" if line else ""
                what = "the cell" if name == ex.name else f"the cell of {name}()"
                return _noted(judge.result(Outcome.ERROR, f"{what} has a syntax error{where}: "
                                                          f"{getattr(err, 'msg', type(err).__name__)}"), located.note)
            uses = scan.forbidden_uses(source, forbidden)
            if uses:
                listed = ", ".join(str(u) for u in uses[:3])
                return _noted(judge.result(Outcome.FORBIDDEN, f"uses {listed}: not allowed in this exercise "
                                                              f"(forbidden: {', '.join(ex.forbidden)})"), located.note)
            sources.append(source)
            note = located.note
        torch = uses_torch(ex)
        job = {"name": ex.name, "source": sources[-1], "uses": sources[:-1], "forbidden": list(forbidden)}
        view = self.sandbox.view(forbidden, ex.imports)
        key = f"{chapter}-{'torch' if torch else 'numpy'}"
        timeout = ex.timeout or self.config.limits.timeout
        try:
            run = self.sandbox.run(key, self.server_spec(chapter, torch), job, view, timeout=timeout)
        except ServerDied as err:
            print(f"cnnlab grade: {err}", file=sys.stderr)
            result = judge.result(Outcome.ERROR, "the grader could not start its sandbox: tell your instructor")
            result.grader_error = True
            return result
        try:
            return _noted(self.judge_run(judge, run, timeout), note)
        finally:
            run.result.unlink(missing_ok=True)

    def judge_run(self, judge: Judge, run: ChildRun, timeout: float) -> ExerciseResult:
        limits = self.config.limits
        if run.setup_failed:
            print(f"cnnlab grade: sandbox set-up failed: {run.setup_error}", file=sys.stderr)
            result = judge.result(Outcome.ERROR, "the grader could not start its sandbox: tell your instructor",
                                  seconds=run.seconds)
            result.grader_error = True
            return result
        if run.timed_out:
            return judge.result(Outcome.TIMEOUT, f"stopped after {timeout:g} s (the time limit): "
                                                 "is there a loop that never ends, or a wait?", seconds=run.seconds)
        if run.over_quota:
            return judge.result(Outcome.CRASHED, f"stopped: it wrote more than {limits.file_mb} MB (or too many "
                                                 "files) into its working folder", seconds=run.seconds)
        try:
            meta, arrays = load_result(run.result, run.nonce, len(judge.prep.cases), limits.output_mb << 20)
        except BadResult as err:
            if run.result.exists():
                return judge.result(Outcome.CRASHED, f"the answers came back unreadable ({err})", seconds=run.seconds)
            status, message = _died(run, limits, timeout)
            return judge.result(status, message, seconds=run.seconds)
        try:
            return judge.judge(meta, arrays, run.seconds)
        except (ValueError, TypeError, KeyError, IndexError, MemoryError) as err:
            return judge.result(Outcome.CRASHED, f"the answers could not be compared ({type(err).__name__})",
                                seconds=run.seconds)

    def grade_submission(self, path: Path) -> SubmissionResult:
        try:
            return self._grade_submission(path)
        except Exception as err:             # noqa: BLE001 - every submission gets a row
            traceback.print_exc(file=sys.stderr)
            return SubmissionResult(str(path), path.stem, self.config.chapter, [],
                                    f"the grader failed on this notebook ({type(err).__name__}); "
                                    "tell your instructor", grader_error=True)

    def _grade_submission(self, path: Path) -> SubmissionResult:
        chapter = self.config.chapter or notebook.chapter_from_name(path)
        if chapter is None or chapter not in known_chapters():
            what = f"chapter {chapter} has no exercises" if chapter else "cannot tell which chapter this is"
            return SubmissionResult(str(path), path.stem, chapter, [],
                                    f"{what}: name the notebook NN_topic.ipynb or pass --chapter NN")
        try:
            prepared = self.chapter(chapter)
        except Exception as err:             # noqa: BLE001
            print(f"cnnlab grade: chapter {chapter}: {type(err).__name__}: {err}", file=sys.stderr)
            return SubmissionResult(str(path), path.stem, chapter, [],
                                    f"the grader could not prepare chapter {chapter}: tell your instructor",
                                    grader_error=True)
        try:
            nb = notebook.read_notebook(path)
        except notebook.NotebookError as err:
            return SubmissionResult(str(path), path.stem, chapter, self._all(prepared, Outcome.MISSING, str(err)),
                                    str(err))
        claimed = notebook.chapter_in_metadata(nb)
        if claimed is not None and claimed != chapter:
            message = (f"the notebook's metadata says chapter {claimed}, but it is graded as chapter {chapter}: "
                       "submit the chapter's own exercise notebook")
            return SubmissionResult(str(path), path.stem, chapter, self._all(prepared, Outcome.ERROR, message),
                                    message)
        cells = notebook.code_cells(nb)
        rows = []
        for prep in prepared:
            try:
                rows.append(self.grade_exercise(prep, cells, chapter))
            except Exception as err:         # noqa: BLE001 - one exercise's failure costs only that exercise
                traceback.print_exc(file=sys.stderr)
                failed = Judge(prep, self.config).result(Outcome.ERROR, f"the grader failed on this exercise "
                                                                        f"({type(err).__name__}): tell your instructor")
                failed.grader_error = True
                rows.append(failed)
        return SubmissionResult(str(path), path.stem, chapter, rows, grader_error=any(r.grader_error for r in rows))

    def _all(self, prepared: list[Prepared], status: Outcome, message: str) -> list[ExerciseResult]:
        return [Judge(p, self.config).result(status, message) for p in prepared]


def refusal_message(iso: Isolation) -> str:
    """One message: what is missing for safe grading on this host, how to get it, and the escape hatch."""
    missing = "\n".join(f"  - {m}" for m in iso.missing) or "  - the isolation could not be verified"
    return (f"cnnlab grade refuses to run learner code here, because this host cannot isolate it:\n{missing}\n"
            f"To grade anyway, trusting every submission, pass {UNSAFE_FLAG} (every report will say so).")


def _name_hint(text: str) -> str:
    if not text.startswith("NameError"):
        return ""
    return ": the grader runs the exercise cell on its own, so imports and helpers it needs must be inside that cell"


def _noted(result: ExerciseResult, note: str) -> ExerciseResult:
    if note:
        result.message = f"{result.message} (note: {note})"
    return result


def student_names(paths: list[Path]) -> list[str]:
    """File stems, or parent folder names when the stems repeat (nbgrader's submitted/<student>/… layout)."""
    stems = [p.stem for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    names = [f"{p.resolve().parent.name}/{p.stem}" for p in paths]
    return names if len(set(names)) == len(names) else [str(p) for p in paths]


def grade(paths: list[str | Path], config: GradeConfig | None = None) -> Report:
    """Grade every submission; each gets a row whatever happens to the others.

    Args:
        paths: submitted notebooks.
        config: chapter, limits, jobs, seed, details, partial credit, isolation policy.

    Returns:
        A ``Report`` with one ``SubmissionResult`` per path, in order.

    Raises:
        SandboxRefused: the host cannot isolate learner code and ``config.unsafe`` is off.
    """
    config = config or GradeConfig()
    if config.chapter is not None:
        config.chapter = normal_chapter(config.chapter)
    paths = [Path(p) for p in paths]
    run = GradingRun(config, paths)
    try:
        with ThreadPoolExecutor(max_workers=max(1, config.jobs)) as pool:
            rows = list(pool.map(run.grade_submission, paths))
    finally:
        run.close()
    for row, name in zip(rows, student_names(paths)):
        row.student = name
    return Report(rows, run.seed, run.isolation, config)
