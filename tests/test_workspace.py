"""cnnlab.workspace: the learner's own copies in work/, course updates that never lose their work."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from cnnlab import cli, exercises, workspace
from cnnlab.workspace import FOLDER

ROOT = Path(__file__).resolve().parents[1]
GIT_ENV = {"GIT_AUTHOR_NAME": "course", "GIT_AUTHOR_EMAIL": "course@example.org",
           "GIT_COMMITTER_NAME": "course", "GIT_COMMITTER_EMAIL": "course@example.org"}
PAIRED = {"jupytext": {"formats": "ipynb,py:percent"},
          "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
SOLUTION_CELL = 'def double(x):\n    """Twice x."""\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION'
ANSWER = 'def double(x):\n    """Twice x."""\n    return x + x   # my answer'
NBGRADER = {"grade": False, "grade_id": "double", "locked": False, "schema_version": 3, "solution": True}


def notebook(*sources: str, metadata: dict | None = None):
    nb = nbformat.v4.new_notebook(metadata=dict(metadata or PAIRED))
    nb.cells = [nbformat.v4.new_markdown_cell(sources[0]), *map(nbformat.v4.new_code_cell, sources[1:])]
    return nb


def solution(intro: str = "# Exercises 01"):
    nb = notebook(intro, "x = 1")
    nb.cells.append(nbformat.v4.new_code_cell(SOLUTION_CELL, metadata={"nbgrader": NBGRADER}))
    return nb


def write(path: Path, nb) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(workspace.notebook_text(nb), encoding="utf-8")


def publish(course: Path, sol) -> None:
    """What a maintainer does: write the solution notebook and regenerate its exercise."""
    write(course / "solutions" / "01_topic.ipynb", sol)
    write(course / "exercises" / "01_topic.ipynb", exercises.student_version(sol))


def git(course: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(course), *args], capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV})
    assert done.returncode == 0, done.stderr
    return done.stdout


def commit(course: Path, message: str) -> None:
    git(course, "add", "-A")
    git(course, "commit", "-q", "-m", message)


@pytest.fixture
def course(tmp_path):
    """A two-lesson, one-exercise course, committed to git as a maintainer would."""
    root = tmp_path / "course"
    write(root / "notebooks" / "00_welcome.ipynb", notebook("# Welcome", "print('hello')"))
    write(root / "notebooks" / "01_topic.ipynb", notebook("# Topic", "y = 2"))
    publish(root, solution())
    (root / ".gitignore").write_text("work/\n")
    git(root, "init", "-q")
    commit(root, "course")
    return root


def cells(path: Path) -> list[str]:
    return [cell.source for cell in nbformat.read(path, as_version=4).cells]


def type_answer(path: Path, answer: str = ANSWER) -> None:
    """What a learner does in JupyterLab: replace the stub by an answer and save."""
    nb = nbformat.read(path, as_version=4)
    [cell] = [c for c in nb.cells if "NotImplementedError" in c.source]
    cell.source = answer
    nbformat.write(nb, path)


def test_fresh_workspace_holds_plain_copies(course):
    notes = workspace.refresh(course)
    assert notes == [f"created: {FOLDER}/ with your own copies of 2 lessons and 1 exercise notebooks; "
                     f"start with {FOLDER}/notebooks/00_welcome.ipynb"]
    work = course / FOLDER
    assert sorted(p.relative_to(work).as_posix() for p in work.rglob("*.ipynb")) == [
        "exercises/01_topic.ipynb", "notebooks/00_welcome.ipynb", "notebooks/01_topic.ipynb"]
    lesson = nbformat.read(work / "notebooks" / "00_welcome.ipynb", as_version=4)
    assert "jupytext" not in lesson.metadata                     # no pairing travels with the copy
    assert cells(work / "exercises" / "01_topic.ipynb") == cells(course / "exercises" / "01_topic.ipynb")
    assert notes[0] in (work / "UPDATES.md").read_text()
    assert workspace.refresh(course) == []                        # a second run has nothing to do
    assert git(course, "status", "--porcelain") == ""            # work/ is the learner's, not git's


def test_the_slideshow_style_is_given_once_and_then_left_alone(course):
    (course / "notebooks" / "rise.css").write_text(".reveal h2 { text-transform: none; }\n")
    workspace.refresh(course)
    style = course / FOLDER / "notebooks" / "rise.css"
    assert style.read_text() == (course / "notebooks" / "rise.css").read_text()   # RISE finds it beside the copies
    style.write_text(".reveal h2 { color: teal; }\n")                          # the learner's own taste
    workspace.refresh(course)
    assert style.read_text() == ".reveal h2 { color: teal; }\n"


def test_unchanged_copies_take_the_new_version(course):
    workspace.refresh(course)
    lesson = course / FOLDER / "notebooks" / "00_welcome.ipynb"
    ran = nbformat.read(lesson, as_version=4)                     # running a lesson is not changing it
    ran.cells[1].outputs = [nbformat.v4.new_output("stream", text="hello\n")]
    ran.cells[1].execution_count = 1
    nbformat.write(ran, lesson)
    write(course / "notebooks" / "00_welcome.ipynb", notebook("# Welcome, revised", "print('hello')"))

    assert workspace.refresh(course) == [f"updated: {FOLDER}/notebooks/00_welcome.ipynb"]
    assert cells(lesson)[0] == "# Welcome, revised"
    assert not list(lesson.parent.glob("*.new*.ipynb"))


def test_changed_copies_are_kept_and_the_new_version_goes_beside(course):
    workspace.refresh(course)
    mine = course / FOLDER / "exercises" / "01_topic.ipynb"
    type_answer(mine)
    publish(course, solution("# Exercises 01, clearer"))

    notes = workspace.refresh(course)
    beside = mine.with_name("01_topic.new.ipynb")
    assert notes == [f"kept: {FOLDER}/exercises/01_topic.ipynb has your changes; the course's new version "
                     f"is beside it: {FOLDER}/exercises/01_topic.new.ipynb"]
    assert ANSWER in cells(mine) and cells(mine)[0] == "# Exercises 01"
    assert cells(beside)[0] == "# Exercises 01, clearer"
    assert notes[0] in (course / FOLDER / "UPDATES.md").read_text()   # findable later
    assert workspace.refresh(course) == []                              # said once, not at every run

    publish(course, solution("# Exercises 01, clearest"))              # the untouched copy beside moves on
    assert len(workspace.refresh(course)) == 1
    assert cells(beside)[0] == "# Exercises 01, clearest" and ANSWER in cells(mine)

    type_answer(beside, ANSWER + "  # merged")                          # both changed: a third name
    publish(course, solution("# Exercises 01, final"))
    assert workspace.refresh(course)[0].endswith(f"{FOLDER}/exercises/01_topic.new-2.ipynb")
    assert ANSWER + "  # merged" in cells(beside)


def test_a_deleted_copy_beside_stays_deleted_until_the_course_changes_again(course):
    workspace.refresh(course)
    mine = course / FOLDER / "exercises" / "01_topic.ipynb"
    type_answer(mine)
    publish(course, solution("# v2"))
    workspace.refresh(course)
    mine.with_name("01_topic.new.ipynb").unlink()                       # merged by hand, then deleted
    assert workspace.refresh(course) == []
    assert not mine.with_name("01_topic.new.ipynb").exists()
    publish(course, solution("# v3"))
    workspace.refresh(course)
    assert cells(mine.with_name("01_topic.new.ipynb"))[0] == "# v3"


def test_a_deleted_copy_comes_back(course):
    workspace.refresh(course)
    (course / FOLDER / "notebooks" / "01_topic.ipynb").unlink()
    assert workspace.refresh(course) == [f"restored: {FOLDER}/notebooks/01_topic.ipynb (it was missing)"]
    assert cells(course / FOLDER / "notebooks" / "01_topic.ipynb") == ["# Topic", "y = 2"]


def test_new_course_notebooks_arrive(course):
    workspace.refresh(course)
    write(course / "notebooks" / "02_more.ipynb", notebook("# More"))
    assert workspace.refresh(course) == [f"new: {FOLDER}/notebooks/02_more.ipynb"]


def test_removed_notebooks_leave_only_when_unchanged(course):
    workspace.refresh(course)
    type_answer(course / FOLDER / "exercises" / "01_topic.ipynb")
    for folder in ("notebooks", "exercises", "solutions"):
        (course / folder / "01_topic.ipynb").unlink()

    notes = workspace.refresh(course)
    assert f"removed: {FOLDER}/notebooks/01_topic.ipynb (the course no longer has it; you had not changed it)" in notes
    assert f"kept: {FOLDER}/exercises/01_topic.ipynb has your changes; the course no longer has it" in notes
    assert not (course / FOLDER / "notebooks" / "01_topic.ipynb").exists()
    assert ANSWER in cells(course / FOLDER / "exercises" / "01_topic.ipynb")
    assert workspace.refresh(course) == []                               # the kept copy is now simply yours


def test_renamed_notebooks_are_named_in_the_note(course):
    workspace.refresh(course)
    experiment = course / FOLDER / "notebooks" / "01_topic.ipynb"
    nb = nbformat.read(experiment, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("y * 10   # trying something"))
    nbformat.write(nb, experiment)
    (course / "notebooks" / "01_topic.ipynb").rename(course / "notebooks" / "01_topic_renamed.ipynb")

    assert workspace.refresh(course) == [
        f"new: {FOLDER}/notebooks/01_topic_renamed.ipynb",
        f"kept: {FOLDER}/notebooks/01_topic.ipynb has your changes; the course renamed it to "
        f"{FOLDER}/notebooks/01_topic_renamed.ipynb"]
    assert experiment.exists()


def test_files_the_learner_created_are_never_touched(course):
    workspace.refresh(course)
    work = course / FOLDER
    own = {work / "notebooks" / "my_notes.ipynb": workspace.notebook_text(notebook("# mine")),
           work / "scratch.py": "print('mine')\n",
           work / "notebooks" / "02_more.ipynb": workspace.notebook_text(notebook("# my own 02"))}
    for path, text in own.items():
        path.write_text(text)
    write(course / "notebooks" / "02_more.ipynb", notebook("# the course's 02"))   # the same name, later

    notes = workspace.refresh(course)
    assert notes == [f"kept: {FOLDER}/notebooks/02_more.ipynb has your changes; the course's new version "
                     f"is beside it: {FOLDER}/notebooks/02_more.new.ipynb"]
    assert all(path.read_text() == text for path, text in own.items())
    (course / "notebooks" / "02_more.ipynb").unlink()
    workspace.refresh(course)
    assert all(path.read_text() == text for path, text in own.items())


def test_a_notebook_that_no_longer_opens_is_never_overwritten(course):
    workspace.refresh(course)
    broken = course / FOLDER / "exercises" / "01_topic.ipynb"
    broken.write_text('{"cells": [half a save')
    publish(course, solution("# Exercises 01, v2"))
    assert workspace.refresh(course) == [f"kept: {FOLDER}/exercises/01_topic.ipynb has your changes; the course's "
                                         f"new version is beside it: {FOLDER}/exercises/01_topic.new.ipynb"]
    for folder in ("exercises", "solutions"):
        (course / folder / "01_topic.ipynb").unlink()
    workspace.refresh(course)
    assert broken.read_text() == '{"cells": [half a save'


def test_answers_typed_into_exercises_move_to_the_workspace(course, monkeypatch):
    """Before the workspace existed, learners typed answers into the course's exercises/."""
    ex = course / "exercises" / "01_topic.ipynb"
    committed = ex.read_text()
    type_answer(ex)
    jupytext = pytest.importorskip("jupytext")
    jupytext.write(nbformat.read(ex, as_version=4), ex.with_suffix(".py"), fmt="py:percent")  # the old pairing

    notes = workspace.refresh(course)
    assert notes[0] == f"deleted: exercises/01_topic.py (a copy of exercises/01_topic.ipynb that jupytext wrote)"
    assert notes[1] == (f"moved: your answers in exercises/01_topic.ipynb are now in {FOLDER}/exercises/01_topic.ipynb; "
                        "exercises/01_topic.ipynb is the course's version again")
    assert ANSWER in cells(course / FOLDER / "exercises" / "01_topic.ipynb")
    assert ex.read_text() == committed
    assert git(course, "status", "--porcelain") == ""
    assert exercises_in_step(course, monkeypatch)
    assert workspace.refresh(course) == []                    # moved once; the answers count as the learner's

    publish(course, solution("# Exercises 01, v2"))           # and later updates keep them
    workspace.refresh(course)
    assert ANSWER in cells(course / FOLDER / "exercises" / "01_topic.ipynb")


