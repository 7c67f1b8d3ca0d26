"""Durable jobs: download, analyse, recompute segment metrics.

Jobs live in the database (``jobs`` table): ``queued`` -> ``running`` ->
``done``, or back to ``queued`` with exponential backoff after a failed
attempt, and ``failed`` (with the reason) when attempts run out or the error
cannot be fixed by retrying. A worker claims a job with a lease
(:meth:`antiphon.store.Store.claim_job`) and renews it while the job runs;
if the worker dies, the lease expires and another worker runs the job again.

Every job is idempotent, so a job run twice has the effect of running once:

* ``fetch`` (key ``fetch:<RecordingSid>``): download the media, store it
  content-addressed, queue ``analyze``. Skipped when the file is stored.
* ``analyze`` (key ``analyze:<RecordingSid>:<sha256>``): analyse the file and
  write the recording's single ``analyses`` row (an upsert keyed by the
  recording), mark duplicates, then recompute the conversation's segments.
* ``segments`` (key ``segments:<ConversationId>``): recompute per-segment
  metrics from the stored speech timelines (no audio decoding), e.g. when a
  transfer's second reservation completes after the analysis.

:class:`Worker` runs jobs in a loop; :func:`run_workers` starts a pool of
worker processes (analysis is CPU-bound) and restarts any that die.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from datetime import timedelta
from typing import Callable

from sqlalchemy import delete, select

from .config import Settings
from .errors import AntiphonError, AudioError, MetadataError, MissingDependency
from .store.core import JobInfo, Store, open_store
from .store.models import Analysis, Category, Conversation, Recording, Segment, utcnow

__all__ = ["Worker", "run_job", "run_workers", "work", "Permanent", "HANDLERS"]

log = logging.getLogger("antiphon.jobs")
LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


class Permanent(AntiphonError):
    """A job error that retrying cannot fix (bad audio, wrong credentials)."""


# ----------------------------------------------------------------- handlers


def _fetch(store: Store, job: JobInfo) -> str:
    from .fetch import DownloadError, DownloadOptions, download

    with store.session() as s:
        rec = s.get(Recording, job.recording_sid)
        if rec is None:
            raise Permanent(f"recording {job.recording_sid} no longer exists")
        url, sha, rel = rec.source_url, rec.sha256, rec.file_path
    if sha and store.media_file(rel):
        _queue_analysis(store, job.recording_sid, sha)
        return "already stored"
    if not url:
        raise Permanent(f"recording {job.recording_sid} has no media URL")
    st = store.settings
    opts = DownloadOptions(timeout=st.download_timeout, retries=st.download_retries,
                           backoff=st.download_backoff, max_bytes=st.max_media_bytes,
                           auth=st.credentials_for(url))
    try:
        got = download(url, store.tmp_dir, opts)
    except DownloadError as exc:
        if exc.retryable:
            raise
        raise Permanent(exc.message) from None
    try:
        _store_media(store, job.recording_sid, got.path, got.sha256, got.size)
    finally:
        got.path.unlink(missing_ok=True)
    return f"downloaded {got.size} bytes"


def _store_media(store: Store, sid: str, tmp, sha: str, size: int) -> None:
    from .audio import probe

    try:
        info = probe(tmp)
    except AudioError as exc:
        why = exc.message.replace(f"{tmp}: ", "").replace(str(tmp), "the file")
        raise Permanent(f"the downloaded media is not a usable recording: {why}") from None
    if info.channels != 2:
        raise Permanent(f"the recording has {info.channels} channel(s); dual-channel (2) is needed "
                        "(record with RecordingChannels=dual)")
    ext = {"WAV": ".wav", "MP3": ".mp3", "FLAC": ".flac", "OGG": ".ogg"}.get(info.format, ".wav")
    rel = store.put_media(tmp, sha, ext)
    with store.session(write=True) as s:
        rec = s.get(Recording, sid)
        rec.sha256, rec.file_path, rec.size = sha, rel, size
        rec.format, rec.subtype, rec.sample_rate = info.format, info.subtype, info.sample_rate
        rec.channels, rec.duration = info.channels, round(info.duration, 3)
        rec.status, rec.error = "stored", None
        twin = s.scalar(select(Recording).where(Recording.sha256 == sha, Recording.sid != sid,
                                                Recording.duplicate_of.is_(None)).order_by(Recording.created_at).limit(1))
        if twin is not None:
            rec.duplicate_of, rec.duplicate_score = twin.sid, 1.0
        store.enqueue(s, "analyze", f"analyze:{sid}:{sha}", recording_sid=sid, conversation_id=rec.conversation_id)


def _queue_analysis(store: Store, sid: str, sha: str) -> None:
    with store.session(write=True) as s:
        rec = s.get(Recording, sid)
        store.enqueue(s, "analyze", f"analyze:{sid}:{sha}", recording_sid=sid, conversation_id=rec.conversation_id)


_SCALARS = ("duration", "talk_time", "customer_talk_time", "agent_talk_time", "crosstalk_time", "silence_time",
            "longest_silence_before_agent", "longest_silence_before_customer", "longest_talk_by_customer",
            "longest_talk_by_agent")


def _categories(result: dict) -> list[str]:
    """Names of the categories the call matched (the rules list every category with ``matched``)."""
    out = []
    for c in result.get("categories") or []:
        if isinstance(c, dict) and not c.get("matched", True):
            continue
        name = c.get("name") if isinstance(c, dict) else c
        if isinstance(name, str) and name and name not in out:
            out.append(name)
    return out


def _analyze(store: Store, job: JobInfo) -> str:
    from .analysis import analyze

    sid = job.recording_sid
    with store.session() as s:
        rec = s.get(Recording, sid)
        if rec is None:
            raise Permanent(f"recording {sid} no longer exists")
        path = store.media_file(rec.file_path)
        sha, roles = rec.sha256, rec.channel_roles
        done = s.scalar(select(Analysis.sha256).where(Analysis.recording_sid == sid))
    if path is None:
        raise Permanent(f"recording {sid} has no stored media file")
    if done is not None and done == sha:
        _after_analysis(store, sid)
        return "already analysed"
    st = store.settings
    channels = tuple(roles) if roles and len(roles) == 2 and set(roles) == {"customer", "agent"} else None
    try:
        result = analyze(path, channels=channels, transcribe=True if st.transcribe else None,
                         rules=st.rules).to_dict()
    except (AudioError, MetadataError) as exc:
        raise Permanent(exc.message) from None
    result["recording"]["path"] = None  # the store owns the file; do not leak server paths
    m = result.get("metrics") or {}
    cats = _categories(result)
    values = {k: m.get(k) for k in _SCALARS}
    values.update(customer_interruptions=m.get("interruptions_by_customer"),
                  agent_interruptions=m.get("interruptions_by_agent"),
                  long_silences=m.get("long_silence_count"))
    with store.session(write=True) as s:
        rec = s.get(Recording, sid)
        row = s.scalar(select(Analysis).where(Analysis.recording_sid == sid))
        if row is None:
            row = Analysis(recording_sid=sid)
            s.add(row)
        row.conversation_id, row.sha256, row.schema = rec.conversation_id, sha, result.get("schema")
        for k, v in values.items():
            setattr(row, k, v)
        row.metrics, row.speech = m, result.get("speech")
        row.transcript = result.get("transcript")
        row.categories, row.warnings = cats or None, result.get("warnings")
        row.result = {k: v for k, v in result.items() if k not in ("speech", "metrics", "transcript")}
        row.created_at = utcnow()
        rec.status = "analyzed"
        if rec.duration is None:
            rec.duration = result["recording"].get("duration")
        s.execute(delete(Category).where(Category.recording_sid == sid))
        for c in cats:
            s.add(Category(conversation_id=rec.conversation_id or "", recording_sid=sid, name=c))
    _after_analysis(store, sid)
    return "analysed"


def _after_analysis(store: Store, sid: str) -> None:
    with store.session(write=True) as s:
        rec = s.get(Recording, sid)
        if rec.conversation_id:
            mark_duplicates(s, rec.conversation_id)
            resegment(s, rec.conversation_id)


def _segments(store: Store, job: JobInfo) -> str:
    with store.session(write=True) as s:
        if s.get(Conversation, job.conversation_id) is None:
            return "conversation gone (merged)"
        mark_duplicates(s, job.conversation_id)
        n = resegment(s, job.conversation_id)
    return f"{n} segment(s) measured"


HANDLERS: dict[str, Callable[[Store, JobInfo], str]] = {
    "fetch": _fetch,
    "analyze": _analyze,
    "segments": _segments,
}


# ----------------------------------------------------------------- duplicates and segments


def mark_duplicates(s, conversation_id: str) -> list[tuple[str, str, float]]:
    """Mark recordings of one conversation (or call) that record the same audio; returns pairs marked.

    Of each duplicate group the longest recording is kept (ties: the first
    stored); the others get ``duplicate_of`` and are left out of metrics.
    """
    from .store.duplicates import DUPLICATE_SCORE, Candidate, similarity

    conv = s.get(Conversation, conversation_id)
    q = select(Recording, Analysis).join(Analysis, Analysis.recording_sid == Recording.sid)
    if conv is not None and conv.call_sid:
        q = q.where((Recording.conversation_id == conversation_id) | (Recording.call_sid == conv.call_sid))
    else:
        q = q.where(Recording.conversation_id == conversation_id)
    rows = s.execute(q.order_by(Recording.created_at, Recording.sid)).all()
    if len(rows) < 2:
        return []
    cands = {r.sid: Candidate(r.sid, r.start_time, r.duration or a.duration or 0.0, a.speech or {}, r.sha256)
             for r, a in rows}
    recs = {r.sid: r for r, _ in rows}
    order = sorted(recs, key=lambda sid: (-(cands[sid].duration or 0.0), recs[sid].created_at, sid))
    keepers: list[str] = []
    marked = []
    for sid in order:
        best, score = None, 0.0
        for k in keepers:
            sc = similarity(cands[k], cands[sid])
            if sc > score:
                best, score = k, sc
        rec = recs[sid]
        if best is not None and score >= DUPLICATE_SCORE:
            if rec.duplicate_of != best:
                rec.duplicate_of, rec.duplicate_score = best, score
            marked.append((sid, best, score))
        else:
            if rec.duplicate_of is not None and rec.duplicate_score != 1.0:
                rec.duplicate_of, rec.duplicate_score = None, None
            if rec.duplicate_of is None:
                keepers.append(sid)
    return marked


def resegment(s, conversation_id: str) -> int:
    """Recompute every segment's window and metrics from stored speech; returns segments measured."""
    from . import flex
    from .metrics import compute_metrics
    from .timeline import Timeline

    recs = s.execute(select(Recording, Analysis).join(Analysis, Analysis.recording_sid == Recording.sid)
                     .where(Recording.conversation_id == conversation_id)).all()
    by_sid = {r.sid: (r, a) for r, a in recs}
    live = {sid: ra for sid, ra in by_sid.items() if ra[0].duplicate_of is None}
    segs = s.scalars(select(Segment).where(Segment.conversation_id == conversation_id)).all()
    n = 0
    for seg in segs:
        target = None
        for m in seg.media or []:
            if m.get("type", "VoiceRecording") != "VoiceRecording":
                continue
            from .ingest import recording_sid_from_url

            sid = recording_sid_from_url(m.get("url", ""))
            while sid in by_sid and by_sid[sid][0].duplicate_of:
                sid = by_sid[sid][0].duplicate_of
            if sid in live:
                target = live[sid]
                break
        if target is None and seg.key.startswith("upload:") and seg.key[7:] in by_sid:
            sid = seg.key[7:]
            while sid in by_sid and by_sid[sid][0].duplicate_of:
                sid = by_sid[sid][0].duplicate_of
            target = live.get(sid)
        if target is None and seg.start is not None:
            best = 0.0
            for r, a in live.values():
                if r.start_time is None or not r.duration:
                    continue
                r_end = r.start_time + timedelta(seconds=r.duration)
                s_end = seg.end or r_end
                ov = (min(r_end, s_end) - max(r.start_time, seg.start)).total_seconds()
                if ov > best:
                    best, target = ov, (r, a)
        _clear(seg)
        if target is None:
            seg.note = "no analysed recording covers this segment yet"
            continue
        rec, ana = target
        duration = rec.duration or ana.duration
        if rec.start_time is None or seg.start is None:
            window, offset, note = (0.0, float(duration)), 0.0, (
                None if seg.key.startswith("upload:") else "recording or segment start time unknown: whole recording used")
        else:
            fseg = flex.Segment(seg.task_sid, seg.reservation_sid, seg.worker, seg.queue, seg.start, seg.end)
            sw = flex.segment_windows(rec.start_time, duration, [fseg])[0]
            window, offset, note = sw.window, sw.segment_recording_offset, sw.note
            if offset is None and (seg.end is None or seg.end >= seg.start):
                # outside this recording: still say where it would start (Flex's offset)
                offset = round(max(0.0, (seg.start - rec.start_time).total_seconds()), 3)
        seg.recording_sid, seg.segment_recording_offset, seg.note = rec.sid, offset, note
        if window is None:
            continue
        speech = ana.speech or {}
        m = compute_metrics(Timeline(speech.get("customer") or []), Timeline(speech.get("agent") or []),
                            tuple(window))
        seg.window_start, seg.window_end = window
        seg.metrics = m
        for k in ("duration", "talk_time", "customer_talk_time", "agent_talk_time", "crosstalk_time", "silence_time"):
            setattr(seg, k, m.get(k))
        seg.customer_interruptions = m.get("interruptions_by_customer")
        seg.agent_interruptions = m.get("interruptions_by_agent")
        seg.long_silences = m.get("long_silence_count")
        n += 1
    return n


