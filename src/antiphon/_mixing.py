"""The streaming mixer behind :mod:`antiphon.record`.

A *placement* is one audio file put on one output channel: its first sample
lies at ``start`` seconds of the output, it is audible only inside ``active``
(output seconds) and it is scaled by ``gain``. :func:`render` turns two lists
of placements (channel 1, channel 2) into a stereo file, block by block:

1. each leg is read in blocks, reduced to mono (the leg's channel rule),
   resampled to the output rate (soxr, streaming, delay-compensated);
2. the part of its start time that is not a whole number of output samples is
   applied as a fractional delay (48-tap Kaiser-windowed sinc, error below
   -85 dB up to 0.85 of the Nyquist frequency), so a leg starting at 1.00006 s
   is not moved to the nearest 125 us sample;
3. legs are gated to their active spans (exact sample boundaries: a bridge
   connects and disconnects without fades) and summed in float64;
4. each channel goes through headroom handling: a look-ahead peak limiter
   (default) or a fixed gain, then is written (PCM16 / mu-law / A-law WAV or
   MP3). Nothing is ever wrapped around: samples are clipped to [-1, 1] after
   the limiter as a last guard.

Memory is bounded by the block length times the number of open legs; a leg is
opened when it first becomes audible and closed after its last active sample.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import AudioError

#: Output encodings: name -> (libsndfile format, subtype, file suffix).
ENCODINGS: dict[str, tuple[str, str, str]] = {
    "pcm16": ("WAV", "PCM_16", ".wav"),
    "ulaw": ("WAV", "ULAW", ".wav"),
    "alaw": ("WAV", "ALAW", ".wav"),
    "mp3": ("MP3", "MPEG_LAYER_III", ".mp3"),
}

FRACTIONAL_TAPS = 48
FRACTIONAL_BETA = 9.0
#: Fractions of a sample below this are not worth a filter (0.1 % of a sample).
MIN_FRACTION = 1e-3
#: Leg audio read before the first audible sample, so the resampler and the
#: fractional-delay filter have settled (seconds).
SEEK_MARGIN = 0.05


# --------------------------------------------------------------------- legs


@dataclass(frozen=True)
class LegInfo:
    path: Path
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def leg_info(path: str | os.PathLike) -> LegInfo:
    """Header of one leg (mono or stereo). Raises AudioError naming the file."""
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: no such file")
    if p.is_dir():
        raise AudioError(f"{p}: is a directory, not an audio file")
    if p.stat().st_size == 0:
        raise AudioError(f"{p}: the file is empty (0 bytes)")
    try:
        i = sf.info(str(p))
    except Exception:
        raise AudioError(f"{p}: not a readable audio file (expected WAV, FLAC, MP3 or OGG)") from None
    if i.channels not in (1, 2):
        raise AudioError(f"{p}: {i.channels} channels; a leg must be mono or stereo")
    if i.samplerate < 8000:
        raise AudioError(f"{p}: sample rate {i.samplerate} Hz is below 8000 Hz")
    if i.frames <= 0:
        raise AudioError(f"{p}: the file holds no audio (0 samples)")
    return LegInfo(p, int(i.samplerate), int(i.channels), int(i.frames), str(i.format), str(i.subtype))


#: How a stereo leg becomes mono.
CHANNEL_RULES = ("mix", "left", "right")


def channel_rule(value) -> str:
    """Normalise a leg channel rule: ``mix`` (average), ``left``/``1``, ``right``/``2``."""
    text = str(value).strip().lower()
    return {"1": "left", "2": "right", "l": "left", "r": "right", "average": "mix", "mean": "mix"}.get(text, text)


def to_mono(block: np.ndarray, rule: str) -> np.ndarray:
    if block.shape[1] == 1:
        return block[:, 0]
    if rule == "left":
        return block[:, 0]
    if rule == "right":
        return block[:, 1]
    return block.mean(axis=1)


def fractional_delay_filter(fraction: float, taps: int = FRACTIONAL_TAPS, beta: float = FRACTIONAL_BETA) -> np.ndarray:
    """FIR whose delay is ``taps/2 - 1 + fraction`` samples (Kaiser-windowed sinc)."""
    d = taps / 2 - 1 + fraction
    t = np.arange(taps) - d
    x = t / (taps / 2)
    w = np.i0(beta * np.sqrt(np.clip(1.0 - x * x, 0.0, None))) / np.i0(beta)
    h = np.sinc(t) * w
    return h / h.sum()


@dataclass
class Placement:
    """One audio file on one output channel.

    start:  output seconds of the file's first sample (may be negative).
    active: output-second spans in which it is audible.
    loop:   start the file again when it ends (hold music).
    """

    path: Path
    start: float
    active: list[tuple[float, float]]
    gain: float = 1.0
    rule: str = "mix"
    loop: bool = False
    label: str = ""
    #: The leg's true sample rate relative to its header's, on the output's
    #: clock (clock-drift correction; 1.0 = none).
    rate_scale: float = 1.0


@dataclass
class PlacementStats:
    label: str
    samples_read: int = 0
    ended_at: float | None = None  # output seconds where a non-looping file ran out
    xy: float = 0.0
    xx: float = 0.0
    yy: float = 0.0
    peak: float = 0.0

    def stereo_correlation(self) -> float | None:
        if self.xx <= 0 or self.yy <= 0:
            return None
        return self.xy / math.sqrt(self.xx * self.yy)


class _Source:
    """A placement as a stream of output-rate samples, read strictly forward."""

    def __init__(self, p: Placement, info: LegInfo, rate: int, spans: list[tuple[int, int]]):
        self.p = p
        self.info = info
        self.rate = rate
        self.spans = spans  # active spans in output samples, sorted, disjoint
        self.first = spans[0][0]
        self.last = spans[-1][1]
        self.stats = PlacementStats(p.label or p.path.name)
        self._file = None
        self._done = False
        self._closed = False
        self._buf = np.zeros(0, np.float64)
        self._buf_pos = 0  # output index of _buf[0]

    # -- opening ---------------------------------------------------------
    def _open(self) -> None:
        import soundfile as sf
        import soxr

        sr_in = self.info.sample_rate * self.p.rate_scale
        want = self.first / self.rate - SEEK_MARGIN  # output seconds we need from
        skip_in = max(0, int(math.floor((want - self.p.start) * sr_in)))
        if self.p.loop:
            seek_to = skip_in % self.info.frames
        else:
            skip_in = min(skip_in, self.info.frames)
            seek_to = skip_in
        try:
            self._file = sf.SoundFile(str(self.p.path))
            if seek_to:
                self._file.seek(seek_to)
        except Exception as exc:
            raise AudioError(f"{self.p.path}: cannot be read ({exc})") from None
        origin = self.p.start + skip_in / sr_in  # output seconds of the next input sample
        pos = origin * self.rate
        whole = math.floor(pos)
        frac = pos - whole
        if frac > 1 - MIN_FRACTION:
            whole, frac = whole + 1, 0.0
        self._fir = None
        self._fir_drop = 0
        if frac >= MIN_FRACTION:
            self._fir = fractional_delay_filter(frac)
            self._hist = np.zeros(FRACTIONAL_TAPS - 1, np.float64)
            self._fir_drop = FRACTIONAL_TAPS // 2 - 1  # the filter's integer latency
        self._resampler = None
        if sr_in != self.rate:
            self._resampler = soxr.ResampleStream(sr_in, self.rate, 1, dtype="float64", quality="HQ")
        self._buf = np.zeros(0, np.float64)
        sr_in = self.info.sample_rate
        self._buf_pos = whole
        self._block_in = max(1024, int(sr_in * 2))

    def _pull_input(self) -> np.ndarray:
        """Next chunk of the pipeline's output (output rate, delayed); empty at the end."""
        assert self._file is not None
        block = self._file.read(self._block_in, dtype="float64", always_2d=True)
        last = len(block) < self._block_in
        if last and self.p.loop and self.info.frames > 0:
            self._file.seek(0)
            last = False
            if len(block) == 0:
                block = self._file.read(self._block_in, dtype="float64", always_2d=True)
        if block.shape[1] == 2 and len(block):
            x, y = block[:, 0], block[:, 1]
            self.stats.xy += float(x @ y)
            self.stats.xx += float(x @ x)
            self.stats.yy += float(y @ y)
        mono = to_mono(block, self.p.rule) if len(block) else np.zeros(0, np.float64)
        self.stats.samples_read += len(mono)
        if self._resampler is not None:
            mono = self._resampler.resample_chunk(mono, last=last)
        if self._fir is not None:
            tail = np.zeros(FRACTIONAL_TAPS - 1) if last else np.zeros(0)
            x = np.concatenate([self._hist, mono, tail])
            out = np.convolve(x, self._fir, mode="valid")
            self._hist = x[-(FRACTIONAL_TAPS - 1):]
            if self._fir_drop:
                d = min(self._fir_drop, len(out))
                out = out[d:]
                self._fir_drop -= d
            mono = out
        if last:
            self._done = True
        return mono

    # -- reading ---------------------------------------------------------
    def read(self, n0: int, n: int) -> np.ndarray:
        """Samples for output indices ``[n0, n0 + n)`` (zeros where the file has none)."""
        out = np.zeros(n, np.float64)
        if self._closed or n0 + n <= self.first:
            return out
        if self._file is None and not self._done:
            self._open()
        # drop what lies before n0
        if self._buf_pos < n0:
            drop = n0 - self._buf_pos
            while len(self._buf) < drop and not self._done:
                more = self._pull_input()
                self._buf = np.concatenate([self._buf, more])
            k = min(drop, len(self._buf))
            self._buf = self._buf[k:]
            self._buf_pos += k
            if self._buf_pos < n0:  # the file ended before n0
                if self.stats.ended_at is None:
                    self.stats.ended_at = self._buf_pos / self.rate
                self._buf_pos = n0
        lead = self._buf_pos - n0  # zeros before the file's first sample
        if lead >= n:
            return out
        need = n - lead
        while len(self._buf) < need and not self._done:
            self._buf = np.concatenate([self._buf, self._pull_input()])
        take = min(need, len(self._buf))
        out[lead : lead + take] = self._buf[:take]
        self._buf = self._buf[take:]
        self._buf_pos = n0 + lead + take
        if take < need:  # the file ran out inside this block
            if self.stats.ended_at is None:
                self.stats.ended_at = (n0 + lead + take) / self.rate
            self._buf_pos = n0 + n
        if n0 + n >= self.last:
            self.close()
        return out

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = None
        self._closed = True
        self._buf = np.zeros(0, np.float64)

    def mask(self, n0: int, n: int) -> np.ndarray:
        m = np.zeros(n, np.float64)
        for a, b in self.spans:
            lo, hi = max(a, n0), min(b, n0 + n)
            if hi > lo:
                m[lo - n0 : hi - n0] = 1.0
        return m


