"""Exercise notebooks: generated from the solution notebooks, never edited by hand.

A solution notebook (``solutions/NN_topic.ipynb``) marks each answer with nbgrader cell
metadata and markers, so real nbgrader understands it too::

    # %% nbgrader={"grade": false, "grade_id": "conv2d_single", "locked": false, "schema_version": 3, "solution": true}
    def conv2d_single(x, w):
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

    # %% nbgrader={"grade": true, "grade_id": "conv2d_single_test", "locked": true, "points": 2, "schema_version": 3, "solution": false}
    check(conv2d_single)

``build`` writes ``exercises/NN_topic.ipynb`` with each marked region replaced by a stub
that raises ``NotImplementedError`` naming the exercise, hidden tests removed and outputs
cleared; ``check`` reports any drift between the two folders.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

from cnnlab import checks

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
NBGRADER_KEYS = {"schema_version", "grade", "solution", "locked", "task", "grade_id", "points",
                 "checksum", "cell_type"}
GRADE_ID = re.compile(r"^[A-Za-z0-9_-]+$")


class ExerciseError(ValueError):
    """A solution notebook breaks the exercise conventions; the message names the cell."""


def repo_root(start: Path | None = None) -> Path:
    """The course folder: the nearest parent of ``start`` (or the cwd) holding ``solutions/``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "solutions").is_dir():
            return folder
    raise FileNotFoundError("no solutions/ folder here or above; run this from the course folder")


def chapter_of(path: Path) -> str:
    """"01" for ``solutions/01_convolution.ipynb``."""
    match = re.match(r"(\d\d)_", path.name)
    if not match:
        raise ExerciseError(f"{path.name}: solution notebooks are named NN_topic.ipynb")
    return match.group(1)


def stub_source(source: str, grade_id: str) -> str:
    """Replace every BEGIN/END SOLUTION region of a code cell by a stub naming the exercise."""
    out, inside = [], False
    for line in source.splitlines():
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise ExerciseError(f"{grade_id}: nested {BEGIN}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}# YOUR CODE HERE")
            out.append(f'{indent}raise NotImplementedError("{grade_id}: write your solution here")')
        elif marker == END:
            if not inside:
                raise ExerciseError(f"{grade_id}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ExerciseError(f"{grade_id}: {BEGIN} is never closed")
    return "\n".join(out)


def strip_hidden(source: str) -> str:
    """Remove BEGIN/END HIDDEN TESTS regions (instructor-only tests)."""
    pattern = re.compile(rf"^[ \t]*{re.escape(BEGIN_HIDDEN)}.*?^[ \t]*{re.escape(END_HIDDEN)}[^\n]*\n?",
                         re.S | re.M)
    return pattern.sub("", source)


def nbgrader_meta(cell) -> dict | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    return dict(meta) if meta else None


def validate(nb, path: Path) -> list[str]:
    """Check a solution notebook against the conventions and the registry; return the exercise names."""
    chapter = chapter_of(path)
    registry = checks.exercises(chapter)
    seen, names = set(), []
    for i, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        if meta is None:
            if BEGIN in cell.source:
                raise ExerciseError(f"{path.name} cell {i}: solution markers without nbgrader metadata")
            continue
        where = f"{path.name} cell {i} ({meta.get('grade_id')})"
        extra = set(meta) - NBGRADER_KEYS
        if extra:
            raise ExerciseError(f"{where}: nbgrader metadata has unknown keys {sorted(extra)}")
        if meta.get("schema_version") != 3:
            raise ExerciseError(f"{where}: nbgrader schema_version must be 3")
        grade_id = meta.get("grade_id", "")
        if not GRADE_ID.match(grade_id) or grade_id in seen:
            raise ExerciseError(f"{where}: grade_id must be unique letters, digits, _ or -")
        seen.add(grade_id)
        if meta.get("solution") and cell.cell_type == "code":
            if BEGIN not in cell.source:
                raise ExerciseError(f"{where}: a solution cell needs {BEGIN} / {END}")
            if grade_id not in registry:
                raise ExerciseError(f"{where}: no exercise called {grade_id!r} in cnnlab.checks.ch{chapter}")
            names.append(grade_id)
        if meta.get("grade"):
            base = grade_id.removesuffix("_test")
            if base in registry and meta.get("points") != registry[base].points:
                raise ExerciseError(f"{where}: points {meta.get('points')} but the exercise is worth "
                                    f"{registry[base].points}")
    missing = set(registry) - set(names)
    if missing:
        raise ExerciseError(f"{path.name}: exercises without a solution cell: {sorted(missing)}")
    return names


def student_version(nb):
    """The exercise notebook for solution notebook ``nb`` (a new object; ``nb`` is unchanged)."""
    out = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in out.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if meta is None:
            continue
        if meta.get("solution"):
            if cell.cell_type == "code":
                cell.source = stub_source(cell.source, meta["grade_id"])
            else:
                cell.source = "YOUR ANSWER HERE"
        if meta.get("grade"):
            cell.source = strip_hidden(cell.source)
    out.metadata.pop("jupytext", None)
    return out


def _text(nb) -> str:
    return nbformat.writes(nb) + "\n"


def build(root: Path | None = None, write: bool = True) -> dict[Path, str]:
    """Generate every exercise notebook; return {exercise path: status} ("written", "unchanged", "drift")."""
    root = repo_root(root)
    solutions = sorted((root / "solutions").glob("[0-9][0-9]_*.ipynb"))
    if not solutions:
        raise ExerciseError(f"no solution notebooks in {root / 'solutions'}")
    status = {}
    for path in solutions:
        nb = nbformat.read(path, as_version=4)
        validate(nb, path)
        target = root / "exercises" / path.name
        text = _text(student_version(nb))
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            status[target] = "unchanged"
        elif write:
            target.parent.mkdir(exist_ok=True)
            target.write_text(text, encoding="utf-8")
            status[target] = "written"
        else:
            status[target] = "drift"
    if not write:
        expected = {root / "exercises" / p.name for p in solutions}
        for stray in sorted((root / "exercises").glob("*.ipynb")):
            if stray not in expected:
                status[stray] = "stray"
    return status


def check(root: Path | None = None) -> list[str]:
    """Problems that ``build`` would fix (empty when exercises/ is in step with solutions/)."""
    return [f"{path}: {state}" for path, state in build(root, write=False).items()
            if state not in ("unchanged",)]
