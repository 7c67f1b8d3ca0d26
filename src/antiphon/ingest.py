"""Ingestion: webhooks and uploads in, stored rows and queued jobs out.

Nothing here analyses audio: every entry point stores what arrived (the raw
webhook, the segment, the recording, any metadata problems) in one
transaction and queues jobs (:mod:`antiphon.jobs`) for the slow parts, so a
webhook is answered in milliseconds.

* :func:`handle_taskrouter_event` -- TaskRouter event callbacks: reservation
  events become segments (accepted starts one; wrapup, completed and canceled
  end it), task attributes give the conversation, queue and media.
* :func:`handle_recording_status` -- recording status callbacks: a
  ``completed`` recording is queued for download and analysis.
* :func:`ingest_file` -- a recording file with optional task attributes or a
  conversation (upload API, ``antiphon ingest``).

Every entry point is idempotent: the same webhook twice is stored once, and
events may arrive in any order.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from . import flex
from .errors import AntiphonError, AudioError, MetadataError, Problem
from .store.core import Store
from .store.models import (
    Analysis,
    Conversation,
    Event,
    MediaProblem,
    Recording,
    Segment,
    utcnow,
)

__all__ = [
    "handle_taskrouter_event",
    "handle_recording_status",
    "ingest_file",
    "ingest_recording",
    "recording_sid_from_url",
]

_RE_SID = re.compile(r"\b(RE[0-9a-fA-F]{32})\b")
_AC_SID = re.compile(r"/Accounts/(AC[0-9a-fA-F]{32})/")

# Reservation lifecycle, for the segment's state: a later state never goes back.
_RANK = {"created": 1, "accepted": 2, "wrapup": 3, "completed": 4,
         "rejected": 5, "timeout": 5, "canceled": 5, "rescinded": 5}
_ENDS = {"wrapup", "completed", "canceled"}
_FETCH_ON = {"reservation.wrapup", "reservation.completed", "task.wrapup", "task.completed",
             "task.canceled"}


def _retry_races(fn):
    """Run a store transaction again when a concurrent one inserted the same row first.

    Two webhooks about one task or conversation can arrive at the same moment;
    on PostgreSQL both may try to create the same segment or conversation. The
    loser's transaction is rolled back as a whole and run again, and then finds
    the row. (On SQLite writers are serialised and this never triggers.)
    """
    import functools

    from sqlalchemy.exc import DBAPIError, IntegrityError

    def transient(exc: Exception) -> bool:
        if isinstance(exc, IntegrityError):
            return True
        code = getattr(getattr(exc, "orig", None), "sqlstate", None)
        return code in ("40001", "40P01")  # serialization failure, deadlock

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for attempt in range(5):
            try:
                return fn(*args, **kwargs)
            except DBAPIError as exc:
                if attempt == 4 or not transient(exc):
                    raise
        raise AssertionError("unreachable")

    return wrapper


def recording_sid_from_url(url: str) -> str:
    """The ``RE...`` SID in a Twilio media URL; for other URLs a stable ``RM`` id from the URL."""
    m = _RE_SID.search(url or "")
    if m:
        return m.group(1)
    return "RM" + hashlib.sha256((url or "").encode()).hexdigest()[:32]


def _digest(kind: str, params: Mapping[str, str]) -> str:
    body = json.dumps([kind, sorted(params.items())], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def _store_event(s: Session, store: Store, kind: str, params: dict, event_type: str | None,
                 resource_sid: str | None, ts: datetime | None) -> tuple[int | None, bool]:
    """Insert the raw event; returns ``(id, new)``. A byte-identical repeat is not stored twice."""
    digest = _digest(kind, params)
    if store.dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    res = s.execute(
        insert(Event).values(digest=digest, kind=kind, event_type=event_type, resource_sid=resource_sid,
                             timestamp=ts, params=params, received_at=utcnow())
        .on_conflict_do_nothing(index_elements=["digest"]).returning(Event.id)
    ).first()
    if res is None:
        return s.scalar(select(Event.id).where(Event.digest == digest)), False
    return res[0], True


def _event_time(params: Mapping[str, str]) -> datetime | None:
    for key, scale in (("TimestampMs", 1000.0), ("Timestamp", 1.0)):
        v = params.get(key)
        if v:
            try:
                x = float(v)
            except ValueError:
                try:
                    return flex.parse_time(v)
                except MetadataError:
                    continue
            if scale == 1.0 and x > 1e11:  # milliseconds sent as Timestamp
                scale = 1000.0
            return datetime.fromtimestamp(x / scale, tz=timezone.utc)
    return None


def _loads_attributes(raw: Any) -> tuple[dict | None, list[Problem]]:
    if raw is None or raw == "":
        return {}, []
    if isinstance(raw, dict):
        return raw, []
    try:
        obj = json.loads(raw)
    except (TypeError, ValueError) as exc:
        return None, [Problem("TaskAttributes", f"TaskAttributes is not valid JSON ({exc})")]
    if not isinstance(obj, dict):
        return None, [Problem("TaskAttributes", "TaskAttributes must be a JSON object")]
    return obj, []


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v.strip() else None


def _lenient_ids(obj: dict | None) -> dict:
    """Conversation id, call SID, queue and direction read without validation (for broken attributes)."""
    obj = obj or {}
    conv = obj.get("conversations") if isinstance(obj.get("conversations"), dict) else {}
    return {
        "conversation_id": _str(conv.get("conversation_id")),
        "call_sid": _str(obj.get("call_sid")),
        "queue": _str(conv.get("queue")),
        "direction": _str(conv.get("direction")) or _str(obj.get("direction")),
        "conversations": conv,
    }


def resolve_conversation(s: Session, conversation_id: str | None, call_sid: str | None,
                         fallback: str) -> Conversation:
    """Find or create the conversation for a task or recording.

    Tasks are grouped by ``conversations.conversation_id``, else by the call
    SID. A conversation first created for a call SID alone (a recording
    callback that arrived before any task event) is merged into the
    conversation named by a later ``conversation_id``.
    """
    cid = conversation_id or call_sid or fallback
    conv = s.get(Conversation, cid)
    linked = conv is not None and conv.call_sid == call_sid  # a placeholder was merged when they were linked
    if conv is None:
        conv = Conversation(id=cid, call_sid=call_sid, attributes={})
        s.add(conv)
        s.flush()
    elif call_sid and not conv.call_sid:
        conv.call_sid = call_sid
    if conversation_id and call_sid and call_sid != cid and not linked:
        placeholder = s.get(Conversation, call_sid)
        if placeholder is not None:
            _merge(s, placeholder.id, cid)
    return conv


def _merge(s: Session, old: str, new: str) -> None:
    from .store.models import Category, Job

    s.execute(update(Segment).where(Segment.conversation_id == old).values(conversation_id=new))
    s.execute(update(Recording).where(Recording.conversation_id == old).values(conversation_id=new))
    s.execute(update(Analysis).where(Analysis.conversation_id == old).values(conversation_id=new))
    s.execute(update(MediaProblem).where(MediaProblem.conversation_id == old).values(conversation_id=new))
    s.execute(update(Category).where(Category.conversation_id == old).values(conversation_id=new))
    s.execute(update(Job).where(Job.conversation_id == old, Job.state != "running").values(conversation_id=new))
    s.execute(delete(Conversation).where(Conversation.id == old))


def _set_problems(s: Session, scope: str, problems: list[Problem], **where: Any) -> None:
    s.execute(delete(MediaProblem).where(MediaProblem.scope == scope))
    for p in problems:
        s.add(MediaProblem(scope=scope, path=p.path, message=str(p), **where))


def _touch_conversation(s: Session, conv: Conversation) -> None:
    """Recompute the conversation's start, end, queue and direction from its segments and recordings."""
    segs = s.scalars(select(Segment).where(Segment.conversation_id == conv.id)
                     .order_by(Segment.start.is_(None), Segment.start, Segment.id)).all()
    recs = s.scalars(select(Recording).where(Recording.conversation_id == conv.id)).all()
    starts = [x.start for x in segs if x.start] + [r.start_time for r in recs if r.start_time]
    ends = [x.end for x in segs if x.end] + [
        r.start_time + timedelta(seconds=r.duration) for r in recs if r.start_time and r.duration]
    conv.started_at = min(starts) if starts else conv.started_at or conv.created_at or utcnow()
    conv.ended_at = max(ends) if ends else None
    for x in segs:
        if x.queue and not conv.queue:
            conv.queue = x.queue
        if x.direction and not conv.direction:
            conv.direction = x.direction


