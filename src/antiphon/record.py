"""Build dual-channel recordings from per-participant legs.

Twilio records dual-channel calls inside its media servers. Asterisk,
FreeSWITCH and home-grown media pipelines usually record each participant's
leg on its own; this module turns those legs into the recording Flex would
have made, with the same channel semantics and the same media metadata:

* :func:`mix_legs` - two legs (customer, agent) into one stereo file, customer
  on channel 1, aligned by given start times or, when those are unknown, by
  cross-correlating the bleed one leg carries of the other.
* :func:`load_conference` / :func:`record_conference` - a conference
  description (participants with roles, join/leave times, holds, transfers,
  one audio file per leg, hold music) into one native conference recording
  (channel 1 = the first participant that joined, channel 2 = all other
  audio) or one recording per agent reservation, as the Flex dual-channel
  recording plugin makes them, from the customer's or the worker's side. Each
  output comes with its Flex task attributes, a conversation file for
  ``antiphon analyze --conversation`` and, when the legs come with speech
  truth, the exact speech of every party in recording seconds.

Mixing is done in float, at a common sample rate (soxr), with sub-sample
alignment, a look-ahead limiter (or a fixed gain) against clipping, and in
bounded memory: legs are streamed block by block. See ``docs/mixing.md``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping

from . import _mixing
from .errors import AntiphonError, AudioError, MetadataError, Problem
from .timeline import Timeline

__all__ = [
    "ROLES",
    "Conference",
    "Hold",
    "HoldMusic",
    "MixOptions",
    "MixResult",
    "Participant",
    "RecordingOutput",
    "Transfer",
    "load_conference",
    "mix_legs",
    "record_conference",
]

#: Participant roles a conference description may use.
ROLES = ("customer", "agent", "supervisor", "external")
MODES = ("native", "per-transfer")
PERSPECTIVES = ("customer", "worker")
HEADROOM = ("limit", "scale")
#: Clock drift that accumulates to more than this over a leg (seconds) is corrected.
DRIFT_TOLERANCE = 0.001


@dataclass
class MixOptions:
    """How legs are mixed and written.

    sample_rate:
        Output rate in Hz. Default: the highest rate among the participants'
        legs (hold music does not count), at most 48000, so no voice leg is
        down-sampled.
    encoding:
        ``"pcm16"`` (16-bit PCM WAV, the default), ``"ulaw"`` / ``"alaw"``
        (G.711 WAV) or ``"mp3"``. Default: ``mp3`` when the output path ends
        in ``.mp3``, else ``pcm16``.
    headroom:
        ``"limit"`` (default): legs are summed at unity gain in float and
        each channel passes a look-ahead peak limiter with its ceiling at
        ``ceiling_db`` dBFS (5 ms ramps). It only acts where the sum would
        exceed the ceiling; everything else is bit-identical to a plain sum.
        ``"scale"``: each channel is multiplied by ``1/k``, where ``k`` is the
        largest number of legs ever audible at once on it - linear, never
        distorts, but quieter.
    ceiling_db:
        Limiter ceiling in dBFS.
    block_seconds:
        Length of a processing block; memory is proportional to it.
    max_offset, align_seconds:
        Automatic alignment searches offsets within +-``max_offset`` seconds
        using the first ``align_seconds + max_offset`` seconds of each leg.
    min_confidence, warn_confidence:
        Alignment with a confidence below ``min_confidence`` is refused (give
        start times instead); below ``warn_confidence`` it is done with a
        warning.
    bleed_delay, bleed_in:
        The correlation lines the bleed up with its source, so the offset it
        finds is off by the bleed's own delay (echo path). When that delay is
        known, give it in seconds and say which leg carries the bleed
        (``"agent"``: the agent leg carries the customer's voice;
        ``"customer"``: the customer leg carries the agent's echo).
    url_base:
        Base URL for the media entries' ``url`` (the file name is appended);
        default: the output file's absolute path.
    check_start_times, check_tolerance:
        When two legs come with start times, also measure the offset from the
        bleed; if it is found with at least ``warn_confidence`` and differs by
        more than ``check_tolerance`` seconds, warn (media-server timestamps
        are often off by tens of milliseconds). The start times are still used.
    """

    sample_rate: int | None = None
    encoding: str | None = None
    headroom: str = "limit"
    ceiling_db: float = -1.0
    block_seconds: float = 10.0
    max_offset: float = 30.0
    align_seconds: float = 90.0
    min_confidence: float = 0.35
    warn_confidence: float = 0.5
    bleed_delay: float = 0.0
    bleed_in: str = "agent"
    url_base: str | None = None
    check_start_times: bool = True
    check_tolerance: float = 0.010

    def check(self) -> None:
        problems = []
        if self.sample_rate is not None and not 8000 <= int(self.sample_rate) <= 48000:
            problems.append(Problem("sample_rate", f"sample_rate {self.sample_rate} must be 8000-48000 Hz"))
        if self.encoding is not None and self.encoding not in _mixing.ENCODINGS:
            problems.append(Problem("encoding", f"encoding {self.encoding!r} must be one of {', '.join(_mixing.ENCODINGS)}"))
        if self.headroom not in HEADROOM:
            problems.append(Problem("headroom", f"headroom {self.headroom!r} must be 'limit' or 'scale'"))
        if not -30.0 <= self.ceiling_db <= 0.0:
            problems.append(Problem("ceiling_db", f"ceiling_db {self.ceiling_db} must be between -30 and 0 dBFS"))
        if self.block_seconds <= 0:
            problems.append(Problem("block_seconds", "block_seconds must be positive"))
        if self.max_offset <= 0 or self.align_seconds <= 0:
            problems.append(Problem("max_offset", "max_offset and align_seconds must be positive"))
        if self.bleed_in not in ("agent", "customer"):
            problems.append(Problem("bleed_in", f"bleed_in {self.bleed_in!r} must be 'agent' or 'customer'"))
        if problems:
            raise AntiphonError("invalid mix options: " + "; ".join(str(p) for p in problems), problems)


def _encoding_for(path: Path, options: MixOptions) -> str:
    suffix = path.suffix.lower()
    enc = options.encoding or ("mp3" if suffix == ".mp3" else "pcm16")
    want = _mixing.ENCODINGS[enc][2]
    if suffix and suffix != want:
        raise AntiphonError(
            f"{path}: a {enc} recording is written as a {want} file; name the output *{want}"
            + (" or choose --encoding mp3" if suffix == ".mp3" else "")
        )
    return enc


def _db(gain_db: float) -> float:
    return 10 ** (gain_db / 20)


def _levels(stats: _mixing.RenderStats, options: MixOptions) -> dict:
    out = {
        "headroom": options.headroom,
        "peak_dbfs": [round(20 * math.log10(p), 2) if p > 0 else None for p in stats.peaks],
    }
    if options.headroom == "limit":
        out["ceiling_dbfs"] = options.ceiling_db
        out["limited_seconds"] = [round(x, 3) for x in stats.limited_seconds]
        out["max_gain_reduction_db"] = [round(-x, 2) + 0.0 for x in stats.min_gain_db]
    else:
        out["gain_db"] = [round(x, 2) + 0.0 for x in stats.scale_db]
    return out


def _stereo_warnings(stats: _mixing.RenderStats, rules: Mapping[str, str]) -> list[str]:
    out = []
    for st in stats.placements:
        corr = st.stereo_correlation()
        if corr is not None and rules.get(st.label) == "mix" and corr < 0.5:
            out.append(
                f"{st.label}: a stereo leg whose channels carry different signals (correlation {corr:.2f}) "
                "was averaged to mono; if it is a two-sided recording (e.g. FreeSWITCH RECORD_STEREO), "
                "choose the side with the leg's channel rule (left or right)"
            )
    return out


# ---------------------------------------------------------------- two legs


@dataclass
class MixResult:
    """What :func:`mix_legs` wrote.

    ``offset`` is where the agent leg's first sample lies in customer-leg
    seconds (positive: the agent leg started later). ``drift_ppm`` is how much
    faster the agent leg's clock ran than the customer leg's, as measured from
    the bleed and corrected by resampling (0 when none was found or the legs
    were placed by start times). ``correlation`` and
    ``confidence`` come from the bleed (``None`` when start times were given
    and the bleed gave no confident offset): ``correlation`` is the plain normalised cross-correlation of
    the two legs at that offset (small, since bleed is quiet), ``confidence``
    the share of the legs' 4-second chunks whose own correlation peak agrees
    with that offset (0-1). On the reference calls a -25 dB bleed scores 0.45-0.65 and legs
    with no bleed at most 0.22.
    """

    path: Path
    offset: float
    duration: float
    sample_rate: int
    encoding: str
    aligned_by: str  # "start times" | "correlation"
    correlation: float | None = None
    confidence: float | None = None
    drift_ppm: float = 0.0
    start_time: datetime | None = None
    warnings: list[str] = field(default_factory=list)
    levels: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        from .flex import format_time

        return {
            "path": str(self.path),
            "offset": round(self.offset, 6),
            "aligned_by": self.aligned_by,
            "correlation": None if self.correlation is None else round(self.correlation, 4),
            "confidence": None if self.confidence is None else round(self.confidence, 3),
            "drift_ppm": round(self.drift_ppm, 1),
            "duration": round(self.duration, 3),
            "sample_rate": self.sample_rate,
            "encoding": self.encoding,
            "start_time": format_time(self.start_time),
            "channels": ["customer", "others"],
            "levels": self.levels,
            "warnings": self.warnings,
        }


_NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$")


def _time_arg(value: Any, name: str) -> float | datetime:
    """A start time: seconds (number or numeric text) or a wall-clock time."""
    from .flex import parse_time

    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, bool):
        raise AntiphonError(f"{name}: expected seconds or an ISO 8601 time, not {value!r}", [Problem(name, "not a time")])
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise AntiphonError(f"{name}: {value} is not a time", [Problem(name, "not finite")])
        return float(value)
    if isinstance(value, str) and _NUMBER.match(value):
        return float(value)
    try:
        return parse_time(value, field=name)
    except MetadataError as exc:
        raise AntiphonError(
            f"{name}: {value!r} is neither seconds nor an ISO 8601 time (e.g. 2026-11-02T15:04:05.250Z)",
            exc.problems,
        ) from None


def _estimate(c_path, a_path, c_info, a_info, rules, options: MixOptions) -> _mixing.Alignment:
    return _mixing.estimate_offset(
        c_path, a_path,
        customer_rule=rules["customer_channel"], agent_rule=rules["agent_channel"],
        max_offset=options.max_offset, seconds=options.align_seconds,
        rate=min(8000, c_info.sample_rate, a_info.sample_rate),
    )


def mix_legs(
    customer: str | os.PathLike,
    agent: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    customer_start: float | str | datetime | None = None,
    agent_start: float | str | datetime | None = None,
    options: MixOptions | None = None,
    customer_channel: str = "mix",
    agent_channel: str = "mix",
) -> MixResult:
    """Mix a customer leg and an agent leg into one dual-channel recording.

    Channel 1 holds the customer, channel 2 the agent. With both start times
    (seconds on a common clock, or ISO 8601 wall-clock times) the legs are
    placed exactly, to a fraction of a sample. Without them the offset is
    found by cross-correlating the bleed one leg carries of the other; below
    ``options.min_confidence`` this raises :class:`AudioError` (give start
    times), below ``options.warn_confidence`` it warns.

    A stereo leg is reduced to mono by ``*_channel``: ``"mix"`` (average of
    both channels, the default), ``"left"`` or ``"right"``. The recording
    runs from the first leg's start to the last leg's end; where a leg has no
    audio its channel is silent.
    """
    options = options or MixOptions()
    options.check()
    out = Path(out_path)
    c_path, a_path = Path(customer), Path(agent)
    rules = {}
    for name, value in (("customer_channel", customer_channel), ("agent_channel", agent_channel)):
        rule = _mixing.channel_rule(value)
        if rule not in _mixing.CHANNEL_RULES:
            raise AntiphonError(f"{name} {value!r} must be mix, left or right", [Problem(name, "mix, left or right")])
        rules[name] = rule
    encoding = _encoding_for(out, options)
    c_info = _mixing.leg_info(c_path)
    a_info = _mixing.leg_info(a_path)
    for info, name in ((c_info, "customer_channel"), (a_info, "agent_channel")):
        if info.channels == 1 and rules[name] != "mix":
            raise AntiphonError(f"{info.path}: a mono leg has no {rules[name]} channel; leave {name} at 'mix'")
    for p in (c_path, a_path):
        if p.resolve() == out.resolve():
            raise AntiphonError(f"{out}: the output would overwrite the input leg {p}")

    warnings: list[str] = []
    start_time = None
    correlation = confidence = None
    rate_scale = 1.0
    if (customer_start is None) != (agent_start is None):
        missing = "agent_start" if agent_start is None else "customer_start"
        raise AntiphonError(
            f"{missing} is missing: give both legs' start times, or neither to align by correlation",
            [Problem(missing, "required when the other leg's start time is given")],
        )
    if customer_start is not None:
        cs = _time_arg(customer_start, "customer_start")
        ags = _time_arg(agent_start, "agent_start")
        if isinstance(cs, datetime) != isinstance(ags, datetime):
            raise AntiphonError(
                "customer_start and agent_start must both be seconds or both be wall-clock times "
                f"(got {customer_start!r} and {agent_start!r})"
            )
        if isinstance(cs, datetime):
            offset = (ags - cs).total_seconds()  # type: ignore[operator]
            start_time = min(cs, ags)  # type: ignore[type-var]
        else:
            offset = float(ags) - float(cs)  # type: ignore[arg-type]
        aligned_by = "start times"
        if options.check_start_times:
            try:
                al = _estimate(c_path, a_path, c_info, a_info, rules, options)
            except AudioError:
                al = None
            if al is not None and al.confidence >= options.warn_confidence:
                found = al.offset + (1.0 if options.bleed_in == "agent" else -1.0) * options.bleed_delay
                correlation, confidence = al.correlation, al.confidence
                if abs(found - offset) > options.check_tolerance:
                    warnings.append(
                        f"the start times put the agent leg at {offset:+.4f} s but the bleed between the legs "
                        f"says {found:+.4f} s (confidence {al.confidence:.2f}): the start times may be off by "
                        f"{found - offset:+.4f} s; leave them out to align by the bleed"
                    )
                drift_s = abs(al.drift) * a_info.duration
                if drift_s > DRIFT_TOLERANCE:
                    warnings.append(
                        f"the legs' clocks drift apart by {abs(al.drift) * 1e6:.0f} ppm ({drift_s * 1000:.1f} ms over "
                        "the agent leg); start times cannot correct that: leave them out to align and correct "
                        "by the bleed"
                    )
    else:
        al = _estimate(c_path, a_path, c_info, a_info, rules, options)
        sign = 1.0 if options.bleed_in == "agent" else -1.0
        offset = al.offset + sign * options.bleed_delay
        correlation, confidence = al.correlation, al.confidence
        aligned_by = "correlation"
        if al.confidence < options.min_confidence:
            raise AudioError(
                f"cannot align {c_path.name} and {a_path.name}: no clear bleed of one leg in the other "
                f"(best offset {offset:+.4f} s with confidence {al.confidence:.2f}, below "
                f"{options.min_confidence:.2f}); give both start times (--customer-start/--agent-start)"
            )
        if al.confidence < options.warn_confidence:
            warnings.append(
                f"weak alignment: offset {offset:+.4f} s found with confidence {al.confidence:.2f}; "
                "check the result or give start times"
            )
        if abs(abs(offset) - options.max_offset) < 0.01:
            warnings.append(
                f"the offset found ({offset:+.3f} s) is at the edge of the search range "
                f"(+-{options.max_offset:g} s); the true offset may be larger"
            )
        if abs(al.drift) * a_info.duration > DRIFT_TOLERANCE:
            rate_scale = 1.0 / (1.0 + al.drift)
            warnings.append(
                f"the agent leg's clock runs {(rate_scale - 1) * 1e6:+.0f} ppm against the customer leg's "
                f"({abs(al.drift) * a_info.duration * 1000:.1f} ms over the leg); corrected by resampling it"
            )

    rate = int(options.sample_rate or min(48000, max(c_info.sample_rate, a_info.sample_rate)))
    begin = min(0.0, offset)
    end = max(c_info.duration, offset + a_info.duration / rate_scale)
    duration = end - begin
    placements = (
        [_mixing.Placement(c_path, -begin, [(0.0, duration)], rule=rules["customer_channel"],
                           label=f"customer leg {c_path.name}")],
        [_mixing.Placement(a_path, offset - begin, [(0.0, duration)], rule=rules["agent_channel"],
                           label=f"agent leg {a_path.name}", rate_scale=rate_scale)],
    )
    stats = _mixing.render(
        placements, duration=duration, rate=rate, out_path=out, encoding=encoding,
        headroom=options.headroom, ceiling_db=options.ceiling_db, block_seconds=options.block_seconds,
    )
    warnings += _stereo_warnings(stats, {
        f"customer leg {c_path.name}": rules["customer_channel"], f"agent leg {a_path.name}": rules["agent_channel"],
    })
    return MixResult(
        path=out,
        offset=offset,
        duration=stats.frames / rate,
        sample_rate=rate,
        encoding=encoding,
        aligned_by=aligned_by,
        correlation=correlation,
        confidence=confidence,
        drift_ppm=(rate_scale - 1.0) * 1e6,
        start_time=start_time,
        warnings=warnings,
        levels=_levels(stats, options),
    )


# ------------------------------------------------------------ conferences


@dataclass(frozen=True)
class Hold:
    """A span (conference seconds) in which a participant is on hold."""

    start: float
    end: float


@dataclass(frozen=True)
class HoldMusic:
    """The hold-music source: played (from its beginning, looped) during holds."""

    audio: Path
    gain_db: float = 0.0
    channel: str = "mix"


@dataclass
class Participant:
    """One leg of a conference. Times are seconds from ``Conference.start_time``.

    ``audio_start`` is when the leg file's first sample was recorded (default:
    ``join``). ``speech`` is the leg's speech truth in leg-file seconds, when
    known. ``task_sid``/``reservation_sid`` are filled in for agents (made-up,
    stable SIDs when the description gives none).
    """

    id: str
    role: str
    audio: Path
    join: float
    leave: float
    audio_start: float
    channel: str = "mix"
    gain_db: float = 0.0
    holds: tuple[Hold, ...] = ()
    speech: Timeline | None = None
    worker: str | None = None
    queue: str | None = None
    task_sid: str | None = None
    reservation_sid: str | None = None
    index: int = 0
    name: str | None = None  # display name or phone number

    @property
    def present(self) -> Timeline:
        return Timeline([(self.join, self.leave)])

    @property
    def held(self) -> Timeline:
        return Timeline((h.start, h.end) for h in self.holds)

    @property
    def audible(self) -> Timeline:
        """Where others hear this participant: present and not on hold."""
        return self.present - self.held if self.holds else self.present


@dataclass(frozen=True)
class Transfer:
    """A hand-over from one agent to another at ``at`` (conference seconds)."""

    source: str
    target: str
    at: float
    type: str = "cold"  # cold | warm
    via: str = "queue"  # queue | agent


@dataclass
class Conference:
    """A validated conference description (see :func:`load_conference`)."""

    start_time: datetime
    participants: list[Participant]
    transfers: list[Transfer] = field(default_factory=list)
    hold_music: HoldMusic | None = None
    conversation_id: str | None = None
    call_sid: str | None = None
    direction: str = "inbound"
    name: str = "conference"

    @property
    def customer(self) -> Participant:
        return next(p for p in self.participants if p.role == "customer")

    @property
    def agents(self) -> list[Participant]:
        return sorted((p for p in self.participants if p.role == "agent"), key=lambda p: (p.join, p.index))

    @property
    def first(self) -> Participant:
        """The participant that joined first (ties: the one listed first)."""
        return min(self.participants, key=lambda p: (p.join, p.index))

    @property
    def end(self) -> float:
        return max(p.leave for p in self.participants)

    def participant(self, pid: str) -> Participant:
        return next(p for p in self.participants if p.id == pid)

    def wall(self, seconds: float) -> datetime:
        return self.start_time + timedelta(seconds=seconds)


_TOP_KEYS = {
    "start_time", "participants", "transfers", "hold_music", "conversation_id", "call_sid",
    "direction", "name", "queue",
}
_PARTICIPANT_KEYS = {
    "id", "role", "audio", "join", "leave", "audio_start", "channel", "gain_db", "holds",
    "speech", "worker", "queue", "task_sid", "reservation_sid", "name",
}
_SID = {"task_sid": "WT", "reservation_sid": "WR", "call_sid": "CA", "conversation_id": "WT"}


class _Times:
    """Collects time fields: numbers are seconds from start_time, text is ISO 8601."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        self.values: dict[str, float | datetime] = {}

    def get(self, obj: Mapping, key: str, path: str, *, required: bool) -> str | None:
        from .flex import parse_time

        if key not in obj or obj[key] is None:
            if required:
                self.problems.append(Problem(path, f"{path} is required (seconds from start_time, or ISO 8601)"))
            return None
        v = obj[key]
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            self.problems.append(Problem(path, f"{path} must be seconds or an ISO 8601 time, not {type(v).__name__}"))
            return None
        if isinstance(v, (int, float)):
            if not math.isfinite(v):
                self.problems.append(Problem(path, f"{path} must be a finite number of seconds"))
                return None
            self.values[path] = float(v)
        elif _NUMBER.match(v):
            self.values[path] = float(v)
        else:
            try:
                self.values[path] = parse_time(v, field=path)
            except MetadataError as exc:
                self.problems.extend(exc.problems)
                return None
        return path

    def resolve(self, origin: datetime | None) -> dict[str, float]:
        out = {}
        for path, v in self.values.items():
            if isinstance(v, datetime):
                out[path] = (v - origin).total_seconds() if origin is not None else float("nan")
            else:
                out[path] = v
        return out


