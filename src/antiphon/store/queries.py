"""Read queries shared by the JSON API and the web pages.

All functions take a :class:`~antiphon.store.Store` and return plain JSON-able
dicts (times ISO 8601 UTC with ``Z``, durations in seconds). See
``docs/api.md`` for the shapes.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Mapping

from sqlalchemy import and_, case, distinct, exists, func, literal, or_, select

from ..errors import AntiphonError, Problem
from .models import Analysis, Category, Conversation, Job, MediaProblem, Recording, Segment

__all__ = [
    "ConversationFilter",
    "PageRequest",
    "list_conversations",
    "get_conversation",
    "report",
    "list_recordings",
    "get_recording",
    "list_problems",
    "counts",
    "REPORT_GROUPS",
    "SORTS",
]

MAX_LIMIT = 500
REPORT_GROUPS = ("agent", "queue", "day")
#: Sort keys for :func:`list_conversations` (prefix ``-`` for descending).
SORTS = ("started_at", "duration", "talk_time", "customer_talk_time", "agent_talk_time",
         "crosstalk_time", "silence_time")


class QueryError(AntiphonError):
    status = 422


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _parse_when(value: Any, path: str, problems: list[Problem], end: bool = False) -> datetime | None:
    """``YYYY-MM-DD`` (a whole day; as an end bound, inclusive) or an ISO 8601 time."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        d = value
    else:
        s = str(value).strip()
        try:
            if len(s) == 10:
                d = date.fromisoformat(s)
            else:
                dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
                return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
        except ValueError:
            problems.append(Problem(path, f"{path} must be a date (YYYY-MM-DD) or an ISO 8601 time, not {s!r}"))
            return None
    dt = datetime.combine(d, time(0), tzinfo=timezone.utc)
    return dt + timedelta(days=1) if end else dt


@dataclass
class ConversationFilter:
    """Filters for :func:`list_conversations`; every field optional.

    from_, to: conversation start time range (``to`` exclusive; a bare date
    as ``to`` includes that whole day). agent: a segment's worker name.
    queue: a segment's or the conversation's queue. category: a rules
    category. direction: inbound/outbound. q: a conversation id, call SID,
    task SID or recording SID. problems: only conversations with (True) or
    without (False) media metadata problems.
    """

    from_: datetime | None = None
    to: datetime | None = None
    agent: str | None = None
    queue: str | None = None
    category: str | None = None
    direction: str | None = None
    q: str | None = None
    problems: bool | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any] | "ConversationFilter" | None) -> "ConversationFilter":
        """Build from a mapping (query parameters: ``from``, ``to``, ``agent`` ...), with field-path errors."""
        if data is None:
            return cls()
        if isinstance(data, cls):
            return data
        problems: list[Problem] = []
        known = {f.name for f in fields(cls)} | {"from"}
        for k in data:
            if k not in known:
                problems.append(Problem(k, f"{k} is not a filter (known: from, to, agent, queue, category, direction, q, problems)"))
        out = cls(
            from_=_parse_when(data.get("from", data.get("from_")), "from", problems),
            to=_parse_when(data.get("to"), "to", problems, end=True),
        )
        for k in ("agent", "queue", "category", "direction", "q"):
            v = data.get(k)
            setattr(out, k, str(v) if v not in (None, "") else None)
        p = data.get("problems")
        if p not in (None, ""):
            if isinstance(p, bool):
                out.problems = p
            elif str(p).lower() in ("1", "true", "yes"):
                out.problems = True
            elif str(p).lower() in ("0", "false", "no"):
                out.problems = False
            else:
                problems.append(Problem("problems", "problems must be true or false"))
        if problems:
            raise QueryError("invalid filter: " + "; ".join(str(x) for x in problems), problems)
        return out


