"""Notebook builders shared by the grader's tests (loaded by path, not installed)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat

FOLDER = Path(__file__).resolve().parent
REPO = FOLDER.parent.parent

MOVING_SUM = '''import numpy as np


def moving_sum(x, k):
    """Sums of every window of k neighbours: x (N,) -> (N - k + 1,)."""
    ### BEGIN SOLUTION
    return np.array([x[i:i + k].sum() for i in range(len(x) - k + 1)])
    ### END SOLUTION
'''

MAKE_COUNTER = '''def make_counter(start, steps):
    """An object whose step() returns start + 1, start + 2, ..."""
    ### BEGIN SOLUTION
    class Counter:
        def __init__(self):
            self.value = start

        def step(self):
            self.value += 1
            return self.value
    return Counter()
    ### END SOLUTION
'''


def _grader(grade_id: str, solution: bool, points: int | None = None) -> dict:
    meta = {"grade": not solution, "grade_id": grade_id, "locked": not solution, "schema_version": 3,
            "solution": solution}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def fixture_solution() -> nbformat.NotebookNode:
    """The solution notebook of the test-only chapter 90."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Exercises 90: a fixture for the grader's tests"),
        nbformat.v4.new_code_cell("import numpy as np"),
        nbformat.v4.new_markdown_cell("## Exercise 1: moving sums (2 points)"),
        nbformat.v4.new_code_cell(MOVING_SUM, metadata=_grader("moving_sum", True)),
        nbformat.v4.new_code_cell("print(moving_sum(np.arange(5.0), 2))", metadata=_grader("moving_sum_test", False, 2)),
        nbformat.v4.new_markdown_cell("## Exercise 2: a counter (1 point)"),
        nbformat.v4.new_code_cell(MAKE_COUNTER, metadata=_grader("make_counter", True)),
        nbformat.v4.new_code_cell("print(make_counter(0, 1).step())", metadata=_grader("make_counter_test", False, 1)),
    ]
    return nb


def solution_notebook(chapter: str) -> Path:
    """``solutions/NN_*.ipynb`` of the repository."""
    found = sorted((REPO / "solutions").glob(f"{chapter}_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no solution notebook for chapter {chapter}")
    return found[0]


def load(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def cell_of(nb, grade_id: str):
    return next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def with_cell(nb, grade_id: str, source: str):
    """A copy of ``nb`` whose cell ``grade_id`` holds ``source``."""
    nb = copy.deepcopy(nb)
    cell_of(nb, grade_id).source = source
    return nb


def write(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return path
