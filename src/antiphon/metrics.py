"""Conversation metrics of a two-party call from its speech timelines.

Given when the customer speaks and when the agent speaks (two
:class:`~antiphon.timeline.Timeline` objects, seconds on the recording's
timeline) and a window of that recording, :func:`compute_metrics` measures
talk, crosstalk and silence (names follow Twilio Flex Insights), the longest
monologues and silences, dead air, interruptions, turns and response latency.

Every definition, with a drawn example, is in ``docs/metrics.md``. In short,
with C = customer speech, A = agent speech and W = the window:

* ``customer_talk_time`` = \\|C ∩ W\\|, ``agent_talk_time`` = \\|A ∩ W\\|,
  ``talk_time`` = \\|(C ∪ A) ∩ W\\|, ``crosstalk_time`` = \\|C ∩ A ∩ W\\|,
  ``silence_time`` = \\|W\\| − ``talk_time``.
* Speech outside the window is clipped away before anything is measured, so
  the metrics of a window equal the metrics of the timelines cropped to it.

>>> from antiphon.timeline import Timeline
>>> m = compute_metrics(Timeline([(2, 6)]), Timeline([(0, 2.5), (7, 10)]), (0, 10))
>>> m["talk_time"], m["crosstalk_time"], m["silence_time"]
(9.0, 0.5, 1.0)
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, fields
from typing import Any, Iterable, Sequence

from .errors import AntiphonError, Problem
from .timeline import Interval, Timeline

__all__ = [
    "METRICS_VERSION",
    "SCALAR_METRICS",
    "MetricOptions",
    "MetricsError",
    "aggregate_metrics",
    "compute_metrics",
    "format_metrics",
]

#: Bumped whenever a key's meaning changes, so stored results can be told apart.
METRICS_VERSION = 1

PARTIES = ("customer", "agent")

# Thresholds are compared with a microsecond of slack, so that a 0.2 s overlap
# computed as 16 - 15.8 = 0.19999999999999929 still counts as 0.2 s.
_EPS = 1e-6


class MetricsError(AntiphonError, ValueError):
    """A window or an option that metrics cannot be computed with."""


@dataclass
class MetricOptions:
    """How speech is grouped into utterances, turns and events.

    All values are seconds (``edge_silences`` is a flag). The defaults suit
    telephone conversations measured by a voice-activity detector.
    """

    #: A party's own pauses shorter than this are bridged: the speech on both
    #: sides is one utterance, one monologue, one turn.
    turn_gap: float = 1.0
    #: A party's utterances shorter than this that fall inside the other
    #: party's utterance ("mm-hm", "okay") are backchannels: they do not break
    #: the other's monologue, do not take a turn and are never interruptions.
    backchannel: float = 1.0
    #: Silences at least this long are listed in ``silences`` (dead air).
    long_silence: float = 5.0
    #: An interruption needs at least this much crosstalk; shorter overlaps are
    #: the normal early start of a reply at the end of the other's sentence.
    min_overlap: float = 0.5
    #: Whether the silence before the first speech and after the last speech
    #: of the window count as dead air and as "silence before" a party. They
    #: are always part of ``silence_time`` and reported as ``leading_silence``
    #: and ``trailing_silence``.
    edge_silences: bool = False

    def __post_init__(self) -> None:
        problems = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "edge_silences":
                if not isinstance(value, bool):
                    problems.append(Problem(f.name, f"{f.name} must be true or false, got {value!r}"))
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.append(Problem(f.name, f"{f.name} must be a number of seconds, got {value!r}"))
            elif not math.isfinite(value) or value < 0:
                problems.append(Problem(f.name, f"{f.name} must be a finite number of seconds >= 0, got {value!r}"))
        if problems:
            raise MetricsError("invalid metric options", problems)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "MetricOptions":
        """Options from a mapping (a config file, an API request); unknown keys are errors."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise MetricsError(
                "unknown metric options: " + ", ".join(unknown),
                [Problem(k, f"{k} is not a metric option (known: {', '.join(sorted(known))})") for k in unknown],
            )
        return cls(**data)


