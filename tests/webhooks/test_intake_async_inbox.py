"""Intake with an inbox that can be awaited (`add_async`): used on the loop, not in threads."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from typing import Any

import httpx
import pytest
from intake_inboxes import MemoryInbox

from tnhl.talknotes import generate_secret, sign
from tnhl.webhooks import create_intake_app

NOW = 1_772_443_800  # 2026-03-02T09:30:00Z
SECRET = generate_secret()


class AwaitableInbox(MemoryInbox):
    """MemoryInbox plus `add_async`, which answers only after `release` is set (a commit)."""

    def __init__(self) -> None:
        super().__init__()
        self.async_calls = 0
        self.release = asyncio.Event()
        self.release.set()

    async def add_async(
        self,
        source: str,
        event_id: str,
        event_type: str,
        location_id: str,
        entity_key: str,
        body: str,
        received_at: datetime,
    ) -> bool:
        self.async_calls += 1
        await self.release.wait()
        return self.add(source, event_id, event_type, location_id, entity_key, body, received_at)


def _event(i: int) -> bytes:
    data = {"id": f"t{i}", "contactId": "c1", "taskName": "Call Sam back"}
    return json.dumps(
        {"type": "task.created", "timestamp": "2026-03-02T09:29:00Z", "data": data}
    ).encode()


def _client(inbox: MemoryInbox, offload: bool) -> httpx.AsyncClient:
    app = create_intake_app(
        inbox=inbox,
        talknotes_secret=SECRET,
        location_id="loc",
        clock=lambda: NOW,
        offload=offload,
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i")


async def _post(c: httpx.AsyncClient, i: int) -> httpx.Response:
    body = _event(i)
    return await c.post(
        "/webhooks/talknotes", content=body, headers=sign(SECRET, f"m{i}", NOW, body)
    )


async def test_add_async_is_awaited_and_answer_waits_for_it() -> None:
    """On the loop intake awaits add_async; no 202 is sent before it has returned."""
    inbox = AwaitableInbox()
    inbox.release.clear()
    async with _client(inbox, offload=False) as c:
        pending = asyncio.ensure_future(_post(c, 1))
        while inbox.async_calls == 0:  # the request reached the inbox
            await asyncio.sleep(0)
        for _ in range(20):
            await asyncio.sleep(0)
        assert not pending.done()
        assert inbox.rows() == []
        inbox.release.set()
        response = await asyncio.wait_for(pending, 10)
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "id": "m1"}
    assert [r.event_id for r in inbox.rows()] == ["m1"]
    assert inbox.async_calls == 1


async def test_offload_keeps_using_the_synchronous_add() -> None:
    """With offload=True intake calls `add` in a worker thread and never add_async."""
    inbox = AwaitableInbox()
    async with _client(inbox, offload=True) as c:
        assert (await _post(c, 2)).status_code == 202
    assert inbox.async_calls == 0
    assert inbox.calls == 1


async def test_add_async_unavailable_is_503_and_nothing_stored() -> None:
    """InboxUnavailable from add_async answers 503 with Retry-After, as `add` does."""
    inbox = AwaitableInbox()
    inbox.available = False
    async with _client(inbox, offload=False) as c:
        response = await _post(c, 3)
    assert response.status_code == 503
    assert "retry-after" in response.headers
    assert inbox.rows() == []


class _Busy(Exception):
    """An inbox's own "cannot persist now" error (as the store's StoreUnavailableError is)."""


class BusyInbox(MemoryInbox):
    def add(self, *args: Any, **kwargs: Any) -> bool:
        raise _Busy("store busy")


async def test_an_inbox_error_named_unavailable_is_a_503_logged_as_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An error type passed as `unavailable` answers 503 with Retry-After and is logged as a
    warning (a transient state), not as an unexpected failure with its traceback."""
    caplog.set_level(logging.INFO, logger="tnhl.webhooks.intake")
    app = create_intake_app(
        inbox=BusyInbox(),
        talknotes_secret=SECRET,
        location_id="loc",
        clock=lambda: NOW,
        unavailable=(_Busy,),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://i") as c:
        response = await _post(c, 4)
    assert response.status_code == 503
    assert "retry-after" in response.headers
    [record] = [r for r in caplog.records if "m4" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
