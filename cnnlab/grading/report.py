"""Write a grading report: a text table, JSON, a CSV gradebook, or Gradescope's ``results.json``. Lesson: exercises.

Besides one row per learner, every report says what the class got wrong: for each exercise,
how many submissions passed, how many left it unimplemented, and the classic mistakes the
exercise recognised, most frequent first ("dx: kernel not rotated — 37 of 120"). The summary
is in the text report, in the JSON (``"summary"``) and, with ``--out``, in a small HTML page
with one bar chart per exercise; ``--feedback DIR`` writes one page per learner.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path

from cnnlab.common import Outcome
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


def class_summary(report: Report) -> dict[str, dict[str, dict]]:
    """chapter -> exercise -> {"submissions", "passed", "missing", "mistakes": {label: count}}.

    ``missing`` counts answers left unimplemented (or absent); each recognised mistake counts
    once per submission, however many of its cases showed it; labels run most frequent first.
    """
    found: dict[str, dict[str, dict]] = {}
    for sub in report.submissions:
        for e in sub.exercises:
            entry = found.setdefault(sub.chapter or "??", {}).setdefault(
                e.name, {"submissions": 0, "passed": 0, "missing": 0, "mistakes": {}})
            entry["submissions"] += 1
            entry["passed"] += e.status == Outcome.PASSED
            entry["missing"] += e.status in (Outcome.NOT_IMPLEMENTED, Outcome.MISSING)
            for label in dict.fromkeys(e.mistakes):
                entry["mistakes"][label] = entry["mistakes"].get(label, 0) + 1
    for chapter in found.values():
        for entry in chapter.values():
            entry["mistakes"] = dict(sorted(entry["mistakes"].items(), key=lambda kv: (-kv[1], kv[0])))
    return found


def summary_lines(report: Report, most: int = 5) -> list[str]:
    """The class summary as text: per exercise, the passes and the most frequent mistakes."""
    lines = []
    for chapter, group in class_summary(report).items():
        lines += ["", f"what the class got wrong, chapter {chapter}"]
        for name, entry in group.items():
            n = entry["submissions"]
            lines.append(f"  {name}: {entry['passed']} of {n} passed, {entry['missing']} not implemented")
            for label, count in list(entry["mistakes"].items())[:most]:
                lines.append(f"    {clean(label, 100)} — {count} of {n}")
    return lines


def summary_html(report: Report) -> str:
    """A small page: one horizontal bar chart per exercise (passed, not implemented, each mistake)."""
    parts = [f"<h1>What the class got wrong</h1><p>{len(report.submissions)} submission(s), seed {report.seed}. "
             f"{html.escape(isolation_statement(report))}.</p>"]
    for chapter, group in class_summary(report).items():
        parts.append(f"<h2>Chapter {html.escape(chapter)}</h2>")
        for name, entry in group.items():
            bars = [("passed", entry["passed"], "#1a7f37"), ("not implemented", entry["missing"], "#6e7781")]
            bars += [(label, count, "#cf222e") for label, count in entry["mistakes"].items()]
            parts.append(f"<h3>{html.escape(name)}</h3>" + _bar_chart(bars, entry["submissions"]))
    style = ("body{font-family:sans-serif;max-width:760px;margin:2em auto;color:#1f2328}"
             "h3{margin:1.2em 0 .3em;font-family:monospace}svg text{font-size:12px}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Class summary</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")


def _bar_chart(bars: list[tuple[str, int, str]], total: int, width: int = 720) -> str:
    """An inline SVG bar chart: one labelled bar per (label, count, colour), scaled to ``total``."""
    row, label_width, bar_width = 22, 300, width - 300 - 70
    rows = []
    for i, (label, count, colour) in enumerate(bars):
        y = i * row
        length = 0 if not total else round(bar_width * count / total)
        shown = clean(label, 48)
        rows.append(f"<text x='0' y='{y + 15}'>{html.escape(shown)}</text>"
                    f"<rect x='{label_width}' y='{y + 4}' width='{length}' height='14' fill='{colour}'/>"
                    f"<text x='{label_width + length + 6}' y='{y + 15}'>{count} of {total}</text>")
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{row * len(bars) + 4}' "
            f"role='img'>{''.join(rows)}</svg>")


def feedback_html(sub: SubmissionResult, report: Report) -> str:
    """One learner's page: each exercise, its points, what failed and why (the named cause when recognised)."""
    rows = []
    for e in sub.exercises:
        why = html.escape(clean(e.message, 2000))
        causes = "".join(f"<li>{html.escape(clean(h, 600))}</li>" for h in dict.fromkeys(e.hints))
        rows.append(f"<tr><td><code>{html.escape(e.name)}</code></td><td>{_points(e.points)}/{_points(e.max_points)}"
                    f"</td><td>{html.escape(str(e.status))}</td><td>{why}"
                    + (f"<ul>{causes}</ul>" if causes else "") + "</td></tr>")
    note = f"<p>{html.escape(clean(sub.message, 2000))}</p>" if sub.message else ""
    style = ("body{font-family:sans-serif;max-width:900px;margin:2em auto;color:#1f2328}"
             "td,th{border-bottom:1px solid #d0d7de;padding:.4em;vertical-align:top;text-align:left}"
             "table{border-collapse:collapse}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Feedback: {html.escape(clean(sub.student, 100))}"
            f"</title><style>{style}</style></head><body><h1>Chapter {html.escape(sub.chapter or '??')}: "
            f"{_points(sub.score)}/{_points(sub.max_score)} points</h1>{note}<table><tr><th>exercise</th>"
            f"<th>points</th><th>outcome</th><th>what the grader found</th></tr>{''.join(rows)}</table>"
            f"<p>Each exercise ran on its own, on freshly drawn test inputs. "
            f"{html.escape(isolation_statement(report))}.</p></body></html>\n")


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
    lines += summary_lines(report)
    lines += ["", "isolation of learner code on this machine:", *[f"  {line}" for line in report.isolation.lines()]]
    if report.isolation.unsafe:
        lines += ["", isolation_statement(report)]
    return "\n".join(lines) + "\n"


def as_json(report: Report) -> str:
    return json.dumps(dict(report.as_dict(), summary=class_summary(report)), indent=2) + "\n"


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