#: Every top-level scalar key of :func:`compute_metrics`'s result, in order,
#: with its unit: ``"s"`` seconds, ``"%"`` percent, ``"count"`` or ``"version"``.
#: Values are numbers, or ``null`` where a ratio or a median is undefined.
SCALAR_METRICS: dict[str, str] = {
    "metrics_version": "version",
    "window_start": "s",
    "window_end": "s",
    "duration": "s",
    "talk_time": "s",
    "customer_talk_time": "s",
    "agent_talk_time": "s",
    "crosstalk_time": "s",
    "silence_time": "s",
    "talk_pct": "%",
    "customer_talk_pct": "%",
    "agent_talk_pct": "%",
    "crosstalk_pct": "%",
    "silence_pct": "%",
    "customer_talk_share_pct": "%",
    "agent_talk_share_pct": "%",
    "longest_talk_by_customer": "s",
    "longest_talk_by_agent": "s",
    "longest_silence_before_customer": "s",
    "longest_silence_before_agent": "s",
    "leading_silence": "s",
    "trailing_silence": "s",
    "long_silence_count": "count",
    "long_silence_time": "s",
    "long_silence_pct": "%",
    "interruption_count": "count",
    "interruptions_by_customer": "count",
    "interruptions_by_agent": "count",
    "interruption_time": "s",
    "interruption_time_by_customer": "s",
    "interruption_time_by_agent": "s",
    "turns": "count",
    "customer_turns": "count",
    "agent_turns": "count",
    "customer_response_latency": "s",
    "agent_response_latency": "s",
    "customer_responses": "count",
    "agent_responses": "count",
}


# -- internals ----------------------------------------------------------------


def _ms(x: float) -> float:
    """Round seconds to milliseconds (and never return -0.0)."""
    return round(x, 3) + 0.0


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 2) + 0.0 if whole > 0 else None


def _as_timeline(value: Any, name: str) -> Timeline:
    if isinstance(value, Timeline):
        return value
    if value is None:
        return Timeline()
    try:
        return Timeline(value)
    except AntiphonError as exc:
        raise MetricsError(f"{name} speech is not a timeline: {exc.message}", [Problem(name, exc.message)]) from exc
    except TypeError as exc:
        raise MetricsError(
            f"{name} speech must be a Timeline or a list of (start, end) pairs",
            [Problem(name, f"{name} must be a Timeline or a list of (start, end) pairs, got {type(value).__name__}")],
        ) from exc


def _window(window: Any) -> tuple[float, float]:
    try:
        start, end = window
        start, end = float(start), float(end)
    except (TypeError, ValueError) as exc:
        raise MetricsError(
            f"window must be a (start, end) pair of seconds, got {window!r}",
            [Problem("window", "must be a (start, end) pair of seconds")],
        ) from exc
    if not (math.isfinite(start) and math.isfinite(end)):
        raise MetricsError(f"window ends must be finite numbers of seconds, got ({start}, {end})", [Problem("window", "ends must be finite")])
    if start < 0:
        raise MetricsError(f"window starts before the recording: {start} s", [Problem("window", "start must be >= 0")])
    if end < start:
        raise MetricsError(f"window ends before it starts: ({start}, {end})", [Problem("window", "end must be >= start")])
    return start, end


def _overlaps_any(iv: Interval, spans: Timeline) -> bool:
    return bool(spans.overlapping(iv[0], iv[1]))


def _pieces_trimmed(spans: Timeline, speech: Timeline) -> list[Interval]:
    """Each span shrunk to the extent of ``speech`` inside it (spans with none dropped)."""
    out = []
    for s, e in spans:
        inside = speech.crop(s, e)
        if inside:
            ext = inside.extent()
            out.append(ext)
    return out


def _who(speech: dict[str, Timeline], test: str, t: float) -> str | None:
    """"customer", "agent", "both" or None: whose speech ends (or starts) at ``t``."""
    found = [p for p in PARTIES if getattr(speech[p], test)(t)]
    return found[0] if len(found) == 1 else ("both" if found else None)


def _instance(iv: Interval | None) -> dict | None:
    if iv is None:
        return None
    return {"start": _ms(iv[0]), "end": _ms(iv[1]), "duration": _ms(iv[1] - iv[0])}


# -- the conversation model ----------------------------------------------------


@dataclass
class _Party:
    speech: Timeline  # raw speech inside the window
    utterances: list[Interval]  # own pauses < turn_gap bridged
    backchannels: list[Interval]  # short utterances inside the other's floor
    talk: Timeline  # speech that is not a backchannel
    talk_utterances: list[Interval]  # utterances that are not backchannels
    floor: list[Interval]  # floor spans: talk with own pauses and the other's backchannels bridged


