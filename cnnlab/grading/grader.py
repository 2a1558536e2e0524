"""Grade submissions: find each exercise's cell, run it in the sandbox, judge it here. Lesson: exercises.

The parent draws fresh test inputs for every run (a random seed per run, reported), computes
the expected answers with the ``cnnlab.checks`` references in its own process, and compares
them with the plain arrays the child sends back (``cnnlab.checks.compare``). A learner's
object is never compared directly, and nothing in the notebook (its points included)
changes what an exercise is worth.

Scoring: an exercise is worth ``Exercise.points``. All cases right: full points. With
partial credit (the default) an answer that is wrong on some cases, or fails on some, earns
``points × passed / cases``, rounded to hundredths; a timeout, crash, missing answer or
forbidden module earns 0. ``partial_credit=False`` gives points only for a full pass.
"""

from __future__ import annotations

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
from cnnlab.checks import Exercise, as_plain, hint_text, judge_answer
from cnnlab.grading import notebook, scan
from cnnlab.grading.sandbox import (BadResult, ChildRun, Isolation, Limits, Sandbox, detect_isolation,
                                    load_result, module_files, tree_arrays)

STATUSES = ("passed", "wrong", "error", "timeout", "memory", "crashed", "forbidden", "missing")
FIXTURES_ENV = "CNNLAB_GRADING_FIXTURES"      # tests only: a folder of extra chapter modules chNN.py


# --------------------------------------------------------------------------- results

@dataclass
class ExerciseResult:
    """One exercise of one submission: what it earned and a message for the learner."""

    name: str
    max_points: float
    points: float
    status: str                  # one of STATUSES
    message: str
    passed: int = 0
    total: int = 0
    seconds: float = 0.0
    details: list[str] = field(default_factory=list)   # per-case lines (with --show-details only)
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
    sandbox_user: str | None = None
    secret_paths: list[str] = field(default_factory=list)     # more folders the child must not see
    work_root: str | None = None          # where the run's temporary folder goes (default: the system's)
    isolation: Isolation | None = None    # use this instead of probing the host (tests, or to turn parts off)


@dataclass
class Report:
    """Everything a grading run found: rows, the seed, the isolation achieved."""

    submissions: list[SubmissionResult]
    seed: int
    isolation: Isolation
    config: GradeConfig

    def as_dict(self) -> dict:
        return {"seed": self.seed, "isolation": self.isolation.as_dict(),
                "isolation_report": self.isolation.lines(),
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


def chapter_exercises(chapter: str) -> tuple[list[Exercise], dict]:
    """The chapter's exercises in registry order, and how the child imports their probes."""
    import cnnlab

    package_parent = str(Path(cnnlab.__file__).resolve().parent.parent)
    fixture = _fixture_module(chapter)
    if fixture is not None:
        return list(fixture.EXERCISES), {"module": fixture.__name__, "file": fixture.__file__,
                                         "paths": [package_parent]}
    return list(checks.exercises(chapter).values()), {"module": f"cnnlab.checks.ch{chapter}",
                                                      "paths": [package_parent]}


def normal_chapter(chapter: str | int) -> str:
    text = str(chapter).strip()
    if not text.isdigit() or len(text) > 2:
        raise ValueError(f"a chapter is a number such as 01, got {chapter!r}")
    return f"{int(text):02d}"


# --------------------------------------------------------------------------- test inputs, drawn once per run

@dataclass
class Prepared:
    """An exercise with this run's cases, the expected answers and the inputs file for the children."""

    exercise: Exercise
    cases: list[dict]
    expected: list[Any]
    inputs: Path
    schema: list[dict]


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


def prepare(ex: Exercise, seed: int, folder: Path) -> Prepared:
    rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(ex.name.encode())]))
    cases = ex.cases(rng)
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
    return Prepared(ex, cases, expected, inputs, schema)


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


