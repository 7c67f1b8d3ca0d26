"""``antiphon analyze``: talk-time metrics for one or more recordings."""

from __future__ import annotations

import sys

import click

from ._common import emit_json, handle_errors


@click.command()
@click.argument("recordings", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: one JSON object per recording (JSON lines).")
@click.option("--channels", metavar="ROLES", help="Party per channel, e.g. 'agent,customer' (default: customer,agent).")
@click.option("--task", "task", type=click.Path(exists=True, dir_okay=False), help="Flex task attributes JSON: its media entry sets channel order and start time.")
@click.option("--conversation", type=click.Path(exists=True, dir_okay=False), help="Conversation JSON (recording media + segments): per-segment metrics and offsets.")
@click.option("--long-silence", type=float, default=None, metavar="SECONDS", help="List silences at least this long (default 5).")
@click.option("--transcribe", "do_transcribe", is_flag=True, help="Transcribe each channel (needs the 'transcribe' extra).")
@click.option("--model", default=None, help="Whisper model for --transcribe: a CTranslate2 model directory or a model name.")
@click.option("--rules", type=click.Path(exists=True, dir_okay=False), help="Rules file (TOML/YAML): categories and keyword hits.")
@handle_errors
def analyze(recordings, as_json, channels, task, conversation, long_silence, do_transcribe, model, rules):
    """Measure who talked how long, crosstalk, silence and interruptions.

    RECORDINGS are dual-channel files: customer on channel 1 (left), agent on
    channel 2 (right), unless --channels or --task say otherwise.
    """
    from ..analysis import AnalysisOptions, analyze_many
    from ..errors import AntiphonError
    from ..report import format_analysis

    options = AnalysisOptions()
    if long_silence is not None:
        options.metrics.long_silence = long_silence
    transcribe = None
    if do_transcribe or model:
        from ..transcribe import TranscribeOptions

        transcribe = TranscribeOptions(model=model) if model else TranscribeOptions()
    failed = 0
    for path, result in analyze_many(
        recordings, channels=channels, task=task, conversation=conversation,
        options=options, transcribe=transcribe, rules=rules,
    ):
        if isinstance(result, AntiphonError):
            failed += 1
            if as_json:
                emit_json({**result.to_dict(), "path": str(path)})
            else:
                click.echo(f"error: {result.message}", err=True)
                for p in result.problems:
                    if str(p) not in result.message:
                        click.echo(f"  - {p}", err=True)
            continue
        if as_json:
            emit_json(result.to_dict())
        else:
            click.echo(format_analysis(result.to_dict()))
    if failed:
        sys.exit(2)