def test_lesson_edits_from_before_the_workspace_are_carried_over(course):
    """Before the workspace existed, saving a lesson rewrote the course's own notebooks/."""
    lesson = course / "notebooks" / "01_topic.ipynb"
    write(lesson, notebook("# Topic", "y = 2", "y ** 2   # my experiment"))

    notes = workspace.refresh(course)
    assert notes[0] == (f"copied: your changes to notebooks/01_topic.ipynb are in {FOLDER}/notebooks/01_topic.ipynb; "
                        "notebooks/01_topic.ipynb keeps them too until you restore it (`git checkout -- notebooks/`)")
    mine = course / FOLDER / "notebooks" / "01_topic.ipynb"
    assert "y ** 2   # my experiment" in cells(mine) and "y ** 2   # my experiment" in cells(lesson)
    git(course, "checkout", "--", "notebooks/")
    assert workspace.refresh(course) == []                    # the copy is the learner's, not an old version
    assert "y ** 2   # my experiment" in cells(mine)
    write(lesson, notebook("# Topic, v2", "y = 2"))
    assert workspace.refresh(course)[0].startswith(f"kept: {FOLDER}/notebooks/01_topic.ipynb has your changes")


def exercises_in_step(course: Path, monkeypatch) -> bool:
    """``cnnlab exercises check`` for the demo chapter (its registry has the one exercise)."""
    from cnnlab import checks

    monkeypatch.setattr(checks, "exercises", lambda chapter=None: {"double": None})
    return exercises.check(course) == []


