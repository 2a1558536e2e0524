"""Output sizes, parameter counts, multiply-accumulates and receptive fields (lesson 02).

Every formula here is one line of arithmetic that a learner can check by hand:

- output size of a convolution: ``⌊(n + 2p − d(k−1) − 1) / s⌋ + 1``
  (with d = 1 this is the familiar ``⌊(n − k + 2p) / s⌋ + 1``);
- output size of a transposed convolution: ``(n − 1)·s − 2p + d(k−1) + output_padding + 1``
  (lesson 09: it undoes the size change of the convolution with the same settings);
- parameters of a convolution: ``F · (C/groups) · KH · KW + F`` (the ``+ F`` is the bias);
- parameters of a fully connected layer: ``in · out + out``;
- multiply-accumulates (MACs) of a convolution, per image: ``OH · OW · F · (C/groups) · KH · KW``.

``summary(model, input_size)`` applies them to a whole torch model by running one dummy
image through it, and agrees with torch by construction: the shapes are the ones the forward
pass produced and the parameters are counted with ``p.numel()``.

Conventions for MACs (per image, in ``summary`` and ``conv_macs``): a convolution or a linear
layer counts one MAC per weight use; the bias additions, batch norm, pooling, activations,
dropout and reshapes count 0 (they are cheap element-wise work, and leaving them out is what
the published MAC/FLOP tables do). A layer with parameters that is none of these shows "?".
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from cnnlab.common import evaluating, human_count, parameter_count

Pair = tuple[int, int]
IntOrPair = int | Pair


# --------------------------------------------------------------------------- argument checks

def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def positive_int(value: Any, name: str = "size", func: str = "positive_int") -> int:
    """``value`` as a Python int, checked to be a positive integer (lesson 02).

    Raises:
        ValueError: naming ``func`` and ``name`` when ``value`` is not an int (floats and bools
            included) or is below 1.
    """
    if not _is_int(value) or value < 1:
        raise ValueError(f"{func}: {name} must be a positive int, got {value!r}")
    return int(value)


def to_pair(value: IntOrPair, name: str = "size", func: str = "to_pair", minimum: int = 1) -> Pair:
    """An int or an (h, w) pair of ints -> (h, w), checked (lesson 02).

    Args:
        value: ``3`` or ``(3, 5)``.
        name: what the value is ("stride", "padding", ...), for the error message.
        func: the public function that received it, for the error message.
        minimum: smallest allowed value (1 for sizes and strides, 0 for padding).

    Returns:
        (h, w) as Python ints.

    Raises:
        ValueError: not an int or a pair of ints, or smaller than ``minimum``.
    """
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or not all(_is_int(v) for v in items):
        raise ValueError(f"{func}: {name} must be an int or an (h, w) pair of ints, got {value!r}")
    if min(items) < minimum:
        kind = "positive" if minimum == 1 else f"at least {minimum}"
        raise ValueError(f"{func}: {name} must be {kind}, got {value!r}")
    return int(items[0]), int(items[1])


def _is_pair(*values: Any) -> bool:
    """True when any argument was given as an (h, w) pair: then results are pairs too."""
    return any(isinstance(v, (tuple, list)) for v in values)


def _int_or_pair(values: Pair, as_pair: bool) -> IntOrPair:
    return values if as_pair else values[0]


# --------------------------------------------------------------------------- output sizes

def _conv_axis(func: str, n: int, k: int, s: int, p: int, d: int) -> int:
    """Output length along one axis: ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1."""
    span = d * (k - 1) + 1                       # the dilated kernel covers this many pixels
    if span > n + 2 * p:
        raise ValueError(
            f"{func}: a kernel of {k} (spanning {span} with dilation {d}) does not fit in the "
            f"padded input of {n} + 2·{p} = {n + 2 * p}")
    return (n + 2 * p - span) // s + 1


def conv_output_size(size: IntOrPair, kernel_size: IntOrPair, stride: IntOrPair = 1,
                     padding: IntOrPair = 0, dilation: IntOrPair = 1) -> IntOrPair:
    """Spatial output size of a convolution: ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1 (lesson 02).

    Example: a 32×32 input, 5×5 kernel, stride 1, padding 2 gives 32 ("same" padding).

    Args:
        size: input height/width ``n``, an int or an (h, w) pair.
        kernel_size: ``k``, int or pair.
        stride: ``s``, int or pair.
        padding: ``p`` zeros added on each side, int or pair.
        dilation: ``d``, gap between kernel taps (1 = none), int or pair.

    Returns:
        An int, or an (OH, OW) pair when any argument was a pair.

    Raises:
        ValueError: a size is not a positive int (padding: non-negative), or the kernel does
            not fit in the padded input.
    """
    func = "conv_output_size"
    n, k = to_pair(size, "size", func), to_pair(kernel_size, "kernel_size", func)
    s, d = to_pair(stride, "stride", func), to_pair(dilation, "dilation", func)
    p = to_pair(padding, "padding", func, minimum=0)
    out = tuple(_conv_axis(func, n[a], k[a], s[a], p[a], d[a]) for a in (0, 1))
    return _int_or_pair(out, _is_pair(size, kernel_size, stride, padding, dilation))


def _pool_axis(func: str, n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """Output length of a pooling window along one axis, with torch's rules."""
    if p > k // 2:                                       # torch's rule, on the undilated window
        raise ValueError(f"{func}: padding {p} is more than half the window ({k}); "
                         "a window could then see only padding")
    span = d * (k - 1) + 1
    rounding = s - 1 if ceil_mode else 0                 # ceil(a / s) = floor((a + s − 1) / s)
    out = (n + 2 * p - span + rounding) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:             # the last window would start in the right padding
        out -= 1
    if out < 1:
        raise ValueError(f"{func}: a window of {span} does not fit in the padded input of "
                         f"{n} + 2·{p} = {n + 2 * p}")
    return out


