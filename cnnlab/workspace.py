"""The learner's workspace: ``work/``, the learner's own copies of the lessons and exercises.

The course sources (``notebooks/``, ``solutions/``, ``exercises/``) belong to the maintainers
and the tests. A learner works in ``work/`` (ignored by git), which mirrors the course::

    work/notebooks/00_welcome.ipynb ...        the lessons
    work/exercises/01_convolution_by_hand.ipynb ...
    work/UPDATES.md                            one line per thing an update did, newest last
    work/.cnnlab-workspace.json                the manifest: what was copied, and its content key

``refresh`` creates the workspace or brings it in step with the course as it is on disk;
``update`` first takes the course's new commits (``git pull --ff-only``). Neither ever
overwrites a file the learner changed:

- a copy the learner has not changed is replaced by the course's new version;
- a copy the learner changed is kept, and the new version goes beside it
  (``01_convolution_by_hand.new.ipynb``) with a note;
- a copy the learner deleted comes back; a notebook the course removed is removed from the
  workspace only if the learner never changed it;
- files the learner created are never touched.

"Changed" means the cells' text changed: running a notebook (outputs, execution counts) is not
a change. Answers that a learner typed into the course's own ``exercises/`` before the
workspace existed are moved into ``work/exercises/``, and ``exercises/`` gets the course's
version back, so ``cnnlab exercises check`` passes again; lessons they saved in ``notebooks/``
become their first ``work/notebooks/`` copies.

Copies carry no jupytext pairing: the course pairs a notebook with its ``.py`` source only
where the notebook itself asks for it (the maintainers' ``notebooks/`` and ``solutions/``), so
saving a learner's copy in JupyterLab writes the ``.ipynb`` and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nbformat

from cnnlab import exercises

FOLDER = "work"
COPIED = ("notebooks", "exercises")          # course folders a learner works in, mirrored in work/
PATTERN = "[0-9][0-9]_*.ipynb"
START_PAGE = "notebooks/00_welcome.ipynb"    # relative to work/: where `make lab` opens
MANIFEST = ".cnnlab-workspace.json"
NOTES = "UPDATES.md"
KEPT_METADATA = ("nbgrader", "slideshow", "tags")   # cell metadata that is part of the content
SUPPORT = ("notebooks/rise.css",)            # course files the copies need beside them (the slideshow style)
NOTES_HEADER = """# Course updates

What `make lab` and `make update` did to this workspace, newest last. A notebook you changed
is never overwritten: when the course changes it, the new version is put beside yours.

"""


def content_key(nb) -> str:
    """A hash of what a learner writes in a notebook: cell types, sources and grading/slide metadata.

    Outputs and execution counts are left out, so a notebook that was only run keeps its key.
    """
    cells = [[cell.cell_type, cell.source, {k: cell.metadata[k] for k in KEPT_METADATA if k in cell.metadata}]
             for cell in nb.cells]
    return hashlib.sha256(json.dumps(cells, sort_keys=True).encode()).hexdigest()


def file_key(path: Path) -> str | None:
    """``content_key`` of the notebook at ``path``; None when it is missing or not a readable notebook."""
    try:
        return content_key(nbformat.read(path, as_version=4))
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return None


def notebook_text(nb) -> str:
    """A notebook as the course writes it (the same text as ``cnnlab exercises build``)."""
    return nbformat.writes(nb) + "\n"


def learner_copy(path: Path):
    """The course notebook at ``path`` as a learner gets it: no outputs, no jupytext pairing."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("jupytext", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def course_notebooks(course: Path) -> dict[str, Path]:
    """{"notebooks/00_welcome.ipynb": path, ...}: every course notebook a learner gets a copy of."""
    return {f"{folder}/{path.name}": path
            for folder in COPIED for path in sorted((course / folder).glob(PATTERN))}


def chapter(rel: str) -> tuple[str, str]:
    """("notebooks", "05") for "notebooks/05_vgg.ipynb": a notebook keeps these when the course renames it."""
    folder, name = rel.split("/", 1)
    return folder, name[:2]