def test_answers_in_exercises_beside_a_workspace_copy_with_answers(course):
    workspace.refresh(course)
    type_answer(course / FOLDER / "exercises" / "01_topic.ipynb")
    type_answer(course / "exercises" / "01_topic.ipynb", ANSWER + "  # typed in the old place")
    notes = workspace.refresh(course)
    assert notes == [f"moved: your answers in exercises/01_topic.ipynb are now in "
                     f"{FOLDER}/exercises/01_topic.from-exercises.ipynb; exercises/01_topic.ipynb is the course's version again"]
    assert ANSWER in cells(course / FOLDER / "exercises" / "01_topic.ipynb")
    assert ANSWER + "  # typed in the old place" in cells(course / FOLDER / "exercises" / "01_topic.from-exercises.ipynb")


def test_a_script_that_is_not_a_copy_of_the_notebook_is_moved_not_deleted(course):
    twin = course / "exercises" / "01_topic.py"
    twin.write_text("# %%\nprint('notes of mine')\n")
    assert workspace.refresh(course)[0] == f"moved: exercises/01_topic.py to {FOLDER}/exercises/01_topic.py"
    assert (course / FOLDER / "exercises" / "01_topic.py").read_text() == "# %%\nprint('notes of mine')\n"


def test_exercises_not_yet_rebuilt_are_not_answers(course):
    """A maintainer who edited solutions/ and has not run `make exercises` yet: nothing moves."""
    write(course / "solutions" / "01_topic.ipynb", solution("# Exercises 01, edited"))
    workspace.refresh(course)
    assert not (course / FOLDER / "exercises" / "01_topic.from-exercises.ipynb").exists()
    assert "moved" not in (course / FOLDER / "UPDATES.md").read_text()


