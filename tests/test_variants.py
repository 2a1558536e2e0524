"""cnnlab.variants (lessons 04-06, 08): training variants under one budget and tabulating them."""

import pytest
import torch

from cnnlab import variants as ex
from cnnlab.models import lenet5
from cnnlab.train import TensorBatches


# --------------------------------------------------------------------------- compare_variants

def test_compare_variants_trains_each_and_tabulates():
    torch.manual_seed(0)
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    train, test = TensorBatches(x, y, 32, shuffle=True), TensorBatches(x, y, 64)
    result = ex.compare_variants({"classic": lenet5, "sgd": (lenet5, {"optimizer": "sgd", "lr": 0.01})},
                                 train, test, test, epochs=1, progress=False)
    assert list(result.runs) == ["classic", "sgd"]
    assert [len(h) for h in result.histories().values()] == [1, 1]
    rows = result.rows()
    assert rows[0]["params"] == 61_706 and 0.0 <= rows[1]["test_acc"] <= 1.0
    assert "classic" in result.table() and "test acc" in repr(result)


def test_table_leaves_out_what_was_not_measured():
    x, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    result = ex.compare_variants({"only": lenet5}, TensorBatches(x, y, 32), epochs=1, progress=False)
    header = result.table().splitlines()[0]
    assert "train acc" in header and "val acc" not in header and "test acc" not in header
    assert "nan" not in result.table()


def test_compare_variants_starts_every_variant_from_the_same_weights():
    x, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    train = TensorBatches(x, y, 32)
    result = ex.compare_variants({"a": lenet5, "b": lenet5}, train, epochs=1, progress=False, lr=1e-3)
    a, b = result["a"].model.state_dict(), result["b"].model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_compare_variants_needs_a_variant():
    with pytest.raises(ValueError, match="at least one"):
        ex.compare_variants({}, [])