def _model(C: Timeline, A: Timeline, o: MetricOptions) -> dict[str, _Party]:
    speech = {"customer": C, "agent": A}
    other = {"customer": "agent", "agent": "customer"}
    utts = {p: list(speech[p].support(o.turn_gap - _EPS)) for p in PARTIES}
    short = {p: [u for u in utts[p] if u[1] - u[0] < o.backchannel - _EPS] for p in PARTIES}

    # Preliminary floors: a party's speech bridged over its own short pauses and
    # over every short utterance of the other party, trimmed to its own speech.
    floor0 = {
        p: Timeline(_pieces_trimmed((speech[p] | Timeline(short[other[p]])).support(o.turn_gap - _EPS), speech[p]))
        for p in PARTIES
    }
    # A short utterance is a backchannel when it falls inside the other's floor.
    bc = {p: [u for u in short[p] if _overlaps_any(u, floor0[other[p]])] for p in PARTIES}

    parties = {}
    for p in PARTIES:
        bcset = set(bc[p])
        talk_utts = [u for u in utts[p] if u not in bcset]
        talk = speech[p] & Timeline(talk_utts)
        bridged = (talk | Timeline(bc[other[p]])).support(o.turn_gap - _EPS)
        floor = _pieces_trimmed(bridged, talk)
        parties[p] = _Party(speech[p], utts[p], bc[p], talk, talk_utts, floor)
    return parties


def _monologues(me: _Party, them: _Party) -> list[Interval]:
    """A party's floor spans, cut wherever the other party really talks while it is silent.

    The other's talk over this party's speech does not cut the monologue
    (this party kept talking); the other's talk inside this party's pause does.
    """
    cuts = them.talk - me.speech
    pieces = Timeline(me.floor) - cuts if cuts else Timeline(me.floor)
    return _pieces_trimmed(pieces, me.talk)


def _turns(parties: dict[str, _Party]) -> tuple[list[str], dict[str, list[float]]]:
    """Who took each turn, in order, and each party's response latencies.

    Floor spans of both parties are walked in start order; consecutive spans
    of one party are one turn. A span of the other party that ends inside the
    current turn (talking over it without taking the floor) does not start a
    turn. A new turn's latency is its start minus the previous turn's end;
    overlapping hand-overs (negative) are not responses after a gap. When
    both parties have the very same span (a duplicated mono channel, say),
    both take a turn at once.
    """
    events = sorted(
        [(s, e, p) for p in PARTIES for s, e in parties[p].floor],
        key=lambda x: (x[0], -x[1], x[2]),
    )
    turns: list[str] = []
    latencies: dict[str, list[float]] = {p: [] for p in PARTIES}
    holders: set[str] = set()  # who holds the current turn
    cur_end = -math.inf
    i = 0
    while i < len(events):
        s, e, _ = events[i]
        group = [p for (s2, e2, p) in events[i : i + 2] if (s2, e2) == (s, e)]
        i += len(group)
        new, extended = [], []
        for p in group:
            if p in holders:
                extended.append(p)
            elif holders and e <= cur_end:
                continue  # talked over the current turn and stopped first
            else:
                new.append(p)
        for p in new:
            if holders and s - cur_end >= 0:
                latencies[p].append(s - cur_end)
            turns.append(p)
        if new or extended:
            holders = set(new) | set(extended)
            cur_end = max(cur_end, e) if extended else e
    return turns, latencies


def _interruptions(parties: dict[str, _Party], crosstalk: Timeline, o: MetricOptions) -> list[dict]:
    out = []
    for p, q in (("customer", "agent"), ("agent", "customer")):
        floor_q = Timeline(parties[q].floor)
        for us, ue in parties[p].talk_utterances:
            if ue - us < o.backchannel - _EPS:
                continue
            held = floor_q.interval_at(us)
            if held is None or not held[0] < us:
                continue  # the other was not mid-utterance (or both started together)
            span_end = min(ue, held[1])
            both = crosstalk.crop(us, span_end)
            overlap = both.duration()
            if overlap <= 0 or overlap < o.min_overlap - _EPS:
                continue
            out.append(
                {
                    "start": _ms(us),
                    "end": _ms(both.extent()[1]),
                    "overlap": _ms(overlap),
                    "interrupter": p,
                    "interrupted": q,
                }
            )
    out.sort(key=lambda d: (d["start"], d["interrupter"]))
    return out


