"""Run the course notebooks and export them with their outputs (``make course``).

Each notebook is executed in a fresh kernel, in its own folder, and written to
``build/NN_topic.html`` with every figure and table in the page.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

NOTEBOOK_DIR = "notebooks"


def lesson_notebooks(root: Path | None = None) -> list[Path]:
    """The lesson notebooks in order: notebooks/00_*.ipynb … 08_*.ipynb."""
    root = root or Path.cwd()
    found = sorted((root / NOTEBOOK_DIR).glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no lesson notebooks in {root / NOTEBOOK_DIR}; run this from the course folder")
    return found


@contextmanager
def quick_env(quick: bool) -> Iterator[None]:
    """Set CNNLAB_QUICK for the kernels started inside the block (they inherit the environment)."""
    before = os.environ.get("CNNLAB_QUICK")
    if quick:
        os.environ["CNNLAB_QUICK"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("CNNLAB_QUICK", None)
        else:
            os.environ["CNNLAB_QUICK"] = before


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
    with quick_env(quick):
        for path in notebooks or lesson_notebooks():
            body, _ = HTMLExporter().from_notebook_node(execute(path))
            target = out / (path.stem + ".html")
            target.write_text(body, encoding="utf-8")
            written.append(target)
    return written
