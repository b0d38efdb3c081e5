"""`tnhl auth login`'s callback: a one-shot HTTP server on 127.0.0.1 that takes HighLevel's
redirect, compares its `state` in constant time and hands the code (or the refusal) over.

The request line holds the code, so nothing here logs it; the page shown in the browser only
says where to look next (the terminal).
"""

from __future__ import annotations

import hmac
import queue
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["CALLBACK_PATH", "Callback", "CallbackServer"]

CALLBACK_PATH = "/oauth/callback"


@dataclass(frozen=True)
class Callback:
    """What the browser brought back to the callback URL."""

    state_ok: bool
    code: str | None
    error: str | None


class CallbackServer:
    """A loopback HTTP server that takes HighLevel's redirect once and hands it to `wait`."""

    def __init__(self, port: int, state: str) -> None:
        self._answers: queue.Queue[Callback] = queue.Queue()
        self._done = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler(state.encode()))
        self._server.daemon_threads = True
        # A short poll: shutdown() waits for the loop to look, which is 0.5 s by default.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{CALLBACK_PATH}"

    def __enter__(self) -> CallbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def wait(self, timeout: float) -> Callback | None:
        """The first callback with a code or an error, or None after `timeout` seconds."""
        try:
            return self._answers.get(timeout=timeout)
        except queue.Empty:
            return None

    def _handler(self, expected: bytes) -> type[BaseHTTPRequestHandler]:
        answers, done = self._answers, self._done

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != CALLBACK_PATH:
                    self._page(404, "Not found.")
                    return
                query = dict(parse_qsl(parts.query))
                code, error = query.get("code") or None, query.get("error") or None
                if code is None and error is None:
                    self._page(400, "This address takes HighLevel's answer: no code came.")
                    return
                if done.is_set():
                    self._page(410, "This login has finished: see the terminal.")
                    return
                done.set()
                # Constant time: the state is the one secret a forged callback must guess.
                state_ok = hmac.compare_digest(query.get("state", "").encode(), expected)
                if error is not None and query.get("error_description"):
                    error = f"{error} ({query['error_description']})"
                if error is not None:  # shown in a terminal: no control characters
                    error = "".join(c for c in error if c.isprintable())[:300]
                if not state_ok:
                    self._page(400, "This answer is not for the login in your terminal.")
                elif error is not None:
                    self._page(200, "The authorization was refused: see the terminal.")
                else:
                    self._page(200, "HighLevel answered: tnhl finishes in the terminal.")
                answers.put(Callback(state_ok, code, error))

            def _page(self, status: int, text: str) -> None:
                body = f"<!doctype html><title>tnhl</title><p>tnhl: {text}</p>".encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the request line holds the code: never log it

        return Handler
