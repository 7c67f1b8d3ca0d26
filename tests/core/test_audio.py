"""The reader: formats, rates, streaming, and a clear error for every bad file."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from antiphon.audio import ChannelSimilarity, iter_blocks, probe, read
from antiphon.errors import AudioError


def tone_pair(seconds=2.0, sr=8000):
    t = np.arange(int(seconds * sr)) / sr
    left = 0.3 * np.sin(2 * np.pi * 440 * t)
    right = 0.2 * np.sin(2 * np.pi * 660 * t)
    return np.stack([left, right], axis=1)


@pytest.mark.parametrize(
    "fmt,subtype,ext",
    [
        ("WAV", "PCM_U8", "wav"),
        ("WAV", "PCM_16", "wav"),
        ("WAV", "PCM_24", "wav"),
        ("WAV", "PCM_32", "wav"),
        ("WAV", "FLOAT", "wav"),
        ("WAV", "ULAW", "wav"),
        ("WAV", "ALAW", "wav"),
        ("FLAC", "PCM_16", "flac"),
        ("OGG", "VORBIS", "ogg"),
        ("OGG", "OPUS", "ogg"),
        ("MP3", "MPEG_LAYER_III", "mp3"),
    ],
)
def test_reads_every_supported_encoding(tmp_path, fmt, subtype, ext):
    sr = 48000 if subtype == "OPUS" else 8000 if fmt == "WAV" else 16000
    data = tone_pair(sr=sr)
    path = tmp_path / f"call.{ext}"
    sf.write(str(path), data, sr, format=fmt, subtype=subtype)
    info = probe(path)
    assert info.channels == 2 and info.sample_rate == sr
    assert info.duration == pytest.approx(2.0, abs=0.1)
    got = np.concatenate(list(iter_blocks(path, block_seconds=0.3)))
    assert got.dtype == np.float32 and got.shape[1] == 2
    # The left channel keeps the 440 Hz tone, louder than the right's 660 Hz one.
    n = min(len(got), len(data)) // 2
    rms = np.sqrt((got[:n] ** 2).mean(axis=0))
    assert rms[0] > rms[1] > 0.05


def test_blocks_cover_the_file_exactly(wav_writer):
    data = tone_pair(seconds=3.3)
    path = wav_writer("c.wav", data)
    for block_seconds in (0.1, 1.0, 7.0):
        got = np.concatenate(list(iter_blocks(path, block_seconds=block_seconds)))
        assert len(got) == len(data)
        np.testing.assert_allclose(got, data, atol=1 / 32768 + 1e-6)


@pytest.mark.parametrize("target", [8000, 16000])
@pytest.mark.parametrize("source", [8000, 16000, 22050, 44100, 48000])
def test_streaming_resample_keeps_length_and_content(wav_writer, source, target):
    data = tone_pair(seconds=2.0, sr=source)
    path = wav_writer("c.wav", data, sample_rate=source)
    got = np.concatenate(list(iter_blocks(path, sample_rate=target, block_seconds=0.37)))
    assert abs(len(got) - 2.0 * target) <= 2
    whole = read(path, sample_rate=target)
    assert abs(len(whole) - len(got)) <= 2
    # A 440 Hz tone is still a 440 Hz tone after conversion.
    spec = np.abs(np.fft.rfft(got[:, 0]))
    peak_hz = np.argmax(spec) * target / len(got)
    assert abs(peak_hz - 440) < 2


def test_read_span(wav_writer):
    data = tone_pair(seconds=3.0)
    path = wav_writer("c.wav", data)
    span = read(path, start=1.0, end=1.5)
    assert span.shape == (4000, 2)
    np.testing.assert_allclose(span, data[8000:12000], atol=1e-4)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        probe(tmp_path / "nope.wav")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty.wav: the file is empty"):
        probe(p)


def test_not_audio(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("this is a text file, not a recording\n" * 20)
    with pytest.raises(AudioError, match="not a recognised audio file"):
        probe(p)


def test_directory(tmp_path):
    with pytest.raises(AudioError, match="is a directory"):
        probe(tmp_path)


def test_corrupt_wav_header(tmp_path, wav_writer):
    p = wav_writer("c.wav", tone_pair())
    raw = bytearray(p.read_bytes())
    raw[20:36] = b"\xff" * 16  # destroy the fmt chunk
    p.write_bytes(bytes(raw))
    with pytest.raises(AudioError, match="c.wav: a WAV file that cannot be decoded"):
        probe(p)


def test_truncated_wav(wav_writer):
    p = wav_writer("c.wav", tone_pair(seconds=4.0))
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(AudioError, match=r"truncated WAV: the header declares 4.00 s but only 2.00 s"):
        probe(p)


def test_mono_is_refused_with_a_hint(wav_writer):
    p = wav_writer("mono.wav", tone_pair()[:, 0])
    with pytest.raises(AudioError, match="mono recording.*antiphon mix"):
        probe(p)


def test_more_than_two_channels(wav_writer):
    data = np.concatenate([tone_pair(), tone_pair()[:, :1]], axis=1)
    p = wav_writer("three.wav", data)
    with pytest.raises(AudioError, match="3 channels; expected exactly two"):
        probe(p)


def test_sample_rate_out_of_range(wav_writer):
    p = wav_writer("c.wav", tone_pair(sr=4000), sample_rate=4000)
    with pytest.raises(AudioError, match="4000 Hz is outside"):
        probe(p)
    p = wav_writer("d.wav", tone_pair(seconds=0.5, sr=96000), sample_rate=96000)
    with pytest.raises(AudioError, match="96000 Hz is outside"):
        probe(p)


def test_zero_samples(tmp_path):
    p = tmp_path / "none.wav"
    sf.write(str(p), np.zeros((0, 2)), 8000, subtype="PCM_16")
    with pytest.raises(AudioError, match="holds no audio"):
        probe(p)


def test_similarity_flags_duplicated_mono(wav_writer):
    rng = np.random.default_rng(1)
    mono = 0.2 * rng.standard_normal(16000)
    dup = np.stack([mono, mono], axis=1)
    s = ChannelSimilarity()
    for block in iter_blocks(wav_writer("dup.wav", dup), block_seconds=0.5):
        s.update(block)
    assert s.result()["identical"] is True

    # Nearly identical (a little independent noise) still counts...
    near = dup + 0.002 * rng.standard_normal(dup.shape)
    s = ChannelSimilarity()
    s.update(near.astype(np.float32))
    assert s.result()["identical"] is True

    # ...a real dual-channel call does not.
    s = ChannelSimilarity()
    s.update(tone_pair().astype(np.float32))
    assert s.result()["identical"] is False


def test_similarity_reports_silent_channel():
    data = tone_pair()
    data[:, 1] = 0
    s = ChannelSimilarity()
    s.update(data.astype(np.float32))
    assert s.result()["silent_channels"] == [1]


def test_real_call_probe(calls_dir):
    info = probe(calls_dir / "harper-valley" / "hvb_0002f70f7386445b.wav")
    assert (info.channels, info.sample_rate, info.subtype) == (2, 8000, "PCM_16")
    assert info.duration == pytest.approx(51.1, abs=0.1)
