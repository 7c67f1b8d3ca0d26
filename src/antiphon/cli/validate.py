"""``antiphon validate``: check Flex task attributes and list every problem."""

from __future__ import annotations

import sys

import click

from ._common import emit_json, handle_errors


def _summary_line(result) -> str:
    attrs = result.attributes
    rec = attrs.recording
    roles = rec.roles()
    parts = [
        f"{result.file}: ok: VoiceRecording from {rec.to_dict()['start_time']}",
        f"channel 1 {roles[0]}, channel 2 {roles[1]}",
    ]
    if attrs.conversation_id:
        parts.append(f"conversation {attrs.conversation_id}")
    if attrs.reservation_sid:
        parts.append(f"reservation {attrs.reservation_sid}")
    return ", ".join(parts)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=True, allow_dash=True))
@click.option(
    "--reservation",
    "reservations",
    multiple=True,
    metavar="WR...",
    help="Reservation SID whose reservation_attributes media to use (repeatable; "
    "each file uses the first one it names).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the error shape on failure).")
@handle_errors
def validate(files: tuple[str, ...], reservations: tuple[str, ...], as_json: bool) -> None:
    """Check Flex task attributes files (JSON, or a saved TaskRouter event body).

    Lists every problem with its field path and exits 1 when any file has one.
    Use - to read standard input.
    """
    from ..flex import validate_file

    results = []
    for name in files:
        if name == "-":
            results.append(validate_file("<stdin>", reservation_sids=reservations, text=sys.stdin.buffer.read()))
        else:
            results.append(validate_file(name, reservation_sids=reservations))
    failed = [r for r in results if not r.ok]

    if as_json:
        if len(results) == 1:
            emit_json(results[0].to_dict())
        else:
            out: dict = {"ok": not failed}
            if failed:
                out["error"] = f"{len(failed)} of {len(results)} files have problems"
                out["errors"] = [
                    {"file": r.file, **p.to_dict()} for r in failed for p in r.problems
                ]
                out["status"] = 422
            out["files"] = [r.to_dict() for r in results]
            emit_json(out)
    else:
        for r in results:
            if r.ok:
                click.echo(_summary_line(r))
                click.echo(f"  url: {r.attributes.recording.url}")
                for note in r.attributes.notes:
                    click.echo(f"  note: {note}")
            else:
                for p in r.problems:
                    click.echo(f"{r.file}: {p}")
        if len(results) > 1:
            click.echo(
                f"{len(failed)} of {len(results)} files have problems" if failed else f"all {len(results)} files ok"
            )
    if failed:
        sys.exit(1)
