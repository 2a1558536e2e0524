"""The course's graded cells, run the way the grader runs them (shared by conftest.py and the planting helpers).

The grader runs an exercise's cell on its own, after the cells named in ``Exercise.uses``
(the capstone calls the learner's own layers; ``adam_weight_decay`` calls ``adam``), in one
fresh namespace; so a cell that leans on an import from elsewhere in the notebook fails here too.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from cnnlab.checks import get

ROOT = Path(__file__).resolve().parents[1]


def notebook_path(chapter: str, folder: str = "solutions") -> Path:
    """The notebook of ``chapter`` (e.g. "04") in ``folder`` ("solutions" or "exercises")."""
    (path,) = sorted((ROOT / folder).glob(f"{chapter}_*.ipynb"))
    return path


def graded_sources(path: Path) -> dict[str, str]:
    """grade_id -> source of every graded solution cell of a notebook, in notebook order."""
    nb = nbformat.read(path, as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in nb.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")}


def function_from_cells(name: str, sources: dict[str, str], label: str = "") -> object:
    """Run the cells exercise ``name`` uses, then its own cell, in one fresh namespace; return its function."""
    namespace: dict = {"__name__": "__main__"}
    for used in (*get(name).uses, name):
        exec(compile(sources[used], f"{label}:{used}", "exec"), namespace)
    return namespace[name]
