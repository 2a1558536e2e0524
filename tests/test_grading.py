"""The auto-grader: finding cells, judging answers, messages, partial credit, reports, CLI, Gradescope bundle.

Most cases use the test-only chapter 90 (``tests/grading_fixtures/ch90.py``, switched on
with ``CNNLAB_GRADING_FIXTURES``): a NumPy exercise that forbids ``numpy.convolve`` and an
exercise whose answer is an object read through a probe. The course's own chapters are
graded too: every solution notebook scores full marks, every exercise notebook 0.
"""

from __future__ import annotations

import copy
import csv
import importlib.util
import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cnnlab.exercises import student_version
from cnnlab.grading import GradeConfig, Limits, grade, report as reports, sandbox, scan
from cnnlab.grading import view as views
from cnnlab.grading import cli as grading_cli
from cnnlab.grading import grader as grader_module

HELPERS_PATH = Path(__file__).parent / "grading_fixtures" / "helpers.py"
_spec = importlib.util.spec_from_file_location("cnnlab_grading_test_helpers", HELPERS_PATH)
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

REPO = helpers.REPO
FIXTURES = str(helpers.FOLDER)

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the sandbox needs a POSIX system")


@pytest.fixture(scope="module")
def fixture_chapter():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(grader_module.FIXTURES_ENV, FIXTURES)
        yield


# --------------------------------------------------------------------------- variants of the fixture notebook

def _moving(body: str) -> str:
    return f"import numpy as np\n\n\ndef moving_sum(x, k):\n{body}"


def _counter(body: str) -> str:
    return f"def make_counter(start, steps):\n{body}"


def _without_metadata(nb):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    return nb


def _duplicated(nb):
    nb = copy.deepcopy(nb)
    wrong = copy.deepcopy(helpers.cell_of(nb, "moving_sum"))
    wrong.source = _moving("    return x\n")
    index = nb.cells.index(helpers.cell_of(nb, "moving_sum"))
    nb.cells.insert(index, wrong)
    return nb


def _deleted(nb):
    nb = copy.deepcopy(nb)
    nb.cells.remove(helpers.cell_of(nb, "moving_sum"))
    return nb


def _metadata_chapter(nb):
    nb = copy.deepcopy(nb)
    nb.metadata["cnnlab"] = {"chapter": "90"}
    return nb


VARIANTS = {
    "solution": lambda nb: nb,
    "stub": student_version,
    "partial": lambda nb: helpers.with_cell(nb, "moving_sum", _moving(
        "    if k == 1:\n        return np.zeros(len(x))\n"
        "    return np.array([x[i:i + k].sum() for i in range(len(x) - k + 1)])\n")),
    "full_length": lambda nb: helpers.with_cell(nb, "moving_sum", _moving(
        "    return np.array([x[i:i + k].sum() for i in range(len(x))])\n")),
    "forbidden_static": lambda nb: helpers.with_cell(nb, "moving_sum", _moving(
        "    return np.convolve(x, np.ones(k), 'valid')\n")),
    "forbidden_runtime": lambda nb: helpers.with_cell(nb, "moving_sum", _moving(
        "    return getattr(np, 'conv' + 'olve')(x, np.ones(k), 'valid')\n")),
    "helper_outside": lambda nb: helpers.with_cell(nb, "moving_sum", _moving("    return _window_sums(x, k)\n")),
    "metadata_lost": _without_metadata,
    "duplicated": _duplicated,
    "renamed": lambda nb: helpers.with_cell(nb, "moving_sum", helpers.MOVING_SUM.replace("def moving_sum(",
                                                                                          "def moving_sum2(")),
    "deleted": _deleted,
    "syntax": lambda nb: helpers.with_cell(nb, "moving_sum", _moving("    return [x for\n")),
    "magics_and_calls": lambda nb: helpers.with_cell(nb, "moving_sum", "%load_ext autoreload\n!echo hi\n"
                                                     + helpers.MOVING_SUM
                                                     + "\nprint(moving_sum(np.arange(4.0), 2))\ncheck(moving_sum)\n"),
    "probe_wrong": lambda nb: helpers.with_cell(nb, "make_counter", _counter(
        "    class C:\n        v = start\n        def step(self):\n            C.v += 2\n"
        "            return C.v\n    return C()\n")),
    "probe_none": lambda nb: helpers.with_cell(nb, "make_counter", _counter("    return None\n")),
}


