"""Every one of the 32 operations, sent by the client to Prism serving the official spec.

Prism (`prism mock --errors`) validates each request against apps/contacts.json: a request it
finds wrong is answered 4xx with an `sl-violations` header. Each call here must succeed and
carry no violation, so the client's paths, parameters, headers (Version is enum-checked) and
bodies are what HighLevel's own spec describes.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tnhl.highlevel import (
    OPERATIONS,
    AsyncHighLevelClient,
    HighLevelClient,
    PrivateIntegrationToken,
    RetryPolicy,
    SearchFilter,
    SearchRequest,
    ServerError,
)

pytestmark = pytest.mark.external

CONTACT_ID = "ocQHyuzHvysMo5N5VsXc"
TASK_ID = "aBcDeFgHiJkLmNoPqRsT"
NOTE_ID = "zYxWvUtSrQpOnMlKjIhG"
LOCATION = "ve9EPM428h8vShlRW1KT"
BUSINESS = "641c094001436dbc2081e642"
USER = "63e4qiWDsFJjOYAC8phG"
CAMPAIGN = "kPBSpXcA8nGX3DqbjWAC"
WORKFLOW = "78559bb3-b920-461e-b010-7b2a2816d2a9"

C = {"contactId": CONTACT_ID}
TASK = {
    "title": "Call Sam back",
    "body": "About the quote",
    "dueDate": "2026-12-04T11:00:00Z",
    "completed": False,
    "assignedTo": USER,
}
CONTACT_BODY = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "email": "ada@example.com",
    "phone": "+18832327657",
    "tags": ["talknotes"],
    "customFields": [{"id": "MgobCB14YMVKuE4Ka8p1", "field_value": "XYZ Corp"}],
    "source": "tnhl",
    "country": "US",
}

# operation id -> (params, json body); every operation of the table must be here.
CALLS: dict[str, tuple[dict[str, object], object | None]] = {
    "search-contacts-advanced": (
        {},
        SearchRequest(
            location_id=LOCATION,
            page_limit=20,
            page=1,
            filters=[SearchFilter(field="email", operator="exists")],
        ),
    ),
    "get-duplicate-contact": ({"locationId": LOCATION, "email": "ada@example.com"}, None),
    "get-all-tasks": (C, None),
    "create-task": (C, TASK),
    "get-task": ({**C, "taskId": TASK_ID}, None),
    "update-task": ({**C, "taskId": TASK_ID}, {"title": "Call Sam on Friday"}),
    "delete-task": ({**C, "taskId": TASK_ID}, None),
    "update-task-completed": ({**C, "taskId": TASK_ID}, {"completed": True}),
    "get-appointments-for-contact": (C, None),
    "add-tags": (C, {"tags": ["vip"]}),
    "remove-tags": (C, {"tags": ["vip"]}),
    "get-all-notes": (C, None),
    "create-note": (C, {"body": "Met at the fair", "title": "Fair", "userId": USER}),
    "get-note": ({**C, "id": NOTE_ID}, None),
    "update-note": ({**C, "id": NOTE_ID}, {"body": "Met at the spring fair"}),
    "delete-note": ({**C, "id": NOTE_ID}, None),
    "create-association": (
        {"type": "add"},
        {"contacts": [CONTACT_ID], "tags": ["vip"], "locationId": LOCATION},
    ),
    "add-remove-contact-from-business": (
        {},
        {"locationId": LOCATION, "ids": [CONTACT_ID], "businessId": BUSINESS},
    ),
    "get-contact": (C, None),
    "update-contact": (C, {"firstName": "Augusta", "customFields": CONTACT_BODY["customFields"]}),
    "delete-contact": (C, None),
    "upsert-contact": ({}, {**CONTACT_BODY, "locationId": LOCATION}),
    "get-contacts-by-businessId": (
        {"businessId": BUSINESS, "locationId": LOCATION, "limit": "25", "skip": "0"},
        None,
    ),
    "add-followers-contact": (C, {"followers": [USER]}),
    "remove-followers-contact": (C, {"followers": [USER]}),
    "add-contact-to-campaign": ({**C, "campaignId": CAMPAIGN}, {}),
    "remove-contact-from-campaign": ({**C, "campaignId": CAMPAIGN}, None),
    "remove-contact-from-every-campaign": (C, None),
    "add-contact-to-workflow": (
        {**C, "workflowId": WORKFLOW},
        {"eventStartTime": "2026-06-23T03:30:00+01:00"},
    ),
    "delete-contact-from-workflow": (
        {**C, "workflowId": WORKFLOW},
        {"eventStartTime": "2026-06-23T03:30:00+01:00"},
    ),
    "create-contact": ({}, {**CONTACT_BODY, "locationId": LOCATION}),
    "get-contacts": ({"locationId": LOCATION, "limit": 20}, None),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def prism_url(
    prism_bin: Path, specs_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Prism mocking the official contacts spec, with request validation errors on."""
    port = _free_port()
    log = tmp_path_factory.mktemp("prism") / "prism.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(prism_bin), "mock", "-h", "127.0.0.1", "-p", str(port), "--errors",
             str(specs_dir / "apps" / "contacts.json")],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"Prism exited early: {log.read_text(errors='replace')[-2000:]}")
            try:
                httpx.get(url + "/contacts/x", timeout=1.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("Prism did not answer within 60 s")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class Recording(httpx.HTTPTransport):
    """The real HTTP transport, keeping each response's status and violation header."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, int, str | None]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.seen.append(
            (request.url.path, response.status_code, response.headers.get("sl-violations"))
        )
        return response


def test_every_operation_has_a_call() -> None:
    """The conformance table covers all 32 operations."""
    assert set(CALLS) == set(OPERATIONS)


def _request_violations(header: str | None) -> list[dict[str, Any]]:
    violations = json.loads(header) if header else []
    return [v for v in violations if v.get("location", [""])[0] != "response"]


@pytest.mark.parametrize("operation_id", sorted(OPERATIONS))
def test_operation_is_accepted_by_prism(prism_url: str, operation_id: str) -> None:
    """The client's request for this operation passes Prism's validation of the spec."""
    params, body = CALLS[operation_id]
    transport = Recording()
    auth = PrivateIntegrationToken("pit-00000000-0000-0000-0000-000000000000")
    client = HighLevelClient(
        auth, base_url=prism_url, transport=transport, retry=RetryPolicy(attempts=1)
    )
    with client:
        try:
            result: Any = client.call(operation_id, params=params, json=body)
        except ServerError:
            # Prism answers 500 when the spec's own example breaks the spec's response schema
            # (get-contacts, get-contacts-by-businessId, create-association): the request was
            # valid, which is what this test is about.
            result = None
    assert len(transport.seen) == 1
    _, status, header = transport.seen[0]
    assert _request_violations(header) == []
    if status == 500:
        assert header, "a 500 from Prism without violations"
    else:
        assert header is None
        assert status == OPERATIONS[operation_id].success
        assert result is None or isinstance(result, dict | list)


def test_async_client_is_accepted_by_prism(prism_url: str) -> None:
    """The async client sends the same valid requests (a create and a read)."""

    async def run() -> list[Any]:
        auth = PrivateIntegrationToken("pit-00000000-0000-0000-0000-000000000000")
        async with AsyncHighLevelClient(auth, base_url=prism_url) as client:
            created = await client.call("create-task", params=C, json=TASK)
            read = await client.call("get-contact", params=C)
            return [created, read]

    created, read = asyncio.run(run())
    assert "task" in created
    assert read["contact"]["id"]
