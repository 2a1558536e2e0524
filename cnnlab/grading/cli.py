"""``cnnlab grade``: score submissions, or build a Gradescope autograder. Lesson: exercises.

    cnnlab grade SUBMISSION.ipynb [SUBMISSION ...] [--chapter NN] [--out DIR] [--feedback DIR]
                 [--format text|json|csv|gradescope] [--timeout SECONDS] [--jobs N] [--memory MB]
                 [--seed N] [--show-details] [--no-partial-credit] [--unsafe-no-isolation]
    cnnlab grade bundle --chapter NN -o autograder.zip [--timeout SECONDS] [--memory MB]
                 [--show-details] [--no-partial-credit]

Exit code: 0 when every submission was graded (whatever it scored), 1 when the grader
itself failed on one, 2 for a usage error or when the host cannot isolate learner code
(the message says what is missing; ``--unsafe-no-isolation`` grades anyway and every
report says so).
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
from pathlib import Path

from cnnlab.grading import report as reports
from cnnlab.grading.grader import GradeConfig, Report, grade, normal_chapter
from cnnlab.grading.sandbox import UNSAFE_FLAG, Limits, SandboxRefused

OUT_NAMES = {"text": "grades.txt", "json": "grades.json", "csv": "grades.csv"}


def _chapter(text: str) -> str:
    try:
        return normal_chapter(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


def _limits_and_policy(parser: argparse.ArgumentParser, memory_mb: int = Limits.memory_mb) -> None:
    parser.add_argument("--timeout", type=_positive(float), default=Limits.timeout,
                        help=f"seconds per exercise, wall clock (default {Limits.timeout:g})")
    parser.add_argument("--memory", type=_positive(int), default=memory_mb,
                        help=f"MB of address space learner code may add (default {memory_mb})")
    parser.add_argument("--show-details", action="store_true",
                        help="show learners the per-case details of the hidden tests (inputs, expected values)")
    parser.add_argument("--no-partial-credit", dest="partial_credit", action="store_false",
                        help="points only for an exercise that passes every case")


def grade_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnnlab grade", description="Grade exercise notebooks: every graded cell runs in its own sandboxed "
                                         "process on fresh inputs; the score is decided here.")
    parser.add_argument("submissions", nargs="+", type=Path, help="submitted .ipynb files")
    parser.add_argument("--chapter", type=_chapter, help="the chapter (default: from the file name or metadata)")
    parser.add_argument("--out", type=Path, help="write the report (and the class summary as summary.html) into "
                                                  "this folder instead of printing it")
    parser.add_argument("--feedback", type=Path, help="write one feedback page per learner into this folder")
    parser.add_argument("--format", choices=reports.FORMATS, default="text")
    parser.add_argument("--jobs", type=_positive(int), default=1, help="submissions graded in parallel")
    parser.add_argument("--seed", type=int, help="seed of the test inputs (default: fresh each run)")
    parser.add_argument(UNSAFE_FLAG, dest="unsafe", action="store_true",
                        help="grade even where this host cannot isolate learner code (trusted submissions only; "
                             "every report says so)")
    _limits_and_policy(parser)
    return parser


def bundle_parser() -> argparse.ArgumentParser:
    from cnnlab.grading import bundle

    parser = argparse.ArgumentParser(prog="cnnlab grade bundle",
                                     description="Build a Gradescope autograder zip for one chapter.")
    parser.add_argument("--chapter", type=_chapter, required=True)
    parser.add_argument("-o", "--output", type=Path, default=Path("autograder.zip"))
    _limits_and_policy(parser, bundle.GRADESCOPE_MEMORY_MB)
    return parser


def folder_name(student: str) -> str:
    """A student name made into one safe folder name: letters, digits, ``._-`` only, never ``.`` or ``..``."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", student).strip("._") or "submission"
    return name[:100]


