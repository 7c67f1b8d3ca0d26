"""Opening the store from CLI options (shared by serve, worker, ingest, jobs, keys)."""

from __future__ import annotations

import click

from ..errors import MissingDependency

config_option = click.option(
    "--config", "config_file", type=click.Path(dir_okay=False), default=None,
    help="TOML config file (default: $ANTIPHON_CONFIG). Environment variables override it.")
data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False), default=None,
    help="Data directory (default: $ANTIPHON_DATA_DIR or ./antiphon-data).")
database_option = click.option(
    "--database-url", default=None, metavar="URL",
    help="Database URL (default: $ANTIPHON_DATABASE_URL or SQLite in the data directory).")


def store_options(command):
    """``--config``, ``--data-dir`` and ``--database-url``: where a command finds the store."""
    return config_option(data_dir_option(database_option(command)))


def settings_from(config_file=None, **overrides):
    from ..config import load_settings

    return load_settings(config_file, **overrides)


def open_from(config_file=None, **overrides):
    """Settings from file/env/options, then the (migrated) store."""
    MissingDependency.require(("sqlalchemy",), "The store", "server")
    from ..store import open_store

    return open_store(settings_from(config_file, **overrides))
