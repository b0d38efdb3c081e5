"""Run an ASGI app under uvicorn on a free loopback port in a background thread.

Tests, demos and benchmarks use this to talk to real HTTP over loopback rather than an
in-process transport, so what they see (headers, content-length, dropped connections) is what
a client of the real service would see.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

__all__ = ["ServeError", "bind_listening_socket", "serve_in_thread"]


class ServeError(RuntimeError):
    """The server did not start (or stop) within its deadline."""


def bind_listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host:port` (port 0 picks a free one) and listening, for uvicorn.

    Binding ourselves and handing the socket to uvicorn avoids the race of picking a "free" port
    number and hoping nobody takes it before uvicorn binds it. Raises `OSError` if it cannot bind.
    """
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when the
    # listening socket says it is TCP, and without it every response waits ~40 ms (Nagle plus
    # delayed ACK) because h11 writes headers and body separately.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


@contextmanager
def serve_in_thread(
    app: ASGIApp,
    *,
    startup_timeout: float = 10.0,
    shutdown_timeout: float = 10.0,
    log_level: str = "warning",
) -> Iterator[str]:
    """Serve `app` on 127.0.0.1:<free port>; yield its base URL (`http://127.0.0.1:PORT`).

    Waits (polling, with a deadline) until uvicorn reports it has started, and on exit asks it to
    stop and joins the thread. Raises `ServeError` if either takes longer than its timeout.
    """
    sock = bind_listening_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level=log_level,
        lifespan="auto",
        access_log=False,
        # Connections kept alive by a test client must not hold the shutdown for long.
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    # uvicorn installs signal handlers only in the main thread; running elsewhere is supported.
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive():
                raise ServeError("uvicorn exited before it started serving")
            if time.monotonic() > deadline:
                raise ServeError(f"uvicorn did not start within {startup_timeout} s")
            time.sleep(0.005)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(shutdown_timeout)
        sock.close()
        if thread.is_alive():
            raise ServeError(f"uvicorn did not stop within {shutdown_timeout} s")
