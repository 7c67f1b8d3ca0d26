"""``antiphon serve`` and ``antiphon worker``."""

from __future__ import annotations

import click

from ..errors import SERVER_MODULES, MissingDependency
from ._common import handle_errors
from ._store import settings_from, store_options


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: $ANTIPHON_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: $ANTIPHON_PORT or 8000).")
@click.option("--workers", type=click.IntRange(0), default=None,
              help="Job worker processes to run alongside (default: $ANTIPHON_WORKERS or 1; 0: none).")
@click.option("--public-url", default=None, help="URL Twilio calls (for webhook signatures behind a proxy).")
@store_options
@handle_errors
def serve(host, port, workers, public_url, config_file, data_dir, database_url):
    """Run the HTTP service: Twilio webhooks, uploads, JSON API, media and web pages.

    Migrates the database, then serves with uvicorn; a local pool of worker
    processes downloads and analyses recordings.
    """
    MissingDependency.require(SERVER_MODULES, "The HTTP service", "server")
    from ..server import serve as run_server

    settings = settings_from(config_file, data_dir=data_dir, database_url=database_url, host=host, port=port,
                             workers=workers, public_url=public_url)
    run_server(settings, echo=lambda line: click.echo(line, err=True))


@click.command()
@click.option("--workers", type=click.IntRange(1), default=None,
              help="Worker processes (default: $ANTIPHON_WORKERS or 1).")
@click.option("--once", is_flag=True, help="Run the due jobs in this process and exit when none is left.")
@store_options
@handle_errors
def worker(workers, once, config_file, data_dir, database_url):
    """Run job workers (download, analyse) without the HTTP server.

    Start as many as the machine has cores for, on as many machines as share
    the database (PostgreSQL) and the data directory.
    """
    MissingDependency.require(("sqlalchemy",), "The job workers", "server")
    from ..jobs import work

    settings = settings_from(config_file, data_dir=data_dir, database_url=database_url, workers=workers)
    n = work(settings, once=once)
    if once:
        click.echo(f"{n} job(s) run", err=True)
