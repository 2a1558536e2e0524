"""Classic mistakes planted into the course's own solution cells, one edit at a time.

A ``Plant`` names an exercise, the label its ``diagnose`` must give, and text edits that turn
the solution cell into a learner's cell with that mistake (each ``old`` must occur in the
cell). ``cell`` says which cell to edit when the mistake sits in a cell the exercise uses
(the capstone with a broken layer). ``tests/test_mistakes.py`` checks that every plant fails
with its label and that every mistake a chapter declares (``MISTAKES``) is planted;
``tests/class_fixtures.py`` writes whole notebooks with chosen plants.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from solution_cells import function_from_cells, graded_sources, notebook_path

from cnnlab.checks import get


@dataclass(frozen=True)
class Plant:
    """One classic mistake, planted by editing a solution cell."""

    exercise: str
    label: str
    edits: tuple[tuple[str, str], ...]
    cell: str | None = None               # the cell to edit; None: the exercise's own

    @property
    def target(self) -> str:
        return self.cell or self.exercise

    @property
    def id(self) -> str:
        return f"{self.exercise}: {self.label}"


def plant(exercise: str, label: str, *edits: tuple[str, str], cell: str | None = None) -> Plant:
    return Plant(exercise, label, tuple(edits), cell)


@lru_cache(maxsize=None)
def solution_sources(chapter: str) -> dict[str, str]:
    """grade_id -> solution cell source for one chapter."""
    return graded_sources(notebook_path(chapter))


def edited(source: str, edits: tuple[tuple[str, str], ...], what: str) -> str:
    for old, new in edits:
        if old not in source:
            raise AssertionError(f"{what}: the solution cell no longer contains {old!r}; update the plant")
        source = source.replace(old, new)
    return source


def planted_sources(p: Plant) -> dict[str, str]:
    """The chapter's solution cells with ``p`` planted."""
    sources = dict(solution_sources(get(p.exercise).chapter))
    sources[p.target] = edited(sources[p.target], p.edits, p.id)
    return sources


def planted_function(p: Plant):
    """The exercise's function, run from its cells with the mistake planted."""
    return function_from_cells(p.exercise, planted_sources(p), p.id)


# --------------------------------------------------------------------------- lesson 01

CH01 = [
    plant("conv2d_single", "size: off by one",
          ("oh, ow = x.shape[0] - kh + 1, x.shape[1] - kw + 1", "oh, ow = x.shape[0] - kh, x.shape[1] - kw")),
    plant("conv2d_single", "size: padded to the input's size",
          ("    kh, kw = w.shape\n", "    kh, kw = w.shape\n    x = np.pad(x, ((kh // 2, (kh - 1) // 2), (kw // 2, (kw - 1) // 2)))\n")),
    plant("conv2d_single", "kernel flipped", ("* w)", "* w[::-1, ::-1])")),
    plant("conv2d_single", "kernel transposed", ("* w)", "* w.T)")),
    plant("conv2d_multi", "stride ignored",
          ("    f_count, _, kh, kw = w.shape\n", "    f_count, _, kh, kw = w.shape\n    stride = 1\n")),
    plant("conv2d_multi", "padding missing", ("(padding, padding), (padding, padding)", "(0, 0), (0, 0)")),
    plant("conv2d_multi", "padding on one side only", ("(padding, padding), (padding, padding)", "(padding, 0), (padding, 0)")),
    plant("conv2d_multi", "size rounded up",
          ("oh = (xp.shape[1] - kh) // stride + 1", "oh = -(-(xp.shape[1] - kh) // stride) + 1"),
          ("ow = (xp.shape[2] - kw) // stride + 1",
           "ow = -(-(xp.shape[2] - kw) // stride) + 1\n    xp = np.pad(xp, ((0, 0), (0, stride), (0, stride)))")),
    plant("conv2d_multi", "channels not summed",
          ("out = np.zeros((f_count, oh, ow))", "out = np.zeros((f_count, x.shape[0], oh, ow))"),
          ("out[f, i, j] = np.sum(window * w[f]) + b[f]", "out[f, :, i, j] = np.sum(window * w[f], axis=(1, 2)) + b[f]")),
    plant("conv2d_multi", "bias missing", (" + b[f]", "")),
    plant("conv2d_multi", "kernel flipped", ("window * w[f]", "window * w[f, :, ::-1, ::-1]")),
    plant("conv1x1", "w transposed", ('"fc,chw->fhw"', '"cf,chw->fhw"')),
    plant("conv1x1", "channels not summed", ('"fc,chw->fhw"', '"fc,chw->fchw"')),
    plant("conv1x1", "channel axis last", ('"fc,chw->fhw"', '"fc,chw->hwf"')),
]

