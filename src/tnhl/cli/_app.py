"""The typer application; each command module registers its commands here."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="tnhl",
    help="Sync TalkNotes contacts, tasks and notes with HighLevel.",
    no_args_is_help=True,
    add_completion=False,
)


def _register_commands() -> None:
    # Imported here, not at module top, so `tnhl --help` stays cheap and command modules
    # may import heavy packages (uvicorn, sqlalchemy) without slowing every command.
    from tnhl.cli import _highlevel

    _highlevel.register(app)
    importlib.import_module("tnhl.cli._run").register(app)
    importlib.import_module("tnhl.cli._status").register(app)
    importlib.import_module("tnhl.cli._dlq").register(app)
    importlib.import_module("tnhl.cli._profile").register(app)
    importlib.import_module("tnhl.cli._backfill").register(app)
    importlib.import_module("tnhl.cli._keys").register(app)
    importlib.import_module("tnhl.cli._send").register(app)
    importlib.import_module("tnhl.cli._recipes").register(app)
    importlib.import_module("tnhl.cli._golive").register(app)
    importlib.import_module("tnhl.cli._init").register(app)
    importlib.import_module("tnhl.cli._verify").register(app)
    importlib.import_module("tnhl.cli._auth").register(app)
    importlib.import_module("tnhl.cli._demo").register(app)
    importlib.import_module("tnhl.cli._simulate").register(app)


def main() -> None:
    _register_commands()
    app()