def _upsert_recording_from_media(s: Session, store: Store, media: flex.Media, conv: Conversation,
                                 call_sid: str | None, account_sid: str | None) -> tuple[Recording, bool]:
    """Create or update the recording a media entry names; returns it and whether anything changed."""
    sid = recording_sid_from_url(media.url)
    rec = s.get(Recording, sid)
    acc = account_sid
    m = _AC_SID.search(media.url)
    if m:
        acc = m.group(1)
    created = rec is None
    if rec is None:
        rec = Recording(sid=sid, source="twilio", status="pending", created_at=utcnow())
        s.add(rec)
    before = (rec.source_url, rec.start_time, rec.channel_roles, rec.account_sid, rec.call_sid, rec.conversation_id)
    rec.source_url = rec.source_url or media.url
    if media.start_time is not None and rec.start_time != media.start_time:
        rec.start_time = media.start_time  # the task's start_time is what segment offsets are based on
    roles = list(media.roles())
    if rec.channel_roles != roles:
        rec.channel_roles = roles
    rec.account_sid = rec.account_sid or acc
    rec.call_sid = rec.call_sid or call_sid
    if rec.conversation_id is None or rec.conversation_id == rec.call_sid:
        rec.conversation_id = conv.id
    after = (rec.source_url, rec.start_time, rec.channel_roles, rec.account_sid, rec.call_sid, rec.conversation_id)
    return rec, created or before != after