# --------------------------------------------------------------------------- lesson 02

CH02 = [
    plant("output_size", "off by one", ("// stride + 1", "// stride")),
    plant("output_size", "rounded up", ("return (n + 2 * padding - span) // stride + 1",
                                        "return -(-(n + 2 * padding - span) // stride) + 1")),
    plant("output_size", "dilation ignored", ("span = dilation * (k - 1) + 1", "span = k")),
    plant("output_size", "padding on one side only", ("n + 2 * padding", "n + padding")),
    plant("output_size", "stride not divided", ("// stride + 1", "+ 1")),
    plant("output_size", "true division instead of floor", ("// stride", "/ stride")),
    plant("conv_param_count", "input channels ignored", ("filters * in_channels * kh * kw", "filters * kh * kw")),
    plant("conv_param_count", "bias missing", ("(filters if bias else 0)", "0")),
    plant("conv_param_count", "bias counted when bias=False", ("(filters if bias else 0)", "filters")),
    plant("conv_param_count", "one bias per kernel slice", ("(filters if bias else 0)", "(filters * in_channels if bias else 0)")),
    plant("receptive_field_size", "strides ignored", ("        jump *= s\n", "")),
    plant("receptive_field_size", "own stride included",
          ("        field += (k - 1) * jump\n        jump *= s\n", "        jump *= s\n        field += (k - 1) * jump\n")),
    plant("receptive_field_size", "kernel sizes added", ("    return field\n", "    return sum(kernels)\n")),
]

# --------------------------------------------------------------------------- lesson 03

