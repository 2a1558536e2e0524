"""cnnlab: the companion package of a course on convolutional neural networks.

Library modules are named by topic and serve any lesson (layers, shapes, data, models with one
file per architecture family, train, viz for every figure, widgets), and ``cnnlab/x/y.py`` is
tested in ``tests/test_x_y.py``. Each lesson's experiments, the code that exists to produce that
lesson's tables and measurements, live in ``cnnlab/experiments/chNN.py``, mirroring its exercises
in ``cnnlab/checks/chNN.py`` and its notebook ``notebooks/NN_*.py``. What the checks, the grader
and the library share lives in one neutral module, ``cnnlab/common.py`` (standard library and
NumPy only).

Library, by topic (the lessons that teach it):

- ``cnnlab.layers``       NumPy reference layers, forward and backward (01, 03, 05, 09)
- ``cnnlab.gradcheck``    numerical gradients, relative error (03)
- ``cnnlab.numpy_cnn``    a small CNN in NumPy that learns (03)
- ``cnnlab.shapes``       output-size, parameter and MAC formulas; ``summary`` of a network (02)
- ``cnnlab.data``         Fashion-MNIST / MNIST on disk or bundled, downloads, photos, scenes, spoken
                          words (00, 04-07, 09)
- ``cnnlab.batches``      hold-out split, class-balanced picks, mini-batches (04-07)
- ``cnnlab.augment``      random shifts and flips of image batches (05)
- ``cnnlab.optim``        update rules in NumPy (SGD with momentum, Adam, weight decay); torch's
                          optimizers by name; learning-rate schedules (04-05)
- ``cnnlab.train``        ``fit`` with its ``FitConfig``, evaluate, predict, seeds, devices, checkpoints (04-07)
- ``cnnlab.recipes``      the tuned training recipes of ``cnnlab train`` (04-06)
- ``cnnlab.variants``     train variants of a network under one budget and tabulate them (04-06, 08)
- ``cnnlab.transfer``     freeze, replace the head, feature extractors, fine-tuning groups (07)
- ``cnnlab.boxes``        IoU, anchors, box coding, NMS, precision-recall and mAP (09)
- ``cnnlab.segmentation`` pixel confusion, IoU per class, mean IoU (09)
- ``cnnlab.audio``        STFT, mel filterbank, mel spectrograms (09)
- ``cnnlab.models``       ``lenet``, ``vgg``, ``resnet``, ``efficientnet``, ``alexnet``, ``inception``,
                          ``baselines`` (04), ``segmentation``, ``detection``, ``audio``, ``global_pool``
                          (09), and ``blocks`` (``conv_bn``, the unit they share) (04-09)
- ``cnnlab.viz``          every figure: ``images``, ``training``, ``live``, ``attribution``, ``transfer``,
                          ``architectures``, ``scenes``, ``audio`` (all)
- ``cnnlab.widgets``      interactive explorers (01, 02, 04)

Lessons:

- ``cnnlab.experiments``  ``ch04`` translation test and bias-variance runs, ``ch06`` gradient norms,
                          ``ch07`` transfer learning curves, ``ch08`` the architecture table, ``ch09``
                          segmentation, detection, spoken words and positions
- ``cnnlab.checks``       each lesson's exercises (``chNN``), their classic mistakes (``mistakes``), their
                          probes, the self-check of a notebook

Shared and tooling:

- ``cnnlab.common``       parameter counts, layer shapes, deterministic weights, train/eval switching,
                          the typed outcomes of checks and grader
- ``cnnlab.grading``      the auto-grader (isolation that fails closed, reports, Gradescope, nbgrader)
- ``cnnlab.exercises``    exercise notebooks generated from the solutions
- ``cnnlab.workspace``    the learner's ``work/`` folder: copies, refresh, course updates
- ``cnnlab.course``       run the lessons, export HTML pages and slide decks
- ``cnnlab.cli``          the ``cnnlab`` command (data, train, course, exercises, workspace, lab, grade)
"""

from __future__ import annotations

import os

__version__ = "0.1.0"


def quick_mode() -> bool:
    """True when ``CNNLAB_QUICK`` is set (to anything but ``0``).

    The test run sets it so that every notebook trains for seconds on the bundled
    sample instead of minutes on the full data set.
    """
    return os.environ.get("CNNLAB_QUICK", "").strip() not in ("", "0")


QUICK = quick_mode()
