"""`tnhl auth login/status/logout` against a real simulator over loopback: the whole OAuth
install flow driven by following the printed address with httpx (no browser), each failure on
one line with its exit code, and status and logout on the encrypted token file."""

from __future__ import annotations

import contextlib
import html
import io
import os
import queue
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import pytest
import typer
import typer.main
from pydantic import SecretStr
from typer.testing import CliRunner

from tnhl.cli import _auth
from tnhl.highlevel import EncryptedFileTokenStore, TokenSet, generate_secret_key
from tnhl.simulator import (
    LocationConfig,
    OAuthClientConfig,
    RunningSimulator,
    SimulatorConfig,
    running_simulator,
)

LOC = "AuthLocation00000001"
OTHER = "AuthLocation00000002"
CLIENT = "6650aa-authcli"
SECRET = "app-secret-never-printed"
COMPANY = "AuthCompany000000001"
NOW = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
DEADLINE = 10.0


@pytest.fixture(scope="module")
def module_sim() -> Iterator[RunningSimulator]:
    config = SimulatorConfig(
        locations=[LocationConfig(id=LOC), LocationConfig(id=OTHER)],
        oauth_clients=[
            OAuthClientConfig(
                client_id=CLIENT,
                client_secret=SecretStr(SECRET),
                company_id=COMPANY,
                locations=[LOC, OTHER],
            )
        ],
    )
    with running_simulator(config, location_id=LOC) as sim:
        yield sim


@dataclass
class Env:
    sim: RunningSimulator
    token_file: Path
    key: str

    def store(self, key: str | None = None) -> EncryptedFileTokenStore:
        return EncryptedFileTokenStore(self.token_file, key or self.key)