def _died(run: ChildRun, limits: Limits) -> tuple[str, str]:
    """Status and message for a child that left no usable answer."""
    code = run.returncode
    sig = -code if code is not None and code < 0 else (code - 128 if code and 128 < code < 160 else None)
    if sig == signal.SIGXCPU:
        return "timeout", f"used more than {int(limits.timeout) + 1} s of CPU time (the limit): is there a loop that never ends?"
    if sig == signal.SIGXFSZ:
        return "crashed", f"tried to write a file over {limits.file_mb} MB"
    if sig == signal.SIGKILL:
        return "memory", "was killed by the system: did it use too much memory?"
    if sig is not None:
        return "crashed", f"the process crashed ({_signal_name(sig)}) before returning its answers"
    return "crashed", (f"the process ended (exit code {code}) before returning its answers: "
                       "does the code call exit(), sys.exit() or os._exit()?")


class Judge:
    """Turns a child's answers into a status, points and a message."""

    def __init__(self, prep: Prepared, config: GradeConfig):
        self.prep, self.config = prep, config
        self.ex = prep.exercise

    def result(self, status: str, message: str, passed: int = 0, details: list[str] | None = None,
               seconds: float = 0.0) -> ExerciseResult:
        total = len(self.prep.cases)
        points = 0.0
        if status == "passed":
            points = float(self.ex.points)
        elif self.config.partial_credit and status in ("wrong", "error", "memory") and total:
            points = round(self.ex.points * passed / total, 2)
        shown = details if self.config.show_details else []
        return ExerciseResult(self.ex.name, float(self.ex.points), points, status, message, passed, total,
                              round(seconds, 3), shown or [])

    def cell_failure(self, failure: dict) -> tuple[str, str]:
        kind, text = failure.get("kind"), str(failure.get("message", ""))[:300]
        if kind == "not_implemented":
            return "missing", "not implemented yet"
        if kind == "memory":
            return "memory", f"running the cell ran out of memory ({self.config.limits.memory_mb} MB)"
        if kind == "forbidden":
            return "forbidden", f"the cell uses {text.split(' is not allowed')[0]}, which is not allowed here"
        if kind == "exit":
            return "crashed", "the cell calls exit(): the grader cannot call your function"
        return "error", f"running the cell raised {text}{_name_hint(text)}"

    def judge(self, meta: dict, arrays: dict, seconds: float) -> ExerciseResult:
        """The result of a child that answered: forbidden use, a failing cell, or case by case."""
        if meta.get("forbidden"):
            names = ", ".join(str(n) for n in meta["forbidden"][:3])
            return self.result("forbidden", f"uses {names}, which is not allowed in this exercise", 0, [], seconds)
        if not meta["cell"].get("ok"):
            status, message = self.cell_failure(meta["cell"])
            return self.result(status, message, seconds=seconds)
        if not meta["function"].get("ok"):
            defined = [str(d) for d in meta["function"].get("defined", []) if isinstance(d, str)][:5]
            also = f" (it defines {', '.join(defined)})" if defined else ""
            return self.result("missing", f"the cell does not define {self.ex.name}(){also}", seconds=seconds)
        outcomes = [self.judge_case(case, expected, outcome, arrays) for case, expected, outcome
                    in zip(self.prep.cases, self.prep.expected, meta["cases"])]
        details = [f"case {i}: {long}" for i, (_, _, long) in enumerate(outcomes, 1)]
        kinds = [kind for kind, _, _ in outcomes]
        passed, total = kinds.count("passed"), len(kinds)
        if passed == total:
            return self.result("passed", f"{passed}/{total} cases passed", passed, details, seconds)
        if kinds.count("not_implemented") == total:
            return self.result("missing", "not implemented yet", 0, details, seconds)
        status = "wrong" if "wrong" in kinds else ("memory" if "memory" in kinds else "error")
        i, (_, short, long) = next((i, o) for i, o in enumerate(outcomes, 1) if o[0] != "passed")
        first = f"case {i}: {long if self.config.show_details else short}"
        return self.result(status, f"{passed}/{total} cases passed; {first}", passed, details, seconds)

    def judge_case(self, case: dict, expected: Any, outcome: dict, arrays: dict) -> tuple[str, str, str]:
        """(kind, short message, message with details) for one case: kind is passed, wrong, memory, ..."""
        inputs = f" (inputs: {_case_inputs(case)})"
        if outcome.get("ok"):
            got = tree_arrays(outcome["tree"], arrays)
            verdict = judge_answer(self.ex, case, got, expected)
            if verdict.ok:
                return "passed", "passed", f"passed{inputs}"
            hint = self.hint(case, got, expected)
            suffix = f": {hint}" if hint else ""
            return "wrong", verdict.message.split("; at ")[0] + suffix, verdict.message + suffix + inputs
        kind = outcome.get("kind")
        text = str(outcome.get("message", ""))[:300]
        short = {"memory": f"ran out of memory ({self.config.limits.memory_mb} MB)",
                 "not_implemented": "not implemented yet",
                 "exit": "called exit()",
                 "convert": f"returned something that is not numbers: {text}",
                 "probe": f"the answer could not be checked: {text}",
                 "too_big": "the answer is too large to check"}.get(kind, f"raised {text}{_name_hint(text)}")
        return (kind if kind in ("memory", "not_implemented") else "error"), short, short + inputs

    def hint(self, case: dict, got: Any, expected: Any) -> str | None:
        if not self.ex.diagnose:
            return None
        try:
            hint = hint_text(self.ex.diagnose(case, got, expected))
        except Exception:                   # noqa: BLE001 - a hint that fails is no hint
            return None
        return str(hint)[:300] if hint else None


