"""`tnhl run`: missing settings are named clearly; the service starts and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from tnhl.cli import _run
from tnhl.talknotes import generate_secret


def _app() -> typer.Typer:
    app = typer.Typer()
    _run.register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps typer from collapsing to one
        """Nothing."""

    return app


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("TNHL_"):
            monkeypatch.delenv(key)


def test_run_without_highlevel_settings_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No HighLevel base URL: exit 2 and a message naming the setting and the way out."""
    _clean_env(monkeypatch)
    monkeypatch.setenv("TNHL_TALKNOTES_SECRET", generate_secret())
    result = CliRunner().invoke(_app(), ["run", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "highlevel_base_url" in result.output
    assert "TNHL_HIGHLEVEL_BASE_URL" in result.output


def test_run_without_secret_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No TalkNotes signing secret: exit 2 naming TNHL_TALKNOTES_SECRET (and no value shown)."""
    _clean_env(monkeypatch)
    monkeypatch.setenv("TNHL_HIGHLEVEL_TOKEN", "pit-secret-value")
    result = CliRunner().invoke(_app(), ["run", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "TNHL_TALKNOTES_SECRET" in result.output
    assert "pit-secret-value" not in result.output


def test_run_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`tnhl run` answers /healthz and /metrics, and exits 0 after SIGTERM."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TNHL_")},
        "TNHL_HIGHLEVEL_BASE_URL": "http://127.0.0.1:9",
        "TNHL_HIGHLEVEL_TOKEN": "pit-x",
        "TNHL_LOCATION_ID": "loc1",
        "TNHL_TALKNOTES_SECRET": generate_secret(),
        "TNHL_DATA_DIR": str(tmp_path),
    }
    cmd = [sys.executable, "-c", "from tnhl.cli import main; main()", "run", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "tnhl run did not answer"
            time.sleep(0.05)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert "tnhl_events_received_total" in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out.decode()
    assert b"pit-x" not in out
