"""Every lesson run in a real browser the way a learner runs it (headless Chromium driven by Playwright).

One JupyterLab (quick mode: its kernels see ``CNNLAB_QUICK=1``) serves the learner's copies of
the lessons, made as ``make lab`` makes them in ``work/notebooks/``; one Chromium page in a
laptop's 1366×768 window opens each lesson in turn, chooses Run → Run All Cells, and waits
until the run is over. The lesson passes when every code
cell has its execution number and no output is an error: no traceback, and no stderr text
that reports one ("Traceback", "Error"). A failure names the cell and quotes the error.
The notebook is then saved, closed and its kernel shut down (File → Close and Shut Down
Notebook), so kernels do not pile up.

Each case carries its lesson's marker (``make test LESSON=03`` runs lesson 03's). A screenshot
per lesson goes to ``build/test-artifacts/lesson-NN-run-all.png``. Skipped only when Chromium or
Playwright is missing.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from cnnlab import workspace

from test_browser import ARTIFACTS, browser, chromium, jupyterlab, new_page, run_all_cells  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[1]
LESSON_FILES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# A lesson takes about 20 s in quick mode on a busy two-core machine; this leaves room for much worse.
RUN_TIMEOUT_S = 600
STDERR_ALARMS = ("Traceback", "Error")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SHOWN = ".jp-NotebookPanel:not(.lm-mod-hidden)"
# The run is over when every code cell has its number, or, after a failure stopped it, when
# some cells have run and none is still waiting ([*]); JupyterLab then clears the rest.
RUN_OVER = """n => {
  const prompts = [...document.querySelectorAll('%s .jp-CodeCell .jp-InputPrompt')].map(p => p.textContent);
  if (prompts.length !== n) return false;
  const numbered = prompts.filter(p => /\\[\\d+\\]/.test(p)).length;
  return numbered === n || (numbered > 0 && !prompts.some(p => p.includes('[*]')));
}""" % SHOWN

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def course_lab(browser, tmp_path_factory):
    """JupyterLab (quick mode) on the learner's copies of the lessons, and one page in a 1366×768 window."""
    root, state = tmp_path_factory.mktemp("course"), tmp_path_factory.mktemp("jupyter")
    (root / "notebooks").mkdir()
    for path in LESSON_FILES:                       # as `make lab` copies them into work/notebooks/
        nbformat.write(workspace.learner_copy(path), root / "notebooks" / path.name)
    for support in workspace.SUPPORT:
        shutil.copy(ROOT / support, root / support)
    with jupyterlab(root, state) as (base, token):
        page = new_page(browser, allowed=(base,))
        yield SimpleNamespace(root=root, base=base, token=token, page=page)
        page.context.close()


def sessions(lab) -> list[dict]:
    """The server's open notebook sessions (each holds a running kernel)."""
    with urllib.request.urlopen(f"{lab.base}/api/sessions?token={lab.token}", timeout=30) as answer:
        return json.load(answer)


def wait_until_over(page, code_cells: int) -> None:
    """Wait until the run of the shown notebook is over and its kernel is idle again."""
    page.wait_for_function(RUN_OVER, arg=code_cells, timeout=RUN_TIMEOUT_S * 1000)
    page.locator("#jp-main-statusbar", has_text=re.compile(r"\(ipykernel\) \| Idle")).wait_for(timeout=60_000)


def save(page) -> None:
    page.locator(f"{SHOWN} .jp-Notebook").focus()
    page.keyboard.press("Control+s")
    page.wait_for_function("!document.querySelector('.lm-TabBar-tab.jp-mod-dirty')", timeout=60_000)


def close_and_shut_down(page, lab, rel: str) -> None:
    """File → Close and Shut Down Notebook…, confirmed; wait until the server has no session for ``rel``."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^File$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Close and Shut Down Notebook")).click()
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-warn").click()
    page.locator(SHOWN).wait_for(state="detached", timeout=60_000)
    deadline = time.monotonic() + 60
    while any(session["path"] == rel for session in sessions(lab)):
        assert time.monotonic() < deadline, f"the kernel of {rel} was still running 60 s after Shut Down"
        time.sleep(0.5)


def cell_text(output) -> str:
    if output.output_type == "error":
        return ANSI.sub("", "\n".join(output.traceback)) or f"{output.ename}: {output.evalue}"
    return ANSI.sub("", output.text)


def problems(nb) -> list[str]:
    """Each code cell that did not run or whose output reports an error, with the error's text."""
    found = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        where = f"cell {number} (In [{cell.execution_count or ' '}])"
        for output in cell.outputs:
            if output.output_type == "error":
                found.append(f"{where} raised {output.ename}: {output.evalue}\n{cell_text(output)[-3000:]}")
            elif output.output_type == "stream" and output.name == "stderr" and any(
                    alarm in output.text for alarm in STDERR_ALARMS):
                found.append(f"{where} wrote an error to stderr:\n{cell_text(output)[-3000:]}")
    if not found:
        not_run = [n for n, c in enumerate(nb.cells, start=1) if c.cell_type == "code" and c.execution_count is None]
        if not_run:
            found.append(f"cells {not_run} did not run, yet no cell shows an error")
    return found


def screenshot(page, lesson: str, nb) -> Path:
    """The traceback that stopped the run in view if there is one, else the page as the run left it."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    if any(o.output_type == "error" for c in nb.cells if c.cell_type == "code" for o in c.outputs):
        # a traceback is shown as stderr text; the one that stopped the run is the last
        stderr = page.locator(f"{SHOWN} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        stderr.last.scroll_into_view_if_needed()
    path = ARTIFACTS / f"lesson-{lesson}-run-all.png"
    page.screenshot(path=str(path))
    return path


@pytest.mark.parametrize("lesson", [pytest.param(path.name, id=path.name[:2],
                                                 marks=getattr(pytest.mark, f"lesson{path.name[:2]}"))
                                    for path in LESSON_FILES])
def test_lesson_runs_without_errors_in_jupyterlab(course_lab, lesson):
    page, rel = course_lab.page, f"notebooks/{lesson}"
    code_cells = sum(cell.cell_type == "code" for cell in nbformat.read(course_lab.root / rel, as_version=4).cells)
    page.errors.clear(), page.outside.clear()
    # each lesson in a workspace of its own: JupyterLab reopens no earlier lesson (and starts no kernel for it)
    page.goto(f"{course_lab.base}/lab/workspaces/lesson-{lesson[:2]}/tree/{rel}?token={course_lab.token}")
    page.locator(f"{SHOWN} .jp-Notebook .jp-CodeCell").first.wait_for(timeout=90_000)
    run_all_cells(page)
    try:
        wait_until_over(page, code_cells)
        save(page)
        ran = nbformat.read(course_lab.root / rel, as_version=4)      # what the learner's run left, as saved
        screenshot(page, lesson[:2], ran)
    finally:
        close_and_shut_down(page, course_lab, rel)
    found = problems(ran)
    if found:
        pytest.fail(f"{lesson} in JupyterLab:\n" + "\n\n".join(found), pytrace=False)
    assert not page.errors, f"script errors in JupyterLab: {page.errors}"
    assert not page.outside, f"requests beyond the local server: {page.outside}"
    assert not sessions(course_lab), "a kernel is still running after its lesson was closed"