@pytest.fixture(scope="module")
def fixture_run(fixture_chapter, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fixture90")
    base = helpers.fixture_solution()
    paths = {name: helpers.write(make(base), folder / f"90_{name}.ipynb") for name, make in VARIANTS.items()}
    paths["metadata_chapter"] = helpers.write(_metadata_chapter(base), folder / "my_homework.ipynb")
    paths["no_chapter"] = helpers.write(base, folder / "homework.ipynb")
    garbage = folder / "90_garbage.ipynb"
    garbage.write_text("this is not a notebook {")
    paths["garbage"] = garbage
    paths["absent"] = folder / "90_absent.ipynb"
    report = grade(list(paths.values()), GradeConfig(jobs=2, seed=7, limits=Limits(timeout=20)))
    return {"rows": dict(zip(paths, report.submissions)), "report": report, "paths": paths}


def ex(row, name):
    return next(e for e in row.exercises if e.name == name)


def test_solution_scores_full_marks_with_a_probed_object(fixture_run):
    row = fixture_run["rows"]["solution"]
    assert (row.chapter, row.score, row.max_score) == ("90", 3.0, 3.0)
    assert ex(row, "moving_sum").message == "4/4 cases passed"
    assert ex(row, "make_counter").status == "passed"


def test_generated_exercise_scores_zero_saying_not_implemented(fixture_run):
    row = fixture_run["rows"]["stub"]
    assert row.score == 0
    for e in row.exercises:
        assert (e.status, e.message) == ("not implemented", "not implemented yet")


def test_partial_credit_is_the_fraction_of_cases_passed(fixture_run):
    e = ex(fixture_run["rows"]["partial"], "moving_sum")
    assert (e.status, e.passed, e.total, e.points) == ("wrong", 3, 4, 1.5)
    assert e.message.startswith("3/4 cases passed; case 4: output: 6 of 6 values differ")
    assert "expected" not in e.message and e.details == []           # hidden tests stay hidden


def test_a_classic_mistake_gets_the_exercise_hint(fixture_run):
    e = ex(fixture_run["rows"]["full_length"], "moving_sum")
    assert e.status == "wrong" and e.points == 0.5                   # k = 1 happens to be right
    assert "only windows that fit inside x count" in e.message
    assert "shape (8,), expected (6,)" in e.message


def test_a_forbidden_function_scores_zero_statically_and_at_run_time(fixture_run):
    static = ex(fixture_run["rows"]["forbidden_static"], "moving_sum")
    assert (static.status, static.points) == ("forbidden", 0)
    assert "numpy.convolve (line 5)" in static.message
    runtime = ex(fixture_run["rows"]["forbidden_runtime"], "moving_sum")
    assert (runtime.status, runtime.points) == ("forbidden", 0)
    assert "numpy.convolve" in runtime.message


def test_a_helper_from_another_cell_gets_a_name_error_that_explains(fixture_run):
    e = ex(fixture_run["rows"]["helper_outside"], "moving_sum")
    assert e.status == "error"
    assert "NameError" in e.message and "must be inside that cell" in e.message


def test_cells_are_found_by_function_name_when_metadata_is_lost(fixture_run):
    row = fixture_run["rows"]["metadata_lost"]
    assert row.score == 3.0
    assert "found by its function name" in ex(row, "moving_sum").message


def test_a_duplicated_cell_grades_the_last_one_and_says_so(fixture_run):
    e = ex(fixture_run["rows"]["duplicated"], "moving_sum")
    assert e.status == "passed"
    assert "2 cells carry grade_id 'moving_sum'; the last one was graded" in e.message


def test_a_renamed_or_deleted_cell_is_missing_with_a_clear_message(fixture_run):
    renamed = ex(fixture_run["rows"]["renamed"], "moving_sum")
    assert renamed.status == "missing" and "it defines moving_sum2()" in renamed.message
    deleted = ex(fixture_run["rows"]["deleted"], "moving_sum")
    assert deleted.status == "missing" and "no cell defines moving_sum()" in deleted.message
    assert ex(fixture_run["rows"]["deleted"], "make_counter").status == "passed"


def test_a_syntax_error_is_reported_with_its_line(fixture_run):
    e = ex(fixture_run["rows"]["syntax"], "moving_sum")
    assert e.status == "error" and "syntax error on line 5" in e.message


def test_magics_and_top_level_calls_do_not_disturb_grading(fixture_run):
    assert fixture_run["rows"]["magics_and_calls"].score == 3.0


def test_a_probed_object_that_behaves_wrongly_or_is_missing_fails(fixture_run):
    wrong = ex(fixture_run["rows"]["probe_wrong"], "make_counter")
    assert wrong.status == "wrong" and wrong.points == 0
    none = ex(fixture_run["rows"]["probe_none"], "make_counter")
    assert none.status == "error"
    assert "could not be checked: TypeError: expected an object with a step() method" in none.message


def test_the_chapter_comes_from_the_file_name_never_from_metadata_or_cells(fixture_run):
    for name in ("metadata_chapter", "no_chapter"):
        row = fixture_run["rows"][name]
        assert row.chapter is None and row.exercises == [] and "cannot tell which chapter" in row.message


def test_metadata_that_names_another_chapter_is_an_error_row(fixture_chapter, tmp_path):
    nb = _metadata_chapter(helpers.fixture_solution())
    nb.metadata["cnnlab"] = {"chapter": "91"}
    path = helpers.write(nb, tmp_path / "90_moving.ipynb")
    row = grade([path], GradeConfig(seed=7)).submissions[0]
    assert row.chapter == "90" and row.score == 0 and row.max_score == 3.0
    assert "metadata says chapter 91" in row.message
    assert all(e.status == "error" for e in row.exercises) and not row.grader_error


def test_unreadable_or_absent_notebooks_still_get_a_row(fixture_run):
    garbage = fixture_run["rows"]["garbage"]
    assert "not a notebook" in garbage.message and garbage.score == 0
    absent = fixture_run["rows"]["absent"]
    assert "cannot read 90_absent.ipynb" in absent.message and absent.score == 0
    assert not garbage.grader_error and not absent.grader_error


def test_every_submission_has_a_row_in_order(fixture_run):
    rows = fixture_run["report"].submissions
    assert [r.path for r in rows] == [str(p) for p in fixture_run["paths"].values()]
    assert all(e.status in grader_module.STATUSES for r in rows for e in r.exercises)


def test_details_and_all_or_nothing_on_request(fixture_chapter, fixture_run):
    path = fixture_run["paths"]["partial"]
    detailed = grade([path], GradeConfig(seed=7, show_details=True, partial_credit=False)).submissions[0]
    e = ex(detailed, "moving_sum")
    assert e.points == 0 and e.status == "wrong"
    assert "expected" in e.message and "inputs: x (6,) float64, k=1" in e.message
    assert len(e.details) == 4 and e.details[0].startswith("case 1: passed")


def test_inputs_are_fresh_each_run_unless_seeded(fixture_chapter, tmp_path):
    exercise = grader_module.chapter_exercises("90")[0]
    draw = []
    for i, seed in enumerate([1, 1, 2]):
        (tmp_path / str(i)).mkdir()
        draw.append(grader_module.prepare(exercise, seed, tmp_path / str(i)))
    assert np.array_equal(draw[0].cases[0]["x"], draw[1].cases[0]["x"])
    assert not np.array_equal(draw[0].cases[0]["x"], draw[2].cases[0]["x"])
    with np.load(draw[0].inputs, allow_pickle=False) as data:
        assert np.array_equal(data["0/x"], draw[0].cases[0]["x"]) and int(data["0/k"]) == 3


def test_a_crash_while_grading_one_submission_is_that_submissions_row(fixture_chapter, tmp_path, monkeypatch):
    good = helpers.write(helpers.fixture_solution(), tmp_path / "90_good.ipynb")
    bad = helpers.write(helpers.fixture_solution(), tmp_path / "90_bad.ipynb")
    original = grader_module.GradingRun._grade_submission

    def flaky(self, path):
        if path.name == "90_bad.ipynb":
            raise RuntimeError("boom")
        return original(self, path)
    monkeypatch.setattr(grader_module.GradingRun, "_grade_submission", flaky)
    rows = grade([bad, good], GradeConfig(jobs=2)).submissions
    assert rows[0].grader_error and "the grader failed on this notebook" in rows[0].message
    assert "boom" not in rows[0].message
    assert rows[1].score == 3.0


# --------------------------------------------------------------------------- the course's own notebooks

@pytest.mark.slow
def test_every_solution_scores_full_marks_and_every_exercise_zero():
    solutions = sorted((REPO / "solutions").glob("[0-9][0-9]_*.ipynb"))
    exercises = sorted((REPO / "exercises").glob("[0-9][0-9]_*.ipynb"))
    assert solutions and len(solutions) == len(exercises), (solutions, exercises)
    report = grade(solutions + exercises, GradeConfig(jobs=2, limits=Limits(timeout=90)))
    rows = report.submissions
    for row in rows[:len(solutions)]:
        assert row.max_score > 0 and row.score == row.max_score, [(e.name, e.message) for e in row.exercises]
    for row in rows[len(solutions):]:
        assert row.max_score > 0 and row.score == 0
        assert all(e.message == "not implemented yet" for e in row.exercises), row.path


# --------------------------------------------------------------------------- reports and the command

def test_reports_in_every_format(fixture_run):
    report = fixture_run["report"]
    text = reports.render(report, "text")
    assert "chapter 90" in text and "moving_sum" in text and "isolation of learner code" in text
    data = json.loads(reports.render(report, "json"))
    assert data["seed"] == 7 and len(data["submissions"]) == len(report.submissions)
    assert data["submissions"][0]["score"] == 3.0
    table = list(csv.DictReader(io.StringIO(reports.render(report, "csv"))))
    assert table[0]["moving_sum"] == "2" and table[0]["total"] == "3" and table[0]["max_score"] == "3"
    assert float(table[2]["moving_sum"]) == 1.5


def validate_gradescope(results: dict) -> None:
    """The parts of Gradescope's results.json that we write, with their types and allowed values."""
    assert isinstance(results["score"], float | int)
    assert isinstance(results.get("output", ""), str)
    assert results.get("visibility", "visible") in ("hidden", "after_due_date", "after_published", "visible")
    total = 0.0
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in ("hidden", "after_due_date", "after_published", "visible")
        assert 0 <= test["score"] <= test["max_score"]
        total += test["score"]
    assert abs(total - results["score"]) < 1e-9


def test_gradescope_results_for_one_submission(fixture_run):
    report = fixture_run["report"]
    for row in report.submissions:
        validate_gradescope(reports.gradescope_results(row, report))
    partial = reports.gradescope_results(fixture_run["rows"]["partial"], report)
    assert partial["score"] == 2.5
    assert [t["status"] for t in partial["tests"]] == ["failed", "passed"]


def test_cli_writes_reports_and_returns_exit_codes(fixture_chapter, fixture_run, tmp_path, capsys):
    path = str(fixture_run["paths"]["solution"])
    assert grading_cli.main([path, "--format", "csv", "--out", str(tmp_path / "csv"), "--jobs", "2"]) == 0
    assert "moving_sum" in (tmp_path / "csv" / "grades.csv").read_text()
    assert grading_cli.main([path, "--format", "gradescope", "--out", str(tmp_path / "gs"), "--timeout", "20"]) == 0
    validate_gradescope(json.loads((tmp_path / "gs" / "results.json").read_text()))
    assert grading_cli.main([path, "--format", "json", "--seed", "3"]) == 0
    assert json.loads(capsys.readouterr().out)["seed"] == 3
    assert grading_cli.main([path, "--timeout", "-1"]) == 2
    assert grading_cli.main(["--chapter", "x1", path]) == 2


# --------------------------------------------------------------------------- static scan

@pytest.mark.parametrize("source, found", [
    ("import torch", ["torch (line 1)"]),
    ("import torch.nn as nn", ["torch (line 1)"]),
    ("from torch import nn", ["torch (line 1)"]),
    ("from cnnlab import layers", ["cnnlab.layers (line 1)"]),
    ("from cnnlab.layers import conv2d_forward as f", ["cnnlab.layers (line 1)"]),
    ("import cnnlab\ny = cnnlab.layers.im2col", ["cnnlab.layers (line 2)"]),
    ("import cnnlab as c\ny = c.layers", ["cnnlab.layers (line 2)"]),
    ("from cnnlab import *", ["cnnlab.layers (line 1)"]),
    ("import numpy as np\ny = np.convolve", ["numpy.convolve (line 2)"]),
    ("from numpy import convolve", ["numpy.convolve (line 1)"]),
    ("m = __import__('tor' + 'ch')", ["a dynamic import (__import__) (line 1)"]),
    ("import importlib\nm = importlib.import_module('x')", ["a dynamic import (importlib) (line 1)"]),
    ("import sys\nm = sys.modules", ["a dynamic import (sys.modules) (line 2)"]),
    ("import numpy as np\nimport cnnlab.shapes\ny = np.zeros(3)", []),
    ("def f(x):\n    import torch\n    return torch.zeros(1)", ["torch (line 2)"]),
])
def test_static_scan_finds_forbidden_uses(source, found):
    uses = scan.forbidden_uses(source, ("torch", "cnnlab.layers", "numpy.convolve"))
    assert [str(u) for u in uses] == found


def test_static_scan_allows_everything_when_nothing_is_forbidden():
    assert scan.forbidden_uses("import torch\n__import__('os')", ()) == []


# --------------------------------------------------------------------------- sandbox pieces

def _zygote_module():
    spec = importlib.util.spec_from_file_location("cnnlab_test_zygote", sandbox.ZYGOTE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_removing_a_cgroup_kills_everything_left_in_it():
    hierarchies = sandbox.cgroup_hierarchies()
    if "pids" not in hierarchies:
        pytest.skip("no pids cgroup here (needs root)")
    zygote = _zygote_module()
    groups = [Path(g) for g in zygote.make_cgroups(hierarchies, 8)]
    assert groups and all(g.is_dir() for g in groups)
    pids_group = next(g for g in groups if (g / "pids.max").exists())
    assert (pids_group / "pids.max").read_text().strip() == "8"
    sleeper = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        for group in groups:
            (group / "cgroup.procs").write_text(str(sleeper.pid))
        for group in groups:
            zygote.remove_cgroup(str(group))
        assert sleeper.wait(timeout=5) == -9
        assert not any(g.exists() for g in groups)
    finally:
        sleeper.kill()


def test_the_view_allows_python_and_nothing_of_the_course_but_what_the_exercise_imports():
    import cnnlab

    package = Path(cnnlab.__file__).resolve().parent
    plain = views.plan(("torch", "cnnlab.layers"))
    assert not any(views._inside(r, str(package)) or views._inside(str(package), r) for r in plain.read)
    import numpy

    assert any(views._inside(str(Path(numpy.__file__).resolve()), r) for r in plain.read)
    torch_spec = importlib.util.find_spec("torch")
    if torch_spec is not None:
        torch_dir = str(Path(torch_spec.origin).resolve().parent)
        assert not any(views._inside(torch_dir, r) for r in plain.read)        # forbidden: left out
    models = views.plan(("cnnlab.transfer",), ("cnnlab.models",))
    course = [r for r in models.read if views._inside(r, str(package))]
    assert str(package / "models" / "lenet.py") in course and str(package / "__init__.py") in course
    assert not any("checks" in r or "grading" in r or r.endswith("transfer.py") for r in course)


def test_expand_never_covers_a_denied_path(tmp_path):
    for sub in ("a/b/secret", "a/b/open", "a/c", "d"):
        (tmp_path / sub).mkdir(parents=True)
    found = views.expand([str(tmp_path)], [str(tmp_path / "a" / "b" / "secret")])
    assert sorted(found) == sorted(str(tmp_path / p) for p in ("a/b/open", "a/c", "d"))


def _npz(path: Path, meta: dict | None, **arrays) -> Path:
    if meta is not None:
        arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    return path


GOOD_META = {"nonce": "n1", "cell": {"ok": True}, "function": {"ok": True}, "forbidden": [],
             "cases": [{"ok": True, "tree": {"t": [{"a": "r0"}, {"a": "r1"}]}}]}


def test_load_result_reads_a_well_formed_answer(tmp_path):
    path = _npz(tmp_path / "r.npz", GOOD_META, r0=np.ones(3), r1=np.int64(4))
    meta, arrays = sandbox.load_result(path, "n1", 1, 1 << 20)
    got = sandbox.tree_arrays(meta["cases"][0]["tree"], arrays)
    assert isinstance(got, tuple) and np.array_equal(got[0], np.ones(3)) and int(got[1]) == 4


def test_load_result_never_unpickles(tmp_path):
    marker = tmp_path / "unpickled"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))
    path = tmp_path / "r.npz"
    np.savez(path, meta=np.array(json.dumps(GOOD_META)), r0=np.array([Payload()], dtype=object), r1=np.ones(1))
    with pytest.raises(sandbox.BadResult):
        sandbox.load_result(path, "n1", 1, 1 << 20)
    assert not marker.exists()


