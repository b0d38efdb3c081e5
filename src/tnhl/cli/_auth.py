"""`tnhl auth`: connect a sub-account by OAuth (login), show each connection's credentials
(status) and forget a location's tokens (logout), with no Python.

`login` runs HighLevel's authorization-code flow for the marketplace app of the settings
(`oauth_client_id`, `oauth_client_secret`): a one-shot callback server on 127.0.0.1 (in
`_auth_callback`), a random `state` compared in constant time, a PKCE S256 challenge, the
location chosen on HighLevel's chooselocation page, the code exchanged, the tokens saved in the
encrypted token file (`token_file`, `token_file_key`) under the location's id. See
docs/auth-and-rate-limits.md.

Exit codes: 0 done; 1 the flow failed (denied, state mismatch, exchange refused, timeout, another
location chosen) or, for `status`, a connection's credentials are unusable; 2 the settings are
incomplete or wrong (one line naming the setting). Tokens and secrets are never printed.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from tnhl.cli._auth_callback import CallbackServer
from tnhl.cli._run import ConfigOpt, ConnectionOpt, fail, one_connection, settings_or_exit

if TYPE_CHECKING:
    from tnhl.highlevel import EncryptedFileTokenStore, TokenSet
    from tnhl.sync import ConnectionSettings, Settings

__all__ = ["SCOPES", "register"]

SCOPES = ("contacts.readonly", "contacts.write")


def _now() -> float:
    return time.time()


# -- settings ---------------------------------------------------------------------------------


def _token_file(settings: Settings) -> Path:
    return settings.token_file or settings.data_dir / "tokens.enc"


def _unset(field: str, what: str) -> NoReturn:
    from tnhl.sync import SettingsError

    fail(str(SettingsError(field, f"not set ({what})")))


def _store_or_exit(settings: Settings) -> EncryptedFileTokenStore:
    """The token file's store with its key; exit 2 naming `token_file_key` when it is unset."""
    from tnhl.highlevel import EncryptedFileTokenStore

    key = settings.token_file_key
    if key is None or not key.get_secret_value():
        _unset("token_file_key", "the key the token file is encrypted with; `tnhl init` writes one")
    return EncryptedFileTokenStore(_token_file(settings), key)


def _readable_or_exit(store: EncryptedFileTokenStore) -> list[str]:
    """The locations stored, or exit 2: a file the key cannot decrypt, or that cannot be read."""
    from tnhl.highlevel import ConfigurationError

    try:
        return store.keys()
    except ConfigurationError as exc:
        fail(f"setting token_file ({store.path}): {exc.problem}")
    except OSError as exc:
        fail(f"setting token_file ({store.path}): {exc.strerror or exc}")


