"""``antiphon serve`` and ``antiphon worker``."""

from __future__ import annotations

import logging
import threading

import click

from ..errors import MissingDependency
from ._common import handle_errors
from ._store import config_option, data_dir_option, database_option, settings_from


def _need_server():
    try:
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
        import uvicorn  # noqa: F401
    except ModuleNotFoundError:
        raise MissingDependency("The HTTP service", "server") from None


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: $ANTIPHON_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: $ANTIPHON_PORT or 8000).")
@click.option("--workers", type=click.IntRange(0), default=None,
              help="Job worker processes to run alongside (default: $ANTIPHON_WORKERS or 1; 0: none).")
@click.option("--public-url", default=None, help="URL Twilio calls (for webhook signatures behind a proxy).")
@config_option
@data_dir_option
@database_option
@handle_errors
def serve(host, port, workers, public_url, config_file, data_dir, database_url):
    """Run the HTTP service: Twilio webhooks, uploads, JSON API, media and web pages.

    Migrates the database, then serves with uvicorn; a local pool of worker
    processes downloads and analyses recordings.
    """
    _need_server()
    import uvicorn

    from ..jobs import run_workers
    from ..server import create_app
    from ..store import open_store

    settings = settings_from(config_file, data_dir=data_dir, database_url=database_url, host=host, port=port,
                             workers=workers, public_url=public_url)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    store = open_store(settings)
    app = create_app(store=store)
    if settings.auth and not store.list_keys():
        click.echo("note: no API key yet; create one with 'antiphon keys create --name NAME' "
                   "(or set ANTIPHON_AUTH=off on a trusted network)", err=True)
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    click.echo(f"TaskRouter event callback URL:  {base}/twilio/taskrouter", err=True)
    click.echo(f"Recording status callback URL:  {base}/twilio/recording-status", err=True)
    if not settings.twilio_auth_token:
        click.echo("note: ANTIPHON_TWILIO_AUTH_TOKEN is not set, so webhooks are refused"
                   + (" (ANTIPHON_AUTH=off: accepted unsigned)" if not settings.auth else ""), err=True)
    stop = threading.Event()
    pool = None
    if settings.workers:
        pool = threading.Thread(target=run_workers, args=(settings, settings.workers, stop),
                                name="antiphon-worker-pool", daemon=True)
        pool.start()
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", proxy_headers=False)
    finally:
        stop.set()
        if pool is not None:
            pool.join(timeout=15)
        store.close()


@click.command()
@click.option("--workers", type=click.IntRange(1), default=None,
              help="Worker processes (default: $ANTIPHON_WORKERS or 1).")
@click.option("--once", is_flag=True, help="Run the due jobs in this process and exit when none is left.")
@config_option
@data_dir_option
@database_option
@handle_errors
def worker(workers, once, config_file, data_dir, database_url):
    """Run job workers (download, analyse) without the HTTP server.

    Start as many as the machine has cores for, on as many machines as share
    the database (PostgreSQL) and the data directory.
    """
    try:
        import sqlalchemy  # noqa: F401
    except ModuleNotFoundError:
        raise MissingDependency("The job workers", "server") from None
    from ..jobs import Worker, run_workers
    from ..store import open_store

    settings = settings_from(config_file, data_dir=data_dir, database_url=database_url, workers=workers)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    store = open_store(settings)  # migrates once, before the processes start
    if once:
        try:
            n = Worker(store).run(until_idle=True)
        finally:
            store.close()
        click.echo(f"{n} job(s) run", err=True)
        return
    store.close()
    if settings.workers <= 1:
        import signal

        from ..store import open_store as _open

        st = _open(settings, migrate=False)
        w = Worker(st)
        signal.signal(signal.SIGTERM, lambda *a: w.stop())
        try:
            w.run()
        except KeyboardInterrupt:
            pass
        finally:
            st.close()
        return
    try:
        run_workers(settings, settings.workers)
    except KeyboardInterrupt:
        pass
