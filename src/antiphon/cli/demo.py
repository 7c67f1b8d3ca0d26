"""``antiphon demo``: the bundled sample calls through the pipeline."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._common import emit_json, handle_errors


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the analyses as JSON lines instead of reports.")
@click.option("--serve/--no-serve", default=None,
              help="Serve the web player with the calls until Ctrl-C (default: when run in a terminal).")
@click.option("--store/--no-store", "keep", default=True, show_default=True,
              help="Store the calls (needs the server extra).")
@click.option("--data-dir", type=click.Path(file_okay=False), default="antiphon-data/demo", show_default=True,
              help="The demo's store.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on (keep it loopback).")
@click.option("--port", type=int, default=8000, show_default=True, help="Port to serve on.")
@handle_errors
def demo(as_json, serve, keep, data_dir, host, port):
    """Analyse, store and show the bundled sample calls (Harper Valley Bank corpus, CC-BY-4.0)."""
    from ..demo import DemoOptions, run_demo

    if serve is None:
        serve = not as_json and sys.stdin.isatty() and sys.stdout.isatty()
    opts = DemoOptions(data_dir=Path(data_dir), store=keep, serve=serve, host=host, port=port)
    if as_json:
        for result in run_demo(echo=lambda _: None, options=opts):
            emit_json(result)
    else:
        run_demo(echo=click.echo, options=opts)
