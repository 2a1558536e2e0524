"""Run the course notebooks and export them with their outputs (``make course``, ``make slides``).

Each notebook is executed in a fresh kernel, in its own folder, and written to
``build/NN_topic.html`` with every figure and table in the page, or to
``build/slides/NN_topic.slides.html`` as a reveal.js lecture deck that opens from
disk without a network: reveal.js and MathJax are copied next to the decks from
``cnnlab/vendor/``, and nothing in a deck points to a remote script or stylesheet.
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
/* keep headings as written: "ResNet", "im2col", "3×3" */
.reveal .slides h1, .reveal .slides h2, .reveal .slides h3, .reveal .slides h4 { text-transform: none; }
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
  width: 960,
  height: 700,
  plugins: [RevealNotes]
});
// A slide taller than the page scrolls with the mouse wheel or trackpad
// instead of being cut off at the bottom.
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
def kernel_env(quick: bool) -> Iterator[None]:
    """The environment kernels started inside the block inherit.

    ``CNNLAB_QUICK=1`` when ``quick``; and no ``MPLBACKEND``, so that figures come out
    inline as they do in JupyterLab even when the caller draws with a non-interactive
    backend (the test run sets ``MPLBACKEND=Agg``).
    """
    before = {name: os.environ.get(name) for name in ("CNNLAB_QUICK", "MPLBACKEND")}
    if quick:
        os.environ["CNNLAB_QUICK"] = "1"
    os.environ.pop("MPLBACKEND", None)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def execute(path: Path, timeout: int = 1800):
    """Run ``path`` top to bottom in a fresh kernel (working directory: its folder); return the notebook."""
    import nbformat
    from nbconvert.preprocessors import ExecutePreprocessor

    nb = nbformat.read(path, as_version=4)
    ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(
        nb, {"metadata": {"path": str(path.parent)}})
    return nb


def export_html(notebooks: list[Path] | None = None, out: Path = Path("build"), quick: bool = False) -> list[Path]:
    """Execute each notebook and write ``out/<name>.html`` with outputs; return the paths written."""
    from nbconvert import HTMLExporter

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with kernel_env(quick):
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
    with kernel_env(quick), ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(lambda path: write_slide_deck(path, out), paths))


def write_slide_deck(path: Path, out: Path) -> Path:
    """Execute one notebook and write ``out/<name>.slides.html`` (assets: ``copy_slide_assets``)."""
    target = out / (path.stem + ".slides.html")
    target.write_text(slides_html(execute(path)), encoding="utf-8")
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
        mathjax_url=MATHJAX_SCRIPT,
    )
    body, _ = exporter.from_notebook_node(static_widgets(nb))
    return body


def static_widgets(nb):
    """Replace each widget output by a one-line note and drop the saved widget state.

    Rendering widgets without a kernel would need the widget manager from a CDN;
    their plain-text form is either the constructor call or a stale first frame.
    """
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                output["data"] = {"text/plain": WIDGET_NOTE}
    return nb
