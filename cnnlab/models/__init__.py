"""Network architectures of the course, built from data (lessons 04-08).

Each architecture lives in its own module and is re-exported here, so a notebook
writes ``from cnnlab.models import lenet5, vgg16, resnet18``.
"""

from .gallery import (INCEPTION_TABLE, CompoundScaling, InceptionBlock, alexnet, compound_scaling,
                      googlenet, inception_block, scaled_channels, scaled_repeats, small_inception)