@pytest.fixture
def env(module_sim: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    """The OAuth settings of one connection ("default", location LOC) in the environment."""
    for name in [n for n in os.environ if n.startswith("TNHL_")]:
        monkeypatch.delenv(name)
    key = generate_secret_key()
    token_file = tmp_path / "tokens.enc"
    for name, value in {
        "HIGHLEVEL_BASE_URL": module_sim.base_url,
        "LOCATION_ID": LOC,
        "OAUTH_CLIENT_ID": CLIENT,
        "OAUTH_CLIENT_SECRET": SECRET,
        "TOKEN_FILE": str(token_file),
        "TOKEN_FILE_KEY": key,
        "DATA_DIR": str(tmp_path / "data"),
    }.items():
        monkeypatch.setenv(f"TNHL_{name}", value)
    return Env(module_sim, token_file, key)


def _app() -> typer.Typer:
    app = typer.Typer()
    _auth.register(app)
    return app


class _Lines(io.StringIO):
    """A stream that also hands each complete line to a queue, so a test reads it live."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: queue.Queue[str] = queue.Queue()
        self._partial = ""

    def write(self, text: str) -> int:
        self._partial += text
        *done, self._partial = self._partial.split("\n")
        for line in done:
            self.lines.put(line)
        return super().write(text)


@dataclass
class LiveRun:
    """A command running in a thread; its output readable while it runs."""

    out: _Lines = field(default_factory=_Lines)
    err: _Lines = field(default_factory=_Lines)
    exit_code: int | None = None
    thread: threading.Thread | None = None

    def line_starting(self, prefix: str) -> str:
        deadline = time.monotonic() + DEADLINE
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.out.lines.get(timeout=left)
            except queue.Empty:
                break
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no line starting {prefix!r}: {self.out.getvalue()!r}")

    def finish(self) -> int:
        assert self.thread is not None
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive(), "the command did not end"
        assert self.exit_code is not None
        return self.exit_code


@contextlib.contextmanager
def live(args: list[str]) -> Iterator[LiveRun]:
    """Run `args` in a thread (stdout and stderr captured), as `tnhl` would."""
    run = LiveRun()
    command = typer.main.get_command(_app())

    def main() -> None:
        with contextlib.redirect_stdout(run.out), contextlib.redirect_stderr(run.err):
            code = command.main(args, prog_name="tnhl", standalone_mode=False)
        run.exit_code = int(code or 0)

    run.thread = threading.Thread(target=main, daemon=True)
    run.thread.start()
    try:
        yield run
    finally:
        run.thread.join(DEADLINE)


def printed_url(run: LiveRun) -> str:
    return run.line_starting("  http").strip()


def choose(url: str, location: str) -> httpx.Response:
    """What a person does in the browser: open the page, click the location; the redirects
    then take the browser to tnhl's callback, whose page is returned."""
    with httpx.Client(timeout=DEADLINE, follow_redirects=True) as http:
        page = http.get(url)
        assert page.status_code == 200
        label = "Cancel" if location == "cancel" else location
        links = dict(
            (html.unescape(text), html.unescape(href))
            for href, text in re.findall(r'<a href="([^"]+)">([^<]+)</a>', page.text)
        )
        return http.get(urljoin(str(page.url), links[label]))


def _with_state(url: str, state: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return urlunsplit(parts._replace(query=urlencode({**query, "state": state})))


def _stored(env: Env) -> list[str]:
    return env.store().keys() if env.token_file.exists() else []


# -- login ------------------------------------------------------------------------------------


def test_login_no_browser_follows_the_printed_address_and_stores_working_tokens(
    env: Env,
) -> None:
    """--no-browser prints the simulator's chooselocation URL (state, PKCE S256); choosing
    the location there stores encrypted tokens that HighLevel accepts, and prints no token."""
    with live(["auth", "login", "--no-browser"]) as run:
        url = printed_url(run)
        callback = choose(url, LOC)
        code = run.finish()
    assert (code, run.err.getvalue()) == (0, "")
    assert url.startswith(f"{env.sim.base_url}/v2/oauth/chooselocation?")
    query = parse_qs(urlsplit(url).query)
    assert query["client_id"] == [CLIENT]
    assert query["scope"] == ["contacts.readonly contacts.write"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["state"][0]) == 43
    redirect = query["redirect_uri"][0]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/oauth/callback", redirect)
    assert (
        f"Waiting up to 300 s for the browser to come back to {redirect} (a redirect URL of "
        "the app in HighLevel's marketplace).\n"
    ) in run.out.getvalue()
    assert callback.status_code == 200
    assert "HighLevel answered" in callback.text
    out = run.out.getvalue()
    assert "connected: location AuthLocation00000001 (connection default)" in out
    assert "  scopes:  contacts.readonly contacts.write" in out
    assert f"  saved:   {env.token_file} (encrypted with token_file_key)" in out
    tokens = env.store().load(LOC)
    assert tokens is not None
    assert tokens.refresh_token is not None
    assert (tokens.location_id, tokens.company_id, tokens.user_type) == (LOC, COMPANY, "Location")
    for secret in (tokens.access_token, tokens.refresh_token):
        assert secret.get_secret_value() not in out
    assert SECRET not in out
    assert env.token_file.read_bytes().find(b"contacts.write") == -1  # encrypted at rest
    bearer = {"Authorization": f"Bearer {tokens.access_token.get_secret_value()}"}
    answer = httpx.get(
        f"{env.sim.base_url}/contacts/",
        params={"locationId": LOC},
        headers={**bearer, "Version": "2021-07-28"},
    )
    assert answer.status_code == 200


def test_login_opens_the_browser_and_prints_the_address_too(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --no-browser the URL goes to webbrowser.open and is printed as well."""
    opened: list[str] = []

    def browser(url: str) -> bool:
        opened.append(url)
        threading.Thread(target=choose, args=(url, LOC), daemon=True).start()
        return True

    monkeypatch.setattr("webbrowser.open", browser)
    result = CliRunner().invoke(_app(), ["auth", "login"])
    assert result.exit_code == 0, result.output
    assert len(opened) == 1
    assert f"  {opened[0]}\n" in result.stdout
    assert _stored(env) == [LOC]


def test_login_without_a_browser_says_to_open_the_address(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When no browser opens, a line says to open the printed address; the flow still works."""
    monkeypatch.setattr("webbrowser.open", lambda url: False)
    with live(["auth", "login"]) as run:
        choose(printed_url(run), LOC)
        run.line_starting("No browser could be opened: open the address above yourself.")
        assert run.finish() == 0
    assert _stored(env) == [LOC]


def test_login_refused_on_the_page_is_one_line_exit_1(env: Env) -> None:
    """Cancel on the chooselocation page (error=access_denied) stores nothing, exit 1."""
    with live(["auth", "login", "--no-browser"]) as run:
        choose(printed_url(run), "cancel")
        assert run.finish() == 1
    assert run.err.getvalue() == (
        "tnhl: HighLevel did not authorize the app: access_denied (The user denied access); "
        "nothing was stored\n"
    )
    assert _stored(env) == []


def test_login_refuses_an_answer_with_another_state(env: Env) -> None:
    """A callback whose state is not this login's (a forged link) is refused; nothing stored."""
    with live(["auth", "login", "--no-browser"]) as run:
        callback = choose(_with_state(printed_url(run), "forged-state"), LOC)
        assert run.finish() == 1
    assert callback.status_code == 400
    assert run.err.getvalue() == (
        "tnhl: the answer's state does not match this login (an old tab, or forged): nothing "
        "was stored; run `tnhl auth login` again\n"
    )
    assert _stored(env) == []


def test_login_exchange_refused_names_highlevels_message(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong client secret: the code exchange is refused, HighLevel's message, exit 1."""
    monkeypatch.setenv("TNHL_OAUTH_CLIENT_SECRET", "wrong-secret-123456")
    with live(["auth", "login", "--no-browser"]) as run:
        choose(printed_url(run), LOC)
        assert run.finish() == 1
    assert run.err.getvalue() == (
        "tnhl: HighLevel refused the code exchange: POST /oauth/token -> 401: Invalid client: "
        "client credentials are invalid; nothing was stored\n"
    )
    assert _stored(env) == []


def test_login_times_out_when_no_answer_comes(env: Env) -> None:
    """Nobody opens the address: after --timeout one line, exit 1, nothing stored."""
    result = CliRunner().invoke(_app(), ["auth", "login", "--no-browser", "--timeout", "0.2"])
    assert result.exit_code == 1
    assert result.stderr == (
        "tnhl: no answer within 0.2 s: nothing was stored (--timeout waits longer)\n"
    )
    assert _stored(env) == []


def test_login_refuses_tokens_of_another_location(env: Env) -> None:
    """Choosing a location other than the connection's stores nothing and says which to pick."""
    with live(["auth", "login", "--no-browser"]) as run:
        choose(printed_url(run), OTHER)
        assert run.finish() == 1
    assert run.err.getvalue() == (
        "tnhl: location AuthLocation00000002 was chosen, but connection default is location "
        "AuthLocation00000001: nothing was stored; run again and choose AuthLocation00000001\n"
    )
    assert _stored(env) == []


def test_login_before_location_id_is_set_says_what_to_set(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no connection yet, the chosen location's tokens are stored and named."""
    monkeypatch.delenv("TNHL_LOCATION_ID")
    with live(["auth", "login", "--no-browser"]) as run:
        choose(printed_url(run), OTHER)
        assert run.finish() == 0
    assert "connected: location AuthLocation00000002\n" in run.out.getvalue()
    assert (
        "next: set location_id: AuthLocation00000002 in the settings (TNHL_LOCATION_ID)\n"
        in run.out.getvalue()
    )
    assert _stored(env) == [OTHER]


def test_login_with_a_fixed_port_uses_that_callback(env: Env) -> None:
    """--port P makes the redirect URI http://127.0.0.1:P/oauth/callback (to register it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with live(["auth", "login", "--no-browser", "--port", str(port)]) as run:
        url = printed_url(run)
        choose(url, LOC)
        assert run.finish() == 0
    assert parse_qs(urlsplit(url).query)["redirect_uri"] == [
        f"http://127.0.0.1:{port}/oauth/callback"
    ]


@pytest.mark.parametrize(
    ("unset", "message"),
    [
        (
            "TNHL_OAUTH_CLIENT_ID",
            "tnhl: setting oauth_client_id (TNHL_OAUTH_CLIENT_ID): not set (your marketplace "
            "app's client id)\n",
        ),
        (
            "TNHL_OAUTH_CLIENT_SECRET",
            "tnhl: setting oauth_client_secret (TNHL_OAUTH_CLIENT_SECRET): not set (your "
            "marketplace app's secret)\n",
        ),
        (
            "TNHL_TOKEN_FILE_KEY",
            "tnhl: setting token_file_key (TNHL_TOKEN_FILE_KEY): not set (the key the token "
            "file is encrypted with; `tnhl init` writes one)\n",
        ),
        (
            "TNHL_HIGHLEVEL_BASE_URL",
            "tnhl: setting highlevel_base_url (TNHL_HIGHLEVEL_BASE_URL): not set (HighLevel's "
            "API, or a simulator)\n",
        ),
    ],
)
def test_login_missing_settings_exit_2(
    env: Env, monkeypatch: pytest.MonkeyPatch, unset: str, message: str
) -> None:
    """Each setting login needs, when missing, is named on one line; exit 2, no browser step."""
    monkeypatch.delenv(unset)
    result = CliRunner().invoke(_app(), ["auth", "login", "--no-browser"])
    assert (result.exit_code, result.stderr, result.stdout) == (2, message, "")


def test_login_wrong_key_and_busy_port_exit_2(env: Env) -> None:
    """A token file the key cannot decrypt, or a callback port in use: one line, exit 2."""
    env.store(generate_secret_key()).save(OTHER, _tokens())
    result = CliRunner().invoke(_app(), ["auth", "login", "--no-browser"])
    assert (result.exit_code, result.stderr) == (
        2,
        f"tnhl: setting token_file ({env.token_file}): cannot decrypt tokens.enc: wrong key, or "
        "the file is not a token file\n",
    )
    env.token_file.unlink()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(_app(), ["auth", "login", "--port", str(port)])
    assert (result.exit_code, result.stderr) == (
        2,
        f"tnhl: --port: cannot listen on 127.0.0.1:{port}: Address already in use\n",
    )


def test_login_several_connections_need_a_name(env: Env, tmp_path: Path) -> None:
    """With several connections and no --connection, login names them; exit 2."""
    config = tmp_path / "tnhl.yaml"
    config.write_text(
        f"connections:\n  - name: one\n    location_id: {LOC}\n"
        f"  - name: two\n    location_id: {OTHER}\n"
    )
    result = CliRunner().invoke(
        _app(), ["auth", "login", "--config", str(config)], env={"TNHL_LOCATION_ID": None}
    )
    assert (result.exit_code, result.stderr) == (
        2,
        "tnhl: several connections (one, two): name one with --connection\n",
    )


# -- status and logout ------------------------------------------------------------------------


def _tokens(
    location: str = LOC, *, refresh: bool = True, expires_at: float = NOW + 7200
) -> TokenSet:
    return TokenSet(
        access_token=SecretStr("access-token-never-printed"),
        refresh_token=SecretStr("refresh-token-never-printed") if refresh else None,
        expires_at=expires_at,
        scopes=frozenset({"contacts.readonly", "contacts.write"}),
        user_type="Location",
        location_id=location,
        company_id=COMPANY,
    )


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    """Status reads the time once per token: pin it to NOW."""
    monkeypatch.setattr(_auth, "_now", lambda: NOW)


def test_status_of_an_oauth_connection(env: Env, frozen: None) -> None:
    """OAuth: the app, the token's scopes, the access token's expiry and health; no token."""
    env.store().save(LOC, _tokens())
    result = CliRunner().invoke(_app(), ["auth", "status"])
    assert (result.exit_code, result.stdout) == (
        0,
        "connection default, location AuthLocation00000001\n"
        "  credentials: OAuth (app 6650aa-authcli)\n"
        "  scopes:      contacts.readonly contacts.write\n"
        "  expires:     2023-11-15 00:13 UTC (in 2 h 0 min)\n"
        "  health:      ok (token file tokens.enc decrypted, refresh token present)\n",
    )


def test_status_of_pit_and_oauth_connections(env: Env, frozen: None, tmp_path: Path) -> None:
    """A PIT's scopes are unknown until verify; an expired access token with a refresh token is
    healthy (renewed on use); a connection without tokens is not (exit 1)."""
    config = tmp_path / "tnhl.yaml"
    config.write_text(
        "connections:\n"
        f"  - name: pit\n    location_id: {OTHER}\n    highlevel_token: pit-never-printed\n"
        f"  - name: oauth\n    location_id: {LOC}\n"
        "  - name: missing\n    location_id: AuthLocation00000003\n"
    )
    env.store().save(LOC, _tokens(expires_at=NOW - 300))
    result = CliRunner().invoke(
        _app(), ["auth", "status", "--config", str(config)], env={"TNHL_LOCATION_ID": None}
    )
    assert (result.exit_code, result.stdout) == (
        1,
        "connection pit, location AuthLocation00000002\n"
        "  credentials: Private Integration Token\n"
        "  scopes:      not known until `tnhl verify`\n"
        "  expires:     never (HighLevel advises rotating it every 90 days)\n"
        "  health:      ok (set)\n"
        "\n"
        "connection oauth, location AuthLocation00000001\n"
        "  credentials: OAuth (app 6650aa-authcli)\n"
        "  scopes:      contacts.readonly contacts.write\n"
        "  expires:     2023-11-14 22:08 UTC (expired 5 min ago)\n"
        "  health:      ok (token file tokens.enc decrypted, refresh token present)\n"
        "\n"
        "connection missing, location AuthLocation00000003\n"
        "  credentials: OAuth (app 6650aa-authcli)\n"
        "  scopes:      unknown (no tokens)\n"
        f"  health:      no tokens for this location in {env.token_file}: run `tnhl auth login "
        "--connection missing`\n",
    )
    only = CliRunner().invoke(
        _app(),
        ["auth", "status", "--config", str(config), "--connection", "pit"],
        env={"TNHL_LOCATION_ID": None},
    )
    assert only.exit_code == 0
    assert only.stdout.count("connection ") == 1
    assert "never-printed" not in result.stdout + only.stdout


@pytest.mark.parametrize(
    ("setup", "health"),
    [
        ("no-file", "no token file at {file}: run `tnhl auth login --connection default`"),
        ("wrong-key", "cannot decrypt tokens.enc: wrong key, or the file is not a token file"),
        (
            "no-refresh",
            "no refresh token: the access token cannot be renewed; run `tnhl auth login "
            "--connection default`",
        ),
        ("no-key", "token_file_key not set: the token file cannot be read"),
    ],
)
def test_status_health_problems_exit_1(
    env: Env, frozen: None, monkeypatch: pytest.MonkeyPatch, setup: str, health: str
) -> None:
    """Each unusable state of the token file is named in the health line; exit 1."""
    if setup == "wrong-key":
        env.store(generate_secret_key()).save(LOC, _tokens())
    elif setup == "no-refresh":
        env.store().save(LOC, _tokens(refresh=False))
    elif setup == "no-key":
        monkeypatch.delenv("TNHL_TOKEN_FILE_KEY")
    result = CliRunner().invoke(_app(), ["auth", "status"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "  health:      " + health.format(file=env.token_file)


def test_logout_removes_only_that_locations_tokens(env: Env, tmp_path: Path) -> None:
    """logout deletes the connection's location from the token file, keeps the others, and a
    second logout says there is nothing to remove (exit 0)."""
    env.store().save(LOC, _tokens())
    env.store().save(OTHER, _tokens(OTHER))
    result = CliRunner().invoke(_app(), ["auth", "logout"])
    assert (result.exit_code, result.stdout) == (
        0,
        f"removed the OAuth tokens of location AuthLocation00000001 (connection default) from "
        f"{env.token_file}\n"
        "tnhl cannot call HighLevel for it until `tnhl auth login`; the app stays installed in "
        "HighLevel: uninstall it there to revoke its access\n",
    )
    assert _stored(env) == [OTHER]
    again = CliRunner().invoke(_app(), ["auth", "logout"])
    assert (again.exit_code, again.stdout) == (
        0,
        "no OAuth tokens stored for location AuthLocation00000001 (connection default): "
        "nothing removed\n",
    )


def test_logout_needs_the_key_and_a_connection(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without token_file_key, or with an unknown --connection, logout exits 2 on one line."""
    unknown = CliRunner().invoke(_app(), ["auth", "logout", "--connection", "nope"])
    assert (unknown.exit_code, unknown.stderr) == (
        2,
        "tnhl: no connection named 'nope' (configured: default)\n",
    )
    monkeypatch.delenv("TNHL_TOKEN_FILE_KEY")
    result = CliRunner().invoke(_app(), ["auth", "logout"])
    assert (result.exit_code, result.stderr) == (
        2,
        "tnhl: setting token_file_key (TNHL_TOKEN_FILE_KEY): not set (the key the token file "
        "is encrypted with; `tnhl init` writes one)\n",
    )


def test_login_then_status_then_logout(env: Env) -> None:
    """The three commands together: after login status is healthy; after logout it is not."""
    with live(["auth", "login", "--no-browser"]) as run:
        choose(printed_url(run), LOC)
        assert run.finish() == 0
    status = CliRunner().invoke(_app(), ["auth", "status"])
    assert status.exit_code == 0
    assert "  expires:     " in status.stdout
    assert "(in 23 h 59 min)" in status.stdout
    assert CliRunner().invoke(_app(), ["auth", "logout"]).exit_code == 0
    after = CliRunner().invoke(_app(), ["auth", "status"])
    assert after.exit_code == 1
