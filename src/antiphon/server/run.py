"""Running the service: the HTTP server with its pool of job workers."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Callable

from ..config import Settings

__all__ = ["serve"]

def serve(settings: Settings, *, echo: Callable[[str], None] = print) -> None:
    """Migrate the store, then serve HTTP with uvicorn until interrupted.

    ``settings.workers`` job worker processes run alongside (restarted if one
    dies; 0: none, run :func:`antiphon.jobs.work` elsewhere). ``echo`` gets
    the webhook URLs to configure in Twilio and any set-up notes.
    """
    import uvicorn

    from ..jobs import LOG_FORMAT, run_workers
    from ..store import open_store
    from .app import create_app

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    store = open_store(settings)
    app = create_app(store=store)
    if settings.auth and not store.list_keys():
        echo("note: no API key yet; create one with 'antiphon keys create --name NAME' "
             "(or set ANTIPHON_AUTH=off on a trusted network)")
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    echo(f"TaskRouter event callback URL:  {base}/twilio/taskrouter")
    echo(f"Recording status callback URL:  {base}/twilio/recording-status")
    if not settings.twilio_auth_token:
        echo("note: ANTIPHON_TWILIO_AUTH_TOKEN is not set, so webhooks are refused"
             + (" (ANTIPHON_AUTH=off: accepted unsigned)" if not settings.auth else ""))
    stop = threading.Event()
    pool = None
    if settings.workers:
        pool = threading.Thread(target=run_workers, args=(settings, settings.workers, stop),
                                name="antiphon-worker-pool", daemon=True)
        pool.start()
    # uvicorn shuts down gracefully on SIGTERM/SIGINT and then raises the signal
    # again for the handler it found: make that ours, so the worker processes are
    # stopped below rather than orphaned by the default handler.
    stopping = lambda signum, frame: stop.set()  # noqa: E731
    previous = {sig: signal.signal(sig, stopping) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", proxy_headers=False)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop.set()
        if pool is not None:
            pool.join(timeout=15)
        store.close()
