"""The ``cnnlab`` command: ``cnnlab train`` (cnnlab.cli)."""

import pytest

from cnnlab import cli


def test_main_trains_with_a_tiny_budget(capsys, tmp_path):
    code = cli.main(["train", "lenet5", "--sample", "--epochs", "1", "--limit", "512", "--batch-size", "64",
                       "--val-size", "200", "--no-progress", "--save", str(tmp_path / "lenet.pt")])
    out = capsys.readouterr().out
    assert code == 0
    assert "epoch  1.00" in out and "val loss" in out and "recipe: Adam, peak learning rate 0.003" in out
    accuracy = float(out.split("test accuracy:")[1].split()[0])
    assert 0.3 < accuracy <= 1.0                      # 512 images, one epoch: well above chance
    assert (tmp_path / "lenet.pt").exists()


def test_main_rejects_an_unknown_model():
    with pytest.raises(SystemExit):
        cli.main(["train", "alexnet"])
