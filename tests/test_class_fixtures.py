"""The generated class of submissions: deterministic, and every answer is what its key says."""

from __future__ import annotations

import numpy as np
import pytest

from class_fixtures import MISSING, write_class
from solution_cells import function_from_cells, graded_sources

from cnnlab.checks import get, run_exercise


def test_the_same_seed_writes_the_same_class(tmp_path):
    a = write_class(tmp_path / "a", "01", students=5, seed=3)
    b = write_class(tmp_path / "b", "01", students=5, seed=3)
    assert a.answers == b.answers
    assert [p.read_text() for p in a.paths] == [p.read_text() for p in b.paths]
    assert write_class(tmp_path / "c", "01", students=5, seed=4).answers != a.answers


def test_counts_add_up(tmp_path):
    key = write_class(tmp_path, "02", students=12, seed=1)
    for name, found in key.counts().items():
        assert found["submissions"] == 12
        assert found["passed"] + found["missing"] + sum(found["mistakes"].values()) == 12
    assert [p.parent.name for p in key.paths] == [f"student_{i:02d}" for i in range(1, 13)]


def test_a_mistake_in_a_used_cell_leaves_its_users_unanswered(tmp_path):
    key = write_class(tmp_path, "04", students=20, seed=2, correct=0.3)
    for answers in key.answers.values():
        if answers["adam"] not in (None, MISSING):
            assert answers["adam_weight_decay"] == MISSING
    assert all(answers["lenet_classic"] != MISSING for answers in key.answers.values())


def test_the_slow_capstone_is_left_out_unless_asked_for(tmp_path):
    key = write_class(tmp_path, "03", students=3, seed=0)
    assert all(answers["train_cnn"] == MISSING for answers in key.answers.values())
    with pytest.raises(ValueError, match="not exercises of chapter 03"):
        write_class(tmp_path / "x", "03", students=1, exercises=["adam"])


@pytest.mark.parametrize("chapter", ["01", "05"])
def test_every_answer_is_graded_as_its_key_says(tmp_path, chapter, diagnosed):
    key = write_class(tmp_path, chapter, students=6, seed=5, correct=0.2)
    for path, (student, answers) in zip(key.paths, key.answers.items()):
        sources = graded_sources(path)
        for name, answer in answers.items():
            fn = function_from_cells(name, sources, student)
            if answer == MISSING:
                assert run_exercise(get(name), fn).status == "not implemented"
            elif answer is None:
                assert run_exercise(get(name), fn, seed=7).status == "passed"
            else:
                found = diagnosed(name, fn, seed=int(np.random.default_rng(len(student)).integers(1000)))
                assert {label for kind, label in found if kind == "wrong" and label} == {answer}, (student, name)


@pytest.mark.slow
@pytest.mark.parametrize("chapter", ["02", "05"])
def test_the_graders_class_summary_reports_exactly_the_planted_counts(tmp_path, chapter):
    from cnnlab.grading.grader import GradeConfig, grade
    from cnnlab.grading.report import class_summary

    key = write_class(tmp_path, chapter, students=8, seed=11, correct=0.2)
    report = grade(key.paths, GradeConfig(chapter=chapter, jobs=2))
    assert class_summary(report)[chapter] == key.counts()
