"""The ``antiphon`` command line: a thin layer over the library.

Each command lives in its own module under ``antiphon.cli`` and is imported
only when it runs, so ``antiphon analyze`` never pays for the web server's
imports. A command parses its options, opens what it needs (a recording, the
store) and calls one library function; errors are rendered in one shape by
:func:`antiphon.cli._common.run`.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

# name -> (module, attribute, one-line help). Modules are imported lazily.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "analyze": ("antiphon.cli.analyze", "analyze", "Measure talk, crosstalk and silence in dual-channel recordings."),
    "validate": ("antiphon.cli.validate", "validate", "Check Flex task attributes (media metadata) and list every problem."),
    "transcribe": ("antiphon.cli.transcribe", "transcribe", "Transcribe each channel; write text, WebVTT or SRT."),
    "redact": ("antiphon.cli.redact", "redact", "Write a copy of a recording with spoken PII silenced."),
    "mix": ("antiphon.cli.mix", "mix", "Build dual-channel recordings from per-participant legs."),
    "serve": ("antiphon.cli.serve", "serve", "Run the HTTP service (webhooks, API, web player) with a local worker pool."),
    "worker": ("antiphon.cli.serve", "worker", "Run job workers without the HTTP server."),
    "ingest": ("antiphon.cli.ingest", "ingest", "Store a recording with its task attributes and analyse it."),
    "jobs": ("antiphon.cli.jobs", "jobs", "List and retry analysis jobs."),
    "keys": ("antiphon.cli.keys", "keys", "Create, list and revoke API keys."),
    "demo": ("antiphon.cli.demo", "demo", "Analyse the bundled sample calls (and serve them when the server extra is installed)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(name for name, (mod, _, _) in COMMANDS.items() if importlib.util.find_spec(mod))

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                return None
            raise

    def format_commands(self, ctx, formatter):
        rows = [(n, COMMANDS[n][2]) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(package_name="antiphon")
def main() -> None:
    """Antiphon: analytics for dual-channel call recordings."""
