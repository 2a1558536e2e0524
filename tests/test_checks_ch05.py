"""Lesson 05 exercises: the reference passes, stubs are "not implemented", classic mistakes fail with a hint."""

import numpy as np
import pytest
from torch import nn



# --------------------------------------------------------------------------- VGG block

def block(in_channels, out_channels, num_convs, kernel=3, pad=1, pool=nn.MaxPool2d, act=nn.ReLU,
          chain=True, end_pool=True):
    """A VGG block with one classic mistake switched on by the arguments."""
    layers, channels = [], in_channels
    for _ in range(num_convs):
        layers += [nn.Conv2d(channels, out_channels, kernel, padding=pad), act()]
        channels = out_channels if chain else in_channels
    if end_pool:
        layers.append(pool(2, 2))
    return nn.Sequential(*layers)


def test_block_without_padding_fails_with_hint(assert_fails):
    assert_fails("vgg_block", lambda **k: block(**k, pad=0), "convs without padding")


def test_block_without_pool_fails_with_hint(assert_fails):
    assert_fails("vgg_block", lambda **k: block(**k, end_pool=False), "final max pool missing")


def test_block_with_5x5_kernels_fails_on_parameters(assert_fails):
    assert_fails("vgg_block", lambda **k: block(**k, kernel=5, pad=2), "kernels not 3×3")


@pytest.mark.parametrize("pool, act, label", [(nn.AvgPool2d, nn.ReLU, "average pooling instead of max"),
                                             (nn.MaxPool2d, nn.Sigmoid, "activation not ReLU"),
                                             (nn.MaxPool2d, nn.Identity, "activation not ReLU")])
def test_block_with_wrong_pool_or_activation_fails_on_values(pool, act, label, assert_fails):
    assert_fails("vgg_block", lambda **k: block(**k, pool=pool, act=act), label)


def test_block_that_feeds_every_conv_the_input_channels_fails(assert_fails):
    assert_fails("vgg_block", lambda **k: block(**k, chain=False))


def test_block_with_one_conv_only_fails(assert_fails):
    assert_fails("vgg_block", lambda in_channels, out_channels, num_convs: block(in_channels, out_channels, 1),
                 "wrong number of convs")


# --------------------------------------------------------------------------- batch norm

def bn(x, gamma, beta, eps, axes=(0, 2, 3), ddof=0, affine=True):
    mean = x.mean(axis=axes, keepdims=True)
    x_hat = (x - mean) / np.sqrt(x.var(axis=axes, keepdims=True, ddof=ddof) + eps)
    return gamma[None, :, None, None] * x_hat + beta[None, :, None, None] if affine else x_hat


def test_bn_with_unbiased_variance_fails_with_hint(assert_fails):
    assert_fails("batchnorm_forward", lambda **k: bn(**k, ddof=1), "unbiased variance")


def test_bn_without_scale_and_shift_fails_with_hint(assert_fails):
    assert_fails("batchnorm_forward", lambda **k: bn(**k, affine=False), "scale and shift missing")


@pytest.mark.parametrize("axes", [(0,), (1, 2, 3), (2, 3)])
def test_bn_over_the_wrong_axes_fails_with_hint(axes, assert_fails):
    assert_fails("batchnorm_forward", lambda **k: bn(**k, axes=axes), "statistics over the wrong axes")


def test_bn_with_eps_outside_the_root_fails(assert_fails):
    def outside(x, gamma, beta, eps):
        x_hat = (x - x.mean(axis=(0, 2, 3), keepdims=True)) / (x.std(axis=(0, 2, 3), keepdims=True) + eps)
        return gamma[None, :, None, None] * x_hat + beta[None, :, None, None]

    assert_fails("batchnorm_forward", outside, "eps outside the square root")


# --------------------------------------------------------------------------- dropout

def test_dropout_without_scaling_fails_with_hint(assert_fails):
    assert_fails("dropout_forward", lambda x, p, keep: np.where(keep, x, 0.0), "kept units not scaled")


def test_dropout_scaled_by_keep_probability_fails_with_hint(assert_fails):
    assert_fails("dropout_forward", lambda x, p, keep: np.where(keep, x * (1 - p), 0.0), "multiplied by (1 − p)")


def test_dropout_with_inverted_mask_fails(assert_fails):
    assert_fails("dropout_forward", lambda x, p, keep: np.where(~keep, x / (1 - p), 0.0), "mask inverted")


# --------------------------------------------------------------------------- batch norm and dropout, backward

def test_batchnorm_backward_solution_matches_torch_autograd(graded_cells):
    torch = pytest.importorskip("torch")
    solved = graded_cells("05")["batchnorm_backward"]
    rng = np.random.default_rng(2)
    x, gamma, beta = rng.standard_normal((3, 4, 5, 2)) * 2 + 1, rng.standard_normal(4) + 1, rng.standard_normal(4)
    t = [torch.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    out = torch.nn.functional.batch_norm(t[0], None, None, t[1], t[2], training=True, eps=1e-3)
    dout = rng.standard_normal(out.shape)
    out.backward(torch.from_numpy(dout))
    for mine, theirs in zip(solved(dout, x, gamma, 1e-3), t):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_batchnorm_backward_that_treats_the_statistics_as_constants_fails(assert_fails):
    def constants(dout, x, gamma, eps):
        inv_std = 1 / np.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + eps)
        x_hat = (x - x.mean(axis=(0, 2, 3), keepdims=True)) * inv_std
        return dout * gamma[None, :, None, None] * inv_std, (dout * x_hat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))

    assert_fails("batchnorm_backward", constants, "mean and variance treated as constants")


def test_dropout_backward_with_a_new_mask_fails(assert_fails):
    def fresh(dout, keep, p):
        return np.where(np.random.default_rng(1).random(dout.shape) >= p, dout / (1 - p), 0.0)

    assert_fails("dropout_backward", fresh, "new mask instead of the forward pass's")
