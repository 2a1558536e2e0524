"""Does pretraining pay off with few labels? The learning curves of lesson 07.

Run:  .venv/bin/python bench/bench_transfer.py [--seeds 3] [--labels 5 20 100] [--threads N]

Two tasks, three ways to train, test accuracy against the number of labelled examples per
class, mean ± std over seeds (``cnnlab.experiments.ch07.learning_curve`` with the default ``Budget``,
the one the lesson uses without ``CNNLAB_QUICK``):

1. textures: 64×64 grey patches of six scikit-image photos (brick, grass, gravel, moon,
   cell, immunohistochemistry); ImageNet features fit these well.
2. fashion_mnist: 28×28 clothes on black; ImageNet features barely help (domain gap).

Methods: LeNet-5 (modern) from scratch; the ImageNet EfficientNet-Lite0 frozen, with a new
linear head; the same network fine-tuned (all layers, backbone at a tenth of the rate; on
textures only, as in the lesson).
Results go to bench/results/transfer.json with the seconds each task took (wall clock and CPU:
on a busy machine the CPU seconds say what an idle one would need) and the load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from cnnlab.experiments import ch07

RESULTS = Path(__file__).resolve().parent / "results" / "transfer.json"
# the lesson's two experiments: all three methods on textures; scratch vs frozen features on
# Fashion-MNIST (fine-tuning there needs a larger step budget than the lesson can afford)
EXPERIMENTS = [(ch07.texture_task, ch07.METHODS), (ch07.fashion_task, ("scratch", "features"))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--labels", type=int, nargs="+", default=[5, 20, 100])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    budget = ch07.Budget()
    report = {"labels_per_class": args.labels, "seeds": args.seeds, "budget": budget.__dict__,
              "machine": {"python": platform.python_version(), "torch": torch.__version__,
                          "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
                          "load_before": os.getloadavg()[0]},
              "tasks": {}}
    for make, methods in EXPERIMENTS:
        task = make()
        start, cpu_start = time.perf_counter(), time.process_time()
        results = ch07.learning_curve(task, args.labels, range(args.seeds), methods, budget)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        summary = ch07.summarize(results)
        report["tasks"][task.name] = {
            "seconds": round(seconds, 1),
            "cpu_seconds": round(cpu_seconds, 1),       # what the run costs on an idle machine
            "pool": len(task.y_pool), "test": len(task.y_test), "classes": task.num_classes,
            "accuracy": results,
            "mean_std": {m: {n: [round(v, 4) for v in ms] for n, ms in by_n.items()} for m, by_n in summary.items()},
        }
        print(f"\n{task.name} ({seconds:.0f} s, {cpu_seconds:.0f} s of CPU)")
        for method, by_n in summary.items():
            cells = "  ".join(f"{n:>3}: {100 * m:5.1f} ± {100 * s:4.1f}" for n, (m, s) in by_n.items())
            print(f"  {method:<9} {cells}")
    report["machine"]["load_after"] = os.getloadavg()[0]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {RESULTS.relative_to(RESULTS.parents[2])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
