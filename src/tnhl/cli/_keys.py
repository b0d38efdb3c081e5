"""`tnhl keys create|list|revoke`: API keys for the unsigned TalkNotes entry, for tools whose
webhook steps cannot sign (Zapier, Make, n8n). A key is shown once, when made; tnhl keeps only
its SHA-256. Rotate: create the new key, switch the tool to it, revoke the old one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from tnhl.cli._run import (
    ConfigOpt,
    ConnectionOpt,
    DatabaseOpt,
    DataDirOpt,
    fail,
    location_or_exit,
    one_connection,
    print_rows,
    settings_or_exit,
    store_or_exit,
)

__all__ = ["register"]


def _when(epoch: float | None) -> str:
    return "" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")


def register(app: typer.Typer) -> None:
    keys = typer.Typer(help="API keys for the unsigned TalkNotes entry (Zapier, Make, n8n).")
    app.add_typer(keys, name="keys")

    @keys.command("create")
    def create(
        connection: ConnectionOpt = None,
        config: ConfigOpt = None,
        data_dir: DataDirOpt = None,
        database_url: DatabaseOpt = None,
    ) -> None:
        """Make a key for a connection and print it (this once: only its digest is kept)."""
        settings = settings_or_exit(config, data_dir=data_dir, database_url=database_url)
        conn = one_connection(settings, connection)
        store = store_or_exit(settings, create=True)  # a key may come before the first run
        try:
            record, key = store.create_api_key(conn.location_id)
        finally:
            store.close()
        typer.echo(key)
        typer.echo(
            f"key {record.id} for connection {conn.name}: send it as "
            "`Authorization: Bearer <key>` to POST /webhooks/talknotes"
            + (f"/{conn.name}" if settings.connections else "")
            + " (with an Idempotency-Key header per event); it is not shown again",
            err=True,
        )

    @keys.command("list")
    def list_(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        connection: ConnectionOpt = None,
        config: ConfigOpt = None,
        data_dir: DataDirOpt = None,
        database_url: DatabaseOpt = None,
    ) -> None:
        """The keys (their ids and first characters, never the keys), of one connection with
        --connection."""
        settings = settings_or_exit(config, data_dir=data_dir, database_url=database_url)
        location = location_or_exit(settings, connection)
        store = store_or_exit(settings)
        try:
            rows = [
                {
                    "id": k.id,
                    "location_id": k.location_id,
                    "starts": f"tnhl_key_{k.hint}...",
                    "created_at": k.created_at,
                    "revoked_at": k.revoked_at,
                }
                for k in store.list_api_keys(location)
            ]
        finally:
            store.close()
        columns = [
            ("id", lambda r: str(r["id"])),
            ("location", lambda r: r["location_id"]),
            ("starts", lambda r: r["starts"]),
            ("created", lambda r: _when(r["created_at"])),
            ("revoked", lambda r: _when(r["revoked_at"])),
        ]
        print_rows(rows, as_json=as_json, title="API keys", columns=columns)

    @keys.command("revoke")
    def revoke(
        key_id: Annotated[int, typer.Argument(help="The key's id (from `keys list`).")],
        config: ConfigOpt = None,
        data_dir: DataDirOpt = None,
        database_url: DatabaseOpt = None,
    ) -> None:
        """Revoke a key: requests with it are refused (401) from now on."""
        settings = settings_or_exit(config, data_dir=data_dir, database_url=database_url)
        store = store_or_exit(settings)
        try:
            done = store.revoke_api_key(key_id)
        finally:
            store.close()
        if not done:
            fail(f"no live key with id {key_id}")
        typer.echo(f"key {key_id} revoked")
