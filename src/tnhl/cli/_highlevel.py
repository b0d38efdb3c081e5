"""`tnhl catalog` and `tnhl call`: the HighLevel operations, listed and called from a shell."""

from __future__ import annotations

import json as jsonlib
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["register"]

_TOKEN_ENV = "TNHL_HIGHLEVEL_TOKEN"  # noqa: S105 - the variable's name, not a token
_BASE_URL_ENV = "TNHL_HIGHLEVEL_BASE_URL"


def _catalog_rows() -> list[dict[str, Any]]:
    from tnhl.mapping import catalog

    return [entry.as_json() for entry in catalog().values()]


def _parse_params(items: list[str]) -> dict[str, object]:
    params: dict[str, object] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--param")
        params[name] = value
    return params


def _fail(message: str) -> typer.Exit:
    # Plain text, unwrapped: scripts grep for HighLevel's message.
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    @app.command("catalog")
    def catalog(
        as_json: Annotated[
            bool, typer.Option("--json", help="Print a JSON array instead of a table.")
        ] = False,
    ) -> None:
        """List every trigger and action tnhl offers (recipes name them by id)."""
        rows = _catalog_rows()
        if as_json:
            sys.stdout.write(jsonlib.dumps(rows, indent=2) + "\n")
            return
        triggers = sum(r["kind"] == "trigger" for r in rows)
        title = f"tnhl's operations catalog: {triggers} triggers, {len(rows) - triggers} actions"
        table = Table(title=title)
        for column in ("id", "kind", "scopes", "summary"):
            table.add_column(column, overflow="fold")
        for row in rows:
            scopes = ", ".join(row["scopes"])
            if row.get("scope_declared") is False:
                scopes += " (assumed)"  # HighLevel's spec declares none for it
            table.add_row(row["id"], row["kind"], scopes, row["summary"])
        Console(width=200).print(table)

    @app.command("call")
    def call(
        operation_id: Annotated[str, typer.Argument(help="An operation id from `tnhl catalog`.")],
        param: Annotated[
            list[str] | None,
            typer.Option("--param", "-p", help="A path or query parameter, NAME=VALUE."),
        ] = None,
        body: Annotated[str | None, typer.Option("--json", help="The request body (JSON).")] = None,
        base_url: Annotated[
            str,
            typer.Option("--base-url", envvar=_BASE_URL_ENV, help="API base URL."),
        ] = "https://services.leadconnectorhq.com",
        token: Annotated[
            str | None,
            typer.Option(
                "--token",
                envvar=_TOKEN_ENV,
                help=f"Bearer token (PIT or OAuth access token); better in ${_TOKEN_ENV}.",
                show_default=False,
                show_envvar=True,
            ),
        ] = None,
        timeout: Annotated[float, typer.Option("--timeout", help="Seconds per request.")] = 30.0,
    ) -> None:
        """Call one operation and print HighLevel's JSON answer."""
        from tnhl.highlevel import HighLevelClient, HighLevelError, PrivateIntegrationToken

        params = _parse_params(param or [])
        payload: object | None = None
        if body is not None:
            try:
                payload = jsonlib.loads(body)
            except ValueError as exc:
                raise _fail(f"--json: not valid JSON ({exc})") from None
        if not token:
            raise _fail(f"no token: pass --token or set {_TOKEN_ENV}")
        try:
            auth = PrivateIntegrationToken(token)
            with HighLevelClient(auth, base_url=base_url, timeout=timeout) as client:
                result = client.call(operation_id, params=params, json=payload)
        except HighLevelError as exc:
            # Error messages never carry the token (see tnhl.highlevel._errors).
            raise _fail(f"{type(exc).__name__}: {exc}") from None
        sys.stdout.write(jsonlib.dumps(result, indent=2) + "\n")