def _when(expires_at: float) -> str:
    stamp = datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    left = expires_at - _now()
    span = abs(int(left))
    hours, minutes = divmod(span // 60, 60)
    text = f"{hours} h {minutes} min" if hours else f"{minutes} min" if minutes else f"{span} s"
    return f"{stamp} (in {text})" if left > 0 else f"{stamp} (expired {text} ago)"


# -- login ------------------------------------------------------------------------------------


def _login(
    settings: Settings,
    conn: ConnectionSettings | None,
    *,
    port: int,
    timeout: float,
    browser: bool,
    white_label: bool,
) -> None:
    import secrets

    from tnhl.highlevel import AuthError, OAuthApp, pkce_pair

    if not settings.highlevel_base_url:
        _unset("highlevel_base_url", "HighLevel's API, or a simulator")
    if not settings.oauth_client_id:
        _unset("oauth_client_id", "your marketplace app's client id")
    secret = settings.oauth_client_secret
    if secret is None or not secret.get_secret_value():
        _unset("oauth_client_secret", "your marketplace app's secret")
    store = _store_or_exit(settings)
    _readable_or_exit(store)  # a wrong key fails now, not after the user chose a location
    state = secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair()
    try:
        server = CallbackServer(port, state)
    except OSError as exc:
        fail(f"--port: cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}")
    with server:
        app = OAuthApp(
            settings.oauth_client_id,
            secret,
            redirect_uri=server.redirect_uri,
            base_url=settings.highlevel_base_url,
            timeout=settings.http_timeout,
        )
        url = app.authorize_url(
            SCOPES, state=state, code_challenge=challenge, white_label=white_label
        )
        typer.echo("Open this address, sign in to HighLevel and choose the sub-account:")
        typer.echo(f"  {url}")
        typer.echo(
            f"Waiting up to {timeout:g} s for the browser to come back to {server.redirect_uri}"
            " (a redirect URL of the app in HighLevel's marketplace)."
        )
        if browser and not _open_browser(url):
            typer.echo("No browser could be opened: open the address above yourself.")
        answer = server.wait(timeout)
    if answer is None:
        fail(f"no answer within {timeout:g} s: nothing was stored (--timeout waits longer)", 1)
    if not answer.state_ok:
        fail(
            "the answer's state does not match this login (an old tab, or forged): "
            "nothing was stored; run `tnhl auth login` again",
            1,
        )
    if answer.error is not None:
        fail(f"HighLevel did not authorize the app: {answer.error}; nothing was stored", 1)
    assert answer.code is not None
    try:
        tokens = app.exchange_code(answer.code, code_verifier=verifier)
    except AuthError as exc:
        fail(f"HighLevel refused the code exchange: {exc}; nothing was stored", 1)
    _save(store, conn, tokens)


def _open_browser(url: str) -> bool:
    import webbrowser

    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False


def _save(
    store: EncryptedFileTokenStore, conn: ConnectionSettings | None, tokens: TokenSet
) -> None:
    location = tokens.location_id
    if location is None:
        fail(
            "HighLevel gave an agency (Company) token: choose a sub-account on the page; "
            "nothing was stored",
            1,
        )
    if conn is not None and location != conn.location_id:
        fail(
            f"location {location} was chosen, but connection {conn.name} is location "
            f"{conn.location_id}: nothing was stored; run again and choose {conn.location_id}",
            1,
        )
    try:
        store.save(location, tokens)
    except OSError as exc:
        fail(f"cannot write the token file {store.path}: {exc.strerror or exc}", 1)
    name = f" (connection {conn.name})" if conn is not None else ""
    typer.echo(f"connected: location {location}{name}")
    typer.echo(f"  scopes:  {' '.join(sorted(tokens.scopes)) or '(none)'}")
    typer.echo(f"  expires: {_when(tokens.expires_at)}; tnhl renews it with the refresh token")
    typer.echo(f"  saved:   {store.path} (encrypted with token_file_key)")
    missing = [s for s in SCOPES if s not in tokens.scopes]
    if missing:
        typer.echo(f"warning: HighLevel did not grant {', '.join(missing)}: add it to the app")
    if conn is None:
        typer.echo(f"next: set location_id: {location} in the settings (TNHL_LOCATION_ID)")
    elif conn.highlevel_token is not None and conn.highlevel_token.get_secret_value():
        typer.echo(
            f"note: connection {conn.name} has a highlevel_token: tnhl uses that PIT, "
            "not these tokens, until it is removed"
        )


# -- status -----------------------------------------------------------------------------------


def _oauth_lines(settings: Settings, location: str, name: str) -> tuple[list[str], bool]:
    """The OAuth block of one location, and whether its tokens are usable."""
    from tnhl.highlevel import ConfigurationError

    app = settings.oauth_client_id
    path = _token_file(settings)
    key = settings.token_file_key
    login = f"run `tnhl auth login --connection {name}`" if name else "run `tnhl auth login`"
    tokens = None
    problem = ""
    if key is None or not key.get_secret_value():
        problem = "token_file_key not set: the token file cannot be read"
    elif not path.exists():
        problem = f"no token file at {path}: {login}"
    else:
        try:
            tokens = _store_or_exit(settings).load(location)
        except ConfigurationError as exc:
            problem = exc.problem
        except OSError as exc:
            problem = f"cannot read {path}: {exc.strerror or exc}"
        else:
            if tokens is None:
                problem = f"no tokens for this location in {path}: {login}"
            elif tokens.refresh_token is None:
                problem = f"no refresh token: the access token cannot be renewed; {login}"
    if not problem and not (app and settings.oauth_client_secret):
        problem = "oauth_client_id or oauth_client_secret not set: the tokens cannot be renewed"
    lines = [f"  credentials: OAuth (app {app})" if app else "  credentials: OAuth"]
    if tokens is not None:
        lines.append(f"  scopes:      {' '.join(sorted(tokens.scopes)) or '(none)'}")
        lines.append(f"  expires:     {_when(tokens.expires_at)}")
    else:
        lines.append("  scopes:      unknown (no tokens)")
    ok = f"ok (token file {path.name} decrypted, refresh token present)"
    lines.append(f"  health:      {problem or ok}")
    return lines, not problem


def _connection_lines(settings: Settings, conn: ConnectionSettings) -> tuple[list[str], bool]:
    head = f"connection {conn.name}, location {conn.location_id}"
    if conn.highlevel_token is not None and conn.highlevel_token.get_secret_value():
        return [
            head,
            "  credentials: Private Integration Token",
            "  scopes:      not known until `tnhl verify`",
            "  expires:     never (HighLevel advises rotating it every 90 days)",
            "  health:      ok (set)",
        ], True
    if settings.oauth_client_id or settings.token_file is not None:
        lines, ok = _oauth_lines(settings, conn.location_id, conn.name)
        return [head, *lines], ok
    return [
        head,
        "  credentials: none",
        "  health:      set highlevel_token, or oauth_client_id and oauth_client_secret and run "
        "`tnhl auth login`",
    ], False


def _status(settings: Settings, connection: str | None) -> None:
    found = settings.connection_list()
    if connection is not None:
        found = [one_connection(settings, connection)]
    blocks: list[list[str]] = []
    healthy = True
    for conn in found:
        lines, ok = _connection_lines(settings, conn)
        blocks.append(lines)
        healthy = healthy and ok
    if not found:  # tokens from a login made before location_id was set
        key = settings.token_file_key
        stored = []
        if key is not None and key.get_secret_value() and _token_file(settings).exists():
            stored = _readable_or_exit(_store_or_exit(settings))
        if not stored:
            fail("no connection: set location_id (or `connections:`) and its credentials")
        for location in stored:
            lines, ok = _oauth_lines(settings, location, "")
            blocks.append([f"location {location} (no connection: set location_id)", *lines])
            healthy = healthy and ok
    typer.echo("\n\n".join("\n".join(block) for block in blocks))
    if not healthy:
        raise typer.Exit(1)


# -- logout -----------------------------------------------------------------------------------


def _logout(settings: Settings, conn: ConnectionSettings) -> None:
    store = _store_or_exit(settings)
    where = f"location {conn.location_id} (connection {conn.name})"
    if not store.path.exists():
        typer.echo(f"no token file at {store.path}: nothing to remove for {where}")
        return
    if conn.location_id not in _readable_or_exit(store):
        typer.echo(f"no OAuth tokens stored for {where}: nothing removed")
        return
    try:
        store.delete(conn.location_id)
    except OSError as exc:
        fail(f"cannot write the token file {store.path}: {exc.strerror or exc}", 1)
    typer.echo(f"removed the OAuth tokens of {where} from {store.path}")
    typer.echo(
        "tnhl cannot call HighLevel for it until `tnhl auth login`; the app stays installed "
        "in HighLevel: uninstall it there to revoke its access"
    )


def register(app: typer.Typer) -> None:
    auth = typer.Typer(help="Connect sub-accounts by OAuth, and see their credentials.")
    app.add_typer(auth, name="auth")

    @auth.command("login")
    def login(
        connection: ConnectionOpt = None,
        no_browser: Annotated[
            bool, typer.Option("--no-browser", help="Only print the address to open.")
        ] = False,
        port: Annotated[
            int,
            typer.Option(
                "--port", min=0, max=65535, help="Callback port on 127.0.0.1 (0: a free one)."
            ),
        ] = 0,
        timeout: Annotated[
            float, typer.Option("--timeout", min=0.1, help="Seconds to wait for the browser.")
        ] = 300.0,
        white_label: Annotated[
            bool, typer.Option("--white-label", help="HighLevel's white-label marketplace.")
        ] = False,
        config: ConfigOpt = None,
    ) -> None:
        """Connect a sub-account by OAuth, choosing it in the browser.

        Uses your HighLevel marketplace app (oauth_client_id, oauth_client_secret); the
        tokens are saved encrypted in the token file (token_file, token_file_key)."""
        settings = settings_or_exit(config)
        conn = None
        if connection is not None or settings.connection_list():
            conn = one_connection(settings, connection)
        _login(
            settings,
            conn,
            port=port,
            timeout=timeout,
            browser=not no_browser,
            white_label=white_label,
        )

    @auth.command("status")
    def status(connection: ConnectionOpt = None, config: ConfigOpt = None) -> None:
        """Each connection's credentials: kind, scopes, expiry and health.

        No token is shown and nothing is sent to HighLevel."""
        _status(settings_or_exit(config), connection)

    @auth.command("logout")
    def logout(connection: ConnectionOpt = None, config: ConfigOpt = None) -> None:
        """Remove the connection's OAuth tokens from the token file."""
        settings = settings_or_exit(config)
        _logout(settings, one_connection(settings, connection))
