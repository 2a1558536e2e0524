"""Build a Gradescope autograder zip for one chapter. Lesson: exercises.

The zip holds, at its root:

- ``setup.sh``: run once by Gradescope (as root) to build the image: a venv in
  ``/autograder/venv`` with the CPU build of torch, cnnlab's dependencies and the cnnlab
  wheel below;
- ``run_autograder`` (Gradescope runs a copy of it from ``/autograder``): grades ``$AUTOGRADER_ROOT/submission/*.ipynb`` (root ``/autograder``
  unless ``AUTOGRADER_ROOT`` says otherwise) with the same grader as ``cnnlab grade`` and
  writes ``$AUTOGRADER_ROOT/results/results.json``;
- ``cnnlab-autograder.json``: the chapter, time and memory limits, detail and credit policy;
- ``requirements.txt`` and ``dist/cnnlab-VERSION-py3-none-any.whl``: the package as it is
  now, zipped into a wheel (pure Python; the same files ``pip install .`` would install).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import re
import stat
import zipfile
from pathlib import Path

from cnnlab.grading.grader import chapter_exercises, normal_chapter
from cnnlab.grading.sandbox import Limits

GRADESCOPE_MEMORY_MB = 1024      # Gradescope containers have 768 MB by default; address space is not all touched

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
[ -d "$HERE/dist" ] || HERE=/autograder/source          # Gradescope may run a copy from /autograder
cd "$HERE"
if ! command -v python3 >/dev/null 2>&1 || ! python3 -m venv --help >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip
fi
python3 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --quiet --upgrade pip
# The CPU build of torch is a fraction of the default download.
/autograder/venv/bin/python -m pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu
/autograder/venv/bin/python -m pip install --quiet -r requirements.txt
/autograder/venv/bin/python -m pip install --quiet --no-deps dist/*.whl
/autograder/venv/bin/python -c "import cnnlab.grading; print('cnnlab autograder ready')"
# Learner code runs as a dedicated user id: keep this folder (config, wheel) and the course's
# reference code out of its reach even where the kernel has no Landlock.
chmod -R go-rwx /autograder/source
/autograder/venv/bin/python -m cnnlab.grading.gradescope --lock-down --config "$HERE/cnnlab-autograder.json"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission. Locally: AUTOGRADER_ROOT=/some/folder ./run_autograder
# (with CNNLAB_PYTHON pointing at a Python that has cnnlab installed).
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${CNNLAB_PYTHON:-$ROOT/venv/bin/python}"
if [ ! -x "$PYTHON" ]; then PYTHON="$(command -v python3)"; fi
CONFIG="$HERE/cnnlab-autograder.json"
[ -f "$CONFIG" ] || CONFIG="$ROOT/source/cnnlab-autograder.json"  # Gradescope runs a copy from $ROOT
mkdir -p "$ROOT/results"
exec "$PYTHON" -m cnnlab.grading.gradescope --root "$ROOT" --config "$CONFIG"
"""


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def package_files(package: Path) -> list[Path]:
    """Every file of the package except caches."""
    return sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix not in (".pyc", ".pyo"))


def build_wheel(folder: Path) -> Path:
    """Zip the installed cnnlab package into a pure-Python wheel in ``folder``."""
    import cnnlab

    package = Path(cnnlab.__file__).resolve().parent
    try:
        meta = importlib.metadata.metadata("cnnlab")
        version, requires = meta["Version"], importlib.metadata.requires("cnnlab") or []
        summary = meta.get("Summary", "")
    except importlib.metadata.PackageNotFoundError:
        version, requires, summary = getattr(cnnlab, "__version__", "0.0.0"), [], ""
    dist_info = f"cnnlab-{version}.dist-info"
    wheel = folder / f"cnnlab-{version}-py3-none-any.whl"
    metadata = "\n".join(["Metadata-Version: 2.1", "Name: cnnlab", f"Version: {version}", f"Summary: {summary}",
                          "Requires-Python: >=3.10", *[f"Requires-Dist: {r}" for r in requires]]) + "\n"
    wheel_file = "Wheel-Version: 1.0\nGenerator: cnnlab.grading.bundle\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    records = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        def add(name: str, data: bytes) -> None:
            zf.writestr(name, data)
            records.append(f"{name},{_record_hash(data)},{len(data)}")
        for path in package_files(package):
            add(f"cnnlab/{path.relative_to(package).as_posix()}", path.read_bytes())
        add(f"{dist_info}/METADATA", metadata.encode())
        add(f"{dist_info}/WHEEL", wheel_file.encode())
        add(f"{dist_info}/top_level.txt", b"cnnlab\n")
        records.append(f"{dist_info}/RECORD,,")
        zf.writestr(f"{dist_info}/RECORD", "\n".join(records) + "\n")
    return wheel


def requirements() -> str:
    """cnnlab's runtime dependencies (no extras), one per line."""
    try:
        requires = importlib.metadata.requires("cnnlab") or []
    except importlib.metadata.PackageNotFoundError:
        requires = ["numpy>=1.24", "torch>=2.2"]
    return "".join(f"{r}\n" for r in requires if "extra ==" not in r)


def build(chapter: str, target: Path, limits: Limits | None = None, show_details: bool = False,
          partial_credit: bool = True) -> Path:
    """Write the autograder zip for ``chapter`` to ``target``; return its path.

    Args:
        chapter: two-digit chapter with exercises, e.g. "01".
        target: the zip file to write.
        limits: time and memory limits per exercise.
        show_details: let learners see per-case details of the hidden tests.
        partial_credit: points for a fraction of the cases passed.
    """
    chapter = normal_chapter(chapter)
    exercises = chapter_exercises(chapter)             # fails early for a chapter without exercises
    limits = limits or Limits(memory_mb=GRADESCOPE_MEMORY_MB)
    settings = {"chapter": chapter, "timeout": limits.timeout, "memory_mb": limits.memory_mb,
                "show_details": show_details, "partial_credit": partial_credit,
                "exercises": {ex.name: ex.points for ex in exercises}}
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(target.name + ".parts")
    staging.mkdir(exist_ok=True)
    try:
        wheel = build_wheel(staging)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, text, mode in [("setup.sh", SETUP_SH, 0o755), ("run_autograder", RUN_AUTOGRADER, 0o755),
                                     ("cnnlab-autograder.json", json.dumps(settings, indent=2) + "\n", 0o644),
                                     ("requirements.txt", requirements(), 0o644)]:
                info = zipfile.ZipInfo(name)
                info.external_attr = (stat.S_IFREG | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, text)
            zf.write(wheel, f"dist/{wheel.name}")
    finally:
        for path in staging.iterdir():
            path.unlink()
        staging.rmdir()
    return target


def wheel_name(zip_path: Path) -> str:
    """The wheel inside an autograder zip."""
    with zipfile.ZipFile(zip_path) as zf:
        names = [n for n in zf.namelist() if re.fullmatch(r"dist/cnnlab-[^/]+\.whl", n)]
    if len(names) != 1:
        raise ValueError(f"{zip_path} holds {len(names)} cnnlab wheels")
    return names[0]