CH03 = [
    plant("conv_backward", "dx: kernel not rotated", ("w[:, :, m, q])      # (N, C, OH, OW)", "w[:, :, kh - 1 - m, kw - 1 - q])")),
    plant("conv_backward", "db: missing", ("    return dx, dw, db\n", "    return dx, dw\n")),
    plant("conv_backward", "db: not summed over the batch", ("db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=(2, 3))")),
    plant("conv_backward", "db: positions not summed", ("db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=0)")),
    plant("conv_backward", "dw: first image only",
          ('np.einsum("nfij,ncij->fc", dout, xp[:, :, rows, cols])', 'np.einsum("fij,cij->fc", dout[0], xp[0, :, rows, cols])')),
    plant("conv_backward", "stride ignored in the backward pass",
          ("rows, cols = slice(m, m + s * (oh - 1) + 1, s), slice(q, q + s * (ow - 1) + 1, s)",
           "rows, cols = slice(m, m + oh), slice(q, q + ow)")),
    plant("conv_backward", "dx: padding not cropped", ("dx = dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]]", "dx = dxp")),
    plant("maxpool_forward", "size: off by one",
          ("oh, ow = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1", "oh, ow = (x.shape[2] - k) // s, (x.shape[3] - k) // s")),
    plant("maxpool_forward", "size rounded up",
          ("oh, ow = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1",
           "oh, ow = -(-(x.shape[2] - k) // s) + 1, -(-(x.shape[3] - k) // s) + 1\n"
           "    x = np.pad(x, ((0, 0), (0, 0), (0, s), (0, s)), constant_values=-np.inf)")),
    plant("maxpool_forward", "stride taken as the window size", ("k, s = kernel_size, stride", "k, s = kernel_size, kernel_size")),
    plant("maxpool_forward", "mean instead of max",
          ("    out = np.full(x.shape[:2] + (oh, ow), -np.inf)", "    out = np.zeros(x.shape[:2] + (oh, ow))"),
          ("out = np.maximum(out, entry)", "out = out + entry / (k * k)")),
    plant("maxpool_backward", "overlapping windows overwrite", ("dx[:, :, rows, cols] += np.where(", "dx[:, :, rows, cols] = np.where(")),
    plant("maxpool_backward", "gradient spread over the window",
          ("dx[:, :, rows, cols] += np.where(argmax == e, dout, 0.0)", "dx[:, :, rows, cols] += dout / (k * k)")),
    plant("maxpool_backward", "gradient copied to the whole window",
          ("dx[:, :, rows, cols] += np.where(argmax == e, dout, 0.0)", "dx[:, :, rows, cols] += dout")),
    plant("avgpool_backward", "share not divided", ("share = dout / (k * k)", "share = dout")),
    plant("avgpool_backward", "divided by K, not K·K", ("share = dout / (k * k)", "share = dout / k")),
    plant("avgpool_backward", "overlapping windows overwrite", ("+= share", "= share")),
    plant("avgpool_backward", "dx: padding not cropped", ("return dxp[:, :, p:p + h, p:p + w]", "return dxp")),
    plant("avgpool_backward", "padding left out of the count",
          ("share = dout / (k * k)",
           "real = np.pad(np.ones((h, w)), p)\n"
           "    counts = np.array([[real[i * s:i * s + k, j * s:j * s + k].sum() for j in range(ow)] for i in range(oh)])\n"
           "    share = dout / counts")),
    plant("relu_backward", "mask taken from dout", ("(x > 0)", "(dout > 0)")),
    plant("relu_backward", "multiplied by the input", ("(x > 0)", "np.maximum(x, 0)")),
    plant("relu_backward", "gradient passed at x = 0", ("(x > 0)", "(x >= 0)")),
    plant("relu_backward", "dout not applied", ("return dout * (x > 0)", "return (x > 0).astype(float)")),
    plant("relu_backward", "mask inverted", ("(x > 0)", "(x < 0)")),
    plant("linear_backward", "dx: not reshaped to x's shape", ("(dout @ w).reshape(x.shape)", "dout @ w")),
    plant("linear_backward", "dx: w transposed", ("(dout @ w).reshape(x.shape)", "(dout @ w.T).reshape(x.shape)")),
    plant("linear_backward", "dw: transposed", ("dw = dout.T @ x_flat", "dw = x_flat.T @ dout")),
    plant("linear_backward", "db: not summed over the batch", ("db = dout.sum(axis=0)", "db = dout")),
    plant("linear_backward", "dw, db: divided by the batch size",
          ("dw = dout.T @ x_flat", "dw = dout.T @ x_flat / n"), ("db = dout.sum(axis=0)", "db = dout.mean(axis=0)")),
    plant("softmax_cross_entropy", "overflow: max not subtracted",
          ("shifted = logits - logits.max(axis=1, keepdims=True)", "shifted = logits")),
    plant("softmax_cross_entropy", "log of an underflowed probability",
          ("log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
           "log_probs = np.log(np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True))")),
    plant("softmax_cross_entropy", "loss: summed, not averaged", (".mean()", ".sum()")),
    plant("softmax_cross_entropy", "dlogits: not divided by N", ("return loss, dlogits / n", "return loss, dlogits")),
    plant("softmax_cross_entropy", "dlogits: one-hot not subtracted", ("    dlogits[np.arange(n), y] -= 1", "    pass")),
    plant("softmax_cross_entropy", "dlogits: sign flipped", ("return loss, dlogits / n", "return loss, -dlogits / n")),
    plant("conv_forward", "stride ignored", ("s, p = stride, padding", "s, p = 1, padding")),
    plant("conv_forward", "padding missing", ("(p, p), (p, p)", "(0, 0), (0, 0)")),
    plant("conv_forward", "padding on one side only", ("(p, p), (p, p)", "(p, 0), (p, 0)")),
    plant("conv_forward", "size rounded up",
          ("oh, ow = (xp.shape[2] - kh) // s + 1, (xp.shape[3] - kw) // s + 1",
           "oh, ow = -(-(xp.shape[2] - kh) // s) + 1, -(-(xp.shape[3] - kw) // s) + 1\n"
           "    xp = np.pad(xp, ((0, 0), (0, 0), (0, s), (0, s)))")),
    plant("conv_forward", "channels not summed",
          ("out = np.zeros((n, f, oh, ow))", "out = np.zeros((n, f, x.shape[1], oh, ow))"),
          ('"ncij,fc->nfij"', '"ncij,fc->nfcij"'), ("b.reshape(1, -1, 1, 1)", "b.reshape(1, -1, 1, 1, 1)")),
    plant("conv_forward", "bias missing", ("return out + b.reshape(1, -1, 1, 1)", "return out")),
    plant("conv_forward", "kernel flipped", ("w[:, :, m, q])", "w[:, :, kh - 1 - m, kw - 1 - q])")),
    # the capstone: a mistake in its own cell, or a broken layer in a cell it uses
    plant("cnn_loss", "forward pass: scores differ", ("act = np.maximum(conv, 0)", "act = conv")),
    plant("cnn_loss", "loss differs", (".mean()", ".sum()"), cell="softmax_cross_entropy"),
    plant("cnn_loss", "softmax_cross_entropy: d_scores", ("    dlogits[np.arange(n), y] -= 1", "    pass"),
          cell="softmax_cross_entropy"),
    plant("cnn_loss", "linear_backward: d_pooled", ("linear_backward(d_scores, pooled, w2)", "linear_backward(scores, pooled, w2)")),
    plant("cnn_loss", "maxpool_backward: d_act",
          ("dx[:, :, rows, cols] += np.where(argmax == e, dout, 0.0)", "dx[:, :, rows, cols] += dout / (k * k)"),
          cell="maxpool_backward"),
    plant("cnn_loss", "relu_backward: d_conv", ("(x > 0)", "(dout > 0)"), cell="relu_backward"),
    plant("cnn_loss", "linear_backward: dw2, db2", ("dw = dout.T @ x_flat", "dw = x_flat.T @ dout"), cell="linear_backward"),
    plant("cnn_loss", "conv_backward: dw1, db1", ("db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=(2, 3))"),
          cell="conv_backward"),
    plant("train_cnn", "parameters: wrong shapes", ("return tuple(params)", "return params[0], params[1], params[2].T, params[3]")),
    plant("train_cnn", "training diverged", ("lr, momentum, batch = 0.01, 0.9, 32", "lr, momentum, batch = 1e4, 0.9, 32")),
    plant("train_cnn", "not learning (chance level)", ("p -= rate * v", "p = p - rate * v")),
    plant("train_cnn", "accuracy below the bar", ("lr, momentum, batch = 0.01, 0.9, 32", "lr, momentum, batch = 1e-4, 0.9, 32")),
]

