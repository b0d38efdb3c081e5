"""`tnhl simulate`: a local HighLevel for trying tnhl, demos and field-mapping tests."""

from __future__ import annotations

import ipaddress
import shlex
import socket
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]

DEFAULT_PORT = 8787


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    # Bind before printing, so the printed URL (and the port, when 0 asked for a free one)
    # is already accepting connections when a script reads it. The shared helper makes the
    # socket IPPROTO_TCP, so every accepted connection gets TCP_NODELAY (no ~40 ms stalls).
    from tnhl.simulator import bind_listening_socket

    try:
        return bind_listening_socket(host, port)
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot listen on {host}:{port} ({exc.strerror})", param_hint="--port"
        ) from None


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate(
        host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
        port: Annotated[
            int, typer.Option(help="Port to listen on (0 picks a free one).")
        ] = DEFAULT_PORT,
        state: Annotated[
            Path | None, typer.Option(help="SQLite file that keeps the state across restarts.")
        ] = None,
        token: Annotated[
            str | None,
            typer.Option(help="Private Integration Token to accept (default: generated)."),
        ] = None,
        location_id: Annotated[
            str | None, typer.Option("--location-id", help="Location the token belongs to.")
        ] = None,
        config: Annotated[
            Path | None,
            typer.Option(help="YAML or JSON file: locations, tokens, limits, webhooks, faults."),
        ] = None,
    ) -> None:
        """Run a local HighLevel (contacts API v2, OAuth, rate limits, webhooks, faults)."""
        from tnhl.simulator import ConfigError, SimulatorConfig, build_simulator, load_config

        try:
            cfg = load_config(config) if config is not None else SimulatorConfig()
        except ConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from None
        if state is not None:
            cfg = cfg.model_copy(update={"state_file": state})
        cfg = cfg.with_defaults(token=token, location_id=location_id)
        sock = _bind(host, port)
        bound_port = sock.getsockname()[1]
        # A wildcard address is where it listens, not where a client should connect.
        wildcard = {"0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104
        shown = wildcard.get(host, host)
        shown_host = f"[{shown}]" if ":" in shown else shown
        base_url = f"http://{shown_host}:{bound_port}"
        parts = build_simulator(cfg)
        # The key its webhooks are signed with, as the one-line form tnhl's setting takes.
        key_line = "".join(parts.webhooks.public_key_pem().strip().splitlines()[1:-1])
        lines = [
            f"HighLevel simulator listening on {base_url}",
            f"  token:       {parts.token}",
            f"  location id: {parts.location_id}",
            f"  state:       {cfg.state_file or 'in memory (lost on exit)'}",
            f"  admin:       {base_url}/_admin/state  (requests: {base_url}/_admin/requests)",
            "Point a client at it:",
            f"  export TNHL_HIGHLEVEL_BASE_URL={shlex.quote(base_url)}"
            f" TNHL_HIGHLEVEL_TOKEN={shlex.quote(parts.token)}"
            f" TNHL_LOCATION_ID={shlex.quote(parts.location_id)}",
            f"  export TNHL_HIGHLEVEL_WEBHOOK_KEY={key_line}"
            f"   # verifies its webhooks ({base_url}/_admin/webhooks/public-key)",
        ]
        if len(cfg.tokens) > 1:
            # Several sub-accounts (a `connections:` list in tnhl's settings): each one's token.
            lines.append("Every token and its location:")
            lines += [f"  {t.token.get_secret_value()}  {t.location_id}" for t in cfg.tokens]
        if not _is_loopback(host):
            lines.append(
                "warning: listening beyond loopback; /_admin still answers loopback clients only"
            )
        typer.echo("\n".join(lines))

        import uvicorn

        server = uvicorn.Server(
            uvicorn.Config(parts.app, log_level="warning", access_log=False, lifespan="on")
        )
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()
