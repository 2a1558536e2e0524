"""Write a grading report: a text table, JSON, a CSV gradebook, or Gradescope's ``results.json``. Lesson: exercises."""

from __future__ import annotations

import csv
import io
import json
import re

from cnnlab.grading.grader import Report, SubmissionResult
from cnnlab.grading.sandbox import UNSAFE_FLAG

FORMATS = ("text", "json", "csv", "gradescope")
MAX_FIELD = 400                  # characters of one name or message in a report
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def clean(text: object, limit: int = MAX_FIELD) -> str:
    """A name or message made safe to print: no control or bidirectional characters, at most ``limit`` long.

    Function names, messages and file names come from learners; a terminal escape sequence
    in one must not redraw the report.
    """
    text = CONTROL.sub("?", str(text)).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def isolation_statement(report: Report) -> str:
    """One line for every results file: how learner code was isolated, or that it was not."""
    if report.isolation.unsafe:
        return f"UNSAFE: graded with {UNSAFE_FLAG}; learner code was not fully isolated"
    return f"learner code isolated ({report.isolation.mechanism})"


def _points(value: float) -> str:
    return f"{value:g}"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]


def text(report: Report) -> str:
    """A table per chapter (points per exercise, total), what went wrong, and the isolation achieved."""
    subs = report.submissions
    lines = [f"cnnlab grade: {len(subs)} submission(s), seed {report.seed}"]
    chapters = sorted({s.chapter or "??" for s in subs})
    for chapter in chapters:
        group = [s for s in subs if (s.chapter or "??") == chapter]
        names = list(dict.fromkeys(e.name for s in group for e in s.exercises))
        rows = [["student", *names, "total"]]
        for s in group:
            by_name = {e.name: e for e in s.exercises}
            cells = [f"{_points(by_name[n].points)}/{_points(by_name[n].max_points)}" if n in by_name else "-"
                     for n in names]
            rows.append([clean(s.student, 60), *cells, f"{_points(s.score)}/{_points(s.max_score)}"])
        lines += ["", f"chapter {chapter}", *_table(rows)]
    problems = []
    for s in subs:
        notes = []
        for e in s.exercises:
            if e.status != "passed" or e.details:
                notes.append(f"  {e.name}: {e.status}, {_points(e.points)}/{_points(e.max_points)}: {clean(e.message)}")
                notes += [f"    {clean(line)}" for line in e.details]
        if s.message or notes:
            problems += ["", f"{clean(s.student, 60)} ({clean(s.path, 200)})" + (f": {clean(s.message)}" if s.message else ""),
                         *notes]
    if problems:
        lines += ["", "what went wrong" + (" (and every case, --show-details)" if report.config.show_details else ""),
                  *problems[1:]]
    lines += ["", "isolation of learner code on this machine:", *[f"  {line}" for line in report.isolation.lines()]]
    if report.isolation.unsafe:
        lines += ["", isolation_statement(report)]
    return "\n".join(lines) + "\n"


def as_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2) + "\n"


def gradebook_csv(report: Report) -> str:
    """One row per submission: student, file, chapter, points per exercise, total, maximum, message."""
    names = list(dict.fromkeys(e.name for s in report.submissions for e in s.exercises))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "submission", "chapter", *names, "total", "max_score", "message", "isolation"])
    statement = isolation_statement(report)
    for s in report.submissions:
        by_name = {e.name: e for e in s.exercises}
        writer.writerow([clean(s.student, 200), clean(s.path, 400), s.chapter or "",
                         *[_points(by_name[n].points) if n in by_name else "" for n in names],
                         _points(s.score), _points(s.max_score), clean(s.message), statement])
    return out.getvalue()


def gradescope_results(submission: SubmissionResult, report: Report) -> dict:
    """Gradescope's ``results.json`` for one submission (a test per exercise, visible to the learner)."""
    tests = []
    for number, e in enumerate(submission.exercises, 1):
        output = clean(e.message, 2000) + "".join(f"\n{clean(line, 2000)}" for line in e.details)
        tests.append({"name": e.name, "number": str(number), "score": e.points, "max_score": e.max_points,
                      "status": "passed" if e.status == "passed" else "failed",
                      "output": output, "visibility": "visible", "tags": [str(e.status)]})
    chapter = f"Chapter {submission.chapter}: " if submission.chapter else ""
    summary = (f"{chapter}{_points(submission.score)}/{_points(submission.max_score)} points. "
               "Each exercise was run on its own, on freshly drawn test inputs.")
    if submission.message:
        summary = f"{clean(submission.message, 2000)}\n{summary}"
    if report.isolation.unsafe:
        summary += f"\n{isolation_statement(report)}"
    return {"score": submission.score, "output": summary, "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests}


def render(report: Report, fmt: str) -> str:
    """The report as text in one of FORMATS (gradescope: one results.json, or a list for several)."""
    if fmt == "text":
        return text(report)
    if fmt == "json":
        return as_json(report)
    if fmt == "csv":
        return gradebook_csv(report)
    if fmt == "gradescope":
        results = [gradescope_results(s, report) for s in report.submissions]
        return json.dumps(results[0] if len(results) == 1 else results, indent=2) + "\n"
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
