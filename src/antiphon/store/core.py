"""The :class:`Store`: database sessions, media files, API keys and jobs."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from ..config import Settings, load_settings
from ..errors import AntiphonError, Problem
from . import keys as _keys
from .engine import make_engine, migrate
from .models import ApiKey, Job, Recording, UTCDateTime, utcnow

__all__ = ["Store", "JobInfo", "NotFound", "open_store"]


class NotFound(AntiphonError):
    status = 404


@dataclass(frozen=True)
class JobInfo:
    """A claimed job, as a worker sees it."""

    id: int
    kind: str
    key: str
    payload: dict
    attempts: int
    max_attempts: int
    recording_sid: str | None
    conversation_id: str | None


def _job_dict(j: Job) -> dict:
    return {
        "id": j.id,
        "kind": j.kind,
        "key": j.key,
        "state": j.state,
        "attempts": j.attempts,
        "max_attempts": j.max_attempts,
        "last_error": j.last_error,
        "recording_sid": j.recording_sid,
        "conversation_id": j.conversation_id,
        "lease_owner": j.lease_owner,
        "lease_expires_at": _iso(j.lease_expires_at),
        "run_after": _iso(j.run_after),
        "created_at": _iso(j.created_at),
        "updated_at": _iso(j.updated_at),
        "started_at": _iso(j.started_at),
        "finished_at": _iso(j.finished_at),
    }


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.isoformat().replace("+00:00", "Z")


class Store:
    """Everything Antiphon keeps: the database and the media files.

    Open one with :func:`open_store`; it is safe to share between threads.
    Reads for the JSON API and the web pages are in :mod:`antiphon.store.queries`
    and exposed here as methods (:meth:`list_conversations`,
    :meth:`get_conversation`, :meth:`report`, :meth:`recording_path` ...).
    """

    def __init__(self, settings: Settings, *, run_migrations: bool = True):
        self.settings = settings
        self.data_dir = Path(settings.data_dir).resolve()
        self.media_dir = self.data_dir / "media"
        self.tmp_dir = self.data_dir / "tmp"
        for d in (self.data_dir, self.media_dir, self.tmp_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(settings.db_url)
        self.dialect = self.engine.dialect.name
        if run_migrations:
            migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_engine = (
            self.engine.execution_options(sqlite_immediate=True) if self.dialect == "sqlite" else self.engine
        )
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)
        self._key_cache: dict[tuple[str, str], float] = {}
        self._key_lock = threading.Lock()
        self._sqlite_write_lock = threading.RLock()

    # ------------------------------------------------------------------ sessions

    @contextlib.contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """A session in one transaction, committed on success, rolled back on error.

        ``write=True`` on SQLite takes the write lock up front (``BEGIN
        IMMEDIATE``) so that concurrent writers wait instead of failing.
        """
        maker = self._write_sessions if write else self._sessions
        if write and self.dialect == "sqlite":
            # one writer at a time per process: threads queue here instead of in SQLite's
            # busy handler, whose sleeps (up to 100 ms each) would dominate under load
            with self._sqlite_write_lock:
                with maker() as s:
                    with s.begin():
                        yield s
            return
        with maker() as s:
            with s.begin():
                yield s

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ media files

    def media_file(self, rel: str | None) -> Path | None:
        """Absolute path of a stored media file, refusing anything outside the media directory."""
        if not rel:
            return None
        p = (self.media_dir / rel).resolve()
        if self.media_dir not in p.parents:
            return None
        return p if p.is_file() else None

    def new_temp_file(self, suffix: str = "") -> Path:
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, suffix=suffix)
        os.close(fd)
        return Path(name)

    def put_media(self, tmp: Path, sha256: str, ext: str) -> str:
        """Move a finished temporary file into the content-addressed media store.

        The file lands at ``media/ab/cd/<sha256><ext>`` by an atomic rename
        (after fsync), so a reader never sees a partial file. Returns the
        path relative to the media directory.
        """
        ext = ext if ext.startswith(".") or not ext else "." + ext
        rel = f"{sha256[:2]}/{sha256[2:4]}/{sha256}{ext.lower()}"
        dest = self.media_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            tmp.unlink(missing_ok=True)
            return rel
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dest)
        try:
            dfd = os.open(dest.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass
        return rel

    def import_file(self, src: str | os.PathLike, ext: str | None = None) -> tuple[str, str, int]:
        """Copy a file into the media store; returns ``(relative path, sha256, size)``."""
        src = Path(src)
        tmp = self.new_temp_file()
        h = hashlib.sha256()
        size = 0
        try:
            with open(src, "rb") as fin, open(tmp, "wb") as fout:
                while chunk := fin.read(1 << 20):
                    h.update(chunk)
                    fout.write(chunk)
                    size += len(chunk)
            sha = h.hexdigest()
            rel = self.put_media(tmp, sha, ext if ext is not None else src.suffix)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return rel, sha, size

    def recording_path(self, sid: str) -> Path | None:
        """The stored media file of recording ``sid``, or ``None``."""
        with self.session() as s:
            rel = s.scalar(select(Recording.file_path).where(Recording.sid == sid))
        return self.media_file(rel)

    # ------------------------------------------------------------------ API keys

    def create_key(self, name: str) -> dict:
        """Create an API key; the secret is returned once and stored only as a hash."""
        name = (name or "").strip()
        if not name:
            raise AntiphonError("a key needs a name", [Problem("name", "name must not be empty")])
        kid, secret = _keys.new_key_id(), _keys.new_secret()
        with self.session(write=True) as s:
            s.add(ApiKey(id=kid, name=name, secret_hash=_keys.hash_secret(secret)))
        return {"id": kid, "secret": secret, "name": name}

    def list_keys(self) -> list[dict]:
        with self.session() as s:
            rows = s.scalars(select(ApiKey).order_by(ApiKey.created_at)).all()
            return [{"id": k.id, "name": k.name, "created_at": _iso(k.created_at),
                     "last_used_at": _iso(k.last_used_at), "revoked_at": _iso(k.revoked_at),
                     "active": k.revoked_at is None} for k in rows]

    def revoke_key(self, key_id: str) -> dict:
        with self.session(write=True) as s:
            k = s.get(ApiKey, key_id)
            if k is None:
                raise NotFound(f"no API key {key_id}", [Problem("id", f"no API key with id {key_id}")])
            if k.revoked_at is None:
                k.revoked_at = utcnow()
        with self._key_lock:
            self._key_cache = {kk: v for kk, v in self._key_cache.items() if kk[0] != key_id}
        return {"id": key_id, "revoked": True}

    def check_key(self, key_id: str, secret: str) -> bool:
        """True when ``key_id``/``secret`` is an active key. Successful checks are cached for 30 s."""
        ck = (key_id, hashlib.sha256(secret.encode()).hexdigest())
        now = time.monotonic()
        with self._key_lock:
            exp = self._key_cache.get(ck)
            if exp and exp > now:
                return True
        with self.session() as s:
            k = s.get(ApiKey, key_id)
            if k is None or k.revoked_at is not None:
                _keys.verify_secret(secret, _DUMMY_HASH)  # same cost either way
                return False
            stored = k.secret_hash
            last_used = k.last_used_at
        if not _keys.verify_secret(secret, stored):
            return False
        with self._key_lock:
            self._key_cache[ck] = now + 30.0
        if last_used is None or (utcnow() - last_used) > timedelta(minutes=5):
            with self.session(write=True) as s:
                s.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow()))
        return True

    # ------------------------------------------------------------------ jobs

    def enqueue(self, s: Session, kind: str, key: str, *, payload: dict | None = None,
                recording_sid: str | None = None, conversation_id: str | None = None,
                rerun: bool = False, wake: bool = False, delay: float = 0.0) -> None:
        """Add a job unless one with ``key`` exists (inside the caller's transaction).

        ``rerun``: a finished or failed job with this key runs again; a running
        one runs once more after it finishes (new data arrived while it ran).
        ``wake``: a failed job is retried from scratch and a waiting one runs now.
        """
        now = utcnow()
        values = dict(kind=kind, key=key, payload=payload or {}, recording_sid=recording_sid,
                      conversation_id=conversation_id, state="queued", attempts=0,
                      max_attempts=self.settings.job_max_attempts, rerun=False,
                      run_after=now + timedelta(seconds=delay), created_at=now, updated_at=now)
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        s.execute(insert(Job).values(**values).on_conflict_do_nothing(index_elements=["key"]))
        if rerun or wake:
            states = ("done", "failed") if rerun else ("failed",)
            s.execute(update(Job).where(Job.key == key, Job.state.in_(states)).values(
                state="queued", attempts=0, last_error=None, run_after=now, finished_at=None, updated_at=now))
        if rerun:
            s.execute(update(Job).where(Job.key == key, Job.state == "running").values(rerun=True))
        if wake:
            s.execute(update(Job).where(Job.key == key, Job.state == "queued", Job.run_after > now).values(
                run_after=now, updated_at=now))

    def claim_job(self, worker: str, lease: float | None = None, kinds: tuple[str, ...] | None = None) -> JobInfo | None:
        """Take the next due job (or one whose worker's lease expired), or ``None``.

        PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED``; SQLite: one atomic
        ``UPDATE ... WHERE state = 'queued'`` under the write lock.
        """
        lease = lease or self.settings.job_lease
        now = utcnow()
        kind_sql = ""
        params: dict[str, Any] = {"now": now, "w": worker, "exp": now + timedelta(seconds=lease)}
        if kinds:
            names = []
            for i, k in enumerate(kinds):
                params[f"k{i}"] = k
                names.append(f":k{i}")
            kind_sql = f" AND kind IN ({', '.join(names)})"
        due = ("((state = 'queued' AND run_after <= :now) OR (state = 'running' AND lease_expires_at < :now))"
               + kind_sql)
        lock = " FOR UPDATE SKIP LOCKED" if self.dialect == "postgresql" else ""
        sql = text(
            f"UPDATE jobs SET state = 'running', lease_owner = :w, lease_expires_at = :exp, "
            f"attempts = attempts + 1, started_at = :now, updated_at = :now "
            f"WHERE id = (SELECT id FROM jobs WHERE {due} ORDER BY run_after, id LIMIT 1{lock}) AND {due} "
            f"RETURNING id, kind, key, payload, attempts, max_attempts, recording_sid, conversation_id"
        ).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("exp", type_=UTCDateTime()))
        with self.session(write=True) as s:
            row = s.execute(sql, params).first()
        if row is None:
            return None
        payload = row.payload
        if isinstance(payload, str):
            import json

            payload = json.loads(payload)
        return JobInfo(row.id, row.kind, row.key, payload or {}, row.attempts, row.max_attempts,
                       row.recording_sid, row.conversation_id)

    def renew_lease(self, job_id: int, worker: str, lease: float | None = None) -> bool:
        lease = lease or self.settings.job_lease
        with self.session(write=True) as s:
            res = s.execute(update(Job).where(Job.id == job_id, Job.lease_owner == worker, Job.state == "running")
                            .values(lease_expires_at=utcnow() + timedelta(seconds=lease)))
            return res.rowcount == 1

    def finish_job(self, job_id: int, worker: str) -> bool:
        """Mark a job done (or queued again if a rerun was asked for while it ran)."""
        now = utcnow()
        with self.session(write=True) as s:
            job = s.execute(select(Job).where(Job.id == job_id, Job.lease_owner == worker,
                                              Job.state == "running").with_for_update()).scalar_one_or_none()
            if job is None:
                return False
            if job.rerun:
                job.state, job.rerun, job.attempts, job.run_after = "queued", False, 0, now
            else:
                job.state, job.finished_at = "done", now
            job.lease_owner, job.lease_expires_at, job.last_error = None, None, None
            return True

    def fail_job(self, job_id: int, worker: str, error: str, *, retry: bool = True) -> str | None:
        """Record a failed attempt: queued again with exponential backoff, or failed for good."""
        now = utcnow()
        with self.session(write=True) as s:
            job = s.execute(select(Job).where(Job.id == job_id, Job.lease_owner == worker,
                                              Job.state == "running").with_for_update()).scalar_one_or_none()
            if job is None:
                return None
            job.last_error = error[:4000]
            job.lease_owner, job.lease_expires_at = None, None
            if retry and job.attempts < job.max_attempts:
                delay = min(3600.0, self.settings.job_retry_delay * 2 ** (job.attempts - 1))
                job.state, job.run_after = "queued", now + timedelta(seconds=delay)
            else:
                job.state, job.finished_at = "failed", now
            return job.state

    def expire_exhausted(self) -> int:
        """Fail jobs whose worker died on their last attempt (lease expired, no attempts left)."""
        now = utcnow()
        with self.session(write=True) as s:
            res = s.execute(update(Job).where(Job.state == "running", Job.lease_expires_at < now,
                                              Job.attempts >= Job.max_attempts)
                            .values(state="failed", finished_at=now, lease_owner=None,
                                    last_error="the worker running this job stopped (lease expired) on the last attempt"))
            return res.rowcount or 0

    def list_jobs(self, state: str | None = None, kind: str | None = None, limit: int = 100,
                  offset: int = 0) -> dict:
        from sqlalchemy import func

        with self.session() as s:
            q = select(Job)
            if state:
                q = q.where(Job.state == state)
            if kind:
                q = q.where(Job.kind == kind)
            total = s.scalar(select(func.count()).select_from(q.subquery()))
            rows = s.scalars(q.order_by(Job.id.desc()).limit(limit).offset(offset)).all()
            counts = dict(s.execute(select(Job.state, func.count()).group_by(Job.state)).all())
            return {"jobs": [_job_dict(j) for j in rows], "total": total, "limit": limit,
                    "offset": offset, "counts": counts}

    def get_job(self, job_id: int) -> dict:
        with self.session() as s:
            j = s.get(Job, job_id)
            if j is None:
                raise NotFound(f"no job {job_id}", [Problem("id", f"no job with id {job_id}")])
            return _job_dict(j)

    def retry_job(self, job_id: int) -> dict:
        """Queue a failed (or finished) job again, attempts reset."""
        now = utcnow()
        with self.session(write=True) as s:
            j = s.get(Job, job_id)
            if j is None:
                raise NotFound(f"no job {job_id}", [Problem("id", f"no job with id {job_id}")])
            if j.state == "running":
                raise AntiphonError(f"job {job_id} is running; it cannot be retried now",
                                    [Problem("id", "job is running")])
            j.state, j.attempts, j.run_after, j.finished_at, j.last_error = "queued", 0, now, None, None
            return _job_dict(j)

    # ------------------------------------------------------------------ reads

    def list_conversations(self, filters=None, sort: str = "-started_at", page=None) -> dict:
        from . import queries

        return queries.list_conversations(self, filters, sort, page)

    def get_conversation(self, conversation_id: str) -> dict | None:
        from . import queries

        return queries.get_conversation(self, conversation_id)

    def report(self, group_by: str, from_: Any = None, to: Any = None, **filters) -> dict:
        from . import queries

        return queries.report(self, group_by, from_, to, **filters)

    def list_recordings(self, **kw) -> dict:
        from . import queries

        return queries.list_recordings(self, **kw)

    def get_recording(self, sid: str) -> dict | None:
        from . import queries

        return queries.get_recording(self, sid)

    def list_problems(self, **kw) -> dict:
        from . import queries

        return queries.list_problems(self, **kw)

    def counts(self) -> dict:
        from . import queries

        return queries.counts(self)


_DUMMY_HASH = _keys.hash_secret("not-a-key")


def open_store(settings: Settings | None = None, *, migrate: bool = True, **overrides) -> Store:
    """Open (and migrate) the store described by ``settings`` (default: :func:`load_settings`).

    ``overrides`` are settings (``data_dir=...``, ``database_url=...``).
    """
    if settings is None:
        settings = load_settings(**overrides)
    elif overrides:
        from ..config import with_overrides

        settings = with_overrides(settings, **overrides)
    return Store(settings, run_migrations=migrate)
