"""`tnhl simulate` as a user runs it: a real process on a real port."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from tnhl.cli import _simulate

TOKEN = "pit-11111111-2222-3333-4444-555555555555"
MAIN = "from tnhl.cli import main; main()"


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """A group, so `simulate` is a subcommand as in the real CLI."""

    _simulate.register(app)
    return app


def _start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", MAIN, "simulate", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _read_banner(proc: subprocess.Popen[str], deadline: float) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.lstrip().startswith("export "):
            return lines
    raise AssertionError(
        f"no banner; got {lines!r}, stderr: {proc.stderr.read() if proc.stderr else ''}"
    )


@pytest.fixture
def stop() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def test_starts_and_answers_within_two_seconds(stop: list[subprocess.Popen[str]]) -> None:
    """Launch to first answered API call is under 2 s; the banner says how to connect."""
    started = time.monotonic()
    proc = _start("--token", TOKEN, "--location-id", "CliLocation000000001")
    stop.append(proc)
    banner = _read_banner(proc, started + 10)
    text = "\n".join(banner)
    base_url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text)
    assert base_url is not None, text
    url = base_url.group(1)
    headers = {"Authorization": f"Bearer {TOKEN}", "Version": "2021-07-28"}
    r = httpx.post(f"{url}/contacts/", json={"locationId": "CliLocation000000001"}, headers=headers)
    elapsed = time.monotonic() - started
    assert r.status_code == 201
    assert elapsed < 2.0, f"took {elapsed:.2f} s"
    export = banner[-1].strip()
    assert export == (
        f"export TNHL_HIGHLEVEL_BASE_URL={url} TNHL_HIGHLEVEL_TOKEN={TOKEN} "
        "TNHL_LOCATION_ID=CliLocation000000001"
    )
    assert proc.stdout is not None
    key_line = proc.stdout.readline().strip()
    # An Ed25519 SubjectPublicKeyInfo always starts with these 12 DER bytes (base64 below).
    assert key_line.startswith("export TNHL_HIGHLEVEL_WEBHOOK_KEY=MCowBQYDK2VwAyEA"), key_line
    key = key_line.split("=", 1)[1].split()[0]
    served = httpx.get(f"{url}/_admin/webhooks/public-key").text
    assert "".join(served.strip().splitlines()[1:-1]) == key


def test_state_file_keeps_contacts_across_restarts(
    tmp_path: Path, stop: list[subprocess.Popen[str]]
) -> None:
    """--state FILE: a contact created before a restart is there after it."""
    state = tmp_path / "sim.db"
    headers = {"Authorization": f"Bearer {TOKEN}", "Version": "2021-07-28"}
    ids = []
    for _ in range(2):
        proc = _start("--token", TOKEN, "--state", str(state))
        stop.append(proc)
        text = "\n".join(_read_banner(proc, time.monotonic() + 10))
        match = re.search(r"listening on (\S+)", text)
        assert match is not None
        url = match.group(1)
        assert str(state) in text
        if not ids:
            r = httpx.post(
                f"{url}/contacts/", json={"locationId": "SimLocation000000001"}, headers=headers
            )
            ids.append(r.json()["contact"]["id"])
        else:
            assert httpx.get(f"{url}/contacts/{ids[0]}", headers=headers).status_code == 200
        proc.send_signal(signal.SIGINT)
        # uvicorn shuts down gracefully, then re-raises the signal: 130 is Ctrl-C's usual code.
        assert proc.wait(10) in (0, 130)


def test_banner_lists_every_token_of_a_several_location_config(
    tmp_path: Path, stop: list[subprocess.Popen[str]]
) -> None:
    """Two locations with a token each (one per tnhl connection): the banner names both
    tokens with their locations, after the export line for the first."""
    path = tmp_path / "sim.yaml"
    path.write_text(
        "locations: [{id: SimLocA000000000001}, {id: SimLocB000000000001}]\n"
        "tokens:\n"
        "  - {token: pit-aaa, location_id: SimLocA000000000001}\n"
        "  - {token: pit-bbb, location_id: SimLocB000000000001}\n",
        encoding="utf-8",
    )
    proc = _start("--config", str(path))
    stop.append(proc)
    banner = _read_banner(proc, time.monotonic() + 10)
    assert (
        banner[-1]
        .strip()
        .endswith("TNHL_HIGHLEVEL_TOKEN=pit-aaa TNHL_LOCATION_ID=SimLocA000000000001")
    )
    assert proc.stdout is not None
    rest = [proc.stdout.readline().rstrip("\n") for _ in range(4)][1:]  # after the key line
    assert rest == [
        "Every token and its location:",
        "  pit-aaa  SimLocA000000000001",
        "  pit-bbb  SimLocB000000000001",
    ]


def test_bad_config_file_names_the_field(tmp_path: Path) -> None:
    """A bad --config exits 2 with the file and field in the message."""
    path = tmp_path / "sim.yaml"
    path.write_text("rate_limit:\n  burst: -1\n", encoding="utf-8")
    result = CliRunner().invoke(_cli(), ["simulate", "--config", str(path)])
    assert result.exit_code == 2
    assert "rate_limit.burst" in result.output


def test_registered_in_the_cli() -> None:
    """`tnhl simulate --help` lists the documented options."""
    from tnhl.cli._app import _register_commands, app

    _register_commands()
    result = CliRunner().invoke(app, ["simulate", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--state", "--token", "--location-id", "--config"):
        assert option in result.output
    assert _simulate.DEFAULT_PORT == 8787


def test_keep_alive_requests_are_not_held_back_by_nagle(
    tmp_path: Path, stop: list[subprocess.Popen[str]]
) -> None:
    """Sequential get-contact calls on one keep-alive connection have a p50 under 5 ms."""
    config = tmp_path / "sim.yaml"
    # 200+ calls in a row would otherwise hit the 100-per-10-s burst limit.
    config.write_text("rate_limit:\n  enabled: false\n", encoding="utf-8")
    proc = _start("--token", TOKEN, "--config", str(config))
    stop.append(proc)
    text = "\n".join(_read_banner(proc, time.monotonic() + 10))
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text)
    assert match is not None, text
    headers = {"Authorization": f"Bearer {TOKEN}", "Version": "2021-07-28"}
    with httpx.Client(base_url=match.group(1), headers=headers, timeout=5) as client:
        created = client.post("/contacts/", json={"locationId": "SimLocation000000001"})
        assert created.status_code == 201, created.text
        path = f"/contacts/{created.json()['contact']['id']}"
        for _ in range(20):
            assert client.get(path).status_code == 200
        timings = []
        for _ in range(200):
            began = time.perf_counter()
            response = client.get(path)
            timings.append(time.perf_counter() - began)
            assert response.status_code == 200
    p50 = statistics.median(timings)
    assert p50 < 0.005, f"p50 {p50 * 1000:.1f} ms over {len(timings)} requests"


def test_accepted_connections_get_tcp_nodelay() -> None:
    """A connection accepted by asyncio on the socket `simulate` binds has TCP_NODELAY set."""

    async def accept_one() -> int:
        sock = _simulate._bind("127.0.0.1", 0)
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            server_side = writer.get_extra_info("socket")
            accepted.set_result(server_side.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        # The same loop.create_server(sock=...) path uvicorn takes with the socket we hand it.
        server = await asyncio.start_server(on_connect, sock=sock)
        async with server:
            _, writer = await asyncio.open_connection(*sock.getsockname())
            try:
                return await asyncio.wait_for(accepted, timeout=5)
            finally:
                writer.close()

    assert asyncio.run(accept_one()) != 0
