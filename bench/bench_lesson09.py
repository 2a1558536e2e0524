"""Lesson 09's four experiments at full budget on the CPU: what they reach and how long they train.

    .venv/bin/python bench/bench_lesson09.py [--threads 2] [--only segmentation,detection,sound,position]

1. Segmentation: ``SmallUNet`` on 8,000 Fashion-MNIST scenes (64×64, one to three items,
   from the full training set when present), mean IoU on 1,000 held-out scenes made from the
   test set (background included, as PASCAL VOC reports it; the mean over the ten garments
   is recorded beside it). Aim: mIoU >= 0.80 within 3 minutes of training.
2. Detection: ``TinySSD`` on the same scenes, mAP@0.5 on the held-out scenes (COCO's
   101-point AP, checked against pycocotools in tests/test_boxes.py). Aim: >= 0.80 within 3
   minutes.
3. Sound: ``SpectrogramCNN`` on the 800 bundled spoken-word clips, accuracy on the 160 clips
   of the 16 voices it never heard.
4. Translation invariance: the same global-pooling CNN with zero and with circular padding on
   the position task (the class is where an identical patch sits); test accuracy of each.

Each run records its training seconds (wall clock) and the CPU seconds of this process (on a
busy machine the wall clock grows, the CPU seconds much less), the steps it managed within
its budget, and the load average before and after. Budgets are step counts with a time cap,
like the lesson's: a slow or busy machine trains fewer steps rather than longer.

Results go to bench/results/lesson09.json (merged with the entries already there).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from cnnlab import data
from cnnlab.experiments import ch09

RESULTS = Path(__file__).parent / "results" / "lesson09.json"
SCENES = dict(train=8000, test=1000)
SEGMENTATION = dict(steps=4000, max_seconds=175.0)    # the last step ends inside the 3-minute aim
DETECTION = dict(steps=4000, max_seconds=175.0)
SOUND = dict(epochs=30, max_seconds=60.0)
POSITION = dict(pairs=1000, test_pairs=500, epochs=5, max_seconds=60.0)
AIMS = {"segmentation": ("mean_iou", 0.80, 180.0), "detection": ("map50", 0.80, 180.0)}
EXPERIMENTS = ("segmentation", "detection", "sound", "position")


def load() -> float:
    return round(os.getloadavg()[0], 2)


def timing(run: ch09.TrainingRun) -> dict:
    return {"train_seconds": round(run.seconds, 1), "cpu_seconds": round(run.cpu_seconds, 1), "steps": run.steps,
            "images_per_second": round(run.images / run.seconds, 1)}


def segmentation(train, test) -> dict:
    run = ch09.train_segmenter(train, **SEGMENTATION)
    scores = ch09.segmentation_scores(run.model, test)
    return {"mean_iou": round(scores.mean_iou, 4), "garment_mean_iou": round(scores.object_mean_iou, 4),
            "pixel_accuracy": round(scores.pixel_accuracy, 4),
            "iou_per_class": dict(zip(data.SCENE_CLASSES, (round(float(v), 4) for v in scores.iou))),
            **timing(run), "budget": SEGMENTATION}


def detection(train, test) -> dict:
    from cnnlab.boxes import mean_average_precision

    run = ch09.train_detector(train, **DETECTION)
    scores, found = ch09.detection_scores(run.model, test)
    strict = mean_average_precision([d.boxes for d in found], [d.scores for d in found], [d.labels for d in found],
                                    test.boxes, test.labels, 0.75)
    return {"map50": round(scores.map, 4), "map75": round(strict.map, 4),
            "ap50_per_class": {data.FASHION_MNIST_CLASSES[c]: round(v, 4) for c, v in scores.ap.items()},
            **timing(run), "budget": DETECTION}


def sound() -> dict:
    train, test = data.load_spoken_words("train"), data.load_spoken_words("test")
    start, cpu = time.perf_counter(), time.process_time()
    _, history = ch09.train_spectrogram_cnn(train, test, **SOUND)
    return {"test_accuracy_unheard_voices": round(history.val_acc[-1], 4), "epochs": round(history.epoch[-1], 2),
            "train_seconds": round(history.seconds[-1], 1), "cpu_seconds": round(time.process_time() - cpu, 1),
            "wall_seconds_with_validation": round(time.perf_counter() - start, 1), "budget": SOUND}


def position(source: str) -> dict:
    train = ch09.position_task(POSITION["pairs"], "train", source=source, seed=0)
    test = ch09.position_task(POSITION["test_pairs"], "test", source=source, seed=1)
    cpu = time.process_time()
    runs = ch09.position_experiment(train, test, epochs=POSITION["epochs"], max_seconds=POSITION["max_seconds"])
    out = {name.replace(" ", "_"): {"test_accuracy": round(run.test_acc, 4),
                                    "train_seconds": round(run.history.seconds[-1], 1),
                                    "pair_logit_gap": float(f"{ch09.pair_gap(run.model, test[0]):.3g}")}
           for name, run in runs.runs.items()}
    return {**out, "cpu_seconds_both": round(time.process_time() - cpu, 1), "budget": POSITION}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2: the two-core target)")
    parser.add_argument("--only", default=",".join(EXPERIMENTS), help="comma-separated subset of " + ", ".join(EXPERIMENTS))
    parser.add_argument("--source", default="auto", help="Fashion-MNIST for the scenes: auto, full or sample")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    chosen = [name for name in args.only.split(",") if name]
    unknown = set(chosen) - set(EXPERIMENTS)
    if unknown:
        parser.error(f"unknown experiments {sorted(unknown)}; choose from {', '.join(EXPERIMENTS)}")
    torch.set_num_threads(args.threads)

    report = json.loads(args.out.read_text()) if args.out.exists() else {}
    report["conditions"] = {"python": platform.python_version(), "torch": torch.__version__,
                            "torch_threads": torch.get_num_threads(), "cores_visible": os.cpu_count(),
                            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    results = report.setdefault("results", {})
    scenes = None
    if {"segmentation", "detection"} & set(chosen):
        scenes = (data.make_scenes(SCENES["train"], "train", args.source, seed=0),
                  data.make_scenes(SCENES["test"], "test", args.source, seed=1))
        print(f"scenes: {len(scenes[0]):,} train, {len(scenes[1]):,} held out, items from the {scenes[0].source} set")
    for name in chosen:
        before = load()
        row = {"segmentation": lambda: segmentation(*scenes), "detection": lambda: detection(*scenes),
               "sound": sound, "position": lambda: position(args.source)}[name]()
        row["load_average_1min"] = {"before": before, "after": load()}
        if name in ("segmentation", "detection"):
            row["scenes_from"] = scenes[0].source
        if name in AIMS:
            key, aim, seconds = AIMS[name]
            row["aim"] = {key: aim, "train_seconds": seconds}
            row["met"] = row[key] >= aim and row["train_seconds"] <= seconds
        results[name] = row
        print(f"{name}: " + json.dumps({k: v for k, v in row.items() if not isinstance(v, dict) or k == "load_average_1min"}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
