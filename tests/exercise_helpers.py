"""Shared by the tests of the exercise registries: the notebooks' own code, cell by cell, and verdicts."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np

from cnnlab.checks import get, judge_answer, run_exercise

ROOT = Path(__file__).resolve().parents[1]


def notebook_path(chapter: str, folder: str = "solutions") -> Path:
    """The notebook of ``chapter`` (e.g. "04") in ``folder`` ("solutions" or "exercises")."""
    (path,) = sorted((ROOT / folder).glob(f"{chapter}_*.ipynb"))
    return path


def graded_sources(notebook: str | Path, folder: str = "solutions") -> dict[str, str]:
    """grade_id -> source of every graded solution cell of a notebook, in notebook order."""
    path = notebook if isinstance(notebook, Path) else ROOT / folder / notebook
    nb = nbformat.read(path, as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in nb.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")}


def function_from_cells(name: str, sources: dict[str, str], label: str = "") -> object:
    """Run the cells an exercise uses, then its own cell, in one fresh namespace; return its function.

    This is how the grader runs an exercise: its cell on its own, after the cells named in
    ``Exercise.uses`` (the capstone calls the learner's own layers), so a cell that leans on
    an import from elsewhere in the notebook fails here too.
    """
    namespace: dict = {"__name__": "__main__"}
    for used in (*get(name).uses, name):
        exec(compile(sources[used], f"{label}:{used}", "exec"), namespace)
    return namespace[name]


def solution_functions(notebook: str | Path, folder: str = "solutions") -> dict:
    """Each graded cell of a notebook run as the grader runs it; return name -> function.

    ``notebook`` is a file name inside ``folder`` or a path. In an exercises/ notebook the
    same cells hold the stubs.
    """
    path = notebook if isinstance(notebook, Path) else ROOT / folder / notebook
    sources = graded_sources(path)
    return {name: function_from_cells(name, sources, path.name) for name in sources}


def assert_passes(name, fn):
    result = run_exercise(get(name), fn)
    assert result.status == "passed", result.line()


def diagnosed(name: str, fn, seed: int | None = 0) -> list[tuple[str, str | None]]:
    """(kind, label) for every case of ``name`` that ``fn`` does not pass.

    kind is "wrong" (an answer that differs; label: the diagnosed mistake's, or None) or
    "raised" (the function failed; label None). Cases that pass are left out.
    """
    ex = get(name)
    found = []
    for case in ex.cases(np.random.default_rng(seed)):
        expected = ex.reference(**case)
        if ex.probe:
            expected = ex.probe(expected, case)
        try:
            got = fn(**{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()})
            if ex.probe:
                got = ex.probe(got, case)
        except Exception:                                        # noqa: BLE001 - the planted code may fail
            found.append(("raised", None))
            continue
        if judge_answer(ex, case, got, expected).ok:
            continue
        mistake = ex.diagnose(case, got, expected) if ex.diagnose else None
        found.append(("wrong", mistake.label if mistake else None))
    return found


def assert_fails(name, fn, label=None, seeds=(0,)):
    """``fn`` fails; with ``label``, every diagnosed wrong case names that mistake, and at least one does."""
    for seed in seeds:
        failures = diagnosed(name, fn, seed)
        assert failures, f"{name}: the answer passed (seed {seed})"
        if label is None:
            continue
        labels = {found for kind, found in failures if kind == "wrong" and found is not None}
        assert labels == {label}, f"{name} (seed {seed}): diagnosed {failures}, expected {label!r}"