def _fake_sid(prefix: str, *parts: str) -> str:
    return prefix + hashlib.sha1(":".join(parts).encode()).hexdigest()[:32]


def load_conference(
    source: str | os.PathLike | Mapping | Conference, *, base_dir: str | os.PathLike | None = None
) -> Conference:
    """Read and validate a conference description (a JSON file path or a dict).

    Raises :class:`MetadataError` listing every problem with its field path:
    missing or unreadable leg files, leave before join, zero-length presence,
    holds outside a participant's presence or overlapping, unknown roles, no
    customer or two customers, transfers between unknown or absent agents,
    malformed times and SIDs. Relative audio paths are read from ``base_dir``
    (default: the description file's folder, or the working directory for a dict).
    """
    if isinstance(source, Conference):
        return source
    base = Path.cwd()
    name = "conference"
    label = "conference"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = str(path)
        if not path.exists():
            raise MetadataError(f"{path}: no such file", [Problem("", f"{path}: no such file")])
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as exc:
            msg = f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
            raise MetadataError(f"{path}: {msg}", [Problem("", msg)]) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise MetadataError(f"{path}: cannot be read ({exc})", [Problem("", str(exc))]) from None
        base = path.resolve().parent
        name = path.name[: -len(".json")] if path.name.endswith(".json") else path.stem
        if name.endswith(".conference"):
            name = name[: -len(".conference")]
    else:
        data = source
    if base_dir is not None:
        base = Path(base_dir).resolve()
    problems: list[Problem] = []
    conf = _parse_conference(data, base, name, problems)
    if problems or conf is None:
        problems.sort(key=_problem_order)
        what = f"{label}: invalid conference description"
        if len(problems) == 1:
            head = f"{what}: {problems[0]}"
        else:  # the problems follow one per line (MetadataError.problems)
            head = f"{what} ({len(problems)} problems)"
        raise MetadataError(head, problems)
    return conf


