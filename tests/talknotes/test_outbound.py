"""HighLevel's changes as TalkNotes outbound events (issue 9): the body built from HighLevel's
webhook payloads (literals from docs/highlevel-api.md section 11, and every documented example
of a propagated type), and its signed delivery to a real receiver over loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tnhl.talknotes import (
    OUTBOUND_TYPES,
    DeliveryFailed,
    SecretFormatError,
    WebhookOut,
    WebhookVerifier,
    generate_secret,
    outbound_event,
)

NOW = 1_764_590_400.0  # 2025-12-01T12:00:00Z


def test_contact_payload_becomes_a_contact_event_with_both_ids() -> None:
    """ContactCreate (the documented payload, trimmed): the TalkNotes id tnhl knows, the
    HighLevel id, the name, email, phone, tags and custom fields by HighLevel id."""
    payload = {
        "type": "ContactCreate",
        "locationId": "ve9EPM428h8vShlRW1KT",
        "id": "nmFmQEsNgz6AVpgLVUJ0",
        "email": "JohnDeo@gmail.comm",
        "name": "John Deo",
        "firstName": "John",
        "lastName": "Deo",
        "phone": "+919509597501",
        "dateAdded": "2021-11-26T12:41:02.193Z",
        "tags": ["id magna sed Lorem", "Duis dolor commodo aliqua"],
        "customFields": [{"id": "BcdmQEsNgz6AVpgLVUJ0", "value": "XYZ Corp"}],
    }
    body = outbound_event(payload, talknotes_id="tn-7", talknotes_contact_id=None, now=NOW)
    assert body == {
        "type": "contact.created",
        "timestamp": "2021-11-26T12:41:02.193Z",
        "data": {
            "id": "tn-7",
            "highlevel_id": "nmFmQEsNgz6AVpgLVUJ0",
            "full_name": "John Deo",
            "email": "JohnDeo@gmail.comm",
            "phone": "+919509597501",
            "tags": ["id magna sed Lorem", "Duis dolor commodo aliqua"],
            "custom_fields": {"BcdmQEsNgz6AVpgLVUJ0": "XYZ Corp"},
        },
    }


def test_task_note_and_appointment_carry_both_contact_ids() -> None:
    """TaskComplete is task.completed with completed true; a note's body is noteContent; an
    appointment's fields come from its nested object; a record born in HighLevel has id null."""
    task = {
        "type": "TaskComplete",
        "id": "5HrB1IbmnKMBXloldFuP",
        "assignedTo": "bNl8QNGXhIQJLv8eeASQ",
        "body": "testing",
        "contactId": "WFwVrSSjZ2CNHbZThQX2",
        "title": "Call back",
        "dueDate": "2021-11-30T13:37:00.000Z",
    }
    assert outbound_event(task, talknotes_id=None, talknotes_contact_id="tn-c", now=NOW) == {
        "type": "task.completed",
        "timestamp": "2025-12-01T12:00:00.000Z",
        "data": {
            "id": None,
            "highlevel_id": "5HrB1IbmnKMBXloldFuP",
            "contactId": "tn-c",
            "highlevel_contact_id": "WFwVrSSjZ2CNHbZThQX2",
            "taskName": "Call back",
            "description": "testing",
            "dueDate": "2021-11-30T13:37:00.000Z",
            "assignee": "bNl8QNGXhIQJLv8eeASQ",
            "completed": True,
        },
    }
    note = {"type": "NoteDelete", "id": "n1", "contactId": "hc1", "body": "gone"}
    assert outbound_event(note, talknotes_id="tn-n", talknotes_contact_id="tn-c", now=NOW) == {
        "type": "note.deleted",
        "timestamp": "2025-12-01T12:00:00.000Z",
        "data": {
            "id": "tn-n",
            "highlevel_id": "n1",
            "contactId": "tn-c",
            "highlevel_contact_id": "hc1",
        },
    }
    appointment = {
        "type": "AppointmentCreate",
        "appointment": {
            "id": "ap1",
            "contactId": "hc1",
            "title": "Demo",
            "startTime": "2026-12-04T10:00:00+01:00",
            "appointmentStatus": "confirmed",
        },
    }
    body = outbound_event(appointment, talknotes_id=None, talknotes_contact_id=None, now=NOW)
    assert body is not None
    assert body["type"] == "appointment.created"
    assert body["data"] == {
        "id": None,
        "highlevel_id": "ap1",
        "contactId": None,
        "highlevel_contact_id": "hc1",
        "title": "Demo",
        "startTime": "2026-12-04T10:00:00+01:00",
        "endTime": None,
        "status": "confirmed",
        "address": None,
        "notes": None,
    }


