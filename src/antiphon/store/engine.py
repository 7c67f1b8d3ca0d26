"""Database engines and migrations (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool

from ..errors import AntiphonError, MissingDependency

__all__ = ["make_engine", "migrate", "head_revision", "current_revision"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: Key of the PostgreSQL advisory lock held while migrating.
_PG_LOCK = 0x616E7469  # "anti"


def make_engine(url: str) -> Engine:
    """An engine for ``url`` tuned for the store.

    SQLite: WAL journal, a 30 s busy timeout, foreign keys on, and write
    transactions opened with ``BEGIN IMMEDIATE`` (sessions that write ask for
    it), so concurrent writers in several processes queue instead of failing
    with "database is locked". ``sqlite://`` (in memory) shares one
    connection, for tests.
    """
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        kwargs: dict = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        memory = u.database in (None, "", ":memory:")
        if memory:
            kwargs["poolclass"] = StaticPool
        else:
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            if conn.get_execution_options().get("sqlite_immediate"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")

        return engine
    if u.get_backend_name() == "postgresql":
        try:
            return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
        except ModuleNotFoundError as exc:
            raise MissingDependency("PostgreSQL storage", "postgres") from exc
    raise AntiphonError(
        f"unsupported database {u.get_backend_name()!r}: use sqlite:///path or postgresql://..."
    )


def _alembic_config(connection):
    try:
        from alembic.config import Config
    except ModuleNotFoundError as exc:
        raise MissingDependency("The store", "server") from exc
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    cfg = _alembic_config(None)
    return ScriptDirectory.from_config(cfg).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextlib.contextmanager
def _migration_lock(engine: Engine):
    """Only one process migrates at a time (a file lock on SQLite, an advisory lock on PostgreSQL)."""
    if engine.dialect.name == "sqlite":
        db = engine.url.database
        if not db or db == ":memory:":
            yield
            return
        lock_path = Path(db).with_name(Path(db).name + ".migrate-lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
    else:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK})
                conn.commit()


def migrate(engine: Engine) -> str:
    """Bring the schema up to the newest revision; returns it. Safe to call from many processes."""
    import logging

    log = logging.getLogger("alembic")
    level = log.level
    if level == logging.NOTSET:  # keep Alembic's chatter out of the service log unless asked for
        log.setLevel(logging.WARNING)
    try:
        from alembic import command

        head = head_revision()
        if current_revision(engine) == head:
            return head
        with _migration_lock(engine):
            if current_revision(engine) == head:
                return head
            with engine.connect() as conn:
                command.upgrade(_alembic_config(conn), "head")
                conn.commit()
            logging.getLogger("antiphon.store").info("database schema upgraded to %s", head)
    finally:
        log.setLevel(level)
    return head
