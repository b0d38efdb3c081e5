"""`tnhl go-live NAME`: end a connection's dry run: show what its held records would send,
ask, then send them (or drop them with --discard)."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tnhl.cli._run import (
    ConfigOpt,
    DatabaseOpt,
    DataDirOpt,
    fail,
    one_connection,
    settings_or_exit,
    store_or_exit,
)

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("go-live")
    def go_live_command(
        name: Annotated[str, typer.Argument(help="The connection (default: the only one).")],
        discard: Annotated[
            bool, typer.Option("--discard", help="Drop the held records instead of sending.")
        ] = False,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
        config: ConfigOpt = None,
        data_dir: DataDirOpt = None,
        database_url: DatabaseOpt = None,
    ) -> None:
        """Switch a connection from dry run to live, sending (or dropping) what it held."""
        from tnhl.sync import go_live, held

        settings = settings_or_exit(config, data_dir=data_dir, database_url=database_url)
        conn = one_connection(settings, name)
        store = store_or_exit(settings)
        try:
            waiting = held(store, conn.location_id)
            if not conn.dry_run and not waiting:
                fail(f"connection {conn.name} is not in dry run (set dry_run: true to start one)")
            table = Table(title=f"{conn.name}: {len(waiting)} records held by the dry run")
            for column in ("record", "would"):
                table.add_column(column, overflow="fold")
            for record, would in waiting:
                table.add_row(record.record_key, would)
            Console(width=160).print(table)
            verb = "Drop" if discard else "Send"
            if waiting and not yes and not typer.confirm(f"{verb} these {len(waiting)}?"):
                fail("nothing changed", code=1)
            n = go_live(store, conn.location_id, discard=discard, now=time.time())
        finally:
            store.close()
        done = "dropped" if discard else "due now: a running `tnhl run` sends them"
        typer.echo(f"{conn.name} is live; {n} held records {done}")