def pool_output_size(size: IntOrPair, kernel_size: IntOrPair, stride: IntOrPair | None = None,
                     padding: IntOrPair = 0, dilation: IntOrPair = 1,
                     ceil_mode: bool = False) -> IntOrPair:
    """Spatial output size of max/average pooling, as torch computes it (lesson 02).

    The same formula as a convolution, except that the stride defaults to the window size,
    padding may be at most half the window, and ``ceil_mode=True`` rounds up (keeping a last,
    partial window as long as it starts inside the input or the left padding).

    Args:
        size: input height/width, int or (h, w).
        kernel_size: window size, int or pair.
        stride: step, int or pair; ``None`` means the window size (non-overlapping windows).
        padding: padding on each side, int or pair.
        dilation: gap between window taps, int or pair.
        ceil_mode: round the division up instead of down.

    Returns:
        An int, or an (OH, OW) pair when any argument was a pair.

    Raises:
        ValueError: bad sizes, padding over half the window, or a window that does not fit.
    """
    func = "pool_output_size"
    stride = kernel_size if stride is None else stride
    n, k = to_pair(size, "size", func), to_pair(kernel_size, "kernel_size", func)
    s, d = to_pair(stride, "stride", func), to_pair(dilation, "dilation", func)
    p = to_pair(padding, "padding", func, minimum=0)
    out = tuple(_pool_axis(func, n[a], k[a], s[a], p[a], d[a], bool(ceil_mode)) for a in (0, 1))
    return _int_or_pair(out, _is_pair(size, kernel_size, stride, padding, dilation))


def _conv_transpose_axis(func: str, n: int, k: int, s: int, p: int, op: int, d: int) -> int:
    """Output length along one axis: (n − 1)·s − 2p + d(k−1) + output_padding + 1."""
    if op >= s and op >= d:                              # torch's rule
        raise ValueError(f"{func}: output_padding {op} must be smaller than the stride {s} or the "
                         f"dilation {d}; it only picks one of the sizes that a stride-{s} conv maps "
                         "to the same output")
    out = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
    if out < 1:
        raise ValueError(f"{func}: padding {p} crops more than the {(n - 1) * s + d * (k - 1) + op + 1} "
                         f"pixels the transposed convolution produces")
    return out


