"""Synthesise the spoken-word spectrograms that ship with cnnlab (lesson 09).

Run:  python scripts/make_spoken_words.py [--out cnnlab/data_files/spoken_words.npz]

Needs the ``espeak-ng`` program (Debian/Ubuntu: ``apt-get install espeak-ng``) and SciPy (a
dependency of scikit-image); the course itself needs neither, it reads the result.

Ten command words ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"),
each spoken by 96 voices of eSpeak NG's own formant synthesiser: eight English accents times
twelve voice variants (seven male, five female), every utterance at its own random speed
(130-200 words a minute) and pitch (25-75 on eSpeak's 0-99 scale). Each recording is
resampled to 8 kHz, trimmed of silence, put near the middle of a one-second clip (a random
offset of up to ±50 ms), scaled to a peak of 0.9, given faint white noise (standard
deviation 0.0003), rounded to 16-bit samples, and turned into a 40-band mel spectrogram with
``cnnlab.audio`` (frames of 256 samples, 128 apart: 63 frames), in decibels below the clip's
loudest cell, floored at −80 dB and rounded to whole decibels (stored as bytes, 0 = −80 dB
and 80 = 0 dB: a step of 1 dB is about the smallest change in loudness a listener notices,
and whole steps compress better). Two variants ("m6" and "f4") are held out as the test
voices: 160 test clips, 800 training clips. One waveform per word is kept as well, for the
lesson to compute a spectrogram from.

Everything is drawn from a fixed seed: the same eSpeak NG version gives the same file.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import wave
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from cnnlab import audio

WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
           "en-029", "en-us-nyc")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
TEST_VARIANTS = ("m6", "f4")
SAMPLE_RATE, CLIP = 8000, 8000              # one second at 8 kHz
N_FFT, HOP, N_MELS, FLOOR_DB = 256, 128, 40, -80.0
NOISE = 0.0003                                # standard deviation of the added white noise
OUT = Path(__file__).resolve().parents[1] / "cnnlab" / "data_files" / "spoken_words.npz"


def speak(word: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """eSpeak NG's recording of ``word`` at 8 kHz, float in [−1, 1]."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", word],
                         capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(wav)) as f:
        rate = f.getframerate()
        samples = np.frombuffer(f.readframes(f.getnframes()), dtype=np.int16) / 32768.0
    if rate != 22050:
        raise RuntimeError(f"espeak-ng wrote {rate} Hz; this script expects 22050 Hz")
    return resample_poly(samples, 160, 441)                                # 22050 · 160/441 = 8000


def clip(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Trim silence, centre in a one-second clip with a small random offset, normalise, add noise."""
    loud = np.flatnonzero(np.abs(samples) > 0.02 * np.abs(samples).max())
    margin = SAMPLE_RATE // 100                                            # keep 10 ms around the word
    word = samples[max(loud[0] - margin, 0):loud[-1] + margin][:CLIP]
    slack = CLIP - len(word)
    offset = int(np.clip(slack // 2 + rng.integers(-400, 401), 0, slack))
    out = np.zeros(CLIP)
    out[offset:offset + len(word)] = word
    out *= 0.9 / np.abs(out).max()
    out += rng.normal(0.0, NOISE, CLIP)
    return np.round(out * 32767) / 32767                                   # 16-bit samples, like a recording


def spectrogram_bytes(signal: np.ndarray) -> np.ndarray:
    """40 × 63 mel spectrogram in whole decibels above the floor, as uint8 (0 = −80 dB, 80 = 0 dB)."""
    db = audio.to_decibels(audio.mel_spectrogram(signal, SAMPLE_RATE, N_FFT, HOP, N_MELS), FLOOR_DB)
    return np.round(db - FLOOR_DB).astype(np.uint8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout
    version = version.split(" Data at")[0].strip()                       # "eSpeak NG text-to-speech: 1.51"
    rng = np.random.default_rng(args.seed)
    spectrograms, labels, voices, speeds, pitches, test = [], [], [], [], [], []
    examples = {}
    for accent in ACCENTS:
        for variant in VARIANTS:
            for label, word in enumerate(WORDS):
                speed, pitch = int(rng.integers(130, 201)), int(rng.integers(25, 76))
                signal = clip(speak(word, f"{accent}+{variant}", speed, pitch), rng)
                spectrograms.append(spectrogram_bytes(signal))
                labels.append(label)
                voices.append(f"{accent}+{variant}")
                speeds.append(speed)
                pitches.append(pitch)
                test.append(variant in TEST_VARIANTS)
                if accent == "en-us" and variant == "f1":
                    examples[label] = (len(labels) - 1, np.round(signal * 32767).astype(np.int16))   # exact
    order = sorted(examples)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out, spectrograms=np.stack(spectrograms), labels=np.array(labels, dtype=np.uint8),
        voices=np.array(voices), speeds=np.array(speeds, dtype=np.int16), pitches=np.array(pitches, dtype=np.int16),
        test=np.array(test), words=np.array(WORDS), example_index=np.array([examples[k][0] for k in order]),
        example_waveforms=np.stack([examples[k][1] for k in order]),
        settings=np.array([SAMPLE_RATE, N_FFT, HOP, N_MELS, FLOOR_DB]), synthesiser=np.array(version))
    print(f"{len(labels)} clips ({sum(test)} test) from {version}: {args.out} "
          f"({args.out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
