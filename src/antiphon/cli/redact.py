"""``antiphon redact``: a copy of a recording with spoken personal data silenced."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._common import emit_json, handle_errors


@click.command()
@click.argument("recording", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Redacted recording to write (default: RECORDING.redacted.<ext> beside it). Never the original.")
@click.option("--transcript-out", type=click.Path(dir_okay=False),
              help="Also write the redacted transcript: .json (with the redactions), .vtt, .srt or text.")
@click.option("--transcript", "transcript_in", type=click.Path(exists=True, dir_okay=False),
              help="Use this transcript (JSON from 'antiphon transcribe --format json' or 'analyze --json') instead of transcribing.")
@click.option("--mode", type=click.Choice(["silence", "tone"]), default="silence", show_default=True,
              help="Cover redacted speech with silence or a 1 kHz tone.")
@click.option("--padding", type=click.FloatRange(0, 2), default=None, help="Seconds added around each redacted word (default 0.2).")
@click.option("--channels", metavar="ROLES", help="Party per channel, e.g. 'agent,customer' (default: customer,agent).")
@click.option("--task", type=click.Path(exists=True, dir_okay=False), help="Flex task attributes JSON giving the channel order.")
@click.option("--model", default=None, help="Whisper model (directory or name) when transcribing.")
@click.option("--json", "as_json", is_flag=True, help="Print the redactions as JSON.")
@handle_errors
def redact(recording, output, transcript_out, transcript_in, mode, padding, channels, task, model, as_json):
    """Find card numbers, security codes, expiry dates, SSNs, phone numbers,
    e-mail addresses and account numbers in what was said, and write a copy of
    RECORDING with those words silenced on the channel that spoke them."""
    from ..errors import AntiphonError
    from ..redact import RedactOptions, redact_recording
    from ..transcribe import TranscribeOptions

    src = Path(recording)
    out = Path(output) if output else src.with_name(f"{src.stem}.redacted{src.suffix or '.wav'}")
    transcript = None
    if transcript_in:
        try:
            transcript = json.loads(Path(transcript_in).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AntiphonError(f"{transcript_in}: not a JSON transcript ({exc})") from None
    options = RedactOptions(mode=mode)
    if padding is not None:
        options.padding = padding
    result = redact_recording(src, out, transcript=transcript, channels=channels, task=task,
                              transcribe_options=TranscribeOptions(model=model), options=options)
    if transcript_out:
        dest = Path(transcript_out)
        kind = dest.suffix.lower().lstrip(".")
        if kind == "json":
            dest.write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        else:
            dest.write_text(result.transcript.format(kind if kind in ("vtt", "srt") else "text"), encoding="utf-8")
    if as_json:
        emit_json({"ok": True, **result.to_dict()})
        return
    click.echo(f"wrote {result.audio_path}: {len(result.redactions)} redaction{'s' if len(result.redactions) != 1 else ''}")
    for r in result.redactions:
        click.echo(f"  {r.start:8.2f}-{r.end:.2f} s  {r.party:<8} {r.type}")
    if transcript_out:
        click.echo(f"wrote {transcript_out}")
