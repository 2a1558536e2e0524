"""bench/bench_lesson09.py: a run with tiny budgets records every measurement, its seconds and the load."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).parents[1] / "bench" / "bench_lesson09.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_lesson09", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_tiny_run_writes_every_result(bench, monkeypatch, tmp_path):
    monkeypatch.setattr(bench, "SCENES", dict(train=40, test=10))
    monkeypatch.setattr(bench, "SEGMENTATION", dict(steps=2, max_seconds=10))
    monkeypatch.setattr(bench, "DETECTION", dict(steps=2, max_seconds=10))
    monkeypatch.setattr(bench, "SOUND", dict(epochs=1, max_seconds=5))
    monkeypatch.setattr(bench, "POSITION", dict(pairs=16, test_pairs=8, epochs=1, max_seconds=5))
    out = tmp_path / "lesson09.json"
    threads = torch.get_num_threads()
    try:
        assert bench.main(["--threads", "1", "--source", "sample", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"segmentation", "detection", "sound", "position"}
    seg, det = results["segmentation"], results["detection"]
    assert 0 <= seg["mean_iou"] <= 1 and len(seg["iou_per_class"]) == 11 and seg["steps"] == 2
    assert 0 <= det["map50"] <= 1 and det["train_seconds"] >= 0 and det["scenes_from"] == "sample"
    assert seg["met"] == (seg["mean_iou"] >= 0.8 and seg["train_seconds"] <= 180)
    assert 0 <= results["sound"]["test_accuracy_unheard_voices"] <= 1
    position = results["position"]
    assert position["circular_padding"]["pair_logit_gap"] < 1e-4
    assert {"test_accuracy", "train_seconds"} <= set(position["zero_padding"])
    assert all("before" in row["load_average_1min"] for row in results.values())


def test_unknown_experiments_are_refused(bench):
    with pytest.raises(SystemExit):
        bench.main(["--only", "segmentation,colour"])
