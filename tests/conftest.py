"""What the tests share: helpers (as fixtures), the ImageNet weights loaded once, and lesson markers.

Helpers are fixtures, so a test asks for one by naming it as an argument; no test imports
another test file. Every test carries the marker of the lesson its module tests
(``LESSONS`` below): ``pytest -m lesson03`` runs lesson 03's tests, ``pytest -m "not slow"``
leaves out the slow ones.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from solution_cells import function_from_cells, graded_sources, notebook_path

ROOT = Path(__file__).resolve().parents[1]

# Test module (without "test_" and ".py") -> the lessons whose code it tests. A module of the
# course's infrastructure (packaging, grader, exercise pipeline, notebooks, slides) carries no
# lesson marker; tests parametrized by exercise (test_checks_references, test_exercise_notebooks,
# test_mistakes) mark each case with its exercise's lesson.
LESSONS: dict[str, tuple[str, ...]] = {
    "data": ("00", "04"),
    "layers": ("01", "03", "05", "09"),
    "checks_ch01": ("01",),
    "widgets": ("01", "02", "04"),
    "shapes": ("02",),
    "checks_ch02": ("02",),
    "gradcheck": ("03",),
    "numpy_cnn": ("03",),
    "checks_ch03": ("03",),
    "common": ("02", "04", "05", "06", "07", "08"),
    "models_lenet": ("04",),
    "batches": ("04", "07"),
    "train": ("04",),
    "optim": ("04", "05"),
    "cli": ("04",),
    "experiments_ch04": ("04",),
    "checks_ch04": ("04",),
    "variants": ("04", "05", "06", "08"),
    "recipes": ("04", "05", "06"),
    "bench_models": ("04", "05", "06"),
    "augment": ("05",),
    "models_vgg": ("05",),
    "models_alexnet": ("05", "08"),
    "checks_ch05": ("05",),
    "models_blocks": ("06", "07", "08"),
    "models_resnet": ("06",),
    "experiments_ch06": ("06",),
    "checks_ch06": ("06",),
    "models_efficientnet": ("07", "08"),
    "transfer": ("07",),
    "viz_attribution": ("07",),
    "experiments_ch07": ("07",),
    "checks_ch07": ("07",),
    "models_inception": ("08",),
    "experiments_ch08": ("08",),
    "checks_ch08": ("08",),
    "models_baselines": ("04",),
    "viz": ("04", "09"),
    "boxes": ("09",),
    "segmentation": ("09",),
    "audio": ("09",),
    "models_segmentation": ("09",),
    "models_detection": ("09",),
    "models_audio": ("09",),
    "models_global_pool": ("09",),
    "experiments_ch09": ("09",),
    "checks_ch09": ("09",),
    "bench_lesson09": ("09",),
}


def pytest_configure(config: pytest.Config) -> None:
    for lesson in sorted({n for lessons in LESSONS.values() for n in lessons}):
        config.addinivalue_line("markers", f"lesson{lesson}: tests of lesson {lesson}'s code and exercises")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.stem.removeprefix("test_")
        for lesson in LESSONS.get(module, ()):
            item.add_marker(f"lesson{lesson}")


# --------------------------------------------------------------------------- networks

def _parameter_total(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="session")
def n_params():
    """Parameters of a network, counted the plain way (``p.numel()`` summed), apart from ``cnnlab.common``."""
    return _parameter_total


@pytest.fixture(scope="session")
def on_meta():
    """Build a large network on PyTorch's "meta" device: shapes without memory or initialisation."""
    import torch

    def build(builder, *args, **kwargs):
        with torch.device("meta"):
            return builder(*args, **kwargs)
    return build


@pytest.fixture(scope="session")
def pretrained():
    """EfficientNet-Lite0 with its ImageNet weights, loaded once per test process (eval mode).

    Shared by every test that needs it: a test may read it and run it, never change it.
    """
    from cnnlab.models import efficientnet_lite0

    return efficientnet_lite0(weights="imagenet")


