"""cnnlab.exercises: exercise notebooks generated from solution notebooks, and drift detection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from cnnlab import checks, exercises
from cnnlab.checks import Exercise

ROOT = Path(__file__).resolve().parents[1]

DEMO = Exercise("scale", "99", 3, lambda rng: [dict(x=rng.standard_normal(3), k=2)], lambda x, k: x * k)

SOLUTION = '''import numpy as np

def scale(x, k):
    """Multiply x by k."""
    ### BEGIN SOLUTION
    out = x * k
    return out
    ### END SOLUTION'''

TEST = '''check(scale)
### BEGIN HIDDEN TESTS
assert scale(np.ones(2), 3).sum() == 6
### END HIDDEN TESTS'''


def meta(grade_id, solution, grade, points=None):
    m = {"grade": grade, "grade_id": grade_id, "locked": not solution, "schema_version": 3, "solution": solution}
    if points is not None:
        m["points"] = points
    return {"nbgrader": m}


def demo_notebook(points=3, solution=SOLUTION):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Demo"),
        nbformat.v4.new_code_cell("from cnnlab.checks import check"),
        nbformat.v4.new_code_cell(solution, metadata=meta("scale", True, False)),
        nbformat.v4.new_code_cell(TEST, metadata=meta("scale_test", False, True, points)),
        nbformat.v4.new_markdown_cell("Explain.", metadata=meta("why", True, False)),
    ]
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="hello")]
    nb.cells[2].execution_count = 3
    return nb


@pytest.fixture
def course(tmp_path, monkeypatch):
    monkeypatch.setattr(checks, "exercises", lambda chapter=None: {"scale": DEMO})
    (tmp_path / "solutions").mkdir()
    nbformat.write(demo_notebook(), tmp_path / "solutions" / "99_demo.ipynb")
    return tmp_path


def test_stub_keeps_the_signature_and_names_the_exercise():
    stub = exercises.stub_source(SOLUTION, "scale")
    assert 'def scale(x, k):\n    """Multiply x by k."""\n    # YOUR CODE HERE\n' in stub
    assert '    raise NotImplementedError("scale: write your solution here")' in stub
    assert "x * k" not in stub and "BEGIN" not in stub
    namespace = {}
    exec(stub, namespace)
    with pytest.raises(NotImplementedError, match="scale"):
        namespace["scale"](np.ones(1), 2)


@pytest.mark.parametrize("broken, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("x = 1\n### END SOLUTION\n", "without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "nested"),
])
def test_broken_markers_are_reported(broken, message):
    with pytest.raises(exercises.ExerciseError, match=message):
        exercises.stub_source(broken, "scale")


def test_hidden_tests_are_removed():
    assert exercises.strip_hidden(TEST) == "check(scale)\n"


def test_build_writes_clean_stubs_and_check_detects_drift(course):
    status = exercises.build(course)
    target = course / "exercises" / "99_demo.ipynb"
    assert status == {target: "written"}
    nb = nbformat.read(target, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "NotImplementedError" in code[1].source and "HIDDEN" not in code[2].source
    assert nb.cells[4].source == "YOUR ANSWER HERE"
    assert code[2].metadata["nbgrader"]["points"] == 3
    assert exercises.check(course) == []
    target.write_text(target.read_text().replace("YOUR CODE HERE", "edited by hand"))
    assert exercises.check(course) == [f"{target}: drift"]
    (course / "exercises" / "98_stray.ipynb").write_text("{}")
    assert f"{course / 'exercises' / '98_stray.ipynb'}: stray" in exercises.check(course)


@pytest.mark.parametrize("change, message", [
    (lambda nb: nb.cells[3].metadata["nbgrader"].update(points=5), "points 5 but the exercise is worth 3"),
    (lambda nb: nb.cells[2].metadata["nbgrader"].update(grade_id="scale_x"), "no exercise called 'scale_x'"),
    (lambda nb: nb.cells[3].metadata["nbgrader"].update(grade_id="scale"), "unique"),
    (lambda nb: nb.cells[2].metadata["nbgrader"].update(extra=1), "unknown keys"),
    (lambda nb: nb.cells[2].metadata["nbgrader"].update(schema_version=2), "schema_version"),
    (lambda nb: nb.cells.pop(2) and nb.cells.pop(2), "without a solution cell"),
])
def test_validation_names_the_problem(course, change, message):
    nb = demo_notebook()
    change(nb)
    nbformat.write(nb, course / "solutions" / "99_demo.ipynb")
    with pytest.raises(exercises.ExerciseError, match=message):
        exercises.build(course)


def test_real_exercises_are_in_step_with_solutions():
    assert exercises.check(ROOT) == []


def test_every_registered_exercise_has_a_solution_cell():
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        names = exercises.validate(nbformat.read(path, as_version=4), path)
        assert sorted(names) == sorted(checks.exercises(exercises.chapter_of(path)))


def test_cli_check_exit_code(tmp_path):
    run = subprocess.run([sys.executable, "-m", "cnnlab.cli", "exercises", "check"], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    lonely = tmp_path / "nowhere"
    lonely.mkdir()
    run = subprocess.run([sys.executable, "-m", "cnnlab.cli", "exercises", "check"], cwd=lonely,
                         capture_output=True, text=True)
    assert run.returncode == 1 and "solutions/" in run.stderr
