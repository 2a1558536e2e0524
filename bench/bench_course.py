"""How long the course takes: every lesson top to bottom, in full mode and in quick mode.

    .venv/bin/python bench/bench_course.py [--modes full quick exercises] [--lessons 04 05] [--cells 8]
                                           [--threads 1] [--no-nbval]

Each lesson notebook (notebooks/NN_*.ipynb) runs in a fresh kernel, as ``make course`` runs it:
once without ``CNNLAB_QUICK`` (full mode: what a self-learner runs, on the full Fashion-MNIST
when it is present) and once with ``CNNLAB_QUICK=1`` (what the tests run, and as they run it:
one OpenMP thread per kernel). The exercise notebooks follow: solutions/NN_*.ipynb (every check
passes, as for a learner who answered) and exercises/NN_*.ipynb (the stubs), with the time
their ``check(...)`` cells take.
Last it times the notebook half of ``make test`` (nbval over notebooks/, solutions/ and
exercises/ with two workers; ``--no-nbval`` skips it).

For every notebook it records the wall seconds, the kernel's CPU seconds (user + system, all
its threads and the children it waited for), the 1-minute load average before and after, and
the slowest cells. On a machine shared with other work the wall seconds stretch; the CPU
seconds say what the run costs on a quiet one, where the lesson's two torch threads keep both
cores busy during training (a quiet-machine wall time between CPU/2 and CPU seconds). The
budgets it checks: full mode at most 300 s per lesson and 30 minutes for the course; quick
mode at most 15 s per lesson.

Results go to bench/results/course.json (merged with the runs already there, by mode and
notebook) and a table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from cnnlab.course import kernel_env

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "course.json"
FULL_LESSON_S, FULL_COURSE_S, QUICK_LESSON_S, NBVAL_S = 300, 1800, 15, 120
ANSI = re.compile(r"\x1b\[[0-9;]*m")             # terminal colours in a traceback
QUICK_THREADS = 1                          # quick mode runs as make test runs it: one thread per kernel


# --------------------------------------------------------------------------- running one notebook

def kernel_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process: all its threads, and the children it has waited for."""
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system + t.children_user + t.children_system


class TimedClient(NotebookClient):
    """An nbclient that notes the wall and kernel CPU seconds of every code cell."""

    def __init__(self, nb, **kw) -> None:
        super().__init__(nb, on_cell_execute=self._cell_starts, on_cell_executed=self._cell_ends, **kw)
        self.cells: list[dict] = []
        self.kernel_cpu = 0.0                    # the kernel's CPU seconds since it started
        self._start = (0.0, 0.0)

    def _kernel_cpu(self) -> float:
        self.kernel_cpu = kernel_cpu_seconds(self.km.provisioner.process.pid)
        return self.kernel_cpu

    def _cell_starts(self, cell, cell_index: int) -> None:
        self._start = (time.perf_counter(), self._kernel_cpu())

    def _cell_ends(self, cell, cell_index: int, execute_reply) -> None:
        wall0, cpu0 = self._start
        first = next((line for line in cell.source.splitlines() if line.strip()), "")
        self.cells.append({"cell": cell_index, "wall_s": round(time.perf_counter() - wall0, 2),
                           "cpu_s": round(self._kernel_cpu() - cpu0, 2), "source": first[:90],
                           "check": "check(" in cell.source})


