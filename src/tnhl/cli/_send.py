"""`tnhl send FILE.json` and `tnhl trigger TYPE [--field k=v ...]`: post a signed TalkNotes
event to a running tnhl, as TalkNotes would (like `stripe trigger`). The event is signed with
the connection's `talknotes_secret` under a fresh webhook-id; tnhl's answer is printed."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from tnhl.cli._run import (
    ConfigOpt,
    ConnectionOpt,
    DatabaseOpt,
    DataDirOpt,
    fail,
    one_connection,
    secret_or_exit,
    settings_or_exit,
)

__all__ = ["SAMPLES", "register", "sample_event"]

_CONTACT = {"id": "sample-contact-1", "full_name": "Sam Sample", "email": "sam@example.com"}
_TASK = {"id": "sample-task-1", "contactId": "sample-contact-1", "taskName": "Call Sam back"}
_NOTE = {
    "id": "sample-note-1",
    "contactId": "sample-contact-1",
    "noteContent": "Call Sam back Friday at 3pm about the quote. The contract was signed today.",
}
# A valid body for every TalkNotes event type (docs/talknotes-contract.md).
SAMPLES: dict[str, dict[str, Any]] = {
    "contact.created": _CONTACT,
    "contact.updated": {"id": _CONTACT["id"], "phone": "+14155550142"},
    "contact.deleted": {"id": _CONTACT["id"]},
    "task.created": {**_TASK, "dueDate": "Friday 3pm"},
    "task.updated": {**_TASK, "taskName": "Call Sam back about the quote"},
    "task.completed": {**_TASK, "completed": True},
    "note.created": _NOTE,
    "note.updated": {**_NOTE, "noteContent": "Call Sam back Monday at 3pm about the quote."},
    "note.deleted": {"id": _NOTE["id"], "contactId": _NOTE["contactId"]},
}


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)  # true, 3, null, "x", [..]
    except ValueError:
        return raw


def sample_event(type_: str, fields: list[str], now: datetime) -> dict[str, Any]:
    """The sample of `type_` with `k=v` fields set in its data, stamped `now`."""
    if type_ not in SAMPLES:
        raise ValueError(f"unknown type {type_!r} (one of {', '.join(SAMPLES)})")
    data = dict(SAMPLES[type_])
    for field in fields:
        key, sep, raw = field.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--field {field!r}: write it as name=value")
        data[key.strip()] = _value(raw)
    stamp = now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return {"type": type_, "timestamp": stamp, "data": data}


def _post(
    body: bytes, *, url: str | None, connection: str | None, config: Path | None, **kw: Any
) -> None:
    import httpx

    from tnhl.talknotes import sign

    settings = settings_or_exit(config, **kw)
    conn = one_connection(settings, connection)
    secret = conn.talknotes_secret if settings.connections else settings.talknotes_secret
    if secret is None or not secret.get_secret_value():
        fail(f"connection {conn.name} has no talknotes_secret to sign with")
    secret_or_exit(settings, conn)
    path = f"/webhooks/talknotes/{conn.name}" if settings.connections else "/webhooks/talknotes"
    target = url or f"http://{settings.host}:{settings.port}{path}"
    headers = sign(secret.get_secret_value(), f"msg_{uuid.uuid4().hex}", int(time.time()), body)
    try:
        answer = httpx.post(target, content=body, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {target}: {type(exc).__name__} (is `tnhl run` running?)")
    typer.echo(f"{answer.status_code} {answer.text}")
    if answer.status_code >= 300:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    @app.command("send")
    def send(
        file: Annotated[Path, typer.Argument(help="A TalkNotes event body (JSON).")],
        url: Annotated[str | None, typer.Option("--url", help="Where tnhl listens.")] = None,
        connection: ConnectionOpt = None,
        config: ConfigOpt = None,
        data_dir: DataDirOpt = None,
        database_url: DatabaseOpt = None,
    ) -> None:
        """Sign a TalkNotes event from a file and post it to a running tnhl."""
        try:
            body = file.read_bytes()
        except OSError as exc:
            fail(f"{file}: cannot read ({exc.strerror})")
        _post(
            body,
            url=url,
            connection=connection,
            config=config,
            data_dir=data_dir,
            database_url=database_url,
        )

    @app.command("trigger")
    def trigger(
        type_: Annotated[str, typer.Argument(metavar="TYPE", help="e.g. note.created")],
        field: Annotated[
            list[str] | None, typer.Option("--field", help="name=value in data (repeatable).")
        ] = None,
        url: Annotated[str | None, typer.Option("--url", help="Where tnhl listens.")] = None,
        connection: ConnectionOpt = None,
        config: ConfigOpt = None,
        data_dir: DataDirOpt = None,
        database_url: DatabaseOpt = None,
    ) -> None:
        """Post a signed sample event of TYPE to a running tnhl (its data set by --field)."""
        try:
            event = sample_event(type_, field or [], datetime.now(UTC))
        except ValueError as exc:
            fail(str(exc))
        _post(
            json.dumps(event).encode(),
            url=url,
            connection=connection,
            config=config,
            data_dir=data_dir,
            database_url=database_url,
        )
