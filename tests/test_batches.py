"""Hold-out splits, class-balanced picks and mini-batches (cnnlab.batches)."""

import numpy as np
import pytest
import torch

from cnnlab import batches as B
from cnnlab.batches import RandomBatches, TensorBatches


def test_tensor_batches_cover_every_image_once_per_epoch():
    x, y = torch.arange(10.0).reshape(10, 1, 1, 1), torch.arange(10)
    batches = TensorBatches(x, y, batch_size=4, shuffle=True)
    assert len(batches) == 3
    seen = torch.cat([yb for _, yb in batches])
    assert sorted(seen.tolist()) == list(range(10))
    assert all(torch.equal(xb.flatten().long(), yb) for xb, yb in batches)
    with pytest.raises(ValueError, match="labels"):
        TensorBatches(x, y[:5])


def test_fashion_mnist_batches_hold_out_a_fixed_validation_set():
    train_batches, val, test = B.fashion_mnist_batches("sample", batch_size=100, val_size=500, limit=1000)
    assert (len(train_batches.x), len(val.x), len(test.x)) == (1000, 500, 1000)
    assert train_batches.x.shape[1:] == (1, 28, 28) and len(train_batches) == 10
    again = B.fashion_mnist_batches("sample", batch_size=100, val_size=500)[1]
    assert torch.equal(again.y, val.y)
    assert B.fashion_mnist_batches("sample", val_size=0)[1] is None
    with pytest.raises(ValueError, match="val_size"):
        B.fashion_mnist_batches("sample", val_size=6000)


def test_split_train_val_is_seeded_disjoint_and_limited():
    train_idx, val_idx = B.split_train_val(100, 20, seed=3)
    assert len(train_idx) == 80 and len(val_idx) == 20
    assert sorted(torch.cat([train_idx, val_idx]).tolist()) == list(range(100))
    again = B.split_train_val(100, 20, seed=3)
    assert torch.equal(again[0], train_idx) and torch.equal(again[1], val_idx)
    assert not torch.equal(B.split_train_val(100, 20, seed=4)[1], val_idx)
    assert len(B.split_train_val(100, 0.25)[1]) == 25                    # a share
    assert len(B.split_train_val(100, 20, limit=30)[0]) == 30
    with pytest.raises(ValueError, match="val_size"):
        B.split_train_val(100, 100)


def test_class_balanced_indices_first_or_seeded():
    labels = np.array([2, 0, 1, 0, 2, 1, 0, 2, 1])
    assert B.class_balanced_indices(labels, 2).tolist() == [1, 3, 2, 5, 0, 4]   # the first two of classes 0, 1, 2
    drawn = B.class_balanced_indices(torch.from_numpy(labels), 2, seed=5)
    assert np.bincount(labels[drawn]).tolist() == [2, 2, 2] and len(set(drawn.tolist())) == 6
    assert np.array_equal(drawn, B.class_balanced_indices(labels, 2, seed=5))
    with pytest.raises(ValueError, match="fewer than 4"):
        B.class_balanced_indices(labels, 4)


def test_random_batches_draw_a_fixed_number_of_batches():
    x, y = torch.arange(5.0).reshape(5, 1), torch.arange(5)
    batches = RandomBatches(x, y, batch_size=8, steps=4)
    assert len(batches) == 4
    drawn = list(batches)
    assert len(drawn) == 4 and all(len(yb) == 5 for _, yb in drawn)      # never more than there are
    assert all(torch.equal(xb.flatten().long(), yb) for xb, yb in drawn)
