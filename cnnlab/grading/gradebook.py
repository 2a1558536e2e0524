"""``cnnlab grade nbgrader``: grade nbgrader's ``submitted/`` folder safely and write the scores back. Lesson: exercises.

nbgrader's own ``autograde`` runs a student's notebook, test cells included, in one kernel:
whatever the student's code does there, the test cells cannot be trusted (a student can set
or remove an environment variable, patch ``check`` or NumPy). So the nbgrader route is for
formative feedback, and marks come from ``cnnlab grade``::

    cnnlab grade nbgrader ps1 --course COURSE_DIR [--jobs N] [--timeout S] [--memory MB]

grades every ``COURSE_DIR/submitted/<student>/ps1/*.ipynb`` in the sandbox (students are
named by their nbgrader id), then writes each exercise's points into nbgrader's gradebook as
the manual score of its test cell (``<exercise>_test``), with the grader's message as the
comment on the answer cell. ``nbgrader export`` and ``generate_feedback`` then show these.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnnlab.grading.grader import GradeConfig, Report, grade
from cnnlab.grading.sandbox import UNSAFE_FLAG, Limits, SandboxRefused


def submitted(course: Path, assignment: str) -> list[tuple[str, Path]]:
    """(student id, notebook) for every notebook nbgrader collected for ``assignment``."""
    found = []
    for folder in sorted((course / "submitted").glob(f"*/{assignment}")):
        if folder.is_dir():
            found += [(folder.parent.name, p) for p in sorted(folder.glob("*.ipynb"))]
    return found


def write_back(report: Report, students: list[str], course: Path, assignment: str, db_url: str | None) -> int:
    """Each exercise's points as the manual score of its test cell; the message as the answer cell's comment.

    Returns the number of grades written.
    """
    from nbgrader.api import Gradebook, MissingEntry

    written = 0
    with Gradebook(db_url or f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student, row in zip(students, report.submissions):
            gb.update_or_create_student(student)
            try:
                gb.find_submission(assignment, student)
            except MissingEntry:
                gb.add_submission(assignment, student)
            notebook = Path(row.path).stem
            for result in row.exercises:
                try:
                    cell = gb.find_grade(f"{result.name}_test", notebook, assignment, student)
                except MissingEntry:
                    continue
                scale = cell.max_score / result.max_points if result.max_points else 0.0
                cell.manual_score = round(result.points * scale, 2)
                cell.needs_manual_grade = False
                try:
                    comment = gb.find_comment(result.name, notebook, assignment, student)
                    comment.manual_comment = f"cnnlab grade: {result.status}, {result.points:g}/{result.max_points:g}: " \
                                             f"{result.message}"
                except MissingEntry:
                    pass
                written += 1
            gb.db.commit()
    return written


def parser() -> argparse.ArgumentParser:
    found = argparse.ArgumentParser(prog="cnnlab grade nbgrader",
                                    description="Grade nbgrader's submitted/ folder in cnnlab's sandbox and write "
                                                "the scores into nbgrader's gradebook.")
    found.add_argument("assignment", help="the nbgrader assignment, e.g. ps1")
    found.add_argument("--course", type=Path, default=Path("."), help="nbgrader's course folder (default: here)")
    found.add_argument("--db", help="the gradebook's database URL (default: sqlite:///COURSE/gradebook.db)")
    found.add_argument("--jobs", type=int, default=1)
    found.add_argument("--timeout", type=float, default=Limits.timeout)
    found.add_argument("--memory", type=int, default=Limits.memory_mb)
    found.add_argument(UNSAFE_FLAG, dest="unsafe", action="store_true",
                       help="grade even where this host cannot isolate learner code (every comment says so)")
    return found


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    course = args.course.resolve()
    found = submitted(course, args.assignment)
    if not found:
        print(f"error: no notebooks in {course}/submitted/*/{args.assignment}/", file=sys.stderr)
        return 2
    folders = [course / part for part in ("source", "release", "submitted", "autograded", "feedback")]
    config = GradeConfig(limits=Limits(timeout=args.timeout, memory_mb=args.memory), jobs=max(1, args.jobs),
                         unsafe=args.unsafe, hidden=[str(f) for f in folders if f.is_dir()])
    try:
        report = grade([path for _, path in found], config)
    except SandboxRefused as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    written = write_back(report, [student for student, _ in found], course, args.assignment, args.db)
    for (student, _), row in zip(found, report.submissions):
        print(f"{student}: {row.score:g}/{row.max_score:g}" + (f" ({row.message})" if row.message else ""))
    print(f"wrote {written} grades into nbgrader's gradebook", file=sys.stderr)
    return 1 if any(row.grader_error for row in report.submissions) else 0
