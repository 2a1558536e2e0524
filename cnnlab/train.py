"""Training loop, evaluation, prediction, seeding, device choice and augmentation. Lessons 04-07.

One ``fit`` serves every lesson: it trains any ``nn.Module`` classifier with cross-entropy,
shows a progress bar (a widget in Jupyter, text in a terminal), can draw the loss and
accuracy curves live in a notebook, and returns a ``History`` of per-epoch numbers.

Learning-rate schedules are written as a function of *progress*, the fraction of the
training run that is done (0 -> 1). Progress counts steps, or, when ``max_seconds`` is
given, the share of the time budget used, whichever is further along. So a one-cycle or
cosine schedule always finishes its annealing when the budget runs out, however fast or
slow the machine is.

The command line ``cnnlab train MODEL`` calls ``main``.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
Augment = Callable[[torch.Tensor], torch.Tensor]

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = (None, "onecycle", "cosine", "plateau")


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


# --------------------------------------------------------------------------- batches

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

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int = 128, shuffle: bool = False):
        if len(x) != len(y):
            raise ValueError(f"TensorBatches: {len(x)} inputs but {len(y)} labels (x {tuple(x.shape)}, y {tuple(y.shape)})")
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.x)) if self.shuffle else torch.arange(len(self.x))
        for start in range(0, len(self.x), self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.x[idx], self.y[idx]


def _as_batches(data: Batches | torch.Tensor, batch_size: int = 512) -> Batches:
    """A loader as it is; a tensor of inputs (N, C, H, W) becomes label-free batches."""
    if isinstance(data, torch.Tensor):
        return TensorBatches(data, torch.zeros(len(data), dtype=torch.long), batch_size)
    return data


# --------------------------------------------------------------------------- augmentation

def random_crop(x: torch.Tensor, padding: int = 2) -> torch.Tensor:
    """Shift every image by up to ``padding`` pixels in each direction (pad, then crop back). Lesson 05.

    The border is padded by repeating the edge pixels, so no artificial frame appears.

    Args:
        x: images (N, C, H, W).
        padding: largest shift in pixels.

    Returns:
        Shifted images (N, C, H, W), an independent random shift per image.
    """
    if x.dim() != 4:
        raise ValueError(f"random_crop: expected images (N, C, H, W), got shape {tuple(x.shape)}")
    if padding == 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (padding,) * 4, mode="replicate")                      # (N, C, H+2p, W+2p)
    dy = torch.randint(0, 2 * padding + 1, (n, 1), device=x.device)
    dx = torch.randint(0, 2 * padding + 1, (n, 1), device=x.device)
    rows = (dy + torch.arange(h, device=x.device))[:, None, :, None]        # (N, 1, H, 1)
    cols = (dx + torch.arange(w, device=x.device))[:, None, None, :]        # (N, 1, 1, W)
    batch = torch.arange(n, device=x.device)[:, None, None, None]           # (N, 1, 1, 1)
    channel = torch.arange(x.shape[1], device=x.device)[None, :, None, None]  # (1, C, 1, 1)
    return padded[batch, channel, rows, cols]                                # (N, C, H, W)


def random_hflip(x: torch.Tensor, p: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``. Lesson 05.

    Args:
        x: images (N, C, H, W).

    Returns:
        Images (N, C, H, W), some of them flipped.
    """
    if x.dim() != 4:
        raise ValueError(f"random_hflip: expected images (N, C, H, W), got shape {tuple(x.shape)}")
    flip = torch.rand(x.shape[0], device=x.device) < p                       # (N,)
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def compose(*augments: Augment) -> Augment:
    """Chain augmentations left to right: ``compose(random_crop, random_hflip)(x)``. Lesson 05."""
    def apply(x: torch.Tensor) -> torch.Tensor:
        for augment in augments:
            x = augment(x)
        return x
    apply.__name__ = " + ".join(getattr(augment, "__name__", "augment") for augment in augments)
    return apply


def standard_augment(padding: int = 2) -> Augment:
    """Shift by up to ``padding`` pixels, then flip half the images: the usual recipe for small images."""
    def shift(x: torch.Tensor) -> torch.Tensor:
        return random_crop(x, padding)
    shift.__name__ = f"random_crop(padding={padding})"
    return compose(shift, random_hflip)


# --------------------------------------------------------------------------- history

