"""Issue 11's "Done when", walked through as a new user does it: the real `tnhl` command in
subprocesses (no Python API of tnhl), `tnhl simulate` as HighLevel, httpx as the browser.

simulate -> init -> OAuth with `auth login` -> `verify` (green, then four wrong setups) ->
`run` in dry run holding a signed contact and task -> `go-live` -> both in HighLevel -> the
dashboard lists the contact's event as done. HighLevel's side is read through the simulator's
admin API, tnhl's store through `tnhl events list --json`.
"""

from __future__ import annotations

import html
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

pytestmark = pytest.mark.slow  # about 30 s; no outside tool (no Prism, Chromium, PostgreSQL)

TNHL = Path(sys.executable).with_name("tnhl")  # .venv/bin/tnhl, as `./dev` installs it
LOC = "GoLiveLocation000001"
OTHER_LOC = "GoLiveLocation000002"
CLIENT_ID = "6650aa-golive"
CLIENT_SECRET = "golive-app-secret"
READ_ONLY = "pit-golive-readonly"
OTHERS_TOKEN = "pit-golive-other-location"
SIM_YAML = f"""\
locations:
  - id: {LOC}
  - id: {OTHER_LOC}
tokens:
  - token: {READ_ONLY}
    location_id: {LOC}
    scopes: [contacts.readonly]
  - token: {OTHERS_TOKEN}
    location_id: {OTHER_LOC}
oauth_clients:
  - client_id: {CLIENT_ID}
    client_secret: {CLIENT_SECRET}
    company_id: GoLiveCompany0000001
    locations: [{LOC}]
"""
CONTACT_EVENT = {
    "type": "contact.created",
    "timestamp": "2026-12-01T09:00:00Z",
    "data": {"id": "tn-golive-1", "full_name": "Gina Live", "email": "gina.live@example.com"},
}
TASK_EVENT = {
    "type": "task.created",
    "timestamp": "2026-12-01T09:00:05Z",
    "data": {
        "id": "tn-golive-task-1",
        "contactId": "tn-golive-1",
        "taskName": "Send Gina the quote",
        "dueDate": "2026-12-10T15:00:00Z",
    },
}
HELD_CONTACT = (
    "dry run: would GET /contacts/search/duplicate, then POST /contacts/ {"
    '"locationId": "GoLiveLocation000001", "firstName": "Gina", "lastName": "Live", '
    '"name": "Gina Live", "email": "gina.live@example.com"}'
)
HELD_TASK = (
    "dry run: would run once its contact is in HighLevel "
    "(contact tn-golive-1 is not in HighLevel yet)"
)
DEADLINE = 20.0  # seconds any one thing may take to happen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(cond: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)  # the poll's pace; the deadline is what bounds the wait


