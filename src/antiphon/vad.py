"""Stage 2: voice activity per channel.

For each channel of a dual-channel call, find where that channel's own party
is talking, in seconds, at utterance level (short pauses inside an utterance
are bridged, as a human annotator marks them). The recording is decoded once,
streamed in blocks at 8 kHz (telephone speech lives in 300-3400 Hz; wideband
input is resampled on the fly), and every 20 ms hop of each channel gets:

* a WebRTC VAD decision (the GMM speech model from the WebRTC project, a C
  extension, several thousand times real time), and
* cheap spectral features from one 32 ms FFT: band level (200-3600 Hz, so
  mains hum does not count), voicing (pitch-lag autocorrelation), spectral
  persistence (sustained notes and tones), two-tone purity and a DTMF check.

A hop is speech evidence when the model says speech AND the level stands
``snr_db`` above the channel's tracked noise floor (and within
``dynamic_range_db`` of its loud speech) AND it is not explained by the other
channel (bleed/echo: its local peak level is ``bleed_margin_db`` below the
other channel's) AND it is not part of a sustained tone, music or DTMF.
Evidence is smoothed into a speech probability, thresholded with onset/offset
hysteresis and turned into utterances: pauses shorter than ``min_silence``
are bridged, runs shorter than ``min_speech`` or without ``min_voiced`` of
voiced speech dropped, and ``padding`` added on each side.

Utterances the cheap features find ambiguous (weakly voiced, or mostly pure
tones) are read again and checked with the bundled Silero VAD model (ONNX,
MIT); clearly voiced speech skips the model, which keeps analysis near
1000x real time on one core.

>>> va = detect_speech("call.wav")                # doctest: +SKIP
>>> customer, agent = va.speech                   # Timelines, seconds
>>> customer.duration(), (customer & agent).duration()   # doctest: +SKIP

See docs/vad.md for the design, the defaults and measured accuracy.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

import numpy as np

from . import _silero
from . import _vad_features as F
from .audio import AudioInfo, ChannelSimilarity, iter_blocks, probe
from .errors import AntiphonError, MissingDependency, Problem
from .timeline import Timeline

__all__ = ["VadOptions", "VoiceActivity", "detect_speech", "speech_from_features"]

HOP_S = F.HOP / F.RATE  # 0.02 s
BLEED_WINDOW = 0.1  # s either side over which levels are compared as peaks


@dataclass
class VadOptions:
    """Settings for :func:`detect_speech`; defaults suit telephone calls.

    Durations are in seconds, levels in dB.
    """

    #: Speech probability (share of speech-evidence hops in the ``smoothing``
    #: window) at or above which a hop starts speech. Speech continues while the
    #: probability stays above ``threshold - 0.15``.
    threshold: float = 0.5
    #: Shortest speech run kept, after pauses are bridged. Removes clicks,
    #: pops and lone noise bursts; a short "yes" or "mm" lasts 0.15-0.3 s.
    min_speech: float = 0.12
    #: Pauses shorter than this are bridged, so the output is utterance-level
    #: (pauses between words and breaths inside one utterance are 0.1-0.4 s).
    min_silence: float = 0.4
    #: Added to each side of every speech run (weak onsets and trailing
    #: consonants sit below the evidence thresholds).
    padding: float = 0.03
    #: A hop is bleed (the other party heard faintly through a hybrid, a
    #: headset or the recorder) when it is at least this much quieter than
    #: the other channel while the other channel is active. Real crosstalk,
    #: both parties talking at comparable levels, is kept.
    bleed_margin_db: float = 12.0
    #: Longest delay of the bleed/echo copy behind its source that is searched.
    bleed_delay: float = 0.08
    #: A hop must stand at least this far above the channel's noise floor.
    snr_db: float = 8.0
    #: Once speech has started it continues on hops ``snr_db * hangover_snr``
    #: above the floor (onset and offset thresholds, as in classic VADs).
    hangover_snr: float = 0.5
    #: Hops more than this below the channel's loud speech (its 95th
    #: percentile level) are never speech: distant talkers, residual noise.
    dynamic_range_db: float = 30.0
    #: The noise floor is the lowest 10th-percentile level of 1 s chunks
    #: within this many seconds either side (minimum statistics), so it
    #: follows line noise that changes during a call.
    noise_window: float = 8.0
    #: WebRTC VAD aggressiveness, 0 (keeps most) to 3 (rejects most).
    aggressiveness: int = 1
    #: Window (s) over which speech evidence is averaged into a probability.
    smoothing: float = 0.1
    #: Reject sustained tones and music: a hop is non-speech when, within
    #: ``tone_window`` seconds around it, more than ``tone_fraction`` of hops
    #: have a spectrum that persists (cosine similarity over 40 ms above
    #: ``tone_persistence``). Ringback, dial tone, hold music and fax tones
    #: persist; speech changes every few tens of milliseconds.
    reject_tones: bool = True
    tone_persistence: float = 0.97
    tone_window: float = 0.5
    tone_fraction: float = 0.5
    #: Every utterance must hold at least this much voiced speech (hops whose
    #: pitch-lag autocorrelation reaches ``voicing_threshold``). Breaths,
    #: lip smacks, clicks, keyboard and handling noise are unvoiced.
    min_voiced: float = 0.06
    voicing_threshold: float = 0.8
    #: Drop fragments without a single voiced hop before pauses are bridged,
    #: so clicks, keyboard taps and breaths next to speech do not stretch
    #: the utterance (every syllable has a voiced nucleus).
    voiced_fragments: bool = True
    #: Use the WebRTC VAD model's per-hop decision as part of the evidence.
    use_model: bool = True
    #: Neural check: utterances whose share of strongly voiced hops
    #: (voicing >= 0.9) is below ``verify_voiced`` are the ambiguous ones
    #: (noises, breaths, laughter, non-stationary background); they are read
    #: again and kept only if the bundled Silero VAD model gives at least two
    #: of their 32 ms chunks a speech probability of ``verify_threshold`` or
    #: more. Clearly voiced utterances skip the model, which keeps analysis
    #: fast. (Silero is less confident on narrow-band telephone audio than on
    #: wideband, hence 0.5 rather than a higher bar.)
    verify: bool = True
    verify_voiced: float = 0.2
    verify_threshold: float = 0.4
    #: Utterances where more than this share of hops are two-tone pure
    #: (two spectral peaks hold 99 % of the energy: DTMF, ringback, dial,
    #: busy and fax tones) also get the neural check.
    verify_tonal: float = 0.3
    #: Streaming block length (s); results do not depend on it.
    block_seconds: float = 30.0

    def __post_init__(self) -> None:
        problems = []
        for name in ("threshold", "tone_persistence", "tone_fraction", "voicing_threshold",
                     "verify_voiced", "verify_threshold", "verify_tonal", "hangover_snr"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                problems.append(f"VadOptions.{name} must be between 0 and 1 (got {value})")
        for name in ("min_speech", "min_silence", "padding", "bleed_delay", "smoothing", "tone_window",
                     "min_voiced", "snr_db", "dynamic_range_db"):
            value = getattr(self, name)
            if value < 0:
                problems.append(f"VadOptions.{name} must be >= 0 (got {value})")
        if self.aggressiveness not in (0, 1, 2, 3):
            problems.append(f"VadOptions.aggressiveness must be 0, 1, 2 or 3 (got {self.aggressiveness})")
        for name in ("noise_window", "block_seconds"):
            if getattr(self, name) <= 0:
                problems.append(f"VadOptions.{name} must be > 0 seconds (got {getattr(self, name)})")
        if problems:
            raise AntiphonError("; ".join(problems), [Problem(p.split(" ", 1)[0], p) for p in problems])


@dataclass
class VoiceActivity:
    """Per-channel speech of one recording."""

    info: AudioInfo
    #: Speech per channel index: 0 = left/channel 1, 1 = right/channel 2.
    speech: tuple[Timeline, Timeline]
    #: :meth:`antiphon.audio.ChannelSimilarity.result` over the whole file.
    similarity: dict
    #: JSON-able details per channel: noise floor, seconds rejected as bleed
    #: and as tones/music, and the options used.
    diagnostics: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "info": self.info.to_dict(),
            "speech": [tl.to_list() for tl in self.speech],
            "similarity": self.similarity,
            "diagnostics": self.diagnostics,
        }


def _webrtcvad():
    try:
        import webrtcvad
    except ImportError:  # pragma: no cover - a core dependency
        exc = MissingDependency("voice activity detection", "core")
        exc.message = ("voice activity detection needs the WebRTC VAD package, a core dependency: "
                       "pip install webrtcvad-wheels")
        exc.args = (exc.message,)
        raise exc from None
    return webrtcvad


class _ModelStream:
    """WebRTC VAD over consecutive 20 ms hops of each channel, across blocks."""

    def __init__(self, mode: int, channels: int = 2):
        wv = _webrtcvad()
        self._vads = [wv.Vad(mode) for _ in range(channels)]
        try:
            from _webrtcvad import process

            self._process = process if hasattr(self._vads[0], "_vad") else None
        except ImportError:  # pragma: no cover
            self._process = None
        self._rest = np.zeros((0, channels), dtype=np.int16)
        self._out: list[np.ndarray] = []
        self.channels = channels

    def feed(self, block: np.ndarray) -> None:
        pcm = np.clip(np.round(block * 32767.0), -32768, 32767).astype(np.int16)
        if len(self._rest):
            pcm = np.concatenate([self._rest, pcm])
        n = len(pcm) // F.HOP
        self._rest = pcm[n * F.HOP :]
        if n:
            self._run(pcm[: n * F.HOP], n)

    def finish(self) -> None:
        if len(self._rest):
            pad = np.zeros((F.HOP - len(self._rest), self.channels), np.int16)
            self._run(np.concatenate([self._rest, pad]), 1)
            self._rest = self._rest[:0]

    def _run(self, pcm: np.ndarray, n: int) -> None:
        out = np.zeros((n, self.channels), dtype=bool)
        step = F.HOP * 2
        for c, vad in enumerate(self._vads):
            data = np.ascontiguousarray(pcm[:, c]).tobytes()
            if self._process is not None:  # the C entry point, without per-call checks
                proc, handle = self._process, vad._vad
                out[:, c] = [proc(handle, F.RATE, data[i : i + step], F.HOP) for i in range(0, n * step, step)]
            else:
                is_speech = vad.is_speech
                out[:, c] = [is_speech(data[i : i + step], F.RATE) for i in range(0, n * step, step)]
        self._out.append(out)

    def array(self) -> np.ndarray:
        return np.concatenate(self._out) if self._out else np.zeros((0, self.channels), bool)


def detect_speech(path: str | os.PathLike, options: VadOptions | None = None) -> VoiceActivity:
    """Find each channel's own speech in a dual-channel recording.

    One streaming decode pass at 8 kHz feeds the features, the speech model
    and the channel-similarity check; only compact per-hop features are
    kept (about 40 MB per hour of audio with the decision stage), so a
    four-hour call peaks near 225 MB resident. Ambiguous utterances are
    then read again, span by span, for the neural check.
    Raises :class:`antiphon.errors.AudioError` for unreadable recordings.
    """
    opts = options or VadOptions()
    info = probe(path)
    feats = F.FeatureStream(2)
    model = _ModelStream(opts.aggressiveness, 2)
    sim = ChannelSimilarity()
    for block in iter_blocks(path, sample_rate=F.RATE, block_seconds=opts.block_seconds):
        sim.update(block)
        feats.feed(block)
        model.feed(block)
    feats.finish()
    model.finish()
    arrays = feats.arrays()
    arrays["model"] = model.array()
    n = min(len(arrays["level"]), len(arrays["model"]))
    n = min(n, max(1, int(np.ceil(info.duration / HOP_S - 1e-9))))
    arrays = {k: v[:n] for k, v in arrays.items()}
    verifier = _SpanVerifier(path, info) if opts.verify else None
    speech, diag = speech_from_features(arrays, opts, duration=info.duration, verify=verifier)
    diag["options"] = asdict(opts)
    return VoiceActivity(info=info, speech=speech, similarity=sim.result(), diagnostics=diag)


class _SpanVerifier:
    """The neural check of one channel's span: does Silero hear speech in it?"""

    LEAD = 0.3  # s of audio before the span, to settle the model's state
    PIECE_CHUNKS = 48  # judge long spans 1.5 s at a time, stop once accepted
    READ_CHUNKS = 480  # read long spans 15.36 s at a time (bounded memory)

    def __init__(self, path, info: AudioInfo):
        self.path = path
        self.info = info
        self.seconds = 0.0

    def __call__(self, channel: int, start: float, end: float, threshold: float) -> bool:
        """True when at least two 32 ms chunks of the span reach ``threshold``.

        Long spans are read and judged piece by piece (the model's state
        carries over) and the check stops as soon as the span is accepted.
        """
        from .audio import read

        a = max(0.0, start - self.LEAD)
        b = min(self.info.duration, end + 0.05)
        model = _silero.SpeechProbs()
        skip = int((start - a) * _silero.RATE) // _silero.CHUNK  # lead-in chunks not judged
        step = self.READ_CHUNKS * _silero.CHUNK / _silero.RATE
        piece = self.PIECE_CHUNKS * _silero.CHUNK
        hits = done = 0
        t = a
        while t < b:
            x = read(self.path, sample_rate=_silero.RATE, start=t, end=min(b, t + step))[:, channel]
            t += step
            for i in range(0, len(x), piece):
                p = model.feed(x[i : i + piece])
                first = max(0, skip - done)
                done += len(p)
                hits += int(np.sum(p[first:] >= threshold))
                self.seconds += min(piece, len(x) - i) / _silero.RATE
                if hits >= 2:
                    return True
        return False