@pytest.mark.parametrize("problem", ["nonce", "count", "missing_array", "not_zip", "too_big", "symlink",
                                     "meta_not_text"])
def test_load_result_rejects_what_it_did_not_ask_for(tmp_path, problem):
    path = tmp_path / "r.npz"
    meta = copy.deepcopy(GOOD_META)
    arrays = {"r0": np.ones(3), "r1": np.ones(1)}
    cap = 1 << 20
    if problem == "nonce":
        meta["nonce"] = "forged"
    elif problem == "count":
        meta["cases"] = meta["cases"] * 2
    elif problem == "missing_array":
        del arrays["r1"]
    elif problem == "too_big":
        arrays["r0"] = np.zeros(400_000)
        cap = 1000
    _npz(path, None if problem == "meta_not_text" else meta, **arrays)
    if problem == "meta_not_text":
        np.savez(path, meta=np.zeros(3), **arrays)
    if problem == "not_zip":
        path.write_bytes(b"PK not really")
    if problem == "symlink":
        target = tmp_path / "elsewhere.npz"
        path.rename(target)
        path.symlink_to(target)
    with pytest.raises(sandbox.BadResult):
        sandbox.load_result(path, "n1", 1, cap)


@pytest.mark.parametrize("problem", ["extra_key", "unknown_kind", "compressed", "repeated_reference",
                                     "deep_json", "long_message", "foreign_member", "tree_too_deep"])
