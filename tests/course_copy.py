"""A throwaway copy of this course for tests that run what a learner runs (make lab, make update).

``course_repository`` commits the checkout's files, as they are on disk, into a new git
repository that plays the course's upstream; ``learner_clone`` clones it the way a learner
does and lends it this checkout's ``.venv``, so ``make`` in the clone starts at once and the
real checkout is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
GIT_ENV = {"GIT_AUTHOR_NAME": "course", "GIT_AUTHOR_EMAIL": "course@example.org",
           "GIT_COMMITTER_NAME": "course", "GIT_COMMITTER_EMAIL": "course@example.org"}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV})
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def course_repository(dest: Path) -> Path:
    """A git repository holding the course as this checkout has it on disk (edits included)."""
    listed = git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    git(dest, "init", "-q")
    commit_all(dest, "the course")
    return dest


def learner_clone(upstream: Path, dest: Path) -> Path:
    """A learner's clone of ``upstream`` that uses this checkout's environment."""
    subprocess.run(["git", "clone", "-q", str(upstream), str(dest)], check=True, capture_output=True)
    (dest / ".venv").symlink_to(VENV, target_is_directory=True)
    with open(dest / ".git" / "info" / "exclude", "a") as exclude:
        exclude.write(".venv\n")                       # .gitignore's ".venv/" does not match a link
    # make rebuilds the environment when pyproject.toml or constraints.txt is newer than its stamp
    stamp = (VENV / ".cnnlab-installed").stat().st_mtime
    for name in ("pyproject.toml", "constraints.txt"):
        os.utime(dest / name, (stamp - 60, stamp - 60))
    return dest
