"""The client with real parts: a loopback socket that hangs or refuses, OAuth refresh, quota."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs

import httpx
import pytest
from hl_support import LOCATION, TOKEN, Recorder, reply

from tnhl.highlevel import (
    OPERATIONS,
    AsyncHighLevelClient,
    DailyQuotaExhaustedError,
    FakeClock,
    HighLevelClient,
    MemoryTokenStore,
    OAuthApp,
    OAuthAuth,
    OutcomeUnknownError,
    PrivateIntegrationToken,
    RateLimiter,
    TokenSet,
    TransportError,
)
from tnhl.highlevel._records import ContactEnvelope


class HangingServer:
    """Accepts connections, reads each request, and never answers (until closed)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)  # so the serving thread notices close() promptly
        self._stop = threading.Event()
        self.port = int(self.sock.getsockname()[1])
        self.requests = 0
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            self._conns.append(conn)
            try:
                if conn.recv(65536):
                    self.requests += 1
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
        for conn in self._conns:
            conn.close()


def _wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def hanging() -> Iterator[HangingServer]:
    server = HangingServer()
    try:
        yield server
    finally:
        server.close()


def test_create_timing_out_after_send_is_not_resent(hanging: HangingServer) -> None:
    """A real read timeout after create-note was sent gives OutcomeUnknownError, one request."""
    auth = PrivateIntegrationToken(TOKEN)
    client = HighLevelClient(
        auth, base_url=f"http://127.0.0.1:{hanging.port}", timeout=0.3, clock=FakeClock()
    )
    with client, pytest.raises(OutcomeUnknownError) as info:
        client.call("create-note", params={"contactId": "c1"}, json={"body": "hi"})
    assert isinstance(info.value.cause, httpx.ReadTimeout)
    assert info.value.body == {"body": "hi"}
    _wait_for(lambda: hanging.requests >= 1)
    assert hanging.requests == 1


def test_read_timing_out_is_retried_three_times(hanging: HangingServer) -> None:
    """A GET that times out is retried up to 3 tries, then TransportError."""
    clock = FakeClock()
    auth = PrivateIntegrationToken(TOKEN)
    client = HighLevelClient(
        auth, base_url=f"http://127.0.0.1:{hanging.port}", timeout=0.2, clock=clock
    )
    with client, pytest.raises(TransportError):
        client.call("get-contact", params={"contactId": "c1"})
    _wait_for(lambda: hanging.requests >= 3)
    assert hanging.requests == 3
    assert len(clock.sleeps) == 2


def test_refused_connection_lets_a_create_retry() -> None:
    """A refused connection (nothing sent) is retried even for create-contact."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = int(probe.getsockname()[1])
    clock = FakeClock()
    client = HighLevelClient(
        PrivateIntegrationToken(TOKEN), base_url=f"http://127.0.0.1:{port}", clock=clock
    )
    with client, pytest.raises(TransportError) as info:
        client.call("create-contact", json={"locationId": LOCATION})
    assert "3 tries" in str(info.value)
    assert len(clock.sleeps) == 2


def test_daily_quota_stops_before_sending() -> None:
    """With the day's budget spent, the call raises DailyQuotaExhaustedError and sends nothing."""
    clock = FakeClock(1_700_000_000.0)
    limiter = RateLimiter(clock=clock, daily=1)
    rec = Recorder(lambda _: reply(200, {"contact": {"id": "c1"}}))
    auth = PrivateIntegrationToken(TOKEN, location_id=LOCATION)
    with HighLevelClient(
        auth, transport=httpx.MockTransport(rec), rate_limiter=limiter, clock=clock
    ) as client:
        client.call("get-contact", params={"contactId": "c1"})
        with pytest.raises(DailyQuotaExhaustedError) as info:
            client.call("get-contact", params={"contactId": "c1"})
    assert info.value.key == LOCATION
    assert len(rec.requests) == 1


def _oauth(clock: FakeClock, token_requests: list[dict[str, list[str]]]) -> OAuthAuth:
    def token_endpoint(request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        token_requests.append(form)
        n = len(token_requests)
        return httpx.Response(
            200,
            json={
                "access_token": f"access-{n}",
                "refresh_token": f"refresh-{n}",
                "expires_in": 86399,
                "token_type": "Bearer",
                "scope": "contacts.readonly contacts.write",
                "userType": "Location",
                "locationId": LOCATION,
                "userId": "u1",
            },
        )

    app = OAuthApp(
        "app-1",
        "client-secret-value",
        transport=httpx.MockTransport(token_endpoint),
        async_transport=httpx.MockTransport(token_endpoint),
        clock=clock,
    )
    store = MemoryTokenStore()
    store.save(
        LOCATION,
        TokenSet(
            access_token="access-0",  # type: ignore[arg-type]
            refresh_token="refresh-0",  # type: ignore[arg-type]
            expires_at=clock.time() + 3600,
            location_id=LOCATION,
            user_type="Location",
        ),
    )
    return OAuthAuth(app, store, LOCATION, clock=clock)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_oauth_token_refreshed_after_401(mode: str) -> None:
    """A 401 makes OAuthAuth refresh once (rotating the refresh token); the call then succeeds."""
    clock = FakeClock(1_700_000_000.0)
    token_requests: list[dict[str, list[str]]] = []
    auth = _oauth(clock, token_requests)

    def api(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer access-0":
            return reply(401, {"statusCode": 401, "message": "Invalid JWT"})
        return reply(200, {"contact": {"id": "c1"}})

    rec = Recorder(api)
    transport = httpx.MockTransport(rec)
    if mode == "sync":
        with HighLevelClient(auth, transport=transport, clock=clock) as client:
            body = client.call("get-contact", params={"contactId": "c1"})
    else:

        async def run() -> object:
            async with AsyncHighLevelClient(auth, transport=transport, clock=clock) as client:
                return await client.call("get-contact", params={"contactId": "c1"})

        body = asyncio.run(run())
    assert body == {"contact": {"id": "c1"}}
    assert [r.headers["authorization"] for r in rec.requests] == [
        "Bearer access-0",
        "Bearer access-1",
    ]
    assert len(token_requests) == 1
    assert token_requests[0]["grant_type"] == ["refresh_token"]
    assert token_requests[0]["refresh_token"] == ["refresh-0"]


def test_operation_parse_gives_the_response_model() -> None:
    """Operation.parse turns a call's answer into the documented response model."""
    body = json.loads(json.dumps({"contact": {"id": "c1", "firstName": "Ada", "x": 1}}))
    parsed = OPERATIONS["get-contact"].parse(body)
    assert isinstance(parsed, ContactEnvelope)
    assert parsed.contact.first_name == "Ada"
    assert OPERATIONS["add-tags"].parse({"tags": ["a"]}) == {"tags": ["a"]}