def _problem_order(p: Problem) -> tuple:
    """Top-level fields first, then participants and transfers in order (stable within one)."""
    m = re.match(r"(participants|transfers)\[(\d+)\]", p.path)
    if not m:
        return (0, 0)
    return (1 if m.group(1) == "participants" else 2, int(m.group(2)))


def _parse_conference(data: Any, base: Path, name: str, problems: list[Problem]) -> Conference | None:
    from .flex import parse_time

    if not isinstance(data, Mapping):
        problems.append(Problem("", f"a conference description must be a JSON object, not {type(data).__name__}"))
        return None
    for key in data:
        if key not in _TOP_KEYS and not str(key).startswith("_"):
            problems.append(Problem(str(key), f"{key}: unknown field (known: {', '.join(sorted(_TOP_KEYS))})"))
    times = _Times(problems)
    origin = None
    if data.get("start_time") is not None:
        v = data["start_time"]
        if isinstance(v, (str, int, float)) and not isinstance(v, bool) and not (isinstance(v, str) and _NUMBER.match(v)):
            try:
                origin = parse_time(v, field="start_time")
            except MetadataError as exc:
                problems.extend(exc.problems)
        else:
            problems.append(Problem("start_time", "start_time must be an ISO 8601 time, e.g. \"2026-11-02T15:04:05Z\""))
    strings: dict[str, str | None] = {}
    for key in ("conversation_id", "call_sid", "name", "queue", "direction"):
        v = data.get(key)
        if v is not None and not isinstance(v, str):
            problems.append(Problem(key, f"{key} must be a string"))
            v = None
        strings[key] = v
    direction = strings["direction"] or "inbound"
    if direction not in ("inbound", "outbound"):
        problems.append(Problem("direction", f"direction {direction!r} must be inbound or outbound"))
    for key in ("conversation_id", "call_sid"):
        if strings[key] is not None and not re.fullmatch(_SID[key] + r"[0-9a-fA-F]{32}", strings[key] or ""):
            problems.append(Problem(key, f"{key} {strings[key]!r} is not a Twilio SID ({_SID[key]} + 32 hex digits)"))

    raw = data.get("participants")
    if not isinstance(raw, list) or not raw:
        problems.append(Problem("participants", "participants must be a non-empty list of legs"
                                 " ({id, role, audio, join, leave, ...})"))
        raw = []

    hold_music = None
    hm = data.get("hold_music")
    if hm is not None:
        if isinstance(hm, str):
            hm = {"audio": hm}
        if not isinstance(hm, Mapping):
            problems.append(Problem("hold_music", "hold_music must be an audio path or {audio, gain_db, channel}"))
        else:
            for key in hm:
                if key not in ("audio", "gain_db", "channel") and not str(key).startswith("_"):
                    problems.append(Problem(f"hold_music.{key}", f"hold_music.{key}: unknown field (known: audio, gain_db, channel)"))
            audio = _audio_field(hm, "hold_music.audio", base, problems)
            gain = _number(hm, "gain_db", "hold_music.gain_db", 0.0, problems)
            rule = _rule(hm, "hold_music.channel", problems)
            if audio is not None:
                hold_music = HoldMusic(audio[0], gain, rule)

    # -- participants: first pass (fields) --------------------------------
    parts: list[dict] = []
    for i, item in enumerate(raw):
        path = f"participants[{i}]"
        if not isinstance(item, Mapping):
            problems.append(Problem(path, f"{path} must be an object, not {type(item).__name__}"))
            continue
        for key in item:
            if key not in _PARTICIPANT_KEYS and not str(key).startswith("_"):
                problems.append(Problem(f"{path}.{key}", f"{path}.{key}: unknown field (known: {', '.join(sorted(_PARTICIPANT_KEYS))})"))
        p: dict[str, Any] = {"index": i, "path": path}
        role = item.get("role")
        if role is None:
            problems.append(Problem(f"{path}.role", f"{path}.role is required: one of {', '.join(ROLES)}"))
        elif role not in ROLES:
            problems.append(Problem(f"{path}.role", f"{path}.role {role!r} is not a known role: use one of {', '.join(ROLES)}"))
            role = None
        p["role"] = role
        pid = item.get("id")
        if pid is not None and (not isinstance(pid, str) or not pid.strip()):
            problems.append(Problem(f"{path}.id", f"{path}.id must be a non-empty string"))
            pid = None
        worker = item.get("worker") if isinstance(item.get("worker"), str) else None
        p["id"] = pid or worker or f"{role or 'participant'}-{i + 1}"
        for key in ("worker", "queue", "task_sid", "reservation_sid", "name"):
            v = item.get(key)
            if v is not None and not isinstance(v, str):
                problems.append(Problem(f"{path}.{key}", f"{path}.{key} must be a string"))
                v = None
            if v is not None and key in _SID and not re.fullmatch(_SID[key] + r"[0-9a-fA-F]{32}", v):
                problems.append(Problem(f"{path}.{key}", f"{path}.{key} {v!r} is not a Twilio SID ({_SID[key]} + 32 hex digits)"))
            p[key] = v
        if role != "agent":
            for key in ("task_sid", "reservation_sid", "worker"):
                if p.get(key) is not None:
                    problems.append(Problem(f"{path}.{key}", f"{path}.{key}: only agents have {key.replace('_', ' ')}s (role is {role})"))
        p["audio"] = _audio_field(item, f"{path}.audio", base, problems)
        p["join"] = times.get(item, "join", f"{path}.join", required=True)
        p["leave"] = times.get(item, "leave", f"{path}.leave", required=True)
        p["audio_start"] = times.get(item, "audio_start", f"{path}.audio_start", required=False)
        p["channel"] = _rule(item, f"{path}.channel", problems)
        if p["audio"] is not None and p["audio"][1].channels == 1 and p["channel"] != "mix":
            problems.append(Problem(f"{path}.channel", f"{path}.channel {p['channel']!r}: the leg is mono; remove channel"))
        p["gain_db"] = _number(item, "gain_db", f"{path}.gain_db", 0.0, problems)
        holds = item.get("holds", [])
        p["holds"] = []
        if not isinstance(holds, list):
            problems.append(Problem(f"{path}.holds", f"{path}.holds must be a list of {{start, end}}"))
            holds = []
        for j, h in enumerate(holds):
            hpath = f"{path}.holds[{j}]"
            if not isinstance(h, Mapping):
                problems.append(Problem(hpath, f"{hpath} must be an object {{start, end}}"))
                continue
            for key in h:
                if key not in ("start", "end") and not str(key).startswith("_"):
                    problems.append(Problem(f"{hpath}.{key}", f"{hpath}.{key}: unknown field (known: start, end)"))
            p["holds"].append((hpath, times.get(h, "start", f"{hpath}.start", required=True),
                               times.get(h, "end", f"{hpath}.end", required=True)))
        p["speech"] = _speech(item, f"{path}.speech", problems)
        parts.append(p)

    # -- transfers: fields --------------------------------------------------
    raw_tr = data.get("transfers", [])
    trs: list[dict] = []
    if not isinstance(raw_tr, list):
        problems.append(Problem("transfers", "transfers must be a list of {from, to, at, type}"))
        raw_tr = []
    for i, t in enumerate(raw_tr):
        path = f"transfers[{i}]"
        if not isinstance(t, Mapping):
            problems.append(Problem(path, f"{path} must be an object {{from, to, at, type}}"))
            continue
        for key in t:
            if key not in ("from", "to", "at", "type", "via") and not str(key).startswith("_"):
                problems.append(Problem(f"{path}.{key}", f"{path}.{key}: unknown field (known: from, to, at, type, via)"))
        tr = {"path": path, "from": t.get("from"), "to": t.get("to"),
              "at": times.get(t, "at", f"{path}.at", required=True),
              "type": t.get("type", "cold"), "via": t.get("via", "queue")}
        if tr["type"] not in ("cold", "warm"):
            problems.append(Problem(f"{path}.type", f"{path}.type {tr['type']!r} must be cold or warm"))
        if tr["via"] not in ("queue", "agent"):
            problems.append(Problem(f"{path}.via", f"{path}.via {tr['via']!r} must be queue or agent"))
        trs.append(tr)

    # -- resolve times ------------------------------------------------------
    absolute = [v for v in times.values.values() if isinstance(v, datetime)]
    relative = [k for k, v in times.values.items() if not isinstance(v, datetime)]
    if origin is None:
        if relative:
            problems.append(Problem(
                "start_time",
                f"start_time is required when times are given in seconds ({relative[0]} is); "
                "give the wall-clock time of second 0 in ISO 8601",
            ))
        elif absolute:
            origin = min(absolute)
    secs = times.resolve(origin)

    def t(key: str | None) -> float | None:
        return None if key is None or key not in secs else secs[key]

    participants: list[Participant] = []
    ids: dict[str, str] = {}
    customers: list[str] = []
    sids: dict[str, str] = {}
    for p in parts:
        path = p["path"]
        if p["id"] in ids:
            problems.append(Problem(f"{path}.id", f"{path}.id {p['id']!r} is already used by {ids[p['id']]}; ids must be unique"))
        ids.setdefault(p["id"], path)
        if p["role"] == "customer":
            if customers:
                problems.append(Problem(
                    f"{path}.role",
                    f"{path}.role: a second customer ({customers[0]} is the customer); a conference has one "
                    "customer - use role external for another outside party",
                ))
            customers.append(path)
        join, leave = t(p["join"]), t(p["leave"])
        ok = join is not None and leave is not None
        if ok and leave < join:  # type: ignore[operator]
            problems.append(Problem(f"{path}.leave", f"{path}.leave ({leave:g} s) is before {path}.join ({join:g} s): negative presence"))
            ok = False
        elif ok and leave == join:
            problems.append(Problem(f"{path}.leave", f"{path}.leave equals {path}.join: the participant is never present"))
            ok = False
        holds: list[Hold] = []
        for hpath, hs_key, he_key in p["holds"]:
            hs, he = t(hs_key), t(he_key)
            if hs is None or he is None:
                continue
            if he <= hs:
                problems.append(Problem(f"{hpath}.end", f"{hpath}.end ({he:g} s) is not after {hpath}.start ({hs:g} s)"))
                continue
            if ok and (hs < join or he > leave):  # type: ignore[operator]
                problems.append(Problem(
                    hpath,
                    f"{hpath} ({hs:g}-{he:g} s) lies outside the participant's presence ({join:g}-{leave:g} s); "
                    "a participant can only be held while in the conference",
                ))
                continue
            for other in holds:
                if hs < other.end and other.start < he:
                    problems.append(Problem(hpath, f"{hpath} ({hs:g}-{he:g} s) overlaps another hold ({other.start:g}-{other.end:g} s)"))
                    break
            else:
                holds.append(Hold(hs, he))
        for key in ("task_sid", "reservation_sid"):
            v = p.get(key)
            if v is not None:
                if v in sids and key == "reservation_sid":
                    problems.append(Problem(f"{path}.{key}", f"{path}.{key} {v} is also used by {sids[v]}; each agent leg is its own reservation"))
                sids.setdefault(v, path)
        if not ok or p["audio"] is None or p["role"] is None:
            continue
        audio_start = t(p["audio_start"])
        a0 = join if audio_start is None else audio_start
        a1 = a0 + p["audio"][1].duration  # type: ignore[operator]
        if a1 <= join or a0 >= leave:  # type: ignore[operator]
            problems.append(Problem(
                f"{path}.audio_start",
                f"{path}.audio_start: the leg's audio ({a0:g}-{a1:g} s) does not overlap the participant's presence "
                f"({join:g}-{leave:g} s); check audio_start",
            ))
            continue
        participants.append(Participant(
            id=p["id"], role=p["role"], audio=p["audio"][0], join=join, leave=leave,  # type: ignore[arg-type]
            audio_start=join if audio_start is None else audio_start,  # type: ignore[arg-type]
            channel=p["channel"], gain_db=p["gain_db"], holds=tuple(sorted(holds, key=lambda h: h.start)),
            speech=p["speech"], worker=p.get("worker") or (p["id"] if p["role"] == "agent" else None),
            queue=p.get("queue") or (strings["queue"] if p["role"] == "agent" else None),
            task_sid=p.get("task_sid"), reservation_sid=p.get("reservation_sid"), index=p["index"],
            name=p.get("name"),
        ))
    if parts and not customers:
        problems.append(Problem("participants", "no participant has role customer; a conference needs exactly one"))

    transfers: list[Transfer] = []
    by_id = {p.id: p for p in participants}
    for tr in trs:
        path = tr["path"]
        at = t(tr["at"])
        ends = {}
        for key in ("from", "to"):
            v = tr[key]
            if not isinstance(v, str):
                problems.append(Problem(f"{path}.{key}", f"{path}.{key} is required: the id of an agent participant"))
                continue
            if v not in ids:
                problems.append(Problem(f"{path}.{key}", f"{path}.{key} {v!r} is not a participant id (ids: {', '.join(ids)})"))
                continue
            if v in by_id and by_id[v].role not in ("agent", "external"):
                problems.append(Problem(f"{path}.{key}", f"{path}.{key} {v!r} is a {by_id[v].role}; transfers go between agents"))
                continue
            if v in by_id:
                ends[key] = by_id[v]
        if "from" in ends and "to" in ends and ends["from"] is ends["to"]:
            problems.append(Problem(f"{path}.to", f"{path}.to is the same participant as {path}.from"))
            continue
        if at is None or len(ends) < 2:
            continue
        a, b = ends["from"], ends["to"]
        bad = False
        if not a.join <= at <= a.leave:
            problems.append(Problem(f"{path}.at", f"{path}.at ({at:g} s) is outside {a.id}'s presence ({a.join:g}-{a.leave:g} s): the transferring agent must be on the call"))
            bad = True
        if b.join < at:
            problems.append(Problem(f"{path}.at", f"{path}.at ({at:g} s) is after {b.id} joined ({b.join:g} s): the transfer target joins after the transfer starts"))
            bad = True
        if not bad and tr["type"] == "cold" and a.leave > b.join:
            problems.append(Problem(f"{path}.type", f"{path} is cold but {a.id} stays until {a.leave:g} s, after {b.id} joins at {b.join:g} s; that is a warm transfer"))
        if not bad and tr["type"] == "warm" and a.leave <= b.join:
            problems.append(Problem(f"{path}.type", f"{path} is warm but {a.id} leaves ({a.leave:g} s) before {b.id} joins ({b.join:g} s); that is a cold transfer"))
        transfers.append(Transfer(a.id, b.id, at, tr["type"], tr["via"]))

    if problems:
        return None
    assert origin is not None
    conversation_id = strings["conversation_id"]
    call_sid = strings["call_sid"] or _fake_sid("CA", name, origin.isoformat())
    key = conversation_id or call_sid
    for p in participants:
        if p.role == "agent":
            p.task_sid = p.task_sid or _fake_sid("WT", key, p.id, "task")
            p.reservation_sid = p.reservation_sid or _fake_sid("WR", key, p.id, "reservation")
    agents = sorted((p for p in participants if p.role == "agent"), key=lambda p: (p.join, p.index))
    if conversation_id is None:
        conversation_id = agents[0].task_sid if agents else _fake_sid("WT", key, "conversation")
    return Conference(
        start_time=origin,
        participants=participants,
        transfers=transfers,
        hold_music=hold_music,
        conversation_id=conversation_id,
        call_sid=call_sid,
        direction=direction,
        name=strings["name"] or name,
    )


