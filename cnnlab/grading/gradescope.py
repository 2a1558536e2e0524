"""The Gradescope side: grade ``$AUTOGRADER_ROOT/submission`` and write ``results/results.json``. Lesson: exercises.

``run_autograder`` (written by ``cnnlab grade bundle``) runs::

    python -m cnnlab.grading.gradescope --root "${AUTOGRADER_ROOT:-/autograder}" --config cnnlab-autograder.json

A results file is always written: when no notebook was submitted, or the grader itself
fails, the learner gets 0 and a message saying so (the details go to the hidden stdout).
The whole autograder root is hidden from the learner's code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path

from cnnlab.grading.grader import GradeConfig, grade, normal_chapter
from cnnlab.grading.report import gradescope_results
from cnnlab.grading.sandbox import Limits

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
                         secret_paths=[str(root)])
    report = grade([notebook], config)
    results = gradescope_results(report.submissions[0], report)
    if note:
        results["output"] = f"{note}\n{results['output']}"
    import cnnlab

    print(f"cnnlab from {Path(cnnlab.__file__).resolve().parent}")
    print("isolation of learner code:", *report.isolation.lines(), sep="\n  ")
    return results


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
    args = parser.parse_args(argv)
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