def _clear(seg: Segment) -> None:
    seg.recording_sid = seg.segment_recording_offset = seg.window_start = seg.window_end = None
    seg.metrics = seg.note = None
    seg.duration = seg.talk_time = seg.customer_talk_time = seg.agent_talk_time = None
    seg.crosstalk_time = seg.silence_time = None
    seg.customer_interruptions = seg.agent_interruptions = seg.long_silences = None


# ----------------------------------------------------------------- running jobs


def run_job(store: Store, job: JobInfo, worker_id: str) -> str:
    """Run one claimed job, renewing its lease meanwhile; records done / retry / failed."""
    handler = HANDLERS.get(job.kind)
    stop = threading.Event()
    lease = store.settings.job_lease

    def heartbeat():
        while not stop.wait(max(0.2, lease / 3)):
            try:
                if not store.renew_lease(job.id, worker_id, lease):
                    return
            except Exception:  # a transient database error; the next beat tries again
                log.exception("renewing the lease of job %s failed", job.id)

    beat = threading.Thread(target=heartbeat, name=f"lease-{job.id}", daemon=True)
    beat.start()
    try:
        if handler is None:
            store.fail_job(job.id, worker_id, f"unknown job kind {job.kind!r}", retry=False)
            return "failed"
        try:
            msg = handler(store, job)
        except (Permanent, MissingDependency) as exc:
            store.fail_job(job.id, worker_id, exc.message, retry=False)
            log.warning("job %s (%s) failed: %s", job.id, job.key, exc.message)
            return "failed"
        except AntiphonError as exc:
            state = store.fail_job(job.id, worker_id, exc.message)
            log.warning("job %s (%s) attempt %s: %s", job.id, job.key, job.attempts, exc.message)
            return state or "lost"
        except Exception as exc:
            state = store.fail_job(job.id, worker_id, f"{type(exc).__name__}: {exc}")
            log.error("job %s (%s) crashed:\n%s", job.id, job.key, traceback.format_exc())
            return state or "lost"
        store.finish_job(job.id, worker_id)
        log.info("job %s (%s): %s", job.id, job.key, msg)
        return "done"
    finally:
        stop.set()