def _audio_field(obj: Mapping, path: str, base: Path, problems: list[Problem]):
    v = obj.get("audio")
    if v is None:
        problems.append(Problem(path, f"{path} is required: the leg's audio file"))
        return None
    if not isinstance(v, str) or not v.strip():
        problems.append(Problem(path, f"{path} must be a file path"))
        return None
    p = Path(v)
    if not p.is_absolute():
        p = base / p
    try:
        info = _mixing.leg_info(p)
    except AudioError as exc:
        hint = "" if Path(v).is_absolute() else f" (relative paths are read from {base})"
        problems.append(Problem(path, f"{path}: {exc.message}{hint}"))
        return None
    return p, info


def _number(obj: Mapping, key: str, path: str, default: float, problems: list[Problem]) -> float:
    v = obj.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        problems.append(Problem(path, f"{path} must be a number"))
        return default
    return float(v)


def _rule(obj: Mapping, path: str, problems: list[Problem]) -> str:
    v = obj.get("channel", "mix")
    rule = _mixing.channel_rule(v)
    if rule not in _mixing.CHANNEL_RULES:
        problems.append(Problem(path, f"{path} {v!r} must be mix (average a stereo leg), left or right"))
        return "mix"
    return rule


def _speech(obj: Mapping, path: str, problems: list[Problem]) -> Timeline | None:
    v = obj.get("speech")
    if v is None:
        return None
    if not isinstance(v, list):
        problems.append(Problem(path, f"{path} must be a list of [start, end] pairs in leg seconds"))
        return None
    ivs = []
    for i, iv in enumerate(v):
        ok = (isinstance(iv, (list, tuple)) and len(iv) == 2
              and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in iv))
        if not ok:
            problems.append(Problem(f"{path}[{i}]", f"{path}[{i}] must be a [start, end] pair of seconds"))
            continue
        if iv[1] < iv[0] or iv[0] < 0:
            problems.append(Problem(f"{path}[{i}]", f"{path}[{i}] {list(iv)} must have 0 <= start <= end"))
            continue
        ivs.append((float(iv[0]), float(iv[1])))
    return Timeline(ivs)


