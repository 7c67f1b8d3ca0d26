"""The demo: the bundled sample calls through the whole pipeline.

Each sample call is analysed with its conversation metadata and its report
printed. With the ``server`` extra installed the calls are also stored, as an
upload would store them, in a store in ``data_dir`` (SQLite and local files),
analysed there by a job worker, and, with ``serve=True``, shown in the web
player on ``http://host:port`` (API keys off: bind it to loopback only).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .analysis import analyze
from .errors import SERVER_MODULES, MissingDependency
from .report import format_analysis
from .samples import sample_calls

__all__ = ["DemoOptions", "run_demo"]


@dataclass
class DemoOptions:
    """Where the demo keeps its store and where it serves the player.

    data_dir:
        The demo's store (SQLite database and media files), created when
        missing; running the demo again stores nothing twice.
    store:
        Store the calls when the ``server`` extra is installed (``False``:
        only print the reports).
    serve:
        After storing, serve the conversations and the player until Ctrl-C.
    host, port:
        Where to serve. API keys are off in the demo, so keep the host on
        loopback.
    """

    data_dir: Path = Path("antiphon-data/demo")
    store: bool = True
    serve: bool = False
    host: str = "127.0.0.1"
    port: int = 8000


def run_demo(echo: Callable[[str], None] = print, options: DemoOptions | None = None) -> list[dict]:
    """Analyse (and store, and serve) every bundled sample call; return the analysis dicts."""
    opts = options or DemoOptions()
    calls = sample_calls()
    results = []
    for call in calls:
        result = analyze(call.audio, conversation=call.conversation).to_dict()
        results.append(result)
        echo(format_analysis(result))
        echo("")
    if not (opts.store or opts.serve):
        return results
    try:
        MissingDependency.require(SERVER_MODULES, "Storing and showing the calls", "server")
    except MissingDependency as exc:
        echo(exc.message)
        return results

    from .config import load_settings
    from .ingest import ingest_recording
    from .store import open_store

    settings = load_settings(data_dir=str(opts.data_dir), database_url=f"sqlite:///{opts.data_dir}/antiphon.db",
                             auth=False, host=opts.host, port=opts.port, workers=1, transcribe=False)
    urls = []
    with open_store(settings) as store:
        for call in calls:
            out = ingest_recording(store, call.audio, task=call.task, conversation=call.conversation)
            for job in out.get("failed_jobs", []):
                echo(f"{call.name}: job {job['kind']} failed: {job['last_error']}")
            urls.append(f"http://{opts.host}:{opts.port}/conversations/{out['conversation']}")
    echo(f"Stored {len(calls)} calls in {opts.data_dir} (SQLite, local files).")
    if not opts.serve:
        echo(f"To open them in the web player: antiphon demo --serve (then http://{opts.host}:{opts.port}/)")
        return results
    echo(f"Web player: http://{opts.host}:{opts.port}/conversations  (Ctrl-C stops it)")
    for url in urls:
        echo(f"  {url}")
    echo(f"Reports:    http://{opts.host}:{opts.port}/reports")
    from .server import serve

    serve(settings, echo=echo)
    return results