def test_load_result_enforces_the_schema_and_the_byte_budget(tmp_path, problem):
    path = tmp_path / "r.npz"
    meta = copy.deepcopy(GOOD_META)
    arrays = {"r0": np.ones(3), "r1": np.ones(1)}
    cap = 1 << 20
    if problem == "extra_key":
        meta["cases"][0]["score"] = 100
    elif problem == "unknown_kind":
        meta["cell"] = {"ok": False, "kind": "passed", "message": ""}
        meta["cases"] = []
    elif problem == "repeated_reference":
        arrays["r0"] = np.zeros(10_000)                  # 80 kB, referenced 64 times: 5 MB of comparisons
        meta["cases"] = [{"ok": True, "tree": {"t": [{"a": "r0"}] * 64}}]
    elif problem == "long_message":
        meta["cases"] = [{"ok": False, "kind": "exception", "message": "x" * 10_000}]
    elif problem == "tree_too_deep":
        tree = {"a": "r0"}
        for _ in range(20):
            tree = {"t": [tree]}
        meta["cases"] = [{"ok": True, "tree": tree}]
    text = json.dumps(meta)
    if problem == "deep_json":
        text = "[" * 100_000 + "]" * 100_000
    arrays["meta"] = np.array(text)
    if problem == "foreign_member":
        arrays["payload"] = np.ones(2)
    if problem == "compressed":
        np.savez_compressed(path, **arrays)
    else:
        np.savez(path, **arrays)
    with pytest.raises(sandbox.BadResult):
        sandbox.load_result(path, "n1", 1, cap)


