"""The ``cnnlab`` command: lab, workspace, data, train, course, exercises, grade.

    cnnlab lab [JUPYTERLAB OPTION ...]  refresh work/, then open JupyterLab on lesson 00 there
    cnnlab workspace refresh|update     bring work/ in step with the course (update: git pull first)
    cnnlab data status                  where the data sets are
    cnnlab data fetch [fashion_mnist|mnist]
    cnnlab train MODEL [--epochs N] [--full|--sample] ...
    cnnlab course html|slides [NOTEBOOK ...] [--quick] [--out DIR]
    cnnlab exercises build|check
    cnnlab grade SUBMISSION.ipynb ... | cnnlab grade bundle --chapter NN -o autograder.zip
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence


def _data(args: argparse.Namespace) -> int:
    from cnnlab import data

    if args.action == "status":
        for key, spec in data.DATASETS.items():
            found = data.find_full(key)
            where = f"{found[1]} ({found[0]})" if found else "not on this machine"
            print(f"{spec.title:14s} full: {where}")
        print(f"{'':14s} sample: {data.SAMPLE_PATH} (Fashion-MNIST, 6,000 train / 1,000 test)")
        print(f"{'':14s} cache: {data.cache_dir()}")
        return 0
    if args.action == "fetch":
        try:
            folder = data.fetch(args.dataset)
        except data.DataError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(f"{data.DATASETS[args.dataset].title} is ready in {folder}")
        return 0
    if args.action == "make-sample":
        print(f"wrote {data.make_sample()}")
        return 0
    raise AssertionError(args.action)


def _exercises(args: argparse.Namespace) -> int:
    from cnnlab import exercises, workspace

    try:
        if args.action == "build":
            for line in workspace.rescue():         # answers typed into exercises/ go to work/ first
                print(line)
            for path, state in exercises.build().items():
                print(f"{state:10s} {path}")
            return 0
        problems = exercises.check()
        answers = workspace.exercises_with_answers() if problems else []
    except (exercises.ExerciseError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if answers:
        print(f"{', '.join(answers)}: your answers are in the course's own exercise notebooks. "
              f"`make lab` (or `cnnlab workspace refresh`) moves them into {workspace.FOLDER}/exercises/, "
              "where your work lives, and puts the course's version back.", file=sys.stderr)
        return 1
    if problems:
        print("exercises/ is out of step with solutions/ (run `cnnlab exercises build`):", file=sys.stderr)
        for line in problems:
            print("  " + line, file=sys.stderr)
        return 1
    print("exercises/ matches solutions/")
    return 0


def _workspace(args: argparse.Namespace) -> int:
    from cnnlab import exercises, workspace

    try:
        if args.action == "refresh":
            ok, lines = True, workspace.refresh()
        else:
            ok, lines = workspace.update()
    except (exercises.ExerciseError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for line in lines or [f"{workspace.FOLDER}/ is up to date with the course"]:
        print(line)
    return 0 if ok else 1


def _lab(extra: list[str]) -> int:
    """Refresh the workspace, then replace this process by JupyterLab serving it."""
    from cnnlab import exercises, workspace

    try:
        course = exercises.repo_root()
        lines = workspace.refresh(course)
    except (exercises.ExerciseError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    command = workspace.lab_command(course, extra)
    sys.stdout.flush()
    os.execv(command[0], command)


def _course(args: argparse.Namespace) -> int:
    from cnnlab import course

    notebooks = [Path(p) for p in args.notebooks] or None
    if args.action == "html":
        written = course.export_html(notebooks, Path(args.out or "build"), quick=args.quick)
    else:
        written = course.export_slides(notebooks, Path(args.out or "build/slides"), quick=args.quick)
    for path in written:
        print(f"wrote {path}")
    return 0


def _train_parser() -> argparse.ArgumentParser:
    from cnnlab.recipes import RECIPES

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


def _train(argv: Sequence[str] | None = None) -> int:
    """``cnnlab train MODEL [--epochs N] [--full|--sample] [--batch-size B] [--lr LR] [--seed S]``."""
    from cnnlab.recipes import RECIPES, train_recipe
    from cnnlab.train import pick_device, save_checkpoint

    args = _train_parser().parse_args(argv)
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


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # lab, train and grade own their arguments; hand them over untouched.
    if argv and argv[0] == "lab":
        return _lab(argv[1:])
    if argv and argv[0] == "train":
        return _train(argv[1:])
    if argv and argv[0] == "grade":
        from cnnlab.grading import cli as grading_cli

        return grading_cli.main(argv[1:]) or 0

    parser = argparse.ArgumentParser(prog="cnnlab", description="A course on convolutional neural networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("train", help="train a model on Fashion-MNIST (see `cnnlab train -h`)")
    sub.add_parser("grade", help="grade exercise submissions (see `cnnlab grade -h`)")
    sub.add_parser("lab", help="refresh work/, then open JupyterLab on lesson 00 there (options go to JupyterLab)")

    p = sub.add_parser("workspace", help="your own copies of the lessons and exercises, in work/")
    p.add_argument("action", choices=["refresh", "update"],
                   help="refresh: bring work/ in step with the course on disk; "
                        "update: take the course's new commits (git pull), then refresh")
    p.set_defaults(func=_workspace)

    p = sub.add_parser("data", help="where the data sets are; fetch the full ones")
    p.add_argument("action", choices=["status", "fetch", "make-sample"])
    p.add_argument("dataset", nargs="?", default="fashion_mnist", choices=["fashion_mnist", "mnist"])
    p.set_defaults(func=_data)

    p = sub.add_parser("exercises", help="generate exercises/ from solutions/, or check they match")
    p.add_argument("action", choices=["build", "check"])
    p.set_defaults(func=_exercises)

    p = sub.add_parser("course", help="run the notebooks and export HTML pages or slide decks")
    p.add_argument("action", choices=["html", "slides"])
    p.add_argument("notebooks", nargs="*", help="notebooks to export (default: all in notebooks/)")
    p.add_argument("--quick", action="store_true", help="small training budgets (CNNLAB_QUICK=1)")
    p.add_argument("--out", help="output folder (default build/ or build/slides/)")
    p.set_defaults(func=_course)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