@dataclass
class PageRequest:
    """Pagination: ``limit`` rows (1..500, default 50) after ``cursor`` (from the previous
    page's ``next_cursor``) or on ``page`` (1-based)."""

    limit: int = 50
    cursor: str | None = None
    page: int | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any] | "PageRequest" | None) -> "PageRequest":
        if data is None:
            return cls()
        if isinstance(data, cls):
            return data
        problems: list[Problem] = []
        out = cls()
        for key in ("limit", "page"):
            v = data.get(key)
            if v in (None, ""):
                continue
            try:
                n = int(v)
            except (TypeError, ValueError):
                problems.append(Problem(key, f"{key} must be an integer"))
                continue
            if key == "limit" and not (1 <= n <= MAX_LIMIT):
                problems.append(Problem("limit", f"limit must be between 1 and {MAX_LIMIT}"))
            elif key == "page" and n < 1:
                problems.append(Problem("page", "page must be 1 or more"))
            else:
                setattr(out, key, n)
        if data.get("cursor"):
            out.cursor = str(data["cursor"])
            if _decode_cursor(out.cursor) is None:
                problems.append(Problem("cursor", "cursor is not one this server handed out"))
        if out.cursor and out.page:
            problems.append(Problem("page", "use either cursor or page, not both"))
        if problems:
            raise QueryError("invalid pagination: " + "; ".join(str(x) for x in problems), problems)
        return out