# --------------------------------------------------------------------------- lesson 04

CH04 = [
    plant("lenet_classic", "conv1 without padding", ("padding=2", "padding=0"), ("16 * 5 * 5", "16 * 4 * 4")),
    plant("lenet_classic", "activation not sigmoid", ("nn.Sigmoid()", "nn.ReLU()")),
    plant("lenet_classic", "max pooling instead of average", ("nn.AvgPool2d(2)", "nn.MaxPool2d(2)")),
    plant("lenet_classic", "layer sizes differ", ("nn.Linear(16 * 5 * 5, 120)", "nn.Linear(16 * 5 * 5, 100)"),
          ("nn.Linear(120, 84)", "nn.Linear(100, 84)")),
    plant("lenet_classic", "num_classes or in_channels ignored", ("nn.Linear(84, num_classes)", "nn.Linear(84, 10)")),
    plant("shift_right", "pixels wrapped around", ("    width = images.shape[2]\n", "    return np.roll(images, k, axis=2)\n")),
    plant("shift_right", "shifted left", ("    width = images.shape[2]\n", "    k = -k\n    width = images.shape[2]\n")),
    plant("shift_right", "fill ignored", ("np.full_like(images, fill)", "np.zeros_like(images)")),
    plant("shift_right", "shifted down instead of right", ("width = images.shape[2]", "width = images.shape[1]"),
          ("out[:, :, k:] = images[:, :, :width - k]", "out[:, k:, :] = images[:, :width - k, :]"),
          ("out[:, :, :width + k] = images[:, :, -k:]", "out[:, :width + k, :] = images[:, -k:, :]")),
    plant("confusion_matrix", "rows and columns swapped", ("matrix[true, pred] += 1", "matrix[pred, true] += 1")),
    plant("confusion_matrix", "size taken from the labels",
          ("matrix = np.zeros((num_classes, num_classes), dtype=np.int64)",
           "size = max(y_true.max(), y_pred.max()) + 1\n    matrix = np.zeros((size, size), dtype=np.int64)")),
    plant("confusion_matrix", "fractions instead of counts", ("    return matrix\n", "    return matrix / len(y_true)\n")),
    plant("confusion_matrix", "counts capped at 1", ("matrix[true, pred] += 1", "matrix[true, pred] = 1")),
    plant("sgd_momentum", "step sign flipped", ("return w - lr * step, velocity", "return w + lr * step, velocity")),
    plant("sgd_momentum", "momentum ignored", ("velocity = momentum * velocity + dw", "velocity = dw")),
    plant("sgd_momentum", "learning rate folded into the velocity",
          ("    velocity = momentum * velocity + dw                            # remembers the past steps\n"
           "    step = dw + momentum * velocity if nesterov else velocity      # Nesterov: look one step ahead\n"
           "    return w - lr * step, velocity\n",
           "    previous = velocity\n    velocity = momentum * velocity - lr * dw\n    if nesterov:\n"
           "        return w - momentum * previous + (1 + momentum) * velocity, velocity\n    return w + velocity, velocity\n")),
    plant("sgd_momentum", "velocity dampened by (1 − momentum)", ("momentum * velocity + dw", "momentum * velocity + (1 - momentum) * dw")),
    plant("sgd_momentum", "Nesterov ignored", ("if nesterov else velocity", "if False else velocity")),
    plant("sgd_momentum", "Nesterov step without the gradient", ("dw + momentum * velocity if nesterov", "momentum * velocity if nesterov")),
    plant("sgd_momentum", "velocity returned unchanged",
          ("    velocity = momentum * velocity + dw", "    given = velocity\n    velocity = momentum * velocity + dw"),
          ("return w - lr * step, velocity", "return w - lr * step, given")),
    plant("adam", "bias correction missing", ("m_hat = m / (1 - beta1**t)", "m_hat = m"), ("v_hat = v / (1 - beta2**t)", "v_hat = v")),
    plant("adam", "eps inside the square root", ("(np.sqrt(v_hat) + eps)", "np.sqrt(v_hat + eps)")),
    plant("adam", "v: gradient not squared", ("(1 - beta2) * dw**2", "(1 - beta2) * np.abs(dw)")),
    plant("adam", "betas swapped", ("    m = beta1 * m", "    beta1, beta2 = beta2, beta1\n    m = beta1 * m")),
    plant("adam", "bias correction: wrong step number", ("beta1**t", "beta1**(t + 1)"), ("beta2**t", "beta2**(t + 1)")),
    plant("adam", "step sign flipped", ("return w - lr", "return w + lr")),
    plant("adam_weight_decay", "L2 and decoupled swapped", ("if decoupled:", "if not decoupled:")),
    plant("adam_weight_decay", "decoupled decay without the learning rate", ("w * (1 - lr * weight_decay)", "w * (1 - weight_decay)")),
    plant("adam_weight_decay", "decay applied after the step",
          ("return adam(w * (1 - lr * weight_decay), dw, m, v, t, lr, beta1, beta2, eps)",
           "w, m, v = adam(w, dw, m, v, t, lr, beta1, beta2, eps)\n        return w * (1 - lr * weight_decay), m, v")),
    plant("adam_weight_decay", "decay ignored", ("    if decoupled:", "    weight_decay = 0.0\n    if decoupled:")),
    plant("adam_weight_decay", "L2 term with the wrong sign", ("dw + weight_decay * w", "dw - weight_decay * w")),
]

