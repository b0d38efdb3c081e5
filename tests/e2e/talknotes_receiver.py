"""The two-way drills' parts: what TalkNotes would be (a loopback HTTP server that verifies
each outbound delivery's Standard Webhooks signature, logs it, and answers `{"id": ...}`: the
id a record born in HighLevel gets in TalkNotes, `tn-born-<n>`, n its delivery's number), a
`tnhl run` wired to it and to `tnhl simulate`, and TalkNotes' side of the traffic."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
from convergence_harness import TnhlProcess, make_secret, sign, tnhl_env

from tnhl.talknotes import WebhookVerifier

LOCATION = "TwoWayLocation000001"
TOKEN = "pit-two-way-token"


class TalkNotesReceiver:
    """What TalkNotes would be: verifies each delivery, logs it, links HighLevel-born contacts.
    Changes are logged in `got`, `profile.updated` bodies in `profiles`."""

    def __init__(self, secret: str) -> None:
        self.verifier = WebhookVerifier(secret)
        self.got: list[dict[str, Any]] = []
        self.profiles: list[dict[str, Any]] = []
        self.refused = 0
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    outer.verifier.verify(headers, raw)
                except Exception:
                    with outer.lock:
                        outer.refused += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.loads(raw)
                with outer.lock:
                    if body["type"] == "profile.updated":
                        outer.profiles.append(body)
                        answer = b"{}"
                    else:
                        outer.got.append({"webhook_id": headers["webhook-id"], **body})
                        linked = body["data"]["id"] or f"tn-born-{len(outer.got)}"
                        answer = json.dumps({"id": linked}).encode()
                self.send_response(200)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def two_way_tnhl(
    sim_url: str, data_dir: Path, talknotes: tuple[str, str, TalkNotesReceiver], **settings: str
) -> tuple[TnhlProcess, str, str]:
    """A `tnhl run` (not started) over `tnhl simulate` at `sim_url` (its one location
    `LOCATION` and token `TOKEN`), verifying the simulator's webhooks and telling the receiver;
    with its SQLite store's URL and the TalkNotes secret it verifies. `settings` add to or
    replace the environment."""
    out_url, out_secret, _ = talknotes
    inbound_secret = make_secret()
    database_url = f"sqlite:///{data_dir / 'tnhl.db'}"
    key_line = httpx.get(f"{sim_url}/_admin/webhooks/public-key").text
    wired = {
        "TNHL_HIGHLEVEL_BASE_URL": sim_url,
        "TNHL_HIGHLEVEL_TOKEN": TOKEN,
        "TNHL_LOCATION_ID": LOCATION,
        "TNHL_TALKNOTES_SECRET": inbound_secret,
        "TNHL_HIGHLEVEL_WEBHOOK_KEY": key_line,
        "TNHL_TALKNOTES_OUTBOUND_URL": out_url,
        "TNHL_TALKNOTES_OUTBOUND_SECRET": out_secret,
        "TNHL_OUTBOUND_DELAY": "0.5",
        "TNHL_DATABASE_URL": database_url,
        "TNHL_DATA_DIR": str(data_dir),
    }
    env = tnhl_env(**{**wired, **settings})
    return TnhlProcess(env), database_url, inbound_secret


def send_talknotes(
    tnhl: TnhlProcess, secret: str, msg_id: str, type_: str, timestamp: str, data: dict[str, Any]
) -> None:
    """POST one signed TalkNotes event to `tnhl run`; it must be accepted."""
    body = json.dumps({"type": type_, "timestamp": timestamp, "data": data}).encode()
    headers = sign(secret, msg_id, int(time.time()), body)
    sent = httpx.post(f"{tnhl.url}/webhooks/talknotes", content=body, headers=headers)
    assert sent.status_code == 202, sent.text


SIM_CONFIG: dict[str, Any] = {
    "locations": [{"id": LOCATION}],
    "tokens": [{"token": TOKEN, "location_id": LOCATION}],
}
AUTH = {"Authorization": f"Bearer {TOKEN}", "Version": "2021-07-28"}