def _enqueue_fetch(store: Store, s: Session, rec: Recording, wake: bool = False, delay: float = 0.0) -> None:
    if rec.status in ("stored", "analyzed") and rec.file_path:
        return
    if not rec.source_url:
        return
    store.enqueue(s, "fetch", f"fetch:{rec.sid}", recording_sid=rec.sid, conversation_id=rec.conversation_id,
                  wake=wake, delay=delay)


def _maybe_resegment(store: Store, s: Session, conversation_id: str) -> None:
    has = s.scalar(select(func.count()).select_from(Analysis).where(Analysis.conversation_id == conversation_id))
    if has:
        store.enqueue(s, "segments", f"segments:{conversation_id}", conversation_id=conversation_id, rerun=True)


# ----------------------------------------------------------------- TaskRouter


@_retry_races
def handle_taskrouter_event(store: Store, params: Mapping[str, str]) -> dict:
    """Store one TaskRouter event callback and update its conversation and segment.

    Returns ``{"ok": True, "event": id, "duplicate": bool, "conversation": id,
    "segment": key, "problems": [...]}``. Broken task attributes do not lose
    the event: it is stored, the segment is kept, and each problem is stored
    with its field path for the conversation page.
    """
    params = {str(k): str(v) for k, v in params.items()}
    event_type = params.get("EventType") or ""
    ts = _event_time(params)
    rsid = _str(params.get("ReservationSid")) if event_type.startswith("reservation.") else None
    tsid = _str(params.get("TaskSid"))
    resource = rsid or tsid or _str(params.get("ResourceSid"))
    with store.session(write=True) as s:
        event_id, new = _store_event(s, store, "taskrouter", params, event_type, resource, ts)
        out: dict[str, Any] = {"ok": True, "event": event_id, "duplicate": not new}
        if not new or not (event_type.startswith("reservation.") or event_type.startswith("task.")):
            return out
        if not tsid:
            problems = [Problem("TaskSid", "TaskSid is missing: the event cannot be linked to a task")]
            _set_problems(s, f"event:{event_id}", problems, source="taskrouter", event_id=event_id)
            out["problems"] = [p.to_dict() for p in problems]
            return out
        ts = ts or utcnow()

        raw, problems = _loads_attributes(params.get("TaskAttributes"))
        attrs: flex.TaskAttributes | None = None
        if raw is not None:
            try:
                attrs = flex.parse_task_attributes(raw, reservation_sid=rsid)
            except MetadataError as exc:
                problems = problems + (exc.problems or [Problem("TaskAttributes", exc.message)])
        ids = _lenient_ids(raw)
        if attrs is not None:
            ids.update({k: v for k, v in (("conversation_id", attrs.conversation_id), ("call_sid", attrs.call_sid),
                                          ("queue", attrs.queue), ("direction", attrs.direction)) if v})
            ids["conversations"] = attrs.conversations or ids["conversations"]
        conv = resolve_conversation(s, ids["conversation_id"], ids["call_sid"], tsid)
        out["conversation"] = conv.id
        fresh = conv.started_at is None

        changed = False
        if rsid:
            seg = s.scalar(select(Segment).where(Segment.key == rsid))
            if seg is None:
                seg = Segment(key=rsid, conversation_id=conv.id, task_sid=tsid, reservation_sid=rsid)
                s.add(seg)
            segs = [seg]
            moved_from = seg.conversation_id if seg.conversation_id not in (None, conv.id) else None
            seg.conversation_id = conv.id
            if moved_from:  # the task's attributes now name another conversation
                s.flush()
                left = s.scalar(select(func.count()).select_from(Segment).where(Segment.conversation_id == moved_from))
                if not left and s.get(Conversation, moved_from) is not None:
                    _merge(s, moved_from, conv.id)
                changed = True
            seg.worker = _str(params.get("WorkerName")) or seg.worker
            seg.worker_sid = _str(params.get("WorkerSid")) or seg.worker_sid
            what = event_type.split(".", 1)[1]
            if what == "accepted" and (seg.start is None or ts < seg.start):
                seg.start, changed = ts, True
            if what in _ENDS and (seg.end is None or ts < seg.end):
                seg.end, changed = ts, True
            if _RANK.get(what, 0) >= _RANK.get(seg.state or "", 0):
                seg.state = what
            out["segment"] = rsid
        else:
            segs = s.scalars(select(Segment).where(Segment.task_sid == tsid)).all()

        newer = True
        for seg in segs:
            if seg.attributes_at is not None and ts < seg.attributes_at:
                newer = False
                continue
            seg.attributes_at = ts
            seg.task_attributes = raw if raw is not None else {"_unparsed": params.get("TaskAttributes")}
            seg.conversation_attributes = ids["conversations"]
            seg.queue = ids["queue"] or _str(params.get("TaskQueueName")) or seg.queue
            seg.direction = ids["direction"] or seg.direction
            if attrs is not None:
                media = [m.to_dict() for m in attrs.media]
                if media != (seg.media or []):
                    seg.media, changed = media, True
        if rsid is None and not segs:
            newer = True  # a task event before any reservation: its problems still count

        if newer:
            # one scope per task: every event carries the whole task attributes (all media lists)
            scope = f"task:{tsid}"
            _set_problems(s, scope, problems, source="taskrouter", conversation_id=conv.id, task_sid=tsid,
                          reservation_sid=rsid, event_id=event_id)
            if attrs is not None and not conv.attributes and ids["conversations"]:
                conv.attributes = {k: v for k, v in ids["conversations"].items() if k != "media"}
        out["problems"] = [p.to_dict() for p in problems]

        if attrs is not None:
            account = _str(params.get("AccountSid"))
            for media in attrs.media:
                if not media.is_recording:
                    continue
                rec, rec_changed = _upsert_recording_from_media(s, store, media, conv, ids["call_sid"], account)
                if event_type in _FETCH_ON:
                    _enqueue_fetch(store, s, rec)
                changed = changed or rec_changed
        if changed or fresh or (not conv.queue and ids["queue"]) or (not conv.direction and ids["direction"]):
            s.flush()
            _touch_conversation(s, conv)
        if changed:
            _maybe_resegment(store, s, conv.id)
        return out