# -- the public function -------------------------------------------------------


def compute_metrics(
    customer: Timeline | Iterable[Sequence[float]],
    agent: Timeline | Iterable[Sequence[float]],
    window: tuple[float, float],
    options: MetricOptions | None = None,
) -> dict:
    """Measure one window of a two-party call.

    ``customer`` and ``agent`` are the speech timelines of the two channels
    (a :class:`Timeline` or a list of ``(start, end)`` pairs), in seconds on
    the recording's timeline. ``window`` is ``(start, end)`` on that same
    timeline: the whole recording or one segment of it. Speech outside the
    window is ignored.

    Returns a JSON-able dict: the flat scalar metrics listed in
    :data:`SCALAR_METRICS` (seconds rounded to milliseconds, percentages to
    two decimals, ``None`` where undefined), then ``silences``,
    ``interruptions`` and ``longest`` with absolute recording times,
    ``response_latencies`` (each response, for exact aggregate medians) and
    the ``options`` used. Raises :class:`MetricsError` for a bad window or options.
    """
    if options is None:
        options = MetricOptions()
    elif not isinstance(options, MetricOptions):
        raise MetricsError(f"options must be MetricOptions, got {type(options).__name__}")
    o = options
    w0, w1 = _window(window)
    C = _as_timeline(customer, "customer").crop(w0, w1)
    A = _as_timeline(agent, "agent").crop(w0, w1)
    duration = w1 - w0

    talk = C | A
    crosstalk = C & A
    talk_time = talk.duration()
    c_time, a_time = C.duration(), A.duration()

    # -- silence ----------------------------------------------------------------
    silence = talk.gaps(w0, w1)
    ext = talk.extent()
    if ext is None:
        leading, trailing = duration, 0.0
    else:
        leading, trailing = ext[0] - w0, w1 - ext[1]
    edge: list[Interval] = []
    interior: list[Interval] = []
    for s, e in silence:
        (edge if ext is None or s == w0 and leading > 0 or e == w1 and trailing > 0 else interior).append((s, e))
    candidates = sorted(interior + edge) if o.edge_silences else interior
    long_silences = [iv for iv in candidates if iv[1] - iv[0] >= o.long_silence - _EPS]

    speech = {"customer": C, "agent": A}
    before: dict[str, Interval | None] = {}
    for p in PARTIES:
        best = None
        for s, e in candidates:
            if speech[p].starts_at(e) and (best is None or e - s > best[1] - best[0]):
                best = (s, e)
        before[p] = best

    # -- utterances, monologues, turns, interruptions --------------------------
    parties = _model(C, A, o)
    longest: dict[str, Interval | None] = {}
    for p, q in (("customer", "agent"), ("agent", "customer")):
        monos = _monologues(parties[p], parties[q])
        longest[p] = max(monos, key=lambda iv: (iv[1] - iv[0], -iv[0])) if monos else None
    turns, latencies = _turns(parties)
    interruptions = _interruptions(parties, crosstalk, o)

    def by(p: str) -> list[dict]:
        return [i for i in interruptions if i["interrupter"] == p]

    def span(iv: Interval | None) -> float:
        return _ms(iv[1] - iv[0]) if iv else 0.0

    def median(xs: list[float]) -> float | None:
        return _ms(statistics.median(xs)) if xs else None

    r_duration, r_talk = _ms(duration), _ms(talk_time)
    r_silence = _ms(r_duration - r_talk)  # so that talk + silence = duration exactly
    long_time = sum(e - s for s, e in long_silences)

    m: dict[str, Any] = {
        "metrics_version": METRICS_VERSION,
        "window_start": _ms(w0),
        "window_end": _ms(w1),
        "duration": r_duration,
        "talk_time": r_talk,
        "customer_talk_time": _ms(c_time),
        "agent_talk_time": _ms(a_time),
        "crosstalk_time": _ms(crosstalk.duration()),
        "silence_time": r_silence,
        "talk_pct": _pct(talk_time, duration),
        "customer_talk_pct": _pct(c_time, duration),
        "agent_talk_pct": _pct(a_time, duration),
        "crosstalk_pct": _pct(crosstalk.duration(), duration),
        "silence_pct": _pct(duration - talk_time, duration),
        "customer_talk_share_pct": _pct(c_time, c_time + a_time),
        "agent_talk_share_pct": _pct(a_time, c_time + a_time),
        "longest_talk_by_customer": span(longest["customer"]),
        "longest_talk_by_agent": span(longest["agent"]),
        "longest_silence_before_customer": span(before["customer"]),
        "longest_silence_before_agent": span(before["agent"]),
        "leading_silence": _ms(leading),
        "trailing_silence": _ms(trailing),
        "long_silence_count": len(long_silences),
        "long_silence_time": _ms(long_time),
        "long_silence_pct": _pct(long_time, duration),
        "interruption_count": len(interruptions),
        "interruptions_by_customer": len(by("customer")),
        "interruptions_by_agent": len(by("agent")),
        "interruption_time": _ms(sum(i["overlap"] for i in interruptions)),
        "interruption_time_by_customer": _ms(sum(i["overlap"] for i in by("customer"))),
        "interruption_time_by_agent": _ms(sum(i["overlap"] for i in by("agent"))),
        "turns": len(turns),
        "customer_turns": turns.count("customer"),
        "agent_turns": turns.count("agent"),
        "customer_response_latency": median(latencies["customer"]),
        "agent_response_latency": median(latencies["agent"]),
        "customer_responses": len(latencies["customer"]),
        "agent_responses": len(latencies["agent"]),
        "silences": [
            {**_instance(iv), "previous_party": _who(speech, "ends_at", iv[0]), "next_party": _who(speech, "starts_at", iv[1])}
            for iv in long_silences
        ],
        "interruptions": interruptions,
        "longest": {
            "talk_by_customer": _instance(longest["customer"]),
            "talk_by_agent": _instance(longest["agent"]),
            "silence_before_customer": _instance(before["customer"]),
            "silence_before_agent": _instance(before["agent"]),
        },
        "response_latencies": {p: [_ms(x) for x in latencies[p]] for p in PARTIES},
        "options": o.to_dict(),
    }
    return m


