"""`tnhl dlq list|show|replay`: the dead-letter queue."""

from __future__ import annotations

import json
from contextlib import closing
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    pass

from tnhl.cli._run import (
    ConfigOpt,
    ConnectionOpt,
    DatabaseOpt,
    DataDirOpt,
    location_or_exit,
    opened_store,
    print_rows,
    settings_or_exit,
    store_or_exit,
)

__all__ = ["register"]


def _when(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def register(app: typer.Typer) -> None:
    dlq = typer.Typer(help="The dead-letter queue: events that will not be retried.")
    app.add_typer(dlq, name="dlq")

    @dlq.command("list")
    def list_(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        all_: Annotated[bool, typer.Option("--all", help="Include replayed dead letters.")] = False,
        limit: Annotated[int, typer.Option("--limit", min=1)] = 100,
        connection: ConnectionOpt = None,
        config: ConfigOpt = None,
        data_dir: DataDirOpt = None,
        database_url: DatabaseOpt = None,
    ) -> None:
        """List dead letters, newest last (of one connection with --connection)."""
        from tnhl.sync import dead_letter_summary

        settings = settings_or_exit(config, data_dir=data_dir, database_url=database_url)
        location = location_or_exit(settings, connection)
        store = store_or_exit(settings)
        try:
            dead = store.list_dead(include_replayed=all_, limit=limit, location_id=location)
            rows = [dead_letter_summary(d) for d in dead]
        finally:
            store.close()
        columns = [
            ("id", lambda r: str(r["id"])),
            ("event", lambda r: r["event_id"]),
            ("type", lambda r: r["event_type"]),
            ("entity", lambda r: r["entity"]),
            ("tries", lambda r: str(r["attempts"])),
            ("dead at", lambda r: _when(r["dead_at"])),
            ("reason", lambda r: r["reason"]),
        ]
        print_rows(rows, as_json=as_json, title="Dead letters", columns=columns)

    @dlq.command("show")
    def show(
        dead_letter_id: Annotated[
            int, typer.Argument(help="The dead letter's id (from `dlq list`).")
        ],
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        config: ConfigOpt = None,
        data_dir: DataDirOpt = None,
        database_url: DatabaseOpt = None,
    ) -> None:
        """Show one dead letter with its event body and last error."""
        from tnhl.cli._run import fail
        from tnhl.store import RecordNotFoundError
        from tnhl.sync import dead_letter_detail

        with opened_store(config, data_dir, database_url) as store:
            try:
                detail = dead_letter_detail(store.get_dead(dead_letter_id=dead_letter_id))
            except RecordNotFoundError:
                fail(f"no dead letter with id {dead_letter_id}")
        if as_json:
            typer.echo(json.dumps(detail, indent=2, default=str))
            return
        console = Console()
        for key in ("id", "event_id", "event_type", "entity", "attempts", "reason", "error"):
            console.print(f"[bold]{key}[/bold]: {detail[key]}")
        console.print(f"[bold]dead at[/bold]: {_when(detail['dead_at'])}")
        console.print("[bold]body[/bold]:")
        console.print_json(detail["event"]["body"])

    @dlq.command("replay")
    def replay(
        ids: Annotated[list[int] | None, typer.Argument(help="Dead letter ids to replay.")] = None,
        all_: Annotated[bool, typer.Option("--all", help="Replay every dead letter.")] = False,
        to_connection: Annotated[
            str | None,
            typer.Option(
                "--to-connection",
                help="Move TalkNotes events filed under a location no connection serves now "
                "(a location_id since corrected) to this connection.",
            ),
        ] = None,
        config: ConfigOpt = None,
        data_dir: DataDirOpt = None,
        database_url: DatabaseOpt = None,
    ) -> None:
        """Put dead letters back in the queue (tries reset), planned with the settings as they
        are now; a running `tnhl run` picks them up. An event filed under a location id since
        corrected moves to its connection (the only one, or --to-connection)."""
        from tnhl.cli._run import fail
        from tnhl.store import RecordNotFoundError
        from tnhl.sync import SettingsError, replay_dead_letter

        if not ids and not all_:
            fail("give dead letter ids, or --all")
        settings = settings_or_exit(config, data_dir=data_dir, database_url=database_url)
        refused = 0
        with closing(store_or_exit(settings)) as store:
            targets = list(ids or [])
            if all_:
                targets = [d.id for d in store.list_dead(limit=100_000)]
            for dl_id in targets:
                try:
                    done = replay_dead_letter(store, settings, dl_id, to_connection=to_connection)
                except RecordNotFoundError:
                    fail(f"no dead letter with id {dl_id}")
                except SettingsError as exc:
                    refused += 1
                    typer.echo(f"tnhl: dead letter {dl_id} not replayed: {exc}", err=True)
                    continue
                moved = f", moved from {done.moved_from}" if done.moved_from else ""
                where = f" to {done.event.location_id}" if done.moved_from else ""
                typer.echo(
                    f"replayed dead letter {dl_id} (event {done.event.event_id}){moved}{where}"
                )
        typer.echo(f"{len(targets) - refused} replayed" + (f", {refused} not" if refused else ""))
        if refused:
            raise typer.Exit(1)