def to_spans(active: list[tuple[float, float]], rate: int, total: int) -> list[tuple[int, int]]:
    spans = []
    for a, b in sorted(active):
        lo = max(0, int(round(a * rate)))
        hi = min(total, int(round(b * rate)))
        if hi > lo:
            if spans and lo <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(hi, spans[-1][1]))
            else:
                spans.append((lo, hi))
    return spans


# ------------------------------------------------------------------ headroom


def sliding_min(x: np.ndarray, w: int) -> np.ndarray:
    """``min(x[i:i+w])`` for every i (van Herk / Gil-Werman, O(n))."""
    n = len(x)
    if w <= 1 or n < w:
        return x.copy() if w <= 1 else np.zeros(0, x.dtype)
    k = -(-n // w)
    padded = np.full(k * w, np.inf)
    padded[:n] = x
    blocks = padded.reshape(k, w)
    prefix = np.minimum.accumulate(blocks, axis=1).ravel()
    suffix = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    i = np.arange(n - w + 1)
    return np.minimum(suffix[i], prefix[i + w - 1])


class Limiter:
    """Look-ahead peak limiter for one channel: never lets ``|x|`` exceed ``ceiling``.

    The gain needed at each sample is ``min(1, ceiling/|x|)``; it is spread by
    a running minimum over ``2A+1`` samples and smoothed by a moving average of
    the same length, so the applied gain ramps down over ``A`` samples before a
    peak and back up over ``A`` after it and is never above the needed gain.
    Audio whose peaks stay below the ceiling passes unchanged. Latency is
    ``2A`` samples, compensated: output sample i is input sample i.
    """

    def __init__(self, ceiling: float, half_window: int):
        self.c = float(ceiling)
        self.a = max(1, int(half_window))
        self._ctx = np.zeros(4 * self.a, np.float64)
        self._drop = 2 * self.a
        self.engaged_samples = 0
        self.min_gain = 1.0

    def process(self, x: np.ndarray) -> np.ndarray:
        a = self.a
        xs = np.concatenate([self._ctx, x])
        self._ctx = xs[-4 * a :]
        body = xs[2 * a : len(xs) - 2 * a]
        mag = np.abs(xs)
        if mag.max(initial=0.0) > self.c:
            need = np.minimum(1.0, self.c / np.maximum(mag, 1e-12))
            m = sliding_min(need, 2 * a + 1)  # len = len(xs) - 2a
            cs = np.concatenate([[0.0], np.cumsum(m)])
            w = 2 * a + 1
            s = (cs[w:] - cs[:-w]) / w  # len = len(xs) - 4a
            s[s > 1.0 - 1e-12] = 1.0  # exact pass-through away from peaks (cumsum rounding)
            self.engaged_samples += int(np.count_nonzero(s < 1.0 - 1e-9))
            if len(s):
                self.min_gain = min(self.min_gain, float(s.min()))
            out = body * s
        else:
            out = body.copy()
        if self._drop:
            d = min(self._drop, len(out))
            out = out[d:]
            self._drop -= d
        return out

    def flush(self) -> np.ndarray:
        return self.process(np.zeros(2 * self.a))


# -------------------------------------------------------------------- render


@dataclass
class RenderStats:
    frames: int
    sample_rate: int
    peaks: tuple[float, float]  # before headroom handling
    limited_seconds: tuple[float, float]
    min_gain_db: tuple[float, float]
    scale_db: tuple[float, float]
    placements: list[PlacementStats] = field(default_factory=list)


def open_writer(path: Path, rate: int, encoding: str):
    import soundfile as sf

    fmt, subtype, _ = ENCODINGS[encoding]
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return sf.SoundFile(str(path), "w", samplerate=rate, channels=2, format=fmt, subtype=subtype)
    except Exception as exc:
        raise AudioError(f"{path}: cannot write a {encoding} file at {rate} Hz ({exc})") from None


def max_concurrency(spans_per_source: list[list[tuple[int, int]]]) -> int:
    events = []
    for spans in spans_per_source:
        for a, b in spans:
            events.append((a, 1))
            events.append((b, -1))
    events.sort(key=lambda e: (e[0], e[1]))
    cur = best = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


def render(
    channels: tuple[list[Placement], list[Placement]],
    *,
    duration: float,
    rate: int,
    out_path: Path,
    encoding: str = "pcm16",
    headroom: str = "limit",
    ceiling_db: float = -1.0,
    limiter_ms: float = 5.0,
    block_seconds: float = 10.0,
) -> RenderStats:
    """Mix placements into a stereo file of ``duration`` seconds at ``rate`` Hz."""
    total = max(0, int(round(duration * rate)))
    if total == 0:
        raise AudioError(f"{out_path}: nothing to record (the output would be 0 s long)")
    infos: dict[Path, LegInfo] = {}
    sources: list[list[_Source]] = [[], []]
    for ch in (0, 1):
        for p in channels[ch]:
            spans = to_spans(p.active, rate, total)
            if not spans:
                continue
            if p.path not in infos:
                infos[p.path] = leg_info(p.path)
            sources[ch].append(_Source(p, infos[p.path], rate, spans))
    ceiling = 10 ** (ceiling_db / 20)
    scale = [1.0, 1.0]
    if headroom == "scale":
        for ch in (0, 1):
            k = max_concurrency([s.spans for s in sources[ch]])
            scale[ch] = 1.0 / k if k > 1 else 1.0
    limiters = [Limiter(ceiling, round(limiter_ms / 1000 * rate)) for _ in (0, 1)] if headroom == "limit" else None
    block = max(1, int(round(block_seconds * rate)))
    peaks = [0.0, 0.0]
    writer = open_writer(out_path, rate, encoding)
    try:
        with writer:
            pending: list[np.ndarray] = []
            for n0 in range(0, total, block):
                n = min(block, total - n0)
                acc = np.zeros((n, 2), np.float64)
                for ch in (0, 1):
                    for s in sources[ch]:
                        if n0 + n <= s.first or n0 >= s.last:
                            continue
                        x = s.read(n0, n)
                        acc[:, ch] += x * s.mask(n0, n) * s.p.gain
                    peaks[ch] = max(peaks[ch], float(np.abs(acc[:, ch]).max(initial=0.0)))
                _emit(writer, acc, limiters, scale)
            if limiters is not None:
                tail = np.stack([limiters[0].flush(), limiters[1].flush()], axis=1)
                _write(writer, tail)
    except BaseException:
        try:
            out_path.unlink()
        except OSError:
            pass
        raise
    finally:
        for ch in (0, 1):
            for s in sources[ch]:
                s.close()
    lim_s = tuple(l.engaged_samples / rate for l in limiters) if limiters else (0.0, 0.0)
    min_gain = tuple(20 * math.log10(max(l.min_gain, 1e-6)) for l in limiters) if limiters else (0.0, 0.0)
    return RenderStats(
        frames=total,
        sample_rate=rate,
        peaks=(peaks[0], peaks[1]),
        limited_seconds=lim_s,  # type: ignore[arg-type]
        min_gain_db=min_gain,  # type: ignore[arg-type]
        scale_db=tuple(20 * math.log10(s) for s in scale),  # type: ignore[arg-type]
        placements=[s.stats for ch in sources for s in ch],
    )


def _emit(writer, acc: np.ndarray, limiters, scale) -> None:
    if limiters is not None:
        out = np.stack([limiters[0].process(acc[:, 0]), limiters[1].process(acc[:, 1])], axis=1)
    else:
        out = acc * np.asarray(scale)[None, :]
    _write(writer, out)


def _write(writer, out: np.ndarray) -> None:
    if len(out):
        writer.write(np.clip(out, -1.0, 1.0).astype(np.float32))


# ----------------------------------------------------------------- alignment


@dataclass
class Alignment:
    offset: float  # seconds: the agent leg's first sample, in customer-leg seconds
    correlation: float  # normalised cross-correlation at that lag
    confidence: float  # share of sounding chunks whose correlation peak agrees (0-1)
    lag_samples: float
    analysis_rate: int
    seconds_used: float
    #: Clock drift: the offset grows by this many seconds per second of the
    #: agent leg (negative when the agent leg's clock runs fast).
    drift: float = 0.0
    chunks: int = 0  # chunks that carried sound


def _read_mono(path: Path, rule: str, seconds: float, rate: int) -> np.ndarray:
    import soundfile as sf
    import soxr

    info = leg_info(path)
    n = min(info.frames, int(math.ceil(seconds * info.sample_rate)))
    with sf.SoundFile(str(path)) as f:
        data = f.read(n, dtype="float32", always_2d=True)
    x = to_mono(data, rule)
    if info.sample_rate != rate:
        x = soxr.resample(x, info.sample_rate, rate, quality="HQ")
    return x.astype(np.float32)


PHAT_BETA = 0.7
BAND_HZ = (200.0, 3500.0)
CANDIDATES = 8
CHUNK_SECONDS = 4.0
LOCAL_SECONDS = 0.1


def _gcc(x: np.ndarray, y: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """Band-limited GCC-PHAT-beta of x and y: r[k] ~ sum_j y[j] x[j + k] (index k mod n)."""
    nfft = 1 << int(math.ceil(math.log2(len(x) + len(y) + 1)))
    cross = np.fft.rfft(x, nfft) * np.conj(np.fft.rfft(y, nfft))
    f = np.fft.rfftfreq(nfft, 1.0 / rate)
    mag = np.abs(cross)
    w = cross / (mag**PHAT_BETA + mag.max() * 1e-6 + 1e-30)
    w *= (f > BAND_HZ[0]) & (f < min(BAND_HZ[1], 0.45 * rate))
    return np.fft.irfft(w, nfft), nfft


#: Largest clock drift between two legs that alignment models (parts per million).
MAX_DRIFT_PPM = 300.0
#: A chunk agrees with a lag line when its own peak is this close to it (samples).
AGREE_SAMPLES = 1.0


@dataclass
class _Fit:
    hits: int
    total: int
    lag0: float  # lag (samples) at agent sample 0
    slope: float  # lag change per agent sample (drift)


def _consistency(x: np.ndarray, y: np.ndarray, k: int, rate: int) -> _Fit:
    """How well the legs' chunk-by-chunk correlation peaks follow one line near lag k.

    For every 4 s chunk (half overlapping) in which both legs carry sound, the
    local GCC-PHAT peak within +-0.1 s of k is found to a fraction of a
    sample. A real bleed puts these peaks on a straight line: flat when the
    legs share a clock, sloped by the clock drift when they do not. The line
    is fitted robustly (Theil-Sen, slope bounded by ``MAX_DRIFT_PPM``); chunks
    within ``AGREE_SAMPLES`` of it are hits.
    """
    xs, ys = (x[k:], y) if k >= 0 else (x, y[-k:])
    y_origin = max(0, -k)  # agent sample index of ys[0]
    n = min(len(xs), len(ys))
    chunk = int(CHUNK_SECONDS * rate)
    w = int(LOCAL_SECONDS * rate)
    local = np.concatenate([np.arange(0, w), np.arange(-w, 0)])
    taus, peaks = [], []
    for s in range(0, max(0, n - chunk) + 1, chunk // 2):
        a, b = xs[s : s + chunk], ys[s : s + chunk]
        if len(a) < chunk:
            continue
        ra, rb = float(np.sqrt(np.mean(a * a))), float(np.sqrt(np.mean(b * b)))
        if min(ra, rb) < 1e-4 or max(ra, rb) < 3e-3:
            continue
        r, nfft = _gcc(a, b, rate)
        vals = r[local % nfft]
        i = int(np.argmax(vals))
        l = float(local[i])
        if 0 < i < len(local) - 1 and local[i - 1] == local[i] - 1 and local[i + 1] == local[i] + 1:
            y0, y1, y2 = float(vals[i - 1]), float(vals[i]), float(vals[i + 1])
            d = y0 - 2 * y1 + y2
            if d < 0:
                l += max(-0.5, min(0.5, 0.5 * (y0 - y2) / d))
        taus.append(y_origin + s + chunk / 2)
        peaks.append(l)
    total = len(taus)
    if total == 0:
        return _Fit(0, 0, float(k), 0.0)
    t = np.asarray(taus)
    p = np.asarray(peaks)
    bound = MAX_DRIFT_PPM * 1e-6
    slope = 0.0
    if total >= 3:
        ii, jj = np.triu_indices(total, 1)
        dt = t[jj] - t[ii]
        sl = (p[jj] - p[ii]) / dt
        sl = sl[np.abs(sl) <= bound]
        if len(sl):
            slope = float(np.median(sl))
    intercept = float(np.median(p - slope * t))
    hits = int(np.count_nonzero(np.abs(p - (intercept + slope * t)) <= AGREE_SAMPLES))
    if hits >= 2:  # refit on the agreeing chunks (least squares)
        ok = np.abs(p - (intercept + slope * t)) <= AGREE_SAMPLES
        if hits >= 3 and np.ptp(t[ok]) > 0:
            slope, intercept = (float(v) for v in np.polyfit(t[ok], p[ok], 1))
        else:
            intercept = float(np.mean(p[ok] - slope * t[ok]))
    return _Fit(hits, total, k + intercept, slope)


def estimate_offset(
    customer: Path,
    agent: Path,
    *,
    customer_rule: str = "mix",
    agent_rule: str = "mix",
    max_offset: float = 30.0,
    seconds: float = 90.0,
    rate: int = 8000,
) -> Alignment:
    """Find where the agent leg starts relative to the customer leg from bleed.

    Reads the first ``seconds + max_offset`` seconds of each leg at ``rate``
    Hz. A band-limited (200-3500 Hz) generalised cross-correlation with
    partial phase-transform weighting (GCC-PHAT, beta 0.7: whitening makes
    the quiet echo of one leg in the other stand out against the loud speech
    of its own party) proposes the eight strongest lags within
    ``max_offset``. Each is then checked chunk by chunk (4 s chunks, half
    overlapping): a real bleed puts the local correlation peak at the same lag
    in every chunk where its source speaks, while chance peaks, shared tones
    or noise do not. The lag with the most consistent chunks wins and is
    refined to a fraction of a sample by parabolic interpolation.

    ``confidence`` is ``hits / (chunks + 2)`` for that lag: the share of
    chunks that agree, shrunk when few chunks carried sound.
    """
    span = seconds + max_offset
    c = _read_mono(customer, customer_rule, span, rate)
    a = _read_mono(agent, agent_rule, span, rate)
    for x, p in ((c, customer), (a, agent)):
        if not np.any(x):
            raise AudioError(f"{p}: silent in its first {span:g} s; cannot align by correlation")
    m = int(round(max_offset * rate))
    confidence, k, fit, lag, corr = _search(c, a, m, rate)
    drift = fit.slope if fit.hits >= 3 else 0.0
    if abs(drift) * len(a) >= 1.0:
        # The legs' clocks drift apart. Put the agent leg on the customer's clock
        # (its true rate there is rate / (1 + drift)) and search again: the
        # offset at its first sample then comes from a sharp, undrifted peak.
        import soxr

        a2 = soxr.resample(a.astype(np.float64), rate / (1.0 + drift), rate, quality="HQ").astype(np.float32)
        confidence2, k2, fit2, lag2, corr2 = _search(c, a2, m, rate)
        if confidence2 >= confidence and abs(lag2 - fit.lag0) <= 3.0:
            confidence, k, lag, corr = confidence2, k2, lag2, corr2
            if fit2.hits >= 3:  # what is left of the drift after the correction
                drift = (1.0 + drift) * (1.0 + fit2.slope) - 1.0
            fit = fit2
        else:
            drift = 0.0
    return Alignment(
        offset=lag / rate,
        correlation=corr,
        confidence=float(confidence),
        lag_samples=lag,
        analysis_rate=rate,
        seconds_used=min(span, len(c) / rate),
        drift=drift,
        chunks=fit.total,
    )


def _search(c: np.ndarray, a: np.ndarray, m: int, rate: int):
    """(confidence, integer lag, line fit, refined lag, correlation) of the best candidate."""
    r, nfft = _gcc(c, a, rate)
    # lag k: sum_j a[j] c[j + k]; positive k = the agent leg started later
    lags = np.concatenate([np.arange(0, min(m, len(c) - 1) + 1), np.arange(-min(m, len(a) - 1), 0)])
    vals = r[lags % nfft].copy()
    guard = max(2, int(0.002 * rate))
    cands = []
    for _ in range(CANDIDATES):
        i = int(np.argmax(vals))
        if not np.isfinite(vals[i]):
            break
        cands.append(int(lags[i]))
        vals[np.abs(lags - lags[i]) <= guard] = -np.inf
    scored = []
    for order, k in enumerate(cands):
        fit = _consistency(c, a, k, rate)
        scored.append((fit.hits / (fit.total + 2), -order, k, fit))
    confidence, _, k, fit = max(scored, key=lambda t: t[:3])
    if fit.hits >= 3 and abs(fit.slope) * len(a) >= 1.0:  # drifting: the line's value at sample 0
        lag = fit.lag0
    else:  # the global peak, refined to a fraction of a sample
        y0, y1, y2 = (float(r[(k + d) % nfft]) for d in (-1, 0, 1))
        denom = y0 - 2 * y1 + y2
        frac = 0.5 * (y0 - y2) / denom if denom < 0 else 0.0
        lag = k + max(-0.5, min(0.5, frac))
    # plain normalised correlation over the overlap at the found lag
    cc, aa = (c[k:], a) if k >= 0 else (c, a[-k:])
    n = min(len(cc), len(aa))
    cc, aa = cc[:n].astype(np.float64), aa[:n].astype(np.float64)
    den = math.sqrt(float(cc @ cc) * float(aa @ aa))
    corr = float(cc @ aa) / den if den > 0 else 0.0
    return float(confidence), k, fit, lag, corr