# -- aggregation ---------------------------------------------------------------

_SUMMED = [k for k, unit in SCALAR_METRICS.items() if unit in ("s", "count")
           and not k.startswith(("window_", "longest_")) and not k.endswith("_response_latency")]
_RATIOS = {
    "talk_pct": ("talk_time", "duration"),
    "customer_talk_pct": ("customer_talk_time", "duration"),
    "agent_talk_pct": ("agent_talk_time", "duration"),
    "crosstalk_pct": ("crosstalk_time", "duration"),
    "silence_pct": ("silence_time", "duration"),
    "long_silence_pct": ("long_silence_time", "duration"),
}


def aggregate_metrics(results: Iterable[dict]) -> dict:
    """Combine :func:`compute_metrics` results (calls, segments) into one.

    Times and counts are summed; percentages are recomputed from the sums
    (so a long call weighs more than a short one, as it should); each
    ``longest_*`` is the maximum; response latencies are the median of all
    responses pooled (exact when every result carries ``response_latencies``,
    otherwise ``None``). ``calls`` says how many results were combined.
    Instance lists are not combined. ``None`` results (a segment outside its
    recording) are skipped.

    >>> a = compute_metrics([(0, 4)], [(5, 6)], (0, 10))
    >>> b = compute_metrics([(1, 2)], [(3, 20)], (0, 30))
    >>> t = aggregate_metrics([a, b])
    >>> t["calls"], t["duration"], t["talk_time"], t["talk_pct"], t["longest_talk_by_agent"]
    (2, 40.0, 23.0, 57.5, 17.0)
    """
    rows = [r for r in results if r is not None]
    out: dict[str, Any] = {"calls": len(rows)}
    versions = {r.get("metrics_version") for r in rows}
    out["metrics_version"] = versions.pop() if len(versions) == 1 else None
    for key in _SUMMED:
        if key != "metrics_version":
            out[key] = _ms(sum(r.get(key) or 0 for r in rows))
            if SCALAR_METRICS[key] == "count":
                out[key] = int(out[key])
    for key, (part, whole) in _RATIOS.items():
        out[key] = _pct(out[part], out[whole])
    talk_sum = out["customer_talk_time"] + out["agent_talk_time"]
    out["customer_talk_share_pct"] = _pct(out["customer_talk_time"], talk_sum)
    out["agent_talk_share_pct"] = _pct(out["agent_talk_time"], talk_sum)
    for key in SCALAR_METRICS:
        if key.startswith("longest_"):
            out[key] = max((r.get(key) or 0.0 for r in rows), default=0.0)
    for p in PARTIES:
        pooled: list[float] | None = []
        for r in rows:
            lat = (r.get("response_latencies") or {}).get(p)
            if lat is None:
                pooled = None if r.get(f"{p}_responses") else pooled
                continue
            if pooled is not None:
                pooled.extend(lat)
        out[f"{p}_response_latency"] = _ms(statistics.median(pooled)) if pooled else None
    order = ["calls"] + [k for k in SCALAR_METRICS if k in out]
    return {k: out[k] for k in order}


