"""The course in a real browser (headless Chromium driven by Playwright), in a laptop's 1366×768 window.

- JupyterLab, served on 127.0.0.1, runs lesson 01 (quick mode). Every explorer shows its
  picture one image pixel per screen pixel (displayed size = natural size, measured) and
  fits the window while it is used; the kernel editor redraws when a number is typed. The
  shape calculator of lesson 02 is measured the same way.
- RISE turns the open notebook into a live slideshow (``alt+r``): it starts at slide 1,
  shows no "Click to add a cell." strip, and its explorers are real widget views that react,
  also when their cell is run again inside the slideshow. Opened at 1280×720, every slide of
  lesson 01 fits without scrolling and no code line is cut.
- An exported deck (``cnnlab course slides``) opens from disk: slides, typeset maths
  and speaker notes, with every file it loads beside it.

Nothing is fetched from outside the machine: every request the browser makes is
checked. Screenshots and the measurements go to ``build/test-artifacts/``. Skipped only
when Chromium (Debian: ``apt-get install chromium``) or Playwright (``pip install playwright``)
is missing.
"""

from __future__ import annotations

import json
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
from test_figures import OUTPUT_WIDTH
from test_slides import ARTIFACTS, PROJECTOR, chromium, expected_slides, tiny_notebook  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[1]
LESSON01 = ROOT / "notebooks" / "01_convolution_by_hand.ipynb"
RISE_CSS = ROOT / "notebooks" / "rise.css"
LAPTOP = {"width": 1366, "height": 768}
# JupyterLab user settings for the test server: every cell in the page (no windowing, so
# the DOM holds the whole notebook), no news pop-up over the screenshot, and RISE's
# "white" theme, whose fonts ship with it (its default theme loads web fonts).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": '{"windowingMode": "none"}',
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": '{"fetchNews": "false"}',
    "jupyterlab-rise/plugin.jupyterlab-settings": '{"theme": "white"}',
}
EDITOR = ".cnnlab-kernel-editor"
TEXT_REPR = re.compile(r"^(VBox|HBox|IntSlider|Dropdown)\(")
# Each explorer in the page: its box, its picture as shown and as drawn, and the room it has.
MEASURE_EXPLORERS = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer');
  return [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .cnnlab-explorer')].map(box => {
    const img = box.querySelector('img'), shown = img.getBoundingClientRect(), outer = box.getBoundingClientRect();
    const area = box.closest('.jp-OutputArea-output').getBoundingClientRect();
    return {kind: [...box.classList].find(c => c.startsWith('cnnlab-') && c !== 'cnnlab-explorer'),
            displayed: [Math.round(shown.width), Math.round(shown.height)], natural: [img.naturalWidth, img.naturalHeight],
            box: [Math.round(outer.width), Math.round(outer.height)],
            room: [Math.round(area.width), panel.clientHeight]};
  });
}"""

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser(chromium):
    """Headless Chromium, launched (or skipped when missing) as the slide tests launch it."""
    return chromium


def new_page(browser, allowed: tuple[str, ...], viewport: dict = LAPTOP):
    """A fresh page; requests outside the ``allowed`` prefixes go to ``page.outside``,
    uncaught script errors of the page itself to ``page.errors``."""
    context = browser.new_context(viewport=viewport)
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
    """Wait until all ``code_cells`` of the shown notebook have an execution number; fail on any traceback."""
    page.wait_for_function(
        """n => { const prompts = document.querySelectorAll(
                    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt');
                  return prompts.length === n && [...prompts].every(p => /\\[\\d+\\]/.test(p.textContent)); }""",
        arg=code_cells, timeout=timeout_s * 1000)
    errors = [text for text in page.locator(".jp-OutputArea-output").all_inner_texts()
              if "Traceback (most recent call last)" in text]
    assert not errors, errors[0][-2000:]


def open_and_run(page, base: str, token: str, nb_path: Path, timeout_s: float) -> None:
    """Open ``nb_path`` in a JupyterLab workspace of its own (the default one would bring back the
    notebooks an earlier page left open, and Run All could go to one of them), then run every cell."""
    page.goto(f"{base}/lab/workspaces/{nb_path.stem}/tree/{nb_path.name}?token={token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook", timeout=90_000)
    run_all_cells(page)
    nb = nbformat.read(nb_path, as_version=4)
    wait_until_run(page, sum(cell.cell_type == "code" for cell in nb.cells), timeout_s=timeout_s)


def record(name: str, value) -> None:
    """Keep a measurement beside the screenshots (build/test-artifacts/measurements.json)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "measurements.json"
    found = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**found, name: value}, indent=1))


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    """JupyterLab on a copy of lesson 01 (the repository's notebook stays untouched) and RISE's stylesheet."""
    if not LESSON01.exists():
        pytest.fail(f"{LESSON01.relative_to(ROOT)} is missing")
    root, state = tmp_path_factory.mktemp("course"), tmp_path_factory.mktemp("jupyter")
    shutil.copy(LESSON01, root)
    shutil.copy(RISE_CSS, root)
    with jupyterlab(root, state) as (base, token):
        yield SimpleNamespace(root=root, base=base, token=token)


