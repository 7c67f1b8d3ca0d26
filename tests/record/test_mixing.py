"""The mixer's parts: limiter, fractional delay, streaming in bounded memory."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from antiphon import _mixing
from antiphon.record import MixOptions, record_conference
from recordkit import read


def test_limiter_never_exceeds_the_ceiling_and_leaves_quiet_audio_alone():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(40000) * 0.2
    x[10000:10400] *= 8  # a burst far over full scale
    x[30000] = -3.0  # a single spike
    ceiling = 10 ** (-1 / 20)
    lim = _mixing.Limiter(ceiling, 40)
    out = np.concatenate([lim.process(x[i : i + 3333]) for i in range(0, len(x), 3333)] + [lim.flush()])
    assert len(out) == len(x)
    assert np.abs(out).max() <= ceiling + 1e-12
    # far from the loud parts the signal passes bit-identically
    quiet = np.ones(len(x), bool)
    for a, b in ((10000, 10400), (30000, 30001)):
        quiet[a - 200 : b + 200] = False
    loud_enough = np.abs(x) > ceiling
    quiet &= ~np.convolve(loud_enough, np.ones(161), "same").astype(bool)
    assert np.array_equal(out[quiet], x[quiet])
    # the gain is smooth: no sign flips, the spike is scaled not clipped
    assert np.all(np.sign(out[loud_enough]) == np.sign(x[loud_enough]))
    assert out[30000] == pytest.approx(-ceiling, rel=1e-9)
    # block size does not matter
    lim2 = _mixing.Limiter(ceiling, 40)
    out2 = np.concatenate([lim2.process(x), lim2.flush()])
    assert np.allclose(out, out2, atol=1e-12)


def test_sliding_min_matches_the_naive_one():
    rng = np.random.default_rng(2)
    x = rng.random(1000)
    for w in (1, 2, 7, 64):
        naive = np.array([x[i : i + w].min() for i in range(len(x) - w + 1)])
        assert np.array_equal(_mixing.sliding_min(x, w), naive)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.83])
def test_fractional_delay_filter(fraction):
    h = _mixing.fractional_delay_filter(fraction)
    w = np.linspace(0, 0.85 * np.pi, 400)
    response = np.exp(-1j * np.outer(w, np.arange(len(h)))) @ h
    ideal = np.exp(-1j * w * (len(h) / 2 - 1 + fraction))
    assert 20 * np.log10(np.abs(response - ideal).max()) < -80


def _long_legs(tmp_path, minutes, sr=8000):
    """Write two long legs block by block (they never exist whole in memory)."""
    rng = np.random.default_rng(3)
    paths = []
    for name, f in (("customer", 300.0), ("agent", 500.0)):
        path = tmp_path / f"{name}.wav"
        with sf.SoundFile(str(path), "w", samplerate=sr, channels=1, subtype="PCM_16") as fh:
            for k in range(minutes * 6):
                t = np.arange(10 * sr) / sr + k * 10
                fh.write(0.1 * np.sin(2 * np.pi * f * t) + 0.01 * rng.standard_normal(len(t)))
        paths.append(path)
    return paths


@pytest.mark.slow
def test_an_hour_long_conference_mixes_in_bounded_memory(tmp_path):
    minutes = 60
    customer, agent = _long_legs(tmp_path, minutes)
    desc = {"start_time": "2026-11-02T15:00:00Z", "participants": [
        {"role": "customer", "audio": str(customer), "join": 0, "leave": minutes * 60,
         "holds": [{"start": 600, "end": 660}]},
        {"id": "alice", "role": "agent", "audio": str(agent), "join": 1.5, "leave": minutes * 60 - 1},
    ]}
    tracemalloc.start()
    (out,) = record_conference(desc, tmp_path / "out", options=MixOptions(block_seconds=10))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    info = sf.info(str(out.path))
    assert info.frames == minutes * 60 * 8000
    whole = info.frames * 2 * 8  # the call as float64, as a load-everything mixer would hold it
    assert peak < 40e6 < whole / 5
    with sf.SoundFile(str(out.path)) as fh:
        fh.seek(3000 * 8000)
        block = fh.read(8000, dtype="float64")
    assert np.abs(block).max() > 0.05  # still audio at 50 minutes


def test_streaming_in_small_blocks_equals_one_block(tmp_path, legs):
    desc = {"start_time": "2026-11-02T15:00:00Z", "hold_music": str(legs["music"][0]), "participants": [
        {"role": "customer", "audio": str(legs["customer"][0]), "join": 0, "leave": 50,
         "holds": [{"start": 20.3, "end": 45.1}]},
        {"id": "alice", "role": "agent", "audio": str(legs["alice"][0]), "join": 0.123456, "leave": 50,
         "audio_start": 0.123456},
    ]}
    (tmp_path / "c.json").write_text(json.dumps(desc))
    (a,) = record_conference(tmp_path / "c.json", tmp_path / "a", options=MixOptions(block_seconds=0.37))
    (b,) = record_conference(tmp_path / "c.json", tmp_path / "b", options=MixOptions(block_seconds=60))
    x, _ = read(a.path)
    y, _ = read(b.path)
    assert np.array_equal(x, y)
    # 24.8 s of hold from a 20 s music file: it loops, no gap
    seg = x[int(20.4 * 8000) : int(45 * 8000), 1]
    frames = seg[: len(seg) // 800 * 800].reshape(-1, 800)
    assert (np.abs(frames).max(axis=1) > 0).all()
