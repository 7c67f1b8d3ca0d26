"""Speech as interval timelines (in the spirit of pyannote.core).

A :class:`Timeline` is an immutable, sorted set of disjoint half-open
intervals ``[start, end)`` in seconds. Talk time is a duration, crosstalk an
intersection, silence the gaps of a union. Everything is exact float
arithmetic on interval ends, so metrics computed on hand-built timelines are
exactly predictable.
"""

from __future__ import annotations

import math
import numbers
from bisect import bisect_left, bisect_right
from typing import Iterable, Iterator, Sequence

from .errors import AntiphonError

__all__ = ["Timeline", "Interval", "TimelineError"]

Interval = tuple[float, float]


class TimelineError(AntiphonError, ValueError):
    """An interval that cannot be on a timeline (end before start, not a finite number).

    It is a :class:`ValueError` too, so callers that catch ``ValueError`` keep working.
    """


def _normalise(intervals: Iterable[Sequence[float]]) -> tuple[Interval, ...]:
    items = []
    for iv in intervals:
        try:
            start, end = float(iv[0]), float(iv[1])
        except (TypeError, ValueError, IndexError) as exc:
            raise TimelineError(f"an interval must be a (start, end) pair of seconds, got {iv!r}") from exc
        if not (math.isfinite(start) and math.isfinite(end)):
            raise TimelineError(f"interval ends must be finite numbers of seconds: [{start}, {end}]")
        if end < start:
            raise TimelineError(f"interval ends before it starts: [{start}, {end}]")
        if end > start:
            items.append((start, end))
    items.sort()
    merged: list[Interval] = []
    for start, end in items:
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