@pytest.fixture(scope="module")
def lesson01(browser, lab):
    """Lesson 01 open in JupyterLab, every cell run."""
    page = new_page(browser, allowed=(lab.base,))
    open_and_run(page, lab.base, lab.token, lab.root / LESSON01.name, timeout_s=240)
    page.wait_for_timeout(1000)                                # the last pictures decode
    yield SimpleNamespace(page=page, nb=nbformat.read(LESSON01, as_version=4))
    page.context.close()


def check_explorers(page, expected: int, screenshot_stem: str) -> list[dict]:
    """Measure every explorer on the page; screenshot each one scrolled to the top of the notebook."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    boxes = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .cnnlab-explorer")
    assert boxes.count() == expected
    for k in range(expected):
        boxes.nth(k).evaluate("box => box.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / f"{screenshot_stem}-{k + 1}.png"))
    measured = page.evaluate(MEASURE_EXPLORERS)
    for m in measured:
        (shown_w, shown_h), (w, h) = m["displayed"], m["natural"]
        assert abs(shown_w - w) <= 1 and abs(shown_h - h) <= 1, f"{m['kind']}: a {w}×{h} picture shown at {shown_w}×{shown_h}"
        assert m["box"][0] <= m["room"][0] and m["box"][1] <= m["room"][1], (
            f"{m['kind']}: {m['box'][0]}×{m['box'][1]} px does not fit the {m['room'][0]}×{m['room'][1]} px "
            "that JupyterLab has for it in a 1366×768 window")
    return measured


def test_lesson01_explorers_show_their_pictures_unstretched_and_fit_a_laptop(lesson01):
    page = lesson01.page
    measured = check_explorers(page, expected=4, screenshot_stem="lesson01-explorer")
    assert [m["kind"] for m in measured] == ["cnnlab-conv-stepper", "cnnlab-conv-stepper", "cnnlab-kernel-editor",
                                             "cnnlab-feature-map-viewer"]
    area = min(m["room"][0] for m in measured)
    assert area >= OUTPUT_WIDTH, f"the output area is {area} px wide; tests/test_figures.py assumes {OUTPUT_WIDTH}"
    record("lesson01 explorers at 1366x768", measured)
    assert not page.outside, f"requests beyond the local server: {page.outside}"


def test_lesson02_shape_calculator_fits_a_laptop(browser, lab):
    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[v4.new_code_cell(
        "from cnnlab import widgets\nwidgets.shape_calculator(n=32, k=5, stride=1, padding=2, dilation=1)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, lab.root / "shape_calculator.ipynb")
    page = new_page(browser, allowed=(lab.base,))
    open_and_run(page, lab.base, lab.token, lab.root / "shape_calculator.ipynb", timeout_s=120)
    page.locator(".cnnlab-shape-calculator img").wait_for()
    page.wait_for_timeout(500)
    record("lesson02 shape calculator at 1366x768", check_explorers(page, 1, "lesson02-shape-calculator"))
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


def show_slide_of(rise, selector: str) -> None:
    """Go to the slide that holds ``selector`` (RISE follows the URL's #/h/v)."""
    rise.locator(selector).first.evaluate("""node => {
        let slide = node.closest('section');
        const outer = slide.parentElement.closest('section');
        const h = [...document.querySelectorAll('.reveal .slides > section')].indexOf(outer || slide);
        const v = outer ? [...outer.querySelectorAll(':scope > section')].indexOf(slide) : 0;
        location.hash = `#/${h}/${v}`;
    }""")
    rise.locator(f".reveal section.present {selector}").first.wait_for(state="visible", timeout=30_000)


def test_lesson01_live_slideshow_with_rise(lesson01):
    from playwright import sync_api

    page = lesson01.page
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").focus()   # the last cell is active
    page.keyboard.press("Alt+r")
    rise = page.frame_locator("iframe[src*='/rise/']")
    rise.locator(".reveal.ready").wait_for(timeout=60_000)
    assert rise.locator(".reveal .slides > section").count() == expected_slides(lesson01.nb)
    sync_api.expect(rise.locator(".reveal section.present h1")).to_contain_text("01 · Convolution by hand")
    assert rise.locator(".jp-Notebook-footer").is_hidden()     # no "Click to add a cell." strip
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lesson01-rise-start.png"))

    # The explorers are live widget views, not their text form, and they react.
    rise.locator(EDITOR).wait_for(state="attached", timeout=60_000)
    assert rise.locator(".cnnlab-explorer").count() == 4
    reprs = [text for text in rise.locator(".jp-OutputArea-output").all_inner_texts() if TEXT_REPR.match(text)]
    assert not reprs, f"widgets shown as text in the slideshow: {reprs[:2]}"
    show_slide_of(rise, EDITOR)
    editor = rise.locator(EDITOR)
    editor.locator("select").select_option("box blur")
    sync_api.expect(editor.locator(".widget-html")).to_contain_text("sum to 1", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "lesson01-rise-editor.png"))

    # Cells run inside the slideshow, in the notebook's kernel, and the new widget is live too.
    cell = rise.locator(".jp-CodeCell", has_text="kernel_editor(")
    prompt = cell.locator(".jp-InputPrompt")
    before = prompt.inner_text()
    code = cell.locator(".jp-InputArea-editor")
    # Right after the deck opens, a click can land before the slide's editor takes focus and
    # the keystroke goes nowhere: press again (at most three times) until the cell has run.
    for _ in range(3):
        code.click()
        code.press("Shift+Enter")
        try:
            sync_api.expect(prompt).not_to_have_text(before, timeout=20_000)
            break
        except AssertionError:
            continue
    sync_api.expect(prompt).to_have_text(re.compile(r"\[\d+\]"), timeout=60_000)
    assert int(re.search(r"\d+", prompt.inner_text()).group()) > int(re.search(r"\d+", before).group())
    sync_api.expect(cell.locator(f"{EDITOR} img")).to_be_visible(timeout=60_000)
    assert not TEXT_REPR.match(cell.locator(".jp-OutputArea-output").inner_text())
    show_slide_of(rise, EDITOR)                                # Shift+Enter moved on: back to the new widget
    page.screenshot(path=str(ARTIFACTS / "lesson01-rise.png"))
    assert not page.outside, f"requests beyond the local server: {page.outside}"