def _encode_cursor(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(s: str) -> dict | None:
    try:
        pad = "=" * (-len(s) % 4)
        obj = json.loads(base64.urlsafe_b64decode(s + pad))
        return obj if isinstance(obj, dict) else None
    except Exception:
        return None


# ----------------------------------------------------------------- conversations


def _live_analyses():
    """Analyses of recordings that are not duplicates."""
    return (select(Analysis).join(Recording, Recording.sid == Analysis.recording_sid)
            .where(Recording.duplicate_of.is_(None)))


_SUMS = ("duration", "talk_time", "customer_talk_time", "agent_talk_time", "crosstalk_time", "silence_time",
         "customer_interruptions", "agent_interruptions", "long_silences")


def _agg_subquery():
    cols = [func.sum(getattr(Analysis, k)).label(k) for k in _SUMS]
    return (select(Analysis.conversation_id.label("cid"), func.count().label("analyses"), *cols)
            .join(Recording, Recording.sid == Analysis.recording_sid)
            .where(Recording.duplicate_of.is_(None))
            .group_by(Analysis.conversation_id).subquery("agg"))


def _pct(a, b):
    if a is None or not b:
        return None
    return round(100.0 * a / b, 2)


def _metrics_summary(row: Mapping[str, Any] | None) -> dict | None:
    if row is None or row.get("analyses") in (None, 0):
        return None
    out = {k: (round(row[k], 3) if isinstance(row[k], float) else row[k]) for k in _SUMS}
    c, a = row.get("customer_talk_time") or 0.0, row.get("agent_talk_time") or 0.0
    out["customer_talk_share_pct"] = _pct(c, c + a)
    out["agent_talk_share_pct"] = _pct(a, c + a)
    out["crosstalk_pct"] = _pct(row.get("crosstalk_time"), row.get("duration"))
    out["silence_pct"] = _pct(row.get("silence_time"), row.get("duration"))
    out["interruptions_by_customer"] = out.pop("customer_interruptions")
    out["interruptions_by_agent"] = out.pop("agent_interruptions")
    out["long_silence_count"] = out.pop("long_silences")
    return out


def list_conversations(store, filters=None, sort: str = "-started_at", page=None) -> dict:
    """One page of conversations, newest first by default.

    Returns ``{"conversations": [...], "total", "limit", "page", "next_cursor"}``;
    each item: id, call_sid, started_at, ended_at, direction, queue, agents,
    queues, status, recordings, duplicates, problems, categories, metrics
    (sums over the non-duplicate recordings, with party shares and
    percentages) or ``null`` before analysis.
    """
    problems: list[Problem] = []  # report every bad parameter at once
    f = pr = None
    try:
        f = ConversationFilter.parse(filters)
    except QueryError as exc:
        problems += exc.problems
    try:
        pr = PageRequest.parse(page)
    except QueryError as exc:
        problems += exc.problems
    desc = sort.startswith("-")
    key = sort.lstrip("-+ ")
    if key not in SORTS:
        problems.append(Problem("sort", f"sort must be one of {', '.join(SORTS)} (prefix - for descending)"))
    if problems:
        raise QueryError("invalid request: " + "; ".join(str(p) for p in problems), problems)
    agg = _agg_subquery()
    C = Conversation
    q = select(C, agg).outerjoin(agg, agg.c.cid == C.id)
    conds = []
    if f.from_:
        conds.append(C.started_at >= f.from_)
    if f.to:
        conds.append(C.started_at < f.to)
    # filters on other tables: uncorrelated IN (...) subqueries, computed once per query
    if f.agent:
        conds.append(C.id.in_(select(Segment.conversation_id).where(Segment.worker == f.agent)))
    if f.queue:
        conds.append(or_(C.queue == f.queue, C.id.in_(select(Segment.conversation_id).where(Segment.queue == f.queue))))
    if f.category:
        conds.append(C.id.in_(select(Category.conversation_id).where(Category.name == f.category)))
    if f.direction:
        conds.append(C.direction == f.direction)
    if f.q:
        conds.append(or_(C.id == f.q, C.call_sid == f.q,
                         exists().where(Segment.conversation_id == C.id,
                                        or_(Segment.task_sid == f.q, Segment.reservation_sid == f.q)),
                         exists().where(Recording.conversation_id == C.id, Recording.sid == f.q)))
    if f.problems is not None:
        e = exists().where(MediaProblem.conversation_id == C.id)
        conds.append(e if f.problems else ~e)
    if conds:
        q = q.where(and_(*conds))
    sort_col = C.started_at if key == "started_at" else agg.c[key]
    with store.session() as s:
        total = s.scalar(select(func.count()).select_from(q.with_only_columns(C.id).subquery()))
        offset = 0
        cur = _decode_cursor(pr.cursor) if pr.cursor else None
        if key == "started_at" and cur and "k" in cur:
            t = datetime.fromisoformat(cur["k"][0]) if cur["k"][0] else None
            cid = cur["k"][1]
            if t is None:
                q = q.where(and_(C.started_at.is_(None), (C.id < cid) if desc else (C.id > cid)))
            elif desc:
                q = q.where(or_(C.started_at < t, and_(C.started_at == t, C.id < cid), C.started_at.is_(None)))
            else:
                q = q.where(or_(C.started_at > t, and_(C.started_at == t, C.id > cid)))
        elif cur and "o" in cur:
            offset = int(cur["o"])
        elif pr.page:
            offset = (pr.page - 1) * pr.limit
        nulls_last = case((sort_col.is_(None), 1), else_=0)
        order = [nulls_last, sort_col.desc() if desc else sort_col.asc(), C.id.desc() if desc else C.id.asc()]
        rows = s.execute(q.order_by(*order).limit(pr.limit + 1).offset(offset)).all()
        more = len(rows) > pr.limit
        rows = rows[: pr.limit]
        items = _summaries(s, rows, agg)
    next_cursor = None
    if more and rows:
        last = rows[-1][0]
        if key == "started_at" and not pr.page:
            next_cursor = _encode_cursor({"k": [last.started_at.isoformat() if last.started_at else None, last.id]})
        else:
            next_cursor = _encode_cursor({"o": offset + pr.limit})
    return {"conversations": items, "total": total, "limit": pr.limit,
            "page": pr.page, "next_cursor": next_cursor, "sort": sort}


def _summaries(s, rows, agg) -> list[dict]:
    ids = [r[0].id for r in rows]
    if not ids:
        return []
    segs: dict[str, list] = {}
    for cid, worker, queue in s.execute(select(Segment.conversation_id, Segment.worker, Segment.queue)
                                        .where(Segment.conversation_id.in_(ids)).order_by(Segment.start, Segment.id)):
        segs.setdefault(cid, []).append((worker, queue))
    recs: dict[str, list] = {}
    for cid, status, dup in s.execute(select(Recording.conversation_id, Recording.status, Recording.duplicate_of)
                                      .where(Recording.conversation_id.in_(ids))):
        recs.setdefault(cid, []).append(("duplicate" if dup else status, dup))
    probs = dict(s.execute(select(MediaProblem.conversation_id, func.count()).where(MediaProblem.conversation_id.in_(ids))
                           .group_by(MediaProblem.conversation_id)).all())
    cats: dict[str, list] = {}
    for cid, name in s.execute(select(Category.conversation_id, Category.name)
                               .where(Category.conversation_id.in_(ids)).distinct().order_by(Category.name)):
        cats.setdefault(cid, []).append(name)
    out = []
    for r in rows:
        c = r[0]
        m = r._mapping
        agg_row = {k: m.get(k) for k in ("analyses", *_SUMS)}
        sg = segs.get(c.id, [])
        rc = recs.get(c.id, [])
        out.append({
            "id": c.id,
            "call_sid": c.call_sid,
            "started_at": iso(c.started_at),
            "ended_at": iso(c.ended_at),
            "direction": c.direction,
            "queue": c.queue,
            "agents": list(dict.fromkeys(w for w, _ in sg if w)),
            "queues": list(dict.fromkeys(q for _, q in sg if q)),
            "status": _status([st for st, _ in rc]),
            "recordings": len(rc),
            "duplicates": sum(1 for _, d in rc if d),
            "problems": probs.get(c.id, 0),
            "categories": cats.get(c.id, []),
            "metrics": _metrics_summary(agg_row),
        })
    return out


def _status(states: list[str]) -> str:
    """A conversation's processing state from its recordings' (duplicates do not count)."""
    if not states:
        return "no recording"
    if all(s == "duplicate" for s in states):
        return "duplicate"
    states = [s for s in states if s != "duplicate"]
    if all(s == "analyzed" for s in states):
        return "analyzed"
    if any(s == "failed" for s in states):
        return "failed" if not any(s == "analyzed" for s in states) else "partly failed"
    if any(s == "analyzed" for s in states):
        return "partly analyzed"
    return "pending"


def _segment_dict(x: Segment) -> dict:
    return {
        "key": x.key,
        "task_sid": x.task_sid,
        "reservation_sid": x.reservation_sid,
        "worker": x.worker,
        "worker_sid": x.worker_sid,
        "queue": x.queue,
        "direction": x.direction,
        "state": x.state,
        "start": iso(x.start),
        "end": iso(x.end),
        "recording_sid": x.recording_sid,
        "segment_recording_offset": x.segment_recording_offset,
        "window": [x.window_start, x.window_end] if x.window_start is not None else None,
        "note": x.note,
        "conversation_attributes": x.conversation_attributes,
        "media": x.media,
        "metrics": x.metrics,
    }


def _problem_dict(p: MediaProblem) -> dict:
    return {"id": p.id, "source": p.source, "conversation_id": p.conversation_id, "task_sid": p.task_sid,
            "reservation_sid": p.reservation_sid, "recording_sid": p.recording_sid, "event_id": p.event_id,
            "path": p.path, "message": p.message, "created_at": iso(p.created_at)}


def recording_dict(r: Recording, a: Analysis | None = None, *, full: bool = False) -> dict:
    out = {
        "sid": r.sid,
        "conversation_id": r.conversation_id,
        "call_sid": r.call_sid,
        "account_sid": r.account_sid,
        "source": r.source,
        "status": r.status,
        "twilio_status": r.twilio_status,
        "start_time": iso(r.start_time),
        "duration": r.duration,
        "channels": r.channels,
        "channel_roles": r.channel_roles,
        "format": r.format,
        "subtype": r.subtype,
        "sample_rate": r.sample_rate,
        "size": r.size,
        "sha256": r.sha256,
        "duplicate": r.duplicate_of is not None,
        "duplicate_of": r.duplicate_of,
        "duplicate_score": r.duplicate_score,
        "error": r.error,
        "created_at": iso(r.created_at),
        "source_url": r.source_url,
    }
    if full:
        out["analysis"] = None if a is None else {
            "schema": a.schema,
            "created_at": iso(a.created_at),
            "metrics": a.metrics,
            "speech": a.speech,
            "transcript": a.transcript,
            "categories": a.categories or [],
            "warnings": a.warnings or [],
            "diagnostics": (a.result or {}).get("diagnostics"),
            "keyword_hits": (a.result or {}).get("keyword_hits") or (a.result or {}).get("hits"),
        }
    return out


def get_conversation(store, conversation_id: str) -> dict | None:
    """Everything about one conversation, or ``None``.

    ``metrics``/``speech``/``transcript``/``categories`` come from the primary
    recording (the longest non-duplicate analysed one); ``metrics_total``
    sums all non-duplicate recordings (a plugin-recorded transfer has one per
    segment). ``segments`` carry ``segment_recording_offset``, ``window`` and
    their own metrics; ``recordings`` carry duplicate flags and their
    analyses; ``problems`` lists media metadata problems; ``jobs`` the jobs.
    """
    with store.session() as s:
        c = s.get(Conversation, conversation_id)
        if c is None:
            return None
        segs = s.scalars(select(Segment).where(Segment.conversation_id == c.id)
                         .order_by(Segment.start.is_(None), Segment.start, Segment.id)).all()
        recs = s.execute(select(Recording, Analysis).outerjoin(Analysis, Analysis.recording_sid == Recording.sid)
                         .where(Recording.conversation_id == c.id).order_by(Recording.start_time, Recording.created_at)).all()
        probs = s.scalars(select(MediaProblem).where(MediaProblem.conversation_id == c.id).order_by(MediaProblem.id)).all()
        sids = [r.sid for r, _ in recs]
        jobs = s.scalars(select(Job).where(or_(Job.conversation_id == c.id, Job.recording_sid.in_(sids) if sids else literal(False)))
                         .order_by(Job.id)).all()
        live = [(r, a) for r, a in recs if r.duplicate_of is None and a is not None]
        primary = max(live, key=lambda ra: (ra[0].duration or 0.0)) if live else None
        total = None
        if live:
            row = {"analyses": len(live)}
            for k in _SUMS:
                vals = [getattr(a, k) for _, a in live if getattr(a, k) is not None]
                row[k] = sum(vals) if vals else None
            total = _metrics_summary(row)
        cats = sorted({n for _, a in live for n in (a.categories or [])})
        return {
            "id": c.id,
            "call_sid": c.call_sid,
            "started_at": iso(c.started_at),
            "ended_at": iso(c.ended_at),
            "direction": c.direction,
            "queue": c.queue,
            "attributes": c.attributes,
            "status": _status(["duplicate" if r.duplicate_of else r.status for r, _ in recs]),
            "primary_recording": primary[0].sid if primary else None,
            "metrics": primary[1].metrics if primary else None,
            "metrics_total": total,
            "speech": primary[1].speech if primary else None,
            "transcript": primary[1].transcript if primary else None,
            "categories": cats,
            "segments": [_segment_dict(x) for x in segs],
            "recordings": [recording_dict(r, a, full=True) for r, a in recs],
            "problems": [_problem_dict(p) for p in probs],
            "jobs": [{"id": j.id, "kind": j.kind, "state": j.state, "attempts": j.attempts,
                      "last_error": j.last_error, "recording_sid": j.recording_sid} for j in jobs],
        }


# ----------------------------------------------------------------- reports


def _day_expr(col, dialect: str):
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", col), "YYYY-MM-DD")
    return func.substr(col, 1, 10)


def report(store, group_by: str, from_: Any = None, to: Any = None, *, agent: str | None = None,
           queue: str | None = None) -> dict:
    """Aggregates per agent, queue or day over ``[from, to)``.

    Per agent and per queue the unit is the segment (each agent's part of a
    call is measured on its own window); per day it is the conversation
    (sums over its non-duplicate recordings). Each row: ``key``, ``calls``,
    ``duration``, ``talk_time``, ``avg_talk_time``, ``avg_duration``,
    ``customer_talk_time``, ``agent_talk_time``, ``customer_share_pct``,
    ``agent_share_pct``, ``crosstalk_pct``, ``silence_pct``,
    ``interruptions_by_customer``, ``interruptions_by_agent``,
    ``long_silences`` (silences at least the long-silence threshold).
    """
    problems: list[Problem] = []
    if group_by not in REPORT_GROUPS:
        problems.append(Problem("group_by", f"group_by must be one of {', '.join(REPORT_GROUPS)}"))
    lo = _parse_when(from_, "from", problems)
    hi = _parse_when(to, "to", problems, end=True)
    if problems:
        raise QueryError("invalid report request: " + "; ".join(str(p) for p in problems), problems)
    if group_by in ("agent", "queue"):
        T = Segment
        when = func.coalesce(Segment.start, Conversation.started_at)
        keycol = Segment.worker if group_by == "agent" else Segment.queue
        q = select(keycol.label("key"), func.count(distinct(Segment.conversation_id)).label("calls"),
                   func.count().label("segments"),
                   *[func.sum(getattr(T, k)).label(k) for k in _SUMS]) \
            .join(Conversation, Conversation.id == Segment.conversation_id) \
            .where(Segment.talk_time.is_not(None))
        if agent:
            q = q.where(Segment.worker == agent)
        if queue:
            q = q.where(Segment.queue == queue)
    else:
        when = Conversation.started_at
        keycol = _day_expr(Conversation.started_at, store.dialect)
        q = select(keycol.label("key"), func.count(distinct(Analysis.conversation_id)).label("calls"),
                   func.count().label("segments"),
                   *[func.sum(getattr(Analysis, k)).label(k) for k in _SUMS]) \
            .join(Recording, Recording.sid == Analysis.recording_sid) \
            .join(Conversation, Conversation.id == Analysis.conversation_id) \
            .where(Recording.duplicate_of.is_(None))
        if agent:
            q = q.where(exists().where(Segment.conversation_id == Conversation.id, Segment.worker == agent))
        if queue:
            q = q.where(or_(Conversation.queue == queue,
                            exists().where(Segment.conversation_id == Conversation.id, Segment.queue == queue)))
    if lo:
        q = q.where(when >= lo)
    if hi:
        q = q.where(when < hi)
    q = q.group_by(keycol).order_by(keycol)
    rows = []
    with store.session() as s:
        for r in s.execute(q).mappings():
            calls = r["calls"] or 0
            c, a = r["customer_talk_time"] or 0.0, r["agent_talk_time"] or 0.0
            rows.append({
                "key": r["key"],
                "calls": calls,
                "measured": r["segments"] if group_by != "day" else r["segments"],
                "duration": round(r["duration"] or 0.0, 3),
                "talk_time": round(r["talk_time"] or 0.0, 3),
                "customer_talk_time": round(c, 3),
                "agent_talk_time": round(a, 3),
                "crosstalk_time": round(r["crosstalk_time"] or 0.0, 3),
                "silence_time": round(r["silence_time"] or 0.0, 3),
                "avg_duration": round((r["duration"] or 0.0) / calls, 3) if calls else None,
                "avg_talk_time": round((r["talk_time"] or 0.0) / calls, 3) if calls else None,
                "customer_share_pct": _pct(c, c + a),
                "agent_share_pct": _pct(a, c + a),
                "crosstalk_pct": _pct(r["crosstalk_time"], r["duration"]),
                "silence_pct": _pct(r["silence_time"], r["duration"]),
                "interruptions_by_customer": r["customer_interruptions"] or 0,
                "interruptions_by_agent": r["agent_interruptions"] or 0,
                "long_silences": r["long_silences"] or 0,
            })
    return {"group_by": group_by, "from": iso(lo), "to": iso(hi), "rows": rows}


# ----------------------------------------------------------------- recordings, problems


def list_recordings(store, *, account_sid: str | None = None, call_sid: str | None = None,
                    conference_sid: str | None = None, created_after: datetime | None = None,
                    created_before: datetime | None = None, created_on: date | None = None,
                    offset: int = 0, limit: int = 50, include_rows: bool = False) -> dict:
    """Recordings newest first: ``{"recordings": [...], "total"}`` (``rows`` the ORM rows with ``include_rows``)."""
    q = select(Recording)
    if account_sid:
        q = q.where(or_(Recording.account_sid == account_sid, Recording.account_sid.is_(None)))
    if call_sid:
        q = q.where(Recording.call_sid == call_sid)
    if conference_sid:
        q = q.where(Recording.conference_sid == conference_sid)
    if created_after:
        q = q.where(Recording.created_at >= created_after)
    if created_before:
        q = q.where(Recording.created_at < created_before)
    if created_on:
        d0 = datetime.combine(created_on, time(0), tzinfo=timezone.utc)
        q = q.where(Recording.created_at >= d0, Recording.created_at < d0 + timedelta(days=1))
    with store.session() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery()))
        rows = s.scalars(q.order_by(Recording.created_at.desc(), Recording.sid.desc()).offset(offset).limit(limit)).all()
        out = {"recordings": [recording_dict(r) for r in rows], "total": total}
        if include_rows:
            out["rows"] = rows
        return out


