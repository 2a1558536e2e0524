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
    assert_fails("vgg_block", lambda **k: block(**k, pad=0), hint="padding=1")


def test_block_without_pool_fails_with_hint(assert_fails):
    assert_fails("vgg_block", lambda **k: block(**k, end_pool=False), hint="max pool")


def test_block_with_5x5_kernels_fails_on_parameters(assert_fails):
    assert_fails("vgg_block", lambda **k: block(**k, kernel=5, pad=2), hint="parameters")


@pytest.mark.parametrize("pool, act", [(nn.AvgPool2d, nn.ReLU), (nn.MaxPool2d, nn.Sigmoid), (nn.MaxPool2d, nn.Identity)])
def test_block_with_wrong_pool_or_activation_fails_on_values(pool, act, assert_fails):
    assert_fails("vgg_block", lambda **k: block(**k, pool=pool, act=act), hint="outputs differ")


def test_block_that_feeds_every_conv_the_input_channels_fails(assert_fails):
    assert_fails("vgg_block", lambda **k: block(**k, chain=False))


def test_block_with_one_conv_only_fails(assert_fails):
    assert_fails("vgg_block", lambda in_channels, out_channels, num_convs: block(in_channels, out_channels, 1))


# --------------------------------------------------------------------------- batch norm

def bn(x, gamma, beta, eps, axes=(0, 2, 3), ddof=0, affine=True):
    mean = x.mean(axis=axes, keepdims=True)
    x_hat = (x - mean) / np.sqrt(x.var(axis=axes, keepdims=True, ddof=ddof) + eps)
    return gamma[None, :, None, None] * x_hat + beta[None, :, None, None] if affine else x_hat


def test_bn_with_unbiased_variance_fails_with_hint(assert_fails):
    assert_fails("batchnorm_forward", lambda **k: bn(**k, ddof=1), hint="biased variance")


def test_bn_without_scale_and_shift_fails_with_hint(assert_fails):
    assert_fails("batchnorm_forward", lambda **k: bn(**k, affine=False), hint="γ·x̂ + β")


@pytest.mark.parametrize("axes", [(0,), (1, 2, 3), (2, 3)])
def test_bn_over_the_wrong_axes_fails_with_hint(axes, assert_fails):
    assert_fails("batchnorm_forward", lambda **k: bn(**k, axes=axes), hint="one mean and variance per channel")


def test_bn_with_eps_outside_the_root_fails(assert_fails):
    def outside(x, gamma, beta, eps):
        x_hat = (x - x.mean(axis=(0, 2, 3), keepdims=True)) / (x.std(axis=(0, 2, 3), keepdims=True) + eps)
        return gamma[None, :, None, None] * x_hat + beta[None, :, None, None]

    assert_fails("batchnorm_forward", outside)


# --------------------------------------------------------------------------- dropout

def test_dropout_without_scaling_fails_with_hint(assert_fails):
    assert_fails("dropout_forward", lambda x, p, keep: np.where(keep, x, 0.0), hint="1/(1 − p)")


def test_dropout_scaled_by_keep_probability_fails_with_hint(assert_fails):
    assert_fails("dropout_forward", lambda x, p, keep: np.where(keep, x * (1 - p), 0.0), hint="divide by (1 − p)")


def test_dropout_with_inverted_mask_fails(assert_fails):
    assert_fails("dropout_forward", lambda x, p, keep: np.where(~keep, x / (1 - p), 0.0))
