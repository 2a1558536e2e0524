"""Train a few variants of a network on the same data with the same budget, and tabulate them. Lessons 04-06, 08.

``compare_variants`` is how the lessons measure a design choice: classic vs modern LeNet-5
(04), VGG with and without batch norm, dropout or augmentation (05), plain vs residual (06),
four architectures of one size (08). Every variant starts from the same seed, trains with
``cnnlab.train.fit`` and becomes one ``VariantRun``; the ``Comparison`` of all of them prints
as a table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

from torch import nn

from cnnlab.common import parameter_count
from cnnlab.train import History, evaluate, fit, set_seed

Builder = Callable[[], nn.Module]


@dataclass
class VariantRun:
    """One trained variant: the network, its history, its trainable parameters and its test score. Lessons 04-06, 08."""

    name: str
    model: nn.Module
    history: History
    params: int
    test_loss: float = math.nan
    test_acc: float = math.nan

    def row(self) -> dict[str, float | str]:
        """The table row: name, parameters, epochs, seconds, last train/val accuracy, test accuracy."""
        h = self.history
        last = (lambda values: values[-1] if values else math.nan)
        return {"variant": self.name, "params": self.params, "epochs": last(h.epoch), "seconds": last(h.seconds),
                "train_loss": last(h.train_loss), "train_acc": last(h.train_acc), "val_acc": last(h.val_acc),
                "test_acc": self.test_acc}


@dataclass
class Comparison:
    """The runs of ``compare_variants`` by name; prints as a table. Lessons 04-06, 08."""

    runs: dict[str, VariantRun] = field(default_factory=dict)

    def __getitem__(self, name: str) -> VariantRun:
        return self.runs[name]

    def rows(self) -> list[dict[str, float | str]]:
        return [run.row() for run in self.runs.values()]

    def histories(self) -> dict[str, History]:
        return {name: run.history for name, run in self.runs.items()}

    def table(self) -> str:
        """A fixed-width text table, one row per variant; the val/test columns only when measured."""
        rows = self.rows()
        columns = [("params", 10, ","), ("epochs", 6, ".2f"), ("seconds", 7, ".1f"), ("train_loss", 10, ".4f"),
                   ("train_acc", 9, ".4f"), ("val_acc", 7, ".4f"), ("test_acc", 8, ".4f")]
        columns = [(key, w, spec) for key, w, spec in columns
                   if key not in ("val_acc", "test_acc") or any(not math.isnan(r[key]) for r in rows)]
        width = max([len("variant"), *(len(name) for name in self.runs)])
        lines = [" ".join([f"{'variant':<{width}}"] + [f"{key.replace('_', ' '):>{w}}" for key, w, _ in columns])]
        for r in rows:
            lines.append(" ".join([f"{r['variant']:<{width}}"] + [f"{r[key]:>{w}{spec}}" for key, w, spec in columns]))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.table()


def compare_variants(variants: Mapping[str, Builder | tuple[Builder, dict]], train, val=None, test=None,
                     seed: int = 0, **fit_options) -> Comparison:
    """Train each variant with the same data, seed and budget; return the runs as a table. Lessons 04-06, 08.

    Args:
        variants: {name: builder} or {name: (builder, fit options of this variant only)}, where a
            builder is a function of no arguments that returns a fresh network, e.g.
            ``{"classic": lambda: lenet5(variant="classic"), "sgd": (lenet5, {"optimizer": "sgd", "lr": 0.01})}``.
        train: training batches; val, test: optional validation and test batches.
        seed: every variant starts from this seed (same data order; same initial weights when
            two variants share a layout).
        **fit_options: options of ``cnnlab.train.fit`` shared by every variant (epochs, lr,
            max_seconds, augment, ...).

    Returns:
        A ``Comparison``: ``.table()`` (also its printed form), ``.rows()``, ``.histories()``,
        and each ``VariantRun`` (model, history, test accuracy) by name.
    """
    if not variants:
        raise ValueError("compare_variants: give at least one variant")
    comparison = Comparison()
    for name, spec in variants.items():
        builder, options = spec if isinstance(spec, tuple) else (spec, {})
        set_seed(seed)
        model = builder()
        history = fit(model, train, val, **{"desc": name, **fit_options, **options})   # the bar names the variant
        run = VariantRun(name, model, history, parameter_count(model, trainable_only=True))
        if test is not None:
            run.test_loss, run.test_acc = evaluate(model, test)
        comparison.runs[name] = run
    return comparison
