"""What TalkNotes would be, for the two-way drills: a loopback HTTP server that verifies each
outbound delivery's Standard Webhooks signature, logs it, and answers `{"id": ...}` (the id a
record born in HighLevel gets in TalkNotes: `tn-born-<n>`, n its delivery's number)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from tnhl.talknotes import WebhookVerifier


class TalkNotesReceiver:
    """What TalkNotes would be: verifies each delivery, logs it, links HighLevel-born contacts."""

    def __init__(self, secret: str) -> None:
        self.verifier = WebhookVerifier(secret)
        self.got: list[dict[str, Any]] = []
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
