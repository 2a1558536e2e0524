"""Lesson 07 exercises: the reference passes, stubs are "not implemented", classic mistakes fail with a hint."""

import torch
from torch import nn

from cnnlab.checks import exercises, get, run_exercise
from cnnlab.models import efficientnet_lite0


def test_exercises_forbid_the_lesson_helpers():
    assert all(ex.forbidden == ("cnnlab.transfer",) for ex in exercises("07").values())


# --------------------------------------------------------------------------- freeze + new head

def freeze(model):
    for p in model.parameters():
        p.requires_grad = False


def test_head_not_frozen(assert_fails):
    def answer(num_classes):
        model = efficientnet_lite0()
        model.classifier = nn.Linear(1280, num_classes)
        return model
    assert_fails("freeze_and_replace_head", answer, "nothing frozen")


def test_head_frozen_after_replacing(assert_fails):
    def answer(num_classes):
        model = efficientnet_lite0()
        model.classifier = nn.Linear(1280, num_classes)
        freeze(model)
        return model
    assert_fails("freeze_and_replace_head", answer, "new head frozen too")


def test_head_not_replaced(assert_fails):
    def answer(num_classes):
        model = efficientnet_lite0()
        freeze(model)
        model.classifier.requires_grad_(True)
        return model
    assert_fails("freeze_and_replace_head", answer, "head not replaced")


def test_head_with_an_extra_trainable_layer(assert_fails):
    def answer(num_classes):
        model = efficientnet_lite0()
        freeze(model)
        model.features.head.requires_grad_(True)        # the last conv left trainable
        model.classifier = nn.Linear(1280, num_classes)
        return model
    assert_fails("freeze_and_replace_head", answer, "more than the head learns")


def test_head_answer_that_is_not_a_module(assert_fails):
    assert_fails("freeze_and_replace_head", lambda num_classes: [1, 2, 3])


# --------------------------------------------------------------------------- partial freezing

def count_after(frozen_stages, num_classes, parts, count_all=False):
    model = efficientnet_lite0(num_classes=num_classes)
    for name in parts(frozen_stages):
        freeze(getattr(model.features, name))
    return sum(p.numel() for p in model.parameters() if count_all or p.requires_grad)


def test_count_forgets_the_stem(assert_fails):
    answer = lambda frozen_stages, num_classes: count_after(          # noqa: E731
        frozen_stages, num_classes, lambda n: [f"stage{i}" for i in range(1, n + 1)])
    assert_fails("trainable_after_freezing", answer, "stem not frozen")


def test_count_one_stage_short(assert_fails):
    answer = lambda frozen_stages, num_classes: count_after(          # noqa: E731
        frozen_stages, num_classes, lambda n: ["stem"] + [f"stage{i}" for i in range(1, n)])
    assert_fails("trainable_after_freezing", answer, "one stage too few")


def test_count_every_parameter(assert_fails):
    answer = lambda frozen_stages, num_classes: count_after(          # noqa: E731
        frozen_stages, num_classes, lambda n: ["stem"] + [f"stage{i}" for i in range(1, n + 1)], count_all=True)
    assert_fails("trainable_after_freezing", answer, "every parameter counted")


# --------------------------------------------------------------------------- fine-tuning optimizer

def split(num_classes):
    model = efficientnet_lite0(num_classes=num_classes)
    head = list(model.classifier.parameters())
    ids = {id(p) for p in head}
    return [p for p in model.parameters() if id(p) not in ids], head


def test_optimizer_without_the_scale(assert_fails):
    def answer(num_classes, lr, backbone_lr_scale):
        backbone, head = split(num_classes)
        return torch.optim.Adam([{"params": backbone, "lr": lr}, {"params": head, "lr": lr}])
    assert_fails("finetune_optimizer", answer, "same rate for both groups")


def test_optimizer_with_swapped_rates(assert_fails):
    def answer(num_classes, lr, backbone_lr_scale):
        backbone, head = split(num_classes)
        return torch.optim.Adam([{"params": backbone, "lr": lr}, {"params": head, "lr": lr * backbone_lr_scale}])
    assert_fails("finetune_optimizer", answer, "rates swapped")


def test_optimizer_over_the_head_only(assert_fails):
    def answer(num_classes, lr, backbone_lr_scale):
        return torch.optim.Adam(split(num_classes)[1], lr=lr)
    assert_fails("finetune_optimizer", answer, "only the head in the optimizer")


def test_optimizer_with_one_group(assert_fails):
    def answer(num_classes, lr, backbone_lr_scale):
        return torch.optim.Adam(efficientnet_lite0(num_classes=num_classes).parameters(), lr=lr * backbone_lr_scale)
    assert_fails("finetune_optimizer", answer, "one group for everything")


def test_optimizer_missing_part_of_the_backbone(assert_passes, assert_fails):
    def answer(num_classes, lr, backbone_lr_scale):
        model = efficientnet_lite0(num_classes=num_classes)
        return torch.optim.Adam([{"params": model.features.parameters(), "lr": lr * backbone_lr_scale},
                                 {"params": model.classifier.parameters(), "lr": lr}])
    assert_passes("finetune_optimizer", answer)          # pool and dropout have no parameters: this is complete

    def partial(num_classes, lr, backbone_lr_scale):
        model = efficientnet_lite0(num_classes=num_classes)
        return torch.optim.Adam([{"params": model.features.stage7.parameters(), "lr": lr * backbone_lr_scale},
                                 {"params": model.classifier.parameters(), "lr": lr}])
    assert_fails("finetune_optimizer", partial, "part of the model missing")


def test_optimizer_with_the_head_twice_raises_in_torch():
    def answer(num_classes, lr, backbone_lr_scale):
        model = efficientnet_lite0(num_classes=num_classes)
        return torch.optim.Adam([{"params": model.parameters(), "lr": lr * backbone_lr_scale},
                                 {"params": model.classifier.parameters(), "lr": lr}])
    result = run_exercise(get("finetune_optimizer"), answer)
    assert result.status == "error" and "more than one parameter group" in result.message