@dataclass
class History:
    """Per-epoch record of a ``fit`` run (lists of equal length, one entry per epoch). Lesson 04.

    ``val_loss`` and ``val_acc`` hold NaN when no validation data was given; ``seconds`` is
    the time since the start of training at the end of each epoch; ``lr`` the learning rate
    at the end of each epoch. ``stopped_early`` says the time budget ended the run.
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
        return f"History({len(self)} epochs, {self.seconds[-1]:.1f} s; last: {last})"


# --------------------------------------------------------------------------- schedules

def lr_factor(schedule: str | None, progress: float, warmup: float = 0.25, final: float = 1e-3) -> float:
    """Learning-rate multiplier at ``progress`` in [0, 1] of the run. Lesson 04.

    - None or "plateau": 1 (plateau reduces the rate from validation loss, between epochs).
    - "cosine": from 1 down to 0 along half a cosine.
    - "onecycle": warm up from ``final``·25 to 1 over the first ``warmup`` of the run, then
      anneal along a cosine down to ``final`` (Smith & Topin's one-cycle policy).
    """
    progress = min(max(progress, 0.0), 1.0)
    if schedule in (None, "plateau"):
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * progress))
    if schedule == "onecycle":
        start = 25 * final
        if progress < warmup:
            return start + (1 - start) * 0.5 * (1 - math.cos(math.pi * progress / warmup))
        t = (progress - warmup) / (1 - warmup)
        return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * t))
    raise ValueError(f"unknown scheduler {schedule!r}; choose one of {SCHEDULERS}")


def make_optimizer(model: nn.Module, name: str, lr: float, momentum: float = 0.9,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD with (Nesterov) momentum over ``model``'s parameters. Lesson 04."""
    params = model.parameters()
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                               nesterov=momentum > 0)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {OPTIMIZERS}")


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
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    for x, y in loader:
        x, y = _prepare(x, device, channels_last), y.to(device)
        with _autocast(device, amp):
            logits = model(x).float()                                    # (N, K)
            if flips:
                probs = (logits.softmax(1) + model(x.flip(-1)).float().softmax(1)) / 2
                logits = probs.log()                                     # (N, K) log of the mean
        total_loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        count += len(y)
    model.train(was_training)
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
    was_training = model.training
    model.eval()
    probs = []
    for x, _ in _as_batches(data, batch_size):
        logits = model(x.to(device))                                     # (N, K)
        probs.append(logits.float().softmax(1).cpu())
    model.train(was_training)
    probs = torch.cat(probs)                                             # (N, K)
    return probs.argmax(1), probs


# --------------------------------------------------------------------------- fit

class _LivePlot:
    """Redraws the learning curves under the progress bar in a notebook (does nothing elsewhere).

    The figure lives in one display area that is updated in place (an IPython display id), so
    the progress bar above it stays, which ``clear_output`` would wipe.
    """

    def __init__(self, enabled: bool):
        self.enabled = enabled and _in_notebook()
        self.handle = None

    def update(self, history: History) -> None:
        if not self.enabled:
            return
        import matplotlib.pyplot as plt
        from IPython.display import display

        from cnnlab.viz.training import plot_history

        fig = plot_history(history)
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
        plt.close(fig)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


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


