"""Shared by the tests of the exercise registries: the notebooks' own code, cell by cell, and verdicts."""

from __future__ import annotations

from pathlib import Path

import nbformat

from cnnlab.checks import get, run_exercise

ROOT = Path(__file__).resolve().parents[1]


def notebook_path(chapter: str, folder: str = "solutions") -> Path:
    """The notebook of ``chapter`` (e.g. "04") in ``folder`` ("solutions" or "exercises")."""
    (path,) = sorted((ROOT / folder).glob(f"{chapter}_*.ipynb"))
    return path


def solution_functions(notebook: str | Path, folder: str = "solutions") -> dict:
    """Run each graded solution cell of a notebook on its own; return name -> function.

    ``notebook`` is a file name inside ``folder`` or a path. In an exercises/ notebook the
    same cells hold the stubs. Each cell runs in a fresh namespace, as the grader runs it,
    so a cell that leans on an import from elsewhere in the notebook fails here too.
    """
    path = notebook if isinstance(notebook, Path) else ROOT / folder / notebook
    nb = nbformat.read(path, as_version=4)
    found = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            namespace: dict = {}
            exec(compile(cell.source, f"{path.name}:{meta['grade_id']}", "exec"), namespace)
            found[meta["grade_id"]] = namespace[meta["grade_id"]]
    return found


def assert_passes(name, fn):
    result = run_exercise(get(name), fn)
    assert result.status == "passed", result.line()


def assert_fails(name, fn, hint=None):
    result = run_exercise(get(name), fn)
    assert result.status in ("wrong", "error"), result.line()
    if hint is not None:
        assert hint in result.message, result.message
