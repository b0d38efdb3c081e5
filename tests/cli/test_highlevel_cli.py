"""`tnhl catalog` and `tnhl call`, the latter against a real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from tnhl.cli import _highlevel
from tnhl.highlevel import OPERATIONS

TOKEN = "pit-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def _app() -> typer.Typer:
    app = typer.Typer()
    _highlevel.register(app)
    return app


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Loopback:
    """A tiny HighLevel stand-in: answers `status` + `body` and records each request."""

    url: str = ""
    status: int = 200
    body: Any = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[Loopback]:
    state = Loopback()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            state.seen.append(
                Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    json.loads(raw) if raw else None,
                )
            )
            payload = json.dumps(state.body).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_catalog_json_lists_every_operation() -> None:
    """--json prints all 32 operations as actions `highlevel.<id>`, with the id `tnhl call`
    takes, method, path and scope."""
    result = CliRunner().invoke(_app(), ["catalog", "--json"])
    assert result.exit_code == 0, result.output
    rows = [row for row in json.loads(result.output) if "operation" in row]
    assert {row["operation"] for row in rows} == set(OPERATIONS)
    for row in rows:
        op = OPERATIONS[row["operation"]]
        assert row["id"] == f"highlevel.{op.id}"
        assert (row["method"], row["path"], row["scopes"]) == (op.method, op.path, [op.scope])
        assert row["kind"] == "action"


def test_catalog_table() -> None:
    """Without --json, a table names the operations and marks assumed scopes."""
    result = CliRunner().invoke(_app(), ["catalog"])
    assert result.exit_code == 0, result.output
    assert "get-contact" in result.output
    assert "(assumed)" in result.output


def test_call_sends_params_and_prints_json(server: Loopback) -> None:
    """`tnhl call get-contact -p contactId=...` GETs the path with the token and prints JSON."""
    server.body = {"contact": {"id": "c1", "firstName": "Ada"}}
    result = CliRunner().invoke(
        _app(),
        ["call", "get-contact", "--param", "contactId=c1", "--base-url", server.url,
         "--token", TOKEN],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == server.body
    (seen,) = server.seen
    assert (seen.method, seen.path) == ("GET", "/contacts/c1")
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["version"] == "2021-07-28"


def test_call_reads_token_and_base_url_from_env(server: Loopback) -> None:
    """The token and base URL may come from TNHL_HIGHLEVEL_TOKEN / TNHL_HIGHLEVEL_BASE_URL."""
    server.status, server.body = 201, {"note": {"id": "n1", "body": "hi"}}
    result = CliRunner().invoke(
        _app(),
        ["call", "create-note", "-p", "contactId=c1", "--json", '{"body": "hi"}'],
        env={"TNHL_HIGHLEVEL_TOKEN": TOKEN, "TNHL_HIGHLEVEL_BASE_URL": server.url},
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["note"]["id"] == "n1"
    assert server.seen[0].body == {"body": "hi"}
    assert server.seen[0].path == "/contacts/c1/notes"


def test_call_error_exits_non_zero_without_the_token(server: Loopback) -> None:
    """A 422 exits 1 with HighLevel's message; the token never appears in the output."""
    server.status = 422
    server.body = {"statusCode": 422, "message": ["property nope should not exist"]}
    result = CliRunner().invoke(
        _app(),
        ["call", "update-contact", "-p", "contactId=c1", "--json", '{"nope": 1}',
         "--base-url", server.url, "--token", TOKEN],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "UnprocessableError" in result.output
    assert "property nope should not exist" in result.output
    assert TOKEN not in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["call", "get-contact", "-p", "contactId=c1"], "no token"),
        (["call", "get-contact", "-p", "contactId=c1", "--token", TOKEN, "--json", "{"],
         "not valid JSON"),
        (["call", "get-contact", "-p", "bogus=1", "--token", TOKEN], "params.bogus"),
        (["call", "get-contact", "-p", "novalue", "--token", TOKEN], "NAME=VALUE"),
    ],
)  # fmt: skip
def test_call_bad_input_is_a_clear_error(args: list[str], expected: str) -> None:
    """Missing token, bad JSON, unknown or malformed params: non-zero exit naming the problem."""
    result = CliRunner().invoke(_app(), args, env={"TNHL_HIGHLEVEL_TOKEN": ""})
    assert result.exit_code != 0
    assert expected in result.output
    assert TOKEN not in result.output
