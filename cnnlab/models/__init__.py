"""Network architectures of the course, built from data (lessons 04-09).

Each architecture lives in its own module and is re-exported here, so a notebook
writes ``from cnnlab.models import lenet5, vgg16, resnet18``.
"""

from .lenet import LENET_CONVS, LENET_HIDDEN, lenet5
from .baselines import mlp, softmax_regression
from .vgg import VGG, VGG_CONFIGS, small_vgg, vgg, vgg16
from .resnet import RESNET_STAGES, BasicBlock, Bottleneck, ResNet, resnet, resnet18, resnet34, resnet50, small_resnet
from .gallery import (INCEPTION_TABLE, CompoundScaling, InceptionBlock, alexnet, compound_scaling,
                      googlenet, inception_block, scaled_channels, scaled_repeats, small_inception)
from .efficientnet import LITE0_STAGES, EfficientNetLite, MBConv, efficientnet_lite0
from .segmentation import SmallUNet, conv_unit, small_unet
from .detection import Detections, TinySSD, detect, detection_loss, detection_targets, tiny_ssd
from .audio import SpectrogramCNN, spectrogram_cnn
from .global_pool import global_pool_cnn
