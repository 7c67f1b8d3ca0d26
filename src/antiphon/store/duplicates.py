"""Finding two recordings of the same call.

With both Flex's native dual-channel recording and a recording plugin turned
on, one call is recorded twice. Two recordings are duplicates when they
belong to the same conversation (or call), overlap in wall-clock time, and
their speech looks the same: the per-channel speech timelines, placed on a
common clock by each recording's ``start_time`` (and allowed a small clock
offset), agree. The score is the mean over both parties of the
intersection-over-union of speech inside the overlap. Byte-identical files
(same SHA-256) are duplicates whatever their metadata says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

__all__ = ["Candidate", "similarity", "DUPLICATE_SCORE"]

#: Score at or above which two overlapping recordings are the same call.
DUPLICATE_SCORE = 0.6
#: Largest clock offset searched between two recordings' start times, seconds.
MAX_SKEW = 3.0
#: Resolution of the comparison, seconds.
STEP = 0.05


@dataclass
class Candidate:
    sid: str
    start_time: datetime | None
    duration: float
    speech: dict  # party -> [[start, end], ...] seconds from the recording's start
    sha256: str | None = None


def _mask(intervals, origin: float, n: int) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    for s, e in intervals or []:
        a = int(round((s + origin) / STEP))
        b = int(round((e + origin) / STEP))
        a, b = max(a, 0), min(b, n)
        if b > a:
            m[a:b] = True
    return m


def similarity(a: Candidate, b: Candidate) -> float:
    """0..1: how alike the speech of two recordings is where they overlap (1.0 for identical files)."""
    if a.sha256 and a.sha256 == b.sha256:
        return 1.0
    if a.start_time is None or b.start_time is None:
        return 0.0
    offset = (b.start_time - a.start_time).total_seconds()  # b's t=0 on a's clock
    lo = max(0.0, offset)
    hi = min(a.duration, offset + b.duration)
    if hi - lo < 2.0:
        return 0.0
    shorter = min(a.duration, b.duration)
    if (hi - lo) < 0.5 * shorter:
        return 0.0
    # a common grid covering both, with room for the skew search
    base = MAX_SKEW - min(0.0, offset)
    n = int((max(a.duration, offset + b.duration) - min(0.0, offset) + 2 * MAX_SKEW) / STEP) + 1
    lo_i, hi_i = int((lo + base) / STEP), int((hi + base) / STEP)
    best = 0.0
    masks_a = {p: _mask(a.speech.get(p), base, n) for p in ("customer", "agent")}
    for skew in np.arange(-MAX_SKEW, MAX_SKEW + STEP / 2, STEP * 2):
        scores = []
        for p in ("customer", "agent"):
            ma = masks_a[p][lo_i:hi_i]
            mb = _mask(b.speech.get(p), base + offset + skew, n)[lo_i:hi_i]
            union = np.count_nonzero(ma | mb)
            scores.append(np.count_nonzero(ma & mb) / union if union else 0.0)
        score = float(np.mean(scores))
        if score > best:
            best = score
    return round(best, 3)
