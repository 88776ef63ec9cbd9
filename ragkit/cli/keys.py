"""`ragkit keys`: create, list and revoke API keys of a home (no server needed; a running one sees changes at once)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ragkit.cli.common import HomeOpt, JsonOpt, run, split_list

keys_app = typer.Typer(help="API keys for the HTTP service.", no_args_is_help=True)


def _store(home: Path | None):
    from ragkit.settings import load_settings
    from ragkit.storage.home import HomeLayout
    from ragkit.storage.keys import KeyStore

    settings = load_settings(home=home)
    return KeyStore(HomeLayout(settings.home).keys)


@keys_app.command("create")
def keys_create(
    collections: Annotated[Optional[str], typer.Option("--collections", help="Comma-separated collections the key may use (default: all, present and future).")] = None,
    write: Annotated[bool, typer.Option("--write", help="Also add, delete and train (implies read).")] = False,
    admin: Annotated[bool, typer.Option("--admin", help="Everything, including creating and deleting collections.")] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key; it is shown only this once."""

    def action():
        store = _store(home)
        try:
            return store.create(split_list(collections), write=write, admin=admin)
        finally:
            store.close()

    def render(result):
        from rich.console import Console

        console = Console()
        console.print(f"key [bold]{result['id']}[/] ({', '.join(result['scopes'])} on {', '.join(result['collections'])}); shown only now:", highlight=False)
        print(result["key"])

    run(as_json, action, render)


@keys_app.command("list")
def keys_list(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """List keys (ids, rights, state; never the secrets)."""

    def action():
        store = _store(home)
        try:
            return {"keys": [k.to_dict() for k in store.list()]}
        finally:
            store.close()

    def render(result):
        from rich.console import Console
        from rich.table import Table

        table = Table("id", "collections", "scopes", "created", "state")
        for k in result["keys"]:
            table.add_row(k["id"], ",".join(k["collections"]), ",".join(k["scopes"]), k["created_at"], "revoked" if k["revoked"] else "active")
        Console().print(table)

    run(as_json, action, render)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (from `keys list`).")], home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Revoke a key; a running server refuses it from the next request."""

    def action():
        store = _store(home)
        try:
            return {"revoked": store.revoke(key_id).to_dict()}
        finally:
            store.close()

    def render(result):
        print(f"revoked key {result['revoked']['id']}")

    run(as_json, action, render)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
