"""Where the pages get their data: a small query interface and its parts.

The pages ask a *source* four things: a filtered, sorted page of
conversations with its total count, one conversation with its analysis, a
report grouped by agent, queue or day, and the file behind a recording (for
waveform peaks). :class:`MemorySource` answers from a list of dicts (tests,
small deployments, ``antiphon.web.from_analyses``); the SQL store answers
with indexed queries (:mod:`antiphon.web.storesource`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Protocol

from . import views

SORT_KEYS = ("started_at", "duration", "agent", "queue", "talk_time", "customer_share",
             "crosstalk_pct", "silence_pct", "long_silences", "interruptions")
GROUPS = ("agent", "queue", "day")
MAX_PER_PAGE = 500


@dataclass(frozen=True)
class ListQuery:
    """Filters, sort and page of the conversations list (all optional)."""

    date_from: date | None = None  # inclusive, UTC day
    date_to: date | None = None  # inclusive, UTC day
    agent: str | None = None
    queue: str | None = None
    category: str | None = None
    crosstalk_above: float | None = None  # percent of the call
    long_silences: bool = False  # only calls with at least one long silence
    hide_duplicates: bool = True
    q: str | None = None  # a conversation id, call SID, task or reservation SID, or recording SID
    sort: str = "started_at"
    desc: bool = True
    page: int = 1
    per_page: int = 50

    def params(self, **override) -> dict[str, str]:
        """Query-string parameters reproducing this query (defaults left out)."""
        q = replace(self, **override) if override else self
        out: dict[str, str] = {}
        if q.date_from:
            out["from"] = q.date_from.isoformat()
        if q.date_to:
            out["to"] = q.date_to.isoformat()
        for k in ("q", "agent", "queue", "category"):
            if getattr(q, k):
                out[k] = getattr(q, k)
        if q.crosstalk_above is not None:
            out["crosstalk_above"] = f"{q.crosstalk_above:g}"
        if q.long_silences:
            out["long_silences"] = "1"
        if not q.hide_duplicates:
            out["duplicates"] = "show"
        if q.sort != "started_at" or not q.desc:
            out["sort"] = ("-" if q.desc else "") + q.sort
        if q.page != 1:
            out["page"] = str(q.page)
        if q.per_page != 50:
            out["per_page"] = str(q.per_page)
        return out


@dataclass
class Page:
    rows: list[dict]
    total: int
    query: ListQuery

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.query.per_page))


@dataclass(frozen=True)
class ReportQuery:
    group_by: str = "agent"
    date_from: date | None = None
    date_to: date | None = None


class Source(Protocol):
    def list_conversations(self, query: ListQuery) -> Page: ...

    def get_conversation(self, conversation_id: str, recording_sid: str | None = None) -> dict | None: ...

    def report(self, query: ReportQuery) -> list[dict]: ...

    def recording_path(self, sid: str) -> str | None: ...

    def facets(self) -> dict[str, list[str]]: ...


# -- conversation summary (one list row) -------------------------------------

def _parse_dt(v: Any) -> datetime | None:
    if v is None or isinstance(v, datetime):
        return v.replace(tzinfo=v.tzinfo or timezone.utc) if isinstance(v, datetime) else None
    try:
        s = str(v).replace("Z", "+00:00")
        d = datetime.fromisoformat(s)
        return d if d.tzinfo else d.replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def summarize(conv: Mapping, long_silence: float) -> dict:
    """One list row from a conversation record ``{id, started_at, analysis, ...}``."""
    a = conv.get("analysis") or {}
    m = a.get("metrics") or {}
    rec = a.get("recording") or {}
    duration = conv.get("duration") or rec.get("duration")
    segs = views.segment_rows(a, conv.get("segments"))
    agents = [s["worker"] for s in segs if s["worker"]] or list(conv.get("agents") or [])
    queues = [s["queue"] for s in segs if s["queue"]] or list(conv.get("queues") or [])
    pct = views.percentages(m, duration)
    inter = views.interruptions_by_party(a)
    started = _parse_dt(conv.get("started_at") or rec.get("start_time"))
    return {
        "id": str(conv["id"]),
        "started_at": started.isoformat().replace("+00:00", "Z") if started else None,
        "duration": round(float(duration), 3) if duration is not None else None,
        "agents": list(dict.fromkeys(agents)),
        "queues": list(dict.fromkeys(queues)),
        "talk_time": views._num(m.get("talk_time")),
        "customer_talk_time": views._num(m.get("customer_talk_time")),
        "agent_talk_time": views._num(m.get("agent_talk_time")),
        "crosstalk_time": views._num(m.get("crosstalk_time")),
        "silence_time": views._num(m.get("silence_time")),
        **pct,
        "long_silences": len(views.long_silences(a, long_silence)),
        "interruptions": inter["customer"] + inter["agent"],
        "interruptions_by_customer": inter["customer"],
        "interruptions_by_agent": inter["agent"],
        "categories": views.category_names(a),
        "duplicate_of": conv.get("duplicate_of"),
        "status": conv.get("status") or ("analyzed" if a else "pending"),
    }


def _sort_value(row: dict, key: str):
    if key == "agent":
        return (row["agents"] or [""])[0].lower()
    if key == "queue":
        return (row["queues"] or [""])[0].lower()
    v = row.get(key)
    return v if v is not None else float("-inf") if key != "started_at" else ""


def _matches(row: dict, q: ListQuery) -> bool:
    if q.q and q.q not in (row["id"], row.get("recording_sid"), row.get("call_sid")):
        return False
    if q.hide_duplicates and row.get("duplicate_of") and not q.q:
        return False
    if q.date_from or q.date_to:
        st = _parse_dt(row.get("started_at"))
        if st is None:
            return False
        d = st.astimezone(timezone.utc).date()
        if q.date_from and d < q.date_from:
            return False
        if q.date_to and d > q.date_to:
            return False
    if q.agent and q.agent not in row["agents"]:
        return False
    if q.queue and q.queue not in row["queues"]:
        return False
    if q.category and q.category not in row["categories"]:
        return False
    if q.crosstalk_above is not None and not ((row.get("crosstalk_pct") or 0.0) > q.crosstalk_above):
        return False
    if q.long_silences and not row.get("long_silences"):
        return False
    return True


# -- report aggregation --------------------------------------------------------

def report_units(conv: Mapping, group_by: str, long_silence: float) -> Iterable[tuple[str, dict]]:
    """``(group key, measures)`` for one conversation: one unit per segment
    when grouping by agent or queue (a transferred call counts for each
    agent), the whole call when grouping by day."""
    a = conv.get("analysis") or {}
    rec = a.get("recording") or {}
    started = _parse_dt(conv.get("started_at") or rec.get("start_time"))
    if group_by == "day":
        if started is None:
            return
        yield started.date().isoformat(), _measures(a, conv.get("duration") or rec.get("duration"), long_silence)
        return
    segs = list(conv.get("segments") or a.get("segments") or [])
    if not segs:
        yield "(none)", _measures(a, conv.get("duration") or rec.get("duration"), long_silence)
        return
    for s in segs:
        key = (s.get("worker") if group_by == "agent" else s.get("queue")) or "(none)"
        window = s.get("window")
        dur = (window[1] - window[0]) if window else None
        sm = s.get("metrics")
        if sm:
            yield key, _measures({"metrics": sm}, dur, long_silence)
        elif len(segs) == 1:
            yield key, _measures(a, conv.get("duration") or rec.get("duration"), long_silence)


def _measures(a: Mapping, duration: Any, long_silence: float) -> dict:
    m = a.get("metrics") or {}
    inter = views.interruptions_by_party(a)
    return {
        "duration": float(duration or 0.0),
        "talk_time": views._num(m.get("talk_time")) or 0.0,
        "customer_talk_time": views._num(m.get("customer_talk_time")) or 0.0,
        "agent_talk_time": views._num(m.get("agent_talk_time")) or 0.0,
        "crosstalk_time": views._num(m.get("crosstalk_time")) or 0.0,
        "silence_time": views._num(m.get("silence_time")) or 0.0,
        "interruptions_by_customer": inter["customer"],
        "interruptions_by_agent": inter["agent"],
        "long_silences": len(views.long_silences(a, long_silence)),
    }


REPORT_COLUMNS = (
    "group", "calls", "total_duration", "avg_duration", "avg_talk_time", "customer_share",
    "agent_share", "crosstalk_pct", "silence_pct", "interruptions_by_customer",
    "interruptions_by_agent", "long_silences",
)


def aggregate(units: Iterable[tuple[str, Mapping]]) -> list[dict]:
    """Sum measures per group and derive averages and shares (percent)."""
    acc: dict[str, dict] = {}
    for key, u in units:
        g = acc.setdefault(key, {"calls": 0, "duration": 0.0, "talk_time": 0.0,
                                 "customer_talk_time": 0.0, "agent_talk_time": 0.0,
                                 "crosstalk_time": 0.0, "silence_time": 0.0,
                                 "interruptions_by_customer": 0, "interruptions_by_agent": 0,
                                 "long_silences": 0})
        g["calls"] += 1
        for k in g:
            if k != "calls":
                g[k] += u.get(k, 0) or 0
    return [finish_group(k, g) for k, g in sorted(acc.items())]


def finish_group(key: str, g: Mapping) -> dict:
    calls = g["calls"] or 0
    talk = (g["customer_talk_time"] or 0) + (g["agent_talk_time"] or 0)
    dur = g["duration"] or 0

    def pct(x, of):
        return round(100.0 * x / of, 1) if of else None

    return {
        "group": key,
        "calls": int(calls),
        "total_duration": round(dur, 1),
        "avg_duration": round(dur / calls, 1) if calls else None,
        "avg_talk_time": round((g["talk_time"] or 0) / calls, 1) if calls else None,
        "customer_share": pct(g["customer_talk_time"] or 0, talk),
        "agent_share": pct(g["agent_talk_time"] or 0, talk),
        "crosstalk_pct": pct(g["crosstalk_time"] or 0, dur),
        "silence_pct": pct(g["silence_time"] or 0, dur),
        "interruptions_by_customer": int(g["interruptions_by_customer"] or 0),
        "interruptions_by_agent": int(g["interruptions_by_agent"] or 0),
        "long_silences": int(g["long_silences"] or 0),
    }


# -- in-memory source ----------------------------------------------------------

@dataclass
class MemorySource:
    """Conversations held in memory: ``[{id, started_at, analysis, recording_sid,
    recording_path, media_url, segments?, duplicate_of?}, ...]``."""

    conversations: list[dict] = field(default_factory=list)
    long_silence: float = 5.0

    def _rows(self) -> list[tuple[dict, dict]]:
        out = []
        for c in self.conversations:
            r = summarize(c, self.long_silence)
            r["recording_sid"], r["call_sid"] = c.get("recording_sid"), c.get("call_sid")
            out.append((r, c))
        return out

    def list_conversations(self, query: ListQuery) -> Page:
        rows = [r for r, _ in self._rows() if _matches(r, query)]
        for r in rows:
            r.pop("recording_sid", None)
            r.pop("call_sid", None)
        rows.sort(key=lambda r: (_sort_value(r, query.sort), r["id"]), reverse=query.desc)
        start = (query.page - 1) * query.per_page
        return Page(rows=rows[start:start + query.per_page], total=len(rows), query=query)

    def get_conversation(self, conversation_id: str, recording_sid: str | None = None) -> dict | None:
        for c in self.conversations:
            if str(c["id"]) == str(conversation_id):
                return c
        return None

    def report(self, query: ReportQuery) -> list[dict]:
        lq = ListQuery(date_from=query.date_from, date_to=query.date_to)
        units = []
        for r, c in self._rows():
            if _matches(r, lq):
                units.extend(report_units(c, query.group_by, self.long_silence))
        return aggregate(units)

    def recording_path(self, sid: str) -> str | None:
        for c in self.conversations:
            if c.get("recording_sid") == sid:
                return c.get("recording_path")
        return None

    def facets(self) -> dict[str, list[str]]:
        agents, queues, cats = set(), set(), set()
        for r, _ in self._rows():
            agents.update(r["agents"])
            queues.update(r["queues"])
            cats.update(r["categories"])
        return {"agents": sorted(agents), "queues": sorted(queues), "categories": sorted(cats)}


def day_range(d_from: date | None, d_to: date | None) -> list[date]:
    if not d_from or not d_to or d_to < d_from or (d_to - d_from).days > 3660:
        return []
    return [d_from + timedelta(days=i) for i in range((d_to - d_from).days + 1)]
