"""Storage: conversations, segments, recordings, analyses, jobs and API keys.

SQLAlchemy 2 over SQLite (default: ``<data_dir>/antiphon.db``, WAL mode, no
server) or PostgreSQL (``ANTIPHON_DATABASE_URL``). The schema is managed by
Alembic migrations that run when a store is opened. Media files live under
``<data_dir>/media``, content-addressed by SHA-256 and written atomically.

>>> store = open_store(data_dir="antiphon-data")        # doctest: +SKIP
>>> store.list_conversations({"agent": "alice"}, page={"limit": 20})   # doctest: +SKIP

The read API (:meth:`Store.list_conversations`, :meth:`Store.get_conversation`,
:meth:`Store.report`, :meth:`Store.recording_path` ...) is documented in
``docs/api.md``; the web pages and the JSON API both use it.
"""

from __future__ import annotations

try:
    import sqlalchemy  # noqa: F401
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
    from ..errors import MissingDependency

    raise MissingDependency("The store", "server") from exc

from .core import JobInfo, NotFound, Store, open_store
from .queries import ConversationFilter, PageRequest

__all__ = ["Store", "open_store", "JobInfo", "NotFound", "ConversationFilter", "PageRequest"]
