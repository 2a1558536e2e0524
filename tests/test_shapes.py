"""cnnlab.shapes: the formulas against what torch actually produces, the lesson's worked
numbers, receptive fields and the model summary."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnnlab import shapes as S

CASES = settings(max_examples=60, deadline=None)
pairs = st.tuples(st.integers(1, 4), st.integers(1, 4))


# --------------------------------------------------------------------------- output sizes

@CASES
@given(size=st.tuples(st.integers(1, 12), st.integers(1, 12)), kernel=pairs,
       stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)))
def test_conv_output_size_matches_torch(size, kernel, stride, padding, dilation):
    x, w = torch.zeros(1, 1, *size), torch.zeros(1, 1, *kernel)
    try:
        expected = tuple(F.conv2d(x, w, stride=stride, padding=padding, dilation=dilation).shape[2:])
    except RuntimeError:                                   # torch refuses: so must we
        with pytest.raises(ValueError, match="conv_output_size: .* does not fit"):
            S.conv_output_size(size, kernel, stride, padding, dilation)
        return
    assert S.conv_output_size(size, kernel, stride, padding, dilation) == expected
    assert S.conv_output_size(size[0], kernel[0], stride[0], padding[0], dilation[0]) == expected[0]


@CASES
@given(size=st.tuples(st.integers(1, 12), st.integers(1, 12)), kernel=pairs,
       stride=st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
       padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)), ceil_mode=st.booleans())
def test_pool_output_size_matches_torch(size, kernel, stride, padding, dilation, ceil_mode):
    x = torch.zeros(1, 1, *size)
    try:
        out = F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode=ceil_mode)
    except RuntimeError:
        with pytest.raises(ValueError, match="pool_output_size: "):
            S.pool_output_size(size, kernel, stride, padding, dilation, ceil_mode)
        return
    assert S.pool_output_size(size, kernel, stride, padding, dilation, ceil_mode) == tuple(out.shape[2:])


def test_worked_output_sizes():
    assert S.conv_output_size(32, 5, stride=1, padding=2) == 32            # "same" padding
    assert S.conv_output_size(5, 3) == 3                                    # the 5×5 image, 3×3 kernel
    assert S.conv_output_size(7, 3, stride=2) == 3
    assert S.conv_output_size((28, 32), (5, 3), padding=(2, 1)) == (28, 32)
    assert S.conv_output_size(32, 3, dilation=2) == 28                      # a dilated 3×3 spans 5
    assert S.pool_output_size(28, 2) == 14
    assert S.pool_output_size(112, 3, stride=2, padding=1) == 56            # ResNet's stem pool
    assert S.pool_output_size(5, 2, ceil_mode=True) == 3


@pytest.mark.parametrize("call, message", [
    (lambda: S.conv_output_size(0, 3), "conv_output_size: size must be positive, got 0"),
    (lambda: S.conv_output_size(28.0, 3), "conv_output_size: size must be an int or an (h, w) pair of ints, got 28.0"),
    (lambda: S.conv_output_size(28, 3, stride=0), "conv_output_size: stride must be positive, got 0"),
    (lambda: S.conv_output_size(28, 3, padding=-1), "conv_output_size: padding must be at least 0, got -1"),
    (lambda: S.conv_output_size(28, (3, True)), "conv_output_size: kernel_size must be an int or an (h, w) pair"),
    (lambda: S.conv_output_size(3, 5), "conv_output_size: a kernel of 5 (spanning 5 with dilation 1) "
                                       "does not fit in the padded input of 3 + 2·0 = 3"),
    (lambda: S.pool_output_size(8, 2, padding=2), "pool_output_size: padding 2 is more than half the window (2)"),
    (lambda: S.conv_params(3, 64, 0), "conv_params: kernel_size must be positive, got 0"),
    (lambda: S.conv_params(3, 64, 3, groups=2), "conv_params: groups=2 must divide both in_channels=3"),
    (lambda: S.linear_params(400, 0), "linear_params: out_features must be a positive int, got 0"),
    (lambda: S.batchnorm_params(2.5), "batchnorm_params: channels must be a positive int, got 2.5"),
])
def test_errors_in_the_learners_terms(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value).startswith(message)


# --------------------------------------------------------------------------- parameters and MACs

def test_worked_parameter_counts():
    assert S.conv_params(3, 64, 3) == 1_792                                # 64 filters of 3×3 on RGB
    assert S.conv_params(3, 64, 3, bias=False) == 1_728
    assert S.linear_params(400, 120) == 48_120
    assert S.batchnorm_params(64) == 128
    # a fully connected neuron on a 100×100 image vs one shared 3×3 filter
    assert S.linear_params(100 * 100, 1, bias=False) == 10_000
    assert S.conv_params(1, 1, 3, bias=False) == 9
    # two stacked 3×3 convs: 18 weights, one 5×5: 25, for the same 5×5 receptive field
    assert 2 * S.conv_params(1, 1, 3, bias=False) == 18 and S.conv_params(1, 1, 5, bias=False) == 25


@CASES
@given(c=st.integers(1, 8), f=st.integers(1, 8), kernel=pairs, bias=st.booleans(),
       groups=st.sampled_from([1, 2, 4]))
def test_conv_params_match_torch(c, f, kernel, bias, groups, n_params):
    c, f = c * groups, f * groups
    layer = nn.Conv2d(c, f, kernel, bias=bias, groups=groups)
    assert S.conv_params(c, f, kernel, bias=bias, groups=groups) == n_params(layer)


@CASES
@given(d_in=st.integers(1, 50), d_out=st.integers(1, 50), bias=st.booleans(), channels=st.integers(1, 64))
def test_linear_and_batchnorm_params_match_torch(d_in, d_out, bias, channels, n_params):
    assert S.linear_params(d_in, d_out, bias) == n_params(nn.Linear(d_in, d_out, bias))
    assert S.batchnorm_params(channels) == n_params(nn.BatchNorm2d(channels))


def test_conv_macs():
    # every one of the 224·224·64 outputs is a dot product of 3·3·3 = 27 pairs
    assert S.conv_macs(3, 64, 3, 224, padding=1) == 224 * 224 * 64 * 27 == 86_704_128
    assert S.conv_macs(32, 32, 3, (10, 12), padding=1, groups=32) == 10 * 12 * 32 * 9   # depthwise
    assert S.conv_macs(6, 16, 5, 14) == 10 * 10 * 16 * 6 * 25


# --------------------------------------------------------------------------- receptive field

def test_receptive_field_examples():
    assert S.receptive_field([(3, 1), (3, 1)]) == 5                          # two 3×3 see 5×5
    assert S.receptive_field([(3, 1)] * 3) == 7
    assert S.receptive_field([(3, 1), (2, 2), (3, 1)]) == 8                  # after a pool, steps double
    assert S.receptive_field([(3, 1, 2)]) == 5                               # dilation 2 spans 5
    assert S.receptive_field([((3, 1), 1), ((3, 1), 1)]) == (5, 1)
    chain = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Sequential(nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4)), nn.Dropout())
    assert S.receptive_field(chain) == 8
    assert S.receptive_field(list(chain)) == 8
    assert S.receptive_field(nn.Conv2d(1, 1, 7, stride=2)) == 7


@pytest.mark.parametrize("layers, message", [
    ([(3, 1), nn.Linear(4, 4)], "cannot tell the receptive field of Linear"),
    ([nn.AdaptiveAvgPool2d(1)], "cannot tell the receptive field of AdaptiveAvgPool2d"),
    ([(3,)], "a layer is (kernel, stride) or (kernel, stride, dilation)"),
    ([(3, 0)], "stride must be positive"),
])
def test_receptive_field_errors(layers, message):
    with pytest.raises(ValueError, match="receptive_field: ") as err:
        S.receptive_field(layers)
    assert message in str(err.value)


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x):
        return x + self.conv(x)


def test_receptive_field_refuses_branching_blocks():
    with pytest.raises(ValueError, match="Residual is not a plain chain"):
        S.receptive_field(nn.Sequential(nn.Conv2d(2, 2, 3), Residual()))


@CASES
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 2), st.booleans()),
                min_size=1, max_size=4))
def test_receptive_field_matches_the_gradient_footprint(spec):
    """Which input pixels change output pixel (0, 0)? Their extent is the receptive field."""
    layers = [nn.AvgPool2d(k, s) if pool else nn.Conv2d(1, 1, k, s, dilation=d, bias=False)
              for k, s, d, pool in spec]
    for layer in layers:
        if isinstance(layer, nn.Conv2d):
            nn.init.ones_(layer.weight)
    expected = S.receptive_field(layers)
    x = torch.zeros(1, 1, expected + 4, expected + 4, requires_grad=True)
    nn.Sequential(*layers)(x)[0, 0, 0, 0].backward()
    rows, cols = torch.nonzero(x.grad[0, 0], as_tuple=True)
    assert rows.max().item() + 1 == expected and cols.max().item() + 1 == expected


# --------------------------------------------------------------------------- summary

def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))


def test_summary_of_lenet_by_hand():
    s = S.summary(lenet(), (1, 28, 28))
    assert s.total_params == s.trainable_params == 61_706
    convs = [r for r in s.rows if r.kind == "Conv2d"]
    assert [r.output_shape for r in convs] == [(6, 28, 28), (16, 10, 10)]
    assert [r.params for r in convs] == [6 * 25 + 6, 16 * 6 * 25 + 16]
    assert [r.macs for r in convs] == [28 * 28 * 6 * 25, 10 * 10 * 16 * 6 * 25]
    dense = [r for r in s.rows if r.kind == "Linear"]
    assert [r.params for r in dense] == [400 * 120 + 120, 120 * 84 + 84, 84 * 10 + 10]
    assert [r.macs for r in dense] == [400 * 120, 120 * 84, 84 * 10]
    assert s.total_macs == 117_600 + 240_000 + 48_000 + 10_080 + 840
    assert [r.output_shape for r in s.rows if r.kind == "AvgPool2d"] == [(6, 14, 14), (16, 5, 5)]
    assert all(r.macs == 0 for r in s.rows if r.kind in ("Tanh", "AvgPool2d", "Flatten"))
    assert [r.name for r in s.rows] == [str(k) for k in range(12)]


def test_summary_table_is_aligned_and_printable():
    s = S.summary(lenet(), (1, 28, 28))
    text = str(s)
    assert text == s.table()
    lines = text.splitlines()
    table = lines[:lines.index(lines[1], 2) + 1]                    # header, rule, rows, rule
    assert len(table) == 2 + 12 + 1
    params_end = lines[0].index("Params") + len("Params")           # numbers are right-aligned
    assert all(line[:params_end].endswith(("156", "2,416", "48,120", " 0", "10,164", "850"))
               for line in table[2:-1])
    assert "Total params: 61,706" in text and "Total MACs: 416,520" in text
    html = s._repr_html_()
    assert html.startswith("<table>") and "Conv2d" in html and "61,706" in html


class Branches(nn.Module):
    """Inception-like: parallel 1×1, 3×3 and pool branches, concatenated along channels."""

    def __init__(self, c):
        super().__init__()
        self.b1 = nn.Conv2d(c, 4, 1)
        self.b3 = nn.Sequential(nn.Conv2d(c, 2, 1), nn.ReLU(), nn.Conv2d(2, 6, 3, padding=1))
        self.pool = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(c, 2, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b3(x), self.pool(x)], dim=1)


class Block(nn.Module):
    """ResNet-like: conv-BN-ReLU-conv-BN plus a projection shortcut, one ReLU used twice."""

    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c_in, c_out, 3, 2, 1, bias=False), nn.BatchNorm2d(c_out)
        self.conv2, self.bn2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out)
        self.shortcut = nn.Conv2d(c_in, c_out, 1, 2, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.scale = nn.Parameter(torch.ones(1))      # a parameter owned by a non-leaf module

    def forward(self, x):
        identity = self.shortcut(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(self.scale * out + identity)


def nested_net():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), Branches(8), Block(12, 16),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.5), nn.Linear(16, 5))


def test_summary_of_nested_modules_by_hand(n_params):
    net = nested_net()
    s = S.summary(net, (3, 8, 10))
    assert s.total_params == n_params(net)
    assert sum(r.params for r in s.rows) == s.total_params
    by_name = {r.label: r for r in s.rows}
    assert by_name["1.b3.2"].output_shape == (6, 8, 10)
    assert by_name["1.b3.2"].macs == 8 * 10 * 6 * 2 * 9
    assert by_name["2.conv1"].output_shape == (16, 4, 5)
    assert by_name["2.conv1"].params == 16 * 12 * 9
    assert by_name["2.conv1"].macs == 4 * 5 * 16 * 12 * 9
    assert by_name["2.bn1"].params == 32 and by_name["2.bn1"].macs == 0
    assert by_name["2"].kind == "Block" and by_name["2"].params == 1      # owns `scale` directly
    assert by_name["2.relu"].params == 0 and "2.relu (again)" in by_name
    assert by_name["2.relu (again)"].repeated and by_name["2.relu (again)"].name == "2.relu"
    assert [r.label for r in s.rows if r.repeated] == ["2.relu (again)"]
    assert by_name["6"].output_shape == (5,) and by_name["6"].macs == 16 * 5
    convs = {"0": 8 * 10 * 8 * 3 * 9, "1.b1": 8 * 10 * 4 * 8, "1.b3.0": 8 * 10 * 2 * 8,
             "1.b3.2": 8 * 10 * 6 * 2 * 9, "1.pool.1": 8 * 10 * 2 * 8, "2.conv1": 4 * 5 * 16 * 12 * 9,
             "2.conv2": 4 * 5 * 16 * 16 * 9, "2.shortcut": 4 * 5 * 16 * 12}
    assert s.total_macs == sum(convs.values()) + 16 * 5
    assert all(by_name[name].macs == macs for name, macs in convs.items())


def test_summary_restores_every_training_flag():
    net = nested_net().train()
    net[2].bn1.eval()                                  # a frozen batch norm, as in fine-tuning
    before = [m.training for m in net.modules()]
    S.summary(net, (3, 8, 10))
    assert [m.training for m in net.modules()] == before
    assert not net[2]._forward_hooks and not net[0]._forward_hooks


def test_summary_runs_in_eval_mode_without_touching_batchnorm_statistics():
    net = nested_net().train()
    stats = net[2].bn1.running_mean.clone()
    S.summary(net, (3, 8, 10))                        # batch of one: only possible in eval mode
    assert torch.equal(net[2].bn1.running_mean, stats)


def test_summary_counts_frozen_parameters_and_agrees_on_resnet18():
    from cnnlab.models import resnet18

    net = resnet18()
    for p in net.parameters():
        p.requires_grad_(False)
    for p in net.fc.parameters():
        p.requires_grad_(True)
    s = S.summary(net, (3, 64, 64))
    assert s.total_params == 11_689_512
    assert s.trainable_params == 512 * 1000 + 1000
    assert "Non-trainable params: 11,176,512" in s.table()


@pytest.mark.parametrize("size, message", [
    ((1, 28.0, 28), "summary: each entry of input_size must be a positive int, got 28.0"),
    ((1, 0, 28), "summary: each entry of input_size must be a positive int, got 0"),
    (28, "summary: input_size must be the shape of one input, e.g. (1, 28, 28), got 28"),
])
def test_summary_errors(size, message):
    with pytest.raises(ValueError) as err:
        S.summary(lenet(), size)
    assert str(err.value) == message


class TiedAndUnused(nn.Module):
    """b reuses a's weight matrix; `head` is never called."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.head = nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 2)
        self.b.weight = self.a.weight

    def forward(self, x):
        return self.b(self.a(x))


