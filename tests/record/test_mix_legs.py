"""mix_legs: two legs into one dual-channel recording."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from antiphon.errors import AntiphonError, AudioError
from antiphon.record import MixOptions, mix_legs
from recordkit import fdelay, ncc, read, write

ECHO = 0.020


def band_error_db(x, ref, sr, hi=3400.0):
    """Level of (x - ref) below ``hi`` Hz relative to ref, in dB."""
    f = np.fft.rfftfreq(len(x), 1 / sr)
    e = np.abs(np.fft.rfft(x - ref))[f < hi]
    return 10 * np.log10(float(np.sum(e**2)) / float(np.sum(np.abs(np.fft.rfft(ref)) ** 2)))  # the bleed's own delay (echo path)


def bleed_pair(tmp_path, call, offset, level_db=-25.0):
    """Customer leg = left channel; agent leg = right + a delayed -25 dB copy of
    the customer, starting ``offset`` seconds after the customer leg."""
    data, sr, _ = call
    cust, agent = data[:, 0], data[:, 1]
    full = agent + fdelay(cust, ECHO, sr) * 10 ** (level_db / 20)
    n = len(cust) - int(np.ceil(offset * sr)) if offset > 0 else len(cust) + int(np.ceil(-offset * sr))
    if offset < 0:
        full = np.concatenate([np.zeros(n - len(full)), full])
        leg = fdelay(full, -(offset + (n - len(cust)) / sr), sr, n)
    else:
        leg = fdelay(full, -offset, sr, n)
    return write(tmp_path / "c.wav", cust, sr), write(tmp_path / "a.wav", leg, sr), sr


@pytest.mark.parametrize("offset", [2.3456789, -4.1234567])
def test_auto_alignment_recovers_a_known_offset(tmp_path, hv, offset):
    c, a, sr = bleed_pair(tmp_path, hv[0], offset)
    opts = MixOptions(bleed_delay=ECHO)
    res = mix_legs(c, a, tmp_path / "out.wav", options=opts)
    assert res.aligned_by == "correlation"
    assert res.offset == pytest.approx(offset, abs=0.1 / sr)  # within a tenth of a sample
    assert res.confidence >= opts.warn_confidence
    assert not res.warnings
    # without the echo delay the offset found is the bleed's, 20 ms early
    res2 = mix_legs(c, a, tmp_path / "out2.wav")
    assert res2.offset == pytest.approx(offset - ECHO, abs=0.1 / sr)
    # the written file: channel 1 = customer leg from the start, channel 2 = agent leg at the offset
    out, osr = read(res.path)
    cust, _ = read(c)
    leg, _ = read(a)
    begin = min(0.0, offset)
    assert res.duration == pytest.approx(max(len(cust) / sr, offset + len(leg) / sr) - begin, abs=1 / sr)
    ch1 = fdelay(cust[:, 0], -begin, sr, len(out))
    ch2 = fdelay(leg[:, 0], offset - begin, sr, len(out))
    assert ncc(out[:, 0], ch1) > 0.999
    assert ncc(out[:, 1], ch2) > 0.999
    assert abs(ncc(out[:, 1], ch1)) < 0.2 and abs(ncc(out[:, 0], ch2)) < 0.2


def test_start_times_are_checked_against_the_bleed(tmp_path, hv):
    c, a, sr = bleed_pair(tmp_path, hv[0], 2.3456789)
    opts = MixOptions(bleed_delay=ECHO)
    good = mix_legs(c, a, tmp_path / "good.wav", customer_start=0, agent_start=2.3456789, options=opts)
    assert good.offset == 2.3456789 and not good.warnings and good.confidence >= 0.5
    bad = mix_legs(c, a, tmp_path / "bad.wav", customer_start=0, agent_start=2.2, options=opts)
    assert bad.offset == 2.2  # the given times win ...
    (warning,) = bad.warnings  # ... with a warning naming the bleed's offset
    assert "+2.3457 s" in warning and "off by +0.1457 s" in warning


def test_legs_without_bleed_are_refused(tmp_path, hv):
    data, sr, _ = hv[0]
    c = write(tmp_path / "c.wav", data[:, 0], sr)
    a = write(tmp_path / "a.wav", data[sr * 3 :, 1], sr)
    with pytest.raises(AudioError, match="no clear bleed.*start times"):
        mix_legs(c, a, tmp_path / "out.wav")
    assert not (tmp_path / "out.wav").exists()


def test_start_times_place_legs_to_a_fraction_of_a_sample(tmp_path, hv):
    data, sr, _ = hv[0]
    c = write(tmp_path / "c.wav", data[:, 0], sr, "FLOAT")
    a = write(tmp_path / "a.wav", data[:, 1], sr, "FLOAT")
    res = mix_legs(c, a, tmp_path / "out.wav", customer_start="2026-11-02T15:04:05.000Z",
                   agent_start="2026-11-02T15:04:06.250063Z")  # 1.25 s + half a sample
    assert res.aligned_by == "start times" and res.confidence is None
    assert res.offset == pytest.approx(1.250063, abs=1e-9)
    assert res.start_time.isoformat().startswith("2026-11-02T15:04:05")
    out, _ = read(res.path)
    ideal = fdelay(data[:, 1], res.offset, sr, len(out))  # datetimes keep microseconds
    rounded = fdelay(data[:, 1], round(res.offset * sr) / sr, sr, len(out))
    # the fractional-delay filter is specified up to 0.85 of Nyquist: compare below 3.4 kHz
    assert band_error_db(out[:, 1], ideal, sr) < -55  # PCM16-limited
    assert band_error_db(out[:, 1], rounded, sr) > -30  # rounding to a sample would be far off
    # seconds work the same; mixing kinds does not
    res2 = mix_legs(c, a, tmp_path / "out2.wav", customer_start=10, agent_start="8.5")
    assert res2.offset == pytest.approx(-1.5)
    with pytest.raises(AntiphonError, match="both be seconds or both be wall-clock"):
        mix_legs(c, a, tmp_path / "x.wav", customer_start=0, agent_start="2026-11-02T15:04:05Z")
    with pytest.raises(AntiphonError, match="agent_start is missing"):
        mix_legs(c, a, tmp_path / "x.wav", customer_start=0)
    with pytest.raises(AntiphonError, match="neither seconds nor an ISO 8601"):
        mix_legs(c, a, tmp_path / "x.wav", customer_start="yesterday", agent_start="0")


def test_legs_at_different_rates_are_resampled(tmp_path, hv):
    import soxr

    data, sr, _ = hv[0]
    c16 = soxr.resample(data[:, 0], sr, 16000)
    c = write(tmp_path / "c16.wav", c16, 16000)
    a = sf.write(str(tmp_path / "a.flac"), data[:, 1], sr) or tmp_path / "a.flac"
    res = mix_legs(c, a, tmp_path / "out.wav", customer_start=0, agent_start=0.5)
    assert res.sample_rate == 16000
    out, osr = read(res.path)
    assert osr == 16000 and out.shape[1] == 2
    a16 = soxr.resample(data[:, 1], sr, 16000)
    assert ncc(out[:, 0], c16) > 0.999
    assert ncc(out[:, 1], fdelay(a16, 0.5, 16000, len(out))) > 0.995
    # an explicit lower rate downsamples both
    res8 = mix_legs(c, a, tmp_path / "out8.wav", customer_start=0, agent_start=0.5,
                    options=MixOptions(sample_rate=8000))
    out8, osr8 = read(res8.path)
    assert osr8 == 8000
    assert ncc(out8[:, 0], data[:, 0]) > 0.99


def test_stereo_legs_follow_the_channel_rule(tmp_path, hv):
    data, sr, _ = hv[0]
    two_sided = write(tmp_path / "fs.wav", data, sr)  # a FreeSWITCH-style stereo leg
    mono = write(tmp_path / "m.wav", data[:, 1], sr)
    res = mix_legs(two_sided, mono, tmp_path / "avg.wav", customer_start=0, agent_start=0)
    assert any("different signals" in w for w in res.warnings)
    out, _ = read(res.path)
    assert ncc(out[:, 0], data.mean(axis=1)) > 0.999
    res = mix_legs(two_sided, mono, tmp_path / "left.wav", customer_start=0, agent_start=0, customer_channel="left")
    assert not res.warnings
    out, _ = read(res.path)
    assert ncc(out[:, 0], data[:, 0]) > 0.999 and abs(ncc(out[:, 0], data[:, 1])) < 0.1
    with pytest.raises(AntiphonError, match="mono leg has no right channel"):
        mix_legs(two_sided, mono, tmp_path / "x.wav", customer_start=0, agent_start=0, agent_channel="right")


@pytest.mark.parametrize("encoding,suffix,subtype", [("ulaw", ".wav", "ULAW"), ("mp3", ".mp3", "MPEG_LAYER_III")])
def test_other_encodings(tmp_path, hv, encoding, suffix, subtype):
    data, sr, _ = hv[0]
    c = write(tmp_path / "c.wav", data[: sr * 10, 0], sr)
    a = write(tmp_path / "a.wav", data[: sr * 10, 1], sr)
    res = mix_legs(c, a, tmp_path / f"out{suffix}", customer_start=0, agent_start=0,
                   options=MixOptions(encoding=encoding))
    info = sf.info(str(res.path))
    assert info.subtype == subtype and info.channels == 2 and info.samplerate == sr
    with pytest.raises(AntiphonError, match="written as a"):
        mix_legs(c, a, tmp_path / "out.ogg", customer_start=0, agent_start=0, options=MixOptions(encoding=encoding))


def test_bad_legs_are_named(tmp_path, hv):
    data, sr, _ = hv[0]
    c = write(tmp_path / "c.wav", data[:, 0], sr)
    with pytest.raises(AudioError, match="missing.wav: no such file"):
        mix_legs(c, tmp_path / "missing.wav", tmp_path / "o.wav", customer_start=0, agent_start=0)
    (tmp_path / "junk.wav").write_bytes(b"not audio at all")
    with pytest.raises(AudioError, match="junk.wav: not a readable audio file"):
        mix_legs(tmp_path / "junk.wav", c, tmp_path / "o.wav", customer_start=0, agent_start=0)
    with pytest.raises(AntiphonError, match="overwrite the input"):
        mix_legs(c, c, c, customer_start=0, agent_start=0)


def test_clock_drift_is_measured_and_corrected(tmp_path, hv):
    """The agent leg was recorded by a clock 100 ppm fast: 5 ms off by the end of the call."""
    import soxr

    data, sr, _ = hv[0]
    offset, eps = 1.75, 100e-6
    c, a, _ = bleed_pair(tmp_path, hv[0], offset)
    leg, _ = read(a)
    drifting = write(tmp_path / "drift.wav", soxr.resample(leg[:, 0], sr, sr * (1 + eps)), sr)
    res = mix_legs(c, drifting, tmp_path / "out.wav", options=MixOptions(bleed_delay=ECHO))
    assert res.offset == pytest.approx(offset, abs=0.5 / sr)
    assert res.drift_ppm == pytest.approx(100, abs=10)
    assert any("ppm" in w and "corrected" in w for w in res.warnings)
    out, _ = read(res.path)
    ideal = fdelay(leg[:, 0], offset, sr, len(out))
    tail = slice(len(out) - 15 * sr, len(out))  # the last 15 s, where 4 ms of drift would have built up
    assert ncc(out[tail, 1], ideal[tail]) > 0.99
    # the same legs placed by start times: not corrected, and the check says so
    res2 = mix_legs(c, drifting, tmp_path / "out2.wav", customer_start=0, agent_start=offset,
                    options=MixOptions(bleed_delay=ECHO))
    assert res2.drift_ppm == 0 and any("drift apart" in w for w in res2.warnings)
    out2, _ = read(res2.path)
    assert ncc(out2[tail, 1], ideal[tail]) < 0.9