def test_the_isolation_self_test_proves_each_guarantee_or_names_what_is_missing():
    iso = sandbox.assess(Limits(timeout=20))
    lines = iso.lines()
    assert lines[0].startswith("mechanism: ")
    assert [line.split(":")[0] for line in lines[1:6]] == list(sandbox.GUARANTEES)
    if iso.safe:
        assert iso.mechanism in ("namespaces", "user ids") and not iso.missing
    else:
        assert iso.missing and all(isinstance(m, str) and len(m) > 20 for m in iso.missing)


# --------------------------------------------------------------------------- the Gradescope autograder

@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    from cnnlab.grading import bundle

    folder = tmp_path_factory.mktemp("bundle")
    zip_path = bundle.build("01", folder / "autograder.zip", Limits(timeout=30))
    source = folder / "source"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(source)
        modes = {info.filename: (info.external_attr >> 16) & 0o777 for info in zf.infolist()}
    for name in ("setup.sh", "run_autograder"):
        os.chmod(source / name, modes[name])
    return {"zip": zip_path, "source": source, "modes": modes, "folder": folder}


def test_the_bundle_holds_scripts_config_and_a_wheel(autograder):
    from cnnlab.grading import bundle

    names = set(autograder["modes"])
    assert {"setup.sh", "run_autograder", "cnnlab-autograder.json", "requirements.txt"} <= names
    assert autograder["modes"]["setup.sh"] & stat.S_IXUSR and autograder["modes"]["run_autograder"] & stat.S_IXUSR
    for script in ("setup.sh", "run_autograder"):
        subprocess.run(["bash", "-n", str(autograder["source"] / script)], check=True)
    settings = json.loads((autograder["source"] / "cnnlab-autograder.json").read_text())
    assert settings["chapter"] == "01" and settings["exercises"] == {"conv2d_single": 2, "conv2d_multi": 3,
                                                                     "conv1x1": 1}
    wheel = bundle.wheel_name(autograder["zip"])
    with zipfile.ZipFile(autograder["source"] / wheel) as whl:
        listed = whl.namelist()
    assert {"cnnlab/grading/zygote.py", "cnnlab/grading/kernel.py", "cnnlab/checks/ch01.py"} <= set(listed)
    assert not any("__pycache__" in n for n in listed)
    assert "numpy" in (autograder["source"] / "requirements.txt").read_text()


