"""`tnhl run`: intake, /metrics and workers in one process; helpers shared by the commands."""

from __future__ import annotations

import errno
import json
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from tnhl.mapping import MappingConfig
    from tnhl.store import SqlStore
    from tnhl.sync import ConnectionSettings, Service, Settings

__all__ = [
    "ConfigOpt",
    "DataDirOpt",
    "DatabaseOpt",
    "fail",
    "mapping_or_exit",
    "opened_store",
    "port_or_exit",
    "register",
    "secret_or_exit",
    "service_or_exit",
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
    """Print `message` to stderr as one line and exit with `code` (no traceback, never a
    secret); a JSON line when `--log-json` logging is on, so the stream stays JSON."""
    logging_module = sys.modules.get("tnhl.sync._logging")  # only set up once imported
    if logging_module is None or not logging_module.json_error(message):
        typer.echo(f"tnhl: {message}", err=True)
    raise typer.Exit(code)


def settings_or_exit(config: Path | None, **overrides: Any) -> Settings:
    """The settings, or one line naming the setting, where its value came from (the option,
    the variable, the file and line) and what is wrong, exit 2."""
    from tnhl.sync import SettingsError, load_settings

    try:
        return load_settings(config, **overrides)
    except SettingsError as exc:
        if overrides.get(exc.field) is not None:  # the command's own option gave the value
            fail(f"setting {exc.field} (--{exc.field.replace('_', '-')}): {exc.problem}")
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
    if not found:
        fail(
            "setting location_id (TNHL_LOCATION_ID): not set, and no `connections:` in the "
            "settings file (the HighLevel sub-account to act for)"
        )
    if connection is None:
        if len(found) != 1:
            names = ", ".join(c.name for c in found) or "none"
            fail(f"several connections ({names}): name one with --connection")
        return found[0]
    location = location_or_exit(settings, connection)
    return next(c for c in found if c.location_id == location)


def store_or_exit(settings: Settings, *, create: bool = False) -> SqlStore:
    """The store the settings name. Only `create=True` (`tnhl run`, `keys create`) makes a new
    one: a command that reads the store, run in the wrong folder, says where it looked
    instead of showing an empty store's zeros."""
    from tnhl.store import StoreConfigError, StoreError
    from tnhl.sync import SettingsError, open_settings_store

    try:
        return open_settings_store(settings, create=create)
    except SettingsError as exc:
        fail(str(exc))
    except StoreConfigError as exc:
        fail(f"setting {exc}")
    except StoreError as exc:
        fail(f"cannot open the store: {exc}")


def mapping_or_exit(settings: Settings, conn: ConnectionSettings) -> MappingConfig:
    """The connection's mapping, or one line naming its setting and the file's first problem
    (with their count: `tnhl recipes validate` lists them all)."""
    from tnhl.mapping import MappingError, MappingFileError, load_mapping
    from tnhl.sync import SettingsError

    try:
        return load_mapping(conn.mapping_file)
    except MappingError as exc:
        issues = exc.issues if isinstance(exc, MappingFileError) else [exc]
        more = f" (and {len(issues) - 1} more: `tnhl recipes validate`)" if len(issues) > 1 else ""
        field = f"connections[{conn.name}].mapping_file" if settings.connections else "mapping_file"
        fail(str(SettingsError(field, f"{issues[0]}{more}")))


def secret_or_exit(settings: Settings, conn: ConnectionSettings) -> None:
    """The connection's TalkNotes secret, when set, is a usable `whsec_` secret; else one
    line naming its setting (never the value). Checked where it is used (intake, `send`),
    not at load: `status` and `verify` must still work beside a broken secret."""
    from tnhl.sync import SettingsError
    from tnhl.talknotes import SecretFormatError, decode_secret

    secret = conn.talknotes_secret
    if secret is None or not secret.get_secret_value():
        return  # "not set" is named where a secret is required
    try:
        decode_secret(secret.get_secret_value())
    except SecretFormatError as exc:
        field = f"connections[{conn.name}].talknotes_secret" if settings.connections else ""
        fail(str(SettingsError(field or "talknotes_secret", str(exc))))


def port_or_exit(settings: Settings) -> None:
    """`tnhl run` binds its port before anything starts: in use is one line, not a server
    that logs "tnhl running" and then dies. uvicorn binds the same way (SO_REUSEADDR), so a
    port this check passes is one uvicorn can take, short of a race with another program."""
    host, port = settings.host, settings.port
    if port == 0:  # any free port
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                fail(
                    f"setting port (--port / TNHL_PORT): port {port} on {host} is in use; stop "
                    "what listens there or choose another port"
                )
            if exc.errno == errno.EACCES:
                fail(
                    f"setting port (--port / TNHL_PORT): port {port} needs more privileges "
                    "than this user has; choose one above 1023"
                )
            fail(
                f"setting host (--host / TNHL_HOST): cannot listen on {host}: {exc.strerror or exc}"
            )


def service_or_exit(settings: Settings, *, intake: bool = True) -> Service:
    """The service (`intake=False`: workers only), or one line naming the setting at fault:
    a missing or malformed secret, URL, key or mapping file, or a store that cannot open."""
    from tnhl.highlevel import ConfigurationError
    from tnhl.store import StoreConfigError, StoreError
    from tnhl.sync import Service, SettingsError

    for conn in settings.connection_list():
        mapping_or_exit(settings, conn)
        if intake:
            secret_or_exit(settings, conn)
    try:
        return Service.from_settings(settings, intake=intake)
    except (SettingsError, ConfigurationError) as exc:
        fail(str(exc))
    except StoreConfigError as exc:
        fail(f"setting {exc}")
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
        from tnhl.sync import configure_logging

        if log_json:  # even a setting's error is then a JSON line
            configure_logging(json_lines=True)
        settings = settings_or_exit(
            config,
            host=host,
            port=port,
            data_dir=data_dir,
            workers=workers,
            log_json=log_json or None,
        )
        configure_logging(json_lines=settings.log_json, level=settings.log_level)
        port_or_exit(settings)  # before the store opens, workers start or "tnhl running"
        service_or_exit(settings).serve()

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
        from tnhl.sync import configure_logging

        if log_json:
            configure_logging(json_lines=True)
        settings = settings_or_exit(
            config, data_dir=data_dir, workers=workers, log_json=log_json or None
        )
        if settings.rate_limit_state is None:
            settings = settings.model_copy(update={"rate_limit_state": "sqlite"})
        configure_logging(json_lines=settings.log_json, level=settings.log_level)
        service_or_exit(settings, intake=False).serve_workers()