# The present RISE slide: its height against the window, and the code or output boxes whose
# lines are wider than the box (CodeMirror scrolls them sideways: the end is cut off).
MEASURE_RISE_SLIDE = """() => {
  const slide = [...document.querySelectorAll('.reveal .slides section.present')].pop();
  const box = slide.getBoundingClientRect();
  return {hash: location.hash, top: Math.round(box.top), height: slide.scrollHeight, limit: innerHeight,
          cut: [...slide.querySelectorAll('.cm-scroller, .jp-OutputArea-output pre')]
                 .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText.split('\\n')[0].slice(0, 80)),
          title: (slide.querySelector('h1, h2, h3') || {innerText: ''}).innerText.slice(0, 60)};
}"""


def test_lesson01_rise_slides_fit_1280x720(browser, lab, lesson01):
    """RISE full screen on a 1280×720 projector, on the notebook as the run left it (saved first)."""
    lesson01.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").focus()
    lesson01.page.keyboard.press("Control+s")
    lesson01.page.wait_for_function("!document.querySelector('.lm-TabBar-tab.jp-mod-dirty')", timeout=30_000)
    page = new_page(browser, allowed=(lab.base,), viewport=PROJECTOR)
    page.goto(f"{lab.base}/rise/{LESSON01.name}?token={lab.token}")
    page.locator(".reveal.ready").wait_for(timeout=90_000)
    page.locator(".cnnlab-explorer img").first.wait_for(state="attached", timeout=60_000)
    page.wait_for_timeout(1000)
    layout = page.evaluate("[...document.querySelectorAll('.reveal .slides > section')]"
                           ".map(h => Math.max(1, h.querySelectorAll(':scope > section').length))")
    shots, measured = ARTIFACTS / "rise-lesson01", []
    shots.mkdir(parents=True, exist_ok=True)
    for h, subslides in enumerate(layout):
        for v in range(subslides):
            page.evaluate(f"location.hash = '#/{h}/{v}'")
            page.wait_for_timeout(600)
            page.evaluate("document.querySelectorAll('.reveal section.present .fragment')"
                          ".forEach(f => f.classList.add('visible'))")
            measured.append(page.evaluate(MEASURE_RISE_SLIDE))
            page.screenshot(path=str(shots / f"{len(measured):02d}.png"))
    record("lesson01 RISE slides at 1280x720", [{k: m[k] for k in ("hash", "height", "title")} for m in measured])
    problems = [m for m in measured if m["height"] > m["limit"] or m["top"] < 0 or m["cut"]]
    assert not problems, "RISE slides that do not fit 1280×720:\n" + "\n".join(map(str, problems))
    page.context.close()


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
