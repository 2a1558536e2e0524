"""Figures for every lesson (matplotlib only; nothing here needs a widget backend).

- images: image grids, kernels, feature maps, the conv sliding window (lessons 00-03)
- training: learning curves, confusion matrix, misclassified examples (lessons 04-08)
- live: the learning curves redrawn while ``fit`` runs in a notebook (lesson 04)
- attribution: saliency and Grad-CAM (lesson 07)
- transfer: learning curves and example patches of lesson 07's experiment
- architectures: lesson 08's accuracy-against-cost and cost-split charts, the Inception diagram
- scenes: lesson 09's masks, boxes, segmentations, detections, precision–recall, stamp counts
- audio: lesson 09's waveforms, spectrograms, mel filters and shift curves
"""

from .images import *  # noqa: F401,F403  (lessons 01-03)
from .training import *  # noqa: F401,F403  (lessons 04-08)
from .live import *  # noqa: F401,F403  (lesson 04)
from .attribution import *  # noqa: F401,F403  (lesson 07)
from .transfer import *  # noqa: F401,F403  (lesson 07)
from .architectures import *  # noqa: F401,F403  (lesson 08)
from .scenes import *  # noqa: F401,F403  (lesson 09)
from .audio import *  # noqa: F401,F403  (lesson 09)