def conv_transpose_output_size(size: IntOrPair, kernel_size: IntOrPair, stride: IntOrPair = 1,
                               padding: IntOrPair = 0, output_padding: IntOrPair = 0,
                               dilation: IntOrPair = 1) -> IntOrPair:
    """Spatial output size of a transposed convolution: (n − 1)·s − 2p + d(k−1) + output_padding + 1 (lesson 09).

    A transposed convolution runs a convolution backwards: every input pixel spreads a copy of
    the kernel onto the output, the copies ``s`` pixels apart. The n copies span
    (n − 1)·s + d(k−1) + 1 pixels; ``padding`` crops p from each side (it undoes the padding of
    the convolution it mirrors) and ``output_padding`` adds rows at the bottom and right. A
    stride-s convolution maps s different input sizes to the same output size; output_padding
    picks which one comes back. Example: 4 pixels, kernel 4, stride 2, padding 1 gives 8 — the
    usual ×2 upsampling.

    Args:
        size: input height/width ``n``, an int or an (h, w) pair.
        kernel_size: ``k``, int or pair.
        stride: ``s``, int or pair (the upsampling factor).
        padding: ``p`` cropped from each side, int or pair.
        output_padding: extra rows/columns at the bottom/right, smaller than the stride or the
            dilation; int or pair.
        dilation: ``d``, gap between kernel taps, int or pair.

    Returns:
        An int, or an (OH, OW) pair when any argument was a pair.

    Raises:
        ValueError: bad sizes, output_padding too large, or padding that crops everything.
    """
    func = "conv_transpose_output_size"
    n, k = to_pair(size, "size", func), to_pair(kernel_size, "kernel_size", func)
    s, d = to_pair(stride, "stride", func), to_pair(dilation, "dilation", func)
    p = to_pair(padding, "padding", func, minimum=0)
    op = to_pair(output_padding, "output_padding", func, minimum=0)
    out = tuple(_conv_transpose_axis(func, n[a], k[a], s[a], p[a], op[a], d[a]) for a in (0, 1))
    return _int_or_pair(out, _is_pair(size, kernel_size, stride, padding, output_padding, dilation))


# --------------------------------------------------------------------------- parameters and MACs

def _check_groups(func: str, in_channels: int, out_channels: int, groups: Any) -> int:
    groups = positive_int(groups, "groups", func)
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{func}: groups={groups} must divide both in_channels={in_channels} "
                         f"and out_channels={out_channels}")
    return groups


