"""Run the course notebooks and export them with their outputs (``make course``, ``make slides``).

Each notebook is executed in a fresh kernel, in its own folder, and written to
``build/NN_topic.html`` with every figure and table in the page, or to
``build/slides/NN_topic.slides.html`` as a reveal.js lecture deck that opens from
disk without a network: reveal.js and MathJax are copied next to the decks from
``cnnlab/vendor/``, and nothing in a deck points to a remote script or stylesheet.

A deck is laid out for a 1280×720 projector (``SLIDE_WIDTH`` × ``SLIDE_HEIGHT``): every
lesson slide fits without scrolling and code lines of up to 121 characters are not cut
(tests/test_slides.py measures each slide in Chromium).
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

NOTEBOOK_DIR = "notebooks"
VENDOR_DIR = Path(__file__).parent / "vendor"
REVEAL_PREFIX = "reveal.js"                         # folder beside the decks, relative
MATHJAX_SCRIPT = "mathjax/tex-chtml-full.js"        # ditto; finds its fonts beside itself
SLIDE_WIDTH, SLIDE_HEIGHT = 1280, 720
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = "[live widget: it appears when the lesson runs in JupyterLab]"

# The stock reveal template loads jQuery, require.js, mermaid, MathJax 2 and the
# widget renderer from CDNs. This one loads reveal.js, its speaker-notes plugin
# and MathJax 3 from the local copies, and nothing else.
SLIDES_TEMPLATE = r"""{%- extends 'index.html.j2' -%}

{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}

{%- block html_head_css -%}
<style type="text/css">
/* Sizes for a 1280×720 slide: prose a projector shows well, code small enough that a
   121-character line fits the width (no prompts: the slide needs their room). */
:root {
  --jp-content-font-size1: 19px;
  --jp-ui-font-size1: 17px;
  --jp-code-font-size: 15px;
  --jp-code-line-height: 1.3;
  --jp-cell-prompt-width: 0px;
}
.reveal .slides section { padding: 0; }
/* keep headings as written: "ResNet", "im2col", "3×3" */
.reveal .slides h1, .reveal .slides h2, .reveal .slides h3, .reveal .slides h4 { text-transform: none; }
.reveal .slides h1 { font-size: 44px; }
.reveal .slides h2 { font-size: 34px; margin-bottom: 10px; }
.reveal .jp-RenderedHTMLCommon p, .reveal .jp-RenderedHTMLCommon li { line-height: 1.35; }
.reveal .jp-RenderedHTMLCommon p { margin-bottom: 0.5em; }
.reveal .jp-Cell { padding: 2px 0; }
.reveal div.jp-OutputArea-output > pre { width: 100%; }
/* tables printed by code (the layer summaries of lessons 02-06) compact enough for a slide, their notes too */
.reveal .jp-OutputArea-output table { font-size: 14px; }
.reveal .jp-OutputArea-output td, .reveal .jp-OutputArea-output th { padding: 1px 8px; line-height: 1.25; }
.reveal .jp-OutputArea-output table + p { font-size: 14px; line-height: 1.3; }
/* a long code line scrolls sideways instead of running off the slide */
.reveal .jp-Cell .highlight pre, .reveal .jp-OutputArea-output pre { overflow-x: auto; }
</style>
{%- endblock html_head_css -%}

{%- block html_head_js_mathjax -%}
<script>
window.MathJax = {
  tex: {
    inlineMath: [['$', '$'], ['\\(', '\\)']],
    displayMath: [['$$', '$$'], ['\\[', '\\]']],
    processEscapes: true,
    processEnvironments: true
  }
};
</script>
<script defer src="{{ resources.mathjax_url }}"></script>
{%- endblock html_head_js_mathjax -%}

