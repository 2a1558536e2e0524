"""bench/bench_course.py: the course timer runs a notebook as a learner would and records it honestly."""

import importlib.util
import json
import os
from pathlib import Path

import nbformat
import pytest

SCRIPT = Path(__file__).parents[1] / "bench" / "bench_course.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_course", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_notebook(folder: Path, name: str, sources: list[str]) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / name
    nbformat.write(nb, path)
    return path


def test_run_notebook_times_every_cell_in_the_mode_asked(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    path = tiny_notebook(tmp_path, "04_x.ipynb", [
        "import os, time\nquick = os.environ.get('CNNLAB_QUICK')",
        "total = sum(i * i for i in range(3_000_000))            # CPU work",
        "time.sleep(0.3)                                         # waiting, no CPU",
        "def check(f):\n    return f()\ncheck(lambda: 1)",
        "assert quick == '1' and os.environ['OMP_NUM_THREADS'] == '1' and os.environ.get('MPLBACKEND') != 'Agg'",
    ])
    os.environ["MPLBACKEND"] = "Agg"
    row = bench.run_notebook(path, quick=True, threads=1)
    assert os.environ["MPLBACKEND"] == "Agg"                     # the bench's own environment is put back
    assert row["error"] is None and row["mode"] == "quick" and row["notebook"] == "04_x.ipynb"
    cells = row["cells"]
    assert [c["cell"] for c in cells] == [0, 1, 2, 3, 4]
    assert cells[1]["cpu_s"] > 0.05 and cells[2]["wall_s"] >= 0.3 and cells[2]["cpu_s"] < 0.2
    assert [c["check"] for c in cells] == [False, False, False, True, False]
    assert row["check_cells_wall_s"] == round(cells[3]["wall_s"], 1)
    assert row["wall_s"] >= sum(c["wall_s"] for c in cells) - 0.1 and row["cpu_s"] >= cells[1]["cpu_s"]


def test_a_failing_notebook_is_recorded_with_its_error(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    path = tiny_notebook(tmp_path, "05_y.ipynb", ["import os\nassert 'CNNLAB_QUICK' not in os.environ",
                                                  "raise ValueError('budget spent')", "print('never')"])
    row = bench.run_notebook(path, quick=False)
    assert row["mode"] == "full" and row["error"] == "ValueError: budget spent" and len(row["cells"]) == 2


def test_totals_flag_notebooks_over_their_budget(bench, tmp_path, capsys):
    def row(notebook, mode, wall):
        return {"notebook": notebook, "mode": mode, "wall_s": wall, "cpu_s": wall / 2, "error": None, "cells": [],
                "load_1min": {"before": 1.0, "after": 2.0}}

    report = {"runs": {"full": {"a": row("notebooks/04_x.ipynb", "full", 310), "b": row("notebooks/05_y.ipynb", "full", 200)},
                       "quick": {"a": row("notebooks/04_x.ipynb", "quick", 9)}}}
    out = tmp_path / "course.json"
    bench.save(report, out)
    totals = json.loads(out.read_text())["totals"]
    assert totals["full"] == {"notebooks": 2, "wall_s": 510, "cpu_s": 255, "errors": [],
                              "over_budget": ["notebooks/04_x.ipynb"]}
    assert totals["quick"]["over_budget"] == []
    bench.print_table(report, slow_cells=0)
    table = capsys.readouterr().out
    assert "OVER 300 s" in table and "full course: 8.5 min of wall time (within 30 min)" in table
