"""Exercises of lesson 07: freeze a backbone, count what still learns, set up fine-tuning."""

from __future__ import annotations

import numpy as np
import torch

from cnnlab.checks import Exercise, Mistake, Probe
from cnnlab.checks.mistakes import Catalog
from cnnlab.common import parameter_count

HEAD_IN = 1280                  # features EfficientNet-Lite0's classifier reads
PROBE_INPUT = 32                # a small image is enough to check the output shape


def _model(num_classes: int = 1000):
    from cnnlab.models import efficientnet_lite0   # imported when the reference runs (in the checking process only)

    return efficientnet_lite0(num_classes=num_classes)


def _total(num_classes: int) -> int:
    """Parameters of EfficientNet-Lite0 with a head for ``num_classes``."""
    return 4_652_008 - (HEAD_IN * 1000 + 1000) + HEAD_IN * num_classes + num_classes


# --------------------------------------------------------------------------- exercise 1: freeze + new head

def _head_cases(rng):
    return [dict(num_classes=2), dict(num_classes=5), dict(num_classes=10), dict(num_classes=37),
            dict(num_classes=int(rng.integers(3, 30)))]


def _head_ref(num_classes):
    from cnnlab.transfer import freeze, replace_head

    return replace_head(freeze(_model()), num_classes)


HEAD = Catalog(
    not_replaced=Mistake(
        "head not replaced",
        nudge="the output still has 1,000 classes",
        hint="replace model.classifier by a new nn.Linear({head_in}, {k}): ImageNet's head answers ImageNet's "
             "1,000 classes"),
    nothing_frozen=Mistake(
        "nothing frozen",
        nudge="every parameter still learns",
        hint="set requires_grad = False on every pretrained parameter, then attach the new head"),
    head_frozen=Mistake(
        "new head frozen too",
        nudge="nothing learns at all",
        hint="freeze first, then attach the new head: a layer created afterwards learns (requires_grad is True "
             "for new parameters)"),
    extra_trainable=Mistake(
        "more than the head learns",
        nudge="{trainable:,} parameters learn, expected only the head's {want:,}",
        hint="freeze every pretrained layer, the last conv block included: only the new head "
             "({head_in}·{k} + {k} = {want:,} parameters) learns"),
)


def _head_hint(case, got, expected):
    trainable, total, shape = int(got[0]), int(got[1]), tuple(int(n) for n in got[2])
    k = case["num_classes"]
    numbers = dict(head_in=HEAD_IN, k=k, trainable=trainable, want=int(expected[0]))
    if shape[-1] == 1000 and k != 1000:
        return HEAD("not_replaced", **numbers)
    if trainable == total:
        return HEAD("nothing_frozen", **numbers)
    if trainable == 0:
        return HEAD("head_frozen", **numbers)
    if trainable > int(expected[0]):
        return HEAD("extra_trainable", **numbers)
    return None


# --------------------------------------------------------------------------- exercise 2: partial freezing

def _count_cases(rng):
    # the first case tells the classic slips apart (with frozen_stages=0 some of them coincide)
    return [dict(frozen_stages=3, num_classes=10), dict(frozen_stages=0, num_classes=10),
            dict(frozen_stages=7, num_classes=4), dict(frozen_stages=5, num_classes=1000),
            dict(frozen_stages=int(rng.integers(1, 7)), num_classes=int(rng.integers(2, 50)))]


def _frozen_parts(model, frozen_stages: int, skip_stem: bool = False, shift: int = 0):
    parts = [] if skip_stem else [model.features.stem]
    return parts + [getattr(model.features, f"stage{i}") for i in range(1 + shift, frozen_stages + 1 + shift)
                    if hasattr(model.features, f"stage{i}")]


def _trainable_with(frozen_stages, num_classes, **slip) -> int:
    model = _model(num_classes)
    for part in _frozen_parts(model, frozen_stages, **slip):
        for p in part.parameters():
            p.requires_grad_(False)
    return parameter_count(model, trainable_only=True)


def _count_ref(frozen_stages, num_classes):
    from cnnlab.transfer import freeze

    model = _model(num_classes)
    freeze(model.features.stem)
    for i in range(1, frozen_stages + 1):
        freeze(getattr(model.features, f"stage{i}"))
    return np.int64(parameter_count(model, trainable_only=True))


COUNT = Catalog(
    everything=Mistake(
        "every parameter counted",
        nudge="your count is the size of the whole model",
        hint="count only the parameters with requires_grad (and freeze the stem and the stages first)"),
    stem=Mistake(
        "stem not frozen",
        nudge="your count is a little too high: what comes before stage 1?",
        hint="the stem is frozen too: it comes before stage 1"),
    one_short=Mistake(
        "one stage too few",
        nudge="your count is too high by one stage: how are the stages numbered?",
        hint="stages are numbered from 1 (model.features.stage1 … stage7): frozen_stages=2 freezes stage1 AND "
             "stage2, so loop over range(1, frozen_stages + 1)"),
    shifted=Mistake(
        "stages shifted by one",
        nudge="you freeze the right number of stages, but not the right ones",
        hint="stages are numbered from 1: frozen_stages=2 freezes stage1 and stage2, not stage2 and stage3"),
)