def _check_fit_args(epochs: int, lr: float, optimizer: str, scheduler: str | None,
                    max_seconds: float | None) -> None:
    if epochs < 1:
        raise ValueError(f"fit: epochs must be at least 1, got {epochs}")
    if lr <= 0:
        raise ValueError(f"fit: lr must be positive, got {lr}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"fit: unknown optimizer {optimizer!r}; choose one of {OPTIMIZERS}")
    if scheduler not in SCHEDULERS:
        raise ValueError(f"fit: unknown scheduler {scheduler!r}; choose one of {SCHEDULERS}")
    if max_seconds is not None and max_seconds <= 0:
        raise ValueError(f"fit: max_seconds must be positive, got {max_seconds}")


def fit(model: nn.Module, train: Batches, val: Batches | None = None, epochs: int = 10, lr: float = 1e-3,
        optimizer: str = "adam", momentum: float = 0.9, weight_decay: float = 0.0,
        scheduler: str | None = None, warmup: float = 0.25, patience: int = 2, label_smoothing: float = 0.0,
        augment: Augment | None = None, device: torch.device | str | None = None, progress: bool = True,
        live_plot: bool = False, max_seconds: float | None = None, amp: bool = False,
        channels_last: bool = False, desc: str = "fit") -> History:
    """Train ``model`` with cross-entropy and return its per-epoch ``History``. Lesson 04.

    Args:
        model: a classifier returning logits (N, K); moved to ``device``.
        train: batches of (images (N, C, H, W), labels (N,)), e.g. a DataLoader or TensorBatches.
        val: validation batches, evaluated after every epoch (optional).
        epochs: number of passes over ``train`` (an upper bound when ``max_seconds`` is set).
        lr: (peak) learning rate; Adam ≈ 1e-3, SGD with momentum ≈ 1e-2 to 1e-1.
        optimizer: "adam", "adamw" or "sgd" (Nesterov momentum).
        momentum: SGD momentum.
        weight_decay: L2 penalty (decoupled for "adamw").
        scheduler: None (constant), "onecycle", "cosine", or "plateau" (divide lr by 10 when the
            validation loss, or the training loss without ``val``, has not improved for ``patience`` epochs).
        warmup: share of the run spent warming up in "onecycle".
        patience: epochs without improvement before "plateau" lowers the rate.
        label_smoothing: cross-entropy label smoothing (0 = off).
        augment: function applied to each training batch of images (N, C, H, W), e.g. ``random_hflip``.
        device: where to train; None picks CUDA > MPS > CPU (``pick_device``).
        progress: show a progress bar (a widget in Jupyter, text in a terminal).
        live_plot: redraw the loss/accuracy curves after every epoch (Jupyter only).
        max_seconds: time budget; training stops when it is spent (the schedule anneals to it).
        amp: bfloat16 mixed precision (faster on recent CPUs and GPUs).
        channels_last: NHWC memory layout (often faster for convs on CPU).
        desc: the progress bar's label: say what is trained when several runs follow each other.

    Returns:
        The History (train/val loss and accuracy, seconds and lr per epoch).
    """
    _check_fit_args(epochs, lr, optimizer, scheduler, max_seconds)
    from tqdm.auto import tqdm

    device = pick_device() if device is None else torch.device(device)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model, optimizer, lr, momentum, weight_decay)
    plateau = (torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.1, patience=patience)
               if scheduler == "plateau" else None)
    steps_per_epoch = len(train)
    total_steps = epochs * steps_per_epoch
    history = History()
    live = _LivePlot(live_plot)
    bar = tqdm(total=total_steps, desc=desc, unit="batch", disable=not progress)

    start = time.perf_counter()
    step = 0
    for epoch in range(epochs):
        model.train()
        loss_sum, correct, count, epoch_steps = 0.0, 0, 0, 0
        for x, y in train:
            done = step / max(total_steps - 1, 1)        # the last step runs at the final rate
            if max_seconds is not None:
                used = (time.perf_counter() - start) / max_seconds
                if used >= 1.0:
                    history.stopped_early = True
                    break
                done = max(done, used)
            if plateau is None:
                for group in opt.param_groups:
                    group["lr"] = lr * lr_factor(scheduler, done, warmup)

            x, y = _prepare(x, device, channels_last, augment), y.to(device, non_blocking=True)
            loss, right = train_step(model, opt, x, y, amp, label_smoothing)
            loss_sum, correct, count = loss_sum + loss * len(y), correct + right, count + len(y)
            step, epoch_steps = step + 1, epoch_steps + 1
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss_sum / count:.3f}", acc=f"{correct / count:.3f}",
                            refresh=False)
        if count == 0:                           # the budget ran out before this epoch began
            break

        val_loss, val_acc = evaluate(model, val, device, amp, channels_last) if val is not None else (math.nan,) * 2
        if plateau is not None:
            plateau.step(val_loss if val is not None else loss_sum / count)
        history.images += count
        history.append(epoch=epoch + epoch_steps / steps_per_epoch, train_loss=loss_sum / count,
                       train_acc=correct / count, val_loss=val_loss, val_acc=val_acc,
                       seconds=time.perf_counter() - start, lr=opt.param_groups[0]["lr"])
        if val is not None:
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss_sum / count:.3f}", acc=f"{correct / count:.3f}",
                            val_acc=f"{val_acc:.3f}")
        live.update(history)
        if history.stopped_early:
            break
    bar.close()
    return history


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


# --------------------------------------------------------------------------- recipes and command line

