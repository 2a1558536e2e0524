"""A class of submissions with known planted mistakes, for testing what the grader says about a class.

``write_class(folder, chapter, students)`` writes one notebook per student, laid out as
nbgrader collects them (``folder/student_07/03_backprop_conv_pool.ipynb``), and returns a
``ClassKey``: what was planted where, and the counts a class summary must report.

How each answer is chosen, deterministically from ``seed``:

- every graded cell starts as the course's solution cell;
- for each student and each exercise in ``exercises``, a draw decides: with probability
  ``correct`` the solution stays, otherwise one of the exercise's planted mistakes
  (``tests/planted.py``, only those planted in the exercise's own cell) replaces it, each
  mistake equally likely;
- an exercise not in ``exercises`` is left as the generated stub (graded "not implemented");
  by default every exercise of the chapter is in, except those with their own time limit
  (the capstone's training takes minutes per submission);
- a student whose answer to one exercise carries a planted mistake leaves every exercise
  that uses that answer (``Exercise.uses``) as a stub, so no count depends on how a mistake
  spreads.

Every planted mistake is recognised on every seed with its own label and no other
(``tests/test_mistakes.py``), so whatever cases the grader draws, the summary's counts are
exactly ``ClassKey.counts()``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np

from solution_cells import notebook_path
from planted import PLANTS, Plant, edited

from cnnlab.checks import exercises as registry
from cnnlab.exercises import stub_source

MISSING = "missing"            # an answer left as the generated stub


@dataclass
class ClassKey:
    """What a generated class holds.

    Attributes:
        chapter: the lesson, e.g. "04".
        paths: one notebook per student, in student order.
        answers: student -> exercise -> None (the solution), a planted mistake's label, or MISSING.
    """

    chapter: str
    paths: list[Path]
    answers: dict[str, dict[str, str | None]] = field(default_factory=dict)

    def counts(self) -> dict[str, dict]:
        """exercise -> {"submissions", "passed", "missing", "mistakes": {label: count}}, in registry order."""
        found = {}
        for name in registry(self.chapter):
            given = [answers[name] for answers in self.answers.values()]
            mistakes: dict[str, int] = {}
            for label in given:
                if label not in (None, MISSING):
                    mistakes[label] = mistakes.get(label, 0) + 1
            found[name] = {"submissions": len(given), "passed": given.count(None), "missing": given.count(MISSING),
                           "mistakes": dict(sorted(mistakes.items(), key=lambda kv: (-kv[1], kv[0])))}
        return found


def own_cell_plants(name: str) -> list[Plant]:
    """The planted mistakes of exercise ``name`` that edit its own cell."""
    return [p for p in PLANTS if p.exercise == name and p.cell is None]


def default_exercises(chapter: str) -> list[str]:
    return [name for name, ex in registry(chapter).items() if ex.timeout is None]


def write_class(folder: Path, chapter: str, students: int, seed: int = 0, exercises: list[str] | None = None,
                correct: float = 0.25) -> ClassKey:
    """Write ``students`` notebooks of ``chapter`` into ``folder`` with planted mistakes; return the key.

    Args:
        folder: where the ``student_NN/`` folders go (created).
        chapter: the lesson, e.g. "03".
        students: how many submissions.
        seed: the same seed writes the same class.
        exercises: the exercises answered (default: every one without its own time limit).
        correct: probability that an answer is the solution rather than a planted mistake.

    Returns:
        The ``ClassKey``; ``key.counts()`` is what a class summary must report.
    """
    every = registry(chapter)
    chosen = list(exercises) if exercises is not None else default_exercises(chapter)
    unknown = set(chosen) - set(every)
    if unknown:
        raise ValueError(f"not exercises of chapter {chapter}: {sorted(unknown)}")
    rng = np.random.default_rng(seed)
    source_path = notebook_path(chapter)
    solution = nbformat.read(source_path, as_version=4)
    key = ClassKey(chapter, [])
    for i in range(students):
        student = f"student_{i + 1:02d}"
        answers = {name: (_draw(name, rng, correct) if name in chosen else MISSING) for name in every}
        for name, ex in every.items():                    # a planted mistake does not spread to its users
            if any(answers[used] not in (None, MISSING) for used in ex.uses):
                answers[name] = MISSING
        path = Path(folder) / student / source_path.name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(_notebook(solution, answers), path)
        key.paths.append(path)
        key.answers[student] = answers
    return key


def _draw(name: str, rng: np.random.Generator, correct: float) -> str | None:
    plants = own_cell_plants(name)
    if not plants or rng.random() < correct:
        return None
    return plants[int(rng.integers(len(plants)))].label


def _notebook(solution, answers: dict[str, str | None]):
    """The solution notebook with each graded cell answered as ``answers`` says."""
    nb = nbformat.from_dict(json.loads(json.dumps(solution)))
    for cell in nb.cells:
        name = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type != "code" or name not in answers or not cell.metadata["nbgrader"].get("solution"):
            continue
        answer = answers[name]
        if answer == MISSING:
            cell.source = stub_source(cell.source, name)
        elif answer is not None:
            (planted,) = [p for p in own_cell_plants(name) if p.label == answer]
            cell.source = edited(cell.source, planted.edits, planted.id)
    return nb
