"""Every registered exercise, every chapter: the reference and the solution notebook's cell pass,
the exercise notebook's stub is "not implemented", and the graded cells match the registry."""

from __future__ import annotations

from functools import lru_cache

import pytest

from exercise_helpers import assert_passes, notebook_path, solution_functions

from cnnlab.checks import exercises, get, run_exercise

CHAPTERS = sorted({ex.chapter for ex in exercises().values()})
NAMES = sorted(exercises())


@lru_cache(maxsize=None)
def graded_cells(chapter: str, folder: str) -> dict:
    return solution_functions(notebook_path(chapter, folder), folder)


def cells(folder: str, name: str):
    return graded_cells(get(name).chapter, folder)[name]


def test_every_lesson_with_a_solution_notebook_has_exercises():
    assert CHAPTERS == ["01", "02", "03", "04", "05", "06", "07", "08", "09"]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_graded_cells_match_the_registry(chapter):
    for folder in ("solutions", "exercises"):
        assert set(graded_cells(chapter, folder)) == set(exercises(chapter))


@pytest.mark.parametrize("name", NAMES)
def test_reference_passes(name):
    assert_passes(name, get(name).reference)


@pytest.mark.parametrize("name", NAMES)
def test_solution_notebook_passes(name):
    assert_passes(name, cells("solutions", name))


@pytest.mark.parametrize("name", NAMES)
def test_exercise_stub_is_not_implemented(name):
    assert run_exercise(get(name), cells("exercises", name)).status == "not implemented"
