"""`tnhl backfill --to-talknotes | --to-highlevel FILE`: what one side held before the
connection, sent to the other (sync/_backfill.py). Resumable: run it again after a kill."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from tnhl.cli._run import (
    ConfigOpt,
    ConnectionOpt,
    DatabaseOpt,
    DataDirOpt,
    fail,
    mapping_or_exit,
    one_connection,
    settings_or_exit,
    store_or_exit,
)

if TYPE_CHECKING:
    from tnhl.store import SqlStore
    from tnhl.sync import BackfillReport, ConnectionSettings, Settings

__all__ = ["register"]

Progress_ = Callable[[int, int | None], None]


def register(app: typer.Typer) -> None:
    @app.command("backfill")
    def backfill(
        to_talknotes: Annotated[
            bool,
            typer.Option(
                "--to-talknotes", help="HighLevel's contacts, tasks and notes to your app."
            ),
        ] = False,
        to_highlevel: Annotated[
            Path | None,
            typer.Option(
                "--to-highlevel",
                help="A file of your app's events (one JSON body per line) to HighLevel.",
            ),
        ] = None,
        restart: Annotated[
            bool, typer.Option("--restart", help="Start --to-talknotes over from the first.")
        ] = False,
        connection: ConnectionOpt = None,
        config: ConfigOpt = None,
        data_dir: DataDirOpt = None,
        database_url: DatabaseOpt = None,
    ) -> None:
        """Send what one side already holds to the other; a running `tnhl run` delivers it."""
        if to_talknotes == (to_highlevel is not None):
            fail("give one of --to-talknotes or --to-highlevel FILE")
        settings = settings_or_exit(config, data_dir=data_dir, database_url=database_url)
        conn = one_connection(settings, connection)
        if to_talknotes and conn.outbound() is None:
            fail(f"connection {conn.name} has no talknotes_outbound_url to send HighLevel's to")
        store = store_or_exit(settings, create=True)  # it may come before the first run
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        try:
            with Progress(*columns) as bar:
                task = bar.add_task("backfill", total=None)

                def progress(done: int, total: int | None) -> None:
                    bar.update(task, completed=done, total=total)

                if to_highlevel is not None:
                    bar.update(task, description="to HighLevel")
                    report = _to_highlevel(store, conn.location_id, to_highlevel, progress)
                else:
                    bar.update(task, description="to TalkNotes")
                    report = _to_talknotes(settings, conn, store, restart, progress)
        finally:
            store.close()
        for problem in report.problems:
            typer.echo(f"not stored: {problem}", err=True)
        typer.echo(
            f"{report.read} read, {report.stored} new events stored, {report.linked} linked"
            f"{f', {len(report.problems)} refused' if report.problems else ''}; "
            "a running `tnhl run` delivers them"
        )
        if report.problems:
            raise typer.Exit(1)


def _to_highlevel(
    store: SqlStore, location_id: str, path: Path, progress: Progress_
) -> BackfillReport:
    from tnhl.sync import backfill_to_highlevel

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        fail(f"{path}: cannot read ({exc.strerror})")
    total = sum(1 for line in lines if line.strip())
    return backfill_to_highlevel(
        store, location_id, lines, progress=lambda done, _: progress(done, total)
    )


def _to_talknotes(
    settings: Settings,
    conn: ConnectionSettings,
    store: SqlStore,
    restart: bool,
    progress: Progress_,
) -> BackfillReport:
    from tnhl.highlevel import ConfigurationError
    from tnhl.sync import SettingsError, backfill_to_talknotes, connection_call

    mapping = mapping_or_exit(settings, conn)
    try:
        call, clients = connection_call(settings, conn)
    except (ConfigurationError, SettingsError) as exc:
        fail(str(exc))
    if restart:
        store.set_cursor(f"backfill-to-talknotes:{conn.location_id}", "")
    try:
        return backfill_to_talknotes(store, call, conn.location_id, mapping, progress=progress)
    finally:
        for client in clients:
            client.close()