@dataclass(frozen=True)
class Recipe:
    """How to train one of the course's Fashion-MNIST models: the settings ``bench/bench_models.py``
    tuned on two CPU cores, used by ``cnnlab train`` too. Lessons 04-06."""

    build: Callable[[], nn.Module]
    epochs: int
    batch_size: int
    lr: float
    optimizer: str = "adam"
    scheduler: str | None = "onecycle"
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    augment: Augment | None = None
    max_seconds: float | None = None
    amp: bool = False
    channels_last: bool = False
    test_flips: bool = False        # test on each image and its mirror (for recipes that train with flips)

    def fit(self, model: nn.Module, train: Batches, val: Batches | None = None, **overrides) -> History:
        """``fit`` with this recipe's settings; keyword arguments of ``fit`` override them."""
        options = dict(epochs=self.epochs, lr=self.lr, optimizer=self.optimizer, scheduler=self.scheduler,
                       weight_decay=self.weight_decay, label_smoothing=self.label_smoothing,
                       augment=self.augment, max_seconds=self.max_seconds, amp=self.amp,
                       channels_last=self.channels_last)
        return fit(model, train, val, **{**options, **overrides})

    def evaluate(self, model: nn.Module, loader: Batches) -> tuple[float, float]:
        """``evaluate`` with this recipe's precision, memory layout and test-time flips."""
        return evaluate(model, loader, amp=self.amp, channels_last=self.channels_last, flips=self.test_flips)

    def describe(self) -> str:
        """The settings in words, e.g. for a lesson to print next to its results."""
        optimizers = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD with Nesterov momentum 0.9"}
        schedules = {None: "a constant learning rate", "plateau": "a learning rate cut when progress stalls",
                     "cosine": "a cosine schedule", "onecycle": "a one-cycle schedule (warm up, then anneal)"}
        parts = [f"{optimizers.get(self.optimizer, self.optimizer)}, peak learning rate {self.lr:g}",
                 schedules.get(self.scheduler, str(self.scheduler)), f"batches of {self.batch_size}"]
        if self.weight_decay:
            parts.append(f"weight decay {self.weight_decay:g}")
        if self.label_smoothing:
            parts.append(f"label smoothing {self.label_smoothing:g}")
        parts.append("augmentation: " + getattr(self.augment, "__name__", "yes") if self.augment else
                     "no augmentation")
        length = f"{self.epochs} epochs"
        if self.max_seconds is not None:
            length = f"at most {length} or {self.max_seconds:g} s of training, whichever comes first"
        parts.append(length)
        if self.amp:
            parts.append("bfloat16 mixed precision")
        if self.channels_last:
            parts.append("channels-last memory layout")
        if self.test_flips:
            parts.append("tested on each image and its mirror image (probabilities averaged)")
        return "; ".join(parts)


def _recipes() -> dict[str, Recipe]:
    from cnnlab.models import lenet5, small_resnet, small_vgg

    # Tuned on a 55,000/5,000 split of the training set, timed on two idle CPU cores (bench/).
    # The time budgets are what the schedule anneals to; the epoch counts are caps that only a
    # faster machine reaches.
    return {
        "lenet5": Recipe(partial(lenet5, variant="modern"), epochs=10, batch_size=128, lr=3e-3, max_seconds=29),
        "lenet5-classic": Recipe(partial(lenet5, variant="classic"), epochs=10, batch_size=128, lr=3e-3,
                                 max_seconds=60),
        "small-vgg": Recipe(small_vgg, epochs=8, batch_size=128, lr=0.05, optimizer="sgd", weight_decay=5e-4,
                            max_seconds=147, amp=True, channels_last=True),
        "small-resnet": Recipe(partial(small_resnet, stages=(1, 1, 1)), epochs=10, batch_size=128, lr=0.1,
                               optimizer="sgd", weight_decay=5e-4, augment=random_hflip, max_seconds=295,
                               amp=True, channels_last=True, test_flips=True),
    }


RECIPES = _recipes()