# ----------------------------------------------------------------- recording status


@_retry_races
def handle_recording_status(store: Store, params: Mapping[str, str]) -> dict:
    """Store a recording status callback; a ``completed`` recording is queued for download."""
    params = {str(k): str(v) for k, v in params.items()}
    sid = _str(params.get("RecordingSid"))
    status = (params.get("RecordingStatus") or "").strip().lower() or None
    start: datetime | None = None
    problems: list[Problem] = []
    if params.get("RecordingStartTime"):
        try:
            start = flex.parse_time(params["RecordingStartTime"], field="RecordingStartTime")
        except MetadataError as exc:
            problems += exc.problems or [Problem("RecordingStartTime", exc.message)]
    if not sid:
        problems.append(Problem("RecordingSid", "RecordingSid is missing"))
    if not status:
        problems.append(Problem("RecordingStatus", "RecordingStatus is missing"))
    url = _str(params.get("RecordingUrl"))
    if status == "completed" and not url:
        problems.append(Problem("RecordingUrl", "RecordingUrl is missing: the recording cannot be downloaded"))
    channels = None
    if params.get("RecordingChannels"):
        try:
            channels = int(params["RecordingChannels"])
        except ValueError:
            problems.append(Problem("RecordingChannels", "RecordingChannels must be a number"))
    if channels == 1:
        problems.append(Problem("RecordingChannels", (
            "the recording has 1 channel: dual-channel analysis needs RecordingChannels=dual "
            "(customer and agent on separate channels)")))
    duration = None
    if params.get("RecordingDuration"):
        try:
            duration = float(params["RecordingDuration"])
        except ValueError:
            problems.append(Problem("RecordingDuration", "RecordingDuration must be a number"))

    with store.session(write=True) as s:
        event_id, new = _store_event(s, store, "recording-status", params, status, sid, start)
        out: dict[str, Any] = {"ok": True, "event": event_id, "duplicate": not new}
        if not new:
            return out
        out["problems"] = [p.to_dict() for p in problems]
        if not sid:
            _set_problems(s, f"event:{event_id}", problems, source="recording-status", event_id=event_id)
            return out
        call_sid = _str(params.get("CallSid"))
        rec = s.get(Recording, sid)
        if rec is None:
            rec = Recording(sid=sid, source="twilio", status="pending", created_at=utcnow())
            s.add(rec)
        rec.account_sid = _str(params.get("AccountSid")) or rec.account_sid
        rec.call_sid = call_sid or rec.call_sid
        rec.conference_sid = _str(params.get("ConferenceSid")) or rec.conference_sid
        rec.source_url = url or rec.source_url
        rec.twilio_status = status
        rec.twilio_source = _str(params.get("RecordingSource")) or rec.twilio_source
        rec.track = _str(params.get("RecordingTrack")) or rec.track
        rec.channels = channels or rec.channels
        if duration is not None and rec.duration is None:
            rec.duration = duration
        if rec.start_time is None and start is not None:
            rec.start_time = start
        rec.callback = params
        if rec.conversation_id is None:
            conv = None
            if call_sid:
                conv = s.scalar(select(Conversation).where(Conversation.call_sid == call_sid)
                                .order_by(Conversation.created_at).limit(1))
            if conv is None:
                conv = resolve_conversation(s, None, call_sid, sid)
            rec.conversation_id = conv.id
        s.flush()
        out["recording"] = sid
        out["conversation"] = rec.conversation_id
        if status in ("failed", "absent", "deleted"):
            rec.status = "failed" if rec.status not in ("stored", "analyzed") else rec.status
            code = params.get("ErrorCode")
            rec.error = f"Twilio reports the recording {status}" + (f" (ErrorCode {code})" if code and code != "0" else "")
        _set_problems(s, f"recording:{sid}", problems, source="recording-status", recording_sid=sid,
                      conversation_id=rec.conversation_id, event_id=event_id)
        if status == "completed" and rec.source_url:
            _enqueue_fetch(store, s, rec, wake=True)
        conv = s.get(Conversation, rec.conversation_id)
        if conv is not None:
            _touch_conversation(s, conv)
        return out


