"""Static check of a graded cell for forbidden modules, before any of it runs. Lesson: exercises.

An exercise may forbid modules (``Exercise.forbidden``, e.g. ``torch`` and ``cnnlab.layers``
in a NumPy exercise) or single functions (``numpy.convolve``). The scan reads the cell's
syntax tree and reports, with line numbers:

- ``import``/``from … import`` of a forbidden name (``from cnnlab import layers`` too);
- attribute chains that reach one through an imported name (``np.convolve``, ``cnnlab.layers.x``);
- dynamic imports (``__import__``, ``importlib``, ``sys.modules``, ``builtins``), which would
  hide what the cell uses.

The child process adds a runtime import guard for what a static scan cannot see.

A top-level ``from cnnlab.checks import check`` (a learner who pasted the notebook's set-up
line into the exercise cell) is set aside, here and in the sandbox, like a top-level
``check(...)`` call: the cell's definitions are what is graded.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from cnnlab.grading.notebook import parse

DYNAMIC_MODULES = ("importlib", "imp", "pkgutil", "runpy", "builtins", "zipimport")
DYNAMIC_NAMES = ("__import__", "__builtins__", "__loader__", "__spec__")


@dataclass(frozen=True)
class Use:
    line: int
    what: str                  # "torch", "numpy.convolve", "a dynamic import (__import__)"

    def __str__(self) -> str:
        return f"{self.what} (line {self.line})"


def _blocked(name: str, forbidden: tuple[str, ...]) -> str | None:
    return next((f for f in forbidden if name == f or name.startswith(f + ".")), None)


def _chain(node: ast.AST) -> tuple[str, ast.Name] | None:
    """``a.b.c`` for an attribute chain rooted at a name, with that name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)]), node
    return None


SET_ASIDE = "cnnlab.checks"


def set_aside(node: ast.AST) -> bool:
    """A top-level statement the grader leaves out: an expression, or an import of ``cnnlab.checks``."""
    if isinstance(node, ast.Expr):
        return True
    if isinstance(node, ast.ImportFrom) and not node.level:
        return node.module == SET_ASIDE or (node.module or "").startswith(SET_ASIDE + ".")
    if isinstance(node, ast.Import):
        return all(a.name == SET_ASIDE or a.name.startswith(SET_ASIDE + ".") for a in node.names)
    return False


def forbidden_uses(source: str, forbidden: tuple[str, ...], known: dict[str, str] | None = None) -> list[Use]:
    """Every use of a forbidden module or a dynamic import in ``source`` (already plain Python).

    ``known`` maps names defined outside ``source`` to what they stand for (a self-check reads a
    function whose ``np`` was imported elsewhere in the notebook: ``{"np": "numpy"}``).
    """
    if not forbidden:
        return []
    tree = parse(source)
    tree.body = [node for node in tree.body if not set_aside(node)]
    aliases: dict[str, str] = dict(known or {})      # local name -> the module or object it stands for
    uses: list[Use] = []

    def report(line: int, name: str) -> None:
        hit = _blocked(name, forbidden)
        if hit:
            uses.append(Use(line, hit))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                report(node.lineno, alias.name)
                if alias.name.split(".")[0] in DYNAMIC_MODULES:
                    uses.append(Use(node.lineno, f"a dynamic import ({alias.name})"))
                local = alias.asname or alias.name.split(".")[0]
                aliases[local] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            report(node.lineno, module)
            if module.split(".")[0] in DYNAMIC_MODULES:
                uses.append(Use(node.lineno, f"a dynamic import ({module})"))
            for alias in node.names:
                if alias.name == "*":
                    for f in forbidden:
                        if f.startswith(module + "."):
                            uses.append(Use(node.lineno, f))
                    continue
                report(node.lineno, f"{module}.{alias.name}")
                aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in DYNAMIC_NAMES:
            uses.append(Use(node.lineno, f"a dynamic import ({node.id})"))
        if isinstance(node, ast.Attribute):
            found = _chain(node)
            if found is None:
                continue
            dotted, root = found
            head, _, rest = dotted.partition(".")
            resolved = aliases.get(head, head if head in _top_levels(forbidden) else None)
            if resolved is None:
                continue
            full = f"{resolved}.{rest}" if rest else resolved
            report(node.lineno, full)
        if isinstance(node, ast.Attribute) and node.attr == "modules":
            base = node.value
            if isinstance(base, ast.Name) and aliases.get(base.id, base.id) == "sys":
                uses.append(Use(node.lineno, "a dynamic import (sys.modules)"))
    first: dict[str, Use] = {}
    for use in sorted(uses, key=lambda u: (u.line, u.what)):
        first.setdefault(use.what, use)             # each forbidden thing once, where it first appears
    return list(first.values())


def _top_levels(forbidden: tuple[str, ...]) -> set[str]:
    return {f.split(".")[0] for f in forbidden}