class Timeline:
    """A set of speech intervals in seconds; overlapping input is merged."""

    __slots__ = ("_ivs", "_starts")

    def __init__(self, intervals: Iterable[Sequence[float]] = ()):
        if isinstance(intervals, Timeline):
            self._ivs = intervals._ivs
        else:
            self._ivs = _normalise(intervals)
        self._starts: list[float] | None = None

    @classmethod
    def _from_sorted(cls, ivs: Sequence[Interval]) -> "Timeline":
        """Build from intervals already sorted, disjoint, non-touching and non-empty."""
        tl = cls.__new__(cls)
        tl._ivs = tuple(ivs)
        tl._starts = None
        return tl

    def _start_index(self) -> list[float]:
        if self._starts is None:
            self._starts = [s for s, _ in self._ivs]
        return self._starts

    # -- container protocol -------------------------------------------------
    def __iter__(self) -> Iterator[Interval]:
        return iter(self._ivs)

    def __len__(self) -> int:
        return len(self._ivs)

    def __getitem__(self, i: int) -> Interval:
        return self._ivs[i]

    def __bool__(self) -> bool:
        return bool(self._ivs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timeline) and self._ivs == other._ivs

    def __hash__(self) -> int:
        return hash(self._ivs)

    def __repr__(self) -> str:
        inner = ", ".join(f"[{s:g}, {e:g}]" for s, e in self._ivs[:6])
        more = ", ..." if len(self._ivs) > 6 else ""
        return f"Timeline({inner}{more})"

    # -- measures -----------------------------------------------------------
    @property
    def intervals(self) -> tuple[Interval, ...]:
        return self._ivs

    def duration(self) -> float:
        """Total covered time in seconds."""
        return sum(e - s for s, e in self._ivs)

    def extent(self) -> Interval | None:
        """``(first start, last end)`` or None when empty."""
        return (self._ivs[0][0], self._ivs[-1][1]) if self._ivs else None

    def to_list(self, ndigits: int | None = 3) -> list[list[float]]:
        """JSON-friendly ``[[start, end], ...]``, rounded to milliseconds by default."""
        if ndigits is None:
            return [[s, e] for s, e in self._ivs]
        return [[round(s, ndigits), round(e, ndigits)] for s, e in self._ivs]

    # -- algebra ------------------------------------------------------------
    def union(self, other: "Timeline") -> "Timeline":
        return Timeline(self._ivs + other._ivs)

    __or__ = union

    def intersection(self, other: "Timeline") -> "Timeline":
        out: list[Interval] = []
        a, b = self._ivs, other._ivs
        i = j = 0
        while i < len(a) and j < len(b):
            s = max(a[i][0], b[j][0])
            e = min(a[i][1], b[j][1])
            if e > s:
                out.append((s, e))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return Timeline(out)

    __and__ = intersection

    def crop(self, start: float, end: float) -> "Timeline":
        """The part of this timeline inside the window ``[start, end)``.

        Intervals crossing a window edge are clipped to it; an empty window
        (``end <= start``) gives an empty timeline.
        """
        if not end > start:
            return Timeline()
        ivs = self._ivs
        # first interval that may end after ``start``: the one before the first start > start
        i = max(bisect_right(self._start_index(), start) - 1, 0)
        out: list[Interval] = []
        for s, e in ivs[i:]:
            if s >= end:
                break
            s2, e2 = max(s, start), min(e, end)
            if e2 > s2:
                out.append((s2, e2))
        return Timeline._from_sorted(out)

    def overlapping(self, start: float, end: float) -> list[Interval]:
        """The whole intervals that share some time with ``[start, end)`` (not clipped)."""
        if not end > start:
            return []
        i = max(bisect_right(self._start_index(), start) - 1, 0)
        out = []
        for s, e in self._ivs[i:]:
            if s >= end:
                break
            if e > start:
                out.append((s, e))
        return out

    def interval_at(self, t: float) -> Interval | None:
        """The interval containing time ``t`` (``start <= t < end``), or None."""
        i = bisect_right(self._start_index(), t) - 1
        if i >= 0 and t < self._ivs[i][1]:
            return self._ivs[i]
        return None

    def __contains__(self, t: object) -> bool:
        """``t in timeline``: is time ``t`` (seconds) covered?"""
        if not isinstance(t, numbers.Real):
            return False
        return self.interval_at(float(t)) is not None

    def starts_at(self, t: float) -> bool:
        """Does an interval start exactly at ``t``?"""
        i = bisect_left(self._start_index(), t)
        return i < len(self._ivs) and self._ivs[i][0] == t

    def ends_at(self, t: float) -> bool:
        """Does an interval end exactly at ``t``?"""
        i = bisect_left(self._start_index(), t) - 1
        return i >= 0 and self._ivs[i][1] == t

    def gaps(self, start: float | None = None, end: float | None = None) -> "Timeline":
        """The complement inside ``[start, end)`` (default: this timeline's extent)."""
        if start is None or end is None:
            ext = self.extent()
            if ext is None:
                return Timeline()
            start = ext[0] if start is None else start
            end = ext[1] if end is None else end
        out: list[Interval] = []
        cursor = start
        for s, e in self._ivs:
            if e <= start:
                continue
            if s >= end:
                break
            if s > cursor:
                out.append((cursor, min(s, end)))
            cursor = max(cursor, e)
        if cursor < end:
            out.append((cursor, end))
        return Timeline(out)

    def difference(self, other: "Timeline") -> "Timeline":
        """Parts of this timeline not covered by ``other``."""
        ext = self.extent()
        if ext is None:
            return Timeline()
        return self & other.gaps(ext[0], ext[1])

    __sub__ = difference

    def support(self, collar: float) -> "Timeline":
        """Bridge every gap shorter than ``collar`` seconds."""
        out: list[Interval] = []
        for s, e in self._ivs:
            if out and s - out[-1][1] < collar:
                out[-1] = (out[-1][0], e)
            else:
                out.append((s, e))
        return Timeline(out)

    def remove_shorter(self, min_duration: float) -> "Timeline":
        """Drop intervals shorter than ``min_duration`` seconds."""
        return Timeline(iv for iv in self._ivs if iv[1] - iv[0] >= min_duration)

    def shift(self, offset: float) -> "Timeline":
        """Every interval moved by ``offset`` seconds (negative moves earlier)."""
        return Timeline((s + offset, e + offset) for s, e in self._ivs)

    def durations(self) -> list[float]:
        """The length of each interval, in order."""
        return [e - s for s, e in self._ivs]