def run_notebook(path: Path, quick: bool, threads: int | None = None, timeout: int = 3600,
                 keep: Path | None = None) -> dict:
    """Execute ``path`` in a fresh kernel (working directory: its folder) and time it.

    The wall time runs from the kernel's start to the last cell's end; the CPU time is the
    kernel's own over the same span (its start-up included).
    """
    nb = nbformat.read(path, as_version=4)
    client = TimedClient(nb, timeout=timeout, kernel_name="python3",
                         resources={"metadata": {"path": str(path.parent)}})
    load_before = os.getloadavg()[0]
    error = None
    start = time.perf_counter()
    with kernel_env(quick, threads):
        try:
            client.execute()
        except CellExecutionError as err:
            lines = [ANSI.sub("", line) for line in str(err).splitlines() if line.strip()]
            error = lines[-1][:300] if lines else type(err).__name__
    wall = time.perf_counter() - start
    if keep is not None:                         # the executed notebook, outputs and all, to read the numbers
        keep.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, keep / f"{path.parent.name}-{path.stem}-{'quick' if quick else 'full'}.ipynb")
    cells = client.cells
    return {"notebook": str(path.relative_to(ROOT)), "mode": "quick" if quick else "full",
            "threads": threads or "default",
            "wall_s": round(wall, 1), "cpu_s": round(client.kernel_cpu, 1),
            "check_cells_wall_s": round(sum(c["wall_s"] for c in cells if c["check"]), 1),
            "load_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
            "error": error, "cells": cells,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def run_nbval() -> dict:
    """Time ``make test-notebooks`` (nbval over notebooks/, solutions/ and exercises/, quick mode)."""
    load_before = os.getloadavg()[0]
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(["make", "-s", "test-notebooks"], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage.ru_utime - usage0.ru_utime) + (usage.ru_stime - usage0.ru_stime)
    tail = [line for line in done.stdout.splitlines() if line.strip()][-3:]
    return {"command": "make test-notebooks", "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "returncode": done.returncode, "summary": tail,
            "load_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}


# --------------------------------------------------------------------------- the report

def conditions() -> dict:
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine()) if Path("/proc/cpuinfo").exists() else ""
    return {"cpu": cpu, "cores_visible": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(),
            "full_data": full_data_present()}


def full_data_present() -> bool:
    from cnnlab import data

    try:
        data.load_fashion_mnist("test", source="full")
    except (FileNotFoundError, OSError, RuntimeError):
        return False
    return True


def lesson_paths(folder: str, lessons: list[str] | None) -> list[Path]:
    paths = sorted((ROOT / folder).glob("[0-9][0-9]_*.ipynb"))
    return [p for p in paths if not lessons or p.name[:2] in lessons]


def totals(runs: dict) -> dict:
    """Sums per mode, and which notebooks are over their budget."""
    out = {}
    for mode, by_notebook in runs.items():
        rows = list(by_notebook.values())
        limit = {"full": FULL_LESSON_S, "quick": QUICK_LESSON_S}.get(mode)
        out[mode] = {"notebooks": len(rows), "wall_s": round(sum(r["wall_s"] for r in rows), 1),
                     "cpu_s": round(sum(r["cpu_s"] for r in rows), 1),
                     "errors": [r["notebook"] for r in rows if r["error"]]}
        if limit is not None:
            out[mode]["over_budget"] = [r["notebook"] for r in rows if r["wall_s"] > limit]
    return out


def print_table(report: dict, slow_cells: int) -> None:
    runs = report["runs"]
    names = sorted({Path(nb).stem for mode in runs.values() for nb in mode})
    print(f"\n{'notebook':<32} {'mode':<9} {'wall s':>7} {'CPU s':>7} {'load':>11}  budget")
    for name in names:
        for mode, by_notebook in runs.items():
            row = next((r for nb, r in by_notebook.items() if Path(nb).stem == name), None)
            if row is None:
                continue
            limit = {"full": FULL_LESSON_S, "quick": QUICK_LESSON_S}.get(mode)
            verdict = "" if limit is None else ("ok" if row["wall_s"] <= limit else f"OVER {limit} s")
            load = f"{row['load_1min']['before']:.1f}→{row['load_1min']['after']:.1f}"
            print(f"{name:<32} {mode:<9} {row['wall_s']:>7.1f} {row['cpu_s']:>7.1f} {load:>11}  "
                  f"{verdict}{'  ERROR: ' + row['error'] if row['error'] else ''}")
            if slow_cells:
                for cell in sorted(row["cells"], key=lambda c: -c["wall_s"])[:slow_cells]:
                    print(f"{'':<34}cell {cell['cell']:>3}: {cell['wall_s']:6.1f} s wall {cell['cpu_s']:6.1f} s CPU"
                          f"  {cell['source'][:60]}")
    for mode, t in report["totals"].items():
        print(f"{'all ' + mode:<32} {'':<9} {t['wall_s']:>7.1f} {t['cpu_s']:>7.1f}")
    if "full" in report["totals"]:
        total = report["totals"]["full"]["wall_s"]
        print(f"full course: {total / 60:.1f} min of wall time "
              f"({'within' if total <= FULL_COURSE_S else 'over'} {FULL_COURSE_S // 60} min)")
    if report.get("nbval"):
        n = report["nbval"]
        print(f"nbval (make test-notebooks): {n['wall_s']:.0f} s wall, {n['cpu_s']:.0f} s CPU, "
              f"load {n['load_1min']['before']:.1f}→{n['load_1min']['after']:.1f}, exit {n['returncode']} "
              f"({'within' if n['wall_s'] <= NBVAL_S else 'over'} {NBVAL_S} s)")


def save(report: dict, path: Path) -> None:
    report["totals"] = totals(report.get("runs", {}))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", choices=["full", "quick", "exercises"],
                        default=["full", "quick", "exercises"],
                        help="lessons in full mode, in quick mode, and the solution and exercise notebooks")
    parser.add_argument("--lessons", nargs="+", help="two-digit lesson numbers (default: all)")
    parser.add_argument("--cells", type=int, default=0, help="print the N slowest cells of each notebook")
    parser.add_argument("--no-nbval", dest="nbval", action="store_false", help="skip timing make test-notebooks")
    parser.add_argument("--threads", type=int, default=None,
                        help="OpenMP threads of each full-mode and exercise kernel (default: torch's choice, "
                             "one per core, as a learner runs them; quick mode always runs with 1, as make "
                             "test does). On a machine busy with other work, 1 gives honest CPU seconds: "
                             "threads that spin while waiting for a core inflate both wall and CPU time")
    parser.add_argument("--keep", type=Path, help="write each executed notebook (with outputs) into this folder")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    report = json.loads(args.out.read_text()) if args.out.exists() else {}
    report["conditions"] = conditions()
    report["budgets"] = {"full_lesson_s": FULL_LESSON_S, "full_course_s": FULL_COURSE_S,
                         "quick_lesson_s": QUICK_LESSON_S, "nbval_s": NBVAL_S}
    runs = report.setdefault("runs", {})
    plan = [(mode, path, mode == "quick") for mode in args.modes if mode != "exercises"
            for path in lesson_paths("notebooks", args.lessons)]
    if "exercises" in args.modes:
        plan += [("exercises", path, False) for folder in ("solutions", "exercises")
                 for path in lesson_paths(folder, args.lessons)]
    for mode, path, quick in plan:
        row = run_notebook(path, quick, QUICK_THREADS if quick else args.threads, keep=args.keep)
        runs.setdefault(mode, {})[row["notebook"]] = row
        print(f"{row['notebook']:<44} {mode:<9} {row['wall_s']:7.1f} s wall {row['cpu_s']:7.1f} s CPU  "
              f"load {row['load_1min']['before']:.1f}→{row['load_1min']['after']:.1f}"
              f"{'  ERROR: ' + row['error'] if row['error'] else ''}", flush=True)
        save(report, args.out)                   # after every notebook: a long run keeps what it measured
    if args.nbval:
        report["nbval"] = run_nbval()
    save(report, args.out)
    print_table(report, args.cells)
    print(f"\nwritten to {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
