"""``antiphon mix``: build dual-channel recordings from per-participant legs."""

from __future__ import annotations

import click

from ._common import emit_json, handle_errors


@click.command(
    "mix",
    epilog="""\b
Examples:
  antiphon mix --customer caller.wav --agent agent.wav -o call.wav
  antiphon mix --customer caller.wav --agent agent.wav -o call.wav \\
      --customer-start 2026-11-02T15:04:05.120Z --agent-start 2026-11-02T15:04:07.480Z
  antiphon mix --conference call.conference.json -o out/ --mode per-transfer
See docs/mixing.md.""",
)
@click.option("--customer", type=click.Path(dir_okay=False), help="The customer's leg (goes to channel 1).")
@click.option("--agent", type=click.Path(dir_okay=False), help="The agent's leg (goes to channel 2).")
@click.option("--customer-start", help="When the customer leg starts: seconds or ISO 8601.")
@click.option("--agent-start", help="When the agent leg starts: seconds or ISO 8601 (same kind as --customer-start).")
@click.option("--customer-channel", type=click.Choice(["mix", "left", "right"]), default="mix", show_default=True,
              help="For a stereo customer leg: average both channels or take one.")
@click.option("--agent-channel", type=click.Choice(["mix", "left", "right"]), default="mix", show_default=True,
              help="For a stereo agent leg: average both channels or take one.")
@click.option("--conference", "conference", type=click.Path(dir_okay=False),
              help="A conference description (JSON): participants, times, holds, transfers, legs.")
@click.option("--mode", type=click.Choice(["native", "per-transfer"]), default="native", show_default=True,
              help="Conference: one recording of the whole conference, or one per agent reservation.")
@click.option("--perspective", type=click.Choice(["customer", "worker"]), default="customer", show_default=True,
              help="Per-transfer: whose leg is channel 1 (the customer's, or each worker's).")
@click.option("-o", "--output", required=True, type=click.Path(),
              help="Output file (two legs) or folder (conference).")
@click.option("--sample-rate", type=int, help="Output rate in Hz [default: the highest leg rate].")
@click.option("--encoding", type=click.Choice(["pcm16", "ulaw", "alaw", "mp3"]),
              help="Output encoding [default: pcm16 WAV; mp3 for a .mp3 output].")
@click.option("--headroom", type=click.Choice(["limit", "scale"]), default="limit", show_default=True,
              help="Against clipping: a look-ahead limiter, or a fixed 1/k gain per channel.")
@click.option("--ceiling-db", type=float, default=-1.0, show_default=True, help="Limiter ceiling, dBFS.")
@click.option("--max-offset", type=float, default=30.0, show_default=True,
              help="Automatic alignment searches offsets up to this many seconds either way.")
@click.option("--min-confidence", type=float, default=0.35, show_default=True,
              help="Refuse automatic alignment below this confidence.")
@click.option("--bleed-delay", type=float, default=0.0, show_default=True,
              help="Known delay of the bleed (echo path), seconds, corrected in the offset found.")
@click.option("--bleed-in", type=click.Choice(["agent", "customer"]), default="agent", show_default=True,
              help="Which leg carries the bleed of the other (for --bleed-delay).")
@click.option("--check-start-times/--no-check-start-times", default=True, show_default=True,
              help="With start times, warn when the bleed between the legs says otherwise.")
@click.option("--url-base", help="Base URL for the media entries' url (default: the output file path).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@handle_errors
def mix(customer, agent, customer_start, agent_start, customer_channel, agent_channel, conference, mode,
        perspective, output, sample_rate, encoding, headroom, ceiling_db, max_offset, min_confidence,
        bleed_delay, bleed_in, check_start_times, url_base, as_json):
    """Build dual-channel recordings from per-participant legs.

    Two legs: --customer and --agent become one stereo file, customer on
    channel 1. Without start times the legs are aligned by the bleed one
    carries of the other; the offset and its confidence are reported.

    A conference: --conference describes participants, join/leave times,
    holds and transfers; the recordings are written to the -o folder with
    their Flex task attributes and conversation files.
    """
    from ..errors import AntiphonError
    from ..record import MixOptions, mix_legs, record_conference

    options = MixOptions(
        sample_rate=sample_rate, encoding=encoding, headroom=headroom, ceiling_db=ceiling_db,
        max_offset=max_offset, min_confidence=min_confidence,
        warn_confidence=max(min_confidence, MixOptions.warn_confidence),
        bleed_delay=bleed_delay, bleed_in=bleed_in, url_base=url_base, check_start_times=check_start_times,
    )
    if conference:
        if customer or agent or customer_start or agent_start:
            raise AntiphonError("give either --conference or --customer/--agent, not both")
        outputs = record_conference(conference, output, mode=mode, perspective=perspective, options=options)
        if as_json:
            emit_json({"ok": True, "recordings": [o.to_dict() for o in outputs]})
            return
        for o in outputs:
            who = " + ".join(o.channel_parties[1]) or "-"
            click.echo(
                f"wrote {o.path}: {o.duration:.1f} s, {o.sample_rate} Hz, channels {o.channels[0]},{o.channels[1]} "
                f"(1: {' + '.join(o.channel_parties[0])}; 2: {who})"
            )
            for name, path in o.files.items():
                if name != "audio":
                    click.echo(f"  {name}: {path}")
            for w in o.warnings:
                click.echo(f"  warning: {w}", err=True)
        return
    if not customer or not agent:
        raise AntiphonError("give both --customer and --agent legs (or --conference)")
    result = mix_legs(
        customer, agent, output, customer_start=customer_start, agent_start=agent_start, options=options,
        customer_channel=customer_channel, agent_channel=agent_channel,
    )
    if as_json:
        out = {"ok": True}
        out.update(result.to_dict())
        emit_json(out)
        return
    how = "from start times" if result.aligned_by == "start times" else (
        f"by correlation, confidence {result.confidence:.2f}, correlation {result.correlation:.3f}"
    )
    click.echo(
        f"wrote {result.path}: {result.duration:.1f} s, {result.sample_rate} Hz, {result.encoding}; "
        f"agent leg offset {result.offset:+.4f} s ({how})"
    )
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
