"""`tnhl status [--json]`: events by state, the oldest pending age, rate-limit state;
`tnhl events list`: the newest events; `tnhl events show ID`: one event with its outcome,
warnings and record."""

from __future__ import annotations

import json
import time
from contextlib import closing
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tnhl.cli._run import ConfigOpt, ConnectionOpt, DatabaseOpt, DataDirOpt, fail, opened_store

__all__ = ["register"]

_STATES = ("received", "pending", "done", "skipped", "dead")


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status(
        as_json: Annotated[
            bool, typer.Option("--json", help="Print JSON instead of tables.")
        ] = False,
        connection: ConnectionOpt = None,
        config: ConfigOpt = None,
        data_dir: DataDirOpt = None,
        database_url: DatabaseOpt = None,
    ) -> None:
        """Show events by state, the oldest pending event's age and rate-limit state, in all
        and per connection (only one with --connection)."""
        from tnhl.cli._run import fail, location_or_exit, settings_or_exit, store_or_exit
        from tnhl.store import StoreError
        from tnhl.sync import status_report

        settings = settings_or_exit(config, data_dir=data_dir, database_url=database_url)
        location_or_exit(settings, connection)
        store = store_or_exit(settings)
        try:
            try:
                report = status_report(store, settings, connection=connection)
            finally:
                store.close()
        except StoreError as exc:
            fail(f"cannot read the store: {exc}")
        if as_json:
            typer.echo(json.dumps(report, indent=2))
            return
        console = Console()
        _connections(console, report["connections"])
        if connection is not None:
            return
        events = Table(title="Events")
        events.add_column("state")
        events.add_column("count", justify="right")
        for state, n in report["events"].items():
            events.add_row(state, str(n))
        console.print(events)
        age = report["oldest_pending_age_seconds"]
        console.print(f"oldest pending: {'none' if age is None else f'{age:.1f} s'}")
        console.print(f"leased now: {report['leased']}   dead letters: {report['dead_letters']}")
        console.print(
            f"waiting for their contact or content: {report['records_waiting']}   "
            f"events with warnings: {report['events_with_warnings']} "
            "(see `tnhl events show ID`)"
        )
        for loc, n in report["unserved"].items():
            console.print(
                f"[bold red]{n} unfinished or dead events under location {loc}, which no "
                "connection serves[/bold red]: if its location_id was wrong and is now "
                f"corrected, `tnhl events move {loc} --to-connection NAME`"
            )
        if report["rate_limits"]:
            limits = Table(title="Rate limits")
            for col in ("location", "used", "remaining", "daily remaining", "paused for"):
                limits.add_column(col)
            for loc, s in report["rate_limits"].items():
                limits.add_row(
                    loc,
                    f"{s['used_in_window']}/{s['limit']} per {s['interval_seconds']:g} s",
                    str(s["remaining"]),
                    str(s["daily_remaining"]),
                    f"{s['paused_for_seconds']:g} s",
                )
            console.print(limits)

    events_app = typer.Typer(help="Look at stored events.", no_args_is_help=True)
    app.add_typer(events_app, name="events")

    @events_app.command("list")
    def list_(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        state: Annotated[
            str | None,
            typer.Option("--state", help="Only events in this state: " + ", ".join(_STATES)),
        ] = None,
        limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
        contact: Annotated[
            str | None,
            typer.Option("--contact", help="Only one contact's events (your id; HighLevel's too)."),
        ] = None,
        source: Annotated[
            str | None, typer.Option("--source", help="talknotes, highlevel or recipe.")
        ] = None,
        since: Annotated[
            str | None,
            typer.Option("--since", help="Only events received since: 30m, 2h, 1d or ISO 8601."),
        ] = None,
        connection: ConnectionOpt = None,
        config: ConfigOpt = None,
        data_dir: DataDirOpt = None,
        database_url: DatabaseOpt = None,
    ) -> None:
        """List the newest events, oldest first (of one connection with --connection)."""
        from tnhl.cli._run import location_or_exit, print_rows, settings_or_exit, store_or_exit
        from tnhl.sync import event_summary

        if state is not None and state not in _STATES:
            fail(f"--state: {state!r} is not a state (one of {', '.join(_STATES)})")
        if source is not None and source not in _SOURCES:
            fail(f"--source: {source!r} is not a source (one of {', '.join(_SOURCES)})")
        start = None if since is None else _since(since, time.time())
        settings = settings_or_exit(config, data_dir=data_dir, database_url=database_url)
        location = location_or_exit(settings, connection)
        store = store_or_exit(settings)
        try:
            found = store.list_events(
                location_id=location,
                state=state,
                limit=limit,
                source=source,
                entity_key=contact,
                since=start,
            )
            rows = [event_summary(e) for e in found]
        finally:
            store.close()
        columns = [
            ("id", lambda r: str(r["id"])),
            ("source", lambda r: r["source"]),
            ("type", lambda r: r["event_type"]),
            ("entity", lambda r: r["entity"]),
            ("state", lambda r: r["state"]),
            ("tries", lambda r: str(r["attempts"])),
            ("outcome", lambda r: (r["outcome"] or "")[:80]),
        ]
        print_rows(rows, as_json=as_json, title="Events", columns=columns)

    @events_app.command("move")
    def move(
        from_location: Annotated[
            str, typer.Argument(help="The location id the events are filed under.")
        ],
        to_connection: Annotated[
            str, typer.Option("--to-connection", help="The connection they belong to.")
        ],
        config: ConfigOpt = None,
        data_dir: DataDirOpt = None,
        database_url: DatabaseOpt = None,
    ) -> None:
        """Move the unfinished and dead TalkNotes events of a location no connection serves
        (its location_id was wrong, then corrected) to the connection they belong to; a
        running `tnhl run` then sends them."""
        from tnhl.cli._run import fail, settings_or_exit, store_or_exit
        from tnhl.sync import SettingsError, move_location

        settings = settings_or_exit(config, data_dir=data_dir, database_url=database_url)
        with closing(store_or_exit(settings)) as store:
            try:
                moved, skipped = move_location(store, settings, from_location, to_connection)
            except SettingsError as exc:
                fail(str(exc))
        extra = f"; {skipped} skipped, already received there" if skipped else ""
        typer.echo(f"{moved} events moved from {from_location} to {to_connection}{extra}")

    @events_app.command("show")
    def show(
        inbox_id: Annotated[int, typer.Argument(help="The event's inbox id.")],
        config: ConfigOpt = None,
        data_dir: DataDirOpt = None,
        database_url: DatabaseOpt = None,
    ) -> None:
        """Show one event as JSON: state, result or error, warnings, body and its record."""
        from tnhl.store import RecordNotFoundError
        from tnhl.sync import event_detail

        with opened_store(config, data_dir, database_url) as store:
            try:
                detail = event_detail(store, inbox_id)
            except RecordNotFoundError as exc:
                fail(str(exc))
        typer.echo(json.dumps(detail, indent=2, default=str))


_SOURCES = ("talknotes", "highlevel", "recipe")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _since(text: str, now: float) -> float:
    """`--since`: a span back from now (`30m`, `2h`, `1d`) or an ISO 8601 time."""
    value = text.strip()
    if value[:-1].isdigit() and value[-1:] in _UNITS:
        return now - int(value[:-1]) * _UNITS[value[-1]]
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--since: {text!r} is neither a span (30m, 2h, 1d) nor an ISO 8601 time")
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _connections(console: Console, connections: list[dict[str, Any]]) -> None:
    table = Table(title="Connections")
    for col in ("name", "location", "received", "pending", "done", "dead", "oldest", "health"):
        table.add_column(col)
    for c in connections:
        ev = c["events"]
        age = c["oldest_pending_age_seconds"]
        table.add_row(
            c["name"],
            c["location_id"],
            *(str(ev.get(state, 0)) for state in ("received", "pending", "done", "dead")),
            "-" if age is None else f"{age:.1f} s",
            c["health"],
        )
    console.print(table)