def write_report(report: Report, fmt: str, out: Path | None) -> list[Path]:
    """Print the report, or write it into ``out`` with the class summary (gradescope: results.json per learner).

    Every folder written is inside ``out``, and two learners never share one.
    """
    if out is None:
        sys.stdout.write(reports.render(report, fmt))
        return []
    out.mkdir(parents=True, exist_ok=True)
    summary = out / "summary.html"
    summary.write_text(reports.summary_html(report), encoding="utf-8")
    if fmt != "gradescope":
        path = out / OUT_NAMES[fmt]
        path.write_text(reports.render(report, fmt), encoding="utf-8")
        return [path, summary]
    written: list[Path] = [summary]
    for sub, folder in zip(report.submissions, learner_places(report, out, len(report.submissions) > 1)):
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "results.json"
        path.write_text(json.dumps(reports.gradescope_results(sub, report), indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


def learner_places(report: Report, base: Path, separate: bool = True) -> list[Path]:
    """One place per learner inside ``base``: distinct safe names (or ``base`` itself for one learner)."""
    base = base.resolve()
    places, taken = [], set()
    for sub in report.submissions:
        if not separate:
            places.append(base)
            continue
        name, n = folder_name(sub.student), 1
        while name.lower() in taken:
            n += 1
            name = f"{folder_name(sub.student)}-{n}"
        taken.add(name.lower())
        place = base / name
        if place.resolve().parent != base:
            raise ValueError(f"refusing to write outside {base}: {place}")
        places.append(place)
    return places


def write_feedback(report: Report, folder: Path) -> list[Path]:
    """One HTML feedback page per learner in ``folder`` (``<student>.html``)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for sub, place in zip(report.submissions, learner_places(report, folder)):
        path = place.with_name(place.name + ".html")
        path.write_text(reports.feedback_html(sub, report), encoding="utf-8")
        written.append(path)
    return written


def _bundle(argv: list[str]) -> int:
    from cnnlab.grading import bundle

    args = bundle_parser().parse_args(argv)
    try:
        path = bundle.build(args.chapter, args.output, Limits(timeout=args.timeout, memory_mb=args.memory),
                            show_details=args.show_details, partial_credit=args.partial_credit)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path} (chapter {args.chapter}): upload it as the Gradescope autograder")
    return 0


class _StopOnSigterm:
    """While grading, SIGTERM ends the run like Ctrl-C, so that the finally blocks remove the sandbox's folders."""

    def __enter__(self):
        def stop(_signum, _frame):
            raise KeyboardInterrupt
        self.previous = signal.getsignal(signal.SIGTERM)
        if self.previous in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, stop)
        return self

    def __exit__(self, *exc):
        if self.previous in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, self.previous or signal.SIG_DFL)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``cnnlab grade``; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "bundle":
            return _bundle(argv[1:])
        if argv and argv[0] == "nbgrader":
            from cnnlab.grading import gradebook

            return gradebook.main(argv[1:])
        args = grade_parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    config = GradeConfig(chapter=args.chapter, limits=Limits(timeout=args.timeout, memory_mb=args.memory),
                         jobs=args.jobs, seed=args.seed, show_details=args.show_details,
                         partial_credit=args.partial_credit, unsafe=args.unsafe,
                         hidden=[str(p) for p in (args.out, args.feedback) if p])
    try:
        with _StopOnSigterm():
            result = grade(args.submissions, config)
    except SandboxRefused as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in write_report(result, args.format, args.out):
        print(f"wrote {path}", file=sys.stderr)
    if args.feedback is not None:
        pages = write_feedback(result, args.feedback)
        print(f"wrote {len(pages)} feedback page(s) into {args.feedback}", file=sys.stderr)
    if args.out is not None:
        total = len(result.submissions)
        print(f"graded {total} submission(s), seed {result.seed}", file=sys.stderr)
    if result.isolation.unsafe:
        print(f"warning: {reports.isolation_statement(result)}", file=sys.stderr)
    return 1 if any(s.grader_error for s in result.submissions) else 0


if __name__ == "__main__":
    sys.exit(main())
