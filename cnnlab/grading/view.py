"""What learner code may see of the file system: an allow-list, computed once per exercise. Lesson: exercises.

The view holds what Python needs to run the learner's cell and nothing else: the shared
libraries, Python's standard library, its site-packages without the course's package and
without the modules the exercise forbids, the few course modules the exercise lets the
learner import, four devices, and (with a mount namespace) a private ``/tmp`` and an empty
working folder. The course folder, the grader's files and results, and the other
submissions are simply not in it.

One plan serves both mechanisms. Without a mount namespace, Landlock grants read access to
``read``: a folder that holds something denied is never allowed whole but replaced by its
entries, recursively, so nothing denied is covered by an allowed folder. With one, the child
builds the same view in an empty root with few mounts: each allowed root folder is bound
whole (``binds``), every denied path inside one is covered by an empty folder or file
(``covers``), and the course modules the exercise may import are bound on top (``files``).
"""

from __future__ import annotations

import ast
import glob
import importlib.util
import os
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

LIBRARY_DIRS = ("/lib", "/lib64", "/lib32", "/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/local/lib")
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime")
COURSE_PACKAGE = "cnnlab"
NEVER_VISIBLE = ("cnnlab.checks", "cnnlab.grading")


@dataclass
class View:
    """The paths of one exercise's view (all absolute and resolved, except link paths)."""

    read: list[str]                                        # files and folders readable whole (Landlock)
    listable: list[str] = field(default_factory=list)      # folders whose names may be listed (Landlock)
    links: list[list[str]] = field(default_factory=list)   # [path, target]: symlinks to recreate
    devices: list[str] = field(default_factory=lambda: [d for d in DEVICES if os.path.exists(d)])
    roots: list[str] = field(default_factory=list)         # folders bound whole (mount namespace)
    covers: list[str] = field(default_factory=list)        # denied paths inside a root, covered empty
    files: list[str] = field(default_factory=list)         # course files bound on top of the covers

    def mounts(self) -> dict:
        """The mount namespace's recipe: ``binds`` ([path, is_dir]), ``covers`` ([path, is_dir]), ``files``."""
        def kind(paths):
            return [[p, os.path.isdir(p)] for p in paths]
        return {"binds": kind(self.roots), "covers": kind(self.covers), "files": list(self.files)}


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def expand(roots: list[str], denied: list[str]) -> list[str]:
    """The smallest list of paths that covers ``roots`` without covering anything in ``denied``."""
    denied = sorted({os.path.realpath(d) for d in denied})
    found: list[str] = []

    def visit(path: str) -> None:
        if any(_inside(path, d) for d in denied):
            return
        if not any(_inside(d, path) for d in denied):
            found.append(path)
            return
        try:
            entries = sorted(os.listdir(path))
        except OSError:
            return
        for name in entries:
            child = os.path.join(path, name)
            if os.path.islink(child):
                target = os.path.realpath(child)
                if not any(_inside(target, d) or _inside(d, target) for d in denied):
                    found.append(target)
                continue
            visit(child)

    for root in _outermost(roots):
        visit(root)
    return _outermost(found)


def _outermost(paths) -> list[str]:
    """Existing resolved paths, without those inside another one."""
    real = sorted({os.path.realpath(p) for p in paths if os.path.exists(p)}, key=lambda p: (p.count("/"), p))
    kept: list[str] = []
    for path in real:
        if not any(_inside(path, k) for k in kept):
            kept.append(path)
    return sorted(kept)


def python_roots() -> list[str]:
    """Python's own folders: the prefixes' ``lib`` folders, the standard library and site-packages."""
    paths = sysconfig.get_paths()
    found = [paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths]
    found += [os.path.join(p, "lib") for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}]
    found += [os.path.dirname(os.__file__)]
    try:
        import site

        found += site.getsitepackages()
    except AttributeError:                   # some virtualenv versions lack it
        pass
    return found


def mapped_library_dirs() -> list[str]:
    """Folders of the shared objects this process has loaded (a conda or pyenv Python keeps its own)."""
    found = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split(maxsplit=5)
                path = parts[5].strip() if len(parts) == 6 else ""
                if path.startswith("/") and ".so" in os.path.basename(path):
                    found.add(os.path.dirname(path))
    except OSError:
        pass
    return sorted(found)


def package_dir() -> str:
    import cnnlab

    return os.path.realpath(os.path.dirname(cnnlab.__file__))