def fashion_mnist_batches(source: str = "auto", batch_size: int = 128, val_size: int = 0,
                          limit: int | None = None, seed: int = 0) -> tuple[TensorBatches, TensorBatches | None,
                                                                             TensorBatches]:
    """(train, val, test) TensorBatches of normalised Fashion-MNIST (val is None when ``val_size`` is 0). Lesson 04.

    Args:
        source: "auto", "sample" or "full" (see ``cnnlab.data.load_fashion_mnist``).
        batch_size: training batch size (evaluation uses 1,000).
        val_size: images of the train split held out for validation (a fixed, seeded choice).
        limit: keep at most this many training images.
        seed: fixes the validation split.
    """
    from cnnlab.data import load_fashion_mnist, to_tensors

    x, y = to_tensors(*load_fashion_mnist("train", source))                 # (60000, 1, 28, 28), (60000,)
    x_test, y_test = to_tensors(*load_fashion_mnist("test", source))
    if not 0 <= val_size < len(x):
        raise ValueError(f"val_size must be between 0 and {len(x) - 1}, got {val_size}")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = order[:val_size], order[val_size:]
    if limit is not None:
        train_idx = train_idx[:limit]
    val = TensorBatches(x[val_idx], y[val_idx], 1000) if val_size else None
    return (TensorBatches(x[train_idx], y[train_idx], batch_size, shuffle=True), val,
            TensorBatches(x_test, y_test, 1000))


def train_recipe(name: str, source: str = "auto", epochs: int | None = None, batch_size: int | None = None,
                 lr: float | None = None, max_seconds: float | None = None, seed: int = 0,
                 val_size: int = 0, limit: int | None = None, progress: bool = True) -> tuple[nn.Module, History, float]:
    """Train a named model of ``RECIPES`` on Fashion-MNIST; any argument given overrides the recipe. Lessons 04-06.

    Returns:
        (model, history, test accuracy).
    """
    if name not in RECIPES:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(RECIPES)}")
    recipe = RECIPES[name]
    set_seed(seed)
    train, val, test = fashion_mnist_batches(source, batch_size or recipe.batch_size, val_size, limit, seed)
    model = recipe.build()
    overrides = {key: value for key, value in dict(epochs=epochs, lr=lr, max_seconds=max_seconds).items()
                 if value is not None}
    history = recipe.fit(model, train, val, progress=progress, **overrides)
    _, test_acc = recipe.evaluate(model, test)
    return model, history, test_acc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnnlab train",
        description="Train one of the course's models on Fashion-MNIST and print its test accuracy.")
    parser.add_argument("model", choices=sorted(RECIPES), help="which network")
    parser.add_argument("--epochs", type=int, help="passes over the training set (default: the model's recipe)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--full", dest="source", action="store_const", const="full",
                        help="the full 60,000/10,000 Fashion-MNIST")
    source.add_argument("--sample", dest="source", action="store_const", const="sample",
                        help="the bundled 6,000/1,000 sample")
    parser.set_defaults(source="auto")
    parser.add_argument("--batch-size", type=int, help="images per batch (default: the model's recipe)")
    parser.add_argument("--lr", type=float, help="peak learning rate (default: the model's recipe)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--max-seconds", type=float, help="time budget for training (default: the model's recipe)")
    parser.add_argument("--val-size", type=int, default=0, help="training images held out for validation")
    parser.add_argument("--limit", type=int, help="train on at most this many images")
    parser.add_argument("--save", metavar="PATH", help="write a checkpoint of the trained model")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``cnnlab train MODEL [--epochs N] [--full|--sample] [--batch-size B] [--lr LR] [--seed S]``."""
    args = _parser().parse_args(argv)
    print(f"training {args.model} on {pick_device()} (data: {args.source})")
    print(f"recipe: {RECIPES[args.model].describe()}")
    model, history, test_acc = train_recipe(
        args.model, args.source, args.epochs, args.batch_size, args.lr, args.max_seconds, args.seed,
        args.val_size, args.limit, progress=not args.no_progress)
    for i in range(len(history)):
        val = f"  val loss {history.val_loss[i]:.4f} acc {history.val_acc[i]:.4f}" if args.val_size else ""
        print(f"epoch {history.epoch[i]:5.2f}  train loss {history.train_loss[i]:.4f} "
              f"acc {history.train_acc[i]:.4f}{val}  {history.seconds[i]:6.1f} s")
    if history.stopped_early:
        print(f"stopped by the time budget after {history.seconds[-1]:.1f} s")
    print(f"test accuracy: {test_acc:.4f}")
    if args.save:
        print(f"checkpoint: {save_checkpoint(args.save, model, history, model_name=args.model, test_acc=test_acc)}")
    return 0
