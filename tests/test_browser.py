"""The course in a real browser (headless Chromium driven by Playwright).

- JupyterLab, served on 127.0.0.1, runs lesson 01 (quick mode); the kernel editor
  widget renders, and typing a kernel value redraws its feature map.
- RISE turns the open notebook into a live slideshow (``alt+r``) whose cells still run.
- An exported deck (``cnnlab course slides``) opens from disk: slides, typeset maths
  and speaker notes, with every file it loads beside it.

Nothing is fetched from outside the machine: every request the browser makes is
checked. Screenshots go to ``build/test-artifacts/``. Skipped only when Chromium
(Debian: ``apt-get install chromium``) or Playwright (``pip install playwright``) is missing.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from cnnlab import course
from test_slides import expected_slides, tiny_notebook

ROOT = Path(__file__).resolve().parents[1]
LESSON01 = ROOT / "notebooks" / "01_convolution_by_hand.ipynb"
ARTIFACTS = ROOT / "build" / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# JupyterLab user settings for the test server: every cell in the page (no windowing, so
# the DOM holds the whole notebook), no news pop-up over the screenshot, and RISE's
# "white" theme, whose fonts ship with it (its default theme loads web fonts).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": '{"windowingMode": "none"}',
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": '{"fetchNews": "false"}',
    "jupyterlab-rise/plugin.jupyterlab-settings": '{"theme": "white"}',
}
EDITOR = ".cnnlab-kernel-editor"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


def new_page(browser, allowed: tuple[str, ...]):
    """A fresh page; requests outside the ``allowed`` prefixes go to ``page.outside``,
    uncaught script errors of the page itself to ``page.errors``."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.outside, page.errors = [], []
    context.on("request", lambda request: None if request.url.startswith(allowed + ("data:", "blob:"))
               else page.outside.append(request.url))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyterlab(root: Path, state: Path):
    """JupyterLab serving ``root`` on 127.0.0.1 (quick mode), its own settings and runtime files in ``state``."""
    port, token = free_port(), secrets.token_hex(16)
    for name, text in LAB_SETTINGS.items():
        (state / "settings" / name).parent.mkdir(parents=True, exist_ok=True)
        (state / "settings" / name).write_text(text)
    env = {**os.environ, "CNNLAB_QUICK": "1",
           "JUPYTER_RUNTIME_DIR": str(state / "runtime"), "JUPYTER_CONFIG_DIR": str(state / "config")}
    env.pop("MPLBACKEND", None)                     # figures inline, as a learner sees them
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.port_retries=0",
               "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               f"--LabApp.user_settings_dir={state / 'settings'}", f"--LabApp.workspaces_dir={state / 'workspaces'}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = state / "jupyterlab.log"
    with open(log, "wb") as sink:
        lab = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert lab.poll() is None, f"JupyterLab stopped:\n{log.read_text(errors='replace')[-3000:]}"
            assert time.monotonic() < deadline, f"JupyterLab did not answer in 120 s:\n{log.read_text()[-3000:]}"
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5).close()
                break
            except OSError:
                time.sleep(0.5)
        yield base, token
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()


def run_all_cells(page) -> None:
    """Run > Run All Cells, once the kernel is up (earlier, JupyterLab drops the request)."""
    page.locator("#jp-main-statusbar", has_text=re.compile(r"\(ipykernel\) \| Idle")).wait_for(timeout=90_000)
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def wait_until_run(page, code_cells: int, timeout_s: float) -> None:
    """Wait until all ``code_cells`` have an execution number; fail on any traceback."""
    page.wait_for_function(
        """n => { const prompts = document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt');
                  return prompts.length === n && [...prompts].every(p => /\\[\\d+\\]/.test(p.textContent)); }""",
        arg=code_cells, timeout=timeout_s * 1000)
    errors = [text for text in page.locator(".jp-OutputArea-output").all_inner_texts()
              if "Traceback (most recent call last)" in text]
    assert not errors, errors[0][-2000:]


@pytest.fixture(scope="module")
def lesson01(browser, tmp_path_factory):
    """Lesson 01 open in JupyterLab, every cell run (a copy: the repository's notebook stays untouched)."""
    if not LESSON01.exists():
        pytest.fail(f"{LESSON01.relative_to(ROOT)} is missing")
    root, state = tmp_path_factory.mktemp("course"), tmp_path_factory.mktemp("jupyter")
    shutil.copy(LESSON01, root)
    with jupyterlab(root, state) as (base, token):
        page = new_page(browser, allowed=(base,))
        page.goto(f"{base}/lab/tree/{LESSON01.name}?token={token}")
        page.wait_for_selector(".jp-NotebookPanel .jp-Notebook", timeout=90_000)
        nb = nbformat.read(LESSON01, as_version=4)
        run_all_cells(page)
        wait_until_run(page, sum(cell.cell_type == "code" for cell in nb.cells), timeout_s=180)
        yield SimpleNamespace(page=page, nb=nb)
        page.context.close()