def conv_params(in_channels: int, out_channels: int, kernel_size: IntOrPair, bias: bool = True,
                groups: int = 1) -> int:
    """Learnable parameters of a 2-D convolution: F · (C/groups) · KH · KW (+ F biases) (lesson 02).

    Example: 64 filters of 3×3 on an RGB image: 64 · 3 · 3 · 3 + 64 = 1,792.

    Args:
        in_channels: C.
        out_channels: F, the number of filters.
        kernel_size: int or (KH, KW).
        bias: whether each filter has a bias.
        groups: channel groups (each filter sees C/groups input channels).

    Returns:
        The number of parameters.
    """
    func = "conv_params"
    c = positive_int(in_channels, "in_channels", func)
    f = positive_int(out_channels, "out_channels", func)
    kh, kw = to_pair(kernel_size, "kernel_size", func)
    g = _check_groups(func, c, f, groups)
    return f * (c // g) * kh * kw + (f if bias else 0)


def linear_params(in_features: int, out_features: int, bias: bool = True) -> int:
    """Learnable parameters of a fully connected layer: in · out (+ out biases) (lesson 02).

    Args:
        in_features: inputs per example.
        out_features: outputs per example.
        bias: whether each output has a bias.

    Returns:
        The number of parameters.
    """
    func = "linear_params"
    i = positive_int(in_features, "in_features", func)
    o = positive_int(out_features, "out_features", func)
    return i * o + (o if bias else 0)


def batchnorm_params(channels: int) -> int:
    """Learnable parameters of batch norm: γ and β per channel, so 2 · channels (lesson 02).

    The running mean and variance are two more numbers per channel, but they are statistics
    (buffers), not parameters: no gradient ever updates them.

    Args:
        channels: channels normalised.

    Returns:
        2 · channels.
    """
    return 2 * positive_int(channels, "channels", "batchnorm_params")


def conv_macs(in_channels: int, out_channels: int, kernel_size: IntOrPair, input_size: IntOrPair,
              stride: IntOrPair = 1, padding: IntOrPair = 0, dilation: IntOrPair = 1,
              groups: int = 1) -> int:
    """Multiply-accumulates of a 2-D convolution on one image: OH · OW · F · (C/groups) · KH · KW (lesson 02).

    Each of the OH · OW · F outputs is a dot product of C/groups · KH · KW pairs. Bias
    additions are not counted (see the module docstring for the convention).

    Args:
        in_channels: C.
        out_channels: F.
        kernel_size: int or (KH, KW).
        input_size: input height/width, int or (H, W).
        stride: int or pair.
        padding: int or pair.
        dilation: int or pair.
        groups: channel groups.

    Returns:
        The number of multiply-accumulates per image.
    """
    func = "conv_macs"
    c = positive_int(in_channels, "in_channels", func)
    f = positive_int(out_channels, "out_channels", func)
    g = _check_groups(func, c, f, groups)
    kh, kw = to_pair(kernel_size, "kernel_size", func)
    oh, ow = to_pair(conv_output_size(input_size, kernel_size, stride, padding, dilation))
    return oh * ow * f * (c // g) * kh * kw


# --------------------------------------------------------------------------- receptive field

def _is_per_position(layer: Any) -> bool:
    """Activations, normalisation, dropout, identity: each output pixel sees one input pixel."""
    from torch import nn

    kinds = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.GELU, nn.SiLU, nn.Mish,
             nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid, nn.Tanh, nn.Softplus,
             nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm, nn.GroupNorm,
             nn.LocalResponseNorm, nn.modules.dropout._DropoutNd, nn.Identity)
    return isinstance(layer, kinds)


def _layer_geometry(layer: Any) -> tuple[Pair, Pair, Pair] | None:
    """(kernel, stride, dilation) of one layer, or None for a per-position layer."""
    func = "receptive_field"
    if isinstance(layer, (tuple, list)):
        if len(layer) not in (2, 3):
            raise ValueError(f"{func}: a layer is (kernel, stride) or (kernel, stride, dilation), "
                             f"got {layer!r}")
        dilation = layer[2] if len(layer) == 3 else 1
        return (to_pair(layer[0], "kernel", func), to_pair(layer[1], "stride", func),
                to_pair(dilation, "dilation", func))
    kind = type(layer).__name__
    if hasattr(layer, "kernel_size") and hasattr(layer, "stride"):      # Conv2d, MaxPool2d, AvgPool2d
        if getattr(layer, "transposed", False):
            raise ValueError(f"{func}: {kind} upsamples; its receptive field is not covered here")
        kernel = to_pair(layer.kernel_size, "kernel", func)
        stride = to_pair(layer.stride if layer.stride is not None else layer.kernel_size, "stride", func)
        dilation = to_pair(getattr(layer, "dilation", 1), "dilation", func)
        return kernel, stride, dilation
    if _is_per_position(layer):
        return None
    raise ValueError(
        f"{func}: cannot tell the receptive field of {kind}; pass a chain of conv/pool layers "
        "(e.g. net.features) or (kernel, stride[, dilation]) tuples")


def _flatten_chain(layers: Iterable[Any]) -> list[Any]:
    """The layers one after the other, with nn.Sequential / nn.ModuleList opened up (recursively)."""
    chain = []
    for layer in layers:
        if not (hasattr(layer, "children") and any(True for _ in layer.children())):
            chain.append(layer)                                # a tuple or a leaf module
            continue
        from torch import nn

        if not isinstance(layer, (nn.Sequential, nn.ModuleList)):
            raise ValueError(
                f"receptive_field: {type(layer).__name__} is not a plain chain (it may branch); "
                "pass an nn.Sequential of conv/pool layers or (kernel, stride[, dilation]) tuples")
        chain.extend(_flatten_chain(layer))
    return chain


def receptive_field(layers: Iterable[Any]) -> IntOrPair:
    """Size of the input patch that one output pixel of a chain of layers sees (lesson 02).

    Walking the chain: each layer widens the field by ``(span − 1) · jump`` where ``span`` is
    its dilated kernel ``d(k−1)+1`` and ``jump`` the product of the strides before it. Two
    3×3 stride-1 convolutions see 5×5; three see 7×7.

    Args:
        layers: a list of ``(kernel, stride)`` or ``(kernel, stride, dilation)`` tuples (ints or
            (h, w) pairs), or torch modules (Conv2d/MaxPool2d/AvgPool2d count; activations,
            batch norm and dropout are per-position), or an ``nn.Sequential`` of them.

    Returns:
        The receptive field size, an int, or an (h, w) pair when it differs between axes.

    Raises:
        ValueError: a layer whose receptive field is not a plain sliding window (Linear,
            adaptive pools, branching blocks).
    """
    field_hw, jump = [1, 1], [1, 1]
    chain = _flatten_chain([layers] if hasattr(layers, "children") else layers)
    for layer in chain:
        geometry = _layer_geometry(layer)
        if geometry is None:
            continue
        kernel, stride, dilation = geometry
        for a in (0, 1):
            field_hw[a] += dilation[a] * (kernel[a] - 1) * jump[a]
            jump[a] *= stride[a]
    return field_hw[0] if field_hw[0] == field_hw[1] else (field_hw[0], field_hw[1])


# --------------------------------------------------------------------------- model summary

@dataclass(frozen=True)
class LayerRow:
    """One line of a ``Summary``: a leaf module as the dummy forward pass met it."""

    name: str                 # dotted path in the model, e.g. "features.0"
    kind: str                 # class name, e.g. "Conv2d"
    output_shape: Any         # per image (batch axis left out); a list for several outputs
    params: int               # parameters the module owns (0 on a repeated call)
    macs: int | None          # multiply-accumulates per image; None when not known
    repeated: bool = False    # a second (third, ...) call of a module met before: its weights are reused

    @property
    def label(self) -> str:
        """The name as the table prints it: "(again)" after a repeated call."""
        return f"{self.name} (again)" if self.repeated else self.name


@dataclass
class Summary:
    """Per-layer output shapes, parameters and MACs of a torch model (lesson 02).

    Print it (``print(summary)`` or ``summary.table()``) for an aligned text table; in a
    notebook it renders as an HTML table.
    """

    input_size: tuple[int, ...]
    rows: list[LayerRow]
    total_params: int
    trainable_params: int
    total_macs: int
    unknown_macs: list[str] = field(default_factory=list)   # kinds of the rows whose MACs are "?"
    uncalled_params: int = 0                                 # in modules the forward pass never called

    def _cells(self) -> tuple[list[str], list[list[str]], list[str]]:
        header = ["Layer", "Type", "Output shape", "Params", "MACs"]
        body = [[row.label, row.kind, _shape_text(row.output_shape), f"{row.params:,}",
                 "?" if row.macs is None else f"{row.macs:,}"] for row in self.rows]
        footer = [
            f"Input: {tuple(self.input_size)} per image; shapes and MACs are per image.",
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.total_params - self.trainable_params:,}",
            f"Total MACs: {self.total_macs:,} ({human_count(self.total_macs)})",
        ]
        if self.uncalled_params:
            footer.append(f"Parameters in modules the forward pass did not call: {self.uncalled_params:,}")
        shared = sum(row.params for row in self.rows) - (self.total_params - self.uncalled_params)
        if shared:
            footer.append(f"Parameters shared by several rows (counted once in the total): {shared:,}")
        if self.unknown_macs:
            footer.append(f"MACs not counted (\"?\") for: {', '.join(sorted(set(self.unknown_macs)))}")
        return header, body, footer

    def table(self) -> str:
        """The summary as an aligned text table."""
        header, body, footer = self._cells()
        widths = [max(len(r[c]) for r in [header] + body) for c in range(len(header))]
        right = {3, 4}                                           # numbers align right

        def line(cells: list[str]) -> str:
            return "  ".join(c.rjust(w) if k in right else c.ljust(w)
                             for k, (c, w) in enumerate(zip(cells, widths))).rstrip()

        rule = "-" * len(line(header))
        return "\n".join([line(header), rule, *map(line, body), rule, *footer])

    def __str__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        header, body, footer = self._cells()
        align = ['left', 'left', 'left', 'right', 'right']

        def row(cells: list[str], tag: str) -> str:
            return "<tr>" + "".join(f'<{tag} style="text-align:{a}">{html.escape(c)}</{tag}>'
                                    for c, a in zip(cells, align)) + "</tr>"

        rows = "".join(row(cells, "td") for cells in body)
        notes = "<br>".join(html.escape(text) for text in footer)
        return (f"<table><thead>{row(header, 'th')}</thead><tbody>{rows}</tbody></table>"
                f"<p>{notes}</p>")


