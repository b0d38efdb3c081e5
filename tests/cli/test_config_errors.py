"""Errors a person can act on (issue 11): every configuration error is one line on stderr
naming the setting (and the file and line), exit 2, no traceback; unknown TNHL_* variables and
settings-file keys are refused with the nearest name; URLs need https (http only on loopback);
`tnhl run` checks its port first; read-only commands never create a store; `--log-json` is
JSON only; the store, rate-limit and token files are private (0600)."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from tnhl.cli import _dlq, _keys, _profile, _status
from tnhl.simulator import running_simulator
from tnhl.sync import Settings, load_settings
from tnhl.sync._errors import SettingsError
from tnhl.sync._settings_file import OTHER_VARIABLES
from tnhl.talknotes import sign

ROOT = Path(__file__).resolve().parents[2]
TNHL = Path(sys.executable).parent / "tnhl"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HTTPS_ONLY = (
    "must use https:// (http:// is allowed only for this machine: localhost, 127.0.0.1 or ::1)"
)
NO_HOST = "must be an https:// URL with a host, e.g. https://example.com/path"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A complete single-connection environment (no other TNHL_* variable), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TNHL_")}
    env.update(
        TNHL_HIGHLEVEL_BASE_URL="http://127.0.0.1:9",
        TNHL_HIGHLEVEL_TOKEN="pit-config-errors",
        TNHL_LOCATION_ID="loc-config",
        TNHL_TALKNOTES_SECRET=SECRET,
        TNHL_DATA_DIR=str(tmp_path / "data"),
    )
    env.update(extra)
    return env


def _tnhl(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TNHL), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("TNHL_") and key.upper() not in OTHER_VARIABLES:
            monkeypatch.delenv(key)


@pytest.mark.parametrize(
    ("extra", "args", "line"),
    [
        (
            {"TNHL_TALKNOTES_SECRET": "secret-without-its-prefix"},
            [],
            "setting talknotes_secret (TNHL_TALKNOTES_SECRET): the TalkNotes signing secret "
            "must start with 'whsec_'",
        ),
        (
            {"TNHL_MAPPING_FILE": "mapping.yaml"},
            [],
            "setting mapping_file (TNHL_MAPPING_FILE): mapping.yaml line 3: YAML syntax: "
            "expected the node content, but found '<stream end>'",
        ),
        (
            {"TNHL_HIGHLEVEL_BASE_URL": "http://services.leadconnectorhq.com"},
            [],
            f"setting highlevel_base_url (TNHL_HIGHLEVEL_BASE_URL): {HTTPS_ONLY}",
        ),
        (
            {"TNHL_TALKNOTES_OUTBOUND_URL": "ftp://app.example"},
            [],
            f"setting talknotes_outbound_url (TNHL_TALKNOTES_OUTBOUND_URL): {NO_HOST}",
        ),
        (
            {"TNHL_DATABASE_URL": "mysql://tnhl@db.example/tnhl"},
            [],
            "setting database_url (TNHL_DATABASE_URL): backend 'mysql' is not supported; use "
            "sqlite:///path or postgresql+psycopg://",
        ),
        (
            {},
            ["--config", "tnhl.yaml"],
            "tnhl.yaml line 2: lease_seconds: Input should be a valid number, unable to parse "
            "string as a number",
        ),
        (
            {},
            ["--workers", "0"],
            "setting workers (--workers): Input should be greater than or equal to 1",
        ),
        (
            {"TNHL_TOKEN_FILE_KEY": "not-a-fernet-key"},
            [],
            "setting token_file_key (TNHL_TOKEN_FILE_KEY): must be 32 url-safe base64-encoded "
            "bytes; create one with generate_secret_key()",
        ),
        (
            {"TNHL_CONNECTIONS": "[{name: acme"},
            [],
            "setting connections (TNHL_CONNECTIONS): not valid JSON",
        ),
    ],
    ids=[
        "secret",
        "mapping",
        "base-url",
        "outbound-url",
        "database-url",
        "file",
        "option",
        "token-key",
        "env-json",
    ],
)
def test_a_configuration_error_is_one_line_exit_2(
    tmp_path: Path, extra: dict[str, str], args: list[str], line: str
) -> None:
    """`tnhl run` with one bad setting: exactly one line on stderr naming it (and the file and
    line), nothing on stdout, exit 2, no traceback, and nothing created in the data dir."""
    (tmp_path / "mapping.yaml").write_text("contact:\n  name: [\n", encoding="utf-8")
    (tmp_path / "tnhl.yaml").write_text("workers: 4\nlease_seconds: ten\n", encoding="utf-8")
    result = _tnhl(["run", *args], _env(tmp_path, **extra), tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"tnhl: {line}\n")
    assert not (tmp_path / "data").exists()


def test_unknown_variable_and_file_key_suggest_the_nearest_setting(tmp_path: Path) -> None:
    """TNHL_WORKERZ and a `workerz:` key are refused with the setting they most look like;
    a name like none is pointed at the settings' list."""
    env = _env(tmp_path, TNHL_WORKERZ="8")
    result = _tnhl(["status"], env, tmp_path)
    assert (result.returncode, result.stderr) == (
        2,
        "tnhl: TNHL_WORKERZ: unknown setting (did you mean TNHL_WORKERS?)\n",
    )
    (tmp_path / "tnhl.yaml").write_text("port: 8080\nworkerz: 8\n", encoding="utf-8")
    result = _tnhl(["status", "--config", "tnhl.yaml"], _env(tmp_path), tmp_path)
    assert (result.returncode, result.stderr) == (
        2,
        "tnhl: tnhl.yaml line 2: workerz: unknown setting (did you mean workers?)\n",
    )
    result = _tnhl(["status"], _env(tmp_path, TNHL_FROBNICATE="1"), tmp_path)
    assert result.stderr == (
        "tnhl: TNHL_FROBNICATE: unknown setting (the settings are listed in "
        "docs/configuration.md)\n"
    )