def course_copies(roots: list[str]) -> list[str]:
    """Every copy of the course package in Python's package folders (an installed wheel beside an editable one)."""
    found = {package_dir()}
    folders = set(roots)
    for prefix in {sys.prefix, sys.base_prefix, "/usr", "/usr/local"}:
        folders.update(glob.glob(os.path.join(prefix, "lib", "python3*", "*-packages")))
        folders.update(glob.glob(os.path.join(prefix, "lib", "python3", "dist-packages")))
    for folder in folders:
        path = os.path.join(folder, COURSE_PACKAGE)
        if os.path.isfile(os.path.join(path, "__init__.py")):
            found.add(os.path.realpath(path))
    return sorted(found)


def module_paths(name: str) -> list[str]:
    """The files or folder of an installed top-level module or package; [] when it is not installed."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return [os.path.realpath(p) for p in spec.submodule_search_locations]
    return [os.path.realpath(spec.origin)] if spec.origin and os.path.isfile(spec.origin) else []


def course_module_files(names: tuple[str, ...], denied: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Files of the course modules ``names`` and of the course modules they import, minus ``denied``.

    Returns (files, folders on the way to them, which may be listed).
    """
    root = package_dir()
    files: set[str] = set()
    todo = [n for n in names if not _denied(n, denied)]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or not name.startswith(COURSE_PACKAGE):
            continue
        seen.add(name)
        parts = name.split(".")[1:]
        base = os.path.join(root, *parts)
        candidates = [os.path.join(base, "__init__.py"), base + ".py"] if parts else [os.path.join(root, "__init__.py")]
        for path in candidates:
            if not os.path.isfile(path):
                continue
            files.add(path)
            for parent in range(len(parts)):                       # parents run their __init__ first
                todo.append(".".join([COURSE_PACKAGE, *parts[:parent]]))
            if path.endswith("__init__.py") and parts:
                todo += [f"{name}.{p[:-3] if p.endswith('.py') else p}" for p in os.listdir(base)
                         if (p.endswith(".py") and p != "__init__.py") or os.path.isfile(os.path.join(base, p, "__init__.py"))]
            todo += [i for i in _course_imports(path, name) if not _denied(i, denied)]
    folders = sorted({os.path.dirname(f) for f in files})
    return sorted(files), folders


def _denied(name: str, denied: tuple[str, ...]) -> bool:
    return any(name == d or name.startswith(d + ".") for d in denied)


def _course_imports(path: str, module: str) -> list[str]:
    """The course modules a file imports, absolute and relative, from its syntax tree."""
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, ValueError):
        return []
    found = []
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.append(base)
            found += [f"{base}.{a.name}" for a in node.names if a.name != "*"]
    return [n for n in found if n == COURSE_PACKAGE or n.startswith(COURSE_PACKAGE + ".")]


def plan(forbidden: tuple[str, ...], course_imports: tuple[str, ...] = (), hidden: list[str] | None = None) -> View:
    """The view of one exercise.

    Args:
        forbidden: modules the exercise forbids; top-level packages among them (``torch``,
            ``scipy``) are left out of the view, course modules too.
        course_imports: course modules the learner's cell may import (``cnnlab.models``).
        hidden: more folders that must not be visible even if an allowed root holds them
            (the grading run's temporary folder, the submissions, the output folder).
    """
    never = (*NEVER_VISIBLE, *[f for f in forbidden if f.startswith(COURSE_PACKAGE)])
    roots = [*LIBRARY_DIRS, *python_roots(), *mapped_library_dirs()]
    denied = [*course_copies(python_roots()), *(hidden or [])]
    for name in forbidden:
        top = name.split(".")[0]
        if "." not in name and top != COURSE_PACKAGE:
            denied += module_paths(top)
    system = [f for f in SYSTEM_FILES if os.path.exists(f)]
    files, folders = course_module_files(course_imports, never)
    read = _outermost(expand(roots, denied) + files + system)
    whole = _outermost(roots + system)
    real_denied = _outermost(denied)
    covers = [d for d in real_denied if any(_inside(d, r) for r in whole)]
    whole = [r for r in whole if not any(_inside(r, d) for d in real_denied)]
    links = []
    for root in [*LIBRARY_DIRS, *python_roots()]:
        if os.path.islink(root) or (os.path.exists(root) and os.path.realpath(root) != os.path.abspath(root)):
            target = os.path.realpath(root)
            if not any(_inside(root, r) for r in read) and any(_inside(r, target) or _inside(target, r) for r in read):
                links.append([os.path.abspath(root), target])
    return View(read=read, listable=folders, links=_link_order(links), roots=whole, covers=covers, files=files)


def _link_order(links: list[list[str]]) -> list[list[str]]:
    seen, ordered = set(), []
    for path, target in sorted(links, key=lambda pair: (pair[0].count("/"), pair[0])):
        if path not in seen and not any(_inside(path, p) for p in seen):
            seen.add(path)
            ordered.append([path, target])
    return ordered
