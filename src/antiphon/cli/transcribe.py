"""``antiphon transcribe``: a party-labelled transcript as text, WebVTT, SRT or JSON."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import handle_errors

FORMATS = ("text", "vtt", "srt", "json")


@click.command()
@click.argument("recording", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format (default: from the -o suffix, else text).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file instead of standard output.")
@click.option("--channels", metavar="ROLES", help="Party per channel, e.g. 'agent,customer' (default: customer,agent).")
@click.option("--task", type=click.Path(exists=True, dir_okay=False), help="Flex task attributes JSON giving the channel order.")
@click.option("--model", default=None, help="CTranslate2 Whisper model directory or model name (default: bundled tiny.en).")
@click.option("--beam-size", type=click.IntRange(1, 10), default=None, help="Beam width (default 5; 1 is fastest).")
@click.option("--cpu-threads", type=click.IntRange(0, 256), default=None, help="Model threads (default: automatic).")
@click.option("--language", default=None, help="Spoken language (default en).")
@handle_errors
def transcribe(recording, fmt, output, channels, task, model, beam_size, cpu_threads, language):
    """Transcribe each channel of RECORDING separately and merge the turns.

    Only the speech found on each channel (after bleed suppression) is sent to
    the model, so silence and the other party's echo do not become words.
    """
    from ..analysis import analyze
    from ..transcribe import TranscribeOptions

    options = TranscribeOptions(model=model)
    if beam_size is not None:
        options.beam_size = beam_size
    if cpu_threads is not None:
        options.cpu_threads = cpu_threads
    if language:
        options.language = language
    if fmt is None:
        suffix = Path(output).suffix.lower().lstrip(".") if output else ""
        fmt = {"vtt": "vtt", "srt": "srt", "json": "json"}.get(suffix, "text")
    analysis = analyze(recording, channels=channels, task=task, transcribe=options)
    for warning in analysis.warnings:
        click.echo(f"warning: {warning}", err=True)
    text = analysis.transcript.format(fmt)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output} ({len(analysis.transcript.turns)} turns)", err=True)
    else:
        click.echo(text, nl=False)
