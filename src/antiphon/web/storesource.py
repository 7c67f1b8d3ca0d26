"""The web pages' queries over the SQL store (:mod:`antiphon.store`).

The list is one indexed query (conversations outer-joined to per-conversation
sums of their non-duplicate analyses) plus one query each for the page's
segments, categories and recordings: no query per row. ``LIMIT/OFFSET`` with
a ``COUNT`` over the same filtered join gives page numbers and a total.
Reports and single conversations use the store's own read API.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import and_, case, func, or_, select

from .source import ListQuery, Page, ReportQuery

_SUMS = ("duration", "talk_time", "customer_talk_time", "agent_talk_time", "crosstalk_time", "silence_time",
         "customer_interruptions", "agent_interruptions", "long_silences")
#: A placeholder account for media URLs when no Twilio account is configured.
DEFAULT_ACCOUNT = "AC" + "0" * 32


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _r(v: Any, nd: int = 3):
    return round(float(v), nd) if v is not None else None


class StoreSource:
    """A :class:`antiphon.web.source.Source` over an :class:`antiphon.store.Store`."""

    def __init__(self, store, *, long_silence: float = 5.0):
        self.store = store
        self.long_silence = long_silence

    # ------------------------------------------------------------------ list
    def _agg(self, ids: list[str] | None = None):
        from ..store.models import Analysis, Recording

        cols = [func.sum(getattr(Analysis, k)).label(k) for k in _SUMS]
        q = (select(Analysis.conversation_id.label("cid"), func.count().label("analyses"), *cols)
             .join(Recording, Recording.sid == Analysis.recording_sid)
             .where(Recording.duplicate_of.is_(None)))
        if ids is not None:
            q = q.where(Analysis.conversation_id.in_(ids))
        return q.group_by(Analysis.conversation_id).subquery("agg")

    def list_conversations(self, query: ListQuery) -> Page:
        from ..store.models import Category, Conversation as C, Recording, Segment

        agg = self._agg()

        def pct(num, den):
            return case((den > 0, 100.0 * num / den), else_=None)

        talk = func.coalesce(agg.c.customer_talk_time, 0) + func.coalesce(agg.c.agent_talk_time, 0)
        derived = {
            "crosstalk_pct": pct(agg.c.crosstalk_time, agg.c.duration),
            "silence_pct": pct(agg.c.silence_time, agg.c.duration),
            "customer_share": pct(agg.c.customer_talk_time, talk),
            "interruptions": func.coalesce(agg.c.customer_interruptions, 0) + func.coalesce(agg.c.agent_interruptions, 0),
        }
        first_agent = (select(func.min(Segment.worker)).where(Segment.conversation_id == C.id)
                       .correlate(C).scalar_subquery())
        first_queue = func.coalesce(C.queue, select(func.min(Segment.queue)).where(Segment.conversation_id == C.id)
                                    .correlate(C).scalar_subquery())
        q = select(C.id, C.started_at, C.queue, *[agg.c[k] for k in ("analyses", *_SUMS)]).select_from(C) \
            .outerjoin(agg, agg.c.cid == C.id)
        # Filters on other tables are uncorrelated IN (...) subqueries, computed once
        # (a correlated EXISTS makes SQLite walk an agent's every segment per conversation).
        conds = []
        needs_agg = False
        if query.q:
            conds.append(or_(
                C.id == query.q, C.call_sid == query.q,
                C.id.in_(select(Segment.conversation_id).where(
                    or_(Segment.task_sid == query.q, Segment.reservation_sid == query.q))),
                C.id.in_(select(Recording.conversation_id).where(Recording.sid == query.q))))
        if query.date_from:
            conds.append(C.started_at >= datetime.combine(query.date_from, time(0), tzinfo=timezone.utc))
        if query.date_to:
            conds.append(C.started_at < datetime.combine(query.date_to, time(0), tzinfo=timezone.utc) + timedelta(days=1))
        if query.agent:
            conds.append(C.id.in_(select(Segment.conversation_id).where(Segment.worker == query.agent)))
        if query.queue:
            conds.append(or_(C.queue == query.queue,
                             C.id.in_(select(Segment.conversation_id).where(Segment.queue == query.queue))))
        if query.category:
            conds.append(C.id.in_(select(Category.conversation_id).where(Category.name == query.category)))
        if query.crosstalk_above is not None:
            conds.append(derived["crosstalk_pct"] > query.crosstalk_above)
            needs_agg = True
        if query.long_silences:
            conds.append(agg.c.long_silences > 0)
            needs_agg = True
        if query.hide_duplicates and not query.q:  # a call looked up by id is shown even if a duplicate
            # hide conversations whose every recording is a duplicate of another call's
            dup_only = (select(Recording.conversation_id).where(Recording.conversation_id.is_not(None))
                        .group_by(Recording.conversation_id)
                        .having(func.sum(case((Recording.duplicate_of.is_(None), 1), else_=0)) == 0))
            conds.append(C.id.not_in(dup_only))
        if conds:
            q = q.where(and_(*conds))
        count_q = select(func.count()).select_from(C)
        if needs_agg:
            count_q = count_q.outerjoin(agg, agg.c.cid == C.id)
        if conds:
            count_q = count_q.where(and_(*conds))
        sort_cols = {"started_at": C.started_at, "agent": first_agent, "queue": first_queue,
                     "duration": agg.c.duration, "talk_time": agg.c.talk_time,
                     "long_silences": agg.c.long_silences, **derived}
        col = sort_cols[query.sort]
        order = [case((col.is_(None), 1), else_=0), col.desc() if query.desc else col.asc(),
                 C.id.desc() if query.desc else C.id.asc()]
        offset = (query.page - 1) * query.per_page
        with self.store.session() as s:
            total = s.scalar(count_q)
            if not needs_agg and query.sort in ("started_at", "agent", "queue"):
                # Page the conversations table alone, then sum analyses for that page only.
                ids_q = select(C.id).select_from(C)
                if conds:
                    ids_q = ids_q.where(and_(*conds))
                ids = list(s.scalars(ids_q.order_by(*order).limit(query.per_page).offset(offset)))
                pagg = self._agg(ids)
                pq = (select(C.id, C.started_at, C.queue, *[pagg.c[k] for k in ("analyses", *_SUMS)])
                      .select_from(C).outerjoin(pagg, pagg.c.cid == C.id).where(C.id.in_(ids)))
                by_id = {r.id: r for r in s.execute(pq)}
                rows = [by_id[i] for i in ids if i in by_id]
            else:
                rows = s.execute(q.order_by(*order).limit(query.per_page).offset(offset)).all()
            out = self._hydrate(s, rows)
        return Page(rows=out, total=int(total or 0), query=query)

    def _hydrate(self, s, rows) -> list[dict]:
        from ..store.models import Category, Recording, Segment

        ids = [r.id for r in rows]
        if not ids:
            return []
        segs: dict[str, list] = {}
        for cid, worker, queue in s.execute(select(Segment.conversation_id, Segment.worker, Segment.queue)
                                            .where(Segment.conversation_id.in_(ids))
                                            .order_by(Segment.start, Segment.id)):
            segs.setdefault(cid, []).append((worker, queue))
        cats: dict[str, list] = {}
        for cid, name in s.execute(select(Category.conversation_id, Category.name)
                                   .where(Category.conversation_id.in_(ids)).distinct().order_by(Category.name)):
            cats.setdefault(cid, []).append(name)
        recs: dict[str, list] = {}
        for cid, status, dup in s.execute(select(Recording.conversation_id, Recording.status, Recording.duplicate_of)
                                          .where(Recording.conversation_id.in_(ids))):
            recs.setdefault(cid, []).append((status, dup))
        out = []
        for r in rows:
            m = r._mapping
            sg = segs.get(r.id, [])
            rc = recs.get(r.id, [])
            dur = m["duration"]
            c_t, a_t = m["customer_talk_time"], m["agent_talk_time"]
            talk = (c_t or 0) + (a_t or 0)
            live = [st for st, d in rc if not d]
            dups = [d for _, d in rc if d]
            ci, ai = m["customer_interruptions"], m["agent_interruptions"]
            out.append({
                "id": r.id,
                "started_at": _iso(r.started_at),
                "duration": _r(dur),
                "agents": list(dict.fromkeys(w for w, _ in sg if w)),
                "queues": list(dict.fromkeys([q for _, q in sg if q] or ([r.queue] if r.queue else []))),
                "talk_time": _r(m["talk_time"]),
                "customer_talk_time": _r(c_t),
                "agent_talk_time": _r(a_t),
                "crosstalk_time": _r(m["crosstalk_time"]),
                "silence_time": _r(m["silence_time"]),
                "customer_share": round(100.0 * (c_t or 0) / talk, 1) if talk else None,
                "agent_share": round(100.0 * (a_t or 0) / talk, 1) if talk else None,
                "crosstalk_pct": round(100.0 * (m["crosstalk_time"] or 0) / dur, 1) if dur else None,
                "silence_pct": round(100.0 * (m["silence_time"] or 0) / dur, 1) if dur else None,
                "long_silences": int(m["long_silences"] or 0),
                "interruptions": int((ci or 0) + (ai or 0)),
                "interruptions_by_customer": int(ci or 0),
                "interruptions_by_agent": int(ai or 0),
                "categories": cats.get(r.id, []),
                "duplicate_of": dups[0] if dups and not live else None,
                "status": _status(live, bool(dups)),
            })
        return out

    # ------------------------------------------------------------------ one conversation
    def get_conversation(self, conversation_id: str, recording_sid: str | None = None) -> dict | None:
        c = self.store.get_conversation(conversation_id)
        if c is None:
            return None
        recs = c.get("recordings") or []
        chosen = None
        if recording_sid:
            chosen = next((r for r in recs if r["sid"] == recording_sid), None)
            if chosen is None:
                from ..errors import Problem
                from ..store import NotFound

                raise NotFound(f"conversation {conversation_id} has no recording {recording_sid}",
                               [Problem("recording", f"not one of: {', '.join(r['sid'] for r in recs) or 'none'}")])
        if chosen is None and c.get("primary_recording"):
            chosen = next((r for r in recs if r["sid"] == c["primary_recording"]), None)
        if chosen is None:
            live = [r for r in recs if not r.get("duplicate_of")]
            chosen = (live or recs or [None])[0]
        a = (chosen or {}).get("analysis") or {}
        analysis: dict = {}
        if chosen is not None:
            analysis = {
                "recording": {"duration": chosen.get("duration"), "sample_rate": chosen.get("sample_rate"),
                              "channel_roles": chosen.get("channel_roles") or ["customer", "agent"],
                              "start_time": chosen.get("start_time")},
                "speech": a.get("speech") or {},
                "metrics": a.get("metrics") or {},
                "transcript": a.get("transcript"),
                "categories": a.get("categories") or [],
                "keyword_hits": a.get("keyword_hits") or [],
                "warnings": a.get("warnings") or [],
            }
        sid = chosen["sid"] if chosen else None
        segments = [sg for sg in c.get("segments") or [] if sg.get("recording_sid") in (None, sid)]
        problems = [f"{p['path']}: {p['message']}" if p.get("path") else p["message"] for p in c.get("problems") or []]
        return {
            "id": c["id"],
            "started_at": c.get("started_at"),
            "duration": chosen.get("duration") if chosen else None,
            "status": c.get("status"),
            "duplicate_of": chosen.get("duplicate_of") if chosen else None,
            "analysis": analysis if a else {},
            "segments": segments,
            "recording_sid": sid,
            "recording_path": None,  # resolved lazily by recording_path()
            "media_url": self.media_url(chosen) if chosen and chosen.get("size") is not None else None,
            "recordings": [{"sid": r["sid"], "duration": r.get("duration"), "status": r.get("status"),
                            "duplicate_of": r.get("duplicate_of"), "start_time": r.get("start_time")} for r in recs],
            "warnings": problems,
        }

    def media_url(self, rec: dict) -> str:
        configured = getattr(self.store.settings, "twilio_account_sid", None)
        account = configured or rec.get("account_sid") or DEFAULT_ACCOUNT
        return f"/2010-04-01/Accounts/{account}/Recordings/{rec['sid']}.wav"

    def recording_path(self, sid: str) -> str | None:
        p = self.store.recording_path(sid)
        return str(p) if p else None

    # ------------------------------------------------------------------ reports, facets
    def report(self, query: ReportQuery) -> list[dict]:
        res = self.store.report(query.group_by, query.date_from.isoformat() if query.date_from else None,
                                query.date_to.isoformat() if query.date_to else None)
        out = []
        for r in res.get("rows") or []:
            out.append({
                "group": r.get("key") if r.get("key") is not None else "(none)",
                "calls": r.get("calls") or 0,
                "total_duration": _r(r.get("duration"), 1),
                "avg_duration": _r(r.get("avg_duration"), 1),
                "avg_talk_time": _r(r.get("avg_talk_time"), 1),
                "customer_share": _r(r.get("customer_share_pct"), 1),
                "agent_share": _r(r.get("agent_share_pct"), 1),
                "crosstalk_pct": _r(r.get("crosstalk_pct"), 1),
                "silence_pct": _r(r.get("silence_pct"), 1),
                "interruptions_by_customer": int(r.get("interruptions_by_customer") or 0),
                "interruptions_by_agent": int(r.get("interruptions_by_agent") or 0),
                "long_silences": int(r.get("long_silences") or 0),
            })
        return out

    def facets(self) -> dict[str, list[str]]:
        from ..store.models import Category, Conversation, Segment

        with self.store.session() as s:
            agents = [x for x in s.scalars(select(Segment.worker).where(Segment.worker.is_not(None))
                                           .distinct().order_by(Segment.worker).limit(2000))]
            queues = sorted(set(s.scalars(select(Segment.queue).where(Segment.queue.is_not(None)).distinct().limit(2000)))
                            | set(s.scalars(select(Conversation.queue).where(Conversation.queue.is_not(None))
                                            .distinct().limit(2000))))
            cats = [x for x in s.scalars(select(Category.name).distinct().order_by(Category.name).limit(2000))]
        return {"agents": agents, "queues": queues, "categories": cats}


def _status(live: list[str], has_dups: bool) -> str:
    from ..store.queries import _status as conversation_status

    return conversation_status(live or (["duplicate"] if has_dups else []))


__all__ = ["StoreSource"]
