"""Lesson 09's experiments: stamp counts, the training loop, the mirrored targets, the position task and
the spectrogram shifts, on tiny budgets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnnlab import boxes, data
from cnnlab.experiments import ch09
from cnnlab.models import detection_targets, tiny_ssd


def test_stamp_counts():
    assert ch09.unevenness(ch09.stamp_counts(8, 3, 2), 2) == 4.0             # 1, 2 or 4 stamps
    assert ch09.unevenness(ch09.stamp_counts(8, 4, 2, padding=1), 2) == 1.0  # kernel a multiple of the stride
    assert ch09.stamp_counts(8, 2, 2).tolist() == np.ones((16, 16)).tolist()


def test_train_steps_learns_and_stops_on_time():
    torch.manual_seed(0)
    x = torch.randn(256, 4)
    y = (x[:, 0] > 0).long()
    model = nn.Linear(4, 2)
    run = ch09.train_steps(model, x, (y,), nn.functional.cross_entropy, steps=150, batch_size=32, lr=0.05,
                           amp=False, channels_last=False)
    assert run.steps == 150 and run.images == 150 * 32 and run.seconds > 0
    assert np.mean(run.losses[-20:]) < 0.5 * np.mean(run.losses[:5])
    assert not model.training
    quick = ch09.train_steps(nn.Linear(4, 2), x, (y,), nn.functional.cross_entropy, steps=10**6, max_seconds=0.2,
                             amp=False, channels_last=False)
    assert quick.steps < 10**6 and quick.seconds < 2
    assert len(run.smoothed_losses(20)) == 150 - 19
    short = ch09.TrainingRun(model)
    short.losses = [2.0, 1.8, 1.7, 1.5, 1.4, 1.2]                        # a quick-mode run: six steps
    assert len(short.smoothed_losses(20)) == 6                            # every step drawn, not one average
    with pytest.raises(ValueError, match="x has 256 rows but the targets have"):
        ch09.train_steps(model, x, (y[:10],), nn.functional.cross_entropy, steps=1)


@pytest.fixture(scope="module")
def scenes():
    return data.make_scenes(48, "train", "sample", seed=5)


def test_segmenter_and_detector_train_and_score(scenes):
    seg = ch09.train_segmenter(scenes, steps=3, batch_size=8)
    scores = ch09.segmentation_scores(seg.model, scenes[:10])
    assert scores.iou.shape == (11,) and scores.predictions.shape == (10, 64, 64)
    assert 0 <= scores.pixel_accuracy <= 1 and scores.mean_iou == pytest.approx(np.nanmean(scores.iou))
    det = ch09.train_detector(scenes, steps=3, batch_size=8)
    result, found = ch09.detection_scores(det.model, scenes[:10])
    assert len(found) == 10 and 0 <= result.map <= 1 and set(result.ap) <= set(range(10))


def test_mirrored_detection_targets_are_the_targets_of_the_mirrored_scene(scenes):
    model = tiny_ssd()
    classes, offsets = detection_targets(model.anchors, scenes.boxes, scenes.labels)
    torch.manual_seed(1)
    x = ch09.scene_images(scenes)
    flipped_x, (flipped_classes, flipped_offsets) = ch09._mirror_targets(x, (classes, offsets), 8, model.per_anchor)
    torch.manual_seed(1)
    flip = torch.rand(len(x)) < 0.5                                           # the same coin flips
    assert 0 < flip.sum() < len(x)
    for i in np.flatnonzero(flip.numpy()):
        b = scenes.boxes[i]
        mirrored = np.stack([64 - b[:, 2], b[:, 1], 64 - b[:, 0], b[:, 3]], axis=1)
        want_classes, want_offsets = boxes.match_anchors(model.anchors, mirrored, scenes.labels[i])
        assert torch.equal(flipped_x[i], x[i].flip(-1))
        # where several anchors tie for an object's best IoU, argmax takes the first, which mirroring
        # changes; everywhere else the targets agree exactly
        iou = boxes.box_iou(model.anchors, mirrored)                          # (anchors, objects)
        best = np.isclose(iou, iou.max(axis=0))
        ties = (best & (best.sum(axis=0) > 1)).any(axis=1)
        same = flipped_classes[i].numpy() == want_classes
        assert np.all(same | ties)
        agree = same & (want_classes > 0)
        np.testing.assert_allclose(flipped_offsets[i].numpy()[agree], want_offsets[agree], atol=1e-6)


def test_position_task_pairs_one_patch_at_two_places():
    x, y = ch09.position_task(6, "test", source="sample", seed=2)
    assert x.shape == (12, 1, 32, 32) and y.tolist() == [0, 1] * 6
    for i in range(6):
        assert torch.equal(torch.roll(x[2 * i], shifts=(16, 16), dims=(1, 2)), x[2 * i + 1])
        assert x[2 * i].sum() > 0
    assert not torch.equal(x[0], x[2])                                        # different patches
    with pytest.raises(ValueError, match="margin \\+ patch <= size/2"):
        ch09.position_task(2, size=20)


def test_circular_padding_cannot_tell_the_places_apart():
    x, y = ch09.position_task(16, "test", source="sample", seed=3)
    runs = ch09.position_experiment((x, y), (x, y), epochs=1)
    assert ch09.pair_gap(runs["circular padding"].model, x) < 1e-4
    assert runs["circular padding"].test_acc == pytest.approx(0.5, abs=0.0625)


def test_spectrogram_shifts():
    words = data.load_spoken_words("test")
    x, y = ch09.spectrogram_tensors(words)
    assert x.shape == (160, 1, 40, 63) and x.min() >= -1 and x.max() == 1 and y.dtype == torch.int64
    later = ch09.shift_spectrograms(x, 3, "time")
    assert torch.equal(later[..., 3:], x[..., :-3]) and torch.all(later[..., :3] == -1)
    higher = ch09.shift_spectrograms(x, 2, "frequency")
    assert torch.equal(higher[:, :, 2:], x[:, :, :-2]) and torch.all(higher[:, :, :2] == -1)
    with pytest.raises(ValueError, match="axis must be 'time' or 'frequency'"):
        ch09.shift_spectrograms(x, 1, "pitch")
