"""Lecture decks: every lesson exports to a reveal.js deck that opens offline and fits a projector.

A deck has one top-level ``<section>`` per slide of the notebook, keeps the speaker
notes (``<aside class="notes">``), points only at local files (reveal.js and MathJax
copied beside it), and no script, stylesheet or picture comes from the network.
Opened in Chromium at 1280×720, every slide of every lesson fits without scrolling and
no line of code or output is cut at the right edge (screenshots of every slide and the
measurements go to ``build/test-artifacts/decks/``). While the lessons run for their
decks, every figure they show is watched (tests/test_figures.py's ``WATCH``): none has
text under 8 px where JupyterLab shows it.
"""

from __future__ import annotations

import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from cnnlab import course
from test_figures import small_texts, watch_code

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ARTIFACTS = ROOT / "build" / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PROJECTOR = {"width": course.SLIDE_WIDTH, "height": course.SLIDE_HEIGHT}
# tags whose src/href the browser fetches on its own (a plain <a href> is a link, not a load)
LOADING = {"script": "src", "link": "href", "img": "src", "iframe": "src", "source": "src",
           "video": "src", "audio": "src", "embed": "src"}
REMOTE_CSS = re.compile(r"""(@import\s+['"]?|url\(\s*['"]?)(https?:)?//""", re.IGNORECASE)


def slide_type(cell) -> str:
    return cell.metadata.get("slideshow", {}).get("slide_type", "-")


def expected_slides(nb) -> int:
    """Slides the notebook declares; the first shown cell opens one even when unmarked."""
    types = [slide_type(cell) for cell in nb.cells]
    shown = [t for t in types if t not in ("skip", "notes")]
    return types.count("slide") + (shown[0] != "slide")


def is_remote(url: str) -> bool:
    return url.strip().lower().startswith(("http://", "https://", "//"))


class Deck(HTMLParser):
    """What a deck page loads and how its slides nest."""

    def __init__(self, text: str):
        super().__init__()
        self.slides = 0                  # <section> directly inside <div class="slides">
        self.notes = 0                   # <aside class="notes">
        self.loads: list[str] = []       # src/href of the tags in LOADING
        self.inline = {"script": [], "style": []}    # text of inline <script> and <style>
        self._depth = None               # sections open inside div.slides
        self._in = None                  # "script" / "style" while inside one
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and "slides" in (attrs.get("class") or "").split():
            self._depth = 0
        elif tag == "section" and self._depth is not None:
            self.slides += self._depth == 0
            self._depth += 1
        elif tag == "aside" and "notes" in (attrs.get("class") or "").split():
            self.notes += 1
        if attrs.get(LOADING.get(tag, "")):
            self.loads.append(attrs[LOADING[tag]])
        if tag in ("script", "style"):
            self._in = tag

    def handle_endtag(self, tag):
        if tag == "section" and self._depth:
            self._depth -= 1
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in:
            self.inline[self._in].append(data)


def check_deck(deck_path: Path, nb) -> Deck:
    """The checks every deck must pass; returns the parsed deck for more."""
    deck = Deck(deck_path.read_text(encoding="utf-8"))
    assert deck.slides == expected_slides(nb), f"{deck_path.name}: {deck.slides} slides in the page"
    notes = [slide_type(cell) for cell in nb.cells].count("notes")
    assert deck.notes == notes, f"{deck_path.name}: {deck.notes} speaker-note asides, {notes} notes cells"
    remote = [url for url in deck.loads if is_remote(url)]
    assert not remote, f"{deck_path.name} loads from the network: {remote}"
    for text in deck.inline["style"]:
        assert not REMOTE_CSS.search(text), f"{deck_path.name}: remote @import/url() in a style"
    for text in deck.inline["script"]:
        assert "://" not in text, f"{deck_path.name}: an inline script names a URL: {text[:200]!r}"
    missing = [url for url in deck.loads
               if not url.startswith("data:") and not (deck_path.parent / url.split("?")[0]).is_file()]
    assert not missing, f"{deck_path.name} points at files that are not beside it: {missing}"
    for needed in ("reveal.js/dist/reveal.js", "reveal.js/dist/reveal.css", "reveal.js/plugin/notes/notes.js",
                   "reveal.js/dist/theme/white.css", course.MATHJAX_SCRIPT):
        assert needed in deck.loads, f"{deck_path.name} does not load {needed}"
    return deck


