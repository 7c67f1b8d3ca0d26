"""Alembic environment for the Antiphon store.

Run by :func:`antiphon.store.migrate` with an open connection in
``config.attributes["connection"]``; there is no alembic.ini. To write a new
revision during development::

    python -m antiphon.store.revision "add something"
"""

from __future__ import annotations

from alembic import context

from antiphon.store.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:  # pragma: no cover - only via antiphon.store.migrate
        from sqlalchemy import create_engine

        engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
        with engine.connect() as connection:
            _run(connection)
        return
    _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
