"""Every exercise's reference answer agrees with an independent oracle.

The self-checks and the grader judge a learner against ``Exercise.reference``, so a wrong
reference would mark right answers wrong. Each oracle here computes the same answer another
way: with ``torch.nn.functional``, with autograd, with a network written out layer by layer in
plain torch, or with the arithmetic of the lesson and the published parameter counts. None of
them calls the cnnlab function the reference is built on.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from cnnlab.checks import Probe, exercises, get
from cnnlab.checks.ch03 import capstone_accuracy
from cnnlab.checks.ch04 import LENET_INPUT
from cnnlab.checks.ch05 import BLOCK_INPUT as VGG_BLOCK_INPUT
from cnnlab.checks.ch06 import BLOCK_INPUT as RESIDUAL_BLOCK_INPUT

SEEDS = (0, 1)


def _t(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


def _close(got, want, rtol=1e-7, atol=1e-9) -> None:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def _same_probes(got, want) -> None:
    """Two probed networks agree on every number the probe reports (counts, shapes, outputs)."""
    assert len(got) == len(want)
    for a, b in zip(got, want):
        if isinstance(a, tuple):
            assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
        else:
            _close(a, b, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- lesson 01: torch's conv2d

def _conv2d_single(case, answer):
    want = F.conv2d(_t(case["x"])[None, None], _t(case["w"])[None, None])[0, 0]
    _close(answer, want)


def _conv2d_multi(case, answer):
    want = F.conv2d(_t(case["x"])[None], _t(case["w"]), _t(case["b"]), case["stride"], case["padding"])[0]
    _close(answer, want)


def _conv1x1(case, answer):
    want = F.conv2d(_t(case["x"])[None], _t(case["w"])[:, :, None, None])[0]
    _close(answer, want)


# --------------------------------------------------------------------------- lesson 02: what torch builds

def _output_size(case, answer):
    n, k = case["n"], case["k"]
    out = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=case["stride"],
                   padding=case["padding"], dilation=case["dilation"])
    assert int(answer) == out.shape[-1]


def _conv_param_count(case, answer):
    layer = nn.Conv2d(case["in_channels"], case["filters"], (case["kh"], case["kw"]), bias=case["bias"])
    assert int(answer) == sum(p.numel() for p in layer.parameters())


def _receptive_field_size(case, answer):
    """The input pixels one output pixel depends on, found with autograd through all-ones windows."""
    size = 4 * (1 + sum(k * int(np.prod(case["strides"][:i])) for i, k in enumerate(case["kernels"])))
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    out = x
    for k, s in zip(case["kernels"], case["strides"]):
        out = F.conv2d(out, torch.ones(1, 1, k, k), stride=s)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
    assert int(answer) == int(rows.max() - rows.min() + 1)


# --------------------------------------------------------------------------- lesson 03: autograd

def _conv_backward(case, answer):
    x, w = _t(case["x"]).requires_grad_(), _t(case["w"]).requires_grad_()
    b = torch.zeros(w.shape[0], dtype=torch.float64, requires_grad=True)
    F.conv2d(x, w, b, case["stride"], case["padding"]).backward(_t(case["dout"]))
    for got, want in zip(answer, (x.grad, w.grad, b.grad)):
        _close(got, want)


def _maxpool_forward(case, answer):
    _close(answer, F.max_pool2d(_t(case["x"]), case["kernel_size"], case["stride"]))


def _maxpool_backward(case, answer):
    x = _t(case["x"]).requires_grad_()
    F.max_pool2d(x, case["kernel_size"], case["stride"]).backward(_t(case["dout"]))
    _close(answer, x.grad)


def _avgpool_backward(case, answer):
    x = torch.zeros(case["x_shape"], dtype=torch.float64, requires_grad=True)
    F.avg_pool2d(x, case["kernel_size"], case["stride"], case["padding"]).backward(_t(case["dout"]))
    _close(answer, x.grad)


def _relu_backward(case, answer):
    x = _t(case["x"]).requires_grad_()
    torch.relu(x).backward(_t(case["dout"]))
    _close(answer, x.grad)


def _linear_backward(case, answer):
    x, w = _t(case["x"]).requires_grad_(), _t(case["w"]).requires_grad_()
    b = torch.zeros(w.shape[0], dtype=torch.float64, requires_grad=True)
    F.linear(x.flatten(1), w, b).backward(_t(case["dout"]))
    for got, want in zip(answer, (x.grad, w.grad, b.grad)):
        _close(got, want)


def _softmax_cross_entropy(case, answer):
    logits = _t(case["logits"]).requires_grad_()
    loss = F.cross_entropy(logits, torch.as_tensor(case["y"]))
    loss.backward()
    _close(answer[0], loss.detach())
    _close(answer[1], logits.grad, atol=1e-12)


def _conv_forward(case, answer):
    _close(answer, F.conv2d(_t(case["x"]), _t(case["w"]), _t(case["b"]), case["stride"], case["padding"]))


def _cnn_loss(case, answer):
    """The capstone network written in torch; autograd gives the gradients and the ones between the layers."""
    x = _t(case["x"])
    w1, b1, w2, b2 = (_t(case[k]).requires_grad_() for k in ("w1", "b1", "w2", "b2"))
    conv = F.conv2d(x, w1, b1, padding=w1.shape[2] // 2)
    act = torch.relu(conv)
    pooled = F.max_pool2d(act, 2)
    scores = pooled.flatten(1) @ w2.T + b2
    for t in (conv, act, pooled, scores):
        t.retain_grad()
    loss = F.cross_entropy(scores, torch.as_tensor(case["y"]))
    loss.backward()
    got_loss, grads, trace = answer
    _close(got_loss, loss.detach())
    for got, want in zip(grads, (w1.grad, b1.grad, w2.grad, b2.grad)):
        _close(got, want)
    active = conv.detach() > 0                                   # ties among the ReLU's zeros may go either way
    _close(trace[0], scores.detach())
    _close(trace[1], scores.grad)
    _close(trace[2], pooled.grad)
    _close(np.where(active, trace[3], 0), torch.where(active, act.grad, 0))
    _close(trace[4], conv.grad)


def _train_cnn(case, answer):
    """The trained weights, run by a torch network on the sample's test images, reach the bar."""
    w1, b1, w2, b2 = (torch.as_tensor(np.asarray(a, dtype=np.float32)) for a in answer)
    from cnnlab.checks import ch03

    images, labels = ch03._sample("test")
    y = torch.as_tensor(ch03._relabelling(case["x"])[labels])
    scores = F.max_pool2d(torch.relu(F.conv2d(torch.as_tensor(images), w1, b1, padding=w1.shape[2] // 2)), 2)
    scores = scores.flatten(1) @ w2.T + b2
    accuracy = int((scores.argmax(1) == y).sum()) / len(y)
    assert accuracy >= ch03._bar(case)
    assert abs(accuracy - capstone_accuracy(answer, case)) <= 0.002     # float32 near-ties: at most 2 images


# --------------------------------------------------------------------------- lesson 04

def _plain_lenet(num_classes, in_channels):
    """LeNet-5 as the 1998 paper draws it (sigmoid, average pooling), written out in plain torch."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, num_classes))


def _lenet_classic(case, answer):
    probe = Probe("network", (("size", LENET_INPUT),))
    _same_probes(probe(answer, case), probe(_plain_lenet(**case), case))
    k, c = case["num_classes"], case["in_channels"]
    by_hand = (6 * c * 25 + 6) + (16 * 6 * 25 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * k + k)
    assert sum(p.numel() for p in answer.parameters()) == by_hand
    if (k, c) == (10, 1):
        assert by_hand == 61_706                                  # the published count


def _shift_right(case, answer):
    images, k, fill = case["images"], case["k"], case["fill"]
    width = images.shape[-1]
    want = np.full_like(images, fill)
    for col in range(width):
        if 0 <= col - k < width:
            want[:, :, col] = images[:, :, col - k]               # column j shows what was at j − k
    _close(answer, want)


def _confusion_matrix(case, answer):
    k = case["num_classes"]
    pairs = torch.as_tensor(case["y_true"]) * k + torch.as_tensor(case["y_pred"])
    assert np.array_equal(np.asarray(answer), torch.bincount(pairs, minlength=k * k).reshape(k, k).numpy())


def _torch_step(kind, state, case, **options):
    """One step of a torch.optim optimizer started from the case's state; (weights, its state after)."""
    w = nn.Parameter(_t(case["w"]))
    opt = kind([w], lr=case["lr"], **options)
    opt.state[w].update({k: _t(v) for k, v in state.items()})
    w.grad = _t(case["dw"])
    opt.step()
    return w.detach(), opt.state[w]


def _sgd_momentum(case, answer):
    w, state = _torch_step(torch.optim.SGD, {"momentum_buffer": case["velocity"]}, case,
                           momentum=case["momentum"], nesterov=case["nesterov"])
    _close(answer[0], w, rtol=1e-12)
    _close(answer[1], state["momentum_buffer"], rtol=1e-12)


def _adam_state(case):
    return {"exp_avg": case["m"], "exp_avg_sq": case["v"], "step": np.float64(case["t"] - 1)}   # torch counts on


def _adam(case, answer):
    w, state = _torch_step(torch.optim.Adam, _adam_state(case), case, betas=(case["beta1"], case["beta2"]),
                           eps=case["eps"])
    for got, want in zip(answer, (w, state["exp_avg"], state["exp_avg_sq"])):
        _close(got, want, rtol=1e-12, atol=1e-15)


def _adam_weight_decay(case, answer):
    kind = torch.optim.AdamW if case["decoupled"] else torch.optim.Adam
    w, state = _torch_step(kind, _adam_state(case), case, betas=(case["beta1"], case["beta2"]), eps=case["eps"],
                           weight_decay=case["weight_decay"])
    for got, want in zip(answer, (w, state["exp_avg"], state["exp_avg_sq"])):
        _close(got, want, rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- lesson 05

def _vgg_block(case, answer):
    c, f = case["in_channels"], case["out_channels"]
    layers: list[nn.Module] = []
    for i in range(case["num_convs"]):
        layers += [nn.Conv2d(c if i == 0 else f, f, 3, padding=1), nn.ReLU()]
    probe = Probe("network", (("size", VGG_BLOCK_INPUT),))
    _same_probes(probe(answer, case), probe(nn.Sequential(*layers, nn.MaxPool2d(2)), case))


def _batchnorm_forward(case, answer):
    x, gamma, beta, eps = case["x"], case["gamma"], case["beta"], case["eps"]
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = ((x - mean) ** 2).mean(axis=(0, 2, 3), keepdims=True)     # biased, as in training
    want = (x - mean) / np.sqrt(var + eps) * gamma[None, :, None, None] + beta[None, :, None, None]
    _close(answer, want)


def _dropout_forward(case, answer):
    x, p, keep = case["x"], case["p"], case["keep"]
    want = x * keep.astype(np.float64) * (1.0 / (1.0 - p))          # inverted dropout: E[out] = x
    _close(answer, want)


def _batchnorm_backward(case, answer):
    x, gamma = _t(case["x"]).requires_grad_(), _t(case["gamma"]).requires_grad_()
    beta = torch.zeros_like(gamma, requires_grad=True)
    F.batch_norm(x, None, None, gamma, beta, training=True, eps=case["eps"]).backward(_t(case["dout"]))
    for got, want in zip(answer, (x.grad, gamma.grad, beta.grad)):
        _close(got, want)


def _dropout_backward(case, answer):
    x = torch.ones(case["dout"].shape, dtype=torch.float64, requires_grad=True)
    keep = torch.as_tensor(case["keep"])
    torch.where(keep, x / (1 - case["p"]), torch.zeros_like(x)).backward(_t(case["dout"]))
    _close(answer, x.grad)


# --------------------------------------------------------------------------- lesson 06

class _PlainResidualBlock(nn.Module):
    """He et al.'s basic block written out: conv-BN-ReLU, conv-BN, add the (projected) input, ReLU."""

    def __init__(self, c, f, stride):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, f, 3, stride, 1, bias=False), nn.BatchNorm2d(f)
        self.conv2, self.bn2 = nn.Conv2d(f, f, 3, 1, 1, bias=False), nn.BatchNorm2d(f)
        self.project = stride != 1 or c != f
        if self.project:
            self.proj, self.proj_bn = nn.Conv2d(c, f, 1, stride, bias=False), nn.BatchNorm2d(f)

    def forward(self, x):
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(out + (self.proj_bn(self.proj(x)) if self.project else x))


def _residual_block(case, answer):
    probe = Probe("network", (("size", RESIDUAL_BLOCK_INPUT),))
    plain = _PlainResidualBlock(case["in_channels"], case["out_channels"], case["stride"])
    _same_probes(probe(answer, case), probe(plain, case))


PUBLISHED_RESNETS = {((2, 2, 2, 2), (64, 128, 256, 512), 3, 1000): 11_689_512,
                     ((3, 4, 6, 3), (64, 128, 256, 512), 3, 1000): 21_797_672}


def _resnet_param_count(case, answer):
    stages, widths, c, k = case["stages"], case["widths"], case["in_channels"], case["num_classes"]
    total = c * widths[0] * 49 + 2 * widths[0]                       # 7×7 stem conv (no bias) + BN
    channels = widths[0]
    for i, (blocks, width) in enumerate(zip(stages, widths)):
        for b in range(blocks):
            total += channels * width * 9 + width * width * 9 + 4 * width
            if channels != width or (i > 0 and b == 0):                # a projection where the shape changes
                total += channels * width + 2 * width
            channels = width
    total += channels * k + k
    assert int(answer) == total
    key = (tuple(stages), tuple(widths), c, k)
    if key in PUBLISHED_RESNETS:
        assert total == PUBLISHED_RESNETS[key]


# --------------------------------------------------------------------------- lesson 07: EfficientNet-Lite0's table

LITE0_TABLE = [(1, 16, 1, 3), (6, 24, 2, 3), (6, 40, 2, 5), (6, 80, 3, 3), (6, 112, 3, 5), (6, 192, 4, 5),
               (6, 320, 1, 3)]   # (expansion, output channels, blocks, kernel) of the seven stages, from the paper
LITE0_PUBLISHED = 4_652_008      # with 1,000 classes


def _lite0_parts() -> tuple[int, list[int], int]:
    """(stem, [stage 1 ... stage 7], head conv) parameters of EfficientNet-Lite0, by the arithmetic of MBConv."""
    stem = 3 * 32 * 9 + 2 * 32
    stages, channels = [], 32
    for expand, out, blocks, k in LITE0_TABLE:
        count = 0
        for _ in range(blocks):
            hidden = channels * expand
            count += (channels * hidden + 2 * hidden) if expand != 1 else 0   # 1×1 expansion + BN
            count += hidden * k * k + 2 * hidden                              # depthwise k×k + BN
            count += hidden * out + 2 * out                                    # 1×1 projection + BN
            channels = out
        stages.append(count)
    head = channels * 1280 + 2 * 1280
    return stem, stages, head


def _lite0_total(num_classes: int) -> int:
    stem, stages, head = _lite0_parts()
    return stem + sum(stages) + head + 1280 * num_classes + num_classes


@pytest.mark.lesson07
def test_the_oracles_table_gives_the_published_lite0_count():
    assert _lite0_total(1000) == LITE0_PUBLISHED


def _freeze_and_replace_head(case, answer):
    k = case["num_classes"]
    params = list(answer.parameters())
    assert sum(p.numel() for p in params if p.requires_grad) == 1280 * k + k
    assert sum(p.numel() for p in params) == _lite0_total(k)
    assert [p.requires_grad for p in params] == [False] * (len(params) - 2) + [True, True]   # the new head
    with torch.no_grad():
        assert answer.eval()(torch.zeros(2, 3, 32, 32)).shape == (2, k)


def _trainable_after_freezing(case, answer):
    stem, stages, _ = _lite0_parts()
    frozen = stem + sum(stages[:case["frozen_stages"]])
    assert int(answer) == _lite0_total(case["num_classes"]) - frozen


def _finetune_optimizer(case, answer):
    k, lr, scale = case["num_classes"], case["lr"], case["backbone_lr_scale"]
    groups = sorted(answer.param_groups, key=lambda g: g["lr"])
    head = 1280 * k + k
    _close([g["lr"] for g in groups], [lr * scale, lr])
    assert [sum(p.numel() for p in g["params"]) for g in groups] == [_lite0_total(k) - head, head]


# --------------------------------------------------------------------------- lesson 08

class _PlainInception(nn.Module):
    """Szegedy et al.'s four branches written out, each conv followed by BN (ε = 0.001) and ReLU."""

    def __init__(self, in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj):
        super().__init__()

        def unit(c, f, k):
            return [nn.Conv2d(c, f, k, padding=k // 2, bias=False), nn.BatchNorm2d(f, eps=1e-3), nn.ReLU()]

        self.b1 = nn.Sequential(*unit(in_channels, c1, 1))
        self.b3 = nn.Sequential(*unit(in_channels, c3_reduce, 1), *unit(c3_reduce, c3, 3))
        self.b5 = nn.Sequential(*unit(in_channels, c5_reduce, 1), *unit(c5_reduce, c5, 5))
        self.bp = nn.Sequential(nn.MaxPool2d(3, 1, 1), *unit(in_channels, pool_proj, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], dim=1)


def _inception_module(case, answer):
    _same_probes(get("inception_module").probe(answer, case), get("inception_module").probe(_PlainInception(**case), case))


def _bottleneck_params(case, answer):
    c, r, f, k = case["in_channels"], case["reduce"], case["out_channels"], case["kernel_size"]
    direct = f * c * k * k + f                                       # weights + biases
    squeezed = (r * c + r) + (f * r * k * k + f)
    assert [int(v) for v in answer] == [direct, squeezed]
    if (c, r, f, k) == (192, 16, 32, 5):
        assert (direct, squeezed) == (153_632, 15_920)               # lesson 08's 5×5 branch of block 3a


def _compound_multipliers(case, answer):
    phi, alpha, beta, gamma, base = (case[key] for key in ("phi", "alpha", "beta", "gamma", "base_resolution"))
    depth, width, resolution = answer
    _close([depth, width], [alpha ** phi, beta ** phi])
    assert int(resolution) == int(np.floor(base * gamma ** phi + 0.5))
    if (phi, alpha, beta, gamma, base) == (1.0, 1.2, 1.1, 1.15, 224):
        assert int(resolution) == 258                                # 224 · 1.15 = 257.6


def _xywh(boxes) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=float)
    return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)


def _coco_iou(a, b) -> np.ndarray:
    """IoU of every box of ``a`` with every box of ``b`` as pycocotools computes it (boxes as x, y, w, h)."""
    from pycocotools import mask

    return np.asarray(mask.iou(_xywh(a).tolist(), _xywh(b).tolist(), [0] * len(b)), dtype=float).reshape(len(a), len(b))


def _box_iou(case, answer):
    _close(answer, _coco_iou(case["a"], case["b"]))


def _nms(case, answer):
    boxes, scores, threshold = case["boxes"], case["scores"], case["iou_threshold"]
    iou = _coco_iou(boxes, boxes)
    kept: list[int] = []
    for i in sorted(range(len(scores)), key=lambda i: (-scores[i], i)):     # best first, ties in order
        if all(iou[i, j] <= threshold for j in kept):                      # an overlap above the threshold drops it
            kept.append(i)
    assert [int(i) for i in answer] == kept


def _conv_transpose_output_size(case, answer):
    n, k, s, p, op, d = (case[key] for key in ("size", "kernel_size", "stride", "padding", "output_padding", "dilation"))
    out = F.conv_transpose1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=p, output_padding=op,
                             dilation=d)
    assert int(answer) == out.shape[-1]


def _mean_iou(case, answer):
    pred, target = torch.as_tensor(case["pred"]), torch.as_tensor(case["target"])
    ious = []
    for c in range(case["num_classes"]):
        union = ((pred == c) | (target == c)).sum().item()
        if union:                                                           # a class seen nowhere does not count
            ious.append(((pred == c) & (target == c)).sum().item() / union)
    _close(float(answer), float(np.mean(ious)))


ORACLES = {
    "conv2d_single": _conv2d_single, "conv2d_multi": _conv2d_multi, "conv1x1": _conv1x1,
    "output_size": _output_size, "conv_param_count": _conv_param_count,
    "receptive_field_size": _receptive_field_size,
    "conv_backward": _conv_backward, "maxpool_forward": _maxpool_forward, "maxpool_backward": _maxpool_backward,
    "avgpool_backward": _avgpool_backward, "relu_backward": _relu_backward, "linear_backward": _linear_backward,
    "softmax_cross_entropy": _softmax_cross_entropy, "conv_forward": _conv_forward, "cnn_loss": _cnn_loss,
    "train_cnn": _train_cnn,
    "lenet_classic": _lenet_classic, "shift_right": _shift_right, "confusion_matrix": _confusion_matrix,
    "sgd_momentum": _sgd_momentum, "adam": _adam, "adam_weight_decay": _adam_weight_decay,
    "vgg_block": _vgg_block, "batchnorm_forward": _batchnorm_forward, "dropout_forward": _dropout_forward,
    "batchnorm_backward": _batchnorm_backward, "dropout_backward": _dropout_backward,
    "residual_block": _residual_block, "resnet_param_count": _resnet_param_count,
    "freeze_and_replace_head": _freeze_and_replace_head, "trainable_after_freezing": _trainable_after_freezing,
    "finetune_optimizer": _finetune_optimizer,
    "inception_module": _inception_module, "bottleneck_params": _bottleneck_params,
    "compound_multipliers": _compound_multipliers,
    "box_iou": _box_iou, "nms": _nms, "conv_transpose_output_size": _conv_transpose_output_size,
    "mean_iou": _mean_iou,
}


def test_every_exercise_has_an_oracle():
    assert set(ORACLES) == set(exercises())


@pytest.mark.parametrize("name", [pytest.param(name, marks=getattr(pytest.mark, f"lesson{ex.chapter}"))
                                  for name, ex in sorted(exercises().items())])
def test_reference_agrees_with_an_independent_oracle(name):
    ex = exercises()[name]
    for seed in SEEDS:
        for case in ex.cases(np.random.default_rng(seed)):
            torch.manual_seed(seed)
            ORACLES[name](case, ex.reference(**case))
