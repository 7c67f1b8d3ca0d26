"""Stage 1: reading dual-channel recordings.

Opens WAV (PCM 8/16/24/32-bit, float, G.711 mu-law and A-law), FLAC, MP3 and
OGG (Vorbis/Opus) through libsndfile, checks that the file is a usable
dual-channel call and streams it in bounded blocks, so a four-hour recording
is read in constant memory. Times at this boundary are seconds; inside, the
reader counts samples.

>>> info = probe("call.wav")                            # doctest: +SKIP
>>> for block in iter_blocks("call.wav", sample_rate=16000):   # doctest: +SKIP
...     block.shape                                     # (n, 2) float32
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import AudioError

__all__ = [
    "AudioInfo",
    "ChannelSimilarity",
    "probe",
    "iter_blocks",
    "read",
    "MIN_SAMPLE_RATE",
    "MAX_SAMPLE_RATE",
]

MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 48000
#: Default block length for streaming reads, in seconds.
BLOCK_SECONDS = 30.0


@dataclass(frozen=True)
class AudioInfo:
    """What a recording is, as read from its header."""

    path: str
    duration: float  # seconds
    sample_rate: int
    channels: int
    frames: int
    format: str  # container: WAV, FLAC, MP3, OGG ...
    subtype: str  # encoding: PCM_16, ULAW, ALAW, FLOAT, MPEG_LAYER_III, VORBIS, OPUS ...

    def to_dict(self) -> dict:
        d = asdict(self)
        d["duration"] = round(self.duration, 3)
        return d


def _soundfile():
    import soundfile

    return soundfile


def _open(path: str | os.PathLike):
    """Open with libsndfile, turning every failure into an AudioError."""
    sf = _soundfile()
    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: no such file")
    if p.is_dir():
        raise AudioError(f"{p}: is a directory, not a recording")
    size = p.stat().st_size
    if size == 0:
        raise AudioError(f"{p}: the file is empty (0 bytes)")
    try:
        return sf.SoundFile(str(p))
    except Exception as exc:  # libsndfile's message is terse; say what we know
        head = p.read_bytes()[:12]
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            why = f"a WAV file that cannot be decoded ({_clean(exc)}); it may be truncated or corrupt"
        elif head[:4] in (b"fLaC", b"OggS") or head[:3] == b"ID3" or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
            why = f"an audio file that cannot be decoded ({_clean(exc)}); it may be truncated or corrupt"
        else:
            why = "not a recognised audio file (expected WAV, FLAC, MP3 or OGG)"
        raise AudioError(f"{p}: {why}") from None


def _clean(exc: Exception) -> str:
    text = str(exc)
    # soundfile prefixes "Error opening 'path': "
    if ": " in text and text.startswith("Error opening"):
        text = text.split(": ", 1)[1]
    return text.strip().rstrip(".")


def _wav_declared_frames(path: Path, f) -> int | None:
    """Frames a WAV header's data chunk declares, to detect truncation."""
    if f.format not in ("WAV", "WAVEX") or f.subtype in ("IMA_ADPCM", "MS_ADPCM", "GSM610"):
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return None
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos = 12
    block_align = None
    while pos + 8 <= len(head):
        cid = head[pos : pos + 4]
        size = int.from_bytes(head[pos + 4 : pos + 8], "little")
        if cid == b"fmt ":
            block_align = int.from_bytes(head[pos + 20 : pos + 22], "little")
        if cid == b"data":
            if not block_align or size in (0, 0xFFFFFFFF):
                return None
            return size // block_align
        pos += 8 + size + (size & 1)
    return None


def probe(path: str | os.PathLike) -> AudioInfo:
    """Read a recording's header and check it is a usable dual-channel call.

    Raises :class:`AudioError` naming the file and the problem for missing,
    empty, truncated, corrupt and non-audio files, mono files, files with more
    than two channels, and sample rates outside 8-48 kHz.
    """
    p = Path(path)
    with _open(p) as f:
        info = AudioInfo(
            path=str(p),
            duration=f.frames / f.samplerate if f.samplerate else 0.0,
            sample_rate=int(f.samplerate),
            channels=int(f.channels),
            frames=int(f.frames),
            format=str(f.format),
            subtype=str(f.subtype),
        )
        declared = _wav_declared_frames(p, f)
    if info.channels == 1:
        raise AudioError(
            f"{p}: mono recording; dual-channel analysis needs two channels "
            "(customer on channel 1, agent on channel 2). Record with dual channels "
            "(Twilio: RecordingChannels=dual) or build one with 'antiphon mix'."
        )
    if info.channels > 2:
        raise AudioError(
            f"{p}: {info.channels} channels; expected exactly two (customer and agent)"
        )
    if not MIN_SAMPLE_RATE <= info.sample_rate <= MAX_SAMPLE_RATE:
        raise AudioError(
            f"{p}: sample rate {info.sample_rate} Hz is outside the supported "
            f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz"
        )
    if info.frames <= 0:
        raise AudioError(f"{p}: the recording holds no audio (0 samples)")
    if declared is not None and declared > info.frames + 1:
        missing = (declared - info.frames) / info.sample_rate
        raise AudioError(
            f"{p}: truncated WAV: the header declares {declared / info.sample_rate:.2f} s "
            f"but only {info.duration:.2f} s are present ({missing:.2f} s missing); "
            "the download or upload was probably cut short"
        )
    return info


