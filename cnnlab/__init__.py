"""cnnlab: the companion package of a course on convolutional neural networks.

Every piece of code the notebooks rely on lives here, one module per topic:

- ``cnnlab.layers``    NumPy reference layers (lessons 01, 03, 05)
- ``cnnlab.optim``     NumPy update rules: SGD with momentum, Adam, weight decay (lessons 04, 05)
- ``cnnlab.gradcheck`` numerical gradients (lesson 03)
- ``cnnlab.shapes``    output-size, parameter and MAC formulas, ``summary`` (lesson 02)
- ``cnnlab.data``      Fashion-MNIST / MNIST, bundled sample, photos (lessons 00, 04-07)
- ``cnnlab.models``    LeNet, VGG, ResNet, EfficientNet-Lite0, the gallery (lessons 04-08)
- ``cnnlab.train``     fit / evaluate / predict, seeding, device choice (lessons 04-07)
- ``cnnlab.viz``       figures; ``cnnlab.widgets`` interactive explorers
- ``cnnlab.checks``    self-checks for exercises; ``cnnlab.grading`` the auto-grader
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