def test_variables_tnhl_and_its_tests_set_are_not_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TNHL_CONFIG, TNHL_REQUIRE_EXTERNAL, TNHL_TEST_PG and a variable a connection's
    `env:` secret names (even one starting TNHL_) load without complaint."""
    config = tmp_path / "tnhl.yaml"
    text = "connections:\n  - {name: acme, location_id: L1, highlevel_token: env:TNHL_ACME_PIT}\n"
    config.write_text(text, encoding="utf-8")
    for name, value in {
        "TNHL_CONFIG": str(config),
        "TNHL_REQUIRE_EXTERNAL": "1",
        "TNHL_TEST_PG": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        "TNHL_ACME_PIT": "pit-acme",
    }.items():
        monkeypatch.setenv(name, value)
    [acme] = load_settings().connection_list()
    assert acme.highlevel_token is not None
    assert acme.highlevel_token.get_secret_value() == "pit-acme"


def test_every_tnhl_variable_the_repository_names_is_known() -> None:
    """Each TNHL_* name in the code, tests, docs and scripts is a setting or one of
    OTHER_VARIABLES, so none of them is ever refused as unknown (typos made on purpose in
    docs and tests excepted)."""
    on_purpose = {"TNHL_WORKERZ", "TNHL_FROBNICATE", "TNHL_ACME_PIT"}
    settings = {f"TNHL_{name.upper()}" for name in Settings.model_fields}
    found: dict[str, str] = {}
    paths = [ROOT / "README.md", ROOT / "dev", ROOT / ".ci" / "run"]
    for folder in ("src", "tests", "docs", "bench"):
        paths += [p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".md", ".yaml")]
    for path in paths:
        if not path.is_file():
            continue
        for name in re.findall(r"\bTNHL_[A-Z][A-Z0-9_]*[A-Z0-9]", path.read_text("utf-8")):
            found.setdefault(name, str(path.relative_to(ROOT)))
    unknown = {n: p for n, p in found.items() if n not in settings | OTHER_VARIABLES | on_purpose}
    assert unknown == {}


@pytest.mark.parametrize(
    "url",
    [
        "https://services.leadconnectorhq.com",
        "http://127.0.0.1:8080",
        "http://127.8.9.10/hl",
        "http://localhost:9000",
        "http://[::1]:8080/x",
    ],
)
def test_https_or_loopback_http_urls_are_accepted(url: str) -> None:
    """https anywhere, and http on this machine (127.0.0.0/8, localhost, ::1), load."""
    settings = load_settings(
        highlevel_base_url=url, talknotes_outbound_url=url, talknotes_outbound_secret=SECRET
    )
    assert (settings.highlevel_base_url, settings.talknotes_outbound_url) == (url, url)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://services.leadconnectorhq.com", HTTPS_ONLY),
        ("http://10.0.0.7:8080", HTTPS_ONLY),
        ("http://localhost.example.com", HTTPS_ONLY),
        ("ftp://example.com", NO_HOST),
        ("https://", NO_HOST),
        ("services.leadconnectorhq.com", NO_HOST),
        ("https://example.com:99999", "has a port that is not a number from 0 to 65535"),
    ],
)
def test_other_urls_are_refused_naming_the_setting(url: str, problem: str) -> None:
    """Every URL setting (the base URL, the outbound URL, a connection's outbound URL) is
    refused with its name when it is not https (or http on loopback), never its value."""
    with pytest.raises(SettingsError) as caught:
        load_settings(highlevel_base_url=url)
    assert str(caught.value) == f"setting highlevel_base_url (TNHL_HIGHLEVEL_BASE_URL): {problem}"
    with pytest.raises(SettingsError) as caught:
        load_settings(talknotes_outbound_url=url, talknotes_outbound_secret=SECRET)
    assert (caught.value.field, caught.value.problem) == ("talknotes_outbound_url", problem)
    entry = {"name": "acme", "location_id": "L1", "talknotes_outbound_url": url}
    with pytest.raises(SettingsError) as caught:
        load_settings(connections=[{**entry, "talknotes_outbound_secret": SECRET}])
    assert caught.value.field == "connections[0].talknotes_outbound_url"
    assert caught.value.problem == problem


def test_run_refuses_a_port_in_use_before_anything_starts(tmp_path: Path) -> None:
    """Another program listens on the port: one line naming --port / TNHL_PORT, exit 2,
    no "tnhl running", and no store opened (the data dir is not even made)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _tnhl(["run", "--port", str(port)], _env(tmp_path), tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"tnhl: setting port (--port / TNHL_PORT): port {port} on 127.0.0.1 is in use; stop "
        "what listens there or choose another port\n"
    )
    assert not (tmp_path / "data").exists()


def _reading_app() -> typer.Typer:
    app = typer.Typer()
    for module in (_status, _dlq, _profile, _keys):
        module.register(app)
    return app


SQLITE_ELSEWHERE = ["--database-url", "sqlite:///elsewhere/tnhl.db"]
HERE = "data_dir (TNHL_DATA_DIR): no tnhl store at {tmp}/.tnhl/tnhl.db"


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (["status"], HERE),
        (["events", "list"], HERE),
        (["events", "show", "1"], HERE),
        (["dlq", "list"], HERE),
        (["dlq", "show", "1"], HERE),
        (["dlq", "replay", "--all"], HERE),
        (["profile", "c1"], HERE),
        (["keys", "list"], HERE),
        (["keys", "revoke", "1"], HERE),
        (
            ["status", *SQLITE_ELSEWHERE],
            "database_url (TNHL_DATABASE_URL): no tnhl store at {tmp}/elsewhere/tnhl.db",
        ),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_reading_commands_never_create_a_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], where: str
) -> None:
    """Run in a folder without a store, a command that reads it says where it looked and
    what to do, exit 2, and leaves the folder as it was (no empty store showing zeros)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TNHL_LOCATION_ID", "loc-config")
    result = CliRunner().invoke(_reading_app(), args)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"tnhl: setting {where.format(tmp=tmp_path)}; run this command in the folder where "
        "`tnhl run` ran, or point --data-dir or --database-url at its store\n"
    )
    assert list(tmp_path.iterdir()) == []


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common umask 022, under which a plain create would be world-readable (0644)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.usefixtures("usual_umask")
def test_store_files_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`keys create` makes the store: tnhl.db, and its -wal and -shm files while it is open,
    are 0600; the status commands then read it."""
    from tnhl.store import open_store

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TNHL_LOCATION_ID", "loc-config")
    created = CliRunner().invoke(_reading_app(), ["keys", "create"])
    assert created.exit_code == 0, created.output
    db = tmp_path / ".tnhl" / "tnhl.db"
    store = open_store(f"sqlite:///{db}")
    try:
        store.create_api_key("loc-config")  # a write: the -wal and -shm files exist now
        modes = {p.name: _mode(p) for p in db.parent.iterdir() if p.name.startswith("tnhl.db")}
    finally:
        store.close()
    assert modes == {"tnhl.db": 0o600, "tnhl.db-wal": 0o600, "tnhl.db-shm": 0o600}
    assert CliRunner().invoke(_reading_app(), ["keys", "list"]).exit_code == 0