class Worker:
    """Claims and runs jobs until :meth:`stop` (or ``max_jobs``/``until_idle``)."""

    def __init__(self, store: Store, name: str | None = None):
        self.store = store
        self.id = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run_once(self) -> str | None:
        """Run the next due job; returns its outcome, or ``None`` when there was nothing to do."""
        self.store.expire_exhausted()
        job = self.store.claim_job(self.id)
        if job is None:
            return None
        return run_job(self.store, job, self.id)

    def run(self, *, until_idle: bool = False, max_jobs: int | None = None) -> int:
        done = 0
        while not self._stop.is_set():
            try:
                outcome = self.run_once()
            except Exception:
                log.exception("worker %s: claiming a job failed; retrying", self.id)
                outcome = None
                self._stop.wait(self.store.settings.poll_interval)
                continue
            if outcome is None:
                if until_idle:
                    break
                self._stop.wait(self.store.settings.poll_interval)
                continue
            done += 1
            if max_jobs is not None and done >= max_jobs:
                break
        return done


def _worker_main(settings: Settings, index: int, parent: int) -> None:
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s worker-{index} %(levelname)s %(message)s")
    store = open_store(settings, migrate=False)
    w = Worker(store)

    def on_term(signum, frame):
        w.stop()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    threading.Thread(target=_stop_with_parent, args=(w, parent), name="parent-watch", daemon=True).start()
    try:
        w.run()
    finally:
        store.close()