# -------------------------------------------------------------- recording


@dataclass
class RecordingOutput:
    """One recording made by :func:`record_conference`, with its metadata.

    path:            the audio file.
    start, end:      the recording's span in conference seconds.
    channels:        the Flex ``channels`` list, in channel order.
    channel_parties: participant ids mixed into channel 1 and channel 2.
    media:           the media entry (``url``, ``type``, ``start_time``, ``channels``).
    task_attributes: the task attributes of the task that owns the recording
                     (``conversations.media`` for native recordings,
                     ``reservation_attributes.<ReservationSid>.media`` for per-transfer ones).
    tasks:           task attributes of every task whose segment the recording
                     covers (first == ``task_attributes``).
    conversation:    ``{"recording": media, "segments": [...]}`` for
                     ``antiphon analyze --conversation``.
    truth:           exact speech per party and per channel in recording seconds
                     (``None`` when no leg came with speech truth).
    files:           the JSON files written beside the audio.
    """

    path: Path
    mode: str
    perspective: str
    reservation_sid: str | None
    start: float
    end: float
    start_time: datetime
    sample_rate: int
    channels: tuple[str, str]
    channel_parties: tuple[tuple[str, ...], tuple[str, ...]]
    media: dict
    task_attributes: dict
    tasks: list[dict]
    conversation: dict
    truth: dict | None
    files: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    levels: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict:
        return {
            "path": str(self.path),
            "mode": self.mode,
            "perspective": self.perspective,
            "reservation_sid": self.reservation_sid,
            "duration": round(self.duration, 3),
            "sample_rate": self.sample_rate,
            "channels": list(self.channels),
            "channel_parties": [list(c) for c in self.channel_parties],
            "media": self.media,
            "files": {k: str(v) for k, v in self.files.items()},
            "levels": self.levels,
            "warnings": self.warnings,
        }


