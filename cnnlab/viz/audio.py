"""Figures of lesson 09 on sound: a waveform and its spectrograms, the mel filterbank, spectrogram
grids, and accuracy under shifts.

As in ``scenes``: at most 9.3 inches wide (JupyterLab's output area shows them at their own
size) and short enough to share a 1280×720 slide with a line of code.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .training import _numpy

__all__ = ["plot_sound", "plot_mel_filterbank", "show_spectrograms", "plot_shift_curves"]


def _spectrogram(ax, image: np.ndarray, seconds: float, top: float, ylabel: str, title: str) -> None:
    ax.imshow(image, origin="lower", aspect="auto", cmap="magma", extent=(0, seconds, 0, top))
    ax.set(xlabel="time (s)", ylabel=ylabel)
    ax.set_title(title, fontsize=10)


def plot_sound(wave: np.ndarray, sample_rate: int, linear_db: np.ndarray, mel_db: np.ndarray, word: str = "") -> Figure:
    """A waveform, its STFT spectrogram and its mel spectrogram, on one time axis. Lesson 09.

    Args:
        wave: (L,) samples.
        sample_rate: samples per second.
        linear_db: (n_fft/2 + 1, frames) STFT power in dB.
        mel_db: (n_mels, frames) mel power in dB.
        word: what is said, for the title.
    """
    seconds = len(wave) / sample_rate
    fig, axes = plt.subplots(1, 3, figsize=(9.3, 2.9))
    axes[0].plot(np.arange(len(wave)) / sample_rate, wave, linewidth=0.5)
    axes[0].set(xlabel="time (s)", ylabel="amplitude", xlim=(0, seconds))
    axes[0].set_title(f"waveform: “{word}”", fontsize=10)
    _spectrogram(axes[1], linear_db, seconds, sample_rate / 2, "frequency (Hz)",
                 f"STFT: {linear_db.shape[0]} bins × {linear_db.shape[1]} frames")
    _spectrogram(axes[2], mel_db, seconds, mel_db.shape[0], "mel band",
                 f"mel spectrogram: {mel_db.shape[0]} × {mel_db.shape[1]}")
    fig.tight_layout()
    return fig


def plot_mel_filterbank(bank: np.ndarray, sample_rate: int, every: int = 1) -> Figure:
    """The triangular mel filters over frequency (every ``every``-th band). Lesson 09."""
    freqs = np.linspace(0, sample_rate / 2, bank.shape[1])
    fig, ax = plt.subplots(figsize=(9, 2.8))
    for band in bank[::every]:
        ax.plot(freqs, band, linewidth=1)
    ax.set(xlabel="frequency (Hz)", ylabel="weight", title=f"{bank.shape[0]} mel filters: narrow at low "
                                                            "frequencies, wide at high ones")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def show_spectrograms(x, labels, words: Sequence[str], n: int = 10, title: str = "") -> Figure:
    """The first spectrogram of each of the first ``n`` words, five to a row. Lesson 09.

    Args:
        x: spectrograms (N, bands, frames) or (N, 1, bands, frames).
        labels: (N,).
        words: the word of each label.
    """
    x, labels = _numpy(x), _numpy(labels)
    x = x[:, 0] if x.ndim == 4 else x
    shown = min(n, len(words))
    rows, cols = -(-shown // 5), min(shown, 5)
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 1.2 * rows + 0.4), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, label in zip(axes.ravel(), range(shown)):
        ax.axis("on")
        ax.imshow(x[np.flatnonzero(labels == label)[0]], origin="lower", aspect="auto", cmap="magma")
        ax.set_title(words[label], fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    for row in axes:
        row[0].set_ylabel("mel band ↑", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_shift_curves(shifts: Sequence[int], curves: Mapping[str, Sequence[float]], xlabel: str,
                      title: str = "", chance: float | None = None) -> Figure:
    """Accuracy against shift, one line per curve. Lesson 09."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for label, values in curves.items():
        ax.plot(shifts, values, "o-", label=label, markersize=4)
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle=":", label="chance")
    ax.set(xlabel=xlabel, ylabel="test accuracy", ylim=(0, 1.02), title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
