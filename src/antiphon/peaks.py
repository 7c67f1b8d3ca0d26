"""Waveform peaks for the web player, computed once per recording on the server.

A browser that draws a one-hour call from its audio must download and decode
the whole file first. Instead the server reads the recording once, streamed in
bounded blocks (:func:`antiphon.audio.iter_blocks`), keeps each channel's
largest absolute sample per bucket, and caches the result in a small file. The
player hands these peaks and the duration to wavesurfer.js, which then draws at
once and streams the audio with Range requests.

>>> p = compute_peaks("call.wav")                      # doctest: +SKIP
>>> p.duration, p.peaks_per_second, len(p.channels[0])  # doctest: +SKIP
(3600.0, 16.666, 60000)
>>> peaks_for("call.wav", cache_dir="data/peaks").to_dict()   # doctest: +SKIP

Values are quantised to 0..255 (``u8``) per bucket; :meth:`Peaks.to_dict`
gives floats in [0, 1] or, with ``compact=True``, base64 of the bytes (about
80 kB per channel for an hour).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import iter_blocks, probe
from .errors import AudioError

__all__ = ["Peaks", "compute_peaks", "peaks_for", "cache_path", "PEAKS_VERSION"]

#: Bumped whenever the bucket computation or the file format changes; old
#: cache files are then recomputed.
PEAKS_VERSION = 1
#: Finest resolution, buckets per second (10 ms).
MAX_PEAKS_PER_SECOND = 100.0
#: Most buckets per channel; long calls get coarser buckets so the peaks stay small.
MAX_BUCKETS = 60_000


@dataclass(frozen=True)
class Peaks:
    """Per-channel maximum absolute amplitude per bucket, quantised to 0..255."""

    duration: float  # seconds
    sample_rate: int
    peaks_per_second: float
    channels: tuple[bytes, ...]  # one byte string per channel, one byte per bucket

    @property
    def buckets(self) -> int:
        return len(self.channels[0]) if self.channels else 0

    def as_arrays(self) -> list[np.ndarray]:
        """Float32 arrays in [0, 1], one per channel."""
        return [np.frombuffer(c, dtype=np.uint8).astype(np.float32) / 255.0 for c in self.channels]

    def to_dict(self, compact: bool = False) -> dict:
        """JSON shape served at ``.../peaks.json``.

        ``compact=False``: ``"peaks": [[0.0, 0.42, ...], [...]]`` (floats, 3 decimals).
        ``compact=True``: ``"data": ["<base64 u8>", ...]`` with ``"encoding": "u8-base64"``.
        """
        out = {
            "version": PEAKS_VERSION,
            "duration": round(self.duration, 3),
            "sample_rate": self.sample_rate,
            "peaks_per_second": round(self.peaks_per_second, 6),
            "buckets": self.buckets,
            "channels": len(self.channels),
        }
        if compact:
            out["encoding"] = "u8-base64"
            out["data"] = [base64.b64encode(c).decode("ascii") for c in self.channels]
        else:
            out["peaks"] = [np.round(a, 3).tolist() for a in self.as_arrays()]
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "Peaks":
        if d.get("version") != PEAKS_VERSION or d.get("encoding") != "u8-base64":
            raise ValueError("unsupported peaks file")
        return cls(
            duration=float(d["duration"]),
            sample_rate=int(d["sample_rate"]),
            peaks_per_second=float(d["peaks_per_second"]),
            channels=tuple(base64.b64decode(s) for s in d["data"]),
        )


def _resolution(duration: float, peaks_per_second: float | None, max_buckets: int) -> float:
    if peaks_per_second is None:
        peaks_per_second = MAX_PEAKS_PER_SECOND
    if duration > 0 and duration * peaks_per_second > max_buckets:
        peaks_per_second = max_buckets / duration
    return peaks_per_second


def compute_peaks(
    path: str | os.PathLike,
    *,
    peaks_per_second: float | None = None,
    max_buckets: int = MAX_BUCKETS,
    block_seconds: float = 30.0,
) -> Peaks:
    """Read ``path`` once, streamed, and return its :class:`Peaks`.

    Memory is bounded by ``block_seconds`` of audio plus the peaks themselves
    (at most ``max_buckets`` bytes per channel), whatever the call's length.
    """
    info = probe(path)
    pps = _resolution(info.duration, peaks_per_second, max_buckets)
    samples_per_bucket = info.sample_rate / pps
    n_buckets = max(1, int(np.ceil(info.frames / samples_per_bucket)))
    out = np.zeros((n_buckets, info.channels), dtype=np.float32)
    pos = 0  # sample index of the block start
    for block in iter_blocks(path, block_seconds=block_seconds):
        n = len(block)
        idx = (np.arange(pos, pos + n) / samples_per_bucket).astype(np.int64)
        np.minimum(idx, n_buckets - 1, out=idx)
        mag = np.abs(block)
        # Boundaries where the bucket index changes inside this block.
        starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
        block_max = np.maximum.reduceat(mag, starts, axis=0)
        b = idx[starts]
        np.maximum.at(out, b, block_max)
        pos += n
    if pos == 0:
        raise AudioError(f"{path}: the recording holds no audio (0 samples)")
    q = np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)
    return Peaks(
        duration=info.frames / info.sample_rate,
        sample_rate=info.sample_rate,
        peaks_per_second=pps,
        channels=tuple(q[:, c].tobytes() for c in range(info.channels)),
    )


def _fingerprint(path: Path) -> str:
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|v{PEAKS_VERSION}"
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def cache_path(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the peaks of ``path`` are cached.

    With ``cache_dir``: ``<cache_dir>/<fingerprint>.peaks.json`` (the fingerprint
    covers the media's path, size and modification time, so a replaced file is
    recomputed). Without: beside the media, ``<media>.peaks.json``.
    """
    p = Path(path)
    if cache_dir is not None:
        return Path(cache_dir) / f"{_fingerprint(p)}.peaks.json"
    return p.with_name(p.name + ".peaks.json")


def _read_cache(cp: Path, media: Path) -> Peaks | None:
    try:
        d = json.loads(cp.read_text())
        st = media.stat()
        if cp.parent != media.parent or (d.get("media_size") == st.st_size and d.get("media_mtime_ns") == st.st_mtime_ns):
            return Peaks.from_dict(d)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _write_cache(cp: Path, media: Path, peaks: Peaks) -> None:
    st = media.stat()
    d = peaks.to_dict(compact=True)
    d["media_size"] = st.st_size
    d["media_mtime_ns"] = st.st_mtime_ns
    cp.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".peaks-", dir=str(cp.parent))
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(d, fh, separators=(",", ":"))
        os.replace(tmp, cp)  # atomic: concurrent readers see the old or the new file
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def peaks_for(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Peaks:
    """The peaks of ``path``, from the cache when fresh, else computed and cached.

    The cache goes to ``cache_dir`` when given, else beside the media; when
    neither is writable the peaks are still returned (and computed again next
    time).
    """
    media = Path(path)
    if not media.exists():
        raise AudioError(f"{media}: no such file")
    cp = cache_path(media, cache_dir)
    cached = _read_cache(cp, media) if cp.exists() else None
    if cached is not None:
        return cached
    peaks = compute_peaks(media)
    try:
        _write_cache(cp, media, peaks)
    except OSError:
        pass
    return peaks
