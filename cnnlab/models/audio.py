"""A small CNN for spectrograms: convolutions over time and frequency, pooling over time only. Lesson 09.

A spectrogram is an image with two different axes. Along time, a word said 100 ms later is
the same word, so the network should not care *when*: its features are averaged over all
frames (global pooling over time). Along frequency, position is meaning: the same shape at
500 Hz or at 2,000 Hz is a different sound, so the frequency rows stay apart and the last
layer has a weight for each of them.
"""

from __future__ import annotations

import torch
from torch import nn


class SpectrogramCNN(nn.Module):
    """Conv stages over (frequency, time), the mean over time, a linear layer over (channels × bands). Lesson 09.

    Args:
        num_classes: outputs.
        n_mels: frequency bands of the input spectrogram.
        widths: channels of the conv stages; a 2×2 max pool follows each.
        dropout: dropout before the last layer.
    """

    def __init__(self, num_classes: int = 10, n_mels: int = 40, widths: tuple[int, ...] = (8, 16, 32),
                 dropout: float = 0.3):
        super().__init__()
        stages: list[nn.Module] = []
        channels, bands = 1, n_mels
        for width in widths:
            stages += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                       nn.MaxPool2d(2)]
            channels, bands = width, bands // 2
        if bands < 1:
            raise ValueError(f"SpectrogramCNN: {n_mels} bands are too few for {len(widths)} pools of 2")
        self.features = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels * bands, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)                          # (N, C, bands, frames)
        x = x.mean(dim=3)                             # (N, C, bands): when does not matter
        return self.head(x)                           # (N, num_classes): which band does


def spectrogram_cnn(num_classes: int = 10, n_mels: int = 40, widths: tuple[int, ...] = (8, 16, 32),
                    dropout: float = 0.3) -> SpectrogramCNN:
    """A ``SpectrogramCNN`` for (N, 1, n_mels, frames) inputs. Lesson 09."""
    return SpectrogramCNN(num_classes, n_mels, widths, dropout)