{% block footer_js %}
<script src="{{ resources.reveal.url_prefix }}/dist/reveal.js"></script>
<script src="{{ resources.reveal.url_prefix }}/plugin/notes/notes.js"></script>
<script>
Reveal.initialize({
  controls: true,
  progress: true,
  history: true,
  transition: "{{ resources.reveal.transition }}",
  slideNumber: "c/t",
  width: {{ resources.reveal.width }},
  height: {{ resources.reveal.height }},
  margin: 0.03,
  plugins: [RevealNotes]
});
// A slide taller than the page (in a notebook of your own; the lessons' slides all fit)
// scrolls with the mouse wheel or trackpad instead of being cut off at the bottom.
function scrollTallSlide() {
  var slide = Reveal.getCurrentSlide(), limit = Reveal.getConfig().height;
  if (slide && slide.scrollHeight > limit) {
    slide.style.height = limit + "px";
    slide.style.overflowY = "auto";
  }
}
Reveal.on("ready", scrollTallSlide);
Reveal.on("slidechanged", scrollTallSlide);
</script>
{% endblock footer_js %}
"""


def lesson_notebooks(root: Path | None = None) -> list[Path]:
    """The lesson notebooks in order: notebooks/00_*.ipynb … 09_*.ipynb."""
    root = root or Path.cwd()
    found = sorted((root / NOTEBOOK_DIR).glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no lesson notebooks in {root / NOTEBOOK_DIR}; run this from the course folder")
    return found


@contextmanager
def kernel_env(quick: bool | None, threads: int | None = None) -> Iterator[None]:
    """The environment kernels started inside the block inherit.

    ``CNNLAB_QUICK=1`` when ``quick`` is True, no ``CNNLAB_QUICK`` when it is False (full mode
    whatever the caller's environment says), the caller's setting when it is None; ``threads``
    OpenMP threads per kernel (None: the caller's setting, or torch's choice of one per core);
    and no ``MPLBACKEND``, so that figures come out inline as they do in JupyterLab even when
    the caller draws with a non-interactive backend (the test run sets ``MPLBACKEND=Agg``).
    """
    names = ("CNNLAB_QUICK", "MPLBACKEND", "OMP_NUM_THREADS")
    before = {name: os.environ.get(name) for name in names}
    if quick is True:
        os.environ["CNNLAB_QUICK"] = "1"
    elif quick is False:
        os.environ.pop("CNNLAB_QUICK", None)
    if threads:
        os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ.pop("MPLBACKEND", None)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def execute(path: Path, timeout: int = 1800, setup: str = ""):
    """Run ``path`` top to bottom in a fresh kernel (working directory: its folder); return the notebook.

    ``setup`` is code run in the same kernel before the first cell and not kept in the
    notebook (the tests use it to watch every figure the lesson draws).
    """
    import nbformat
    from nbconvert.preprocessors import ExecutePreprocessor

    nb = nbformat.read(path, as_version=4)
    if setup:
        nb.cells.insert(0, nbformat.v4.new_code_cell(setup))
    ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(
        nb, {"metadata": {"path": str(path.parent)}})
    if setup:
        del nb.cells[0]
    return nb


def export_html(notebooks: list[Path] | None = None, out: Path = Path("build"), quick: bool = False) -> list[Path]:
    """Execute each notebook and write ``out/<name>.html`` with outputs; return the paths written."""
    from nbconvert import HTMLExporter

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with kernel_env(quick or None):
        for path in notebooks or lesson_notebooks():
            body, _ = HTMLExporter().from_notebook_node(execute(path))
            target = out / (path.stem + ".html")
            target.write_text(body, encoding="utf-8")
            written.append(target)
    return written


def export_slides(notebooks: list[Path] | None = None, out: Path = Path("build/slides"),
                  quick: bool = False, jobs: int = 1) -> list[Path]:
    """Execute each notebook and write ``out/<name>.slides.html``, a reveal.js deck (``make slides``).

    The decks keep every output and the speaker notes (cells of slide type "notes";
    press ``s`` in a deck), and open offline: ``out/reveal.js/`` and ``out/mathjax/``
    are local copies. Interactive widgets cannot run without a kernel, so each
    widget output becomes a one-line note; present the notebook live in JupyterLab
    (RISE, ``alt+r``) to use them. How to lecture with them: notebooks/INSTRUCTORS.md.

    Args:
        notebooks: notebooks to export; default: every lesson in notebooks/.
        out: folder for the decks (created).
        quick: run with ``CNNLAB_QUICK=1`` (seconds of training instead of minutes).
        jobs: notebooks executed at once, each in its own kernel.

    Returns:
        The paths written, in the order of ``notebooks``.
    """
    paths = notebooks or lesson_notebooks()
    out.mkdir(parents=True, exist_ok=True)
    copy_slide_assets(out)
    with kernel_env(quick or None), ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(lambda path: write_slide_deck(path, out), paths))


def write_slide_deck(path: Path, out: Path, setup: str = "") -> Path:
    """Execute one notebook (after ``setup``, see ``execute``) and write ``out/<name>.slides.html``
    (assets: ``copy_slide_assets``)."""
    target = out / (path.stem + ".slides.html")
    target.write_text(slides_html(execute(path, setup=setup)), encoding="utf-8")
    return target


def copy_slide_assets(out: Path) -> None:
    """Copy the vendored reveal.js and MathJax (with their licences) into ``out``."""
    for name in ("reveal.js", "mathjax"):
        shutil.copytree(VENDOR_DIR / name, out / name, dirs_exist_ok=True)


def slides_html(nb) -> str:
    """The reveal.js page of an (executed) notebook, pointing at assets beside it."""
    from jinja2 import DictLoader
    from nbconvert import SlidesExporter

    exporter = SlidesExporter(
        extra_loaders=[DictLoader({"cnnlab_slides.html.j2": SLIDES_TEMPLATE})],
        template_file="cnnlab_slides.html.j2",
        reveal_url_prefix=REVEAL_PREFIX,
        reveal_theme="white",      # "simple", the default, imports web fonts
        reveal_width=str(SLIDE_WIDTH),
        reveal_height=str(SLIDE_HEIGHT),
        mathjax_url=MATHJAX_SCRIPT,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(static_widgets(nb))
    return body


PROGRESS_MODELS = {"FloatProgressModel", "IntProgressModel"}


def _is_progress_bar(model_id: str, state: dict) -> bool:
    """Whether the saved widget ``model_id`` is, or holds, a progress bar (a training run's tqdm bar)."""
    model = state.get(model_id, {})
    if model.get("model_name") in PROGRESS_MODELS:
        return True
    children = model.get("state", {}).get("children", [])
    return any(_is_progress_bar(str(child).removeprefix("IPY_MODEL_"), state) for child in children)


def static_widgets(nb):
    """Replace each widget output by a one-line note, drop progress bars and the saved widget state.

    Rendering widgets without a kernel would need the widget manager from a CDN;
    their plain-text form is either the constructor call or a stale first frame.
    A progress bar (known from the widget state the run saved) says nothing once the
    run is over, so it is left out; the table or history printed after it stays.
    """
    state = nb.metadata.pop("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for cell in nb.cells:
        kept = []
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is not None and _is_progress_bar(view.get("model_id", ""), state):
                continue
            if view is not None:
                output["data"] = {"text/plain": WIDGET_NOTE}
            kept.append(output)
        if "outputs" in cell:
            cell["outputs"] = kept
    return nb