def _stop_with_parent(worker: Worker, parent: int) -> None:
    """A pool worker whose parent died (killed with SIGKILL, say) finishes its job and exits.

    ``parent`` is the pool's pid as the pool knew it, so a parent that died
    while this process was still starting is noticed too.
    """
    while True:
        if os.getppid() != parent:
            log.warning("worker %s: the process that started it is gone; stopping", worker.id)
            worker.stop()
            return
        if worker._stop.wait(1.0):
            return


def run_workers(settings: Settings, n: int | None = None, stop: threading.Event | None = None) -> None:
    """Run ``n`` worker processes (default ``settings.workers``) until ``stop`` is set or SIGTERM.

    A worker that dies is restarted; its job's lease expires and the job runs
    again. Call from the main thread.
    """
    n = settings.workers if n is None else n
    stop = stop or threading.Event()
    ctx = mp.get_context("spawn")
    procs: dict[int, mp.Process] = {}

    def start(i: int) -> None:
        p = ctx.Process(target=_worker_main, args=(settings, i, os.getpid()), name=f"antiphon-worker-{i}", daemon=True)
        p.start()
        procs[i] = p

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
    for i in range(n):
        start(i)
    try:
        while not stop.wait(1.0):
            for i, p in list(procs.items()):
                if not p.is_alive():
                    log.warning("worker %s exited (code %s); restarting", i, p.exitcode)
                    start(i)
    finally:
        for p in procs.values():
            if p.is_alive():
                p.terminate()
        for p in procs.values():
            p.join(timeout=10)
            if p.is_alive():
                p.kill()


def work(settings: Settings, *, once: bool = False) -> int:
    """Run job workers without the HTTP server; returns the jobs run (with ``once``).

    Migrates the store once, then runs ``settings.workers`` worker processes
    until SIGTERM or Ctrl-C (one runs in this process). With ``once``, runs
    the due jobs here and returns when none is left.
    """
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    store = open_store(settings)  # migrates once, before the processes start
    if once:
        try:
            return Worker(store).run(until_idle=True)
        finally:
            store.close()
    if settings.workers > 1:
        store.close()
        try:
            run_workers(settings, settings.workers)
        except KeyboardInterrupt:
            pass
        return 0
    w = Worker(store)
    signal.signal(signal.SIGTERM, lambda *a: w.stop())
    try:
        return w.run()
    except KeyboardInterrupt:
        return 0
    finally:
        store.close()
