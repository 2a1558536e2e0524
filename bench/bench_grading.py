"""How many submissions per minute does the auto-grader mark? (exercises)

Run:  .venv/bin/python bench/bench_grading.py [--chapters 01 04] [--copies 50] [--jobs 2]

For each chapter, grades ``--copies`` copies of its solution notebook in one run, as
``cnnlab grade --jobs N`` would, and writes submissions per minute to
bench/results/grading.json (one entry per chapter under "runs") with the isolation the
report states, the seconds per exercise child, and the machine's load average (the cores are
shared: a busy machine grades fewer per minute). Every copy must score full marks, or the
run counts for nothing. Targets on 2 cores: chapter 01 (NumPy) 80 per minute, chapter 04
(torch, every child starts from a fork server that imported torch once) 60 per minute.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cnnlab.grading import GradeConfig, Limits, grade

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "grading.json"
TARGETS_PER_MINUTE = {"01": 80, "04": 60}
DEFAULT_TARGET = 60


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapters", nargs="+", default=["01", "04"])
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    return max(bench_chapter(chapter, args.copies, args.jobs) for chapter in args.chapters)


def bench_chapter(chapter: str, copies: int, jobs: int) -> int:
    target = TARGETS_PER_MINUTE.get(chapter, DEFAULT_TARGET)
    solution = next(iter(sorted((ROOT / "solutions").glob(f"{chapter}_*.ipynb"))), None)
    if solution is None:
        print(f"no solution notebook for chapter {chapter}", file=sys.stderr)
        return 1
    folder = Path(tempfile.mkdtemp(prefix="cnnlab-bench-grading-"))
    try:
        paths = []
        for i in range(copies):
            path = folder / f"student{i:03d}" / solution.name
            path.parent.mkdir()
            shutil.copy(solution, path)
            paths.append(path)
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        report = grade(paths, GradeConfig(jobs=jobs, limits=Limits(timeout=60)))
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    rows = report.submissions
    full = sum(1 for r in rows if r.score == r.max_score > 0)
    children = [e.seconds for r in rows for e in r.exercises]
    per_minute = 60 * len(rows) / seconds
    result = {
        "chapter": chapter, "notebook": solution.name, "submissions": len(rows), "jobs": jobs,
        "exercises_per_submission": len(rows[0].exercises) if rows else 0,
        "seconds": round(seconds, 2), "submissions_per_minute": round(per_minute, 1),
        "target_per_minute": target, "meets_target": per_minute >= target,
        "all_full_marks": full == len(rows),
        "child_seconds_median": round(statistics.median(children), 3) if children else None,
        "child_seconds_max": round(max(children), 3) if children else None,
        "isolation": report.isolation.mechanism, "isolation_report": report.isolation.lines(),
        "cpu_count": os.cpu_count(), "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "python": platform.python_version(), "machine": platform.machine(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    runs = json.loads(RESULTS.read_text()).get("runs", {}) if RESULTS.exists() else {}
    runs[chapter] = result                      # one entry per chapter benchmarked
    RESULTS.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    print(f"{len(rows)} submissions of {solution.name} in {seconds:.1f} s with --jobs {jobs}: "
          f"{per_minute:.1f} per minute (target {target}); {full}/{len(rows)} full marks; "
          f"median child {result['child_seconds_median']} s; load {load_before:.1f}")
    print(f"wrote {RESULTS}")
    return 0 if full == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