def _count_hint(case, got, expected):
    got = int(np.asarray(got))
    n, k = case["frozen_stages"], case["num_classes"]
    return COUNT.unique({
        "everything": got == _total(k),
        "stem": got == _trainable_with(n, k, skip_stem=True),
        "one_short": got == _trainable_with(n, k, shift=-1),
        "shifted": got == _trainable_with(n, k, shift=1),
    })


# --------------------------------------------------------------------------- exercise 3: fine-tuning optimizer

def _optim_cases(rng):
    return [dict(num_classes=6, lr=1e-3, backbone_lr_scale=0.1), dict(num_classes=2, lr=3e-4, backbone_lr_scale=0.01),
            dict(num_classes=10, lr=1e-2, backbone_lr_scale=0.5),
            dict(num_classes=int(rng.integers(2, 40)), lr=float(rng.uniform(1e-4, 1e-2)),
                 backbone_lr_scale=float(rng.uniform(0.05, 0.5)))]


def _optim_ref(num_classes, lr, backbone_lr_scale):
    from cnnlab.transfer import finetune_param_groups

    return torch.optim.Adam(finetune_param_groups(_model(num_classes), lr, backbone_lr_scale))


OPTIMIZER = Catalog(
    head_only=Mistake(
        "only the head in the optimizer",
        nudge="your optimizer holds the head's parameters only",
        hint="fine-tuning trains every layer: put the backbone in the optimizer too, at a smaller rate"),
    one_group=Mistake(
        "one group for everything",
        nudge="your optimizer has a single parameter group: how can two parts learn at two rates?",
        hint="make two groups, each with its own lr: [{{'params': backbone, 'lr': lr·scale}}, "
             "{{'params': head, 'lr': lr}}]"),
    swapped=Mistake(
        "rates swapped",
        nudge="the head learns slowly and the backbone fast",
        hint="the pretrained backbone gets lr · backbone_lr_scale (small steps keep what it knows), the new "
             "head the full lr"),
    same_rate=Mistake(
        "same rate for both groups",
        nudge="both groups learn at the same rate",
        hint="multiply the backbone's rate by backbone_lr_scale"),
    missing=Mistake(
        "part of the model missing",
        nudge="the groups hold {covered:,} parameters; the model has {total:,}",
        hint="every parameter belongs to exactly one group: the head's, or the backbone's (everything else)"),
)


def _optim_hint(case, got, expected):
    lrs, sizes, covered = got
    k = case["num_classes"]
    head = HEAD_IN * k + k
    numbers = dict(covered=int(covered), total=_total(k))
    if len(lrs) == 1 and int(sizes[0]) == head:
        return OPTIMIZER("head_only", **numbers)
    if len(lrs) == 1:
        return OPTIMIZER("one_group", **numbers)
    if int(covered) != _total(k):
        return OPTIMIZER("missing", **numbers)
    if len(lrs) == 2 and np.isclose(lrs[0], lrs[1]):
        return OPTIMIZER("same_rate", **numbers)
    if len(lrs) == 2 and int(sizes[0]) == head:
        return OPTIMIZER("swapped", **numbers)
    return None


EXERCISES = [
    Exercise(name="freeze_and_replace_head", chapter="07", points=3, cases=_head_cases, reference=_head_ref,
             probe=Probe("classifier_head", (("size", PROBE_INPUT),)), imports=("cnnlab.models",), diagnose=_head_hint, forbidden=("cnnlab.transfer",),
             description="freeze EfficientNet-Lite0 and give it a new trainable head"),
    Exercise(name="trainable_after_freezing", chapter="07", points=2, cases=_count_cases, reference=_count_ref,
             diagnose=_count_hint, forbidden=("cnnlab.transfer",), imports=("cnnlab.models",),
             description="freeze the stem and the first stages, count the parameters that still learn"),
    Exercise(name="finetune_optimizer", chapter="07", points=3, cases=_optim_cases, reference=_optim_ref,
             probe=Probe("optimizer_groups"), imports=("cnnlab.models",), diagnose=_optim_hint, forbidden=("cnnlab.transfer",), rtol=1e-9,
             description="Adam with two parameter groups: backbone at a smaller rate, new head at the full rate"),
]

MISTAKES = {"freeze_and_replace_head": HEAD, "trainable_after_freezing": COUNT, "finetune_optimizer": OPTIMIZER}
