"""`tnhl run`: intake, /metrics and workers in one process; helpers shared by the commands."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from tnhl.store import SqlStore
    from tnhl.sync import ConnectionSettings, Settings

__all__ = [
    "ConfigOpt",
    "DataDirOpt",
    "DatabaseOpt",
    "fail",
    "opened_store",
    "register",
    "settings_or_exit",
    "store_or_exit",
]

# The options every command that reads the store takes.
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML settings file.")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="TNHL_DATA_DIR")]
DatabaseOpt = Annotated[str | None, typer.Option("--database-url", help="TNHL_DATABASE_URL")]
ConnectionOpt = Annotated[
    str | None, typer.Option("--connection", help="Only this connection (its name).")
]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `message` to stderr and exit with `code` (no traceback, never a secret)."""
    typer.echo(f"tnhl: {message}", err=True)
    raise typer.Exit(code)


def settings_or_exit(config: Path | None, **overrides: Any) -> Settings:
    from tnhl.sync import SettingsError, load_settings

    try:
        return load_settings(config, **overrides)
    except SettingsError as exc:
        fail(str(exc))


def location_or_exit(settings: Settings, connection: str | None) -> str | None:
    """The location of the connection named `connection` (None: all), or a clear exit."""
    if connection is None:
        return None
    for c in settings.connection_list():
        if c.name == connection:
            return c.location_id
    known = ", ".join(c.name for c in settings.connection_list()) or "none"
    fail(f"no connection named {connection!r} (configured: {known})")


def one_connection(settings: Settings, connection: str | None) -> ConnectionSettings:
    """The connection named `connection`, or the only one; a clear exit when there are several
    and none is named."""
    found = settings.connection_list()
    if connection is None:
        if len(found) != 1:
            names = ", ".join(c.name for c in found) or "none"
            fail(f"several connections ({names}): name one with --connection")
        return found[0]
    location = location_or_exit(settings, connection)
    return next(c for c in found if c.location_id == location)


def store_or_exit(settings: Settings) -> SqlStore:
    from tnhl.store import StoreError
    from tnhl.sync import open_settings_store

    try:
        return open_settings_store(settings)
    except StoreError as exc:
        fail(f"cannot open the store: {exc}")


def print_rows(
    rows: list[dict[str, Any]],
    *,
    as_json: bool,
    title: str,
    columns: Sequence[tuple[str, Callable[[dict[str, Any]], str]]],
) -> None:
    """`rows` as JSON, or as a table of `columns` (heading, cell of a row)."""
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{title} ({len(rows)})")
    for heading, _ in columns:
        table.add_column(heading)
    for r in rows:
        table.add_row(*(cell(r) for _, cell in columns))
    Console().print(table)


@contextmanager
def opened_store(
    config: Path | None, data_dir: Path | None, database_url: str | None
) -> Iterator[SqlStore]:
    """The store the settings name, closed afterwards; a clear exit when it cannot open."""
    store = store_or_exit(settings_or_exit(config, data_dir=data_dir, database_url=database_url))
    try:
        yield store
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        host: Annotated[
            str | None, typer.Option("--host", help="Interface to listen on (TNHL_HOST).")
        ] = None,
        port: Annotated[int | None, typer.Option("--port", help="Port (TNHL_PORT).")] = None,
        config: Annotated[Path | None, typer.Option("--config", help="YAML settings file.")] = None,
        data_dir: Annotated[Path | None, typer.Option("--data-dir", help="TNHL_DATA_DIR")] = None,
        workers: Annotated[int | None, typer.Option("--workers", help="Worker threads.")] = None,
        log_json: Annotated[bool, typer.Option("--log-json", help="Log JSON lines.")] = False,
    ) -> None:
        """Run the service: webhook intake, /metrics and the sync workers, in one process."""
        from tnhl.sync import Service, SettingsError, configure_logging

        settings = settings_or_exit(
            config,
            host=host,
            port=port,
            data_dir=data_dir,
            workers=workers,
            log_json=log_json or None,
        )
        configure_logging(json_lines=settings.log_json, level=settings.log_level)
        try:
            service = Service.from_settings(settings)
        except SettingsError as exc:
            fail(str(exc))
        service.serve()

    @app.command("worker")
    def worker(
        config: Annotated[Path | None, typer.Option("--config", help="YAML settings file.")] = None,
        data_dir: Annotated[Path | None, typer.Option("--data-dir", help="TNHL_DATA_DIR")] = None,
        workers: Annotated[int | None, typer.Option("--workers", help="Worker threads.")] = None,
        log_json: Annotated[bool, typer.Option("--log-json", help="Log JSON lines.")] = False,
    ) -> None:
        """Run sync workers only (no intake), beside `tnhl run` or other workers.

        Workers share the store (leases keep them apart) and, so that together they stay
        within HighLevel's limit, the rate-limit windows: `rate_limit_state` defaults to
        `sqlite` here (processes on one machine); use a redis:// URL across machines.
        """
        from tnhl.sync import Service, SettingsError, configure_logging

        settings = settings_or_exit(
            config, data_dir=data_dir, workers=workers, log_json=log_json or None
        )
        if settings.rate_limit_state is None:
            settings = settings.model_copy(update={"rate_limit_state": "sqlite"})
        configure_logging(json_lines=settings.log_json, level=settings.log_level)
        try:
            service = Service.from_settings(settings, intake=False)
        except SettingsError as exc:
            fail(str(exc))
        service.serve_workers()
