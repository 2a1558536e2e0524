"""Read a submitted notebook as data and find the cell of each exercise. Lesson: exercises.

A submission is read as JSON and never executed as a whole. The answer to exercise
``conv2d_single`` is the code cell whose nbgrader ``grade_id`` is ``conv2d_single``; when a
learner's tool lost the metadata, it is the (last) code cell that defines
``def conv2d_single(``. Everything else in the notebook (the metadata's points included) is
ignored.

The file itself is distrusted too: only a regular file is read (never through a symbolic
link, never a FIFO or a device), at most ``MAX_NOTEBOOK_BYTES``; a cell longer than
``MAX_CELL_CHARS`` is not parsed; JSON nested too deeply is refused.
"""

from __future__ import annotations

import ast
import errno
import json
import os
import re
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

MAX_NOTEBOOK_BYTES = 20 << 20
MAX_CELL_CHARS = 100_000           # far above any answer; a larger cell is graded as an error, unparsed
MAGIC = re.compile(r"^(\s*)([%!]|\?|[\w.]+\?\??\s*$)")


class NotebookError(ValueError):
    """The file is not a readable notebook; the message is for the learner."""


@dataclass
class Cell:
    index: int                 # position among all cells, from 0
    source: str
    grade_id: str | None

    @property
    def too_large(self) -> bool:
        return len(self.source) > MAX_CELL_CHARS


@dataclass
class Located:
    """Where an exercise's answer is, or why there is none."""

    cell: Cell | None
    note: str = ""             # e.g. "found by function name: the cell's nbgrader metadata was lost"
    problem: str = ""          # why nothing can be graded (the message of a "missing" result)


def read_notebook(path: Path) -> dict:
    """The notebook as a dict; NotebookError when it is not one (or not a regular file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise NotebookError(f"{path.name} is a symbolic link, not a notebook file") from None
        raise NotebookError(f"cannot read {path.name}: {err.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotebookError(f"{path.name} is not a regular file (a folder, a device or a pipe)")
        chunks, size = [], 0
        while size <= MAX_NOTEBOOK_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_NOTEBOOK_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"{path.name} is over {MAX_NOTEBOOK_BYTES >> 20} MB; larger notebooks "
                            "are not graded (clear the outputs and submit again)")
    try:
        nb = json.loads(b"".join(chunks).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise NotebookError(f"{path.name} is not a notebook (not valid JSON: {err})") from None
    except (RecursionError, MemoryError):
        raise NotebookError(f"{path.name} is not a notebook (its JSON is nested too deeply)") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookError(f"{path.name} is not a Jupyter notebook (it has no list of cells)")
    return nb


def _text(source) -> str:
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def code_cells(nb: dict) -> list[Cell]:
    cells = []
    for i, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata")
        grader = meta.get("nbgrader") if isinstance(meta, dict) else None
        grade_id = grader.get("grade_id") if isinstance(grader, dict) else None
        cells.append(Cell(i, _text(cell.get("source")), grade_id if isinstance(grade_id, str) else None))
    return cells


def plain_python(source: str) -> str:
    """The cell with IPython magics and shell lines (``%time``, ``!pip``, ``x?``) commented out; lines keep their numbers."""
    lines = []
    for line in source.splitlines():
        match = MAGIC.match(line)
        lines.append(f"{match.group(1)}# {line.strip()}" if match else line)
    return "\n".join(lines) + "\n"


_PARSE_LOCK = threading.Lock()


def parse(source: str) -> ast.Module:
    """``ast.parse`` for the grader's threads (``--jobs``).

    CPython 3.11's parser keeps a recursion counter that is not thread-safe: two threads
    parsing at once can fail with "SystemError: AST constructor recursion depth mismatch".
    One lock around the parser costs nothing next to running a child process.
    """
    with _PARSE_LOCK:
        return ast.parse(source)


def defined_functions(source: str) -> list[str]:
    """Names of the functions a cell defines at its top level (a regex when it does not parse or is too large)."""
    if len(source) > MAX_CELL_CHARS:
        return re.findall(r"^def\s+([A-Za-z_]\w*)\s*\(", source[:MAX_CELL_CHARS], re.M)
    try:
        tree = parse(plain_python(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return re.findall(r"^def\s+([A-Za-z_]\w*)\s*\(", source, re.M)
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def locate(cells: list[Cell], name: str) -> Located:
    """The cell to grade for exercise ``name`` (see the module docstring), with a note or a problem."""
    tagged = [c for c in cells if c.grade_id == name]
    defining = [c for c in cells if name in defined_functions(c.source)]
    if tagged:
        chosen = tagged[-1]
        note = (f"{len(tagged)} cells carry grade_id {name!r}; the last one was graded" if len(tagged) > 1 else "")
        if chosen in defining or chosen.too_large:          # a cell too large to read is graded as such
            return Located(chosen, note)
        others = [c for c in defining if c.grade_id != name]
        if others:
            return Located(others[-1], _join(note, f"the cell with grade_id {name!r} does not define {name}(); "
                                                   f"graded cell {others[-1].index + 1}, which does"))
        found = defined_functions(chosen.source)
        what = f"it defines {', '.join(found)}()" if found else "it defines no function"
        return Located(None, note, f"the exercise cell does not define {name}() ({what}): "
                                   f"keep the function's name as given")
    if defining:
        return Located(defining[-1], f"found by its function name (cell {defining[-1].index + 1}): "
                                     "the cell's nbgrader metadata was changed or lost")
    return Located(None, "", f"no cell defines {name}(): keep the exercise cell and the function's name")


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def chapter_from_name(path: Path) -> str | None:
    """The chapter a file's name gives (``01_convolution_by_hand.ipynb`` -> "01"), or None."""
    match = re.match(r"(\d\d)[_\-. ]", path.name)
    return match.group(1) if match else None


def chapter_in_metadata(nb: dict) -> str | None:
    """The chapter a notebook's metadata claims (``metadata.cnnlab.chapter``), or None: checked, never trusted."""
    meta = nb.get("metadata")
    own = meta.get("cnnlab") if isinstance(meta, dict) else None
    chapter = own.get("chapter") if isinstance(own, dict) else None
    if isinstance(chapter, str | int) and not isinstance(chapter, bool) and re.fullmatch(r"\d{1,2}", str(chapter)):
        return f"{int(chapter):02d}"
    return None
