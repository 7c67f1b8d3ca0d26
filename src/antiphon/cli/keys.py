"""``antiphon keys``: API keys for the JSON API, the media and the web pages."""

from __future__ import annotations

import click

from ._common import emit_json, handle_errors
from ._store import open_from, store_options


@click.group()
def keys() -> None:
    """Create, list and revoke API keys (HTTP Basic: key id as user, secret as password)."""


@keys.command("create")
@click.option("--name", required=True, help="What the key is for, e.g. 'qa-dashboard'.")
@click.option("--json", "as_json", is_flag=True, help='Print {"id", "secret"} as JSON.')
@store_options
@handle_errors
def create(name, as_json, config_file, data_dir, database_url):
    """Create a key and print its id and secret (the secret is shown only once)."""
    with open_from(config_file, data_dir=data_dir, database_url=database_url) as store:
        key = store.create_key(name)
    if as_json:
        emit_json({"id": key["id"], "secret": key["secret"]})
    else:
        click.echo(f"id:     {key['id']}")
        click.echo(f"secret: {key['secret']}")
        click.echo("Use them as HTTP Basic user and password; the secret is not stored and cannot be shown again.",
                   err=True)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@store_options
@handle_errors
def list_(as_json, config_file, data_dir, database_url):
    """List keys (never their secrets)."""
    with open_from(config_file, data_dir=data_dir, database_url=database_url) as store:
        rows = store.list_keys()
    if as_json:
        emit_json({"ok": True, "keys": rows})
        return
    for k in rows:
        state = "active" if k["active"] else f"revoked {k['revoked_at']}"
        click.echo(f"{k['id']}  {k['name']}  created {k['created_at']}  last used {k['last_used_at'] or 'never'}  {state}")


@keys.command("revoke")
@click.argument("key_id")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@store_options
@handle_errors
def revoke(key_id, as_json, config_file, data_dir, database_url):
    """Revoke a key; requests with it are refused from now on."""
    with open_from(config_file, data_dir=data_dir, database_url=database_url) as store:
        out = store.revoke_key(key_id)
    if as_json:
        emit_json({"ok": True, **out})
    else:
        click.echo(f"revoked {key_id}")
