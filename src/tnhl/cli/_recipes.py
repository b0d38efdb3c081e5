"""`tnhl recipes list|validate|test`: the recipes of a connection's mapping file, checked, and
what one event would make them do (a dry run: nothing is stored or sent)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tnhl.cli._run import ConfigOpt, ConnectionOpt, fail, one_connection, settings_or_exit

__all__ = ["register"]

MappingOpt = Annotated[
    Path | None,
    typer.Option("--mapping", help="A mapping file (default: the connection's mapping_file)."),
]


def _mapping(
    mapping: Path | None, config: Path | None, connection: str | None
) -> tuple[Any, dict[str, bool]]:
    """The mapping, and (for a connection's own mapping file) the recipes switched on or off
    in the dashboard, applied over it: what `tnhl run` runs."""
    from tnhl.mapping import MappingFileError, load_mapping

    zone, switched = None, {}
    if mapping is None:
        settings = settings_or_exit(config)
        conn = one_connection(settings, connection)
        mapping, zone = conn.mapping_file, conn.time_zone
        switched = _switched(settings, conn.location_id)
    try:
        loaded = load_mapping(mapping)
    except MappingFileError as exc:
        fail(str(exc))
    if zone is not None:
        due = loaded.tasks.due.model_copy(update={"timezone": zone})
        loaded = loaded.model_copy(update={"tasks": loaded.tasks.model_copy(update={"due": due})})
    if switched:
        from tnhl.sync import switch_recipes

        switch_recipes(loaded, switched)
    return loaded, switched


def _switched(settings: Any, location_id: str) -> dict[str, bool]:
    """The dashboard's switches in the store; none where there is no store yet."""
    from tnhl.store import StoreError
    from tnhl.sync import SettingsError, open_settings_store

    try:
        store = open_settings_store(settings, create=False)
    except (SettingsError, StoreError):
        return {}
    try:
        return store.recipe_switches(location_id)
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    recipes = typer.Typer(help="Recipes: triggers, conditions, actions (docs/mapping.md).")
    app.add_typer(recipes, name="recipes")

    @recipes.command("list")
    def list_(
        mapping: MappingOpt = None,
        connection: ConnectionOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """List the recipes, on or off (as switched in the dashboard, where one was), with
        their triggers and actions."""
        loaded, switched = _mapping(mapping, config, connection)
        table = Table(title=f"Recipes ({len(loaded.recipes)})")
        for column in ("name", "on", "trigger", "actions", "description"):
            table.add_column(column)
        for name, r in loaded.recipes.items():
            table.add_row(
                name,
                ("yes" if r.enabled else "no") + (" (dashboard)" if name in switched else ""),
                ", ".join(r.triggers),
                ", ".join(r.action_ids()),
                r.description,
            )
        Console(width=200).print(table)

    @recipes.command("validate")
    def validate(
        mapping: MappingOpt = None,
        connection: ConnectionOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Check the mapping file's recipes (each problem with its line; exit 2 on any)."""
        loaded, _ = _mapping(mapping, config, connection)
        on = sum(r.enabled for r in loaded.recipes.values())
        typer.echo(f"ok: {len(loaded.recipes)} recipes, {on} on")

    @recipes.command("test")
    def test(
        event_file: Annotated[
            Path, typer.Argument(help="A TalkNotes event or HighLevel webhook body (JSON).")
        ],
        mapping: MappingOpt = None,
        connection: ConnectionOpt = None,
        config: ConfigOpt = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Show what the recipes would do for one event, without storing or sending anything."""
        from tnhl.sync import dry_run

        try:
            body = json.loads(event_file.read_text(encoding="utf-8"))
        except OSError as exc:
            fail(f"{event_file}: cannot read ({exc.strerror})")
        except ValueError as exc:
            fail(f"{event_file}: not JSON ({exc})")
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            fail(f"{event_file}: type: an event is a JSON object with a string type")
        loaded, _ = _mapping(mapping, config, connection)
        runs = dry_run(body, loaded, now=time.time())
        if as_json:
            out = [{"recipe": r.recipe, "firing": r.event_id, "steps": list(r.steps)} for r in runs]
            typer.echo(json.dumps(out, indent=2))
            return
        if not runs:
            typer.echo(f"no recipe fires for this {body['type']} event")
        for r in runs:
            typer.echo(f"{r.recipe} fires:")
            for step in r.steps:
                typer.echo(f"  would {step}")
        typer.echo("(dry run: nothing stored, nothing sent)")
