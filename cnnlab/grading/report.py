"""Write a grading report: a text table, JSON, a CSV gradebook, or Gradescope's ``results.json``. Lesson: exercises."""

from __future__ import annotations

import csv
import io
import json

from cnnlab.grading.grader import Report, SubmissionResult

FORMATS = ("text", "json", "csv", "gradescope")


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
            rows.append([s.student, *cells, f"{_points(s.score)}/{_points(s.max_score)}"])
        lines += ["", f"chapter {chapter}", *_table(rows)]
    problems = []
    for s in subs:
        notes = []
        for e in s.exercises:
            if e.status != "passed" or e.details:
                notes.append(f"  {e.name}: {e.status}, {_points(e.points)}/{_points(e.max_points)}: {e.message}")
                notes += [f"    {line}" for line in e.details]
        if s.message or notes:
            problems += ["", f"{s.student} ({s.path})" + (f": {s.message}" if s.message else ""), *notes]
    if problems:
        lines += ["", "what went wrong" + (" (and every case, --show-details)" if report.config.show_details else ""),
                  *problems[1:]]
    lines += ["", "isolation of learner code on this machine:", *[f"  {line}" for line in report.isolation.lines()]]
    return "\n".join(lines) + "\n"


def as_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2) + "\n"


def gradebook_csv(report: Report) -> str:
    """One row per submission: student, file, chapter, points per exercise, total, maximum, message."""
    names = list(dict.fromkeys(e.name for s in report.submissions for e in s.exercises))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "submission", "chapter", *names, "total", "max_score", "message"])
    for s in report.submissions:
        by_name = {e.name: e for e in s.exercises}
        writer.writerow([s.student, s.path, s.chapter or "", *[_points(by_name[n].points) if n in by_name else ""
                                                                for n in names],
                         _points(s.score), _points(s.max_score), s.message])
    return out.getvalue()


def gradescope_results(submission: SubmissionResult, report: Report) -> dict:
    """Gradescope's ``results.json`` for one submission (a test per exercise, visible to the learner)."""
    tests = []
    for number, e in enumerate(submission.exercises, 1):
        output = e.message + "".join(f"\n{line}" for line in e.details)
        tests.append({"name": e.name, "number": str(number), "score": e.points, "max_score": e.max_points,
                      "status": "passed" if e.status == "passed" else "failed",
                      "output": output, "visibility": "visible", "tags": [e.status]})
    chapter = f"Chapter {submission.chapter}: " if submission.chapter else ""
    summary = (f"{chapter}{_points(submission.score)}/{_points(submission.max_score)} points. "
               "Each exercise was run on its own, on freshly drawn test inputs.")
    if submission.message:
        summary = f"{submission.message}\n{summary}"
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
