"""Network architectures of the course, built from data, one module per family (lessons 04-09).

- ``lenet``: LeNet-5, classic and modern (lesson 04)
- ``vgg``: VGG from a list of convs and pools, ``small_vgg`` (lesson 05)
- ``resnet``: basic and bottleneck residual blocks, layouts ResNet-18 ... 152, ``small_resnet`` (lesson 06)
- ``efficientnet``: MBConv, EfficientNet-Lite0 and its ImageNet weights, compound scaling (lessons 07-08)
- ``alexnet``: AlexNet (lesson 08)
- ``inception``: Inception blocks, GoogLeNet, ``small_inception`` (lesson 08)
- ``baselines``: softmax regression and an MLP, the non-convolutional yardsticks (lesson 04)
- ``segmentation``, ``detection``, ``audio``, ``global_pool``: a small U-Net, a tiny single-shot
  detector, a spectrogram CNN and a global-pooling CNN (lesson 09)
- ``blocks``: ``conv_bn``, the conv + batch norm (+ activation) unit the families share

Each family is re-exported here, so a notebook writes ``from cnnlab.models import lenet5, vgg16, resnet18``.
"""

from .blocks import conv_bn
from .lenet import LENET_CONVS, LENET_HIDDEN, lenet5
from .baselines import mlp, softmax_regression
from .vgg import VGG, VGG_CONFIGS, small_vgg, vgg, vgg16
from .resnet import (RESNET_LAYOUTS, BasicBlock, Bottleneck, ResNet, ResNetLayout, resnet, resnet18, resnet34, resnet50,
                     small_resnet)
from .efficientnet import (LITE0_STAGES, CompoundScaling, EfficientNetLite, MBConv, compound_scaling,
                           efficientnet_lite0, scaled_channels, scaled_repeats)
from .alexnet import alexnet
from .inception import INCEPTION_TABLE, InceptionBlock, googlenet, inception_block, small_inception
from .segmentation import SmallUNet, conv_unit, small_unet
from .detection import Detections, TinySSD, detect, detection_loss, detection_targets, tiny_ssd
from .audio import SpectrogramCNN, spectrogram_cnn
from .global_pool import global_pool_cnn
