"""Fixtures for transcription, rules and redaction tests.

The Whisper model (extra ``transcribe``) and ``espeak-ng`` are installed by the
project's test setup; in CI their absence is a failure, locally a loud skip.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from antiphon.timeline import Timeline

RATE = 8000


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing in CI (the test setup installs it)")
    pytest.skip(f"SKIPPED LOUDLY: {what} is not installed here")


@pytest.fixture(scope="session")
def whisper():
    """The default model's options, after checking faster-whisper and the model files are there."""
    if importlib.util.find_spec("faster_whisper") is None:
        _missing("faster-whisper (pip install 'antiphon[transcribe]')")
    from antiphon.transcribe import ModelNotFound, TranscribeOptions, load_model

    try:
        opts = TranscribeOptions(cpu_threads=1)
        load_model(opts)
    except ModelNotFound as exc:
        _missing(f"the default Whisper model ({exc})")
    return opts


@pytest.fixture(scope="session")
def espeak():
    exe = shutil.which("espeak-ng")
    if exe is None:
        _missing("espeak-ng (apt-get install espeak-ng)")
    return exe


def say(espeak: str, text: str, *, voice: str = "en-us", speed: int = 150, pitch: int = 50) -> np.ndarray:
    """Speech for ``text`` from espeak-ng, as 8 kHz float32 mono."""
    import soxr

    proc = subprocess.run([espeak, "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
                          capture_output=True, check=True)
    import io

    import soundfile as sf

    data, rate = sf.read(io.BytesIO(proc.stdout), dtype="float32")
    data = soxr.resample(data, rate, RATE).astype(np.float32)
    peak = float(np.max(np.abs(data))) or 1.0
    return data / peak * 0.5


def speech_span(x: np.ndarray, offset: float) -> tuple[float, float]:
    """First and last sample above -40 dB of the peak, in seconds from ``offset``."""
    loud = np.flatnonzero(np.abs(x) > np.max(np.abs(x)) * 0.01)
    return offset + loud[0] / RATE, offset + (loud[-1] + 1) / RATE


def build_call(path: Path, espeak: str, script: list[tuple[str, float, str]], *, tail: float = 1.0,
               noise: float = 0.0) -> tuple[Path, dict[str, Timeline]]:
    """A stereo 8 kHz call: each ``(party, start, text)`` spoken on its party's channel.

    The customer speaks on channel 0 with one voice, the agent on channel 1 with
    another. Returns the file and each party's speech timeline.
    """
    import soundfile as sf

    voices = {"customer": ("en-us", 140, 40), "agent": ("en-gb", 160, 60)}
    clips = []
    spans: dict[str, list] = {"customer": [], "agent": []}
    for party, start, text in script:
        v, s, p = voices[party]
        x = say(espeak, text, voice=v, speed=s, pitch=p)
        clips.append((party, start, x))
        spans[party].append(speech_span(x, start))
    end = max(start + len(x) / RATE for _, start, x in clips) + tail
    audio = np.zeros((int(end * RATE), 2), dtype=np.float32)
    rng = np.random.default_rng(7)
    if noise:
        audio += rng.normal(0, noise, audio.shape).astype(np.float32)
    for party, start, x in clips:
        ch = 0 if party == "customer" else 1
        a = int(start * RATE)
        audio[a : a + len(x), ch] += x
    sf.write(str(path), audio, RATE, subtype="PCM_16")
    return path, {p: Timeline(v) for p, v in spans.items()}


def truth_speech(truth_json: Path) -> dict[str, Timeline]:
    data = json.loads(Path(truth_json).read_text())
    if "segments" in data:
        chans: dict[int, list] = {0: [], 1: []}
        for seg in data["segments"]:
            if not seg.get("nonspeech_only"):
                chans[int(seg["channel"])].append((seg["start_s"], seg["end_s"]))
        return {"customer": Timeline(chans[0]), "agent": Timeline(chans[1])}
    iv = data["intervals"]
    return {"customer": Timeline(iv["0"]), "agent": Timeline(iv["1"])}


@pytest.fixture(scope="session")
def support_truth(calls_dir) -> dict:
    return json.loads((calls_dir / "synthetic" / "support_call.truth.json").read_text())
