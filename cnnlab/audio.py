"""Sound as an image: the short-time Fourier transform and the mel spectrogram (lesson 09).

A recording is one long row of numbers (air pressure, thousands of samples a second). Cut it
into short overlapping frames, multiply each by a window that fades in and out, and take the
Fourier transform of each frame: the magnitudes, frame after frame, form an image whose x-axis
is time and whose y-axis is frequency. That image is the spectrogram, and a CNN can classify
it like a photo.

The mel scale then squeezes the frequency axis the way hearing does: fine steps at low
frequencies, coarse ones at high frequencies. A bank of triangular filters, evenly spaced on
the mel scale, sums neighbouring frequency bins into a few dozen bands; the logarithm (in
decibels) follows loudness as we perceive it.

``stft`` agrees with ``torch.stft`` (``center=True``, reflect padding, periodic Hann window;
``tests/test_audio.py``). NumPy only.
"""

from __future__ import annotations

import numpy as np


def hann_window(n: int) -> np.ndarray:
    """The periodic Hann window of length n: ½ − ½·cos(2πk/n), which fades a frame in and out. Lesson 09."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def frame_count(length: int, n_fft: int = 256, hop: int = 128) -> int:
    """Frames ``stft`` cuts a signal of ``length`` samples into: 1 + length // hop (``center=True``). Lesson 09."""
    return 1 + length // hop


def stft(signal, n_fft: int = 256, hop: int = 128) -> np.ndarray:
    """Short-time Fourier transform: the spectrum of every windowed frame. Lesson 09.

    The signal is padded by n_fft/2 samples on both sides (mirrored), so frame t is centred
    on sample t·hop; each frame of n_fft samples is multiplied by a Hann window and
    Fourier-transformed.

    Args:
        signal: (L,) samples.
        n_fft: frame length in samples; gives n_fft/2 + 1 frequency bins from 0 to half the
            sample rate.
        hop: samples between the starts of two frames.

    Returns:
        (n_fft // 2 + 1, frames) complex: frequency bins × time, frames = 1 + L // hop.
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"stft: signal must be 1-D (samples,), got shape {x.shape}")
    if not 0 < hop <= n_fft or x.size <= n_fft // 2:
        raise ValueError(f"stft: need 0 < hop <= n_fft and more than n_fft/2 = {n_fft // 2} samples, got "
                         f"hop {hop}, n_fft {n_fft}, {x.size} samples")
    padded = np.pad(x, n_fft // 2, mode="reflect")                         # (L + n_fft,)
    frames = frame_count(x.size, n_fft, hop)
    starts = np.arange(frames) * hop
    windows = padded[starts[:, None] + np.arange(n_fft)] * hann_window(n_fft)   # (frames, n_fft)
    return np.fft.rfft(windows, axis=1).T                                  # (n_fft/2 + 1, frames)


def hz_to_mel(hz):
    """Frequency in Hz -> mels: 2595·log10(1 + f/700) (the HTK formula). Lesson 09."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel):
    """Mels -> Hz, the inverse of ``hz_to_mel``. Lesson 09."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_mels: int, n_fft: int, sample_rate: float, f_min: float = 0.0,
                   f_max: float | None = None) -> np.ndarray:
    """Triangular filters evenly spaced on the mel scale, as weights on the STFT's frequency bins. Lesson 09.

    Band m rises linearly from the centre of band m−1 to its own centre (weight 1) and falls
    to the centre of band m+1; the n_mels + 2 edges are evenly spaced in mels between f_min and
    f_max. Low bands are therefore a few bins wide, high bands many.

    Args:
        n_mels: number of bands.
        n_fft: the STFT's frame length (its bins are at k · sample_rate / n_fft).
        sample_rate: samples per second.
        f_min, f_max: frequency range in Hz (f_max defaults to half the sample rate).

    Returns:
        (n_mels, n_fft // 2 + 1) weights.
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(f"mel_filterbank: need 0 <= f_min < f_max <= sample_rate / 2 = {sample_rate / 2}, "
                         f"got f_min {f_min}, f_max {f_max}")
    bins = np.arange(n_fft // 2 + 1) * sample_rate / n_fft                  # (n_fft/2 + 1,) Hz
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))   # (n_mels + 2,) Hz
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]       # (n_mels, 1) each
    rising = (bins - left) / (centre - left)                                # (n_mels, n_fft/2 + 1)
    falling = (right - bins) / (right - centre)
    return np.clip(np.minimum(rising, falling), 0.0, None)


def mel_spectrogram(signal, sample_rate: float, n_fft: int = 256, hop: int = 128, n_mels: int = 40,
                    f_min: float = 0.0, f_max: float | None = None) -> np.ndarray:
    """Power in each mel band, frame by frame: the filterbank applied to |STFT|². Lesson 09.

    Returns:
        (n_mels, frames) float64, low frequencies in row 0.
    """
    power = np.abs(stft(signal, n_fft, hop)) ** 2                           # (n_fft/2 + 1, frames)
    return mel_filterbank(n_mels, n_fft, sample_rate, f_min, f_max) @ power   # (n_mels, frames)


def to_decibels(power, floor_db: float = -80.0) -> np.ndarray:
    """10·log10(power / its maximum), no lower than ``floor_db``: 0 dB is the loudest cell. Lesson 09.

    The logarithm makes a sound twice as loud one fixed step brighter wherever it is; the
    floor keeps silence (power near 0) from becoming −∞.
    """
    power = np.asarray(power, dtype=np.float64)
    peak = power.max() if power.size else 0.0
    if peak <= 0:
        return np.full(power.shape, floor_db)
    return np.maximum(10.0 * np.log10(np.maximum(power, peak * 1e-30) / peak), floor_db)
