"""The Gradescope side: grade ``$AUTOGRADER_ROOT/submission`` and write ``results/results.json``. Lesson: exercises.

``run_autograder`` (written by ``cnnlab grade bundle``) runs::

    python -m cnnlab.grading.gradescope --root "${AUTOGRADER_ROOT:-/autograder}" --config cnnlab-autograder.json

A results file is always written: when no notebook was submitted, or the grader itself
fails, the learner gets 0 and a message saying so (the details go to the hidden stdout).
The autograder's source, results and submission folders are out of the learner code's view.

Gradescope runs the script as root in a container without ``CAP_SYS_ADMIN``: learner code
gets a dedicated user id, Landlock and seccomp where the kernel has them. ``setup.sh`` also
calls ``--lock-down``, which makes the installed course package unreadable to other users
except the modules the chapter's exercises may import, so that file permissions alone keep
the reference code out of reach on a kernel without Landlock.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import traceback
from pathlib import Path

from cnnlab.grading import view
from cnnlab.grading.grader import GradeConfig, chapter_exercises, grade, normal_chapter, refusal_message
from cnnlab.grading.report import gradescope_results
from cnnlab.grading.sandbox import Limits, SandboxRefused

DEFAULT_ROOT = "/autograder"


def pick_notebook(folder: Path, chapter: str) -> tuple[Path | None, str]:
    """The submitted notebook to grade, and a note when there was a choice."""
    found = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if len(found) <= 1:
        return (found[0] if found else None), ""
    named = [p for p in found if p.name.startswith(f"{chapter}_")] or found
    return named[0], f"{len(found)} notebooks were submitted; graded {named[0].relative_to(folder)}"


def load_config(path: Path | None) -> dict:
    return json.loads(path.read_text()) if path else {}


def autograde(root: Path, settings: dict) -> dict:
    """Grade the submission under ``root`` with the bundle's settings; return results.json's content."""
    chapter = normal_chapter(settings["chapter"])
    notebook, note = pick_notebook(root / "submission", chapter)
    if notebook is None:
        return {"score": 0.0, "output": "No .ipynb notebook was found in your submission: upload the "
                                        f"chapter {chapter} exercise notebook.", "tests": []}
    limits = Limits(timeout=float(settings.get("timeout", Limits.timeout)),
                    memory_mb=int(settings.get("memory_mb", Limits.memory_mb)))
    config = GradeConfig(chapter=chapter, limits=limits, show_details=bool(settings.get("show_details", False)),
                         partial_credit=bool(settings.get("partial_credit", True)),
                         hidden=[str(root / part) for part in ("source", "results", "submission")])
    try:
        report = grade([notebook], config)
    except SandboxRefused as err:
        print(refusal_message_for_log(err))
        return {"score": 0.0, "output": "The autograder could not isolate your code on this machine, so it "
                                        "did not run it. Your instructor has the details.", "tests": []}
    results = gradescope_results(report.submissions[0], report)
    if note:
        results["output"] = f"{note}\n{results['output']}"
    import cnnlab

    print(f"cnnlab from {Path(cnnlab.__file__).resolve().parent}")
    print("isolation of learner code:", *report.isolation.lines(), sep="\n  ")
    return results


def refusal_message_for_log(err: SandboxRefused) -> str:
    return f"cnnlab: {err}"


def readable_modules(chapter: str, package: Path | None = None) -> set[str]:
    """Paths in ``package`` (default: the installed one) that ``chapter``'s exercises may import, with their folders."""
    import cnnlab

    installed = Path(cnnlab.__file__).resolve().parent
    package = (package or installed).resolve()
    keep: set[str] = set()
    for ex in chapter_exercises(chapter):
        files, _ = view.course_module_files(ex.imports, ("cnnlab.checks", "cnnlab.grading",
                                                         *[f for f in ex.forbidden if f.startswith("cnnlab")]))
        for file in files:
            inside = package / Path(file).relative_to(installed)
            keep.add(str(inside))
            keep.update(str(parent) for parent in inside.parents if parent == package or package in parent.parents)
    return keep


def lock_down(chapter: str, copies: list[str] | None = None) -> set[str]:
    """Make the course package unreadable to other users, except what ``chapter``'s exercises may import.

    Run as root by ``setup.sh`` on every copy of the package Python can find (``copies``
    overrides that); the grader, as root, still reads everything. Returns the paths left
    readable in the last copy.
    """
    keep: set[str] = set()
    for copy in copies if copies is not None else view.course_copies(view.python_roots()):
        keep = readable_modules(chapter, Path(copy))
        for path in [Path(copy), *Path(copy).rglob("*")]:
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                continue
            mode = stat.S_IMODE(info.st_mode)
            if str(path.resolve()) in keep:
                mode |= 0o055 if stat.S_ISDIR(info.st_mode) else 0o044
            else:
                mode &= ~0o077
            os.chmod(path, mode)
    return keep


def write_results(results: dict, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "results.json"
    partial = folder / "results.json.tmp"
    partial.write_text(json.dumps(results, indent=2))
    os.replace(partial, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnlab.grading.gradescope",
                                     description="Grade a Gradescope submission with cnnlab.")
    parser.add_argument("--root", default=os.environ.get("AUTOGRADER_ROOT", DEFAULT_ROOT))
    parser.add_argument("--config", type=Path, help="the bundle's cnnlab-autograder.json")
    parser.add_argument("--chapter", help="overrides the config's chapter")
    parser.add_argument("--lock-down", action="store_true",
                        help="(setup.sh) make the installed course package unreadable to other users, except the "
                             "modules this chapter's exercises may import")
    args = parser.parse_args(argv)
    if args.lock_down:
        settings = load_config(args.config)
        kept = lock_down(normal_chapter(args.chapter or settings["chapter"]))
        print(f"course package locked down; readable to learner code: {len(kept)} paths")
        return 0
    root = Path(args.root).resolve()
    try:
        settings = load_config(args.config)
        if args.chapter:
            settings["chapter"] = args.chapter
        results = autograde(root, settings)
        code = 0
    except Exception:                        # noqa: BLE001 - the learner still gets a results file
        traceback.print_exc()
        results = {"score": 0.0, "output": "The autograder failed on this submission; your instructor "
                                           "has the details. Please tell them.", "tests": []}
        code = 1
    print(f"wrote {write_results(results, root / 'results')}")
    return code


if __name__ == "__main__":
    sys.exit(main())