def test_types_not_propagated_give_none() -> None:
    """An app install, an opportunity change or a body without type is not sent to TalkNotes."""
    for payload in ({"type": "INSTALL"}, {"type": "OpportunityCreate", "id": "o"}, {"id": "x"}):
        assert (
            outbound_event(payload, talknotes_id=None, talknotes_contact_id=None, now=NOW) is None
        )


def test_every_documented_example_of_a_propagated_type_keeps_its_highlevel_ids(
    specs_dir: Path,
) -> None:
    """Each example payload in HighLevel's webhook docs, of a type tnhl propagates, becomes an
    event of the mapped type holding the example's own entity and contact ids."""
    events = json.loads((specs_dir / "webhooks" / "webhook-events.json").read_text())["events"]
    seen = set()
    for name, spec in events.items():
        if name not in OUTBOUND_TYPES:
            continue
        for documented in spec.get("examples", []):
            # The docs' AppointmentUpdate and AppointmentDelete examples say "AppointmentCreate"
            # (copied): the event is named by its page, as HighLevel names it in `type`.
            example = {**documented, "type": name}
            body = outbound_event(example, talknotes_id=None, talknotes_contact_id=None, now=NOW)
            assert body is not None, name
            assert body["type"] == OUTBOUND_TYPES[name]
            entity = example.get("appointment", example)
            assert body["data"]["highlevel_id"] == entity.get("id"), name
            if not name.startswith("Contact"):
                assert body["data"]["highlevel_contact_id"] == entity.get("contactId"), name
            seen.add(name)
    assert {"ContactCreate", "TaskCreate", "NoteCreate", "AppointmentDelete"} <= seen, seen


class _Receiver(BaseHTTPRequestHandler):
    answers: list[tuple[int, bytes]] = []
    got: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
        status, answer = self.answers.pop(0)
        self.send_response(status)
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"answers": [], "got": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/talknotes", handler
    server.shutdown()
    server.server_close()


def test_delivery_is_signed_and_links_the_receivers_id(
    receiver: tuple[str, type[_Receiver]],
) -> None:
    """The POST verifies with the outbound secret under the given webhook-id and time; a 2xx
    with {"id": ...} links it; a retry of the same event keeps its webhook-id."""
    url, handler = receiver
    secret = generate_secret()
    handler.answers += [(200, b'{"id": " tn-41 "}'), (202, b"")]
    out = WebhookOut(url, secret, clock=lambda: NOW)
    body = {"type": "contact.created", "timestamp": "t", "data": {"id": None}}
    first = out.deliver("msg_hl_1", body)
    second = out.deliver("msg_hl_1", body)
    out.close()
    assert (first.status, first.linked_id) == (200, "tn-41")
    assert (second.status, second.linked_id) == (202, None)
    verifier = WebhookVerifier(secret, clock=lambda: NOW)
    for headers, raw in handler.got:
        assert headers["webhook-id"] == "msg_hl_1"
        verifier.verify(headers, raw)
        assert json.loads(raw) == body


@pytest.mark.parametrize(
    ("status", "retry"), [(500, True), (503, True), (429, True), (422, False), (404, False)]
)
def test_a_refusal_says_whether_a_retry_may_help(
    receiver: tuple[str, type[_Receiver]], status: int, retry: bool
) -> None:
    """5xx and 429 are worth a retry; a 4xx refusal of the body is not."""
    url, handler = receiver
    handler.answers.append((status, b"nope"))
    out = WebhookOut(url, generate_secret())
    with pytest.raises(DeliveryFailed) as failed:
        out.deliver("msg_1", {"type": "x"})
    out.close()
    assert (failed.value.status, failed.value.retry) == (status, retry)


def test_no_receiver_is_a_retry_and_a_bad_secret_fails_at_once() -> None:
    """Nothing listening: DeliveryFailed with retry; a secret that is not whsec_ fails when
    the sender is built, naming no secret."""
    out = WebhookOut("http://127.0.0.1:9/none", generate_secret(), timeout=2.0)
    with pytest.raises(DeliveryFailed) as failed:
        out.deliver("msg_1", {"type": "x"})
    out.close()
    assert failed.value.retry is True
    assert failed.value.status is None
    with pytest.raises(SecretFormatError, match="whsec_"):
        WebhookOut("http://127.0.0.1:9/none", "plain-secret")
