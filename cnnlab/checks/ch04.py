"""Exercises of lesson 04: LeNet-5, layer by layer, looking at what it learned, and the update rules that train it."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from cnnlab import optim
from cnnlab.checks import Exercise, Mistake, Probe
from cnnlab.checks.mistakes import Catalog
from cnnlab.experiments.ch04 import shift_images

LENET_INPUT = 28          # Fashion-MNIST images; padding 2 in the first conv gives LeNet's 32×32 view


# --------------------------------------------------------------------------- comparing probed networks

def network_difference(got, expected, what: str) -> tuple[str, str] | None:
    """(kind, text) of the first way a probed network differs: "layers", "layer_shape", "count", "output".

    The text names the numbers (e.g. "layer 2 with weights outputs (2, 16, 8, 8), expected
    (2, 16, 10, 10)"); each exercise decides which mistake a kind of difference points to.
    """
    count, shape, layers, _ = got
    want_count, want_shape, want_layers, _ = expected
    if len(layers) != len(want_layers):
        return "layers", f"your network has {len(layers)} conv/fully connected layers, {what} has {len(want_layers)}"
    for i, (g, e) in enumerate(zip(layers, want_layers)):
        g, e = tuple(int(n) for n in g), tuple(int(n) for n in e)
        if g != e:
            return "layer_shape", f"layer {i + 1} with weights outputs {g}, expected {e}"
    if int(count) != int(want_count):
        return "count", f"{int(count):,} parameters, expected {int(want_count):,}"
    shape, want_shape = tuple(int(n) for n in shape), tuple(int(n) for n in want_shape)
    if shape != want_shape:
        return "output", f"output shape {shape}, expected {want_shape}"
    return None


def probe_for(case, default):
    """The probe that made the answer: the one the grader names in ``case["probe"]`` (drawn for its run)
    when it does, else the exercise's own; a variant probed the same way gets the same weights and inputs."""
    return case.get("probe", default)


def same_outputs(got, other) -> bool:
    """True when two probed networks give (nearly) the same outputs."""
    return got[3].shape == other[3].shape and np.allclose(got[3], other[3], rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- exercise 1: LeNet-5

def _lenet_cases(rng):
    return [dict(num_classes=10, in_channels=1), dict(num_classes=7, in_channels=1),
            dict(num_classes=10, in_channels=3), dict(num_classes=int(rng.integers(2, 6)), in_channels=2)]


def _lenet_ref(num_classes, in_channels):
    from cnnlab.models import lenet5          # imported when the reference runs (in the checking process only)

    return lenet5(num_classes, variant="classic", in_channels=in_channels)


LENET = Catalog(
    no_padding=Mistake(
        "conv1 without padding",
        nudge="the first conv's output is 24×24: LeNet's first feature maps are 28×28",
        hint="the first conv shrinks 28×28 to 24×24 without padding: give it padding=2 (LeNet saw 32×32 "
             "images), and keep 16·5·5 = 400 inputs for the first fully connected layer"),
    activation=Mistake(
        "activation not sigmoid",
        nudge="shapes and parameters match but the outputs differ: what comes after each conv and hidden layer?",
        hint="the 1998 LeNet squashes with a sigmoid (nn.Sigmoid) after every conv and hidden fully connected "
             "layer; ReLU and tanh belong to later networks"),
    pooling=Mistake(
        "max pooling instead of average",
        nudge="shapes and parameters match but the outputs differ: how does each 2×2 window become one number?",
        hint="the 1998 LeNet averages each 2×2 window (nn.AvgPool2d(2)); max pooling came later"),
    sizes=Mistake(
        "layer sizes differ",
        nudge="{difference}",
        hint="LeNet-5's layers: conv 6@5×5 (padding 2), pool, conv 16@5×5, pool, then 400 → 120 → 84 → "
             "num_classes"),
    arguments=Mistake(
        "num_classes or in_channels ignored",
        nudge="your network is right for 10 classes and 1 channel only: {difference}",
        hint="build the first conv with in_channels inputs and the last layer with num_classes outputs, from "
             "the function's arguments"),
)


LENET_PROBE = Probe("network", (("size", LENET_INPUT),))


def _lenet_variant(num_classes, in_channels, act=nn.Sigmoid, pool=nn.AvgPool2d):
    """LeNet-5 with another activation or pooling: used to recognise which one a learner chose."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5, padding=2), act(), pool(2), nn.Conv2d(6, 16, 5), act(), pool(2),
        nn.Flatten(), nn.Linear(400, 120), act(), nn.Linear(120, 84), act(), nn.Linear(84, num_classes))


def _lenet_hint(case, got, expected):
    layers, shape = got[2], tuple(int(n) for n in got[1])
    if layers and tuple(layers[0])[-1] == LENET_INPUT - 4:
        return LENET("no_padding")
    found = network_difference(got, expected, "LeNet-5")
    if found is not None:
        kind, text = found
        if kind in ("layer_shape", "output") and shape[-1] == 10 != case["num_classes"]:
            return LENET("arguments", difference=f"the output has 10 classes, {case['num_classes']} were asked for")
        return LENET("sizes", difference=text)
    probe, size = probe_for(case, LENET_PROBE), (case["num_classes"], case["in_channels"])
    for act in (nn.ReLU, nn.Tanh):
        for pool in (nn.AvgPool2d, nn.MaxPool2d):
            if same_outputs(got, probe(_lenet_variant(*size, act=act, pool=pool), case)):
                return LENET("activation")
    if same_outputs(got, probe(_lenet_variant(*size, pool=nn.MaxPool2d), case)):
        return LENET("pooling")
    return None


# --------------------------------------------------------------------------- exercise 2: shift images

def _shift_cases(rng):
    def images(n, h, w):
        return rng.standard_normal((n, h, w))
    return [dict(images=images(2, 6, 6), k=2, fill=0.0),
            dict(images=images(3, 5, 7), k=-3, fill=-0.5),
            dict(images=images(1, 4, 4), k=0, fill=0.0),
            dict(images=images(2, 4, 5), k=5, fill=1.0),
            dict(images=images(2, 4, 5), k=-9, fill=0.0),
            dict(images=images(2, 8, 3), k=1, fill=0.25)]


def _shift_ref(images, k, fill):
    x = torch.from_numpy(images)[:, None]                                    # (N, 1, H, W)
    return shift_images(x, dx=k, fill=fill)[:, 0].numpy()                    # (N, H, W)


SHIFT = Catalog(
    wrapped=Mistake(
        "pixels wrapped around",
        nudge="the pixels that leave one edge come back at the other",
        hint="np.roll wraps around: what leaves one edge must be lost and `fill` must enter instead; copy the "
             "kept columns into an array filled with `fill`"),
    direction=Mistake(
        "shifted left",
        nudge="the picture moves, but the wrong way",
        hint="a positive k moves the picture to the right: out[:, :, k:] = images[:, :, :W − k]"),
    fill_ignored=Mistake(
        "fill ignored",
        nudge="the uncovered pixels hold 0, not `fill`",
        hint="start from an array filled with `fill` (np.full_like(images, fill)), not zeros"),
    rows=Mistake(
        "shifted down instead of right",
        nudge="the picture moves along the wrong axis",
        hint="images are (N, H, W): right means along the last axis, W (columns), not H (rows)"),
)


def _shift_hint(case, got, expected):
    got = np.asarray(got)
    images, k, fill = case["images"], case["k"], case["fill"]
    if got.shape != expected.shape:
        return None
    return SHIFT.unique({
        "wrapped": np.allclose(got, np.roll(images, k, axis=2)),
        "direction": np.allclose(got, _shift_ref(images, -k, fill)),
        "fill_ignored": fill != 0 and np.allclose(got, _shift_ref(images, k, 0.0)),
        "rows": np.allclose(got, _shift_rows(images, k, fill)),
    })


def _shift_rows(images, k, fill):
    """The images moved k rows down (the wrong axis), uncovered rows filled."""
    out = np.full_like(images, fill)
    h = images.shape[1]
    if abs(k) < h:
        if k >= 0:
            out[:, k:] = images[:, :h - k]
        else:
            out[:, :h + k] = images[:, -k:]
    return out


# --------------------------------------------------------------------------- exercise 3: confusion matrix

def _confusion_cases(rng):
    cases = []
    for n, k in [(20, 3), (50, 4), (7, 5), (100, 10)]:
        y_true = rng.integers(0, k, n)
        y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, n))
        cases.append(dict(y_true=y_true, y_pred=y_pred, num_classes=k))
    cases.append(dict(y_true=np.array([0, 0, 1, 2, 2, 2]), y_pred=np.array([1, 1, 2, 2, 0, 2]), num_classes=4))
    k = int(rng.integers(5, 9))                                  # the last classes never occur
    cases.append(dict(y_true=rng.integers(0, k - 2, 30), y_pred=rng.integers(0, k - 2, 30), num_classes=k))
    return cases


def _confusion_ref(y_true, y_pred, num_classes):
    from cnnlab.viz.training import confusion_matrix   # rows: true class, columns: predicted class

    return confusion_matrix(y_true, y_pred, num_classes)


CONFUSION = Catalog(
    transposed=Mistake(
        "rows and columns swapped",
        nudge="your matrix is the transpose of the right one: which index is the true class?",
        hint="rows and columns are swapped: row i counts the images whose TRUE class is i, column j those "
             "predicted as j"),
    sized_by_data=Mistake(
        "size taken from the labels",
        nudge="your matrix is smaller than num_classes × num_classes when a class never occurs",
        hint="make it num_classes × num_classes from the argument, even when a class never occurs"),
    fractions=Mistake(
        "fractions instead of counts",
        nudge="your matrix holds fractions: the entries should be whole numbers of images",
        hint="count: each (true, predicted) pair adds 1; do not divide by the number of images or by the row sums"),
    capped=Mistake(
        "counts capped at 1",
        nudge="no entry is above 1, yet several images share a (true, predicted) pair",
        hint="add 1 for every pair (matrix[t, p] += 1); assigning (= 1) only records that a pair occurred"),
)


def _confusion_hint(case, got, expected):
    got = np.asarray(got)
    y_true, y_pred = case["y_true"], case["y_pred"]
    if got.shape != expected.shape:
        size = max(y_true.max(), y_pred.max()) + 1
        return CONFUSION("sized_by_data") if got.shape == (size, size) else None
    rows = expected.sum(axis=1, keepdims=True)
    return CONFUSION.unique({
        "transposed": np.array_equal(got, expected.T),
        "fractions": (np.allclose(got, expected / len(y_true))
                      or np.allclose(got, np.divide(expected, rows, out=np.zeros(expected.shape), where=rows > 0))),
        "capped": np.array_equal(got, (expected > 0).astype(expected.dtype)),
    })


# --------------------------------------------------------------------------- exercise 4: SGD with momentum

SGD = Catalog(
    ascent=Mistake(
        "step sign flipped",
        nudge="your weights move uphill: which way does the gradient point?",
        hint="the gradient points uphill; step against it: w − lr·step"),
    no_momentum=Mistake(
        "momentum ignored",
        nudge="your step is just the gradient: where does the velocity you were given come in?",
        hint="velocity ← momentum·velocity + dw, then w ← w − lr·velocity (the velocity remembers past steps)"),
    lr_inside=Mistake(
        "learning rate folded into the velocity",
        nudge="your velocity is about lr times the one expected, with the opposite sign",
        hint="that is the other textbook convention (v ← μv − lr·g, w ← w + v); here, as in torch.optim.SGD, "
             "the velocity is a running sum of gradients: v ← μv + g, w ← w − lr·v"),
    dampened=Mistake(
        "velocity dampened by (1 − momentum)",
        nudge="your velocity grows more slowly than expected",
        hint="v ← momentum·v + dw, without the (1 − momentum) in front of dw (torch's default dampening is 0; "
             "(1 − momentum) makes an average, Adam's m)"),
    nesterov_ignored=Mistake(
        "Nesterov ignored",
        nudge="right without Nesterov, wrong with nesterov=True",
        hint="with Nesterov the step looks ahead: w ← w − lr·(dw + momentum·velocity), using the NEW velocity"),
    nesterov_no_grad=Mistake(
        "Nesterov step without the gradient",
        nudge="right without Nesterov; with it, your step is too short",
        hint="Nesterov's step is dw + momentum·velocity (the new velocity): the gradient itself, plus the "
             "look-ahead"),
    stale=Mistake(
        "velocity returned unchanged",
        nudge="the weights are right but the velocity you return is the one you were given",
        hint="return the updated velocity: the next step needs it"),
)


def _sgd_cases(rng):
    def case(shape, zeros, lr, momentum, nesterov):
        velocity = np.zeros(shape) if zeros else rng.standard_normal(shape)
        return dict(w=rng.standard_normal(shape), dw=rng.standard_normal(shape), velocity=velocity, lr=lr,
                    momentum=momentum, nesterov=nesterov)
    return [case((3, 4), True, 0.1, 0.9, False),           # the first step: the velocity starts at 0
            case((5,), False, 0.05, 0.9, False), case((2, 3), False, 0.1, 0.5, True),
            case((4,), True, 0.01, 0.9, True), case((2, 2, 3), False, 0.2, 0.99, False),
            case((3,), False, 0.1, 0.8, True)]


def _sgd_ref(w, dw, velocity, lr, momentum, nesterov):
    return optim.sgd_step(w, dw, velocity, lr, momentum, nesterov)


def _pair_is(got, w, v) -> bool:
    try:
        gw, gv = (np.asarray(a, dtype=np.float64) for a in got)
    except (TypeError, ValueError):
        return False
    return gw.shape == w.shape and gv.shape == v.shape and np.allclose(gw, w) and np.allclose(gv, v)


def _sgd_hint(case, got, expected):
    w, g, v, lr, mu, nesterov = (case[k] for k in ("w", "dw", "velocity", "lr", "momentum", "nesterov"))
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return None
    new_v = mu * v + g
    cs231n_v = mu * v - lr * g
    cs231n_w = w - mu * v + (1 + mu) * cs231n_v if nesterov else w + cs231n_v
    dampened_v = mu * v + (1 - mu) * g
    return SGD.unique({
        "ascent": _pair_is(got, 2 * w - expected[0], new_v),
        "no_momentum": _pair_is(got, w - lr * g, g),
        "lr_inside": _pair_is(got, cs231n_w, cs231n_v),
        "dampened": _pair_is(got, w - lr * ((g + mu * dampened_v) if nesterov else dampened_v), dampened_v),
        "nesterov_ignored": nesterov and _pair_is(got, w - lr * new_v, new_v),
        "nesterov_no_grad": nesterov and _pair_is(got, w - lr * mu * new_v, new_v),
        "stale": _pair_is(got, expected[0], v),
    })


# --------------------------------------------------------------------------- exercise 5: Adam

ADAM = Catalog(
    no_correction=Mistake(
        "bias correction missing",
        nudge="the first steps are far too small (or too large): m and v start at 0",
        hint="divide by the bias corrections before stepping: m̂ = m / (1 − β1^t), v̂ = v / (1 − β2^t)"),
    eps_inside=Mistake(
        "eps inside the square root",
        nudge="right for large gradients, off where the gradients are tiny",
        hint="eps is added after the root: lr·m̂ / (√v̂ + eps), not lr·m̂ / √(v̂ + eps)"),
    not_squared=Mistake(
        "v: gradient not squared",
        nudge="v does not grow like the gradient's square",
        hint="v averages the SQUARED gradient: v ← β2·v + (1 − β2)·dw²"),
    betas_swapped=Mistake(
        "betas swapped",
        nudge="m and v move at each other's speed",
        hint="β1 (0.9) goes with m, the gradient's average; β2 (0.999) with v, the squared gradient's average"),
    wrong_step=Mistake(
        "bias correction: wrong step number",
        nudge="the step size is off by a little, most on the first steps",
        hint="t is the number of this step, 1 on the first: correct by 1 − β^t with that t (not t + 1 or t − 1)"),
    ascent=Mistake(
        "step sign flipped",
        nudge="m and v are right but the weights move uphill",
        hint="step against the gradient: w − lr·m̂ / (√v̂ + eps)"),
)


def _adam_cases(rng):
    def case(shape, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, scale=1.0, fresh=False):
        m = np.zeros(shape) if fresh else rng.standard_normal(shape) * 0.1 * scale
        v = np.zeros(shape) if fresh else rng.random(shape) * 0.01 * scale ** 2
        return dict(w=rng.standard_normal(shape), dw=rng.standard_normal(shape) * scale, m=m, v=v, t=t, lr=lr,
                    beta1=betas[0], beta2=betas[1], eps=eps)
    return [case((3, 4), 1, fresh=True),                      # the first step
            case((5,), 2, lr=0.01), case((2, 3), 10, betas=(0.5, 0.9)),
            case((4,), 1000, lr=0.1),
            case((3, 3), 3, eps=1e-3, scale=1e-4),            # tiny gradients: where eps matters
            case((6,), 1, eps=1e-3, scale=1e-3, fresh=True)]


def _adam_ref(w, dw, m, v, t, lr, beta1, beta2, eps):
    return optim.adam_step(w, dw, m, v, t, lr, beta1, beta2, eps)


def _triple_is(got, w, m, v) -> bool:
    try:
        parts = [np.asarray(a, dtype=np.float64) for a in got]
    except (TypeError, ValueError):
        return False
    return len(parts) == 3 and all(p.shape == q.shape and np.allclose(p, q, rtol=1e-6, atol=1e-12)
                                   for p, q in zip(parts, (w, m, v)))


def _adam_variant(w, g, m, v, t, lr, b1, b2, eps, correct=(True, True), root_eps=False, square=True, step=0,
                  sign=-1):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * (g * g if square else np.abs(g))
    m_hat = m / (1 - b1 ** (t + step)) if correct[0] else m
    v_hat = v / (1 - b2 ** (t + step)) if correct[1] else v
    denom = np.sqrt(v_hat + eps) if root_eps else np.sqrt(v_hat) + eps
    return w + sign * lr * m_hat / denom, m, v


def _adam_hint(case, got, expected):
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return None
    w, g, m, v, t, lr, b1, b2, eps = (case[k] for k in ("w", "dw", "m", "v", "t", "lr", "beta1", "beta2", "eps"))
    args = (w, g, m, v, t, lr)
    return ADAM.unique({
        "no_correction": _triple_is(got, *_adam_variant(*args, b1, b2, eps, correct=(False, False))),
        "eps_inside": _triple_is(got, *_adam_variant(*args, b1, b2, eps, root_eps=True)),
        "not_squared": _triple_is(got, *_adam_variant(*args, b1, b2, eps, square=False)),
        "betas_swapped": _triple_is(got, *_adam_variant(*args, b2, b1, eps)),
        "wrong_step": any(_triple_is(got, *_adam_variant(*args, b1, b2, eps, step=d)) for d in (1, -1) if t + d > 0),
        "ascent": _triple_is(got, *_adam_variant(*args, b1, b2, eps, sign=1)),
    })


# --------------------------------------------------------------------------- exercise 6: weight decay, two ways

DECAY = Catalog(
    swapped=Mistake(
        "L2 and decoupled swapped",
        nudge="each kind of decay comes out as the other one",
        hint="decoupled=False is the L2 term (added to the gradient, dw + λ·w, then rescaled by Adam); "
             "decoupled=True is AdamW (shrink the weights, w·(1 − lr·λ), then the plain Adam step)"),
    lr_missing=Mistake(
        "decoupled decay without the learning rate",
        nudge="with decoupled=True the weights shrink far too much",
        hint="AdamW shrinks by the factor (1 − lr·λ), not (1 − λ): the decay is a step like the others"),
    after=Mistake(
        "decay applied after the step",
        nudge="with decoupled=True you are close but not exact: in which order do the two parts happen?",
        hint="AdamW shrinks the current weights first, w ← w·(1 − lr·λ), then takes the Adam step "
             "(torch's order)"),
    ignored=Mistake(
        "decay ignored",
        nudge="your answer is the plain Adam step: where does weight_decay come in?",
        hint="L2: pass dw + λ·w to Adam; decoupled: pass w·(1 − lr·λ) as the weights"),
    l2_sign=Mistake(
        "L2 term with the wrong sign",
        nudge="with decoupled=False the weights grow instead of shrinking",
        hint="the gradient of (λ/2)·‖w‖² is +λ·w: use dw + λ·w"),
)


def _decay_cases(rng):
    def case(shape, t, lr, decay, decoupled):
        return dict(w=rng.standard_normal(shape), dw=rng.standard_normal(shape), m=rng.standard_normal(shape) * 0.1,
                    v=rng.random(shape) * 0.01, t=t, lr=lr, beta1=0.9, beta2=0.999, eps=1e-8,
                    weight_decay=decay, decoupled=decoupled)
    return [case((3, 4), 1, 0.1, 0.1, False), case((3, 4), 1, 0.1, 0.1, True),
            case((5,), 3, 0.01, 0.5, True), case((2, 3), 2, 0.05, 0.5, False),
            case((4,), 10, 0.2, 0.3, True), case((6,), 5, 0.1, 0.01, False)]


def _decay_ref(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay, decoupled):
    return optim.adam_step(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay, decoupled)


def _decay_hint(case, got, expected):
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return None
    w, g, lam, lr, decoupled = (case[k] for k in ("w", "dw", "weight_decay", "lr", "decoupled"))
    rest = {k: case[k] for k in ("m", "v", "t", "lr", "beta1", "beta2", "eps")}

    def adam(w, g):
        return optim.adam_step(w, g, **rest)

    plain_w, plain_m, plain_v = adam(w, g)
    return DECAY.unique({
        "swapped": _triple_is(got, *(adam(w, g + lam * w) if decoupled else adam(w * (1 - lr * lam), g))),
        "lr_missing": decoupled and _triple_is(got, *adam(w * (1 - lam), g)),
        "after": decoupled and _triple_is(got, plain_w * (1 - lr * lam), plain_m, plain_v),
        "ignored": _triple_is(got, plain_w, plain_m, plain_v),
        "l2_sign": not decoupled and _triple_is(got, *adam(w, g - lam * w)),
    })


EXERCISES = [
    Exercise(name="lenet_classic", chapter="04", points=4, cases=_lenet_cases, reference=_lenet_ref,
             probe=LENET_PROBE, diagnose=_lenet_hint, forbidden=("cnnlab.models",),
             rtol=1e-4, atol=1e-5,
             description="build the 1998 LeNet-5 (sigmoid, average pooling) for 28×28 images"),
    Exercise(name="shift_right", chapter="04", points=2, cases=_shift_cases, reference=_shift_ref,
             diagnose=_shift_hint, forbidden=("torch", "cnnlab", "scipy"),
             description="move images k pixels to the right without wrapping around"),
    Exercise(name="confusion_matrix", chapter="04", points=2, cases=_confusion_cases, reference=_confusion_ref,
             diagnose=_confusion_hint, forbidden=("torch", "cnnlab", "sklearn"),
             description="count (true class, predicted class) pairs"),
    Exercise(name="sgd_momentum", chapter="04", points=2, cases=_sgd_cases, reference=_sgd_ref,
             diagnose=_sgd_hint, forbidden=("torch", "cnnlab"), rtol=1e-9, atol=1e-12,
             description="one step of SGD with momentum, Nesterov's look-ahead included, as torch.optim.SGD takes it"),
    Exercise(name="adam", chapter="04", points=3, cases=_adam_cases, reference=_adam_ref,
             diagnose=_adam_hint, forbidden=("torch", "cnnlab"), rtol=1e-9, atol=1e-12,
             description="one step of Adam with bias correction, as torch.optim.Adam takes it"),
    Exercise(name="adam_weight_decay", chapter="04", points=2, cases=_decay_cases, reference=_decay_ref,
             diagnose=_decay_hint, forbidden=("torch", "cnnlab"), rtol=1e-9, atol=1e-12, uses=("adam",),
             description="weight decay as an L2 term (Adam) or decoupled (AdamW), built on your adam"),
]

MISTAKES = {"lenet_classic": LENET, "shift_right": SHIFT, "confusion_matrix": CONFUSION, "sgd_momentum": SGD,
            "adam": ADAM, "adam_weight_decay": DECAY}