# -- decision stage on per-hop arrays ------------------------------------------

def _moving_mean(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average along axis 0 (edges averaged over what exists)."""
    if width <= 1:
        return x.astype(np.float32)
    x = x.astype(np.float64)
    half = width // 2
    c = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(x, axis=0)])
    n = len(x)
    idx = np.arange(n)
    lo = np.clip(idx - half, 0, n)
    hi = np.clip(idx - half + width, 0, n)
    cnt = (hi - lo).reshape((-1,) + (1,) * (x.ndim - 1))
    return ((c[hi] - c[lo]) / np.maximum(cnt, 1)).astype(np.float32)


def _moving_max(x: np.ndarray, before: int, after: int) -> np.ndarray:
    """max(x[t-before : t+after+1]) along axis 0."""
    out = x.copy()
    for k in range(1, before + 1):
        out[k:] = np.maximum(out[k:], x[:-k])
    for k in range(1, after + 1):
        out[:-k] = np.maximum(out[:-k], x[k:])
    return out


def _noise_floor(level: np.ndarray, window_s: float) -> np.ndarray:
    """Minimum statistics: lowest 10th-percentile of 1 s chunks within the window."""
    chunk = int(round(1.0 / HOP_S))
    n = len(level)
    m = -(-n // chunk)
    pad = m * chunk - n
    x = np.concatenate([level, np.repeat(level[-1:], pad)]) if pad else level
    q = np.percentile(x.reshape(m, chunk), 10, axis=1)
    # the last chunk may be mostly padding; its percentile is still of real hops
    w = max(1, int(round(window_s)))
    fl = q.copy()
    for k in range(1, w + 1):
        fl[k:] = np.minimum(fl[k:], q[:-k])
        fl[:-k] = np.minimum(fl[:-k], q[k:])
    return np.repeat(fl, chunk)[:n]


def _runs(mask: np.ndarray) -> np.ndarray:
    """(k, 2) start/stop hop indices of True runs."""
    if not len(mask):
        return np.zeros((0, 2), dtype=np.int64)
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.stack([np.flatnonzero(d == 1), np.flatnonzero(d == -1)], axis=1)


def _hysteresis(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Runs of ``low`` that contain at least one ``high`` hop."""
    low = low | high
    out = np.zeros_like(low)
    if not high.any():
        return out
    csum = np.concatenate([[0], np.cumsum(high)])
    for a, b in _runs(low):
        if csum[b] > csum[a]:
            out[a:b] = True
    return out


def speech_from_features(arrays: dict, opts: VadOptions, duration: float | None = None,
                         verify=None) -> tuple[tuple[Timeline, Timeline], dict]:
    """Turn per-hop features and model decisions into per-channel timelines.

    ``arrays`` holds ``level``, ``voicing``, ``persist`` (float, ``(hops, 2)``)
    and ``model`` (bool, ``(hops, 2)``) as produced in :func:`detect_speech`.
    ``verify(channel, start_s, end_s, threshold) -> bool`` is the neural
    check for ambiguous utterances (skipped when None).
    """
    level = arrays["level"].astype(np.float32)
    persist = arrays["persist"]
    model = arrays["model"].astype(bool)
    n, chans = level.shape
    if duration is None:
        duration = n * HOP_S
    diag: dict = {"hop": HOP_S, "channels": []}
    if n == 0:
        return (Timeline(), Timeline()), diag

    floor = np.stack([_noise_floor(level[:, c], opts.noise_window) for c in range(chans)], axis=1)
    above = level > floor + opts.snr_db
    ref = np.array([
        np.percentile(level[above[:, c], c], 95) if above[:, c].any() else F.FLOOR_DB
        for c in range(chans)
    ], dtype=np.float32)
    loud = above & (level > ref - opts.dynamic_range_db)

    # Sustained tones and music.
    if opts.reject_tones:
        steady = (persist > opts.tone_persistence).astype(np.float32)
        tonal = _moving_mean(steady, max(1, int(round(opts.tone_window / HOP_S)))) > opts.tone_fraction
        tonal |= arrays["dtmf"]
        tonal &= loud
    else:
        tonal = np.zeros_like(loud)

    # Bleed: quieter than the other channel (searched over the echo delay)
    # by the margin while the other channel is active.
    # Levels are compared as local peaks (+-0.1 s): a bleed copy stays the
    # margin below its source all the time, while a real talker's own
    # syllables reach levels comparable to the other party's within 0.1 s.
    delay = max(0, int(round(opts.bleed_delay / HOP_S)))
    w = max(1, int(round(BLEED_WINDOW / HOP_S)))
    bleed = np.zeros_like(loud)
    for c in range(chans):
        o = 1 - c
        other = np.where(loud[:, o], level[:, o], F.FLOOR_DB)
        other_peak = _moving_max(other, delay + w, w)
        own_peak = _moving_max(level[:, c], w, w)
        bleed[:, c] = loud[:, c] & (own_peak < other_peak - opts.bleed_margin_db)

    evidence = loud & ~bleed & ~tonal
    if opts.use_model:
        evidence &= model
    voiced = evidence & (arrays["voicing"] >= opts.voicing_threshold)
    strong = evidence & (arrays["voicing"] >= 0.9)
    pure = evidence & (arrays["purity"] >= 0.99)
    need_voiced = max(1, int(round(opts.min_voiced / HOP_S)))
    width = max(1, int(round(opts.smoothing / HOP_S)))
    prob = _moving_mean(evidence.astype(np.float32), width)
    high = prob >= opts.threshold
    # Once started, speech continues on weaker evidence: half the SNR margin
    # (word endings and soft consonants fade into line noise).
    weak = (level > floor + opts.snr_db * opts.hangover_snr) & (level > ref - opts.dynamic_range_db)
    weak &= ~bleed & ~tonal
    if opts.use_model:
        weak &= model
    low = _moving_mean(weak.astype(np.float32), width) >= max(0.0, opts.threshold - 0.15)

    bridge = int(round(opts.min_silence / HOP_S))
    keep = int(round(opts.min_speech / HOP_S))
    pad = opts.padding
    speech = []
    for c in range(chans):
        mask = _hysteresis(high[:, c], low[:, c])
        runs = _runs(mask)
        vc = np.concatenate([[0], np.cumsum(voiced[:, c])])
        merged: list[list[int]] = []
        for a, b in runs:
            if opts.voiced_fragments and vc[b] == vc[a]:
                continue  # no voiced hop at all: a click, tap or breath, not part of a word
            if merged and a - merged[-1][1] < bridge:
                merged[-1][1] = b
            else:
                merged.append([int(a), int(b)])
        sc = np.concatenate([[0], np.cumsum(strong[:, c])])
        pc = np.concatenate([[0], np.cumsum(pure[:, c])])
        ivs = []
        checked = rejected = 0.0
        for a, b in merged:
            if b - a < keep or vc[b] - vc[a] < need_voiced:
                continue
            ambiguous = ((sc[b] - sc[a]) < opts.verify_voiced * (b - a)
                         or (pc[b] - pc[a]) > opts.verify_tonal * (b - a))
            if verify is not None and ambiguous:
                checked += (b - a) * HOP_S
                if not verify(c, a * HOP_S, b * HOP_S, opts.verify_threshold):
                    rejected += (b - a) * HOP_S
                    continue
            ivs.append((round(max(0.0, a * HOP_S - pad), 6), round(min(duration, b * HOP_S + pad), 6)))
        tl = Timeline(ivs)
        speech.append(tl)
        diag["channels"].append({
            "channel": c,
            "speech_s": round(tl.duration(), 3),
            "noise_floor_db": round(float(np.median(floor[:, c])), 1),
            "speech_level_db": round(float(ref[c]), 1),
            "bleed_rejected_s": round(float(np.sum(bleed[:, c] & model[:, c])) * HOP_S, 2),
            "tone_rejected_s": round(float(np.sum(tonal[:, c] & model[:, c] & ~bleed[:, c])) * HOP_S, 2),
            "model_speech_s": round(float(np.sum(model[:, c])) * HOP_S, 2),
            "verified_s": round(float(checked), 2),
            "verify_rejected_s": round(float(rejected), 2),
        })
    return (speech[0], speech[1]), diag