# --------------------------------------------------------------------------- a grading run

class Run:
    """State shared by the submissions of one run: seed, sandbox, prepared exercises."""

    def __init__(self, config: GradeConfig, paths: list[Path]):
        self.config = config
        self.seed = config.seed if config.seed is not None else secrets.randbits(32)
        self.isolation = config.isolation or detect_isolation(config.sandbox_user, config.limits)
        secret = [p.resolve().parent for p in paths] + [Path(p) for p in config.secret_paths]
        self.sandbox = Sandbox(config.limits, self.isolation, secret,
                               work_root=Path(config.work_root) if config.work_root else None)
        self.inputs = self.sandbox.root / "inputs"
        self.inputs.mkdir(mode=0o700)
        self._prepared: dict[str, tuple[list[Prepared], dict] | Exception] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.sandbox.close()

    def chapter(self, chapter: str) -> tuple[list[Prepared], dict]:
        with self._lock:
            if chapter not in self._prepared:
                try:
                    exercises, probe = chapter_exercises(chapter)
                    self._prepared[chapter] = ([prepare(ex, self.seed, self.inputs) for ex in exercises], probe)
                except Exception as err:     # noqa: BLE001 - reported on every row of that chapter
                    self._prepared[chapter] = err
            found = self._prepared[chapter]
        if isinstance(found, Exception):
            raise found
        return found

    def grade_exercise(self, prep: Prepared, cells: list[notebook.Cell], probe: dict) -> ExerciseResult:
        judge, ex = Judge(prep, self.config), prep.exercise
        located = notebook.locate(cells, ex.name)
        if located.cell is None:
            return _noted(judge.result("missing", located.problem), located.note)
        source = notebook.plain_python(located.cell.source)
        try:
            notebook.parse(source)
        except (SyntaxError, ValueError) as err:
            line = getattr(err, "lineno", None)
            where = f" on line {line}" if line else ""
            return _noted(judge.result("error", f"the cell has a syntax error{where}: {getattr(err, 'msg', err)}"),
                          located.note)
        uses = scan.forbidden_uses(source, tuple(ex.forbidden))
        if uses:
            listed = ", ".join(str(u) for u in uses[:3])
            return _noted(judge.result("forbidden", f"uses {listed}: not allowed in this exercise "
                                                    f"(forbidden: {', '.join(ex.forbidden)})"), located.note)
        job = {"name": ex.name, "source": source, "inputs": str(prep.inputs), "schema": prep.schema,
               "forbidden": list(ex.forbidden), "probe": probe if ex.probe else None}
        blank = [] if ex.probe else [f for name in ex.forbidden for f in module_files(name)]
        run = self.sandbox.run(job, blank)
        try:
            return _noted(self.judge_run(judge, run), located.note)
        finally:
            run.result.unlink(missing_ok=True)

    def judge_run(self, judge: Judge, run: ChildRun) -> ExerciseResult:
        limits = self.config.limits
        if run.setup_failed:
            print(f"cnnlab grade: sandbox set-up failed: {run.stderr.strip()[-500:]}", file=sys.stderr)
            result = judge.result("error", "the grader could not start its sandbox: tell your instructor",
                                  seconds=run.seconds)
            result.grader_error = True
            return result
        if run.timed_out:
            return judge.result("timeout", f"stopped after {limits.timeout:g} s (the time limit): "
                                           "is there a loop that never ends, or a wait?", seconds=run.seconds)
        try:
            meta, arrays = load_result(run.result, run.nonce, len(judge.prep.cases), limits.output_mb << 20)
        except BadResult as err:
            if run.result.exists():
                return judge.result("crashed", f"the answers came back unreadable ({err})", seconds=run.seconds)
            status, message = _died(run, limits)
            return judge.result(status, message, seconds=run.seconds)
        return judge.judge(meta, arrays, run.seconds)

    def grade_submission(self, path: Path) -> SubmissionResult:
        try:
            return self._grade_submission(path)
        except Exception as err:             # noqa: BLE001 - every submission gets a row
            traceback.print_exc(file=sys.stderr)
            return SubmissionResult(str(path), path.stem, self.config.chapter, [],
                                    f"the grader failed on this notebook ({type(err).__name__}); "
                                    "tell your instructor", grader_error=True)

    def _grade_submission(self, path: Path) -> SubmissionResult:
        chapter = self.config.chapter
        try:
            nb = notebook.read_notebook(path)
        except notebook.NotebookError as err:
            rows = self._all(chapter, "missing", str(err)) if chapter else []
            return SubmissionResult(str(path), path.stem, chapter, rows, str(err))
        cells = notebook.code_cells(nb)
        chapter = chapter or notebook.chapter_hint(path, nb) or infer_chapter(cells)
        if chapter is None or chapter not in known_chapters():
            what = f"chapter {chapter} has no exercises" if chapter else "cannot tell which chapter this is"
            return SubmissionResult(str(path), path.stem, chapter, [],
                                    f"{what}: name the notebook NN_topic.ipynb or pass --chapter NN")
        try:
            prepared, probe = self.chapter(chapter)
        except Exception as err:             # noqa: BLE001
            print(f"cnnlab grade: chapter {chapter}: {type(err).__name__}: {err}", file=sys.stderr)
            return SubmissionResult(str(path), path.stem, chapter, [],
                                    f"the grader could not prepare chapter {chapter}: tell your instructor",
                                    grader_error=True)
        rows = [self.grade_exercise(prep, cells, probe) for prep in prepared]
        return SubmissionResult(str(path), path.stem, chapter, rows, grader_error=any(r.grader_error for r in rows))

    def _all(self, chapter: str, status: str, message: str) -> list[ExerciseResult]:
        try:
            prepared, _ = self.chapter(chapter)
        except Exception:                    # noqa: BLE001
            return []
        return [Judge(p, self.config).result(status, message) for p in prepared]