# --------------------------------------------------------------------------- lesson 05

CH05 = [
    plant("vgg_block", "convs without padding", ("kernel_size=3, padding=1", "kernel_size=3")),
    plant("vgg_block", "final max pool missing", ("layers.append(nn.MaxPool2d(kernel_size=2, stride=2))", "pass")),
    plant("vgg_block", "activation not ReLU", ("nn.ReLU()", "nn.Sigmoid()")),
    plant("vgg_block", "average pooling instead of max", ("nn.MaxPool2d(kernel_size=2, stride=2)", "nn.AvgPool2d(kernel_size=2, stride=2)")),
    plant("vgg_block", "kernels not 3×3", ("kernel_size=3, padding=1", "kernel_size=5, padding=2")),
    plant("vgg_block", "wrong number of convs", ("for _ in range(num_convs):", "for _ in range(1):")),
    plant("batchnorm_forward", "unbiased variance", ("var = x.var(axis=(0, 2, 3), keepdims=True)", "var = x.var(axis=(0, 2, 3), keepdims=True, ddof=1)")),
    plant("batchnorm_forward", "scale and shift missing",
          ("return gamma.reshape(1, -1, 1, 1) * x_hat + beta.reshape(1, -1, 1, 1)", "return x_hat")),
    plant("batchnorm_forward", "statistics over the wrong axes", ("axis=(0, 2, 3)", "axis=(2, 3)")),
    plant("batchnorm_forward", "eps outside the square root", ("np.sqrt(var + eps)", "(np.sqrt(var) + eps)")),
    plant("dropout_forward", "kept units not scaled", ("x / (1.0 - p)", "x")),
    plant("dropout_forward", "multiplied by (1 − p)", ("x / (1.0 - p)", "x * (1.0 - p)")),
    plant("dropout_forward", "mask inverted", ("np.where(keep", "np.where(~keep")),
    plant("dropout_forward", "divided by p, not 1 − p", ("x / (1.0 - p)", "x / p")),
    plant("batchnorm_backward", "mean and variance treated as constants",
          ("dx = inv_std * (d_hat - d_hat.mean(axis=axes, keepdims=True)\n"
           "                    - x_hat * (d_hat * x_hat).mean(axis=axes, keepdims=True))", "dx = inv_std * d_hat")),
    plant("batchnorm_backward", "variance path missing",
          ("\n                    - x_hat * (d_hat * x_hat).mean(axis=axes, keepdims=True))", ")")),
    plant("batchnorm_backward", "per-position statistics (axis 0 only)", ("axes = (0, 2, 3)", "axes = 0")),
    plant("batchnorm_backward", "dgamma and dbeta swapped", ("return dx, dgamma, dbeta", "return dx, dbeta, dgamma")),
    plant("batchnorm_backward", "dgamma, dbeta not summed over (N, H, W)",
          ("dbeta = dout.sum(axis=axes)", "dbeta = dout.sum(axis=0)"), ("dgamma = (dout * x_hat).sum(axis=axes)", "dgamma = (dout * x_hat).sum(axis=0)")),
    plant("batchnorm_backward", "γ missing in dx", ("d_hat = dout * gamma.reshape(1, -1, 1, 1)", "d_hat = dout")),
    plant("dropout_backward", "kept gradients not scaled", ("dout / (1.0 - p)", "dout")),
    plant("dropout_backward", "multiplied by (1 − p)", ("dout / (1.0 - p)", "dout * (1.0 - p)")),
    plant("dropout_backward", "mask inverted", ("np.where(keep", "np.where(~keep")),
    plant("dropout_backward", "mask not applied", ("return np.where(keep, dout / (1.0 - p), 0.0)", "return dout / (1.0 - p)")),
    plant("dropout_backward", "new mask instead of the forward pass's",
          ("    return np.where(keep", "    keep = np.random.default_rng(0).random(dout.shape) >= p\n    return np.where(keep")),
]