@dataclass
class Workspace:
    """The workspace of the course at ``course``: its manifest of copies and the notes of this run.

    ``copies`` maps a path inside ``work/`` to ``{"source": course path, "key": content key of the
    course version it holds or started from}``; an entry may also record ``"offered"``, the key of
    the last course version put beside the learner's changed copy.
    """

    course: Path
    copies: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    known: frozenset[str] = frozenset()      # course notebooks the manifest knew when this run began
    created: bool = True                     # no lessons in work/ yet: this run creates the workspace

    @property
    def folder(self) -> Path:
        return self.course / FOLDER

    @classmethod
    def open(cls, course: Path) -> "Workspace":
        """The workspace as its manifest records it. Without a readable manifest every file that
        differs from the course counts as the learner's, so nothing is lost either way."""
        created = not (course / FOLDER / "notebooks").is_dir()
        try:
            copies = json.loads((course / FOLDER / MANIFEST).read_text(encoding="utf-8"))["copies"]
            known = frozenset(entry["source"] for entry in copies.values())
        except (OSError, ValueError, KeyError, TypeError):
            return cls(course, created=created)
        return cls(course, copies=copies, known=known, created=created)

    def save(self) -> None:
        """Write the manifest and append this run's notes to UPDATES.md."""
        self.folder.mkdir(exist_ok=True)
        manifest = {"format": 1, "copies": dict(sorted(self.copies.items()))}
        (self.folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        log = self.folder / NOTES
        if not log.exists():
            log.write_text(NOTES_HEADER, encoding="utf-8")
        if self.notes:
            stamp = datetime.now().strftime("%Y-%m-%d %H:%M")
            with log.open("a", encoding="utf-8") as out:
                out.writelines(f"- {stamp} {line}\n" for line in self.notes)

    def note(self, line: str) -> None:
        self.notes.append(line)

    def shown(self, rel: str) -> str:
        """How a note names a workspace file: from the course folder, where the learner types make."""
        return f"{FOLDER}/{rel}"

    def write(self, rel: str, nb, source: str) -> None:
        path = self.folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(notebook_text(nb), encoding="utf-8")
        self.copies[rel] = {"source": source, "key": content_key(nb)}

    def untouched(self, rel: str) -> bool:
        """True when the copy at ``rel`` holds exactly what the course tooling put there."""
        entry = self.copies.get(rel)
        return entry is not None and self.untouched_entry(self.folder / rel, entry)

    @staticmethod
    def untouched_entry(path: Path, entry: dict) -> bool:
        return entry["key"] is not None and file_key(path) == entry["key"]

    def free_name(self, rel: str, tag: str) -> str:
        """``exercises/01_x.new.ipynb`` for ``exercises/01_x.ipynb`` (then ``.new-2``, …): a name nothing uses."""
        stem = rel.removesuffix(".ipynb")
        for n in range(1, 1000):
            candidate = f"{stem}.{tag}.ipynb" if n == 1 else f"{stem}.{tag}-{n}.ipynb"
            if candidate not in self.copies and not (self.folder / candidate).exists():
                return candidate
        raise FileExistsError(f"{self.shown(rel)}: too many {tag} copies beside it; delete the ones you no longer need")

    # -- bringing one course notebook into the workspace ------------------------------------

    def take(self, rel: str, nb) -> None:
        """Bring course notebook ``rel`` (content ``nb``) into the workspace without losing learner work."""
        key = content_key(nb)
        self.forget_deleted_extras(rel)
        path, entry = self.folder / rel, self.copies.get(rel)
        if not path.exists():
            self.write(rel, nb, rel)
            if not self.created:
                self.note(f"new: {self.shown(rel)}" if entry is None else f"restored: {self.shown(rel)} (it was missing)")
            return
        if entry is None:                        # a file the tooling did not put there
            if file_key(path) == key:
                self.copies[rel] = {"source": rel, "key": key}
                return
            entry = self.copies[rel] = {"source": rel, "key": None}
        elif self.untouched(rel):
            if entry["key"] != key:
                self.write(rel, nb, rel)
                self.note(f"updated: {self.shown(rel)}")
            return
        if entry["key"] != key and entry.get("offered") != key:
            self.offer_beside(rel, nb)

    def forget_deleted_extras(self, rel: str) -> None:
        """Drop manifest entries of copies beside ``rel`` that the learner deleted (they stay deleted)."""
        for other in [p for p, e in self.copies.items() if e["source"] == rel and p != rel]:
            if not (self.folder / other).exists():
                del self.copies[other]

    def offer_beside(self, rel: str, nb) -> None:
        """The learner changed ``rel``: put the course's new version ``nb`` beside it, with a note."""
        beside = next((p for p, e in self.copies.items()
                       if e["source"] == rel and p != rel and self.untouched(p)), None)
        beside = beside or self.free_name(rel, "new")
        self.write(beside, nb, rel)
        self.copies[rel]["offered"] = content_key(nb)
        self.note(f"kept: {self.shown(rel)} has your changes; the course's new version is beside it: "
                  f"{self.shown(beside)}")

    # -- notebooks the course no longer has ------------------------------------------------

    def retire(self, sources: dict[str, Path]) -> None:
        """Handle copies whose course notebook is gone (removed or renamed)."""
        for rel, entry in sorted(self.copies.items()):
            if entry["source"] in sources:
                continue
            del self.copies[rel]
            path = self.folder / rel
            if not path.exists():
                continue
            renamed = self.renamed_to(entry["source"], sources)
            now = f"the course renamed it to {self.shown(renamed)}" if renamed else "the course no longer has it"
            if self.untouched_entry(path, entry):
                path.unlink()
                self.note(f"removed: {self.shown(rel)} ({now}; you had not changed it)")
            else:
                self.note(f"kept: {self.shown(rel)} has your changes; {now}")

    def renamed_to(self, source: str, sources: dict[str, Path]) -> str | None:
        """The course notebook new in this run that took ``source``'s folder and chapter number, if one did."""
        fresh = [rel for rel in sources if chapter(rel) == chapter(source) and rel not in self.known]
        return fresh[0] if len(fresh) == 1 else None

    # -- work typed into the course's own files, before the workspace existed -------------

    def carry_lesson_changes(self) -> None:
        """Give the learner's edits of the course's lessons (``notebooks/``) a place in the workspace.

        Before the workspace existed, saving a lesson rewrote the course's own ``notebooks/NN_x.ipynb``
        (and its ``.py``). When the workspace has no copy of such a lesson yet, its copy is the
        learner's version, recorded as changed from the committed one; the course's files are left
        as they are (they are git's to restore, and may be a maintainer's edits).
        """
        for rel in (r for r in course_notebooks(self.course) if r.startswith("notebooks/")):
            if rel in self.copies or (self.folder / rel).exists():
                continue
            committed, on_disk = committed_key(self.course, rel), file_key(self.course / rel)
            if committed is None or on_disk is None or on_disk == committed:
                continue
            self.write(rel, learner_copy(self.course / rel), rel)
            self.copies[rel] = {"source": rel, "key": committed, "offered": on_disk}
            self.note(f"copied: your changes to {rel} are in {self.shown(rel)}; {rel} keeps them too "
                      "until you restore it (`git checkout -- notebooks/`)")

    def rescue_exercises(self) -> None:
        """Move answers typed into the course's ``exercises/`` into ``work/exercises/``.

        Before the workspace existed learners filled in ``exercises/NN_*.ipynb`` itself. Such a
        notebook differs from what ``solutions/`` generates (and from the committed version):
        it goes to the workspace, and ``exercises/`` gets the generated version back. The
        ``.py`` twin that jupytext used to write beside it is deleted when it holds the same
        cells as the notebook, else moved too.
        """
        for solution in sorted((self.course / "solutions").glob(PATTERN)):
            rel = f"exercises/{solution.name}"
            path = self.course / rel
            if not path.exists():
                continue
            generated = exercises.student_version(nbformat.read(solution, as_version=4))
            self.clear_twin(rel)
            if holds_answers(self.course, rel, generated):
                self.keep_answers(rel, generated)

    def keep_answers(self, rel: str, generated) -> None:
        course_file = self.course / rel
        dest = rel if not (self.folder / rel).exists() or self.untouched(rel) else self.free_name(rel, "from-exercises")
        (self.folder / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(course_file, self.folder / dest)
        if dest == rel:
            self.copies[rel] = {"source": rel, "key": content_key(generated)}
        course_file.write_text(notebook_text(generated), encoding="utf-8")
        self.note(f"moved: your answers in {rel} are now in {self.shown(dest)}; "
                  f"{rel} is the course's version again")

    def clear_twin(self, rel: str) -> None:
        """Deal with the ``.py`` that jupytext wrote beside ``exercises/NN_x.ipynb``, if any."""
        twin = (self.course / rel).with_suffix(".py")
        if not twin.exists():
            return
        if same_cells(twin, self.course / rel):
            twin.unlink()
            self.note(f"deleted: {twin.relative_to(self.course)} (a copy of {rel} that jupytext wrote)")
            return
        dest = self.folder / "exercises" / twin.name
        n = 2
        while dest.exists():
            dest, n = dest.with_name(f"{twin.stem}.from-exercises-{n}.py"), n + 1
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(twin, dest)
        self.note(f"moved: {twin.relative_to(self.course)} to {dest.relative_to(self.course)}")


def same_cells(script: Path, notebook: Path) -> bool:
    """True when the jupytext script ``script`` holds the same cells as ``notebook``."""
    try:
        import jupytext
    except ImportError:
        return False
    try:
        return content_key(jupytext.read(script)) == file_key(notebook)
    except (OSError, ValueError):
        return False


def committed_key(course: Path, rel: str) -> str | None:
    """Content key of ``rel`` as committed (git HEAD), or None outside a git clone."""
    if shutil.which("git") is None:
        return None
    shown = subprocess.run(["git", "-C", str(course), "show", f"HEAD:./{rel}"], capture_output=True, text=True)
    if shown.returncode != 0:
        return None
    try:
        return content_key(nbformat.reads(shown.stdout, as_version=4))
    except (ValueError, KeyError):
        return None


def holds_answers(course: Path, rel: str, generated) -> bool:
    """True when ``course/rel`` (an exercise notebook) holds work that neither solutions/ nor git made."""
    key = file_key(course / rel)
    return key != content_key(generated) and key != committed_key(course, rel)


def refresh(course: Path | None = None) -> list[str]:
    """Create ``work/`` or bring it in step with the course on disk; return the notes (one line each).

    Runs no network command: ``make lab`` calls it every time, offline too.
    """
    course = exercises.repo_root(course)
    ws = Workspace.open(course)
    ws.rescue_exercises()
    ws.carry_lesson_changes()
    sources = course_notebooks(course)
    for rel, path in sources.items():
        ws.take(rel, learner_copy(path))
    ws.retire(sources)
    for rel in SUPPORT:                      # given once; a learner's edits to it are theirs
        if (course / rel).exists() and not (ws.folder / rel).exists():
            (ws.folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(course / rel, ws.folder / rel)
    if ws.created:
        lessons = sum(rel.startswith("notebooks/") for rel in sources)
        ws.note(f"created: {FOLDER}/ with your own copies of {lessons} lessons and "
                f"{len(sources) - lessons} exercise notebooks; start with {FOLDER}/{START_PAGE}")
    ws.save()
    return ws.notes


def rescue(course: Path | None = None) -> list[str]:
    """Only the ``exercises/`` part of ``refresh``: run before ``cnnlab exercises build`` rewrites it."""
    course = exercises.repo_root(course)
    ws = Workspace.open(course)
    ws.rescue_exercises()
    if ws.notes:
        ws.save()
    return ws.notes


def exercises_with_answers(course: Path | None = None) -> list[str]:
    """The course's exercise notebooks that hold a learner's answers (see ``rescue_exercises``)."""
    course = exercises.repo_root(course)
    found = []
    for solution in sorted((course / "solutions").glob(PATTERN)):
        rel = f"exercises/{solution.name}"
        generated = exercises.student_version(nbformat.read(solution, as_version=4))
        if (course / rel).exists() and holds_answers(course, rel, generated):
            found.append(rel)
    return found


def git(course: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(course), *args], capture_output=True, text=True)


def pull(course: Path) -> tuple[bool, list[str]]:
    """``git pull --ff-only`` when the course is a git clone with an upstream; (ok, lines to print)."""
    if shutil.which("git") is None or git(course, "rev-parse", "--show-toplevel").returncode != 0:
        return True, ["this course folder is not a git clone: no new commits to take; "
                      "the workspace is refreshed from the course as it is"]
    upstream = git(course, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}")
    if upstream.returncode != 0:
        return True, ["the current branch has no upstream to pull from; "
                      "the workspace is refreshed from the course as it is"]
    before = git(course, "rev-parse", "HEAD").stdout.strip()
    pulled = git(course, "pull", "--ff-only")
    if pulled.returncode != 0:
        return False, [pulled.stderr.strip() or pulled.stdout.strip(), *pull_advice(course)]
    after = git(course, "rev-parse", "HEAD").stdout.strip()
    if before == after:
        return True, [f"the course is up to date with {upstream.stdout.strip()}"]
    count = git(course, "rev-list", "--count", f"{before}..{after}").stdout.strip()
    return True, [f"took {count} new course commit(s) from {upstream.stdout.strip()}"]


def pull_advice(course: Path) -> list[str]:
    """What to do when git refused the update: which course files have local changes."""
    changed = [line[3:] for line in git(course, "status", "--porcelain", "--untracked-files=no").stdout.splitlines()]
    advice = ["git could not take the course update (its message is above); your workspace is untouched"]
    if changed:
        advice.append("course files with local changes: " + ", ".join(changed))
        advice.append(f"your own work belongs in {FOLDER}/: copy anything you want from these files there, then "
                      "`git stash` (which keeps the changes aside; `git stash pop` brings them back) "
                      "and run `make update` again")
    return advice


def update(course: Path | None = None) -> tuple[bool, list[str]]:
    """Take the course's new commits, then refresh the workspace; (ok, lines to print).

    Answers left in the course's ``exercises/`` are moved out first, so git finds nothing
    of the learner's in the files it updates. When git refuses, the workspace is left as it is.
    """
    course = exercises.repo_root(course)
    lines = rescue(course)
    ok, pulled = pull(course)
    lines += pulled
    if ok:
        lines += refresh(course)
    return ok, lines


def lab_command(course: Path, extra: list[str]) -> list[str]:
    """The JupyterLab command of ``cnnlab lab``: serves ``work/`` and opens the start page.

    The start page is JupyterLab's default URL, so the URL printed with ``--no-browser``
    opens lesson 00 too. JupyterLab refuses to run as root unless told; containers and CI
    often do, so root gets ``--allow-root``.
    """
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={course / FOLDER}",
               f"--LabApp.default_url=/lab/tree/{START_PAGE}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return command + list(extra)