def _shape_text(shape: Any) -> str:
    return ", ".join(map(str, shape)) if isinstance(shape, list) else str(shape)


def _per_image_shape(output: Any) -> Any:
    """Shape of a module's output without the batch axis; a list for tuples of tensors."""
    if hasattr(output, "shape"):
        return tuple(output.shape[1:])
    if isinstance(output, (tuple, list)):
        return [_per_image_shape(item) for item in output]
    return type(output).__name__


def _first_tensor(output: Any) -> Any:
    if hasattr(output, "shape"):
        return output
    if isinstance(output, (tuple, list)) and output:
        return _first_tensor(output[0])
    return None


def _layer_macs(module: Any, inputs: tuple, output: Any) -> int | None:
    """Multiply-accumulates of one call, per image (see the module docstring for the convention)."""
    from torch import nn

    out = _first_tensor(output)
    if isinstance(module, nn.modules.conv._ConvNd):
        k = math.prod(module.kernel_size)
        if module.transposed:                  # each input value is spread over a kernel
            x = inputs[0]
            return x[0].numel() * (module.out_channels // module.groups) * k
        return out[0].numel() * (module.in_channels // module.groups) * k
    if isinstance(module, nn.Linear):
        return out[0].numel() * module.in_features
    free = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm, nn.Embedding)
    if isinstance(module, free) or not any(True for _ in module.parameters(recurse=False)):
        return 0
    return None


def summary(model: Any, input_size: Sequence[int]) -> Summary:
    """Run one dummy image through ``model`` and tabulate every layer (lesson 02).

    Hooks on the leaf modules (and on any module that owns parameters directly) record the
    output shape of each call; parameters are counted with ``p.numel()``; MACs follow the
    convention in the module docstring. The model runs in eval mode under ``torch.no_grad()``
    (so batch norm uses its running statistics and dropout is off); afterwards every module's
    training flag is put back as it was, and the hooks are removed.

    Args:
        model: a torch ``nn.Module`` (Sequential or nested: residual blocks, branches...).
        input_size: shape of one input without the batch axis, e.g. ``(1, 28, 28)``.

    Returns:
        A ``Summary``: ``rows`` (name, kind, output_shape, params, macs) and the totals
        ``total_params``, ``trainable_params``, ``total_macs``.

    Raises:
        ValueError: ``input_size`` is not a sequence of positive ints.
    """
    import torch

    func = "summary"
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"{func}: model must be a torch nn.Module, got {type(model).__name__}")
    if not isinstance(input_size, (tuple, list)) or not input_size:
        raise ValueError(f"{func}: input_size must be the shape of one input, e.g. (1, 28, 28), "
                         f"got {input_size!r}")
    size = tuple(positive_int(v, "each entry of input_size", func) for v in input_size)

    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32

    rows: list[LayerRow] = []
    seen: set[int] = set()                      # modules already recorded
    called: dict[int, int] = {}                 # id -> size of each parameter the forward pass used

    def record(name: str, module: Any, inputs: tuple, output: Any) -> None:
        again = id(module) in seen
        seen.add(id(module))
        own = list(module.parameters(recurse=False))
        called.update((id(p), p.numel()) for p in own)
        params = 0 if again else parameter_count(own)
        rows.append(LayerRow(name, type(module).__name__, _per_image_shape(output), params,
                             _layer_macs(module, inputs, output), repeated=again))

    watched = [(name or type(module).__name__, module) for name, module in model.named_modules()
               if not any(True for _ in module.children())
               or any(True for _ in module.parameters(recurse=False))]
    handles = [module.register_forward_hook(
        lambda m, i, o, name=name: record(name, m, i, o)) for name, module in watched]
    try:
        with evaluating(model), torch.no_grad():
            model(torch.zeros((1, *size), device=device, dtype=dtype))
    finally:
        for handle in handles:
            handle.remove()

    total = parameter_count(model)
    trainable = parameter_count(model, trainable_only=True)
    macs = sum(row.macs for row in rows if row.macs is not None)
    unknown = [row.kind for row in rows if row.macs is None]
    return Summary(size, rows, total, trainable, macs, unknown, total - sum(called.values()))
