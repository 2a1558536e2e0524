"""Lesson 09's spectrogram CNN: pools over time, keeps frequency rows apart."""

import pytest
import torch

from cnnlab.models import spectrogram_cnn


def test_spectrogram_cnn_pools_time_but_not_frequency():
    net = spectrogram_cnn().eval()
    assert net(torch.randn(2, 1, 40, 63)).shape == (2, 10)
    assert net.head[-1].in_features == 32 * 5                               # 5 frequency rows kept apart
    assert net(torch.randn(2, 1, 40, 95)).shape == (2, 10)                  # any length of time
    with pytest.raises(ValueError, match="too few"):
        spectrogram_cnn(n_mels=4)