# ----------------------------------------------------------------- files


@_retry_races
def ingest_file(store: Store, path: str | os.PathLike, *, task: Any = None, conversation: Any = None,
                filename: str | None = None) -> dict:
    """Store a recording file with its metadata and queue its analysis.

    ``task`` is Flex task attributes (dict, JSON text or a path); its media
    entry gives the channel order, start time and, when its URL names a
    Twilio recording, the recording SID. Broken task attributes are stored as
    problems (returned in ``problems``), not refused. ``conversation`` (dict,
    JSON text or path; see :func:`antiphon.flex.parse_conversation`) gives
    the recording's media entry and its segments; an invalid one raises
    :class:`~antiphon.errors.MetadataError` before anything is stored.
    The file must be a readable two-channel recording
    (:class:`~antiphon.errors.AudioError` otherwise).

    The recording SID is the media URL's when there is one, else ``RE`` +
    the first 32 hex digits of the file's SHA-256, so ingesting the same file
    twice changes nothing. Returns ``{"ok", "recording", "conversation",
    "sha256", "job", "duplicate_of", "problems"}``.
    """
    from .audio import probe

    src = Path(path)
    conv_obj = None
    if conversation is not None:
        if isinstance(conversation, (str, os.PathLike)) and not str(conversation).lstrip().startswith("{"):
            conv_obj = flex.load_conversation(conversation)
        else:
            conv_obj = flex.parse_conversation(conversation)
    raw, problems = None, []
    if task is not None:
        if isinstance(task, (os.PathLike,)) or (isinstance(task, str) and not task.lstrip().startswith("{")):
            try:
                text_ = Path(task).read_text()
            except OSError as exc:
                raise MetadataError(f"cannot read task attributes {task}: {exc.strerror}",
                                    [Problem("task_attributes", f"cannot read {task}")]) from None
            raw, problems = _loads_attributes(text_)
        else:
            raw, problems = _loads_attributes(task)
    attrs = None
    if raw is not None and task is not None:
        try:
            attrs = flex.parse_task_attributes(raw)
        except MetadataError as exc:
            problems = problems + (exc.problems or [Problem("task_attributes", exc.message)])
    try:
        info = probe(src)
    except AudioError as exc:  # name the file as the caller knows it, not our temporary path
        msg = exc.message.replace(str(src), filename or src.name)
        raise AudioError(msg, exc.problems or [Problem("file", msg)]) from None
    if info.channels != 2:
        raise AudioError(
            f"{filename or src.name}: has {info.channels} channel(s); a dual-channel recording "
            "(customer on channel 1, agent on channel 2) is needed",
            [Problem("file", f"expected 2 channels, found {info.channels}")])
    ext = (Path(filename).suffix if filename else src.suffix) or "." + info.format.lower()
    rel, sha, size = store.import_file(src, ext=ext)

    media = conv_obj.recording if conv_obj is not None else (attrs.recording if attrs else None)
    sid = recording_sid_from_url(media.url) if media is not None and media.url else "RE" + sha[:32]
    if sid.startswith("RM") and media is not None:
        sid = "RE" + sha[:32]
    ids = _lenient_ids(raw)
    if attrs is not None:
        ids.update({k: v for k, v in (("conversation_id", attrs.conversation_id), ("call_sid", attrs.call_sid),
                                      ("queue", attrs.queue), ("direction", attrs.direction)) if v})
    with store.session(write=True) as s:
        conv_id = ids["conversation_id"]
        if conv_id is None and conv_obj is not None and conv_obj.segments:
            conv_id = conv_obj.segments[0].task_sid
        existing = s.get(Recording, sid)
        if existing is not None and existing.conversation_id and not conv_id:
            conv_id = existing.conversation_id
        conv = resolve_conversation(s, conv_id, ids["call_sid"], "UP" + sha[:32])
        rec = existing or Recording(sid=sid, source="upload", created_at=utcnow())
        if existing is None:
            s.add(rec)
        rec.conversation_id = conv.id
        rec.call_sid = rec.call_sid or ids["call_sid"]
        rec.account_sid = rec.account_sid or store.settings.twilio_account_sid
        rec.source_url = rec.source_url or (media.url if media is not None else None)
        if media is not None:
            rec.start_time = media.start_time or rec.start_time
            rec.channel_roles = list(media.roles())
        elif not rec.channel_roles:
            rec.channel_roles = ["customer", "agent"]
        rec.sha256, rec.file_path, rec.size = sha, rel, size
        rec.format, rec.subtype, rec.sample_rate = info.format, info.subtype, info.sample_rate
        rec.channels, rec.duration = info.channels, round(info.duration, 3)
        rec.error = None
        if rec.status not in ("analyzed",):
            rec.status = "stored"
        twin = s.scalar(select(Recording).where(Recording.sha256 == sha, Recording.sid != sid,
                                                Recording.duplicate_of.is_(None)).order_by(Recording.created_at).limit(1))
        if twin is not None and rec.duplicate_of is None:
            rec.duplicate_of, rec.duplicate_score = twin.sid, 1.0
        s.flush()

        # segments: from the conversation file, else one segment for the whole recording
        if conv_obj is not None:
            for i, seg in enumerate(conv_obj.segments):
                key = seg.reservation_sid or f"{conv.id}:{seg.task_sid or i}"
                row = s.scalar(select(Segment).where(Segment.key == key)) or Segment(key=key, conversation_id=conv.id)
                if row.id is None:
                    s.add(row)
                row.conversation_id = conv.id
                row.task_sid, row.reservation_sid = seg.task_sid, seg.reservation_sid
                row.worker, row.queue = seg.worker, seg.queue or ids["queue"]
                row.start, row.end, row.state = seg.start, seg.end, "completed"
                row.direction = ids["direction"]
                row.media = [conv_obj.recording.to_dict()]
                row.conversation_attributes = seg.attributes or None
        else:
            key = f"upload:{sid}"
            row = s.scalar(select(Segment).where(Segment.key == key)) or Segment(key=key, conversation_id=conv.id)
            if row.id is None:
                s.add(row)
            worker = _str((raw or {}).get("worker")) or _str((raw or {}).get("worker_name"))
            row.conversation_id, row.worker, row.queue, row.direction = conv.id, worker, ids["queue"], ids["direction"]
            row.start = rec.start_time
            row.end = rec.start_time + timedelta(seconds=rec.duration) if rec.start_time else None
            row.state = "completed"
            row.media = [media.to_dict()] if media is not None else None
            row.conversation_attributes = ids["conversations"] or None
            row.task_attributes = raw
        if ids["conversations"] and not conv.attributes:
            conv.attributes = {k: v for k, v in ids["conversations"].items() if k != "media"}
        _set_problems(s, f"upload:{sid}", problems, source="upload", conversation_id=conv.id, recording_sid=sid)
        _touch_conversation(s, conv)
        s.flush()
        job_key = None
        if rec.duplicate_of is None:
            job_key = f"analyze:{sid}:{sha}"
            store.enqueue(s, "analyze", job_key, recording_sid=sid, conversation_id=conv.id)
        else:
            _maybe_resegment(store, s, conv.id)
        from .store.models import Job

        job_id = s.scalar(select(Job.id).where(Job.key == job_key)) if job_key else None
        return {"ok": True, "recording": sid, "conversation": conv.id, "sha256": sha, "size": size,
                "duration": rec.duration, "job": job_id, "duplicate_of": rec.duplicate_of,
                "problems": [p.to_dict() for p in problems]}


_SUMMARY_METRICS = ("duration", "talk_time", "customer_talk_time", "agent_talk_time", "crosstalk_time",
                    "silence_time")


def ingest_recording(store: Store, path: str | os.PathLike, *, task: Any = None, conversation: Any = None,
                     wait: bool = True) -> dict:
    """:func:`ingest_file`, then (with ``wait``) run the queued jobs in this process.

    Returns what :func:`ingest_file` returns plus, after waiting, the
    recording's ``status``, its headline ``metrics`` (seconds) and any
    ``failed_jobs`` of its conversation.
    """
    from .jobs import Worker

    out = ingest_file(store, path, task=task, conversation=conversation)
    if not wait:
        return out
    Worker(store, name="antiphon-ingest").run(until_idle=True)
    rec = store.get_recording(out["recording"])
    out["status"] = rec["status"] if rec else None
    if rec and rec.get("analysis"):
        out["metrics"] = {k: rec["analysis"]["metrics"].get(k) for k in _SUMMARY_METRICS}
    failed = [j for j in store.get_conversation(out["conversation"])["jobs"] if j["state"] == "failed"]
    if failed:
        out["failed_jobs"] = failed
    return out
