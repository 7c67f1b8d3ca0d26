"""Server-side waveform peaks: exact per bucket, independent of block size, cached."""

from __future__ import annotations

import os

import numpy as np
import pytest

from antiphon.errors import AudioError
from antiphon.peaks import MAX_BUCKETS, Peaks, cache_path, compute_peaks, peaks_for


def _stereo(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.9, 0.9, size=(n, 2)).astype(np.float32)
    x[: n // 3, 0] = 0.0  # customer silent for the first third
    return x


def test_peaks_are_the_max_abs_per_bucket(wav_writer):
    data = _stereo(8000 * 7 + 123)
    path = wav_writer("a.wav", data)
    p = compute_peaks(path)
    assert p.peaks_per_second == 100.0 and p.sample_rate == 8000
    assert p.buckets == int(np.ceil(len(data) / 80))
    import soundfile as sf

    read, _ = sf.read(str(path), dtype="float32", always_2d=True)
    pad = (-len(read)) % 80
    ref = np.abs(np.pad(read, ((0, pad), (0, 0)))).reshape(-1, 80, 2).max(axis=1)
    got = np.stack(p.as_arrays(), axis=1)
    assert np.abs(got - ref).max() <= 0.5 / 255 + 1e-6
    assert got[: p.buckets // 3 - 1, 0].max() == 0.0


def test_block_size_does_not_change_the_result(wav_writer):
    path = wav_writer("b.wav", _stereo(8000 * 5 + 17, seed=2))
    # buckets of 80 samples straddle blocks of 0.37 s (2960 samples) and of 1.0001 s
    assert compute_peaks(path, block_seconds=0.37) == compute_peaks(path, block_seconds=30)
    assert compute_peaks(path, block_seconds=1.0001) == compute_peaks(path)


def test_long_calls_get_coarser_buckets(wav_writer):
    path = wav_writer("c.wav", _stereo(8000 * 20), sample_rate=8000)
    p = compute_peaks(path, max_buckets=500)
    assert p.buckets == 500 and p.peaks_per_second == pytest.approx(25.0)
    assert MAX_BUCKETS == 60_000


def test_cache_is_reused_and_refreshed_when_the_file_changes(wav_writer, tmp_path):
    path = wav_writer("d.wav", _stereo(8000 * 2, seed=3))
    cache = tmp_path / "peaks"
    first = peaks_for(path, cache)
    cp = cache_path(path, cache)
    assert cp.exists()
    assert peaks_for(path, cache) == first
    wav_writer("d.wav", _stereo(8000 * 3, seed=4))  # replaced: new size and mtime
    os.utime(path, ns=(1_900_000_000_000_000_000, 1_900_000_000_000_000_000))
    second = peaks_for(path, cache)
    assert second.duration == pytest.approx(3.0) and second != first
    beside = peaks_for(path)  # no cache dir: next to the media
    assert (tmp_path / "d.wav.peaks.json").exists() and beside == second


def test_compact_round_trip_and_errors(wav_writer, tmp_path):
    p = compute_peaks(wav_writer("e.wav", _stereo(8000, seed=5)))
    assert Peaks.from_dict(p.to_dict(compact=True)) == p
    assert len(p.to_dict()["peaks"]) == 2
    with pytest.raises(AudioError):
        peaks_for(tmp_path / "missing.wav")
    mono = wav_writer("mono.wav", np.zeros(8000, dtype=np.float32))
    with pytest.raises(AudioError, match="mono"):
        compute_peaks(mono)