def test_exercises_build_moves_answers_before_it_rewrites(course, monkeypatch, capsys):
    from cnnlab import checks

    monkeypatch.setattr(checks, "exercises", lambda chapter=None: {"double": checks.Exercise(
        "double", "01", 1, lambda rng: [dict(x=1.0)], lambda x: 2 * x)})
    monkeypatch.chdir(course)
    type_answer(course / "exercises" / "01_topic.ipynb")
    assert cli.main(["exercises", "check"]) == 1
    assert "make lab" in capsys.readouterr().err                 # the check says where the answers belong
    assert cli.main(["exercises", "build"]) == 0
    assert ANSWER in cells(course / FOLDER / "exercises" / "01_topic.ipynb")
    assert cli.main(["exercises", "check"]) == 0


@pytest.fixture
def clone(course, tmp_path):
    """The learner's clone of the course; ``course`` plays the upstream repository."""
    learner = tmp_path / "learner"
    subprocess.run(["git", "clone", "-q", str(course), str(learner)], check=True, capture_output=True)
    return learner


def test_update_pulls_then_refreshes(course, clone):
    workspace.refresh(clone)
    type_answer(clone / FOLDER / "exercises" / "01_topic.ipynb")
    publish(course, solution("# Exercises 01, v2"))
    write(course / "notebooks" / "00_welcome.ipynb", notebook("# Welcome, v2"))
    commit(course, "course: v2")

    ok, lines = workspace.update(clone)
    assert ok, lines
    assert lines[0] == "took 1 new course commit(s) from origin/" + git(clone, "branch", "--show-current").strip()
    assert f"updated: {FOLDER}/notebooks/00_welcome.ipynb" in lines
    assert any(line.startswith(f"kept: {FOLDER}/exercises/01_topic.ipynb") for line in lines)
    assert ANSWER in cells(clone / FOLDER / "exercises" / "01_topic.ipynb")
    assert cells(clone / FOLDER / "exercises" / "01_topic.new.ipynb")[0] == "# Exercises 01, v2"
    assert workspace.update(clone) == (True, [f"the course is up to date with origin/{git(clone, 'branch', '--show-current').strip()}"])


