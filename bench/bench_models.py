"""Train the course's Fashion-MNIST models on the CPU and record accuracy and speed.

    .venv/bin/python bench/bench_models.py [--only lenet5,small-vgg,small-resnet] [--threads 2]

Each model is trained with its recipe from ``cnnlab.recipes.RECIPES`` on all 60,000 training
images (nothing held out: the recipes were tuned on a 55,000/5,000 split beforehand) and
tested once on the 10,000 test images. The recipes carry time budgets (``max_seconds``);
their learning-rate schedules anneal to that deadline, so a slower or busier machine trains
fewer epochs rather than overrunning the budget.

Targets (each above what Dive into Deep Learning reports after 10 epochs on a GPU:
LeNet 0.800, VGG 0.921, ResNet-18 0.898):
LeNet-5 (modern) >= 0.905 in <= 30 s, small VGG >= 0.925 in <= 150 s,
small ResNet >= 0.935 in <= 300 s of training.

A recipe that trains on mirrored images (``augment=random_hflip``) also tests with them:
``test_flips`` averages the class probabilities of each test image and its mirror image, and
that is the accuracy compared with the target; the single-view accuracy is recorded beside it.

Results go to bench/results/models.json (merged with the entries already there) and a
table is printed. The machine's load average is recorded with every run: timings taken
while other programs compete for the cores are slower, and the accuracy reached within
a time budget falls with them.

Threads: on idle cores, OpenMP threads that spin while they wait for each other scale
almost perfectly (the default). On cores shared with other busy programs, a waiting
thread that spins steals time from the one doing the work and a step can take ten times
longer; there, run with ``OMP_WAIT_POLICY=PASSIVE`` (set before Python starts), which
costs about a third of the speed on an idle machine but never collapses.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import torch

from cnnlab.batches import fashion_mnist_batches
from cnnlab.common import parameter_count
from cnnlab.recipes import RECIPES
from cnnlab.train import evaluate, set_seed

RESULTS = Path(__file__).parent / "results" / "models.json"

# model -> (test accuracy to reach, training seconds allowed, Dive into Deep Learning's figure)
TARGETS = {
    "lenet5": (0.905, 30.0, 0.800),
    "small-vgg": (0.925, 150.0, 0.921),
    "small-resnet": (0.935, 300.0, 0.898),
}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def conditions(threads: int) -> dict:
    return {
        "cpu": cpu_name(),
        "cores_visible": os.cpu_count(),
        "torch_threads": threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY") or "default (spin, then sleep)",
    }


def network(build) -> str:
    """How a recipe builds its network, as a call: ``small_resnet(stages=(1, 1, 1))``."""
    if isinstance(build, partial):
        arguments = [repr(a) for a in build.args] + [f"{k}={v!r}" for k, v in build.keywords.items()]
        return f"{build.func.__name__}({', '.join(arguments)})"
    return f"{getattr(build, '__name__', repr(build))}()"


def bench_one(name: str, seed: int, threads: int) -> dict:
    target, budget, d2l = TARGETS[name]
    recipe = RECIPES[name]
    set_seed(seed)
    train, _, test = fashion_mnist_batches("full", recipe.batch_size, val_size=0, seed=seed)
    model = recipe.build()
    load_before = os.getloadavg()[0]
    cpu_start = time.process_time()
    history = recipe.fit(model, train, progress=False)
    cpu_seconds = time.process_time() - cpu_start
    _, test_acc = recipe.evaluate(model, test)
    config = recipe.config
    single_view_acc = (evaluate(model, test, amp=config.amp, channels_last=config.channels_last)[1]
                       if recipe.test_flips else test_acc)
    seconds = history.seconds[-1]
    return {
        "model": name,
        "network": network(recipe.build),
        "parameters": parameter_count(model),
        # the recipe's own test: with test_flips, each image and its mirror image
        "test_accuracy": round(test_acc, 4),
        "test_accuracy_single_view": round(single_view_acc, 4),
        "train_seconds": round(seconds, 1),
        # CPU time of all threads; divided by the thread count it is what an idle machine would
        # need at best (perfect scaling), a yardstick when other programs share the cores
        "train_cpu_seconds": round(cpu_seconds, 1),
        "idle_estimate_seconds": round(cpu_seconds / threads, 1),
        "epochs": round(history.epoch[-1], 2),
        "train_images_per_second": round(history.images_per_second),
        "final_train_accuracy": round(history.train_acc[-1], 4),
        "target_accuracy": target,
        "time_budget_seconds": budget,
        "d2l_accuracy": d2l,
        "met": bool(test_acc >= target and seconds <= budget),
        "recipe": {"epochs_cap": config.epochs, "batch_size": recipe.batch_size, "lr": config.lr,
                   "optimizer": config.optimizer, "scheduler": config.scheduler,
                   "weight_decay": config.weight_decay, "label_smoothing": config.label_smoothing,
                   "augment": getattr(config.augment, "__name__", None), "max_seconds": config.max_seconds,
                   "in_words": recipe.describe(),
                   "amp_bf16": config.amp, "channels_last": config.channels_last,
                   "test_flips": recipe.test_flips},
        "seed": seed,
        "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def print_table(rows: list[dict]) -> None:
    print(f"\n{'model':14s} {'params':>9s} {'test acc':>8s} {'1-view':>6s} {'target':>6s} {'train s':>8s} {'budget':>6s} "
          f"{'cpu s':>7s} {'epochs':>6s} {'img/s':>6s} {'load':>5s}  met")
    for r in rows:
        print(f"{r['model']:14s} {r['parameters']:9,d} {r['test_accuracy']:8.4f} {r.get('test_accuracy_single_view', float('nan')):6.4f} {r['target_accuracy']:6.3f} "
              f"{r['train_seconds']:8.1f} {r['time_budget_seconds']:6.0f} {r['train_cpu_seconds']:7.1f} "
              f"{r['epochs']:6.2f} "
              f"{r['train_images_per_second']:6d} {r['load_average_1min']['before']:5.1f}  "
              f"{'yes' if r['met'] else 'NO'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(TARGETS)}")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {list(TARGETS)}")

    torch.set_num_threads(args.threads)
    existing = json.loads(args.out.read_text()) if args.out.exists() else {}
    results = existing.get("results", {})
    for name in names:
        print(f"training {name} ...", flush=True)
        results[name] = bench_one(name, args.seed, args.threads)
        print_table([results[name]])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"conditions": conditions(args.threads), "results": results}, indent=2) + "\n")
    print_table([results[n] for n in TARGETS if n in results])
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