def _truth_to_dict(truth: dict) -> dict:
    out = {}
    for k, v in truth.items():
        if isinstance(v, Timeline):
            out[k] = v.to_list(6)
        elif isinstance(v, dict):
            out[k] = _truth_to_dict(v)
        elif isinstance(v, list):
            out[k] = [_truth_to_dict(x) if isinstance(x, dict) else x for x in v]
        else:
            out[k] = v
    return out


@dataclass
class _Plan:
    """One output before rendering: who is on which channel, over which window."""

    owner: Participant | None  # the agent whose reservation this is (per-transfer) / first agent
    start: float
    end: float
    ch1: list[Participant]
    ch2: list[Participant]
    music: Timeline  # where hold music sounds on channel 2 (conference seconds)
    channels: tuple[str, str]
    segments: list[Participant]  # agents whose segments the recording covers
    stem: str


def _plans(conf: Conference, mode: str, perspective: str) -> list[_Plan]:
    others = lambda who: [p for p in conf.participants if p is not who]  # noqa: E731
    stem = conf.name
    if mode == "native":
        first = conf.first
        start, end = first.join, conf.end
        music = Timeline()
        for p in conf.participants:
            music = music | p.held
        channels = ("customer", "others") if first.role == "customer" else ("others", "customer")
        agents = conf.agents
        return [_Plan(agents[0] if agents else None, start, end, [first], others(first), music, channels, agents, stem)]
    plans = []
    for i, agent in enumerate(conf.agents):
        name = f"{stem}.{i + 1}-{_safe(agent.id)}"
        if perspective == "customer":
            me = conf.customer
            channels = ("customer", "others")
        else:
            me = agent
            channels = ("others", "customer")
        plans.append(_Plan(agent, agent.join, agent.leave, [me], others(me), me.held, channels, [agent], name))
    return plans


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "agent"


