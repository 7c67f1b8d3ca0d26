"""Legs and conferences built from the Harper Valley calls, with exact truth.

Each Harper Valley call holds two single-party tracks recorded separately
(customer left, agent right), so one call gives a customer leg and an agent
leg whose speech is known from the human annotation.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf


def load_call(calls_dir: Path, index: int = 0):
    """(stereo float array, sample rate, {0: customer speech, 1: agent speech})."""
    wavs = sorted((calls_dir / "harper-valley").glob("hvb_*.wav"))
    wav = wavs[index]
    data, sr = sf.read(str(wav), dtype="float64", always_2d=True)
    truth = json.loads(wav.with_suffix(".truth.json").read_text())
    speech = {0: [], 1: []}
    for seg in truth["segments"]:
        if not seg.get("nonspeech_only"):
            speech[seg["channel"]].append([seg["start_s"], seg["end_s"]])
    return data, sr, speech


def hold_music(seconds: float, sr: int = 8000, level_db: float = -18.0) -> np.ndarray:
    """Music-like audio: a chord progression with a melody over it (not a pure tone)."""
    t = np.arange(int(seconds * sr)) / sr
    chords = [(261.63, 329.63, 392.00), (196.00, 246.94, 293.66), (220.00, 261.63, 329.63), (174.61, 220.00, 261.63)]
    melody = [523.25, 587.33, 659.25, 587.33, 523.25, 493.88, 440.00, 493.88]
    out = np.zeros_like(t)
    beat = 0.5
    for k in range(int(np.ceil(seconds / beat))):
        a, b = int(k * beat * sr), min(len(t), int((k + 1) * beat * sr))
        if a >= b:
            break
        tt = t[a:b] - t[a]
        env = np.exp(-3.0 * tt) * (1 - np.exp(-200 * tt))
        chord = chords[(k // 4) % len(chords)]
        for f in chord:
            for h, g in ((1, 1.0), (2, 0.4), (3, 0.15)):
                out[a:b] += 0.12 * g * np.sin(2 * np.pi * f * h * tt) * env
        f = melody[k % len(melody)]
        out[a:b] += 0.3 * np.sin(2 * np.pi * f * tt) * np.exp(-5 * tt) * (1 - np.exp(-300 * tt))
    out *= 10 ** (level_db / 20) / (np.sqrt(np.mean(out**2)) + 1e-12)
    return out


def write(path: Path, data: np.ndarray, sr: int, subtype: str = "PCM_16") -> Path:
    sf.write(str(path), data, sr, subtype=subtype)
    return path




def fdelay(x: np.ndarray, seconds: float, sr: int, length: int | None = None) -> np.ndarray:
    """x delayed by ``seconds`` (negative: advanced), exactly, by an FFT phase shift."""
    n = len(x) if length is None else length
    nfft = 1 << int(np.ceil(np.log2(max(len(x), n) + abs(seconds) * sr + sr)))
    f = np.fft.rfftfreq(nfft, 1 / sr)
    return np.fft.irfft(np.fft.rfft(x, nfft) * np.exp(-2j * np.pi * f * seconds), nfft)[:n]


def ncc(x: np.ndarray, y: np.ndarray) -> float:
    """Normalised correlation of two equally long signals (0 when either is silent)."""
    n = min(len(x), len(y))
    x, y = x[:n], y[:n]
    d = np.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y) / d if d > 0 else 0.0


def read(path: Path) -> tuple[np.ndarray, int]:
    data, sr = sf.read(str(path), dtype="float64", always_2d=True)
    return data, sr