def _name_hint(text: str) -> str:
    if not text.startswith("NameError"):
        return ""
    return ": the grader runs the exercise cell on its own, so imports and helpers it needs must be inside that cell"


def _noted(result: ExerciseResult, note: str) -> ExerciseResult:
    if note:
        result.message = f"{result.message} (note: {note})"
    return result


def infer_chapter(cells: list[notebook.Cell]) -> str | None:
    """The chapter whose exercise names the notebook's grade ids and functions match best (a last resort)."""
    names = {c.grade_id for c in cells if c.grade_id} | {f for c in cells for f in notebook.defined_functions(c.source)}
    best, score = None, 0
    for chapter in known_chapters():
        try:
            exercises, _ = chapter_exercises(chapter)
        except Exception:                    # noqa: BLE001 - a broken chapter cannot match
            continue
        hits = len(names & {ex.name for ex in exercises})
        if hits > score:
            best, score = chapter, hits
    return best


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
        config: chapter, limits, jobs, seed, details, partial credit, sandbox user.

    Returns:
        A ``Report`` with one ``SubmissionResult`` per path, in order.
    """
    config = config or GradeConfig()
    if config.chapter is not None:
        config.chapter = normal_chapter(config.chapter)
    paths = [Path(p) for p in paths]
    run = Run(config, paths)
    try:
        with ThreadPoolExecutor(max_workers=max(1, config.jobs)) as pool:
            rows = list(pool.map(run.grade_submission, paths))
    finally:
        run.close()
    for row, name in zip(rows, student_names(paths)):
        row.student = name
    return Report(rows, run.seed, run.isolation, config)