# --------------------------------------------------------------------------- lesson 06

CH06 = [
    plant("residual_block", "shortcut missing", ("return (out + identity).relu()", "return out.relu()")),
    plant("residual_block", "ReLU before the addition", ("return (out + identity).relu()", "return out.relu() + identity")),
    plant("residual_block", "projection without batch norm", ("bias=False),\n                nn.BatchNorm2d(out_channels))", "bias=False))")),
    plant("residual_block", "convs with bias", ("padding=1, bias=False)", "padding=1)")),
    plant("residual_block", "projection where identity suffices", ("if stride != 1 or in_channels != out_channels:", "if True:")),
    plant("resnet_param_count", "projection missing where the size halves", ("if stride != 1 or channels != width:", "if channels != width:")),
    plant("resnet_param_count", "projection without batch norm", ("total += channels * width + 2 * width", "total += channels * width")),
    plant("resnet_param_count", "convs with bias", ("+ 2 * width", "+ 3 * width")),     # the stem's "+ 2 * widths[0]" too
    plant("resnet_param_count", "stem left out", ("total = in_channels * widths[0] * 7 * 7 + 2 * widths[0]", "total = 0")),
]

# --------------------------------------------------------------------------- lesson 07

CH07 = [
    plant("freeze_and_replace_head", "head not replaced",
          ("    model.classifier = nn.Linear(model.classifier.in_features, num_classes)   # new layers learn\n", "")),
    plant("freeze_and_replace_head", "nothing frozen", ("p.requires_grad = False", "p.requires_grad = True")),
    plant("freeze_and_replace_head", "new head frozen too",
          ("    for p in model.parameters():\n        p.requires_grad = False\n"
           "    model.classifier = nn.Linear(model.classifier.in_features, num_classes)   # new layers learn\n",
           "    model.classifier = nn.Linear(model.classifier.in_features, num_classes)\n"
           "    for p in model.parameters():\n        p.requires_grad = False\n")),
    plant("freeze_and_replace_head", "more than the head learns",
          ("    return model\n", "    model.features.head.requires_grad_(True)\n    return model\n")),
    plant("trainable_after_freezing", "every parameter counted", ("if p.requires_grad)", ")")),
    plant("trainable_after_freezing", "stem not frozen", ("[model.features.stem] + ", "")),
    plant("trainable_after_freezing", "one stage too few", ("range(1, frozen_stages + 1)", "range(1, frozen_stages)")),
    plant("trainable_after_freezing", "stages shifted by one", ("range(1, frozen_stages + 1)", "range(2, frozen_stages + 2)")),
    plant("finetune_optimizer", "only the head in the optimizer",
          ('return torch.optim.Adam([{"params": backbone, "lr": lr * backbone_lr_scale},\n                             {"params": head, "lr": lr}])',
           "return torch.optim.Adam(head, lr=lr)")),
    plant("finetune_optimizer", "one group for everything",
          ('return torch.optim.Adam([{"params": backbone, "lr": lr * backbone_lr_scale},\n                             {"params": head, "lr": lr}])',
           "return torch.optim.Adam(model.parameters(), lr=lr * backbone_lr_scale)")),
    plant("finetune_optimizer", "rates swapped", ('"lr": lr * backbone_lr_scale}', '"lr": lr}'),
          ('{"params": head, "lr": lr}', '{"params": head, "lr": lr * backbone_lr_scale}')),
    plant("finetune_optimizer", "same rate for both groups", ('"lr": lr * backbone_lr_scale}', '"lr": lr}')),
    plant("finetune_optimizer", "part of the model missing",
          ("backbone = [p for p in model.parameters() if id(p) not in head_ids]", "backbone = list(model.features.stage7.parameters())")),
]

