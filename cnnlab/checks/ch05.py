"""Exercises of lesson 05: the VGG block, and batch norm and dropout forward and backward."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cnnlab import layers
from cnnlab.checks import Exercise, Mistake, Probe
from cnnlab.checks.ch04 import network_difference, probe_for, same_outputs
from cnnlab.checks.mistakes import Catalog

BLOCK_INPUT = 12          # probe images are 12×12: one block must give 6×6


# --------------------------------------------------------------------------- exercise 1: a VGG block

def _block_cases(rng):
    return [dict(in_channels=1, out_channels=4, num_convs=1), dict(in_channels=3, out_channels=8, num_convs=2),
            dict(in_channels=4, out_channels=4, num_convs=3), dict(in_channels=2, out_channels=6, num_convs=2),
            dict(in_channels=int(rng.integers(1, 4)), out_channels=int(rng.integers(2, 6)), num_convs=2)]


def _block_ref(in_channels, out_channels, num_convs):
    from cnnlab.models.vgg import vgg_features   # imported when the reference runs (in the checking process only)

    return vgg_features([out_channels] * num_convs + ["M"], in_channels)[0]


BLOCK = Catalog(
    no_padding=Mistake(
        "convs without padding",
        nudge="each conv makes the image smaller: only the pool may change the size",
        hint="a 3×3 conv without padding shrinks the image by 2: use padding=1"),
    no_pool=Mistake(
        "final max pool missing",
        nudge="the block keeps the image's size: where is it halved?",
        hint="the block must end with a 2×2 max pool, stride 2"),
    activation=Mistake(
        "activation not ReLU",
        nudge="shapes and parameters match but the outputs differ: what follows each conv?",
        hint="VGG puts a ReLU after every conv (conv → ReLU, conv → ReLU, …, then the pool)"),
    avg_pool=Mistake(
        "average pooling instead of max",
        nudge="shapes and parameters match but the outputs differ: how does each 2×2 window become one number?",
        hint="VGG halves the size with a 2×2 MAX pool, stride 2"),
    kernels=Mistake(
        "kernels not 3×3",
        nudge="{difference}: how large is each kernel?",
        hint="VGG uses only 3×3 kernels (padding 1): two of them see 5×5 with fewer weights than one 5×5"),
    conv_count=Mistake(
        "wrong number of convs",
        nudge="{difference}",
        hint="a block has num_convs convs (each followed by a ReLU), then one pool: loop num_convs times"),
)


BLOCK_PROBE = Probe("network", (("size", BLOCK_INPUT),))


def _block_variant(in_channels, out_channels, num_convs, act=nn.ReLU, pool=nn.MaxPool2d):
    parts = []
    for i in range(num_convs):
        parts += [nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1), act()]
    return nn.Sequential(*parts, pool(2, 2))


def _block_hint(case, got, expected):
    layers, want = got[2], expected[2]
    if len(layers) == len(want) and layers and tuple(layers[0])[-1] == BLOCK_INPUT - 2:
        return BLOCK("no_padding")
    if len(layers) == len(want) and tuple(got[1])[-1] == BLOCK_INPUT:
        return BLOCK("no_pool")
    found = network_difference(got, expected, "the block")
    if found is not None:
        kind, text = found
        if kind == "layers":
            return BLOCK("conv_count", difference=text)
        return BLOCK("kernels", difference=text) if kind == "count" else None
    probe = probe_for(case, BLOCK_PROBE)
    size = (case["in_channels"], case["out_channels"], case["num_convs"])
    for act in (nn.Sigmoid, nn.Tanh, nn.Identity):
        for pool in (nn.MaxPool2d, nn.AvgPool2d):
            if same_outputs(got, probe(_block_variant(*size, act=act, pool=pool), case)):
                return BLOCK("activation")
    if same_outputs(got, probe(_block_variant(*size, pool=nn.AvgPool2d), case)):
        return BLOCK("avg_pool")
    return None


# --------------------------------------------------------------------------- exercise 2: batch norm

def _bn_cases(rng):
    def case(n, c, h, w, eps=1e-5):
        return dict(x=rng.standard_normal((n, c, h, w)) * 3 + 1, gamma=rng.standard_normal(c) + 1,
                    beta=rng.standard_normal(c), eps=eps)
    return [case(4, 3, 5, 5), case(2, 2, 3, 4), case(1, 4, 6, 6), case(8, 1, 2, 2, eps=1e-3), case(3, 5, 1, 1)]


def _bn_ref(x, gamma, beta, eps):
    out = F.batch_norm(torch.from_numpy(x), None, None, torch.from_numpy(gamma), torch.from_numpy(beta),
                       training=True, eps=eps)
    return out.numpy()


BN = Catalog(
    unbiased=Mistake(
        "unbiased variance",
        nudge="close, but the spread of your output is a little too small",
        hint="use the biased variance (divide by N·H·W, not N·H·W − 1), as batch norm does while training"),
    no_affine=Mistake(
        "scale and shift missing",
        nudge="every channel of your output has mean 0 and variance 1: what do gamma and beta do?",
        hint="the normalised values still need the scale γ and the shift β of their channel: γ·x̂ + β"),
    axes=Mistake(
        "statistics over the wrong axes",
        nudge="the means and variances are taken over the wrong numbers: which values share one γ and β?",
        hint="batch norm takes ONE mean and ONE variance per channel, over the batch and both spatial axes: "
             "axis=(0, 2, 3)"),
    eps_outside=Mistake(
        "eps outside the square root",
        nudge="very close, off in the last digits: where does eps go?",
        hint="add eps to the variance, then take the root: (x − mean) / √(var + eps)"),
)


def _bn_hint(case, got, expected):
    x, gamma, beta, eps = case["x"], case["gamma"], case["beta"], case["eps"]
    got = np.asarray(got)
    if got.shape != expected.shape:
        return None

    def normalise(axes, ddof=0, outside=False):
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True, ddof=ddof)
        return (x - mean) / (np.sqrt(var) + eps if outside else np.sqrt(var + eps))

    def scale(z):
        return gamma[None, :, None, None] * z + beta[None, :, None, None]

    return BN.unique({
        "unbiased": np.allclose(got, scale(normalise((0, 2, 3), ddof=1))),
        "no_affine": np.allclose(got, normalise((0, 2, 3))),
        "axes": any(np.allclose(got, scale(normalise(axes))) for axes in [(0,), (1, 2, 3), (2, 3)]),
        "eps_outside": np.allclose(got, scale(normalise((0, 2, 3), outside=True)), rtol=1e-9, atol=1e-12),
    })


# --------------------------------------------------------------------------- exercise 3: dropout

def _dropout_cases(rng):
    def case(shape, p):
        return dict(x=rng.standard_normal(shape), p=p, keep=rng.random(shape) >= p)
    return [case((4, 6), 0.5), case((2, 3, 4, 4), 0.2), case((5,), 0.0), case((3, 10), 0.8)]


def _dropout_ref(x, p, keep):
    return np.where(keep, x / (1 - p), 0.0)


DROPOUT = Catalog(
    not_scaled=Mistake(
        "kept units not scaled",
        nudge="the kept units come out unchanged: what keeps the expected output equal to the input?",
        hint="scale the kept units by 1/(1 − p), so the expected output equals the input and test time "
             "needs no change"),
    multiplied=Mistake(
        "multiplied by (1 − p)",
        nudge="the kept units are smaller than the input: inverted dropout makes them larger",
        hint="divide by (1 − p) while training; multiplying by (1 − p) at TEST time was the old, "
             "non-inverted dropout"),
    inverted=Mistake(
        "mask inverted",
        nudge="you keep exactly the units that should be dropped",
        hint="keep is True for the units that SURVIVE: np.where(keep, x / (1 − p), 0)"),
    divided_by_p=Mistake(
        "divided by p, not 1 − p",
        nudge="the kept units are scaled by the wrong factor",
        hint="p is the probability of DROPPING a unit; a unit survives with probability 1 − p, so divide by 1 − p"),
)


def _dropout_hint(case, got, expected):
    got = np.asarray(got)
    x, p, keep = case["x"], case["p"], case["keep"]
    if got.shape != expected.shape:
        return None
    with np.errstate(all="ignore"):
        return DROPOUT.unique({
            "not_scaled": np.allclose(got, np.where(keep, x, 0.0)),
            "multiplied": np.allclose(got, np.where(keep, x * (1 - p), 0.0)),
            "inverted": np.allclose(got, np.where(~keep, x / (1 - p), 0.0)),
            "divided_by_p": np.allclose(got, np.where(keep, x / p, 0.0)),
        })


# --------------------------------------------------------------------------- exercise 4: batch norm backward

BN_BACK = Catalog(
    constants=Mistake(
        "mean and variance treated as constants",
        nudge="dx is wrong: what else in the forward pass was computed from x?",
        hint="the batch mean and variance are computed from x too, so dx has three paths; per channel, "
             "dx = γ/σ · (dout − mean(dout) − x̂·mean(dout·x̂)), means over (N, H, W)"),
    variance_path=Mistake(
        "variance path missing",
        nudge="dx has the mean's correction but not all of it: what else was computed from x?",
        hint="the variance depends on x as well: subtract x̂·mean(dout·x̂) too, "
             "dx = γ/σ · (dout − mean(dout) − x̂·mean(dout·x̂))"),
    per_position=Mistake(
        "per-position statistics (axis 0 only)",
        nudge="your statistics have a value per pixel: which values share a channel's γ and β?",
        hint="for feature maps the mean and variance (and the sums for dgamma, dbeta) run over the batch AND "
             "the spatial axes, (0, 2, 3): one set per channel, not per pixel as in a fully connected layer"),
    swapped=Mistake(
        "dgamma and dbeta swapped",
        nudge="dx is right; the two parameter gradients look like each other's",
        hint="β is added, so dbeta = Σ dout; γ multiplies x̂, so dgamma = Σ dout·x̂ (sums over N, H, W)"),
    params_not_summed=Mistake(
        "dgamma, dbeta not summed over (N, H, W)",
        nudge="dgamma and dbeta have more than one number per channel",
        hint="γ and β are shared by every value of their channel: sum over the batch AND both spatial axes, "
             "shape (C,)"),
    gamma_missing=Mistake(
        "γ missing in dx",
        nudge="dx is right when γ is 1 and wrong otherwise",
        hint="the output is γ·x̂ + β, so the gradient reaching x̂ is dout·γ before it goes further back"),
)


def _bn_back_cases(rng):
    return [dict(dout=rng.standard_normal(c["x"].shape), x=c["x"], gamma=c["gamma"], eps=c["eps"])
            for c in _bn_cases(rng)]


def _bn_back_ref(dout, x, gamma, eps):
    _, cache = layers.batchnorm2d_forward(x, gamma, np.zeros_like(gamma), eps)
    return layers.batchnorm2d_backward(dout, cache)


def _bn_back_variant(dout, x, gamma, eps, axes=(0, 2, 3), paths=3, use_gamma=True):
    mean = x.mean(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    x_hat = (x - mean) * inv_std
    g = dout * gamma.reshape(1, -1, 1, 1) if use_gamma else dout
    dx = g
    if paths >= 2:
        dx = dx - g.mean(axis=axes, keepdims=True)
    if paths >= 3:
        dx = dx - x_hat * (g * x_hat).mean(axis=axes, keepdims=True)
    return inv_std * dx, (dout * x_hat).sum(axis=axes), dout.sum(axis=axes)


def _bn_back_hint(case, got, expected):
    parts = _parts(got, 3)
    if parts is None:
        return None
    dx, dgamma, dbeta = parts
    want_dx, want_dgamma, want_dbeta = expected
    dout, x, gamma, eps = case["dout"], case["x"], case["gamma"], case["eps"]
    if dx.shape != want_dx.shape:
        return None
    x_hat, dx_right = _x_hat(x, eps), _close(dx, want_dx)
    per_pixel = _bn_back_variant(dout, x, gamma, eps, axes=0)
    return BN_BACK.unique({
        "constants": _close(dx, _bn_back_variant(dout, x, gamma, eps, paths=1)[0]),
        "variance_path": _close(dx, _bn_back_variant(dout, x, gamma, eps, paths=2)[0]),
        "per_position": _close(dx, per_pixel[0]) and _close(dgamma, per_pixel[1]) and _close(dbeta, per_pixel[2]),
        "gamma_missing": _close(dx, _bn_back_variant(dout, x, gamma, eps, use_gamma=False)[0]),
        "swapped": dx_right and _close(dgamma, want_dbeta) and _close(dbeta, want_dgamma),
        "params_not_summed": dx_right and any(_close(dgamma, (dout * x_hat).sum(axis=axes))
                                              and _close(dbeta, dout.sum(axis=axes))
                                              for axes in (0, (2, 3), (0, 2), (0, 3))),
    })


def _x_hat(x, eps):
    return (x - x.mean(axis=(0, 2, 3), keepdims=True)) / np.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + eps)


def _parts(got, count):
    if not isinstance(got, (tuple, list)) or len(got) != count:
        return None
    try:
        return [np.asarray(g, dtype=np.float64) for g in got]
    except (TypeError, ValueError):
        return None


def _close(got, want) -> bool:
    return got.shape == want.shape and np.allclose(got, want, rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- exercise 5: dropout backward

DROPOUT_BACK = Catalog(
    not_scaled=Mistake(
        "kept gradients not scaled",
        nudge="the gradient of a kept unit is just dout: what did the forward pass do to that unit?",
        hint="the forward pass multiplied kept units by 1/(1 − p), so their gradient is dout/(1 − p)"),
    multiplied=Mistake(
        "multiplied by (1 − p)",
        nudge="the gradients of the kept units are too small",
        hint="the kept units were divided by (1 − p) on the way in: divide dout by (1 − p) on the way back"),
    inverted=Mistake(
        "mask inverted",
        nudge="the gradient flows exactly through the units that were dropped",
        hint="keep is True for the units that survived: only they get a gradient, np.where(keep, dout / (1 − p), 0)"),
    no_mask=Mistake(
        "mask not applied",
        nudge="dropped units get a gradient too: did they change the output?",
        hint="a dropped unit's output was 0 whatever its input: its gradient is 0; apply the forward pass's mask"),
    fresh_mask=Mistake(
        "new mask instead of the forward pass's",
        nudge="the zeros of your gradient fall on other units than those the forward pass dropped",
        hint="reuse the forward pass's mask: the units dropped on the way in are the ones without a gradient; "
             "a new random mask breaks the chain rule"),
)


def _dropout_back_cases(rng):
    def case(shape, p):
        return dict(dout=rng.standard_normal(shape), keep=rng.random(shape) >= p, p=p)
    return [case((4, 6), 0.5), case((2, 3, 4, 4), 0.2), case((4, 5), 0.3), case((3, 10), 0.8)]


def _dropout_back_ref(dout, keep, p):
    return layers.dropout_backward(dout, (keep, 1 / (1 - p)))


def _dropout_back_hint(case, got, expected):
    dout, keep, p = case["dout"], case["keep"], case["p"]
    got = np.asarray(got, dtype=np.float64)
    if got.shape != expected.shape:
        return None
    scaled = dout / (1 - p)
    kept = got != 0
    return DROPOUT_BACK.unique({
        "not_scaled": np.allclose(got, np.where(keep, dout, 0.0)),
        "multiplied": np.allclose(got, np.where(keep, dout * (1 - p), 0.0)),
        "inverted": np.allclose(got, np.where(~keep, scaled, 0.0)),
        "no_mask": np.allclose(got, scaled),
        "fresh_mask": bool((kept != keep).any() and (kept != ~keep).any() and kept.any() and (~kept).any()
                           and np.allclose(got[kept], scaled[kept])),
    })


EXERCISES = [
    Exercise(name="vgg_block", chapter="05", points=3, cases=_block_cases, reference=_block_ref,
             probe=BLOCK_PROBE, diagnose=_block_hint, forbidden=("cnnlab.models",),
             rtol=1e-4, atol=1e-5, description="[conv3×3-ReLU] × num_convs, then a 2×2 max pool"),
    Exercise(name="batchnorm_forward", chapter="05", points=2, cases=_bn_cases, reference=_bn_ref,
             diagnose=_bn_hint, forbidden=("torch", "cnnlab"), rtol=1e-6, atol=1e-8,
             description="batch norm in training mode over (N, C, H, W) with NumPy"),
    Exercise(name="dropout_forward", chapter="05", points=1, cases=_dropout_cases, reference=_dropout_ref,
             diagnose=_dropout_hint, forbidden=("torch", "cnnlab"),
             description="inverted dropout with a given keep mask"),
    Exercise(name="batchnorm_backward", chapter="05", points=3, cases=_bn_back_cases, reference=_bn_back_ref,
             diagnose=_bn_back_hint, forbidden=("torch", "cnnlab"), rtol=1e-6, atol=1e-9,
             description="batch norm's gradients for feature maps, in the simplified closed form"),
    Exercise(name="dropout_backward", chapter="05", points=1, cases=_dropout_back_cases,
             reference=_dropout_back_ref, diagnose=_dropout_back_hint, forbidden=("torch", "cnnlab"),
             description="inverted dropout's gradient, with the forward pass's mask"),
]

MISTAKES = {"vgg_block": BLOCK, "batchnorm_forward": BN, "dropout_forward": DROPOUT,
            "batchnorm_backward": BN_BACK, "dropout_backward": DROPOUT_BACK}
