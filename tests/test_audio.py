"""cnnlab.audio against torch.stft and the mel-scale definitions, and the bundled spoken words."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab import audio, data


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([(64, 16), (128, 32), (256, 128), (256, 100)]),
       st.integers(300, 2000))
def test_stft_matches_torch(seed, sizes, length):
    n_fft, hop = sizes
    x = np.random.default_rng(seed).standard_normal(length)
    ours = audio.stft(x, n_fft, hop)
    theirs = torch.stft(torch.from_numpy(x), n_fft, hop, window=torch.hann_window(n_fft, dtype=torch.float64),
                        center=True, pad_mode="reflect", return_complex=True).numpy()
    assert ours.shape == theirs.shape == (n_fft // 2 + 1, audio.frame_count(length, n_fft, hop))
    np.testing.assert_allclose(ours, theirs, atol=1e-9)


def test_a_pure_tone_lands_in_its_bin_and_band():
    rate, n_fft = 8000, 256
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 1000 * t)                               # 1 kHz = bin 1000 / (8000/256) = 32
    power = np.abs(audio.stft(tone, n_fft, 128)) ** 2
    assert np.all(power[:, 5:-5].argmax(axis=0) == 32)
    bank = audio.mel_filterbank(40, n_fft, rate)
    band = (bank @ power)[:, 30].argmax()
    centres = audio.mel_to_hz(np.linspace(0, audio.hz_to_mel(4000), 42))[1:-1]
    assert abs(centres[band] - 1000) == np.abs(centres - 1000).min()       # the band centred nearest 1 kHz


def test_mel_scale_and_filterbank():
    assert audio.hz_to_mel(700) == pytest.approx(2595 * np.log10(2))
    f = np.array([0.0, 100.0, 1000.0, 3999.0])
    np.testing.assert_allclose(audio.mel_to_hz(audio.hz_to_mel(f)), f, atol=1e-9)
    bank = audio.mel_filterbank(40, 256, 8000)
    assert bank.shape == (40, 129) and bank.min() == 0 and bank.max() <= 1
    widths = (bank > 0).sum(axis=1)
    assert widths[0] < widths[-1]                                     # low bands narrow, high bands wide
    assert np.all(bank.max(axis=1) > 0.5)                             # every band sees at least one bin
    with pytest.raises(ValueError, match="mel_filterbank: need 0 <= f_min < f_max <= sample_rate / 2"):
        audio.mel_filterbank(40, 256, 8000, f_max=5000)


def test_decibels():
    np.testing.assert_allclose(audio.to_decibels([1.0, 0.1, 1e-12, 0.0]), [0.0, -10.0, -80.0, -80.0])
    assert audio.to_decibels(np.zeros(3)).tolist() == [-80.0] * 3


def test_stft_errors():
    with pytest.raises(ValueError, match=r"stft: signal must be 1-D"):
        audio.stft(np.zeros((2, 300)))
    with pytest.raises(ValueError, match=r"stft: need 0 < hop <= n_fft"):
        audio.stft(np.zeros(100), 256, 128)


# --------------------------------------------------------------------------- the bundled clips

def test_spoken_words_splits():
    train, test = data.load_spoken_words("train"), data.load_spoken_words("test")
    assert (len(train), len(test)) == (800, 160)
    assert train.spectrograms.shape == (800, 40, 63) and train.spectrograms.dtype == np.float32
    assert train.spectrograms.min() >= -80 and train.spectrograms.max() == 0
    assert np.all(train.spectrograms.reshape(800, -1).max(axis=1) == 0)        # each clip's loudest cell
    assert np.bincount(train.labels).tolist() == [80] * 10 and np.bincount(test.labels).tolist() == [16] * 10
    assert not set(train.voices) & set(test.voices)                             # unheard voices in the test
    assert train.words[:3] == ("yes", "no", "up") and "1.51" in train.synthesiser


def test_example_waveforms_give_the_stored_spectrograms():
    train = data.load_spoken_words("train")
    waveforms, index = data.spoken_word_examples()
    assert waveforms.shape == (10, train.sample_rate) and np.abs(waveforms).max() <= 1
    assert train.labels[index].tolist() == list(range(10))
    for wave, i in zip(waveforms, index):
        db = audio.to_decibels(audio.mel_spectrogram(wave, train.sample_rate, train.n_fft, train.hop, train.n_mels))
        assert np.abs(db - train.spectrograms[i]).max() <= 0.5 + 1e-9          # stored in whole decibels
