"""``antiphon ingest``: store a recording with its metadata and analyse it."""

from __future__ import annotations

import click

from ._common import emit_json, handle_errors
from ._store import open_from, store_options


@click.command()
@click.argument("recording", type=click.Path(exists=True, dir_okay=False))
@click.option("--task", "task", type=click.Path(exists=True, dir_okay=False),
              help="Flex task attributes JSON (channel order, start time, conversation id, queue).")
@click.option("--conversation", type=click.Path(exists=True, dir_okay=False),
              help="Conversation JSON: the recording's media entry and its segments (transfers).")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Run the analysis now in this process (--no-wait: leave it to the workers).")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@store_options
@handle_errors
def ingest(recording, task, conversation, wait, as_json, config_file, data_dir, database_url):
    """Store RECORDING (a dual-channel file) in the data directory, as the upload API does.

    Problems in the task attributes are stored and listed, not fatal. With
    --wait (default) the queued jobs run here until none is left.
    """
    from ..ingest import ingest_recording

    with open_from(config_file, data_dir=data_dir, database_url=database_url) as store:
        out = ingest_recording(store, recording, task=task, conversation=conversation, wait=wait)
    if as_json:
        emit_json(out)
        return
    click.echo(f"recording {out['recording']} -> conversation {out['conversation']}"
               + (f" (duplicate of {out['duplicate_of']})" if out.get("duplicate_of") else ""))
    for p in out.get("problems", []):
        click.echo(f"  problem: {p['message']}", err=True)
    if out.get("metrics"):
        m = out["metrics"]
        click.echo("  " + ", ".join(f"{k} {v:g} s" for k, v in m.items() if v is not None))
    elif out.get("status"):
        click.echo(f"  status: {out['status']}")
    for j in out.get("failed_jobs", []):
        click.echo(f"  job {j['id']} ({j['kind']}) failed: {j['last_error']}", err=True)