# --------------------------------------------------------------------------- lesson 08

CH08 = [
    plant("inception_module", "pool branch without its 1×1 conv",
          ("nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), unit(in_channels, pool_proj, 1))", "nn.MaxPool2d(3, stride=1, padding=1)")),
    plant("inception_module", "convs with bias", ("bias=False", "bias=True")),
    plant("inception_module", "batch norm missing",
          ("nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False),\n                             nn.BatchNorm2d(c_out, eps=0.001), nn.ReLU())",
           "nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2), nn.ReLU())")),
    plant("inception_module", "5×5 branch built as 3×3", ("unit(c5_reduce, c5, 5)", "unit(c5_reduce, c5, 3)")),
    plant("inception_module", "branches concatenated out of order",
          ("parts = [self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)]",
           "parts = [self.branch_pool(x), self.branch1(x), self.branch3(x), self.branch5(x)]")),
    plant("inception_module", "average pooling instead of max", ("nn.MaxPool2d(3, stride=1, padding=1)", "nn.AvgPool2d(3, stride=1, padding=1)")),
    plant("inception_module", "ReLU missing", (", nn.ReLU())", ")")),
    plant("bottleneck_params", "biases left out",
          ("direct = out_channels * in_channels * k2 + out_channels", "direct = out_channels * in_channels * k2"),
          ("squeezed = (reduce * in_channels + reduce) + (out_channels * reduce * k2 + out_channels)",
           "squeezed = reduce * in_channels + out_channels * reduce * k2")),
    plant("bottleneck_params", "the 1×1 conv's parameters left out", ("squeezed = (reduce * in_channels + reduce) + ", "squeezed = ")),
    plant("bottleneck_params", "the two numbers swapped", ("return direct, squeezed", "return squeezed, direct")),
    plant("bottleneck_params", "kernel area k, not k²", ("k2 = kernel_size * kernel_size", "k2 = kernel_size")),
    plant("compound_multipliers", "multiplied, not raised to φ", ("alpha ** phi, beta ** phi", "alpha * phi, beta * phi")),
    plant("compound_multipliers", "resolution truncated with int()", ("round(base_resolution * gamma ** phi)", "int(base_resolution * gamma ** phi)")),
    plant("compound_multipliers", "resolution left as a multiplier", ("round(base_resolution * gamma ** phi)", "gamma ** phi")),
    plant("compound_multipliers", "resolution not rounded", ("round(base_resolution * gamma ** phi)", "base_resolution * gamma ** phi")),
]

# --------------------------------------------------------------------------- lesson 09