def test_update_moves_old_answers_out_of_the_way_of_git(course, clone):
    type_answer(clone / "exercises" / "01_topic.ipynb")          # the old place; git pull would refuse
    publish(course, solution("# Exercises 01, v2"))
    commit(course, "course: v2")
    ok, lines = workspace.update(clone)
    assert ok, lines
    assert ANSWER in cells(clone / FOLDER / "exercises" / "01_topic.ipynb")
    assert cells(clone / "exercises" / "01_topic.ipynb")[0] == "# Exercises 01, v2"


def test_update_refused_by_git_loses_nothing_and_says_why(course, clone):
    workspace.refresh(clone)
    lesson = clone / "notebooks" / "00_welcome.ipynb"
    write(lesson, notebook("# Welcome, with my edits in the course's own file"))
    write(course / "notebooks" / "00_welcome.ipynb", notebook("# Welcome, v2"))
    commit(course, "course: v2")

    ok, lines = workspace.update(clone)
    assert not ok
    assert "course files with local changes: notebooks/00_welcome.ipynb" in lines
    assert any("git stash" in line for line in lines)
    assert cells(lesson)[0] == "# Welcome, with my edits in the course's own file"
    assert cells(clone / FOLDER / "notebooks" / "00_welcome.ipynb")[0] == "# Welcome"


def test_update_outside_git_refreshes_from_the_files(course):
    shutil.rmtree(course / ".git")
    ok, lines = workspace.update(course)
    assert ok and lines[0].startswith("this course folder is not a git clone")
    assert lines[1].startswith("created: ")


def save_through_jupyterlab(root: Path, rel: str) -> None:
    """Open and save ``rel`` through the contents manager JupyterLab uses (jupytext's)."""
    from jupyter_server.services.contents.filemanager import FileContentsManager
    from jupytext.sync_contentsmanager import build_sync_jupytext_contents_manager_class

    manager = build_sync_jupytext_contents_manager_class(FileContentsManager)(root_dir=str(root))
    model = manager.get(rel)
    model["content"]["cells"][-1]["source"] += "\n# edited"
    manager.save(model, rel)


def test_only_the_maintainers_sources_are_paired(course):
    """With the course's jupytext.toml, saving writes a .py only beside notebooks/ and solutions/."""
    pytest.importorskip("jupytext")
    shutil.copy(ROOT / "jupytext.toml", course)
    workspace.refresh(course)
    for rel in ("work/notebooks/00_welcome.ipynb", "work/exercises/01_topic.ipynb", "exercises/01_topic.ipynb"):
        save_through_jupyterlab(course, rel)
    assert sorted(p.relative_to(course).as_posix() for p in course.rglob("*.py")) == []
    save_through_jupyterlab(course, "notebooks/00_welcome.ipynb")
    assert (course / "notebooks" / "00_welcome.py").exists()


def test_lab_serves_the_workspace_and_opens_lesson_00(tmp_path):
    command = workspace.lab_command(tmp_path, ["--no-browser"])
    assert command[1:3] == ["-m", "jupyterlab"] and command[-1] == "--no-browser"
    assert f"--ServerApp.root_dir={tmp_path / FOLDER}" in command
    assert "--LabApp.default_url=/lab/tree/notebooks/00_welcome.ipynb" in command
    assert (ROOT / "notebooks" / "00_welcome.ipynb").exists()    # the start page is a course lesson


def test_a_lost_manifest_loses_no_work(course):
    workspace.refresh(course)
    type_answer(course / FOLDER / "exercises" / "01_topic.ipynb")
    (course / FOLDER / workspace.MANIFEST).write_text("not json")
    publish(course, solution("# Exercises 01, v2"))
    notes = workspace.refresh(course)
    assert notes == [f"kept: {FOLDER}/exercises/01_topic.ipynb has your changes; the course's new version "
                     f"is beside it: {FOLDER}/exercises/01_topic.new.ipynb"]
    assert ANSWER in cells(course / FOLDER / "exercises" / "01_topic.ipynb")


def test_manifest_records_what_was_copied(course):
    workspace.refresh(course)
    manifest = json.loads((course / FOLDER / workspace.MANIFEST).read_text())
    entry = manifest["copies"]["notebooks/00_welcome.ipynb"]
    assert entry == {"source": "notebooks/00_welcome.ipynb",
                     "key": workspace.file_key(course / "notebooks" / "00_welcome.ipynb")}
