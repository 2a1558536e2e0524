"""The training loop: fit, evaluate, predict, one gradient step, seeding, devices, checkpoints. Lessons 04-07.

One ``fit`` serves every lesson: it trains any ``nn.Module`` classifier with cross-entropy,
shows a progress bar (a widget in Jupyter, text in a terminal), can draw the loss and
accuracy curves live in a notebook, and returns a ``History`` of per-epoch numbers. What it
does is a ``FitConfig`` (a frozen dataclass: epochs, learning rate, optimizer, schedule,
augmentation, time budget, precision); ``fit`` also takes any of its fields by name.

Where the rest of training lives: optimizers and learning-rate schedules in ``cnnlab.optim``,
augmentation in ``cnnlab.augment``, mini-batches and the validation split in
``cnnlab.batches``, the tuned recipes of ``cnnlab train`` in ``cnnlab.recipes``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.augment import Augment
from cnnlab.batches import TensorBatches
from cnnlab.common import evaluating
from cnnlab.optim import OPTIMIZERS, SCHEDULERS, Params, lr_factor, make_optimizer

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


# --------------------------------------------------------------------------- device and seeds

def pick_device(prefer: str | None = None) -> torch.device:
    """The fastest device here: CUDA, then Apple's MPS, then the CPU. Lesson 04.

    Args:
        prefer: force a device ("cpu", "cuda", "mps"); None picks automatically.
    """
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so a run can be repeated. Lesson 04."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)          # also seeds CUDA and MPS


def _as_batches(data: Batches | torch.Tensor, batch_size: int = 512) -> Batches:
    """A loader as it is; a tensor of inputs (N, C, H, W) becomes label-free batches."""
    if isinstance(data, torch.Tensor):
        return TensorBatches(data, torch.zeros(len(data), dtype=torch.long), batch_size)
    return data


# --------------------------------------------------------------------------- history

@dataclass
class History:
    """Record of a ``fit`` run: lists of equal length, one row per evaluation. Lesson 04.

    A row is written at the end of every epoch, or ``evals_per_epoch`` times per epoch (see
    ``FitConfig``); ``epoch`` counts the epochs done at that point (2.25: a quarter into the
    third), and the training loss and accuracy of a row are those of the batches since the row
    before. ``val_loss`` and ``val_acc`` hold NaN when no validation data was given; ``seconds``
    is the time since the start of training; ``lr`` the learning rate at the row.
    ``stopped_early`` says the time budget (``max_seconds``) ended the run before its epochs did.
    """

    epoch: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    images: int = 0
    stopped_early: bool = False

    def __len__(self) -> int:
        return len(self.epoch)

    def append(self, **row: float) -> None:
        for key, value in row.items():
            getattr(self, key).append(float(value))

    @property
    def images_per_second(self) -> float:
        """Training throughput over the whole run (validation time included in the clock)."""
        return self.images / self.seconds[-1] if self.seconds and self.seconds[-1] > 0 else 0.0

    def as_dict(self) -> dict:
        return asdict(self)

    def __repr__(self) -> str:
        if not self.epoch:
            return "History(empty)"
        last = f"train loss {self.train_loss[-1]:.4f} acc {self.train_acc[-1]:.4f}"
        if not math.isnan(self.val_acc[-1]):
            last += f", val loss {self.val_loss[-1]:.4f} acc {self.val_acc[-1]:.4f}"
        length = f"{round(self.epoch[-1], 2):g} epochs" + (", stopped by its time budget" if self.stopped_early else "")
        return f"History({length}, {self.seconds[-1]:.1f} s; last: {last})"


# --------------------------------------------------------------------------- evaluate / predict

def _model_device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def _prepare(x: torch.Tensor, device: torch.device, channels_last: bool,
             augment: Augment | None = None) -> torch.Tensor:
    """Move a batch to ``device``, augment it there, then lay it out NHWC if asked."""
    x = x.to(device, non_blocking=True)
    if augment is not None:
        x = augment(x)
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.dim() == 4 else x


def _autocast(device: torch.device, amp: bool):
    """bfloat16 mixed precision on CPU and GPU when ``amp`` (bf16 keeps float32's range: no loss scaling)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and device.type in ("cpu", "cuda"))


@torch.no_grad()
def evaluate(model: nn.Module, loader: Batches, device: torch.device | None = None,
             amp: bool = False, channels_last: bool = False, flips: bool = False) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` over ``loader``. Lesson 04.

    Args:
        model: a classifier returning logits (N, K).
        loader: batches of (images (N, C, H, W), labels (N,)).
        device: where to run (default: where the model is).
        flips: test-time augmentation (lesson 05): average the class probabilities of each
            image and its mirror image, for a model trained with ``random_hflip``.

    Returns:
        (loss, accuracy), averaged over all images.
    """
    device = device or _model_device(model)
    total_loss, correct, count = 0.0, 0, 0
    with evaluating(model):
        for x, y in loader:
            x, y = _prepare(x, device, channels_last), y.to(device)
            with _autocast(device, amp):
                logits = model(x).float()                                # (N, K)
                if flips:
                    probs = (logits.softmax(1) + model(x.flip(-1)).float().softmax(1)) / 2
                    logits = probs.log()                                 # (N, K) log of the mean
            total_loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            count += len(y)
    if count == 0:
        raise ValueError("evaluate: the loader yielded no images")
    return total_loss / count, correct / count


@torch.no_grad()
def predict(model: nn.Module, data: Batches | torch.Tensor, device: torch.device | None = None,
            batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted classes and class probabilities. Lesson 04.

    Args:
        model: a classifier returning logits (N, K).
        data: a loader of (images, labels) batches, or a tensor of images (N, C, H, W).
        device: where to run (default: where the model is).
        batch_size: batch size used when ``data`` is a tensor.

    Returns:
        (preds (N,) int64, probs (N, K) float32), on the CPU.
    """
    if isinstance(data, torch.Tensor) and data.dim() != 4:
        raise ValueError(f"predict: expected images (N, C, H, W), got shape {tuple(data.shape)}")
    device = device or _model_device(model)
    probs = []
    with evaluating(model):
        for x, _ in _as_batches(data, batch_size):
            logits = model(x.to(device))                                 # (N, K)
            probs.append(logits.float().softmax(1).cpu())
    probs = torch.cat(probs)                                             # (N, K)
    return probs.argmax(1), probs


# --------------------------------------------------------------------------- fit

def train_step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               amp: bool = False, label_smoothing: float = 0.0) -> tuple[float, int]:
    """One gradient step: forward, cross-entropy, backward, update. Lesson 04.

    Args:
        model: a classifier in training mode.
        opt: its optimizer.
        x: images (N, C, H, W), already on the model's device.
        y: labels (N,).

    Returns:
        (mean loss of the batch, number of correct predictions).
    """
    with _autocast(x.device, amp):
        logits = model(x)                                                # (N, K)
    loss = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item(), (logits.argmax(1) == y).sum().item()


@dataclass(frozen=True)
class FitConfig:
    """What ``fit`` does: how long, how fast, with which optimizer, schedule and augmentation. Lesson 04.

    Attributes:
        epochs: number of passes over the training batches (an upper bound when ``max_seconds`` is set).
        lr: (peak) learning rate; Adam ≈ 1e-3, SGD with momentum ≈ 1e-2 to 1e-1. Parameter
            groups that set their own ``"lr"`` keep it, scaled by the same schedule.
        optimizer: "adam", "adamw" or "sgd" (Nesterov momentum).
        momentum: SGD momentum.
        weight_decay: L2 penalty (decoupled for "adamw").
        scheduler: None (constant), "onecycle", "cosine", or "plateau" (divide lr by 10 when the
            validation loss, or the training loss without validation data, has not improved for
            ``patience`` epochs).
        warmup: share of the run spent warming up in "onecycle".
        patience: epochs without improvement before "plateau" lowers the rate.
        label_smoothing: cross-entropy label smoothing (0 = off).
        augment: function applied to each training batch of images (N, C, H, W), e.g.
            ``cnnlab.augment.random_hflip``.
        max_seconds: time budget; training stops when it is spent (the schedule anneals to it).
        amp: bfloat16 mixed precision (faster on recent CPUs and GPUs).
        channels_last: NHWC memory layout (often faster for convs on CPU).
        evals_per_epoch: rows of the ``History`` per epoch, each with a validation pass: more
            points on the learning curves of a short run.
    """

    epochs: int = 10
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    scheduler: str | None = None
    warmup: float = 0.25
    patience: int = 2
    label_smoothing: float = 0.0
    augment: Augment | None = None
    max_seconds: float | None = None
    amp: bool = False
    channels_last: bool = False
    evals_per_epoch: int = 1

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"FitConfig: epochs must be at least 1, got {self.epochs}")
        if self.lr <= 0:
            raise ValueError(f"FitConfig: lr must be positive, got {self.lr}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"FitConfig: unknown optimizer {self.optimizer!r}; choose one of {OPTIMIZERS}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"FitConfig: unknown scheduler {self.scheduler!r}; choose one of {SCHEDULERS}")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError(f"FitConfig: max_seconds must be positive, got {self.max_seconds}")
        if self.evals_per_epoch < 1:
            raise ValueError(f"FitConfig: evals_per_epoch must be at least 1, got {self.evals_per_epoch}")

    def replace(self, **changes) -> "FitConfig":
        """A copy with some fields changed; an unknown name is an error that lists the fields."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise TypeError(f"FitConfig has no field {', '.join(map(repr, unknown))}; its fields are "
                            f"{', '.join(sorted(names))}")
        return dataclasses.replace(self, **changes)


def fit(model: nn.Module, train: Batches, val: Batches | None = None, config: FitConfig | None = None, *,
        params: Params | None = None, device: torch.device | str | None = None, progress: bool = True,
        live_plot: bool = False, desc: str = "fit", **options) -> History:
    """Train ``model`` with cross-entropy and return its per-epoch ``History``. Lesson 04.

    Args:
        model: a classifier returning logits (N, K); moved to ``device``.
        train: batches of (images (N, C, H, W), labels (N,)), e.g. a DataLoader or TensorBatches.
        val: validation batches, evaluated after every epoch (optional).
        config: what to do (``FitConfig``; default: its defaults).
        params: what the optimizer updates: None for every parameter of ``model``, or
            parameter groups with their own learning rates (lesson 07's fine-tuning).
        device: where to train; None picks CUDA > MPS > CPU (``pick_device``).
        progress: show a progress bar (a widget in Jupyter, text in a terminal).
        live_plot: redraw the loss/accuracy curves after every epoch (Jupyter only).
        desc: the progress bar's label: say what is trained when several runs follow each other.
        **options: fields of ``FitConfig`` that replace the config's, e.g. ``epochs=3, lr=1e-2``.

    Returns:
        The History (train/val loss and accuracy, seconds and lr per epoch).
    """
    config = (config or FitConfig()).replace(**options)
    from tqdm.auto import tqdm

    device = pick_device() if device is None else torch.device(device)
    model.to(device)
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model.parameters() if params is None else params, config.optimizer, config.lr,
                         config.momentum, config.weight_decay)
    base_lrs = [group["lr"] for group in opt.param_groups]
    plateau = (torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.1, patience=config.patience)
               if config.scheduler == "plateau" else None)
    steps_per_epoch = len(train)
    total_steps = config.epochs * steps_per_epoch
    # the steps of an epoch after which a row is written (the last one always)
    rows_at = {max(1, round(steps_per_epoch * (k + 1) / config.evals_per_epoch)) for k in range(config.evals_per_epoch)}
    history = History()
    live = _live_plot() if live_plot else None
    bar = tqdm(total=total_steps, desc=desc, unit="batch", disable=not progress)

    start = time.perf_counter()
    step = 0
    for epoch in range(config.epochs):
        model.train()
        loss_sum, correct, count, epoch_steps = 0.0, 0, 0, 0
        for x, y in train:
            done = step / max(total_steps - 1, 1)        # the last step runs at the final rate
            if config.max_seconds is not None:
                used = (time.perf_counter() - start) / config.max_seconds
                if used >= 1.0:
                    history.stopped_early = True
                    break
                done = max(done, used)
            if plateau is None:
                factor = lr_factor(config.scheduler, done, config.warmup)
                for group, base in zip(opt.param_groups, base_lrs):
                    group["lr"] = base * factor

            x = _prepare(x, device, config.channels_last, config.augment)
            y = y.to(device, non_blocking=True)
            loss, right = train_step(model, opt, x, y, config.amp, config.label_smoothing)
            loss_sum, correct, count = loss_sum + loss * len(y), correct + right, count + len(y)
            step, epoch_steps = step + 1, epoch_steps + 1
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss_sum / count:.3f}", acc=f"{correct / count:.3f}",
                            refresh=False)
            if epoch_steps in rows_at and epoch_steps < steps_per_epoch:
                _write_row(history, model, val, config, device, bar, live, epoch + epoch_steps / steps_per_epoch,
                           loss_sum / count, correct / count, count, opt, start)
                loss_sum, correct, count = 0.0, 0, 0
        if count == 0:                           # the budget ran out before this epoch (or row) began
            break
        val_loss = _write_row(history, model, val, config, device, bar, live, epoch + epoch_steps / steps_per_epoch,
                              loss_sum / count, correct / count, count, opt, start)
        if plateau is not None:
            plateau.step(val_loss if val is not None else loss_sum / count)
        if history.stopped_early:
            break
    if history.stopped_early:
        _show_budget_stop(bar, config.max_seconds, history)
    bar.close()
    return history


def _write_row(history: History, model: nn.Module, val: Batches | None, config: FitConfig, device: torch.device,
               bar, live, epoch: float, train_loss: float, train_acc: float, images: int,
               opt: torch.optim.Optimizer, start: float) -> float:
    """Evaluate on ``val`` (if any), append one row to ``history`` and show it; return the validation loss."""
    val_loss, val_acc = (evaluate(model, val, device, config.amp, config.channels_last) if val is not None
                         else (math.nan,) * 2)
    history.images += images
    history.append(epoch=epoch, train_loss=train_loss, train_acc=train_acc, val_loss=val_loss, val_acc=val_acc,
                   seconds=time.perf_counter() - start, lr=opt.param_groups[0]["lr"])
    if val is not None:
        bar.set_postfix(epoch=math.ceil(epoch), loss=f"{train_loss:.3f}", acc=f"{train_acc:.3f}",
                        val_acc=f"{val_acc:.3f}")
    if live is not None:
        live.update(history)
    return val_loss


def _show_budget_stop(bar, max_seconds: float, history: History) -> None:
    """A run that its time budget ended is finished, not failed: fill the bar and say why it stopped.

    (Closed short of its total, a progress bar turns red in Jupyter, the look of an error.)
    """
    if bar.disable:
        return
    bar.total = bar.n
    container = getattr(bar, "container", None)         # tqdm's Jupyter widget keeps its own maximum
    if container is not None:
        container.children[1].max = bar.n
    done = f" after {history.epoch[-1]:.2f} epochs" if len(history) else ""
    bar.set_description(f"{bar.desc}: stopped at the {max_seconds:g} s budget{done}")


def _live_plot():
    from cnnlab.viz.live import LivePlot   # matplotlib only when the curves are drawn

    return LivePlot(enabled=True)


# --------------------------------------------------------------------------- checkpoints

def save_checkpoint(path: str | os.PathLike, model: nn.Module, history: History | None = None,
                    **extra: object) -> Path:
    """Save the model's weights, its History and any plain extra values (numbers, strings). Lesson 04.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"model": model.state_dict(), "history": history.as_dict() if history is not None else None,
             "extra": extra}
    torch.save(state, path)
    return path


def load_checkpoint(path: str | os.PathLike, model: nn.Module) -> dict:
    """Load weights saved by ``save_checkpoint`` into ``model`` (on the CPU first). Lesson 04.

    Only tensors and plain values are read back (``weights_only``), never arbitrary objects.

    Returns:
        {"history": History or None, "extra": dict of the extra values}.
    """
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    history = History(**state["history"]) if state["history"] is not None else None
    return {"history": history, "extra": state["extra"]}