def get_recording(store, sid: str) -> dict | None:
    with store.session() as s:
        row = s.execute(select(Recording, Analysis).outerjoin(Analysis, Analysis.recording_sid == Recording.sid)
                        .where(Recording.sid == sid)).first()
        if row is None:
            return None
        return recording_dict(row[0], row[1], full=True)


def list_problems(store, *, conversation_id: str | None = None, limit: int = 100, offset: int = 0) -> dict:
    q = select(MediaProblem)
    if conversation_id:
        q = q.where(MediaProblem.conversation_id == conversation_id)
    with store.session() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery()))
        rows = s.scalars(q.order_by(MediaProblem.id.desc()).limit(limit).offset(offset)).all()
        return {"problems": [_problem_dict(p) for p in rows], "total": total, "limit": limit, "offset": offset}


def counts(store) -> dict:
    with store.session() as s:
        return {
            "conversations": s.scalar(select(func.count()).select_from(Conversation)),
            "recordings": s.scalar(select(func.count()).select_from(Recording)),
            "analyses": s.scalar(select(func.count()).select_from(Analysis)),
            "jobs": dict(s.execute(select(Job.state, func.count()).group_by(Job.state)).all()),
            "problems": s.scalar(select(func.count()).select_from(MediaProblem)),
        }
