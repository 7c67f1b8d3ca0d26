"""Stage 2: per-channel voice activity (antiphon.vad)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from antiphon.errors import AntiphonError, AudioError
from antiphon.timeline import Timeline
from antiphon.vad import VadOptions, VoiceActivity, detect_speech

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _truth import f1, load_truth  # noqa: E402

RATE = 8000


def _hv(calls_dir, sid, cond=None):
    if cond is None:
        wav = calls_dir / "harper-valley" / f"{sid}.wav"
        truth = wav.with_suffix(".truth.json")
    else:
        wav = calls_dir / "harper-valley-degraded" / f"{sid}.{cond}.wav"
        truth = wav.parent / f"{sid}.{cond}.truth.json"
    return wav, load_truth(truth), json.loads(truth.read_text())


# -- real speech ------------------------------------------------------------------

@pytest.mark.parametrize("cond", ["bleed", "noisy"])
def test_real_call_matches_human_timings(calls_dir, cond):
    wav, truth, meta = _hv(calls_dir, "hvb_0091a706bc604188", cond)
    va = detect_speech(wav)
    assert isinstance(va, VoiceActivity)
    for ch in (0, 1):
        assert f1(truth[ch], va.speech[ch], meta["duration_s"]) >= 0.92, ch
        ref = truth[ch].duration()
        assert abs(va.speech[ch].duration() - ref) <= 0.10 * ref, (ch, va.speech[ch].duration(), ref)


def test_bleed_is_not_customer_talk(calls_dir):
    """Agent bleed at -20 dB on the customer channel must not count as talk."""
    truth = load_truth(calls_dir / "synthetic" / "support_call.truth.json")
    va = detect_speech(calls_dir / "synthetic" / "support_call_8k_bleed.wav")
    assert abs(va.speech[0].duration() - truth[0].duration()) <= 0.5
    assert abs(va.speech[1].duration() - truth[1].duration()) <= 0.5 + 0.05 * truth[1].duration()
    assert va.diagnostics["channels"][0]["bleed_rejected_s"] > 5.0
    # the one real crosstalk span (41.58-43.08) is kept on both channels
    overlap = (va.speech[0] & va.speech[1]).crop(41.0, 44.0).duration()
    assert overlap >= 1.2


def test_hold_music_is_not_agent_talk(calls_dir):
    wav, truth, meta = _hv(calls_dir, "hvb_0002f70f7386445b", "music")
    va = detect_speech(wav)
    start, end = meta["music_span_s"]
    assert va.speech[1].crop(start, end).duration() < 0.3
    ref = truth[1].duration()
    assert abs(va.speech[1].duration() - ref) <= 0.08 * ref
    assert va.diagnostics["channels"][1]["tone_rejected_s"] > 2.0


# -- generated signals ---------------------------------------------------------------

def _tone(freqs, seconds, level=0.3, rate=RATE):
    t = np.arange(int(seconds * rate)) / rate
    return sum(np.sin(2 * np.pi * f * t) for f in freqs) * (level / len(freqs))


def _dtmf(digits="5551234567890#", rate=RATE):
    rows, cols = [697, 770, 852, 941], [1209, 1336, 1477, 1633]
    keys = "123A456B789C*0#D"
    out = []
    for d in digits:
        i = keys.index(d)
        out += [_tone([rows[i // 4], cols[i % 4]], 0.08, 0.5, rate), np.zeros(int(0.08 * rate))]
    return np.concatenate(out)


def _ringback(seconds=18.0, rate=RATE):
    one = np.concatenate([_tone([440, 480], 2.0, 0.3, rate), np.zeros(4 * rate)])
    return np.tile(one, int(np.ceil(seconds / 6.0)))[: int(seconds * rate)]


@pytest.mark.parametrize("kind", ["tone", "dtmf", "ringback", "white", "hum"])
def test_non_speech_signals_give_no_speech(wav_writer, kind):
    rng = np.random.default_rng(7)
    n = 12 * RATE
    if kind == "tone":
        sig = np.concatenate([np.zeros(RATE), _tone([1000], 3.0), np.zeros(RATE), _tone([350, 440], 4.0)])
    elif kind == "dtmf":
        sig = np.concatenate([np.zeros(RATE), _dtmf(), np.zeros(RATE), _dtmf("0123456789")])
    elif kind == "ringback":
        sig = _ringback()
    elif kind == "white":
        sig = np.concatenate([np.zeros(2 * RATE), 0.1 * rng.standard_normal(n)])
    else:  # mains hum with harmonics plus a faint noise floor
        sig = _tone([50, 100, 150], 12.0, 0.3) + 0.001 * rng.standard_normal(n)
    sig = np.asarray(sig, dtype=np.float64)
    other = 0.0005 * rng.standard_normal(len(sig))
    path = wav_writer(f"{kind}.wav", np.stack([sig, other], axis=1))
    va = detect_speech(path)
    assert va.speech[0].duration() < 0.3, va.speech[0]
    assert va.speech[1].duration() < 0.3, va.speech[1]


def test_digital_silence(wav_writer):
    path = wav_writer("silence.wav", np.zeros((5 * RATE, 2)))
    va = detect_speech(path)
    assert va.speech == (Timeline(), Timeline())
    assert va.similarity["silent_channels"] == [0, 1]


def test_real_crosstalk_is_kept(calls_dir, wav_writer):
    """Two real utterances at equal level, overlapping, one per channel: both are talk."""
    from antiphon.audio import read

    hv = calls_dir / "harper-valley"
    cust = read(hv / "hvb_0091a706bc604188.wav", start=10.69, end=14.77)[:, 0]   # customer, 4.1 s
    agent = read(hv / "hvb_0002f70f7386445b.wav", start=1.669, end=4.339)[:, 1]  # agent, 2.7 s
    cust = cust / np.sqrt(np.mean(cust**2)) * 0.05
    agent = agent / np.sqrt(np.mean(agent**2)) * 0.05
    x = np.zeros((9 * RATE, 2))
    x[2 * RATE: 2 * RATE + len(cust), 0] = cust        # customer 2.0-6.1 s
    x[3 * RATE: 3 * RATE + len(agent), 1] = agent      # agent 3.0-5.7 s, fully overlapped
    va = detect_speech(wav_writer("xtalk.wav", x))
    both = (va.speech[0] & va.speech[1]).duration()
    assert both >= 0.8 * (len(agent) / RATE), (va.speech, both)
    assert va.speech[0].duration() >= 0.85 * (len(cust) / RATE)


def test_block_size_does_not_change_the_result(calls_dir):
    wav, _, _ = _hv(calls_dir, "hvb_0002f70f7386445b", "bleed")
    a = detect_speech(wav, VadOptions(block_seconds=30.0))
    b = detect_speech(wav, VadOptions(block_seconds=1.37))
    c = detect_speech(wav, VadOptions(block_seconds=0.013))
    assert a.speech == b.speech == c.speech
    assert a.similarity == b.similarity


@pytest.mark.parametrize("rate", [16000, 44100, 48000])
def test_wideband_input(calls_dir, wav_writer, rate):
    import soundfile as sf
    import soxr

    truth = load_truth(calls_dir / "synthetic" / "support_call.truth.json")
    x, sr = sf.read(str(calls_dir / "synthetic" / "support_call_8k.wav"), dtype="float32")
    x = x[: 40 * sr]  # first 40 s keep the test quick
    y = soxr.resample(x, sr, rate)
    va = detect_speech(wav_writer(f"wide{rate}.wav", y, sample_rate=rate))
    assert va.info.sample_rate == rate
    for ch in (0, 1):
        ref = truth[ch].crop(0, 40.0)
        assert f1(ref, va.speech[ch], 40.0) >= 0.95


def test_options_are_validated():
    with pytest.raises(AntiphonError, match="threshold"):
        VadOptions(threshold=1.5)
    with pytest.raises(AntiphonError, match="min_silence"):
        VadOptions(min_silence=-1)
    with pytest.raises(AntiphonError, match="aggressiveness"):
        VadOptions(aggressiveness=5)


def test_bad_file_is_a_clear_error(tmp_path, wav_writer):
    with pytest.raises(AudioError, match="no such file"):
        detect_speech(tmp_path / "missing.wav")
    mono = wav_writer("mono.wav", np.zeros(RATE))
    with pytest.raises(AudioError, match="mono"):
        detect_speech(mono)


def test_diagnostics_are_json(calls_dir):
    va = detect_speech(calls_dir / "synthetic" / "support_call_8k_noisy.wav")
    d = json.loads(json.dumps(va.to_dict()))
    assert len(d["diagnostics"]["channels"]) == 2
    assert d["diagnostics"]["channels"][0]["noise_floor_db"] > d["diagnostics"]["channels"][1]["noise_floor_db"]


@pytest.mark.slow
def test_one_hour_in_bounded_memory(tmp_path):
    """A one-hour stereo call is analysed with well under 500 MB resident."""
    import soundfile as sf

    path = tmp_path / "hour.wav"
    rng = np.random.default_rng(1)
    block = 60 * RATE
    with sf.SoundFile(str(path), "w", RATE, 2, subtype="PCM_16") as f:
        for k in range(60):
            t = np.arange(block) / RATE
            x = 0.002 * rng.standard_normal((block, 2))
            # bursts of harmonic "voice-like" signal alternating between channels
            env = (np.sin(2 * np.pi * 0.1 * t + k) > 0.3) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))
            voice = 0.1 * env * np.sin(2 * np.pi * (140 + 20 * np.sin(2 * np.pi * 0.5 * t)) * t)
            x[:, k % 2] += voice
            f.write(x)
    code = textwrap.dedent(f"""
        import json, resource
        from antiphon.vad import detect_speech
        va = detect_speech({str(path)!r})
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({{"rss_mb": rss, "duration": va.info.duration,
                          "speech": [tl.duration() for tl in va.speech]}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert abs(res["duration"] - 3600) < 1
    assert res["rss_mb"] < 500, res


def test_identical_channels_are_not_bleed_of_each_other(calls_dir, wav_writer):
    """A mono call copied onto both channels: flagged by similarity, speech kept on both."""
    from antiphon.audio import read

    x = read(calls_dir / "harper-valley" / "hvb_0002f70f7386445b.wav", start=0.0, end=25.0)[:, 1]
    va = detect_speech(wav_writer("dup.wav", np.stack([x, x], axis=1)))
    assert va.similarity["identical"] is True
    assert va.speech[0] == va.speech[1]
    assert va.speech[0].duration() > 5.0


def test_clicks_and_hum_do_not_stretch_talk(calls_dir, wav_writer):
    """Keyboard taps around the agent's speech and mains hum are not talk."""
    import soundfile as sf

    wav, truth, meta = _hv(calls_dir, "hvb_00d676d7058c49bb")
    x, sr = sf.read(str(wav), dtype="float64")
    rng = np.random.default_rng(5)
    for i in rng.integers(0, len(x) - 50, 300):  # ~6 taps a second, 5 ms each
        x[i:i + 40, 1] += rng.standard_normal(40) * 0.2 * np.exp(-np.arange(40) / 8)
    t = np.arange(len(x)) / sr
    x *= 0.1
    x += (0.01 * np.sin(2 * np.pi * 60 * t) + 0.003 * np.sin(2 * np.pi * 180 * t))[:, None]
    va = detect_speech(wav_writer("taps.wav", x, sample_rate=sr))
    for ch in (0, 1):
        ref = truth[ch].duration()
        assert abs(va.speech[ch].duration() - ref) <= 0.05 * ref, (ch, va.speech[ch].duration(), ref)
        assert f1(truth[ch], va.speech[ch], meta["duration_s"]) >= 0.93


@pytest.mark.parametrize("samples", [1, 100, 300, 1000])
def test_very_short_recordings(wav_writer, samples):
    x = np.random.default_rng(0).standard_normal((samples, 2)) * 0.1
    va = detect_speech(wav_writer("short.wav", x))
    assert va.speech == (Timeline(), Timeline())
    assert len(va.diagnostics["channels"]) == 2


def test_generated_pop_music_in_a_pause_is_not_talk(calls_dir, wav_writer):
    """Drums, bass, melody and chords at the agent's speech level, inside a pause."""
    import soundfile as sf

    wav, truth, _ = _hv(calls_dir, "hvb_0002f70f7386445b", "line")
    x, sr = sf.read(str(wav), dtype="float64")
    a, b = int(8.2 * sr), int(12.39 * sr)
    t = np.arange(b - a) / sr
    rng = np.random.default_rng(0)
    music = np.zeros(b - a)
    for k in range(int(t[-1] / 0.5) + 1):  # 120 bpm: kick on the beat, snare and hats between
        i, j = int(k * 0.5 * sr), int((k * 0.5 + 0.25) * sr)
        L = min(int(0.15 * sr), len(music) - i)
        if L > 0:
            tt = np.arange(L) / sr
            music[i:i + L] += 0.5 * np.sin(2 * np.pi * (100 - 300 * tt) * tt) * np.exp(-tt * 20)
        L = min(int(0.1 * sr), len(music) - j)
        if L > 0:
            music[j:j + L] += 0.3 * rng.standard_normal(L) * np.exp(-np.arange(L) / sr * 30)
    step = (t // 0.25).astype(int)
    bass = np.array([110, 110, 147, 165, 131, 131, 98, 123])[step % 8]
    lead = np.array([523, 587, 659, 784, 659, 587, 523, 440])[step % 8]
    pb, pl = np.cumsum(2 * np.pi * bass / sr), np.cumsum(2 * np.pi * lead / sr)
    music += 0.4 * (np.sin(pb) + 0.5 * np.sin(2 * pb)) + 0.25 * np.sign(np.sin(pl)) * 0.5
    music += 0.2 * sum(np.sin(2 * np.pi * f * t) * 0.3 for f in (262, 330, 392))
    agent = x[:, 1]
    level = np.sqrt(np.mean(agent[np.abs(agent) > 0.01] ** 2))
    x[a:b, 1] += music / np.sqrt(np.mean(music**2)) * level
    va = detect_speech(wav_writer("pop.wav", x, sample_rate=sr))
    assert va.speech[1].crop(8.2, 12.39).duration() < 1.2
    assert abs(va.speech[1].duration() - truth[1].duration()) <= 0.1 * truth[1].duration()
