"""Notes become tasks, through the whole service (issue 10): signed note events over HTTP,
the workers, the simulator. The tasks are read back from the simulator's state."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from tnhl.simulator import running_simulator
from tnhl.simulator._serve import serve_in_thread
from tnhl.sync import load_settings
from tnhl.sync._service import Service
from tnhl.talknotes import generate_secret
from tnhl.talknotes._generator import signed_requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_harness import FAST_RETRY, wait_for

# 2026-12-01 15:30 UTC is 10:30 in New York (a Tuesday), the connection's zone below.
NOTE_AT = "2026-12-01T15:30:00Z"
EDITED_AT = "2026-12-01T16:00:00Z"


def _event(type_: str, at: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": type_, "timestamp": at, "data": data}


def _tasks(sim: Any, contact: str) -> list[tuple[str, str, bool]]:
    return sorted(
        (t["title"], t["dueDate"], bool(t.get("completed")))
        for t in sim.state.children("task", contact)
    )


def test_a_notes_follow_ups_become_its_contacts_tasks_once_and_follow_its_edits(
    tmp_path: Path,
) -> None:
    """A note with two follow-ups and a sentence without one: two tasks on its contact, due
    in New York time, titled from their sentences. The same note again: no more. Edited, one
    date moved and one sentence removed: the moved task's due date follows, the other stays.
    A note with no follow-up: no task; one stating a signing: one milestone note."""
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump({"tasks": {"due": {"timezone": "America/New_York"}}}))
    secret = generate_secret()
    text = "Met Sam at the expo. Call Sam back Friday at 3pm about the quote. Email him tomorrow."
    edited = "Met Sam at the expo. Call Sam back Monday at 3pm about the quote."
    events = [
        _event("contact.created", NOTE_AT, {"id": "c1", "email": "sam@x.io", "full_name": "Sam"}),
        _event("contact.created", NOTE_AT, {"id": "c2", "email": "kim@x.io", "full_name": "Kim"}),
        _event("note.created", NOTE_AT, {"id": "n1", "contactId": "c1", "noteContent": text}),
        _event(
            "note.created", NOTE_AT, {"id": "n2", "contactId": "c2", "noteContent": "Nice chat."}
        ),
        _event(
            "note.created",
            NOTE_AT,
            {"id": "n3", "contactId": "c2", "noteContent": "The contract was signed today."},
        ),
    ]
    with running_simulator() as sim:
        settings = load_settings(
            highlevel_base_url=sim.base_url,
            highlevel_token=sim.token,
            location_id=sim.location_id,
            data_dir=tmp_path,
            talknotes_secret=secret,
            mapping_file=mapping,
            workers=2,
            poll_interval=0.05,
            retry_scale=1e-5,
            http_timeout=2.0,
        )
        service = Service.from_settings(settings, retry=FAST_RETRY)
        service.start()
        try:
            with serve_in_thread(service.app) as base, httpx.Client(base_url=base) as http:
                sent = [0]

                def send(batch: list[dict[str, Any]]) -> None:
                    sent[0] += 1
                    at = int(time.time())
                    for headers, body in signed_requests(
                        batch, secret, timestamp=at, id_prefix=f"m{sent[0]}"
                    ):
                        r = http.post("/webhooks/talknotes", content=body, headers=headers)
                        assert r.status_code == 202, r.text

                def contact(tn: str) -> str | None:
                    return service.store.get_highlevel_id(sim.location_id, "contact", tn)

                def quiet() -> bool:
                    counts = service.store.stats().counts
                    return counts.get("received", 0) + counts.get("pending", 0) == 0

                send(events)

                def two_tasks() -> bool:
                    c = contact("c1")
                    return c is not None and len(_tasks(sim, c)) == 2 and quiet()

                wait_for(two_tasks, 30, "the note's two follow-up tasks")
                c1, c2 = contact("c1"), contact("c2")
                assert c1 is not None
                assert c2 is not None
                first = _tasks(sim, c1)
                send(
                    [
                        _event(
                            "note.updated",
                            NOTE_AT,
                            {"id": "n1", "contactId": "c1", "noteContent": text},
                        )
                    ]
                )
                wait_for(quiet, 30, "the repeated note settled")
                again = _tasks(sim, c1)
                send(
                    [
                        _event(
                            "note.updated",
                            EDITED_AT,
                            {"id": "n1", "contactId": "c1", "noteContent": edited},
                        )
                    ]
                )

                def moved_once() -> bool:
                    now = {d for _, d, _ in _tasks(sim, c1)}
                    return quiet() and len(now - {d for _, d, _ in first}) == 1

                wait_for(moved_once, 30, "the edited date on the task")
                moved = _tasks(sim, c1)
                assert _tasks(sim, c2) == []
                c2_notes = sorted(
                    (n.get("title") or "", n["body"]) for n in sim.state.children("note", c2)
                )
        finally:
            service.stop()
    # Friday Dec 4 15:00 New York = 20:00 UTC; tomorrow (Dec 2) 09:00 New York = 14:00 UTC.
    assert first == [
        ("Call Sam back about the quote", "2026-12-04T20:00:00.000Z", False),
        ("Email him", "2026-12-02T14:00:00.000Z", False),
    ]
    assert again == first
    # Kim's notes: hers, and one milestone note for the signing (none made from it in turn).
    assert c2_notes == [
        ("", "Nice chat."),
        ("", "The contract was signed today."),
        (
            "Milestone: signed",
            'Milestone: signed, 2026-12-01. From a TalkNotes note (n3): "The contract was '
            'signed today."',
        ),
    ]
    # Monday Dec 7 15:00 New York = 20:00 UTC; the removed sentence's task stays.
    assert moved == [
        ("Call Sam back about the quote", "2026-12-07T20:00:00.000Z", False),
        ("Email him", "2026-12-02T14:00:00.000Z", False),
    ]


def test_no_follow_up_events_for_a_deleted_note_another_kind_or_when_turned_off() -> None:
    """The same text gives one event for a live note; none when the note is deleted, when the
    record is a task, or with followups.enabled false."""
    from tnhl.mapping import load_mapping_text
    from tnhl.store import RecordState
    from tnhl.sync._followups import follow_up_events

    at = 1796139000.0  # 2026-12-01T15:30:00Z
    mapping = load_mapping_text("tasks: {due: {timezone: America/New_York}}")
    off = load_mapping_text("followups: {enabled: false}")

    def note(kind: str = "note", deleted: float | None = None) -> RecordState:
        return RecordState(
            location_id="L",
            kind=kind,  # type: ignore[arg-type]
            talknotes_id="n1",
            contact_id="c1",
            fields={"noteContent": ("Call Sam tomorrow.", at, "m")},
            deleted_at=deleted,
            first_at=at,
            applied={},
            status="synced",
            version=1,
            attempts=0,
            crashes=0,
            waiting_since=None,
        )

    assert len(follow_up_events(note(), mapping, at)) == 1
    assert follow_up_events(note(deleted=at), mapping, at) == []
    assert follow_up_events(note(kind="task"), mapping, at) == []
    assert follow_up_events(note(), off, at) == []
