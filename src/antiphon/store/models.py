"""The database schema (SQLAlchemy 2 declarative models).

The schema itself is created and upgraded by the Alembic migrations in
``antiphon/store/migrations``; these classes must match them.

Times are stored as UTC and always come back timezone-aware. Durations and
offsets are seconds (floats).
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "Conversation",
    "Segment",
    "Recording",
    "Analysis",
    "Category",
    "Job",
    "ApiKey",
    "MediaProblem",
    "Event",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    pass


class Conversation(Base):
    """One customer contact: every task and recording of a call."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    call_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    direction: Mapped[str | None] = mapped_column(String(32))
    queue: Mapped[str | None] = mapped_column(String(255))
    attributes: Mapped[dict | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Segment(Base):
    """One reservation (one agent's part of a conversation), wall-clock."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    task_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    reservation_sid: Mapped[str | None] = mapped_column(String(64))
    worker: Mapped[str | None] = mapped_column(String(255), index=True)
    worker_sid: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(255), index=True)
    direction: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str | None] = mapped_column(String(32))
    start: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    conversation_attributes: Mapped[dict | None] = mapped_column(JSONType)
    task_attributes: Mapped[dict | None] = mapped_column(JSONType)
    attributes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    media: Mapped[list | None] = mapped_column(JSONType)
    recording_sid: Mapped[str | None] = mapped_column(String(64))
    segment_recording_offset: Mapped[float | None] = mapped_column(Float)
    window_start: Mapped[float | None] = mapped_column(Float)
    window_end: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict | None] = mapped_column(JSONType)
    duration: Mapped[float | None] = mapped_column(Float)
    talk_time: Mapped[float | None] = mapped_column(Float)
    customer_talk_time: Mapped[float | None] = mapped_column(Float)
    agent_talk_time: Mapped[float | None] = mapped_column(Float)
    crosstalk_time: Mapped[float | None] = mapped_column(Float)
    silence_time: Mapped[float | None] = mapped_column(Float)
    customer_interruptions: Mapped[int | None] = mapped_column(Integer)
    agent_interruptions: Mapped[int | None] = mapped_column(Integer)
    long_silences: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Recording(Base):
    """One media file: downloaded from Twilio or uploaded."""

    __tablename__ = "recordings"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_sid: Mapped[str | None] = mapped_column(String(64))
    call_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    conference_sid: Mapped[str | None] = mapped_column(String(64))
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    source: Mapped[str] = mapped_column(String(16), default="twilio")
    source_url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    twilio_status: Mapped[str | None] = mapped_column(String(32))
    twilio_source: Mapped[str | None] = mapped_column(String(64))
    track: Mapped[str | None] = mapped_column(String(16))
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    channels: Mapped[int | None] = mapped_column(Integer)
    channel_roles: Mapped[list | None] = mapped_column(JSONType)
    duration: Mapped[float | None] = mapped_column(Float)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    file_path: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int | None] = mapped_column(BigInteger)
    format: Mapped[str | None] = mapped_column(String(32))
    subtype: Mapped[str | None] = mapped_column(String(32))
    sample_rate: Mapped[int | None] = mapped_column(Integer)
    duplicate_of: Mapped[str | None] = mapped_column(String(64))
    duplicate_score: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    callback: Mapped[dict | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Analysis(Base):
    """The analysis of one recording (at most one per recording)."""

    __tablename__ = "analyses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recording_sid: Mapped[str] = mapped_column(ForeignKey("recordings.sid"), unique=True)
    conversation_id: Mapped[str | None] = mapped_column(String(128), index=True)
    sha256: Mapped[str | None] = mapped_column(String(64))
    schema: Mapped[str | None] = mapped_column(String(64))
    duration: Mapped[float | None] = mapped_column(Float)
    talk_time: Mapped[float | None] = mapped_column(Float)
    customer_talk_time: Mapped[float | None] = mapped_column(Float)
    agent_talk_time: Mapped[float | None] = mapped_column(Float)
    crosstalk_time: Mapped[float | None] = mapped_column(Float)
    silence_time: Mapped[float | None] = mapped_column(Float)
    longest_silence_before_agent: Mapped[float | None] = mapped_column(Float)
    longest_silence_before_customer: Mapped[float | None] = mapped_column(Float)
    longest_talk_by_customer: Mapped[float | None] = mapped_column(Float)
    longest_talk_by_agent: Mapped[float | None] = mapped_column(Float)
    customer_interruptions: Mapped[int | None] = mapped_column(Integer)
    agent_interruptions: Mapped[int | None] = mapped_column(Integer)
    long_silences: Mapped[int | None] = mapped_column(Integer)
    metrics: Mapped[dict | None] = mapped_column(JSONType)
    speech: Mapped[dict | None] = mapped_column(JSONType)
    transcript: Mapped[dict | None] = mapped_column(JSONType)
    categories: Mapped[list | None] = mapped_column(JSONType)
    warnings: Mapped[list | None] = mapped_column(JSONType)
    result: Mapped[dict | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Category(Base):
    """A category a conversation fell into (from the rules), for filtering."""

    __tablename__ = "categories"

    conversation_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    recording_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)


Index("ix_categories_name", Category.name)


class Job(Base):
    """A durable unit of work (download, analyse, resegment)."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    recording_sid: Mapped[str | None] = mapped_column(String(64))
    conversation_id: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[dict | None] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rerun: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


Index("ix_jobs_claim", Job.state, Job.run_after)


class ApiKey(Base):
    """An API key: the id is the HTTP Basic user, the secret (hashed) the password."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    secret_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MediaProblem(Base):
    """A problem with media metadata (task attributes, callbacks), kept and shown."""

    __tablename__ = "media_problems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(200), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(128), index=True)
    source: Mapped[str] = mapped_column(String(32))
    task_sid: Mapped[str | None] = mapped_column(String(64))
    reservation_sid: Mapped[str | None] = mapped_column(String(64))
    recording_sid: Mapped[str | None] = mapped_column(String(64))
    event_id: Mapped[int | None] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Event(Base):
    """A webhook as received (every parameter), de-duplicated by content."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    event_type: Mapped[str | None] = mapped_column(String(64))
    resource_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime)
    params: Mapped[dict] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
