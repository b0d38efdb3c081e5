"""Drop a client's connection from inside an ASGI app, so the client sees a dead socket.

ASGI has no "close the connection" message: an app that raises or returns before answering
gets a 500 from uvicorn, which is not what a dropped connection looks like. uvicorn's `send`
and `receive` are bound methods of its per-request cycle object, which holds the asyncio
transport; aborting that transport closes the socket before any byte of response, and the
client (httpx) raises RemoteProtocolError "Server disconnected without sending a response"
(or ReadError when the reset arrives first). Middleware in between (Starlette's error
middleware) wraps `send` in closures, so we look through a few closure levels for it.

When no transport can be found (another server, an in-process transport) we fall back to a
truncated response: a Content-Length that the body never reaches, then returning, on which
uvicorn closes the connection and clients fail the same way, after the status line.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import Receive, Scope, Send

__all__ = ["drop_connection", "find_transport"]

_MAX_DEPTH = 4


def find_transport(fn: Any, depth: int = _MAX_DEPTH) -> asyncio.Transport | None:
    """The asyncio transport behind an ASGI `send`/`receive` callable, if it can be found."""
    owner = getattr(fn, "__self__", None)
    transport = getattr(owner, "transport", None)
    if isinstance(transport, asyncio.Transport):
        return transport
    if depth <= 0:
        return None
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            inner = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if callable(inner):
            found = find_transport(inner, depth - 1)
            if found is not None:
                return found
    return None


async def drop_connection(scope: Scope, receive: Receive, send: Send) -> None:
    """Close the connection without a response (or, failing that, with a truncated one)."""
    transport = find_transport(send) or find_transport(receive)
    if transport is not None:
        transport.abort()
        # Let the server's protocol run connection_lost before we return, so it marks the
        # request disconnected instead of trying to send a 500 on the dead socket.
        for _ in range(3):
            await asyncio.sleep(0)
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"', "more_body": True})
