"""Lesson 09's experiments: CNNs beyond classification and beyond photos.

- ``stamp_counts``: how many kernel stamps of a transposed convolution land on each output
  pixel, the source of checkerboard artefacts.
- ``train_steps``: a small training loop for any loss (segmentation and detection are not
  one label per image, so ``cnnlab.train.fit`` does not fit them).
- ``train_segmenter`` / ``segmentation_scores``: the small U-Net on Fashion-MNIST scenes,
  scored by IoU per class and mean IoU on held-out scenes.
- ``train_detector`` / ``detection_scores``: the tiny single-shot detector on the same scenes,
  scored by precision–recall and mAP@0.5.
- ``spectrogram_tensors``, ``train_spectrogram_cnn``, ``shift_accuracy``: spoken words as
  images, and what a shift in time or in frequency does to the classifier.
- ``position_task`` / ``position_experiment``: the same patch at two places, the class being
  the place: zero padding lets a CNN tell them apart, circular padding cannot (Kayhan & van
  Gemert, CVPR 2020).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.boxes import DetectionScores, mean_average_precision
from cnnlab.data import SCENE_CLASSES, Scenes, SpokenWords
from cnnlab.experiments.ch04 import shift_images
from cnnlab.layers import conv_transpose2d_forward
from cnnlab.models.detection import Detections, TinySSD, detect, detection_loss, detection_targets, tiny_ssd
from cnnlab.models.global_pool import global_pool_cnn
from cnnlab.models.segmentation import small_unet
from cnnlab.segmentation import iou_per_class, pixel_accuracy
from cnnlab.batches import TensorBatches
from cnnlab.optim import lr_factor
from cnnlab.train import evaluate, fit, set_seed
from cnnlab.variants import Comparison, compare_variants


# --------------------------------------------------------------------------- transposed convolution

def stamp_counts(size: int, kernel_size: int, stride: int, padding: int = 0) -> np.ndarray:
    """How many kernel stamps cover each output pixel of a transposed convolution. Lesson 09.

    A transposed convolution of an all-ones image with an all-ones kernel adds 1 wherever a
    stamp lands, so its output counts the stamps. When the kernel size is not a multiple of
    the stride, neighbouring pixels get different counts: a pattern that the learned weights
    must cancel exactly, and that shows up as a checkerboard when they do not.

    Args:
        size: input side; kernel_size, stride, padding: of the transposed convolution.

    Returns:
        (OH, OW) counts.
    """
    out, _ = conv_transpose2d_forward(np.ones((1, 1, size, size)), np.ones((1, 1, kernel_size, kernel_size)),
                                      np.zeros(1), stride=stride, padding=padding)
    return out[0, 0]


def unevenness(counts: np.ndarray, margin: int) -> float:
    """Largest over smallest count away from the border (``margin`` pixels left out). Lesson 09."""
    inner = counts[margin:-margin, margin:-margin] if margin else counts
    return float(inner.max() / inner.min())


# --------------------------------------------------------------------------- a training loop for any loss

@dataclass
class TrainingRun:
    """What ``train_steps`` did: the model, its loss per step, and the time it took. Lesson 09."""

    model: nn.Module
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0                 # wall-clock training time
    cpu_seconds: float = 0.0             # CPU time of this process (what an idle machine would need, summed over cores)
    images: int = 0

    @property
    def steps(self) -> int:
        return len(self.losses)

    def smoothed_losses(self, window: int = 20) -> np.ndarray:
        """The loss averaged over ``window`` steps, for a readable curve.

        A short run (quick mode trains a handful of steps) is averaged over at most a quarter of
        its steps, so its curve still has points to read.
        """
        losses = np.asarray(self.losses, dtype=np.float64)
        window = max(1, min(window, len(losses) // 4))
        return np.convolve(losses, np.ones(window) / window, mode="valid")


Augment = Callable[[torch.Tensor, tuple[torch.Tensor, ...]], tuple[torch.Tensor, tuple[torch.Tensor, ...]]]


def train_steps(model: nn.Module, x: torch.Tensor, targets: Sequence[torch.Tensor],
                loss_fn: Callable[..., torch.Tensor], steps: int, batch_size: int = 32, lr: float = 3e-3,
                max_seconds: float | None = None, augment: Augment | None = None, seed: int = 0,
                amp: bool = True, channels_last: bool = True) -> TrainingRun:
    """Adam with a one-cycle learning rate for ``steps`` mini-batches, or until ``max_seconds``. Lesson 09.

    Like ``cnnlab.train.fit``, the schedule follows whichever is further along, the steps or
    the time budget, so a slow machine still ends its run annealed.

    Args:
        model: the network; trained in place on the CPU.
        x: inputs (N, ...); targets: tensors with N rows, sliced along with x.
        loss_fn: ``loss_fn(model(x_batch), *target_batches)`` -> scalar loss.
        steps: mini-batches to train on (an upper bound when ``max_seconds`` is set).
        batch_size: examples per step, drawn without replacement, reshuffled every pass.
        lr: peak learning rate.
        max_seconds: wall-clock budget.
        augment: ``(x_batch, target_batches) -> (x_batch, target_batches)`` applied to each batch.
        seed: the data order (and the augmentation's coin flips).
        amp: run the forward pass in bfloat16 (the loss in float32), as ``cnnlab.train.fit`` does.
        channels_last: NHWC memory layout, faster for convolutions on a CPU.

    Returns:
        A ``TrainingRun``.
    """
    if steps < 1:
        raise ValueError(f"train_steps: steps must be at least 1, got {steps}")
    targets = tuple(targets)
    if any(len(t) != len(x) for t in targets):
        raise ValueError(f"train_steps: x has {len(x)} rows but the targets have {[len(t) for t in targets]}")
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    run = TrainingRun(model)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    model.train()
    start, cpu_start = time.perf_counter(), time.process_time()
    order = torch.randperm(len(x), generator=generator)
    position = 0
    for step in range(steps):
        used = (time.perf_counter() - start) / max_seconds if max_seconds else 0.0
        if used >= 1.0:
            break
        for group in opt.param_groups:
            group["lr"] = lr * lr_factor("onecycle", max(step / steps, used))
        if position + batch_size > len(x):                        # a new pass over the data
            order, position = torch.randperm(len(x), generator=generator), 0
        index = order[position:position + batch_size]
        position += batch_size
        xb, tb = x[index], tuple(t[index] for t in targets)
        if augment is not None:
            xb, tb = augment(xb, tb)
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = model(xb)
        out = tuple(o.float() for o in out) if isinstance(out, tuple) else out.float()
        loss = loss_fn(out, *tb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run.losses.append(loss.item())
        run.images += len(index)
    run.seconds, run.cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    model.eval()
    return run


# --------------------------------------------------------------------------- segmentation

def scene_images(scenes: Scenes) -> torch.Tensor:
    """The scenes as a float tensor (N, 1, S, S) in [0, 1]. Lesson 09."""
    return torch.from_numpy(scenes.images).float().div_(255.0).unsqueeze(1)


def scene_masks(scenes: Scenes) -> torch.Tensor:
    """The scenes' masks as a long tensor (N, S, S): 0 background, 1 + class. Lesson 09."""
    return torch.from_numpy(scenes.masks).long()


def _mirror_masks(x: torch.Tensor, targets: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Mirror half the scenes left-right, each image with its mask (a mirrored garment is still one)."""
    (masks,) = targets
    flip = torch.rand(len(x)) < 0.5
    return (torch.where(flip[:, None, None, None], x.flip(-1), x),
            (torch.where(flip[:, None, None], masks.flip(-1), masks),))


def train_segmenter(scenes: Scenes, steps: int = 3000, max_seconds: float | None = None, batch_size: int = 32,
                    lr: float = 3e-3, seed: int = 0, **model_options) -> TrainingRun:
    """Train a ``SmallUNet`` with per-pixel cross-entropy on ``scenes`` (mirrored at random). Lesson 09.

    Args:
        scenes: training scenes.
        steps, max_seconds, batch_size, lr, seed: as in ``train_steps``.
        **model_options: passed to ``small_unet`` (widths, dilations, skips, ...).

    Returns:
        The ``TrainingRun``; its ``model`` is the trained ``SmallUNet``.
    """
    set_seed(seed)
    model = small_unet(num_classes=len(SCENE_CLASSES), **model_options)
    return train_steps(model, scene_images(scenes), (scene_masks(scenes),), F.cross_entropy, steps, batch_size, lr,
                       max_seconds, augment=_mirror_masks, seed=seed)


@torch.no_grad()
def segment(model: nn.Module, images: torch.Tensor, batch_size: int = 200) -> np.ndarray:
    """The class of every pixel: argmax of the scores, (N, 1, S, S) -> (N, S, S) int64. Lesson 09."""
    model.eval()
    return torch.cat([model(images[i:i + batch_size]).argmax(dim=1) for i in range(0, len(images), batch_size)]).numpy()


@dataclass
class SegmentationScores:
    """IoU of each class on a set of scenes, their mean, and the predictions. Lesson 09."""

    iou: np.ndarray                      # (K,) per class of SCENE_CLASSES, background first
    predictions: np.ndarray              # (N, S, S)
    pixel_accuracy: float

    @property
    def mean_iou(self) -> float:
        """Mean over all classes, background included (as PASCAL VOC reports it)."""
        return float(np.nanmean(self.iou))

    @property
    def object_mean_iou(self) -> float:
        """Mean over the ten garment classes only, background left out."""
        return float(np.nanmean(self.iou[1:]))


def segmentation_scores(model: nn.Module, scenes: Scenes) -> SegmentationScores:
    """Segment ``scenes`` and score the result against their masks. Lesson 09."""
    predictions = segment(model, scene_images(scenes))
    return SegmentationScores(iou_per_class(predictions, scenes.masks, len(SCENE_CLASSES)), predictions,
                              pixel_accuracy(predictions, scenes.masks))


# --------------------------------------------------------------------------- detection

def _mirror_targets(x: torch.Tensor, targets: tuple[torch.Tensor, ...],
                    grid: int, per_anchor: int) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Mirror half the scenes left-right, with their anchor targets.

    The anchor grid is symmetric: mirroring the image moves the target of cell (row, column)
    to (row, grid − 1 − column), and flips the sign of its horizontal shift Δx.
    """
    classes, offsets = targets
    flip = torch.rand(len(x)) < 0.5
    n = len(x)
    mirrored_classes = classes.view(n, grid, grid, per_anchor).flip(2).reshape(n, -1)
    mirrored_offsets = offsets.view(n, grid, grid, per_anchor, 4).flip(2).reshape(n, -1, 4).clone()
    mirrored_offsets[..., 0] *= -1
    return (torch.where(flip[:, None, None, None], x.flip(-1), x),
            (torch.where(flip[:, None], mirrored_classes, classes),
             torch.where(flip[:, None, None], mirrored_offsets, offsets)))


def train_detector(scenes: Scenes, steps: int = 3000, max_seconds: float | None = None, batch_size: int = 32,
                   lr: float = 3e-3, seed: int = 0, **model_options) -> TrainingRun:
    """Train a ``TinySSD`` on ``scenes``: anchor targets once, then SSD's loss (mirrored at random). Lesson 09.

    Args:
        scenes: training scenes.
        steps, max_seconds, batch_size, lr, seed: as in ``train_steps``.
        **model_options: passed to ``tiny_ssd`` (widths, anchor_sizes, anchor_ratios).

    Returns:
        The ``TrainingRun``; its ``model`` is the trained ``TinySSD``.
    """
    set_seed(seed)
    size = scenes.images.shape[-1]
    model = tiny_ssd(num_classes=len(SCENE_CLASSES) - 1, image_size=size, **model_options)
    classes, offsets = detection_targets(model.anchors, scenes.boxes, scenes.labels)   # (N, P), (N, P, 4)
    grid = size // model.stride

    def mirror(x, targets):
        return _mirror_targets(x, targets, grid, model.per_anchor)

    def loss(outputs, target_classes, target_offsets):
        return detection_loss(*outputs, target_classes, target_offsets)

    return train_steps(model, scene_images(scenes), (classes, offsets), loss, steps, batch_size, lr, max_seconds,
                       augment=mirror, seed=seed)


def detection_scores(model: TinySSD, scenes: Scenes, iou_threshold: float = 0.5) -> tuple[DetectionScores,
                                                                                         list[Detections]]:
    """Detect the objects of ``scenes`` and score them: mAP at ``iou_threshold``, AP and curve per class. Lesson 09."""
    found = detect(model, scene_images(scenes))
    scores = mean_average_precision([d.boxes for d in found], [d.scores for d in found], [d.labels for d in found],
                                    scenes.boxes, scenes.labels, iou_threshold)
    return scores, found


# --------------------------------------------------------------------------- sound as an image

FLOOR_DB = -80.0


def spectrogram_tensors(words: SpokenWords) -> tuple[torch.Tensor, torch.Tensor]:
    """Spectrograms as (N, 1, bands, frames) floats, 0 dB -> 1 and the −80 dB floor -> −1; labels (N,). Lesson 09."""
    x = torch.from_numpy(words.spectrograms).float().unsqueeze(1)
    return x / -FLOOR_DB * 2 + 1, torch.from_numpy(words.labels)


def shift_spectrograms(x: torch.Tensor, shift: int, axis: str) -> torch.Tensor:
    """Move spectrograms ``shift`` frames later ("time") or ``shift`` bands higher ("frequency"). Lesson 09.

    What moves out is lost and what comes in is silence (the −80 dB floor); row 0 is the
    lowest band, so a positive frequency shift raises every component.
    """
    if axis not in ("time", "frequency"):
        raise ValueError(f"shift_spectrograms: axis must be 'time' or 'frequency', got {axis!r}")
    silence = -1.0
    return shift_images(x, dx=shift, fill=silence) if axis == "time" else shift_images(x, dy=shift, fill=silence)


def shift_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, shifts: Sequence[int], axis: str) -> np.ndarray:
    """Test accuracy after every spectrogram moves by each shift along ``axis``. Lesson 09."""
    return np.array([evaluate(model, TensorBatches(shift_spectrograms(x, k, axis), y, 500))[1] for k in shifts])


def train_spectrogram_cnn(train: SpokenWords, test: SpokenWords | None = None, epochs: int = 30,
                          max_seconds: float | None = None, seed: int = 0, progress: bool = False):
    """Train ``SpectrogramCNN`` on the spoken words with ``cnnlab.train.fit``. Lesson 09.

    Returns:
        (model, History).
    """
    from cnnlab.models.audio import spectrogram_cnn

    set_seed(seed)
    x, y = spectrogram_tensors(train)
    model = spectrogram_cnn(num_classes=len(train.words), n_mels=train.n_mels)
    val = TensorBatches(*spectrogram_tensors(test), 500) if test is not None else None
    history = fit(model, TensorBatches(x, y, 32, shuffle=True), val, epochs=epochs, lr=3e-3, scheduler="onecycle",
                  max_seconds=max_seconds, progress=progress, device="cpu")
    return model, history


# --------------------------------------------------------------------------- where translation invariance breaks

def position_task(n: int, split: str = "train", size: int = 32, patch: int = 12, margin: int = 2,
                  source: str = "auto", seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` patches, each shown twice: at the top left (class 0) and half the canvas lower and to the right (class 1). Lesson 09.

    A patch is a Fashion-MNIST item shrunk to ``patch``×``patch`` pixels on a black
    ``size``×``size`` canvas, ``margin`` pixels from the top-left corner or moved by
    (size/2, size/2) from there. The two images of a pair hold the identical patch: only its
    place tells the classes apart, and the second place is the first shifted circularly by
    half the canvas.

    Returns:
        images (2n, 1, size, size) in [0, 1], pairs next to each other, and labels (2n,).
    """
    from PIL import Image

    from cnnlab.data import load_fashion_mnist

    if size % 2 or margin + patch > size // 2:
        raise ValueError(f"position_task: need an even size with margin + patch <= size/2, got size {size}, "
                         f"patch {patch}, margin {margin}")
    images, _ = load_fashion_mnist(split, source)
    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    x = torch.zeros(2 * n, 1, size, size)
    for i, index in enumerate(rng.choice(len(images), n, replace=False)):
        item = np.asarray(Image.fromarray(images[index]).resize((patch, patch), Image.BILINEAR)) / 255.0
        for place, (top, left) in enumerate([(margin, margin), (margin + size // 2, margin + size // 2)]):
            x[2 * i + place, 0, top:top + patch, left:left + patch] = torch.from_numpy(item)
    return x, torch.arange(2 * n) % 2


def position_experiment(train: tuple[torch.Tensor, torch.Tensor], test: tuple[torch.Tensor, torch.Tensor],
                        epochs: int = 10, max_seconds: float | None = None, seed: int = 0,
                        progress: bool = False) -> Comparison:
    """Train the same global-pooling CNN with zero and with circular padding on ``position_task``. Lesson 09.

    Returns:
        A ``Comparison`` with the runs "zero padding" and "circular padding" (test accuracy in each).
    """
    variants = {"zero padding": lambda: global_pool_cnn(2, padding_mode="zeros"),
                "circular padding": lambda: global_pool_cnn(2, padding_mode="circular")}
    return compare_variants(variants, TensorBatches(*train, 32, shuffle=True), test=TensorBatches(*test, 500),
                            seed=seed, epochs=epochs, lr=3e-3, scheduler="onecycle", max_seconds=max_seconds,
                            progress=progress, device="cpu")


@torch.no_grad()
def pair_gap(model: nn.Module, x: torch.Tensor) -> float:
    """Largest difference between the logits of the two images of a pair (``position_task`` order). Lesson 09."""
    model.eval()
    logits = model(x)
    return float((logits[0::2] - logits[1::2]).abs().max())
