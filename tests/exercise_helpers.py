"""Shared by the tests of the exercise registries: the solution notebooks' own code, cell by cell."""

from __future__ import annotations

from pathlib import Path

import nbformat

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"


def solution_functions(notebook: str) -> dict:
    """Run each graded solution cell of a solution notebook on its own; return name -> function.

    Each cell runs in a fresh namespace, as the grader runs it, so a cell that leans on an
    import from elsewhere in the notebook fails here too.
    """
    nb = nbformat.read(SOLUTIONS / notebook, as_version=4)
    found = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            namespace: dict = {}
            exec(compile(cell.source, meta["grade_id"], "exec"), namespace)
            found[meta["grade_id"]] = namespace[meta["grade_id"]]
    return found