def test_summary_explains_shared_and_uncalled_parameters():
    s = S.summary(TiedAndUnused(), (4,))
    assert s.total_params == 4 * 4 + 4 + 4 + 4 * 2 + 2 == 34       # the shared matrix counts once
    assert [r.params for r in s.rows] == [20, 20]
    assert s.uncalled_params == 10
    text = s.table()
    assert "Parameters in modules the forward pass did not call: 10" in text
    assert "Parameters shared by several rows (counted once in the total): 16" in text
# --------------------------------------------------------------------------- transposed convolution (lesson 09)

@CASES
@given(size=st.tuples(st.integers(1, 8), st.integers(1, 8)), kernel=pairs,
       stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       padding=st.tuples(st.integers(0, 3), st.integers(0, 3)),
       output_padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)))
def test_conv_transpose_output_size_matches_torch(size, kernel, stride, padding, output_padding, dilation):
    x, w = torch.zeros(1, 1, *size), torch.zeros(1, 1, *kernel)
    try:
        expected = tuple(F.conv_transpose2d(x, w, stride=stride, padding=padding, output_padding=output_padding,
                                            dilation=dilation).shape[2:])
    except RuntimeError:                                   # torch refuses: so must we
        with pytest.raises(ValueError, match="conv_transpose_output_size: "):
            S.conv_transpose_output_size(size, kernel, stride, padding, output_padding, dilation)
        return
    assert S.conv_transpose_output_size(size, kernel, stride, padding, output_padding, dilation) == expected


def test_worked_transposed_sizes():
    assert S.conv_transpose_output_size(4, 4, stride=2, padding=1) == 8          # the usual ×2 upsampling
    assert S.conv_transpose_output_size(4, 3, stride=2) == 9
    assert S.conv_transpose_output_size(4, 3, stride=2, padding=1, output_padding=1) == 8
    assert S.conv_transpose_output_size((4, 5), 2, stride=2) == (8, 10)
    # a stride-2 conv (kernel 3, padding 1) maps 7 and 8 to 4; output_padding picks which comes back
    assert S.conv_output_size(7, 3, 2, 1) == S.conv_output_size(8, 3, 2, 1) == 4
    assert [S.conv_transpose_output_size(4, 3, 2, 1, op) for op in (0, 1)] == [7, 8]
