"""Lesson 09's global-pooling CNN: circular padding makes it shift invariant, zero padding does not."""

import pytest
import torch
from torch import nn

from cnnlab.models import global_pool_cnn


def test_circular_padding_makes_the_global_pool_cnn_shift_invariant():
    torch.manual_seed(0)
    x = torch.randn(4, 1, 32, 32)
    shifted = torch.roll(x, shifts=(16, 8), dims=(2, 3))                    # a multiple of the pools' stride 4
    circular = global_pool_cnn(2, padding_mode="circular").eval()
    zeros = global_pool_cnn(2, padding_mode="zeros").eval()
    with torch.no_grad():
        assert (circular(x) - circular(shifted)).abs().max() < 1e-5
        assert (zeros(x) - zeros(shifted)).abs().max() > 1e-3
    assert not any(isinstance(m, nn.Linear) and m.in_features != 64 for m in circular.modules())
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        global_pool_cnn(padding_mode="same")