@pytest.fixture(scope="module")
def installed_wheel(autograder):
    from cnnlab.grading import bundle

    target = autograder["folder"] / "site"
    wheel = autograder["source"] / bundle.wheel_name(autograder["zip"])
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--target", str(target), str(wheel)], check=True)
    return target


def _run_autograder(autograder, root: Path, site: Path | None = None, host: str | None = None
                    ) -> subprocess.CompletedProcess:
    """Lay out ``root`` as Gradescope does (the zip in source/, a copy of run_autograder on top) and run it.

    ``host="docker"`` runs it as Gradescope's container does: root without CAP_SYS_ADMIN,
    with Docker's seccomp profile (``grading_fixtures/as_host.py``).
    """
    import shutil

    shutil.copytree(autograder["source"], root / "source")
    shutil.copy2(autograder["source"] / "run_autograder", root / "run_autograder")
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), CNNLAB_PYTHON=sys.executable)
    env.pop(grader_module.FIXTURES_ENV, None)
    if site is not None:
        env["PYTHONPATH"] = str(site)
    command = [str(root / "run_autograder")]
    if host is not None:
        command = [sys.executable, str(helpers.FOLDER / "as_host.py"), host, "--", *command]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=root)


@pytest.mark.slow
def test_run_autograder_grades_a_submission_with_the_bundled_wheel(autograder, installed_wheel, tmp_path):
    assert (installed_wheel / "cnnlab" / "grading" / "zygote.py").is_file()
    solution = helpers.load(helpers.solution_notebook("01"))
    wrong = helpers.with_cell(solution, "conv1x1", "import numpy as np\n\ndef conv1x1(x, w):\n"
                                                   "    return np.zeros((w.shape[0],) + x.shape[1:])\n")
    helpers.write(wrong, tmp_path / "submission" / "01_convolution_by_hand.ipynb")
    done = _run_autograder(autograder, tmp_path, installed_wheel)
    assert done.returncode == 0, done.stdout + done.stderr
    assert str(installed_wheel) in done.stdout                    # the parent ran the bundled package
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    validate_gradescope(results)
    assert results["score"] == 5.0
    assert {t["name"]: t["status"] for t in results["tests"]} == {"conv2d_single": "passed",
                                                                   "conv2d_multi": "passed", "conv1x1": "failed"}


@pytest.mark.slow
def test_run_autograder_grades_safely_in_gradescopes_default_container(autograder, installed_wheel, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the container is reproduced with namespaces and setpriv, which need root")
    solution = helpers.load(helpers.solution_notebook("01"))
    wrong = helpers.with_cell(solution, "conv1x1", "import numpy as np\n\ndef conv1x1(x, w):\n"
                                                   "    return np.zeros((w.shape[0],) + x.shape[1:])\n")
    helpers.write(wrong, tmp_path / "submission" / "01_convolution_by_hand.ipynb")
    done = _run_autograder(autograder, tmp_path, installed_wheel, host="docker")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mechanism: user ids" in done.stdout and "NOT GUARANTEED" not in done.stdout, done.stdout
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    validate_gradescope(results)
    assert results["score"] == 5.0 and "UNSAFE" not in results["output"]


def test_run_autograder_without_a_notebook_still_writes_results(autograder, tmp_path):
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "notes.txt").write_text("forgot the notebook")
    done = _run_autograder(autograder, tmp_path)
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    validate_gradescope(results)
    assert results["score"] == 0 and "No .ipynb notebook" in results["output"]


