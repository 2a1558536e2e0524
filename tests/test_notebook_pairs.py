"""Every notebook is a jupytext pair: the .py (percent) source and an .ipynb without outputs, in step."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*ROOT.glob("notebooks/[0-9][0-9]_*.py"), *ROOT.glob("solutions/[0-9][0-9]_*.py")])
KEPT_METADATA = ("nbgrader", "slideshow", "tags")


def cells(nb) -> list[tuple]:
    return [(c.cell_type, c.source.strip(), {k: c.metadata.get(k) for k in KEPT_METADATA if k in c.metadata})
            for c in nb.cells]


@pytest.mark.parametrize("source", SOURCES, ids=[p.name for p in SOURCES])
def test_pair_is_in_step(source):
    paired = source.with_suffix(".ipynb")
    assert paired.exists(), f"{paired.name} is missing: run jupytext --to ipynb {source}"
    expected = cells(jupytext.read(source))
    actual = cells(nbformat.read(paired, as_version=4))
    assert actual == expected, f"{paired.name} drifted from {source.name}: run jupytext --sync {source}"


@pytest.mark.parametrize("notebook", sorted(ROOT.glob("*/[0-9][0-9]_*.ipynb")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_without_outputs(notebook):
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{notebook.name} has stored outputs"


def test_every_lesson_has_its_pair():
    lessons = sorted(p.stem for p in ROOT.glob("notebooks/[0-9][0-9]_*.py"))
    assert lessons[0] == "00_welcome"
    assert len(lessons) == len(set(name[:2] for name in lessons))


@pytest.mark.parametrize("source", SOURCES, ids=[p.name for p in SOURCES])
def test_source_asks_for_its_pairing(source):
    """Pairing is declared by each source (jupytext.toml pairs nothing), so exercises/ and work/ stay plain."""
    assert jupytext.read(source).metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent"


def test_instructors_sync_leaves_the_reviewed_sources_alone(tmp_path):
    """The README's `jupytext --sync` after editing a .py updates the .ipynb and writes nothing into the .py."""
    shutil.copy(ROOT / "jupytext.toml", tmp_path)
    copies = []
    for source in SOURCES:
        folder = tmp_path / source.parent.name
        folder.mkdir(exist_ok=True)
        shutil.copy2(source.with_suffix(".ipynb"), folder)
        shutil.copy2(source, folder)
        os.utime(folder / source.name)                   # the .py is the newer file, as after an edit
        copies.append(folder / source.name)
    subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", *map(str, copies)],
                   cwd=tmp_path, check=True, capture_output=True)
    for source, copy in zip(SOURCES, copies):
        assert copy.read_text() == source.read_text(), f"jupytext --sync rewrote {source.name}"