@pytest.mark.usefixtures("usual_umask")
def test_rate_limit_and_token_files_are_private(tmp_path: Path) -> None:
    """The shared rate-limit SQLite file (and its -wal/-shm), the encrypted token file, its
    lock and the rate-limit snapshot `tnhl status` reads are all 0600."""
    from tnhl.highlevel import (
        EncryptedFileTokenStore,
        RateLimiter,
        SqliteLimiterState,
        TokenSet,
        generate_secret_key,
    )
    from tnhl.sync._admin import write_limiter_snapshot

    state = SqliteLimiterState(tmp_path / "ratelimit.db")
    limiter = RateLimiter(state=state, burst=5)
    limiter.acquire("loc")
    tokens = EncryptedFileTokenStore(tmp_path / "tokens.enc", generate_secret_key())
    tokens.save("loc", TokenSet(access_token="at-1", expires_at=time.time() + 60))
    write_limiter_snapshot(tmp_path / "ratelimit.json", limiter, ["loc"], time.time())
    modes = {p.name: _mode(p) for p in tmp_path.iterdir()}
    assert modes == {
        "ratelimit.db": 0o600,
        "ratelimit.db-wal": 0o600,
        "ratelimit.db-shm": 0o600,
        "tokens.enc": 0o600,
        "tokens.enc.lock": 0o600,
        "ratelimit.json": 0o600,
    }


