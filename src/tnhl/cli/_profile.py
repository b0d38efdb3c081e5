"""`tnhl profile CONTACT`: a contact's profile (fields, tasks, notes, upcoming appointments) as
tnhl holds it from HighLevel, the same body `profile.updated` carries."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.console import Console

from tnhl.cli._run import (
    ConfigOpt,
    ConnectionOpt,
    DatabaseOpt,
    DataDirOpt,
    fail,
    one_connection,
    settings_or_exit,
    store_or_exit,
)

__all__ = ["register"]


def _line(item: dict[str, Any], *keys: str) -> str:
    parts = [str(item[k]) for k in keys if item.get(k) not in (None, "", [])]
    ids = f"(HighLevel {item['highlevel_id']}" + (f", yours {item['id']})" if item["id"] else ")")
    return " - ".join(parts) + f"  [dim]{ids}[/dim]"


def _show(data: dict[str, Any]) -> None:
    console = Console()
    console.print(f"[bold]{data.get('full_name') or '(no name)'}[/bold]")
    for key in ("email", "phone"):
        if data.get(key):
            console.print(f"{key}: {data[key]}")
    if data.get("tags"):
        console.print("tags: " + ", ".join(data["tags"]))
    for name, value in sorted((data.get("custom_fields") or {}).items()):
        console.print(f"custom field {name}: {value}")
    console.print(f"[dim]HighLevel {data['highlevel_id']}, yours {data['id'] or '(not linked)'}")
    sections = (
        ("Open tasks", data["tasks"]["open"], ("taskName", "dueDate", "description")),
        ("Completed tasks", data["tasks"]["completed"], ("taskName", "dueDate")),
        ("Notes", data["notes"], ("noteContent",)),
        ("Upcoming appointments", data["appointments"], ("startTime", "title", "status")),
    )
    for title, items, keys in sections:
        console.print(f"\n[bold]{title}[/bold] ({len(items)})")
        for item in items:
            console.print("  " + _line(item, *keys))


def register(app: typer.Typer) -> None:
    @app.command("profile")
    def profile(
        contact: Annotated[
            str, typer.Argument(help="The contact: your (TalkNotes) id or its HighLevel id.")
        ],
        as_json: Annotated[bool, typer.Option("--json", help="Print the JSON body.")] = False,
        connection: ConnectionOpt = None,
        config: ConfigOpt = None,
        data_dir: DataDirOpt = None,
        database_url: DatabaseOpt = None,
    ) -> None:
        """Show a contact's profile as tnhl holds it from HighLevel."""
        from tnhl.sync import stored_profile

        settings = settings_or_exit(config, data_dir=data_dir, database_url=database_url)
        location = one_connection(settings, connection).location_id
        store = store_or_exit(settings)
        try:
            hl_id = store.get_highlevel_id(location, "contact", contact) or contact
            body = stored_profile(store, location, hl_id, time.time())
        finally:
            store.close()
        if body is None:
            fail(
                f"no profile of contact {contact!r}: tnhl has heard nothing of it from HighLevel "
                "(profiles need talknotes_outbound_url), or it was deleted"
            )
        if as_json:
            typer.echo(json.dumps(body, indent=2))
            return
        _show(body["data"])
