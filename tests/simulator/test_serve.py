"""serve_in_thread: real uvicorn on a free loopback port, ready when yielded, stopped after."""

from __future__ import annotations

import socket

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tnhl.simulator import bind_listening_socket, serve_in_thread


async def _hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def test_serves_over_loopback_then_stops() -> None:
    """The app answers real HTTP while inside the block and the port refuses after it."""
    app = Starlette(routes=[Route("/", _hello)])
    with serve_in_thread(app) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        response = httpx.get(base_url + "/", timeout=5)
        assert response.status_code == 200
        assert response.text == "hello"
    with pytest.raises(httpx.ConnectError):
        httpx.get(base_url + "/", timeout=2)


def test_two_servers_get_distinct_ports() -> None:
    """Two servers at once each get their own free port."""
    app = Starlette(routes=[Route("/", _hello)])
    with serve_in_thread(app) as first, serve_in_thread(app) as second:
        assert first != second
        assert httpx.get(second + "/", timeout=5).text == "hello"


def test_listening_socket_is_tcp_so_responses_are_not_delayed() -> None:
    """The socket declares IPPROTO_TCP, which makes asyncio set TCP_NODELAY on connections."""
    sock = bind_listening_socket("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