def test_lock_down_leaves_other_users_only_what_the_chapter_imports(tmp_path):
    import shutil

    import cnnlab
    from cnnlab.grading import gradescope

    copy = tmp_path / "site" / "cnnlab"
    shutil.copytree(Path(cnnlab.__file__).resolve().parent, copy, ignore=shutil.ignore_patterns("__pycache__"))

    def others_read(path: Path) -> bool:
        return bool(path.stat().st_mode & stat.S_IROTH)
    gradescope.lock_down("07", [str(copy)])
    assert others_read(copy / "models" / "efficientnet.py") and others_read(copy / "__init__.py")
    assert not others_read(copy / "layers.py") and not others_read(copy / "transfer.py")
    assert not others_read(copy / "checks" / "ch07.py") and not others_read(copy / "grading" / "grader.py")
    gradescope.lock_down("01", [str(copy)])
    assert not any(others_read(p) for p in copy.rglob("*.py"))


def test_bundle_command_refuses_a_chapter_without_exercises(tmp_path, capsys):
    assert grading_cli.main(["bundle", "--chapter", "77", "-o", str(tmp_path / "a.zip")]) == 2
    assert "77" in capsys.readouterr().err


# --------------------------------------------------------------------------- what learner code sees

INSIDE_VIEW = '''
import json, os, resource, socket
import numpy as np

def conv2d_single(x, w):
    try:
        pids = len([p for p in os.listdir("/proc") if p.isdigit()])
    except OSError:
        pids = -1
    try:
        interfaces = [name for _, name in socket.if_nameindex()]
    except OSError:
        interfaces = "no sockets"
    view = {"uid": os.getuid(), "pids": pids, "interfaces": interfaces, "cwd": os.listdir("."),
            "env": sorted(set(os.environ) - ALLOWED_ENV), "course_visible": os.path.exists(COURSE),
            "nproc": resource.getrlimit(resource.RLIMIT_NPROC)[0], "fsize": resource.getrlimit(resource.RLIMIT_FSIZE)[0],
            "writable": []}
    for folder in ["/tmp", "/var/tmp", os.path.dirname(np.__file__), "."]:
        try:
            with open(os.path.join(folder, "cnnlab-view-probe"), "w") as f:
                f.write("x")
            view["writable"].append(folder)
        except OSError:
            pass
    raise RuntimeError("VIEW" + json.dumps(view))
'''


ALLOWED_ENV = {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "LC_CTYPE", "MPLBACKEND", "OMP_NUM_THREADS",
               "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"}


def _inside(tmp_path: Path, isolation=None) -> tuple[dict, object]:
    solution = helpers.load(helpers.solution_notebook("01"))
    source = f"COURSE = {str(REPO / 'solutions')!r}\nALLOWED_ENV = {ALLOWED_ENV!r}\n" + INSIDE_VIEW
    path = helpers.write(helpers.with_cell(solution, "conv2d_single", source), tmp_path / "01_view.ipynb")
    config = GradeConfig(isolation=isolation, limits=Limits(timeout=20), show_details=True)
    report = grade([path], config)
    row = report.submissions[0]
    message = ex(row, "conv2d_single").message
    if "VIEW" not in message:
        return {}, report
    return json.loads(message.split("VIEW", 1)[1].split(" (inputs:")[0]), report


def test_learner_code_sees_an_empty_scrubbed_isolated_world(tmp_path):
    view, report = _inside(tmp_path)
    iso = report.isolation
    assert iso.safe, iso.lines()
    assert view["cwd"] == []
    assert view["env"] == []
    assert view["fsize"] == Limits().file_mb << 20
    assert sandbox.UID_BASE <= view["uid"] < sandbox.UID_BASE + sandbox.UID_RANGE
    assert view["course_visible"] is False
    assert view["interfaces"] in (["lo"], "no sockets")
    if iso.mechanism == "namespaces":
        assert view["pids"] == 1
        # Both private, in memory, capped; but where the course or its Python lives under /tmp (a
        # clone in /tmp), the view must show those files there, so /tmp stays read-only and the
        # learner's TMPDIR is the private working folder.
        under_tmp = any(Path(p).resolve().is_relative_to("/tmp") for p in (helpers.REPO, sys.prefix, sys.base_prefix))
        assert view["writable"] == (["."] if under_tmp else ["/tmp", "."])
    else:
        assert view["writable"] == []


def test_with_unsafe_no_isolation_limits_and_the_wall_clock_still_hold(tmp_path):
    solution = helpers.load(helpers.solution_notebook("01"))
    loop = "def conv2d_single(x, w):\n    while True:\n        pass\n"
    bomb = "def conv2d_single(x, w):\n    hoard = []\n    while True:\n        hoard.append(bytearray(32 << 20))\n"
    sources = {"loop": loop, "bomb": bomb, "honest": None}
    paths = [helpers.write(helpers.with_cell(solution, "conv2d_single", src) if src else solution,
                           tmp_path / name / "01_x.ipynb") for name, src in sources.items()]
    unsafe = sandbox.Isolation(mechanism="none", unsafe=True, missing=["forced for this test"])
    report = grade(paths, GradeConfig(isolation=unsafe, jobs=2, limits=Limits(timeout=3, memory_mb=256)))
    loop_row, bomb_row, honest = report.submissions
    assert ex(loop_row, "conv2d_single").status == "timeout"
    assert ex(bomb_row, "conv2d_single").status in ("memory", "timeout")
    assert ex(bomb_row, "conv2d_single").points == 0
    assert honest.score == 6.0
    for fmt in ("text", "csv", "json"):
        assert "UNSAFE" in reports.render(report, fmt) or json.loads(reports.render(report, "json"))["unsafe"]
    assert "UNSAFE" in reports.gradescope_results(honest, report)["output"]


