"""``antiphon jobs``: list and retry jobs."""

from __future__ import annotations

import click

from ._common import emit_json, handle_errors
from ._store import open_from, store_options


@click.group()
def jobs() -> None:
    """List and retry analysis jobs (download, analyse, segment metrics)."""


@jobs.command("list")
@click.option("--state", type=click.Choice(["queued", "running", "done", "failed"]), default=None,
              help="Only jobs in this state.")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@store_options
@handle_errors
def list_(state, limit, as_json, config_file, data_dir, database_url):
    """List jobs, newest first, with attempts and the last error."""
    with open_from(config_file, data_dir=data_dir, database_url=database_url) as store:
        out = store.list_jobs(state=state, limit=limit)
    if as_json:
        emit_json({"ok": True, **out})
        return
    for j in out["jobs"]:
        line = f"{j['id']:>6}  {j['state']:<8} {j['kind']:<9} {j['recording_sid'] or j['conversation_id'] or '':<34} attempts {j['attempts']}/{j['max_attempts']}"
        click.echo(line)
        if j["last_error"]:
            click.echo(f"        {j['last_error']}")
    c = out["counts"]
    click.echo(", ".join(f"{k}: {v}" for k, v in sorted(c.items())) or "no jobs", err=True)


@jobs.command("retry")
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@store_options
@handle_errors
def retry(job_id, as_json, config_file, data_dir, database_url):
    """Queue job JOB_ID again with its attempts reset (a running worker picks it up)."""
    with open_from(config_file, data_dir=data_dir, database_url=database_url) as store:
        job = store.retry_job(job_id)
    if as_json:
        emit_json({"ok": True, "job": job})
    else:
        click.echo(f"job {job_id} queued again")
