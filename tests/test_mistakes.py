"""Every exercise recognises at least three classic mistakes, and each is recognised when planted.

The mistakes are planted into the course's own solution cells (``tests/planted.py``); each
planted answer must fail on every seed tried, and every wrong case it produces must be
diagnosed with the planted mistake's label (a case may also raise, or differ in a way no
label covers, but never be given another label). That holds both for the self-check's cases
and for the cases the grader counts (the fresh ones: it ignores worked examples that every
draw repeats), so a class summary counts every planted mistake.
"""

from __future__ import annotations

import importlib

import pytest

from planted import PLANTS, planted_function

from cnnlab.checks import chapters, exercises, get

SEEDS = (0, 1, 2)
SLOW_SEEDS = (0,)              # an exercise with its own time limit (the capstone's training) trains twice per seed


def declared() -> dict[str, list[str]]:
    """exercise -> the labels its chapter module declares in MISTAKES."""
    found = {}
    for chapter in chapters():
        module = importlib.import_module(f"cnnlab.checks.ch{chapter}")
        found |= {name: catalog.labels() for name, catalog in module.MISTAKES.items()}
    return found


def test_every_exercise_declares_at_least_three_mistakes():
    labels = declared()
    assert set(labels) == set(exercises())
    few = {name: found for name, found in labels.items() if len(found) < 3}
    assert not few, few


def test_every_declared_mistake_is_planted_and_every_plant_is_declared():
    planted = {(p.exercise, p.label) for p in PLANTS}
    wanted = {(name, label) for name, labels in declared().items() for label in labels}
    assert wanted - planted == set(), "declared but never planted"
    assert planted - wanted == set(), "planted but not declared"


@pytest.mark.parametrize("plant", [pytest.param(p, id=p.id, marks=getattr(pytest.mark, f"lesson{get(p.exercise).chapter}"))
                                   for p in PLANTS])
def test_a_planted_mistake_is_recognised_by_its_label(plant, diagnosed, graded_view):
    fn = planted_function(plant)
    for seed in SLOW_SEEDS if get(plant.exercise).timeout else SEEDS:
        for view in (diagnosed, graded_view):        # the self-check's cases, then those the grader counts
            failures = view(plant.exercise, fn, seed)
            labels = {label for kind, label in failures if kind == "wrong" and label is not None}
            assert labels == {plant.label}, f"{view.__qualname__}, seed {seed}: {failures}"