def test_a_host_that_cannot_isolate_is_refused_with_what_is_missing(tmp_path, capsys):
    path = helpers.write(helpers.load(helpers.solution_notebook("01")), tmp_path / "01_x.ipynb")
    refused = sandbox.Isolation(mechanism="none", missing=["learner code would run as the grader's own user: "
                                                           "run as root"])
    with pytest.raises(sandbox.SandboxRefused, match="grader's own user"):
        grade([path], GradeConfig(isolation=refused))


def test_a_sandbox_that_cannot_be_built_is_a_grader_error_not_a_zero_for_the_learner(tmp_path, monkeypatch):
    real = views.plan

    def broken(*args, **kwargs):
        found = real(*args, **kwargs)
        found.roots = [*found.roots, "/nonexistent-cnnlab-folder"]
        return found
    iso = sandbox.assess(Limits(timeout=20))
    if iso.mechanism != "namespaces":
        pytest.skip("the view is built with bind mounts only under namespaces")
    monkeypatch.setattr(views, "plan", broken)
    path = helpers.write(helpers.load(helpers.solution_notebook("01")), tmp_path / "01_x.ipynb")
    row = grade([path], GradeConfig(limits=Limits(timeout=20), isolation=iso)).submissions[0]
    assert row.grader_error
    assert all(e.message == "the grader could not start its sandbox: tell your instructor" for e in row.exercises)


def test_sigterm_stops_the_run_and_removes_its_folders_and_children(tmp_path):
    solution = helpers.load(helpers.solution_notebook("01"))
    loop = helpers.with_cell(solution, "conv2d_single", "def conv2d_single(x, w):\n    while True:\n        pass\n")
    path = helpers.write(loop, tmp_path / "01_loop.ipynb")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch))
    env.pop(grader_module.FIXTURES_ENV, None)
    proc = subprocess.Popen([sys.executable, "-m", "cnnlab.grading.cli", str(path), "--timeout", "300"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240                    # imports and the self-test come first; slow when busy
    while time.monotonic() < deadline and not any(scratch.glob("cnnlab-grade-*/tmp*")):
        time.sleep(0.1)                                  # a child is running
    if not any(scratch.glob("cnnlab-grade-*/tmp*")):
        proc.kill()
        pytest.fail(f"the child never started: {proc.communicate()[1][-2000:]}")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    time.sleep(0.3)
    assert list(scratch.glob("cnnlab-grade-*")) == []
    marker = str(scratch).encode()
    left = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_has(p, marker)]
    assert left == []


def _cmdline_has(entry: Path, marker: bytes) -> bool:
    try:
        return marker in (entry / "cmdline").read_bytes()
    except OSError:
        return False


# --------------------------------------------------------------------------- what the class got wrong

def test_the_class_summary_counts_passes_unimplemented_and_mistakes(fixture_run):
    summary = reports.class_summary(fixture_run["report"])["90"]["moving_sum"]
    rows = [r for r in fixture_run["report"].submissions if r.chapter == "90" and r.exercises]
    assert summary["submissions"] == len(rows)
    assert summary["passed"] == sum(ex(r, "moving_sum").status == "passed" for r in rows)
    assert summary["missing"] == sum(ex(r, "moving_sum").status in ("not implemented", "missing") for r in rows)
    assert summary["mistakes"] == {"output: one value per input": 1}
    text = reports.render(fixture_run["report"], "text")
    assert f"output: one value per input — 1 of {len(rows)}" in text
    assert json.loads(reports.render(fixture_run["report"], "json"))["summary"]["90"]["moving_sum"] == summary
    page = reports.summary_html(fixture_run["report"])
    assert page.count("<svg") == 2 and "output: one value per input" in page


def test_feedback_pages_and_gradescope_folders_stay_inside_their_folder(fixture_chapter, tmp_path):
    base = helpers.fixture_solution()
    paths = [helpers.write(base, tmp_path / "a" / "90_same.ipynb"), helpers.write(base, tmp_path / "b" / "90_same.ipynb"),
             helpers.write(base, tmp_path / "c" / "...ipynb"), helpers.write(base, tmp_path / "d" / "..ipynb")]
    out, feedback = tmp_path / "out", tmp_path / "feedback"
    assert grading_cli.main([*map(str, paths), "--chapter", "90", "--format", "gradescope", "--out", str(out),
                             "--feedback", str(feedback)]) == 0
    results = sorted(out.rglob("results.json"))
    assert len(results) == 4 and all(r.parent.parent == out for r in results)
    assert len({r.parent for r in results}) == 4
    pages = sorted(feedback.glob("*.html"))
    assert len(pages) == 4 and all(p.parent == feedback for p in pages)
    assert "3/3 points" in pages[0].read_text() and (out / "summary.html").is_file()


def test_report_text_is_sanitised_and_capped():
    assert reports.clean("ok\x1b[2J\u202eevil") == "ok?[2J?evil"
    assert len(reports.clean("x" * 5000)) == reports.MAX_FIELD