def tiny_notebook() -> nbformat.NotebookNode:
    """Two slides (the second with a subslide), a fragment, a note, a skipped set-up cell,
    maths, a plot, a printout taller than a slide and a widget."""
    v4 = nbformat.v4

    def cell(make, source, kind):
        return make(source, metadata={"slideshow": {"slide_type": kind}})

    nb = v4.new_notebook(cells=[
        cell(v4.new_markdown_cell, "# Tiny deck\nOutput size $\\lfloor (n - k + 2p)/s \\rfloor + 1$.", "slide"),
        cell(v4.new_markdown_cell, "Speaker note: say the formula out loud.", "notes"),
        cell(v4.new_code_cell, "import ipywidgets", "skip"),
        cell(v4.new_markdown_cell, "## Second\n$$Y[i,j] = \\sum_m \\sum_n X[i+m, j+n] W[m,n] + b$$", "slide"),
        cell(v4.new_code_cell, "print(6 * 7)", "fragment"),
        cell(v4.new_code_cell, "import matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.show()", "-"),
        cell(v4.new_code_cell, "print(*range(40), sep='\\n')", "-"),          # taller than a slide
        cell(v4.new_code_cell, "ipywidgets.IntSlider(3)", "subslide"),
        cell(v4.new_code_cell, "from tqdm.auto import tqdm\nprint(sum(tqdm(range(3), desc='counting')))", "-"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    return nb


def test_tiny_notebook_becomes_an_offline_deck(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")                    # as in the test run: kernels must still draw inline
    source = tmp_path / "07_tiny.ipynb"
    nb = tiny_notebook()
    nbformat.write(nb, source)
    [deck_path] = course.export_slides([source], tmp_path / "slides", quick=True)

    assert deck_path == tmp_path / "slides" / "07_tiny.slides.html"
    assert expected_slides(nb) == 2
    deck = check_deck(deck_path, nb)
    text = deck_path.read_text(encoding="utf-8")
    assert "Speaker note: say the formula out loud." in text
    assert ">42" in text                                       # the fragment's output, executed
    assert "data:image/png;base64," in text                    # the plot, inline
    assert "import ipywidgets" not in text                     # skipped cell
    assert course.WIDGET_NOTE in text and "widget-state+json" not in text and "widget-view+json" not in text
    assert text.count(course.WIDGET_NOTE) == 1 and ">3" in text  # the progress bar is left out, its result kept
    assert "\\lfloor" in text                                  # math left for MathJax to typeset
    for licence in ("reveal.js/LICENSE", "mathjax/LICENSE"):
        assert (deck_path.parent / licence).is_file()


def test_first_shown_cell_opens_a_slide(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("set-up", metadata={"slideshow": {"slide_type": "skip"}}),
        nbformat.v4.new_markdown_cell("# unmarked title"),
        nbformat.v4.new_markdown_cell("## one", metadata={"slideshow": {"slide_type": "slide"}}),
    ])
    assert expected_slides(nb) == 2
    deck_path = tmp_path / "deck.slides.html"
    course.copy_slide_assets(tmp_path)
    deck_path.write_text(course.slides_html(nb), encoding="utf-8")
    check_deck(deck_path, nb)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lesson_declares_its_slides(lesson):
    """The notebook conventions: a slide per topic and at least one speaker-notes cell."""
    types = [slide_type(cell) for cell in nbformat.read(lesson, as_version=4).cells]
    assert types.count("slide") >= 3, f"{lesson.name}: {types.count('slide')} slides"
    assert "notes" in types, f"{lesson.name}: no speaker notes cell"


def figure_log(deck_path: Path) -> Path:
    """Where the figures of the lesson behind ``deck_path`` were recorded while it ran."""
    return deck_path.with_name(deck_path.name.replace(".slides.html", ".figures.json"))


@pytest.fixture(scope="module")
def lesson_decks(tmp_path_factory):
    """Execute every lesson (quick mode, two kernels at a time) into one deck folder,
    recording every figure it draws beside its deck (``figure_log``).

    Each lesson's outcome (its deck or the error it raised) is kept apart, so one
    broken notebook fails only its own test.
    """
    out = tmp_path_factory.mktemp("slides")
    course.copy_slide_assets(out)

    def build(lesson):
        try:
            return course.write_slide_deck(lesson, out, setup=watch_code(out / f"{lesson.stem}.figures.json"))
        except Exception as err:  # noqa: BLE001 - handed to that lesson's test
            return err

    with course.kernel_env(True), ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(LESSONS, pool.map(build, LESSONS)))


def built(lesson_decks, lesson) -> Path:
    deck_path = lesson_decks[lesson]
    if isinstance(deck_path, Exception):
        raise deck_path
    return deck_path


@pytest.fixture(scope="module")
def chromium():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


# The current slide with every fragment shown: its height against the deck's, the lines of
# code or output that do not fit their box, and anything that reaches past the right edge.
MEASURE_SLIDE = """() => {
  const config = Reveal.getConfig(), slide = Reveal.getCurrentSlide(), scale = Reveal.getScale();
  const right = slide.getBoundingClientRect().left + config.width * scale + 1;
  const longest = pre => pre.innerText.split('\\n').reduce((a, b) => a.length >= b.length ? a : b, '');
  return {
    slide: Reveal.getIndices(), height: slide.scrollHeight, limit: config.height,
    cut: [...slide.querySelectorAll('pre')].filter(pre => pre.scrollWidth > pre.clientWidth + 1)
                                           .map(pre => longest(pre).slice(0, 100)),
    wide: [...slide.querySelectorAll('img, table, .jp-Cell')].filter(e => e.getBoundingClientRect().right > right)
                                                               .map(e => e.tagName + '.' + e.className),
    title: (slide.querySelector('h1, h2, h3') || {innerText: ''}).innerText.slice(0, 60),
  };
}"""


def measure_deck(browser, deck_path: Path, screenshots: Path | None = None) -> list[dict]:
    """Open a deck at 1280×720 and measure every slide (``MEASURE_SLIDE``), fragments shown."""
    page = browser.new_page(viewport=PROJECTOR)
    page.goto(deck_path.as_uri())
    page.wait_for_function("window.Reveal && Reveal.isReady()", timeout=30_000)
    page.evaluate("Reveal.configure({transition: 'none', backgroundTransition: 'none'})")
    page.wait_for_function("document.fonts.status === 'loaded'", timeout=30_000)
    measured = []
    for k, where in enumerate(page.evaluate("Reveal.getSlides().map(slide => Reveal.getIndices(slide))")):
        page.evaluate(f"Reveal.slide({where['h']}, {where.get('v') or 0})")
        page.evaluate("Reveal.getCurrentSlide().querySelectorAll('.fragment').forEach(f => f.classList.add('visible'))")
        page.wait_for_timeout(100)
        measured.append(page.evaluate(MEASURE_SLIDE))
        if screenshots is not None:
            screenshots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshots / f"{deck_path.name.split('.')[0]}-{k:02d}.png"))
    page.close()
    return measured


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lesson_deck(lesson, lesson_decks):
    deck_path = built(lesson_decks, lesson)
    check_deck(deck_path, nbformat.read(lesson, as_version=4))
    assert "jp-OutputArea-output" in deck_path.read_text(encoding="utf-8"), f"{deck_path.name}: no outputs"


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_slide_fits_a_1280x720_projector(lesson, lesson_decks, chromium):
    deck_path = built(lesson_decks, lesson)
    slides = measure_deck(chromium, deck_path, screenshots=ARTIFACTS / "decks")
    (ARTIFACTS / "decks" / f"{lesson.stem}.json").write_text(json.dumps(slides, indent=1))
    assert len(slides) == expected_slides(nbformat.read(lesson, as_version=4)) + sum(
        slide_type(cell) == "subslide" for cell in nbformat.read(lesson, as_version=4).cells)
    problems = [f"slide {m['slide']['h']}.{m['slide'].get('v') or 0} ({m['title'] or 'untitled'}): "
                + (f"{m['height']} px tall, the deck is {m['limit']}; " if m["height"] > m["limit"] else "")
                + (f"cut lines {m['cut']}; " if m["cut"] else "") + (f"too wide {m['wide']}" if m["wide"] else "")
                for m in slides if m["height"] > m["limit"] or m["cut"] or m["wide"]]
    assert not problems, f"{deck_path.name} at 1280×720:\n" + "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_figure_the_lesson_shows_is_readable(lesson, lesson_decks):
    log = figure_log(built(lesson_decks, lesson))
    records = json.loads(log.read_text()) if log.exists() else []
    small = [f"figure {k + 1} ({r['width']}×{r['height']} px): {small_texts(r)[:4]}"
             for k, r in enumerate(records) if small_texts(r)]
    assert not small, f"{lesson.name} shows text under 8 px in JupyterLab:\n" + "\n".join(small)