def record_conference(
    conference: Conference | Mapping | str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    mode: str = "native",
    perspective: str = "customer",
    options: MixOptions | None = None,
) -> list[RecordingOutput]:
    """Make the dual-channel recording(s) of a conference and their metadata.

    mode ``"native"``: one recording of the whole conference, as Twilio's
    conference recording: channel 1 is the first participant that joined,
    channel 2 mixes all other audio (every agent, supervisors, outside
    parties, hold music during any hold). It spans from the first join to the
    last leave. ``channels`` is ``["customer", "others"]``, or
    ``["others", "customer"]`` when an agent joined first (outbound calls).

    mode ``"per-transfer"``: one recording per agent reservation, spanning
    that agent's presence, as the Flex dual-channel recording plugin makes
    them. ``perspective="customer"``: channel 1 the customer, channel 2
    everything the customer hears (agents, others, hold music while the
    customer is held); channels ``["customer", "others"]``.
    ``perspective="worker"``: channel 1 that agent, channel 2 everything the
    agent hears (the customer when not held, other agents); channels
    ``["others", "customer"]``.

    A participant on hold is not heard by anyone; the held participant hears
    the hold music. For each output, ``<stem>.wav`` (or ``.mp3``),
    ``<stem>.conversation.json``, ``<stem>.task.json`` (and
    ``<stem>.task-<n>.json`` for further tasks of a native recording) and,
    when legs have speech truth, ``<stem>.truth.json`` are written to
    ``out_dir``.
    """
    from .flex import format_time

    conf = load_conference(conference)
    options = options or MixOptions()
    options.check()
    if mode not in MODES:
        raise AntiphonError(f"mode {mode!r} must be native or per-transfer", [Problem("mode", "native or per-transfer")])
    if perspective not in PERSPECTIVES:
        raise AntiphonError(f"perspective {perspective!r} must be customer or worker", [Problem("perspective", "customer or worker")])
    if mode == "native" and perspective != "customer":
        raise AntiphonError(
            "perspective applies to per-transfer recordings only; a native conference recording always has "
            "the first participant on channel 1"
        )
    plans = _plans(conf, mode, perspective)
    if not plans:
        raise AntiphonError("per-transfer recording needs at least one agent participant (one recording per reservation)")
    out_root = Path(out_dir)
    out_root.mkdir(parents=True, exist_ok=True)
    encoding = options.encoding or "pcm16"
    suffix = _mixing.ENCODINGS[encoding][2] if encoding in _mixing.ENCODINGS else ".wav"
    rate = int(options.sample_rate or min(48000, max(_mixing.leg_info(p.audio).sample_rate for p in conf.participants)))
    legs = {p.audio.resolve() for p in conf.participants}
    if conf.hold_music is not None:
        legs.add(conf.hold_music.audio.resolve())
    for plan in plans:
        target = (out_root / f"{plan.stem}{suffix}").resolve()
        if target in legs:
            raise AntiphonError(
                f"{target}: the recording would overwrite the leg of the same name; "
                "choose another output folder or give the conference a name"
            )
    results = []
    for plan in plans:
        audio_path = out_root / f"{plan.stem}{suffix}"
        outputs = _render_plan(conf, plan, audio_path, rate, encoding, options)
        stats, warnings = outputs
        url = (options.url_base.rstrip("/") + "/" + audio_path.name) if options.url_base else str(audio_path.resolve())
        start_time = conf.wall(plan.start)
        media = {
            "url": url,
            "type": "VoiceRecording",
            "start_time": format_time(start_time),
            "channels": list(plan.channels),
        }
        tasks = [_task_attributes(conf, agent, media, mode) for agent in plan.segments] or [
            _task_attributes(conf, None, media, mode)
        ]
        conversation = {
            "recording": media,
            "segments": [
                {
                    "task_sid": a.task_sid,
                    "reservation_sid": a.reservation_sid,
                    "worker": a.worker,
                    "queue": a.queue,
                    "start": format_time(conf.wall(a.join)),
                    "end": format_time(conf.wall(a.leave)),
                }
                for a in plan.segments
            ],
        }
        truth = _truth(conf, plan)
        files = {"audio": audio_path}
        stem = audio_path.with_suffix("")
        files["conversation"] = _write_json(Path(f"{stem}.conversation.json"), conversation)
        files["task"] = _write_json(Path(f"{stem}.task.json"), tasks[0])
        for n, task in enumerate(tasks[1:], start=2):
            files[f"task-{n}"] = _write_json(Path(f"{stem}.task-{n}.json"), task)
        if truth is not None:
            files["truth"] = _write_json(Path(f"{stem}.truth.json"), _truth_to_dict(truth))
        results.append(RecordingOutput(
            path=audio_path,
            mode=mode,
            perspective=perspective,
            reservation_sid=plan.owner.reservation_sid if (mode == "per-transfer" and plan.owner) else None,
            start=plan.start,
            end=plan.end,
            start_time=start_time,
            sample_rate=rate,
            channels=plan.channels,
            channel_parties=(tuple(p.id for p in plan.ch1), tuple(p.id for p in plan.ch2 if _overlaps(p, plan))),
            media=media,
            task_attributes=tasks[0],
            tasks=tasks,
            conversation=conversation,
            truth=truth,
            files=files,
            warnings=warnings,
            levels=_levels(stats, options),
        ))
    return results


