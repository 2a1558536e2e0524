"""Our solution notebooks work with real nbgrader: its student version matches ours, and our grader marks it.

nbgrader's ``generate_assignment`` runs on a solution notebook in a temporary course
folder; the release must equal ``cnnlab.exercises.student_version`` in substance: the same
cells in the same order, the same sources once the stub's message is set aside, the same
grade ids, points and cell flags (nbgrader adds only ``checksum`` and ``cell_type``).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cnnlab.exercises import student_version

pytest.importorskip("nbgrader")

HELPERS_PATH = Path(__file__).parent / "grading_fixtures" / "helpers.py"
_spec = importlib.util.spec_from_file_location("cnnlab_grading_test_helpers", HELPERS_PATH)
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

STUB = re.compile(r"raise NotImplementedError\(.*\)")
NBGRADER_ADDS = {"checksum", "cell_type"}


def _substance(nb) -> list[tuple]:
    cells = []
    for cell in nb.cells:
        meta = dict(cell.metadata.get("nbgrader", {}))
        for key in NBGRADER_ADDS:
            meta.pop(key, None)
        cells.append((cell.cell_type, STUB.sub("raise NotImplementedError()", cell.source).rstrip(), meta))
    return cells


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    solution = helpers.solution_notebook("01")
    course = tmp_path_factory.mktemp("course")
    source = course / "source" / "ps1"
    source.mkdir(parents=True)
    shutil.copy(solution, source / solution.name)
    bin_dir = str(Path(sys.executable).parent)         # nbgrader calls alembic from the same environment
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "ps1", "--force",
                           f"--CourseDirectory.root={course}"], cwd=course, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    release = course / "release" / "ps1" / solution.name
    assert release.is_file(), done.stderr[-3000:]
    return solution, release


@pytest.mark.slow
def test_nbgrader_release_matches_our_student_version(released):
    solution, release = released
    ours = student_version(helpers.load(solution))
    theirs = helpers.load(release)
    assert _substance(theirs) == _substance(ours)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in theirs.cells if "nbgrader" in c.metadata]
    assert ids == [c.metadata["nbgrader"]["grade_id"] for c in ours.cells if "nbgrader" in c.metadata]
    points = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"].get("points")
              for c in theirs.cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert points == {"conv2d_single_test": 2, "conv2d_multi_test": 3, "conv1x1_test": 1}
    assert not any("### BEGIN SOLUTION" in c.source for c in theirs.cells)


@pytest.mark.slow
def test_our_grader_marks_nbgraders_release_as_not_implemented(released, tmp_path):
    from cnnlab.grading import GradeConfig, Limits, grade

    _, release = released
    copy = tmp_path / release.name
    shutil.copy(release, copy)
    row = grade([copy], GradeConfig(limits=Limits(timeout=30))).submissions[0]
    assert row.chapter == "01" and row.score == 0 and row.max_score == 6
    assert all(e.message == "not implemented yet" for e in row.exercises)


# --------------------------------------------------------------------------- marks: nbgrader's folders, cnnlab's sandbox

CHEAT = "import os\nos.environ.pop('NBGRADER_EXECUTION', None)\n"


@pytest.fixture(scope="module")
def course_with_submissions(released):
    """A course where alice solved the exercises and bob left the stubs but switched the checks off."""
    solution, release = released
    course = release.parents[2]
    honest = helpers.load(solution)
    cheat = helpers.load(release)
    first = next(c for c in cheat.cells if c.cell_type == "code")
    first.source = CHEAT + first.source
    for student, nb in (("alice", honest), ("bob", cheat)):
        helpers.write(nb, course / "submitted" / student / "ps1" / release.name)
    return course


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    env.pop("CNNLAB_CHECKS_STRICT", None)
    return subprocess.run([sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}"], cwd=course,
                          env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_nbgraders_own_autograde_is_fooled_and_cnnlab_grade_nbgrader_is_not(course_with_submissions):
    course = course_with_submissions
    for student in ("alice", "bob"):
        (course / "submitted" / student / "ps1" / "timestamp.txt").write_text("2026-11-30 10:00:00 UTC")
    done = _nbgrader(course, "autograde", "ps1", "--force")
    assert done.returncode == 0, done.stderr[-3000:]
    fooled = _export(course)
    assert fooled["bob"] == 6.0                  # nbgrader alone: the stubs "pass" once the checks are switched off
    from cnnlab.grading import cli

    assert cli.main(["nbgrader", "ps1", "--course", str(course), "--jobs", "2"]) == 0
    marks = _export(course)
    assert marks == {"alice": 6.0, "bob": 0.0}


def _export(course: Path) -> dict[str, float]:
    import csv

    target = course / "grades.csv"
    done = _nbgrader(course, "export", f"--CsvExportPlugin.to={target}")
    assert done.returncode == 0, done.stderr[-3000:]
    with open(target) as f:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