# -- text summary --------------------------------------------------------------

_PCT_OF_WINDOW = {
    "talk_time": "talk_pct",
    "customer_talk_time": "customer_talk_pct",
    "agent_talk_time": "agent_talk_pct",
    "crosstalk_time": "crosstalk_pct",
    "silence_time": "silence_pct",
    "long_silence_time": "long_silence_pct",
}
_SHOWN_ELSEWHERE = set(_PCT_OF_WINDOW.values()) | {
    "metrics_version",
    "window_start",
    "window_end",
    "customer_talk_share_pct",
    "agent_talk_share_pct",
}


def _fmt_seconds(v: float) -> str:
    return f"{v:.2f} s"


def format_metrics(metrics: dict) -> str:
    """A compact aligned text table of a :func:`compute_metrics` result.

    One line per scalar metric: the name, the value (seconds with two
    decimals, counts as integers, ``-`` when undefined) and, for the times
    that are parts of the window, their percentage of it. Talk times also
    show each party's share of all talk. Long silences and interruptions are
    listed below the table. Keys missing from ``metrics`` are skipped, so a
    stored, partial result can be printed too.

    >>> from antiphon.timeline import Timeline
    >>> m = compute_metrics(Timeline([(2, 6)]), Timeline([(0, 2.5), (7, 10)]), (0, 10))
    >>> print(format_metrics(m).splitlines()[2])
    talk_time                         9.00 s   90.0 %
    """
    lines = []
    if metrics.get("calls") is not None:
        lines.append(f"{metrics['calls']} calls")
    ws, we = metrics.get("window_start"), metrics.get("window_end")
    if ws is not None and we is not None:
        lines.append(f"window {ws:.2f}-{we:.2f} s")
    rows: list[tuple[str, str, str]] = []
    for key, unit in SCALAR_METRICS.items():
        if key in _SHOWN_ELSEWHERE or key not in metrics:
            continue
        value = metrics[key]
        if value is None:
            text = "-"
        elif unit == "count":
            text = str(int(value))
        elif unit == "%":
            text = f"{value:.1f} %"
        else:
            text = _fmt_seconds(value)
        extra = ""
        pct_key = _PCT_OF_WINDOW.get(key)
        if pct_key and metrics.get(pct_key) is not None:
            extra = f"{metrics[pct_key]:5.1f} %"
        share_key = {"customer_talk_time": "customer_talk_share_pct", "agent_talk_time": "agent_talk_share_pct"}.get(key)
        if share_key and metrics.get(share_key) is not None:
            extra += f"  (share {metrics[share_key]:.1f} %)"
        rows.append((key, text, extra))
    if rows:
        name_w = max(len(r[0]) for r in rows)
        val_w = max(len(r[1]) for r in rows)
        for name, text, extra in rows:
            lines.append(f"{name:<{name_w}}  {text:>{val_w}}  {extra}".rstrip())
    silences = metrics.get("silences") or []
    if silences:
        lines.append("long silences:")
        for s in silences:
            lines.append(f"  {s['start']:.2f}-{s['end']:.2f} s  ({s['duration']:.2f} s)")
    interruptions = metrics.get("interruptions") or []
    if interruptions:
        lines.append("interruptions:")
        for i in interruptions:
            lines.append(
                f"  {i['start']:.2f}-{i['end']:.2f} s  {i['interrupter']} over {i['interrupted']}"
                f"  ({i['overlap']:.2f} s overlap)"
            )
    return "\n".join(lines)