def iter_blocks(
    path: str | os.PathLike,
    *,
    sample_rate: int | None = None,
    block_seconds: float = BLOCK_SECONDS,
) -> Iterator[np.ndarray]:
    """Yield the recording as consecutive ``(n, 2)`` float32 blocks in [-1, 1].

    With ``sample_rate`` set, blocks are resampled on the fly (soxr, streaming)
    to that rate. Memory stays bounded by ``block_seconds`` whatever the
    recording's length.
    """
    info = probe(path)
    n = max(1, int(round(block_seconds * info.sample_rate)))
    resampler = None
    if sample_rate and sample_rate != info.sample_rate:
        import soxr

        resampler = soxr.ResampleStream(info.sample_rate, sample_rate, 2, dtype="float32", quality="HQ")
    sf = _soundfile()
    try:
        with sf.SoundFile(str(path)) as f:
            while True:
                block = f.read(n, dtype="float32", always_2d=True)
                last = len(block) < n
                if resampler is not None:
                    block = resampler.resample_chunk(block, last=last)
                if len(block):
                    yield block
                if last:
                    break
    except AudioError:
        raise
    except (RuntimeError, OSError) as exc:
        raise AudioError(f"{path}: decoding failed part-way ({_clean(exc)}); the file may be corrupt") from None


def read(path: str | os.PathLike, *, sample_rate: int | None = None, start: float = 0.0,
         end: float | None = None) -> np.ndarray:
    """Read ``[start, end)`` seconds of a recording as one ``(n, 2)`` float32 array.

    Meant for bounded spans (a turn, a segment, a test); analysis of whole
    recordings streams with :func:`iter_blocks`.
    """
    info = probe(path)
    sf = _soundfile()
    a = max(0, int(round(start * info.sample_rate)))
    b = info.frames if end is None else min(info.frames, int(round(end * info.sample_rate)))
    with sf.SoundFile(str(path)) as f:
        f.seek(a)
        data = f.read(max(0, b - a), dtype="float32", always_2d=True)
    if sample_rate and sample_rate != info.sample_rate and len(data):
        import soxr

        data = soxr.resample(data, info.sample_rate, sample_rate, quality="HQ").astype(np.float32)
    return data


class ChannelSimilarity:
    """Streaming check for a mono signal duplicated onto both channels.

    Feed it blocks; :meth:`result` gives the correlation of the two channels
    and the level of their difference relative to the louder channel. When
    the channels are (nearly) identical, per-party metrics are meaningless.
    """

    #: Channels with correlation above this and a difference 30 dB below the
    #: signal are considered the same signal.
    CORRELATION = 0.98
    DIFF_DB = -30.0

    def __init__(self) -> None:
        self._xy = self._xx = self._yy = self._dd = 0.0
        self._n = 0

    def update(self, block: np.ndarray) -> None:
        x = block[:, 0].astype(np.float64)
        y = block[:, 1].astype(np.float64)
        self._xy += float(x @ y)
        self._xx += float(x @ x)
        self._yy += float(y @ y)
        d = x - y
        self._dd += float(d @ d)
        self._n += len(x)

    def result(self) -> dict:
        if self._xx <= 0 or self._yy <= 0:
            return {"correlation": 0.0, "difference_db": 0.0, "identical": False,
                    "silent_channels": [i for i, v in enumerate((self._xx, self._yy)) if v <= 0]}
        corr = self._xy / np.sqrt(self._xx * self._yy)
        diff_db = 10 * np.log10(max(self._dd, 1e-20) / max(self._xx, self._yy))
        return {
            "correlation": round(float(corr), 4),
            "difference_db": round(float(diff_db), 1),
            "identical": bool(corr >= self.CORRELATION and diff_db <= self.DIFF_DB),
            "silent_channels": [],
        }
