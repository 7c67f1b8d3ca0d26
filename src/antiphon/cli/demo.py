"""``antiphon demo``: the bundled sample calls through the pipeline."""

from __future__ import annotations

import click

from ._common import emit_json, handle_errors


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the analyses as JSON lines instead of reports.")
@handle_errors
def demo(as_json):
    """Analyse the bundled sample calls (Harper Valley Bank corpus, CC-BY-4.0)."""
    from ..demo import run_demo

    if as_json:
        for result in run_demo(echo=lambda _: None):
            emit_json(result)
    else:
        run_demo(echo=click.echo)