def _overlaps(p: Participant, plan: _Plan) -> bool:
    return bool(p.audible.crop(plan.start, plan.end))


def _render_plan(conf: Conference, plan: _Plan, audio_path: Path, rate: int, encoding: str, options: MixOptions):
    w0, w1 = plan.start, plan.end
    warnings: list[str] = []
    placements: tuple[list[_mixing.Placement], list[_mixing.Placement]] = ([], [])
    rules: dict[str, str] = {}
    for ch, who in ((0, plan.ch1), (1, plan.ch2)):
        for p in who:
            active = p.audible.crop(w0, w1)
            if not active:
                continue
            label = f"participants[{p.index}] ({p.id})"
            rules[label] = p.channel
            placements[ch].append(_mixing.Placement(
                p.audio, p.audio_start - w0, [(a - w0, b - w0) for a, b in active],
                gain=_db(p.gain_db), rule=p.channel, label=label,
            ))
    music = plan.music.crop(w0, w1)
    if music and conf.hold_music is None:
        warnings.append("participants are held but no hold_music is given: holds are silent")
    elif music:
        hm = conf.hold_music
        assert hm is not None
        rules["hold music"] = hm.channel
        # one music stream per stretch of hold, started from the top when the hold starts
        for a, b in plan.music:
            for lo, hi in Timeline([(a, b)]).crop(w0, w1):
                placements[1].append(_mixing.Placement(
                    hm.audio, a - w0, [(lo - w0, hi - w0)], gain=_db(hm.gain_db),
                    rule=hm.channel, loop=True, label="hold music",
                ))
    stats = _mixing.render(
        placements, duration=w1 - w0, rate=rate, out_path=audio_path, encoding=encoding,
        headroom=options.headroom, ceiling_db=options.ceiling_db, block_seconds=options.block_seconds,
    )
    by_label = {st.label: st for st in stats.placements}
    for ch, who in ((0, plan.ch1), (1, plan.ch2)):
        for p in who:
            label = f"participants[{p.index}] ({p.id})"
            st = by_label.get(label)
            last = p.audible.crop(w0, w1)
            if st is None or not last:
                continue
            need_until = last[-1][1] - w0
            if st.ended_at is not None and st.ended_at < need_until - 0.5:
                warnings.append(
                    f"{label}: the leg's audio ends {need_until - st.ended_at:.1f} s before the participant "
                    f"leaves ({st.ended_at:.1f} s into the recording); the rest is silent"
                )
    warnings += _stereo_warnings(stats, rules)
    return stats, warnings


def _task_attributes(conf: Conference, agent: Participant | None, media: dict, mode: str) -> dict:
    conversations: dict[str, Any] = {
        "conversation_id": conf.conversation_id,
        "communication_channel": "voice",
        "direction": conf.direction,
    }
    if agent is not None and agent.queue:
        conversations["queue"] = agent.queue
    if agent is not None:
        for t in conf.transfers:
            kind = "Transfer to Queue" if t.via == "queue" else "Transfer to Agent"
            if t.source == agent.id:
                conversations["followed_by"] = kind
            if t.target == agent.id:
                conversations["preceded_by"] = kind
    attrs: dict[str, Any] = {
        "type": conf.direction,
        "direction": conf.direction,
        "call_sid": conf.call_sid,
        "conversations": conversations,
    }
    customer = conf.customer
    if customer.name:
        attrs["name"] = customer.name
        attrs["from" if conf.direction == "inbound" else "to"] = customer.name
        conversations["external_contact"] = customer.name
    if mode == "native" or agent is None:
        conversations["media"] = [media]
    else:
        attrs["reservation_attributes"] = {agent.reservation_sid: {"media": [media]}}
    if agent is not None:
        attrs["task_sid"] = agent.task_sid
        attrs["reservation_sid"] = agent.reservation_sid
        attrs["worker"] = agent.worker
    return attrs


def _truth(conf: Conference, plan: _Plan) -> dict | None:
    w0, w1 = plan.start, plan.end
    parties: dict[str, Any] = {}
    chans = [Timeline(), Timeline()]
    any_truth = False
    for ch, who in ((0, plan.ch1), (1, plan.ch2)):
        for p in who:
            active = p.audible.crop(w0, w1)
            if not active:
                continue
            entry: dict[str, Any] = {"role": p.role, "channel": ch + 1, "present": active.shift(-w0)}
            if p.speech is not None:
                any_truth = True
                sp = (p.speech.shift(p.audio_start) & active).shift(-w0)
                entry["speech"] = sp
                chans[ch] = chans[ch] | sp
            parties[p.id] = entry
    if not any_truth:
        return None
    music = plan.music.crop(w0, w1).shift(-w0) if conf.hold_music is not None else Timeline()
    return {
        "duration": round(w1 - w0, 6),
        "channels": {"1": chans[0], "2": chans[1]},
        "channel_complete": {
            str(ch + 1): all(p.speech is not None for p in who if p.audible.crop(w0, w1))
            for ch, who in ((0, plan.ch1), (1, plan.ch2))
        },
        "parties": parties,
        "music": music,
        "segments": [
            {"reservation_sid": a.reservation_sid, "worker": a.worker,
             "window": [round(max(a.join, w0) - w0, 6), round(min(a.leave, w1) - w0, 6)]}
            for a in plan.segments
        ],
    }


def _write_json(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
