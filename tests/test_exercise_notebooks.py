"""Every registered exercise, every chapter: the solution notebook's cell passes, the exercise
notebook's stub is "not implemented", and the graded cells match the registry.

(That each reference is right is tested against independent oracles in test_checks_references.py.)
"""

from __future__ import annotations

import pytest

from cnnlab.checks import exercises, get

CHAPTERS = sorted({ex.chapter for ex in exercises().values()})


def _by_lesson(values, chapter_of):
    return [pytest.param(v, marks=getattr(pytest.mark, f"lesson{chapter_of(v)}")) for v in values]


BY_CHAPTER = _by_lesson(CHAPTERS, lambda chapter: chapter)
BY_NAME = _by_lesson(sorted(exercises()), lambda name: get(name).chapter)


def test_every_lesson_with_a_solution_notebook_has_exercises():
    assert CHAPTERS == ["01", "02", "03", "04", "05", "06", "07", "08", "09"]


@pytest.mark.parametrize("chapter", BY_CHAPTER)
def test_graded_cells_match_the_registry(chapter, graded_cells):
    for folder in ("solutions", "exercises"):
        assert set(graded_cells(chapter, folder)) == set(exercises(chapter))


@pytest.mark.parametrize("name", BY_NAME)
def test_solution_notebook_passes(name, graded_cells, assert_passes):
    assert_passes(name, graded_cells(get(name).chapter, "solutions")[name])


@pytest.mark.parametrize("name", BY_NAME)
def test_exercise_stub_is_not_implemented(name, graded_cells, verdict):
    assert verdict(name, graded_cells(get(name).chapter, "exercises")[name]).status == "not implemented"
