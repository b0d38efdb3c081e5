"""`tnhl init` and `tnhl secret new`: the setup without Python.

`init` asks a few questions (each answerable by a flag, for scripts), makes the secrets, and
writes a commented `tnhl.yaml` with mode 0600 that `load_settings` reads as it is; it then
shows what to paste into TalkNotes. Secrets go to the terminal once, on stdout, and nowhere
else (no log line, no error message).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from tnhl.cli._run import fail

__all__ = ["CONFIG_NAME", "register", "render_config"]

CONFIG_NAME = "tnhl.yaml"
DEFAULT_BASE_URL = "https://services.leadconnectorhq.com"


def _line(key: str, value: Any) -> str:
    # safe_dump quotes what YAML would read as another type (a location id of digits, "on").
    return yaml.safe_dump({key: value}, default_flow_style=False, width=1_000_000).strip()


def render_config(values: dict[str, Any], *, written: datetime | None = None) -> str:
    """The commented settings file for `values` (setting name -> value; None: left out)."""
    when = (written or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")

    def put(key: str, *comments: str) -> list[str]:
        value = values.get(key)
        if value is None:
            return []
        return [*(f"# {c}" for c in comments), _line(key, value)]

    token = put(
        "highlevel_token",
        "A Private Integration Token of that sub-account (Settings > Private Integrations)",
        "with the scopes contacts.readonly and contacts.write.",
    ) or [
        "# The sub-account's Private Integration Token (scopes contacts.readonly and",
        "# contacts.write): here, or in the environment as TNHL_HIGHLEVEL_TOKEN.",
        "# highlevel_token: pit-...",
    ]
    about_public = [
        "The https address TalkNotes and HighLevel reach this tnhl at (a TLS proxy in front of",
        "host:port); `tnhl verify` checks that webhooks get through it.",
    ]
    public = put("public_url", *about_public) or [
        *(f"# {c}" for c in about_public),
        "# public_url: https://tnhl.example.com",
    ]
    outbound = put(
        "talknotes_outbound_url", "HighLevel's changes are POSTed to your app at this URL,"
    ) + put("talknotes_outbound_secret", "signed with this secret (Standard Webhooks).")
    sections = [
        [
            f"# tnhl settings, written by `tnhl init` on {when}.",
            "# Every setting is described in docs/configuration.md; TNHL_* environment",
            "# variables override this file. It holds secrets: keep it private (mode 0600)",
            "# and out of version control.",
        ],
        [
            *put("highlevel_base_url", "HighLevel's API (or a `tnhl simulate` URL)."),
            *put("location_id", "The HighLevel sub-account (location) tnhl keeps in sync."),
            *token,
        ],
        put(
            "talknotes_secret",
            "TalkNotes signs its webhooks to /webhooks/talknotes with this secret.",
        ),
        outbound,
        put("admin_password", "The password the dashboard at / asks for."),
        put(
            "token_file_key",
            "The key of the encrypted OAuth token file (used only with OAuth tokens).",
        ),
        [
            *put("data_dir", "Where the store (tnhl.db) lives."),
            "# Where `tnhl run` listens; TalkNotes needs it behind a public HTTPS address.",
            _line("host", "127.0.0.1"),
            _line("port", 8080),
        ],
        public,
    ]
    return "\n\n".join("\n".join(s) for s in sections if s) + "\n"


def _ask(
    value: str | None, yes: bool, question: str, default: str | None, hide: bool = False
) -> str:
    if value is not None:
        return value.strip()
    if yes:
        return default or ""
    answer: str = typer.prompt(
        question, default=default, hide_input=hide, show_default=bool(default)
    )
    return answer.strip()


def _write_new(path: Path, text: str, *, force: bool) -> None:
    """Write `text` to `path` with mode 0600, after `load_settings` accepted it; never over an
    existing file unless `force` (then atomically)."""
    from tnhl.sync import SettingsError, load_settings

    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tnhl-init-", suffix=".yaml")
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o600)  # mkstemp's mode already; said again, as it is the point
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        try:
            load_settings(tmp)
        except SettingsError as exc:  # named as the file it would have been
            fail(f"not written: {str(exc).replace(str(tmp), str(path))}")
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if the file appeared meanwhile: never overwritten
            except FileExistsError:
                fail(f"{path} exists; use --force to replace it")
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _next_steps(path: Path, values: dict[str, Any]) -> None:
    echo = typer.echo
    echo(f"wrote {path} (mode 0600: it holds secrets; keep it out of version control)")
    echo("")
    echo("In TalkNotes, add a webhook:")
    if values.get("public_url"):
        echo(f"  URL:     {values['public_url']}/webhooks/talknotes")
        echo("           (the proxy at that address forwards to tnhl on 127.0.0.1:8080)")
    else:
        echo("  URL:     https://<this machine's public address>/webhooks/talknotes")
        echo("           (tnhl listens on 127.0.0.1:8080: put it behind HTTPS, e.g. a reverse")
        echo("           proxy or a tunnel, and set public_url to that address)")
    echo(f"  secret:  {values['talknotes_secret']}")
    if values.get("talknotes_outbound_url"):
        echo(f"Your app checks what tnhl sends to {values['talknotes_outbound_url']} with:")
        echo(f"  secret:  {values['talknotes_outbound_secret']}")
    echo(f"Dashboard (http://127.0.0.1:8080/) password: {values['admin_password']}")
    echo("These secrets are shown this once (they are in the file too).")
    echo("")
    if values.get("highlevel_token") is None and not os.environ.get("TNHL_HIGHLEVEL_TOKEN"):
        echo("Set the token first: export TNHL_HIGHLEVEL_TOKEN=pit-...")
    echo("Next:")
    echo(f"  tnhl verify --config {path}   # token, scopes, location, a test contact")
    echo(f"  tnhl run --config {path}      # start syncing")


def register(app: typer.Typer) -> None:
    secret = typer.Typer(help="Secrets for the settings file.")
    app.add_typer(secret, name="secret")

    @secret.command("new")
    def new() -> None:
        """Print a fresh `whsec_` secret (for talknotes_secret; paste it into TalkNotes too)."""
        from tnhl.talknotes import generate_secret

        typer.echo(generate_secret())

    @app.command("init")
    def init(
        directory: Annotated[
            Path, typer.Option("--dir", help="Where to write tnhl.yaml (made if missing).")
        ] = Path("."),
        location_id: Annotated[
            str | None, typer.Option("--location-id", help="The HighLevel sub-account id.")
        ] = None,
        token: Annotated[
            str | None,
            typer.Option(
                "--token",
                help="The sub-account's Private Integration Token (asked hidden if not given; "
                "a flag stays in shell history).",
            ),
        ] = None,
        base_url: Annotated[
            str | None, typer.Option("--base-url", help=f"HighLevel's API ({DEFAULT_BASE_URL}).")
        ] = None,
        outbound_url: Annotated[
            str | None,
            typer.Option("--outbound-url", help="Where your app takes HighLevel's changes."),
        ] = None,
        public_url: Annotated[
            str | None,
            typer.Option(
                "--public-url",
                help="The https address TalkNotes and HighLevel reach tnhl at (its proxy's).",
            ),
        ] = None,
        yes: Annotated[
            bool, typer.Option("--yes", "-y", help="Ask nothing: defaults for what flags omit.")
        ] = False,
        force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    ) -> None:
        """Write a commented tnhl.yaml (mode 0600) with fresh secrets, and say what to paste
        into TalkNotes and what to run next."""
        from tnhl.highlevel import generate_secret_key
        from tnhl.talknotes import generate_secret

        path = directory / CONFIG_NAME
        if path.exists() and not force:
            fail(f"{path} exists; use --force to replace it")
        base = _ask(base_url, yes, "HighLevel API URL", DEFAULT_BASE_URL)
        if not base.startswith(("https://", "http://")):
            fail("--base-url: must be an http(s) URL")
        location = _ask(location_id, yes, "HighLevel location (sub-account) id", None)
        if not location or any(c.isspace() for c in location):
            fail("--location-id: give the sub-account's location id (no spaces)")
        pit = _ask(
            token, yes, "Private Integration Token (hidden; Enter: set it later)", "", hide=True
        )
        if any(c.isspace() for c in pit):
            fail("--token: must not contain spaces")
        outbound = _ask(
            outbound_url, yes, "Your app's URL for HighLevel's changes (Enter: none)", ""
        )
        asked = "This tnhl's public https address, e.g. https://tnhl.example.com (Enter: later)"
        public = _ask(public_url, yes, asked, "")
        directory.mkdir(parents=True, exist_ok=True)
        values: dict[str, Any] = {
            "highlevel_base_url": base.rstrip("/"),
            "location_id": location,
            "highlevel_token": pit or None,
            "talknotes_secret": generate_secret(),
            "talknotes_outbound_url": outbound or None,
            "talknotes_outbound_secret": generate_secret() if outbound else None,
            "public_url": public.rstrip("/") or None,
            "admin_password": secrets.token_urlsafe(18),
            "token_file_key": generate_secret_key(),
            "data_dir": str((directory / ".tnhl").resolve()),
        }
        _write_new(path, render_config(values), force=force)
        _next_steps(path, values)
