"""A learner's round trip in a real browser (headless Chromium driven by Playwright).

In a fresh clone of the course (a temporary git repository made from this checkout; the
checkout itself is untouched), `make lab` creates the workspace and prints a URL that opens
lesson 00 in work/. The learner opens exercise 01 there, types an answer, and JupyterLab
saves it (autosave, then Ctrl+S). Then: no tracked file changed, `cnnlab exercises check`
and `make exercises` still pass and leave the answer alone, and `make update`, after a new
commit upstream, keeps the answer and puts the course's new version beside it.

Screenshots go to ``build/test-artifacts/``. Skipped only when Chromium or Playwright is missing.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from course_copy import VENV, commit_all, course_repository, git, learner_clone
from test_browser import ARTIFACTS, LAB_SETTINGS, browser, chromium, free_port, new_page, run_all_cells  # noqa: F401 (fixtures)

EXERCISE = "exercises/01_convolution_by_hand.ipynb"
FUNCTION = "conv2d_single"
SETTINGS = {**LAB_SETTINGS,
            # autosave every 2 s instead of 120 s, so the test sees it happen
            "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": '{"autosave": true, "autosaveInterval": 2}'}

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def answer_from_solutions(course: Path) -> str:
    """The model answer of exercise ``FUNCTION``, as a learner would type it (no solution markers)."""
    nb = nbformat.read(course / "solutions" / Path(EXERCISE).name, as_version=4)
    [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == FUNCTION]
    return "\n".join(line for line in cell.source.splitlines() if "### BEGIN" not in line and "### END" not in line)


def run(clone: Path, *command: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CNNLAB_QUICK": "1"}
    return subprocess.run(list(command), cwd=clone, env=env, capture_output=True, text=True, timeout=300)


def saved_sources(clone: Path) -> str:
    """Every cell source of the learner's exercise copy, as saved on disk (read again while a save is half-written)."""
    for _ in range(20):
        try:
            nb = json.loads((clone / "work" / EXERCISE).read_text())
            return "\n".join("".join(cell["source"]) for cell in nb["cells"])
        except ValueError:
            time.sleep(0.25)
    raise AssertionError(f"work/{EXERCISE} is not a readable notebook")


def wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout_s} s for {what}"
        time.sleep(0.5)


def start_make_lab(clone: Path, state: Path) -> tuple[subprocess.Popen, str]:
    """`make lab` in the clone, as a learner runs it; returns the process and the URL it printed."""
    for name, text in SETTINGS.items():
        (state / "settings" / name).parent.mkdir(parents=True, exist_ok=True)
        (state / "settings" / name).write_text(text)
    port = free_port()
    args = (f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 "
            f"--LabApp.user_settings_dir={state / 'settings'} --LabApp.workspaces_dir={state / 'workspaces'}")
    env = {**os.environ, "CNNLAB_QUICK": "1",
           "JUPYTER_RUNTIME_DIR": str(state / "runtime"), "JUPYTER_CONFIG_DIR": str(state / "config")}
    for name in ("MPLBACKEND", "CNNLAB_CHECKS_STRICT"):      # what a learner's notebook sees
        env.pop(name, None)
    log = state / "make-lab.log"
    with open(log, "wb") as sink:
        lab = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"], cwd=clone, env=env,
                               stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    printed = []

    def url_printed() -> bool:
        assert lab.poll() is None, f"make lab stopped:\n{log.read_text(errors='replace')[-3000:]}"
        printed[:] = re.findall(rf"http://127\.0\.0\.1:{port}/\S*\?token=\w+", log.read_text(errors="replace"))
        return bool(printed)

    wait_for(url_printed, 120, "make lab to print its URL")
    return lab, printed[0]


def stop(lab: subprocess.Popen) -> None:
    os.killpg(lab.pid, signal.SIGTERM)
    try:
        lab.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(lab.pid, signal.SIGKILL)
        lab.wait()