def _lines_until(stream: Iterator[str], seen: list[str], wanted: str) -> None:
    for line in stream:
        seen.append(line)
        if wanted in line:
            return
    raise AssertionError(f"{wanted!r} never logged:\n{''.join(seen)}")


def test_log_json_writes_only_json_lines(tmp_path: Path) -> None:
    """`tnhl run --log-json` against the simulator: its start, uvicorn's and httpx's lines, a
    refused delivery and its stop are each one JSON object per line, on stdout and stderr."""
    with running_simulator() as sim, socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        env = _env(
            tmp_path,
            TNHL_HIGHLEVEL_BASE_URL=sim.base_url,
            TNHL_HIGHLEVEL_TOKEN=sim.token,
            TNHL_LOCATION_ID=sim.location_id,
        )
        proc = subprocess.Popen(
            [str(TNHL), "run", "--log-json", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        watchdog = threading.Timer(90, proc.kill)  # a hang fails the test, never blocks it
        watchdog.start()
        seen: list[str] = []
        try:
            assert proc.stderr is not None
            _lines_until(proc.stderr, seen, "tnhl running")
            url = f"http://127.0.0.1:{port}/webhooks/talknotes"
            data = {"id": "c1", "full_name": "Sam Sample", "email": "sam@example.com"}
            event = {"type": "contact.created", "timestamp": "2026-12-01T09:00:00Z", "data": data}
            body = json.dumps(event).encode()
            headers = sign(SECRET, "msg_json_1", int(time.time()), body)
            assert httpx.post(url, content=body, headers=headers).status_code == 202
            _lines_until(proc.stderr, seen, '"logger": "httpx"')  # the call to HighLevel
            assert httpx.post(url, content=body).status_code == 401
            _lines_until(proc.stderr, seen, "refused")
            proc.send_signal(signal.SIGTERM)
            out, rest = proc.communicate(timeout=60)
        finally:
            watchdog.cancel()
            proc.kill()
    lines = [*seen, *rest.splitlines(keepends=True), *out.splitlines(keepends=True)]
    assert proc.returncode == 0, "".join(lines)
    parsed = [json.loads(line) for line in lines]
    assert all(isinstance(p, dict) and "event" in p and "level" in p for p in parsed)
    assert parsed[-1]["event"] == "stopping: finishing running batches"


def test_a_configuration_error_is_a_json_line_with_log_json(tmp_path: Path) -> None:
    """`tnhl run --log-json` with a bad setting: the one line on stderr is JSON too."""
    result = _tnhl(["run", "--log-json", "--workers", "0"], _env(tmp_path), tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    line = json.loads(result.stderr)
    assert (line["level"], line["event"]) == (
        "error",
        "setting workers (--workers): Input should be greater than or equal to 1",
    )


def test_json_lines_hold_warnings_and_tracebacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """With JSON on, a warning, uvicorn's error with its traceback, and uncaught exceptions
    (main thread and worker thread) are JSON lines; a traceback is the `exception` field."""
    from tnhl.sync import configure_logging

    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    configure_logging(json_lines=True)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("an old option", DeprecationWarning, stacklevel=1)
    try:
        raise ZeroDivisionError("in a request")
    except ZeroDivisionError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]

    def crash() -> None:
        raise RuntimeError("in a worker thread")

    worker = threading.Thread(target=crash, name="worker-1")
    worker.start()
    worker.join()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    firsts = [re.sub(r"^\S+\.py:\d+: ", "", p["event"].splitlines()[0]) for p in lines]
    assert [
        (p["level"], p.get("logger"), first) for p, first in zip(lines, firsts, strict=True)
    ] == [
        ("warning", "py.warnings", "DeprecationWarning: an old option"),
        ("error", "uvicorn.error", "Exception in ASGI application"),
        ("critical", None, "uncaught exception"),
        ("critical", None, "uncaught exception in a thread"),
    ]
    assert [p.get("exception", "").splitlines()[-1:] for p in lines] == [
        [],
        ["ZeroDivisionError: in a request"],
        ["ZeroDivisionError: in a request"],
        ["RuntimeError: in a worker thread"],
    ]
