"""Exercises of lesson 07: freeze a backbone, count what still learns, set up fine-tuning."""

from __future__ import annotations

import numpy as np
import torch

from cnnlab.checks import Exercise
from cnnlab.common import parameter_count

HEAD_IN = 1280                  # features EfficientNet-Lite0's classifier reads
PROBE_INPUT = 32                # a small image is enough to check the output shape


def _model(num_classes: int = 1000):
    from cnnlab.models import efficientnet_lite0   # imported here: the probe may run where learners cannot import it

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


def _head_probe(model, case):
    """(trainable parameters, all parameters, output shape, requires_grad of every parameter tensor)."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    params = list(model.parameters())
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 3, PROBE_INPUT, PROBE_INPUT))).float()
    with torch.no_grad():
        out = model.eval()(x)
    return (np.int64(parameter_count(params, trainable_only=True)),
            np.int64(parameter_count(params)), np.array(out.shape),
            np.array([p.requires_grad for p in params]))


def _head_hint(case, got, expected):
    trainable, total, shape = int(got[0]), int(got[1]), tuple(int(n) for n in got[2])
    k = case["num_classes"]
    if shape[-1] == 1000 and k != 1000:
        return f"the output still has 1,000 classes: replace model.classifier by nn.Linear({HEAD_IN}, {k})"
    if trainable == total:
        return "nothing is frozen: set requires_grad = False on every pretrained parameter"
    if trainable == 0:
        return "the new head is frozen too: freeze first, then attach the new head (a new layer learns)"
    if trainable != int(expected[0]):
        return f"{trainable:,} parameters learn, expected only the head's {HEAD_IN}·{k} + {k} = {int(expected[0]):,}"
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


def _count_hint(case, got, expected):
    got = int(np.asarray(got))
    if got == _total(case["num_classes"]):
        return "that is every parameter: count only those with requires_grad (and freeze first)"
    slips = {
        "the stem is frozen too: it comes before stage 1": dict(skip_stem=True),
        "stages are numbered from 1 (model.features.stage1 ... stage7): frozen_stages=2 freezes stage1 and stage2":
            dict(shift=-1),
        "stages are numbered from 1: frozen_stages=2 freezes stage1 and stage2, not stage2 and stage3": dict(shift=1),
    }
    for hint, slip in slips.items():
        if got == _trainable_with(case["frozen_stages"], case["num_classes"], **slip):
            return hint
    return None


# --------------------------------------------------------------------------- exercise 3: fine-tuning optimizer

def _optim_cases(rng):
    return [dict(num_classes=6, lr=1e-3, backbone_lr_scale=0.1), dict(num_classes=2, lr=3e-4, backbone_lr_scale=0.01),
            dict(num_classes=10, lr=1e-2, backbone_lr_scale=0.5),
            dict(num_classes=int(rng.integers(2, 40)), lr=float(rng.uniform(1e-4, 1e-2)),
                 backbone_lr_scale=float(rng.uniform(0.05, 0.5)))]


def _optim_ref(num_classes, lr, backbone_lr_scale):
    from cnnlab.transfer import finetune_param_groups

    return torch.optim.Adam(finetune_param_groups(_model(num_classes), lr, backbone_lr_scale))


def _optim_probe(opt, case):
    """(learning rates, parameters per group, distinct parameters), groups sorted by learning rate."""
    if not isinstance(opt, torch.optim.Optimizer):
        raise TypeError(f"expected a torch optimizer, got {type(opt).__name__}")
    groups = sorted(opt.param_groups, key=lambda g: g["lr"])
    distinct = {id(p): p for g in groups for p in g["params"]}
    return (np.array([g["lr"] for g in groups], dtype=float),
            np.array([parameter_count(g["params"]) for g in groups]),
            np.int64(parameter_count(distinct.values())))


def _optim_hint(case, got, expected):
    lrs, sizes, covered = got
    head = HEAD_IN * case["num_classes"] + case["num_classes"]
    if len(lrs) == 1 and int(sizes[0]) == head:
        return "only the head is in the optimizer: fine-tuning trains every layer, the backbone at a smaller rate"
    if len(lrs) == 1:
        return "one group for everything: put the backbone and the head in two groups with their own lr"
    if len(lrs) == 2 and int(sizes[0]) == head:
        return "the rates are swapped: the pretrained backbone gets lr · backbone_lr_scale, the new head the full lr"
    if len(lrs) == 2 and np.isclose(lrs[0], lrs[1]):
        return "both groups have the same rate: multiply the backbone's by backbone_lr_scale"
    if int(covered) != _total(case["num_classes"]):
        return f"the groups hold {int(covered):,} parameters; the model has {_total(case['num_classes']):,}"
    return None


EXERCISES = [
    Exercise(name="freeze_and_replace_head", chapter="07", points=3, cases=_head_cases, reference=_head_ref,
             probe=_head_probe, diagnose=_head_hint, forbidden=("cnnlab.transfer",),
             description="freeze EfficientNet-Lite0 and give it a new trainable head"),
    Exercise(name="trainable_after_freezing", chapter="07", points=2, cases=_count_cases, reference=_count_ref,
             diagnose=_count_hint, forbidden=("cnnlab.transfer",),
             description="freeze the stem and the first stages, count the parameters that still learn"),
    Exercise(name="finetune_optimizer", chapter="07", points=3, cases=_optim_cases, reference=_optim_ref,
             probe=_optim_probe, diagnose=_optim_hint, forbidden=("cnnlab.transfer",), rtol=1e-9,
             description="Adam with two parameter groups: backbone at a smaller rate, new head at the full rate"),
]