class Proc:
    """`tnhl ARGS` running in the background; its stdout read line by line as it comes."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], name: str) -> None:
        self._stderr = (cwd / f"{name}.stderr").open("w+", encoding="utf-8")
        self.popen = subprocess.Popen(
            [str(TNHL), *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.seen: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self._lines.put(line.rstrip("\n"))

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()

    def line(self, pattern: str) -> re.Match[str]:
        """The next stdout line matching `pattern` (lines before it are passed over)."""
        deadline = time.monotonic() + DEADLINE
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(
            f"no line matching {pattern!r}: stdout {self.seen!r}, stderr {self.stderr()!r}"
        )

    def exit_code(self) -> int:
        return self.popen.wait(DEADLINE)

    def stop(self, sig: int) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._stderr.close()


def fail_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("FAIL ")]


def check_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line[:5] in ("ok   ", "FAIL ", "skip ")]


def test_a_new_user_goes_from_nothing_to_live_with_the_cli_alone(tmp_path: Path) -> None:
    """A new user goes live with the CLI alone: OAuth, verify, dry run held, go-live, dashboard."""
    assert TNHL.exists(), f"{TNHL} is missing: install tnhl into the venv (./dev)"
    home = tmp_path / "tnhl"  # where the user keeps tnhl.yaml and runs every command
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TNHL_")}
    env["PYTHONUNBUFFERED"] = "1"

    def tnhl(*args: str, **override: str) -> subprocess.CompletedProcess[str]:
        """One `tnhl` command in the settings' directory; `override`: TNHL_* variables."""
        return subprocess.run(
            [str(TNHL), *args],
            cwd=home,
            env={**env, **override},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def talknotes_events() -> list[dict[str, Any]]:
        listed = tnhl("events", "list", "--json", "--source", "talknotes", "--config", "tnhl.yaml")
        assert listed.returncode == 0, listed.stderr
        events: list[dict[str, Any]] = json.loads(listed.stdout)
        return events

    with ExitStack() as stop:
        # 1. A local HighLevel: an OAuth app, a read-only PIT, a token of another location.
        tmp_path.joinpath("sim.yaml").write_text(SIM_YAML, encoding="utf-8")
        simulate = Proc(
            ["simulate", "--port", "0", "--config", "sim.yaml"], tmp_path, env, "simulate"
        )
        stop.callback(simulate.stop, signal.SIGINT)
        sim = simulate.line(r"^HighLevel simulator listening on (http://127\.0\.0\.1:\d+)$")[1]
        simulate.line(r"^  export TNHL_HIGHLEVEL_WEBHOOK_KEY=")

        def highlevel() -> dict[str, list[dict[str, Any]]]:
            answer = httpx.get(f"{sim}/_admin/state", timeout=5)
            answer.raise_for_status()
            records: dict[str, list[dict[str, Any]]] = answer.json()["locations"][LOC]["records"]
            return records

        # 2. tnhl init, then the OAuth app's settings added to the file it wrote.
        made = tnhl("init", "--dir", str(home), "--location-id", LOC, "--base-url", sim, "--yes")
        assert made.returncode == 0, made.stderr
        config_path = home / "tnhl.yaml"
        assert config_path.stat().st_mode & 0o777 == 0o600
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        assert (config["highlevel_base_url"], config["location_id"]) == (sim, LOC)
        assert f"  secret:  {config['talknotes_secret']}\n" in made.stdout
        assert f"password: {config['admin_password']}\n" in made.stdout
        token_file = home / ".tnhl" / "tokens.enc"
        with config_path.open("a", encoding="utf-8") as settings:
            settings.write(
                "\n# OAuth with our marketplace app (docs/auth-and-rate-limits.md)\n"
                f"oauth_client_id: {CLIENT_ID}\n"
                f"oauth_client_secret: {CLIENT_SECRET}\n"
                f"token_file: {token_file}\n"
            )

        # 3. tnhl auth login: follow the printed address, choose the location on the page.
        port = free_port()
        login = Proc(
            ["auth", "login", "--no-browser", "--port", str(port), "--config", "tnhl.yaml"],
            home,
            env,
            "login",
        )
        stop.callback(login.stop, signal.SIGTERM)
        url = login.line(r"^  (http\S+)$")[1]
        assert url.startswith(f"{sim}/v2/oauth/chooselocation?response_type=code&client_id=")
        callback = httpx.get(f"{url}&location_id={LOC}", follow_redirects=True, timeout=DEADLINE)
        assert callback.status_code == 200, callback.text
        assert str(callback.url).startswith(f"http://127.0.0.1:{port}/oauth/callback?code=")
        login.line(r"^connected: location GoLiveLocation000001 \(connection default\)$")
        login.line(r"^  scopes:  contacts\.readonly contacts\.write$")
        login.line(r"^  expires: \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in 23 h 59 min\); tnhl renews")
        login.line(rf"^  saved:   {re.escape(str(token_file))} \(encrypted with token_file_key\)$")
        assert login.exit_code() == 0, login.stderr()
        status = tnhl("auth", "status", "--config", "tnhl.yaml")
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.splitlines()[:2] == [
            "connection default, location GoLiveLocation000001",
            "  credentials: OAuth (app 6650aa-golive)",
        ]
        assert re.search(
            r"\n  expires:     \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in 23 h 59 min\)\n", status.stdout
        ), status.stdout
        assert "  health:      ok (token file tokens.enc decrypted, refresh token present)" in (
            status.stdout
        )

        # 4. tnhl verify: every line ok with the OAuth tokens; then wrong setups, one FAIL each.
        green = tnhl("verify", "--config", "tnhl.yaml")
        assert green.returncode == 0, green.stdout + green.stderr
        lines = check_lines(green.stdout)
        assert lines[:3] == [
            "ok   token accepted by HighLevel",
            "ok   scopes contacts.readonly and contacts.write granted",
            "ok   location GoLiveLocation000001 reachable with this token",
        ]
        assert lines[3].startswith("ok   contact created, read and updated (tnhl-verify-")
        assert lines[4:8] == [
            "ok   task created, read, updated and deleted",
            "ok   note created, read, updated and deleted",
            "ok   contact deleted: no test data is left in HighLevel",
            "ok   talknotes_secret set (a whsec_ secret)",
        ]
        assert lines[8].startswith("skip public URL: not checked")
        assert len(lines) == 9
        assert "all checks passed: start syncing with `tnhl run`" in green.stdout

        unknown = tnhl("verify", "--config", "tnhl.yaml", TNHL_HIGHLEVEL_TOKEN="pit-nobody-knows")
        assert unknown.returncode == 1, unknown.stdout + unknown.stderr
        [line] = fail_lines(unknown.stdout)
        assert line.startswith("FAIL token: HighLevel answered 401 (Invalid JWT) - ")
        assert "check highlevel_token" in line

        read_only = tnhl("verify", "--config", "tnhl.yaml", TNHL_HIGHLEVEL_TOKEN=READ_ONLY)
        assert read_only.returncode == 1, read_only.stdout + read_only.stderr
        [line] = fail_lines(read_only.stdout)
        assert line.startswith("FAIL scopes: the token lacks contacts.write (HighLevel answered")
        assert "allow contacts.write for the token in HighLevel" in line

        others = tnhl("verify", "--config", "tnhl.yaml", TNHL_HIGHLEVEL_TOKEN=OTHERS_TOKEN)
        assert others.returncode == 1, others.stdout + others.stderr
        [line] = fail_lines(others.stdout)
        assert line.startswith(
            "FAIL location: HighLevel answered 403 (The token does not have access to this "
            "location.) - check location_id (GoLiveLocation000001)"
        )

        typo = tnhl("verify", "--config", "tnhl.yaml", TNHL_LOCATION_ID=OTHER_LOC)
        assert typo.returncode == 1, typo.stdout + typo.stderr
        [line] = fail_lines(typo.stdout)
        assert line.startswith("FAIL token: no OAuth tokens stored under 'GoLiveLocation000002'")
        assert line.endswith(
            " - run `tnhl auth login` to store tokens for location GoLiveLocation000002, or "
            "check location_id"
        ), line
        assert highlevel() == {}, "verify left test data in HighLevel"

        # 5. tnhl run in dry run: a signed contact and task are held; go-live sends them.
        run_port = free_port()
        text = config_path.read_text(encoding="utf-8")
        assert "\nport: 8080\n" in text
        text = text.replace("\nport: 8080\n", f"\nport: {run_port}\n") + "dry_run: true\n"
        config_path.write_text(text, encoding="utf-8")
        run = Proc(["run", "--config", "tnhl.yaml"], home, env, "run")
        stop.callback(run.stop, signal.SIGTERM)
        base = f"http://127.0.0.1:{run_port}"

        def answers() -> bool:
            assert run.popen.poll() is None, f"tnhl run exited: {run.stderr()}"
            try:
                return httpx.get(f"{base}/healthz", timeout=1).is_success
            except httpx.HTTPError:
                return False

        wait_for(answers, "tnhl run to answer")
        for name, event in (("contact.json", CONTACT_EVENT), ("task.json", TASK_EVENT)):
            home.joinpath(name).write_text(json.dumps(event), encoding="utf-8")
            sent = tnhl("send", name, "--config", "tnhl.yaml")
            assert sent.returncode == 0, sent.stdout + sent.stderr
            assert sent.stdout.startswith('202 {"status":"accepted"'), sent.stdout

        def held() -> bool:
            got = talknotes_events()
            return len(got) == 2 and all(
                (e["outcome"] or "").startswith("dry run: would ") for e in got
            )

        wait_for(held, "both events held by the dry run")
        assert [(e["event_type"], e["state"], e["outcome"]) for e in talknotes_events()] == [
            ("contact.created", "pending", HELD_CONTACT),
            ("task.created", "pending", HELD_TASK),
        ]
        assert highlevel() == {}, "the dry run wrote to HighLevel"

        live = tnhl("go-live", "default", "--yes", "--config", "tnhl.yaml")
        assert live.returncode == 0, live.stdout + live.stderr
        assert live.stdout.endswith(
            "default is live; 2 held records due now: a running `tnhl run` sends them\n"
        )
        wait_for(lambda: len(highlevel().get("task", [])) == 1, "the task in HighLevel")
        state = highlevel()
        [contact] = state["contact"]
        [task] = state["task"]
        assert (contact["firstName"], contact["lastName"], contact["email"]) == (
            "Gina",
            "Live",
            "gina.live@example.com",
        )
        assert (task["title"], task["dueDate"], task["completed"], task["contactId"]) == (
            "Send Gina the quote",
            "2026-12-10T15:00:00.000Z",
            False,
            contact["id"],
        )
        wait_for(
            lambda: [e["state"] for e in talknotes_events()] == ["done", "done"],
            "both events done in tnhl's store",
        )
        # A finished event's outcome is its result, not the dry run's reason it once had.
        assert talknotes_events()[0]["outcome"] == f"create-contact {contact['id']}"
        # `events show`: the calls sent once live (none while held), with HighLevel's answers.
        contact_event = next(e for e in talknotes_events() if e["event_type"] == "contact.created")
        shown = tnhl("events", "show", str(contact_event["id"]), "--config", "tnhl.yaml")
        assert shown.returncode == 0, shown.stderr
        calls = json.loads(shown.stdout)["calls"]
        assert [(c["operation"], c["request"].split("?")[0], c["status"]) for c in calls] == [
            ("get-duplicate-contact", "GET /contacts/search/duplicate", 200),
            ("create-contact", "POST /contacts/", 201),
        ]
        assert calls[1]["answer"]["contact"]["id"] == contact["id"]

        # 6. The dashboard, over plain HTTP: log in, the contact's event is listed as done.
        with httpx.Client(base_url=base, timeout=5) as browser:
            form = browser.get("/login")
            assert form.status_code == 200
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert csrf is not None, form.text
            password = config["admin_password"]
            entered = browser.post(
                "/login", data={"csrf": csrf[1], "next": "/events", "password": password}
            )
            assert (entered.status_code, entered.headers.get("location")) == (303, "/events")
            page = browser.get("/events")
        assert page.status_code == 200
        body = re.search(r"<tbody>(.*?)</tbody>", page.text, re.S)
        assert body is not None, page.text
        rows = [
            [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]
            for cells in (
                re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
                for row in re.findall(r"<tr>(.*?)</tr>", body[1], re.S)
            )
        ]
        # columns: #, received, connection, source, type, event id, contact, state, tries, outcome
        assert [(r[2], r[3], r[4], r[6], r[7]) for r in rows] == [
            ("default", "talknotes", "task.created", "tn-golive-1", "done"),
            ("default", "talknotes", "contact.created", "tn-golive-1", "done"),
        ]
        assert rows[1][9] == f"create-contact {contact['id']}"