def test_lesson01_kernel_editor_reacts(lesson01):
    page = lesson01.page
    editor = page.locator(EDITOR)
    assert editor.count() == 1
    editor.scroll_into_view_if_needed()
    cells = editor.locator("input[type=number]")
    assert cells.count() == 9                                  # the 3×3 kernel
    picture = editor.locator("img")
    picture.wait_for()
    readout = editor.locator(".widget-html")
    before_png, before_src = picture.screenshot(), picture.get_attribute("src")

    centre = cells.nth(4)
    centre.fill(str(float(centre.input_value()) + 8))          # Sobel x sums to 0, now to 8
    centre.press("Enter")
    page.wait_for_function("([img, src]) => document.querySelector(img).getAttribute('src') !== src",
                           arg=[f"{EDITOR} img", before_src], timeout=30_000)
    page.wait_for_timeout(500)                                 # the new picture decodes
    assert "sum to 8" in readout.inner_text()
    assert editor.locator("select").input_value() == "custom"  # a typed number leaves the preset
    assert picture.screenshot() != before_png

    editor.evaluate("box => box.scrollIntoView({block: 'start'})")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lesson01.png"))
    assert not page.outside, f"requests beyond the local server: {page.outside}"
    assert not page.errors, f"script errors in JupyterLab: {page.errors}"


def test_lesson01_live_slideshow_with_rise(lesson01):
    from playwright import sync_api

    page = lesson01.page
    # RISE starts at the selected cell's slide: select the kernel editor's cell, then alt+r
    page.locator(".jp-CodeCell", has_text="kernel_editor(").locator(".jp-InputPrompt").click()
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").focus()
    page.keyboard.press("Alt+r")
    rise = page.frame_locator("iframe[src*='/rise/']")
    rise.locator(".reveal .slides > section.present").wait_for(timeout=60_000)
    assert rise.locator(".reveal .slides > section").count() == expected_slides(lesson01.nb)

    # Cells run inside the slideshow, in the notebook's kernel. (Widgets show as text
    # there: jupyterlab-rise 0.43 cannot load the ipywidgets 8 manager; the notebook
    # beside the slideshow keeps them live.)
    cell = rise.locator(".jp-CodeCell", has_text="kernel_editor(")
    prompt = cell.locator(".jp-InputPrompt")
    before = prompt.inner_text()
    rise.locator(".reveal.ready").wait_for(timeout=60_000)
    editor = cell.locator(".jp-InputArea-editor")
    # Right after the deck opens, a click can land before the slide's editor takes focus and
    # the keystroke goes nowhere: press again (at most three times) until the cell has run.
    for _ in range(3):
        editor.click()
        editor.press("Shift+Enter")
        try:
            sync_api.expect(prompt).not_to_have_text(before, timeout=20_000)
            break
        except AssertionError:
            continue
    sync_api.expect(prompt).not_to_have_text(before, timeout=20_000)
    sync_api.expect(prompt).to_have_text(re.compile(r"\[\d+\]"), timeout=60_000)
    assert int(re.search(r"\d+", prompt.inner_text()).group()) > int(re.search(r"\d+", before).group())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lesson01-rise.png"))
    assert not page.outside, f"requests beyond the local server: {page.outside}"


def test_exported_deck_opens_offline(browser, tmp_path):
    source = tmp_path / "tiny.ipynb"
    nbformat.write(tiny_notebook(), source)
    [deck] = course.export_slides([source], tmp_path / "slides", quick=True)
    page = new_page(browser, allowed=(f"file://{deck.parent}/",))
    failed = []
    page.context.on("requestfailed", lambda request: failed.append(request.url))
    page.goto(deck.as_uri())
    page.wait_for_function("window.Reveal && Reveal.isReady()", timeout=30_000)
    page.wait_for_function("document.querySelectorAll('mjx-container').length >= 2", timeout=30_000)
    assert page.evaluate("Reveal.getHorizontalSlides().length") == expected_slides(tiny_notebook())

    page.evaluate("Reveal.slide(1, 0)")                        # the tall slide scrolls instead of clipping
    page.wait_for_timeout(500)
    assert page.evaluate("""(() => { const s = Reveal.getCurrentSlide();
        return s.style.overflowY === 'auto' && s.scrollHeight > s.clientHeight; })()""")

    page.evaluate("Reveal.slide(0, 0)")
    with page.context.expect_page() as opened:
        page.keyboard.press("s")                               # the speaker view
    speaker = opened.value
    speaker.wait_for_function("document.body.innerText.includes('say the formula out loud')", timeout=30_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    speaker.screenshot(path=str(ARTIFACTS / "deck-speaker-view.png"))
    assert not failed, f"files the deck could not load: {failed}"
    assert not page.outside, f"requests beyond the deck's folder: {page.outside}"
    page.context.close()