def publish_course_update(upstream: Path) -> str:
    """A maintainer's commit upstream: exercise 01 reworded (exercises/ rebuilt) and lesson 00 reworded."""
    marker = "Updated by the course: read the hint at the end first."
    solution = upstream / "solutions" / Path(EXERCISE).name
    nb = nbformat.read(solution, as_version=4)
    nb.cells[0].source += f"\n\n{marker}"
    nbformat.write(nb, solution)
    built = subprocess.run([str(VENV / "bin" / "cnnlab"), "exercises", "build"], cwd=upstream,
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    lesson = upstream / "notebooks" / "00_welcome.ipynb"
    nb = nbformat.read(lesson, as_version=4)
    nb.cells[0].source += f"\n\n{marker}"
    nbformat.write(nb, lesson)
    commit_all(upstream, "Exercise 01 and lesson 00 reworded")
    return marker


def type_answer(page, answer: str) -> None:
    """Replace the stub of exercise ``FUNCTION`` by ``answer`` in the cell's editor."""
    cell = page.locator(".jp-CodeCell", has_text=f'raise NotImplementedError("{FUNCTION}')
    editor = cell.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")                          # the whole cell's text
    page.keyboard.insert_text(answer)                         # as pasted: no auto-indent


def widen_file_browser(page, pixels: int) -> None:
    """Drag the handle between the file browser and the notebook ``pixels`` to the right."""
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + pixels, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()


def test_learner_round_trip(browser, tmp_path):
    if not (VENV / ".cnnlab-installed").exists():
        pytest.skip("make lab in a clone borrows the .venv that make creates here")
    upstream = course_repository(tmp_path / "upstream")
    clone = learner_clone(upstream, tmp_path / "learner")
    answer = answer_from_solutions(clone)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    lab, url = start_make_lab(clone, tmp_path / "jupyter")
    base, token = url.split("/lab/")[0], url.rsplit("token=", 1)[1]
    try:
        page = new_page(browser, allowed=(base,))

        # the URL printed with --no-browser opens lesson 00 of the workspace, not the Launcher
        assert url.startswith(f"{base}/lab/tree/notebooks/00_welcome.ipynb?")
        page.goto(url)
        page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").wait_for(timeout=90_000)
        page.locator(".jp-MarkdownOutput h1", has_text="00 · Welcome to cnnlab").wait_for(timeout=30_000)
        assert page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel").inner_text() == "00_welcome.ipynb"
        assert not page.locator(".jp-Launcher").is_visible()
        page.screenshot(path=str(ARTIFACTS / "workspace-start-page.png"))

        # the learner opens exercise 01 in the workspace and types an answer; autosave writes it
        page.goto(f"{base}/lab/tree/{EXERCISE}?token={token}")
        page.locator(".jp-CodeCell", has_text=f'raise NotImplementedError("{FUNCTION}').wait_for(timeout=90_000)
        type_answer(page, answer)
        wait_for(lambda: answer.splitlines()[-1] in saved_sources(clone), 60, "autosave to write the answer")
        assert f'NotImplementedError("{FUNCTION}' not in saved_sources(clone)

        # run it: the check says ✓; Ctrl+S saves the notebook with that output
        run_all_cells(page)
        check = page.locator(".jp-CodeCell", has_text=f"check({FUNCTION})").locator(".jp-OutputArea-output")
        check.filter(has_text=f"✓ {FUNCTION}").first.wait_for(timeout=120_000)
        page.keyboard.press("Control+s")
        wait_for(lambda: f"✓ {FUNCTION}" in (clone / "work" / EXERCISE).read_text(), 30, "Ctrl+S to save the output")
        check.first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "workspace-exercise-saved.png"))

        # saving touched no course file and wrote no .py; the course's own checks still pass
        assert git(clone, "status", "--porcelain") == ""
        assert not list((clone / "work").rglob("*.py"))
        checked = run(clone, str(VENV / "bin" / "cnnlab"), "exercises", "check")
        assert checked.returncode == 0, checked.stderr
        rebuilt = run(clone, "make", "--no-print-directory", "exercises")   # regenerating exercises/ ...
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert answer.splitlines()[-1] in saved_sources(clone)                  # ... leaves the answer alone
        assert git(clone, "status", "--porcelain") == ""

        # a new course commit upstream; the learner takes it with `make update`
        marker = publish_course_update(upstream)
        updated = run(clone, "make", "--no-print-directory", "update")
        assert updated.returncode == 0, updated.stdout + updated.stderr
        note = ("kept: work/exercises/01_convolution_by_hand.ipynb has your changes; the course's new version "
                "is beside it: work/exercises/01_convolution_by_hand.new.ipynb")
        assert note in updated.stdout and note in (clone / "work" / "UPDATES.md").read_text()
        assert "updated: work/notebooks/00_welcome.ipynb" in updated.stdout
        assert answer.splitlines()[-1] in saved_sources(clone) and marker not in saved_sources(clone)
        beside = nbformat.read(clone / "work" / "exercises" / "01_convolution_by_hand.new.ipynb", as_version=4)
        assert marker in beside.cells[0].source
        assert marker in nbformat.read(clone / "work" / "notebooks" / "00_welcome.ipynb", as_version=4).cells[0].source
        assert git(clone, "status", "--porcelain") == ""
        checked = run(clone, str(VENV / "bin" / "cnnlab"), "exercises", "check")
        assert checked.returncode == 0, checked.stderr

        # what the learner sees afterwards: the answer in place, the new version beside it
        page.goto(f"{base}/lab/tree/{EXERCISE}?token={token}")
        page.locator(".jp-DirListing-itemText", has_text="01_convolution_by_hand.new.ipynb").wait_for(timeout=60_000)
        page.locator(".jp-CodeCell", has_text=answer.splitlines()[-1].strip()).first.wait_for(timeout=60_000)
        widen_file_browser(page, 180)                         # full file names in the screenshot
        page.screenshot(path=str(ARTIFACTS / "workspace-after-update.png"))
        assert not page.outside, f"requests beyond the local server: {page.outside}"
        page.context.close()
    finally:
        stop(lab)