@pytest.fixture
def left_half():
    """A two-class "network" that scores class 0 by the left half of the image, class 1 by the right half.

    A model and its mirror image disagree on every image whose halves differ, which is what
    tests of test-time flips need.
    """
    import torch
    from torch import nn

    class LeftHalf(nn.Module):
        def forward(self, x):
            half = x.shape[-1] // 2
            return torch.stack([x[..., :half].mean((1, 2, 3)), x[..., half:].mean((1, 2, 3))], 1) * 10

    return LeftHalf()


# --------------------------------------------------------------------------- exercises

@lru_cache(maxsize=None)
def _graded_cells(path: Path) -> dict:
    """Each graded cell of a notebook run as the grader runs it; return name -> function.

    In an exercises/ notebook the same cells hold the stubs. See ``solution_cells``.
    """
    sources = graded_sources(path)
    return {name: function_from_cells(name, sources, path.name) for name in sources}


@pytest.fixture(scope="session")
def graded_cells():
    """``graded_cells(chapter, folder="solutions")``: name -> function of each graded cell of that notebook.

    Each notebook's cells run once per test process.
    """
    return lambda chapter, folder="solutions": _graded_cells(notebook_path(chapter, folder))


@pytest.fixture(scope="session")
def verdict():
    """``verdict(name, fn)``: the self-check's result for ``fn`` answering exercise ``name``."""
    from cnnlab.checks import get, run_exercise

    return lambda name, fn: run_exercise(get(name), fn)


@pytest.fixture(scope="session")
def assert_passes(verdict):
    """``assert_passes(name, fn)``: ``fn`` passes exercise ``name``."""
    def check(name, fn):
        result = verdict(name, fn)
        assert result.status == "passed", result.line()
    return check


@pytest.fixture(scope="session")
def diagnosed():
    """``diagnosed(name, fn, seed=0)``: (kind, label) of every case ``fn`` fails.

    kind is "wrong" (an answer that differs; label: the recognised mistake's, or None) or
    "raised" (the function failed; label None). Passing cases are left out.
    """
    from cnnlab.checks import get, run_exercise

    def found(name, fn, seed=0):
        result = run_exercise(get(name), fn, seed)
        return [("raised" if c.failure is not None else "wrong", c.mistake.label if c.mistake else None)
                for c in result.cases]
    return found


@pytest.fixture(scope="session")
def graded_view():
    """``graded_view(name, fn, seed)``: like ``diagnosed``, on the cases the grader counts for ``seed``.

    The grader judges only the cases that independent draws do not repeat (a worked example
    could be looked up) and reseeds a probe for its run (``cnnlab.grading.grader``); a classic
    mistake it should count must show on those cases.
    """
    import dataclasses

    import numpy as np

    from cnnlab.checks import as_plain, diagnosis, get, judge_answer
    from cnnlab.grading.grader import fresh_cases, probe_seed

    def found(name, fn, seed=0):
        ex = get(name)
        if ex.probe is not None:
            ex = dataclasses.replace(ex, probe=ex.probe.reseeded(probe_seed(ex, seed)))
        failures = []
        for case in fresh_cases(ex, seed)[0]:
            expected = ex.reference(**case)
            expected = as_plain(ex.probe(expected, case) if ex.probe else expected)
            try:
                got = fn(**{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()})
                got = as_plain(ex.probe(got, case) if ex.probe else got)
            except Exception:                                 # noqa: BLE001 - the planted code may fail
                failures.append(("raised", None))
                continue
            if not judge_answer(ex, case, got, expected).ok:
                mistake = diagnosis(ex, case, got, expected)
                failures.append(("wrong", mistake.label if mistake else None))
        return failures
    return found


@pytest.fixture(scope="session")
def assert_fails(verdict, diagnosed):
    """``assert_fails(name, fn, label=None, hint=None)``: ``fn`` is judged wrong (or raises).

    With ``label``, every wrong case that is recognised as a classic mistake is recognised as
    that one, and at least one is; with ``hint``, the message says it.
    """
    def check(name, fn, label=None, hint=None):
        result = verdict(name, fn)
        assert result.status in ("wrong", "error"), result.line()
        if label is not None:
            failures = diagnosed(name, fn)
            labels = {found for kind, found in failures if kind == "wrong" and found is not None}
            assert labels == {label}, f"{name}: diagnosed {failures}, expected {label!r}"
        if hint is not None:
            assert hint in result.message, result.message
        return result
    return check