CH09 = [
    plant("box_iou", "IoU: negative overlap not clipped",
          ("wh = np.clip(right_bottom - left_top, 0, None)", "wh = right_bottom - left_top")),
    plant("box_iou", "IoU: divided by the sum of the areas",
          ("area_a[:, None] + area_b[None, :] - inter", "area_a[:, None] + area_b[None, :]")),
    plant("box_iou", "IoU: divided by one box's area",
          ("return inter / (area_a[:, None] + area_b[None, :] - inter)", "return inter / area_a[:, None]")),
    plant("box_iou", "IoU: boxes read as (x, y, w, h)",
          ("np.minimum(a[:, None, 2:], b[None, :, 2:])",
           "np.minimum(a[:, None, :2] + a[:, None, 2:], b[None, :, :2] + b[None, :, 2:])"),
          ("area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])", "area_a = a[:, 2] * a[:, 3]"),
          ("area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])", "area_b = b[:, 2] * b[:, 3]")),
    plant("box_iou", "IoU: +1 on every side",
          ("np.minimum(a[:, None, 2:], b[None, :, 2:])", "np.minimum(a[:, None, 2:], b[None, :, 2:]) + 1"),
          ("area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])",
           "area_a = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)"),
          ("area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])",
           "area_b = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)")),
    plant("box_iou", "IoU: pairs only",
          ("np.maximum(a[:, None, :2], b[None, :, :2])", "np.maximum(a[:, :2], b[:, :2])"),
          ("np.minimum(a[:, None, 2:], b[None, :, 2:])", "np.minimum(a[:, 2:], b[:, 2:])"),
          ("area_a[:, None] + area_b[None, :] - inter", "area_a + area_b - inter")),
    plant("nms", "NMS: kept boxes not in score order",
          ("return np.array(keep, dtype=np.int64)", "return np.array(sorted(keep), dtype=np.int64)")),
    plant("nms", "NMS: dropped boxes still suppress",
          ("    keep = []\n", "    keep, dropped = [], set()\n"),
          ("        keep.append(int(best))\n",
           "        if int(best) not in dropped:\n            keep.append(int(best))\n"),
          ("        order = rest[iou <= iou_threshold]\n",
           "        dropped.update(int(i) for i in rest[iou > iou_threshold])\n        order = rest\n")),
    plant("nms", "NMS: IoU equal to the threshold dropped", ("iou <= iou_threshold", "iou < iou_threshold")),
    plant("nms", "NMS: lowest score first",
          ('np.argsort(-scores, kind="stable")', 'np.argsort(scores, kind="stable")')),
    plant("nms", "NMS: boxes not sorted by score",
          ('order = np.argsort(-scores, kind="stable")', "order = np.arange(len(scores))")),
    plant("nms", "NMS: mask instead of indices",
          ("    return np.array(keep, dtype=np.int64)\n",
           "    mask = np.zeros(len(scores), dtype=bool)\n    mask[keep] = True\n    return mask\n")),
    plant("conv_transpose_output_size", "transposed size: the convolution's formula",
          ("return (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1",
           "return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1")),
    plant("conv_transpose_output_size", "transposed size: n·s instead of (n − 1)·s",
          ("(size - 1) * stride", "size * stride")),
    plant("conv_transpose_output_size", "transposed size: padding added", ("- 2 * padding", "+ 2 * padding")),
    plant("conv_transpose_output_size", "transposed size: dilation ignored",
          ("dilation * (kernel_size - 1)", "(kernel_size - 1)")),
    plant("conv_transpose_output_size", "transposed size: output_padding ignored",
          (" + output_padding + 1", " + 1")),
    plant("conv_transpose_output_size", "transposed size: the + 1 missing", ("output_padding + 1", "output_padding")),
    plant("conv_transpose_output_size", "transposed size: not one whole number",
          ("    return (size - 1) * stride", "    out = (size - 1) * stride"),
          ("output_padding + 1\n", "output_padding + 1\n    return out, out\n")),
    plant("mean_iou", "mIoU: absent classes counted as 0",
          ("        if union:\n            ious.append(np.sum((pred == c) & (target == c)) / union)\n",
           "        ious.append(np.sum((pred == c) & (target == c)) / union if union else 0.0)\n")),
    plant("mean_iou", "mIoU: pixel accuracy", ("    ious = []\n", "    return float(np.mean(pred == target))\n")),
    plant("mean_iou", "mIoU: per image, then averaged",
          ("    ious = []\n",
           "    if pred.ndim == 3:\n"
           "        return float(np.mean([mean_iou(p, t, num_classes) for p, t in zip(pred, target)]))\n"
           "    ious = []\n")),
    plant("mean_iou", "mIoU: divided by the true pixels only",
          ("union = np.sum((pred == c) | (target == c))", "union = np.sum(target == c)")),
    plant("mean_iou", "mIoU: not one number", ("return float(np.mean(ious))", "return ious")),
]

PLANTS = [*CH01, *CH02, *CH03, *CH04, *CH05, *CH06, *CH07, *CH08, *CH09]
