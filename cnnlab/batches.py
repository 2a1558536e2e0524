"""From a data set to what training reads: a hold-out split, class-balanced picks, mini-batches. Lessons 04-07.

- ``split_train_val``: the one way the course holds images out for validation (a fixed,
  seeded choice), used by ``fashion_mnist_batches`` and ``cnnlab.data.loaders``.
- ``class_balanced_indices``: the same number of examples of every class, the first ones or a
  seeded random draw (the bundled sample, lesson 07's few-label tasks).
- ``TensorBatches``: shuffled mini-batches straight from in-memory tensors, one pass per epoch.
- ``RandomBatches``: a fixed number of mini-batches drawn at random (with replacement), for
  training by steps rather than epochs (lesson 07).
- ``fashion_mnist_batches``: (train, val, test) batches of normalised Fashion-MNIST.

Like ``cnnlab.data`` this module loads torch only when a function needs it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterator

import numpy as np

if TYPE_CHECKING:
    import torch


def split_train_val(n: int, val_size: int | float = 0, seed: int = 0,
                    limit: int | None = None) -> tuple["torch.Tensor", "torch.Tensor"]:
    """Indices of a training set and a held-out validation set among ``n`` examples. Lesson 04.

    The order is a seeded permutation, so the same ``seed`` always holds out the same images.

    Args:
        n: examples to split.
        val_size: examples held out (an int), or their share (a float below 1).
        seed: fixes the permutation.
        limit: keep at most this many training examples.

    Returns:
        (train indices, validation indices), int64 tensors with no index in both.
    """
    import torch

    n_val = int(round(val_size * n)) if isinstance(val_size, float) else int(val_size)
    if not 0 <= n_val < n:
        raise ValueError(f"split_train_val: val_size must hold out between 0 and {n - 1} of the {n} images "
                         f"(or be a share below 1), got {val_size}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    train_idx, val_idx = order[n_val:], order[:n_val]
    return (train_idx if limit is None else train_idx[:limit]), val_idx


def class_balanced_indices(labels, per_class: int, seed: int | None = None) -> np.ndarray:
    """``per_class`` examples of every class, class by class. Lessons 00, 07.

    Args:
        labels: class of each example (N,), a NumPy array or a tensor.
        per_class: examples to take from each class.
        seed: None takes the first ``per_class`` examples of each class in order (the
            bundled sample's rule); an int draws them at random with torch's generator
            seeded by it (a small labelled set, lesson 07).

    Returns:
        int64 indices, ``per_class`` of the smallest class first, then of the next, ...
    """
    labels = labels.cpu().numpy() if hasattr(labels, "cpu") else np.asarray(labels)
    generator = None
    if seed is not None:
        import torch

        generator = torch.Generator().manual_seed(seed)
    picks = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise ValueError(f"class_balanced_indices: class {int(c)} has {len(members)} examples, "
                             f"fewer than {per_class}")
        if generator is not None:
            import torch

            members = members[torch.randperm(len(members), generator=generator)[:per_class].numpy()]
        picks.append(members[:per_class])
    return np.concatenate(picks).astype(np.int64)


class TensorBatches:
    """Mini-batches straight from in-memory tensors, reshuffled every epoch. Lesson 04.

    Does what ``DataLoader(TensorDataset(x, y), batch_size, shuffle=True)`` does, but slices
    whole batches at once instead of collating single images, which matters on a small CPU.

    Args:
        x: inputs (N, C, H, W).
        y: labels (N,).
        batch_size: images per batch (the last batch may be smaller).
        shuffle: draw a new order every epoch (from torch's global generator, see ``set_seed``).
    """

    def __init__(self, x: "torch.Tensor", y: "torch.Tensor", batch_size: int = 128, shuffle: bool = False):
        if len(x) != len(y):
            raise ValueError(f"TensorBatches: {len(x)} inputs but {len(y)} labels (x {tuple(x.shape)}, y {tuple(y.shape)})")
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __iter__(self) -> Iterator[tuple["torch.Tensor", "torch.Tensor"]]:
        import torch

        order = torch.randperm(len(self.x)) if self.shuffle else torch.arange(len(self.x))
        for start in range(0, len(self.x), self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.x[idx], self.y[idx]


class RandomBatches:
    """``steps`` mini-batches, each drawn at random with replacement. Lesson 07.

    Training by steps does the same work whether there are 5 labelled examples per class or
    100; with fewer examples than ``batch_size``, every batch has as many as there are.

    Args:
        x: inputs (N, ...).
        y: labels (N,).
        batch_size: examples per batch.
        steps: batches in one pass (what ``len`` reports).
    """

    def __init__(self, x: "torch.Tensor", y: "torch.Tensor", batch_size: int, steps: int):
        if len(x) != len(y):
            raise ValueError(f"RandomBatches: {len(x)} inputs but {len(y)} labels")
        self.x, self.y, self.batch_size, self.steps = x, y, min(batch_size, len(x)), steps

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[tuple["torch.Tensor", "torch.Tensor"]]:
        import torch

        for _ in range(self.steps):
            idx = torch.randint(len(self.x), (self.batch_size,))
            yield self.x[idx], self.y[idx]


def fashion_mnist_batches(source: str = "auto", batch_size: int = 128, val_size: int = 0,
                          limit: int | None = None, seed: int = 0
                          ) -> tuple[TensorBatches, TensorBatches | None, TensorBatches]:
    """(train, val, test) TensorBatches of normalised Fashion-MNIST (val is None when ``val_size`` is 0). Lesson 04.

    Args:
        source: "auto", "sample" or "full" (see ``cnnlab.data.load_fashion_mnist``).
        batch_size: training batch size (evaluation uses 1,000).
        val_size: images of the train split held out for validation (``split_train_val``).
        limit: keep at most this many training images.
        seed: fixes the validation split.
    """
    from cnnlab.data import load_fashion_mnist, to_tensors

    x, y = to_tensors(*load_fashion_mnist("train", source))                 # (60000, 1, 28, 28), (60000,)
    x_test, y_test = to_tensors(*load_fashion_mnist("test", source))
    train_idx, val_idx = split_train_val(len(x), val_size, seed, limit)
    val = TensorBatches(x[val_idx], y[val_idx], 1000) if len(val_idx) else None
    return (TensorBatches(x[train_idx], y[train_idx], batch_size, shuffle=True), val,
            TensorBatches(x_test, y_test, 1000))
