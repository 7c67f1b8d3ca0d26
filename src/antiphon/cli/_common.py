"""Shared CLI plumbing: one error shape, JSON output."""

from __future__ import annotations

import functools
import json
import sys

import click

from ..errors import AntiphonError


def emit_json(obj) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False))


def handle_errors(func):
    """Render AntiphonError as ``error: ...`` (or the JSON error shape) and exit 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except AntiphonError as exc:
            ctx = click.get_current_context(silent=True)
            as_json = bool(ctx and ctx.params.get("as_json"))
            if as_json:
                emit_json(exc.to_dict())
            else:
                click.echo(f"error: {exc.message}", err=True)
                for p in exc.problems:
                    if str(p) not in exc.message:  # some messages already list their problems
                        click.echo(f"  - {p}", err=True)
            sys.exit(2)

    return wrapper
