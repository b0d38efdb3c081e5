"""Recipes through the whole service (issue 10): signed TalkNotes events over HTTP, the workers
and the recipe engine, the simulator. What the recipes did is read from the simulator."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tnhl.simulator import RunningSimulator, running_simulator
from tnhl.sync._service import Service
from tnhl.talknotes import generate_secret

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_harness import running_service, settings_for, talknotes_sender, wait_for

AT = "2026-12-07T10:00:00Z"
MAPPING = """\
recipes:
  tenth-note: {enabled: false}
  third-note:
    trigger: talknotes.note.created
    when: [{path: contact.notes, gte: 3}]
    once_per: "{{ contact.id }}"
    actions:
      - tnhl.note: {title: "Milestone: 3 notes", content: "Three notes by {{ event.day }}."}
  tag-signed:
    trigger: talknotes.note.milestone
    when: [{path: milestone.family, equals: signed}]
    actions:
      - highlevel.add-tags:
          params: {contactId: "{{ contact.highlevel_id }}"}
          body: {tags: ["{{ milestone.family }}"]}
"""


def _event(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": type_, "timestamp": AT, "data": data}


@contextmanager
def _running(tmp: Path, mapping_text: str) -> Iterator[tuple[RunningSimulator, Service, Any]]:
    mapping = tmp / "mapping.yaml"
    mapping.write_text(mapping_text)
    secret = generate_secret()
    with running_simulator() as sim:
        settings = settings_for(
            sim, tmp, secret, mapping_file=mapping, workers=2, poll_interval=0.05,
            outbound_delay=0.2, retry_scale=1e-5,
        )  # fmt: skip
        with running_service(settings) as (service, base):
            yield sim, service, talknotes_sender(base, secret)


def _note(type_: str, note: str, text: str) -> dict[str, Any]:
    return _event(type_, {"id": note, "contactId": "c1", "noteContent": text})


def _task(task: str, name: str, due: str) -> dict[str, Any]:
    return _event("task.created", {"id": task, "contactId": "c1", "taskName": name, "dueDate": due})


def _settled(service: Service) -> bool:
    counts = service.store.stats().counts
    return counts.get("received", 0) + counts.get("pending", 0) == 0


def _titles(sim: RunningSimulator, contact: str) -> list[str]:
    return sorted(str(n.get("title") or "") for n in sim.state.children("note", contact))


def test_milestone_recipes_fire_once_per_cause(tmp_path: Path) -> None:
    """A signing note: one milestone note and one `signed` tag; the first completed task: one
    note, not again for the second; the third note: one note. Everything sent again (as
    updates and repeats) adds nothing."""
    with _running(tmp_path, MAPPING) as (sim, service, send):
        c1 = _event("contact.created", {"id": "c1", "email": "sam@x.io", "full_name": "Sam"})
        notes = [
            _event(
                "note.created",
                {"id": "n1", "contactId": "c1", "noteContent": "The contract was signed today."},
            ),
            _event("note.created", {"id": "n2", "contactId": "c1", "noteContent": "Nice chat."}),
        ]
        tasks = [
            _task("t1", "Send the deck", "2026-12-09"),
            _event("task.completed", {"id": "t1", "contactId": "c1"}),
        ]
        send([c1, *notes, *tasks])

        def contact() -> str | None:
            return service.store.get_highlevel_id(sim.location_id, "contact", "c1")

        def four_notes() -> bool:
            hl = contact()
            return hl is not None and len(_titles(sim, hl)) == 4 and _settled(service)

        wait_for(four_notes, 30, "two notes, a milestone note and the first-task note")
        hl = contact()
        assert hl is not None
        assert _titles(sim, hl) == [
            "",
            "",
            "Milestone: first task completed",
            "Milestone: signed",
        ]
        wait_for(
            lambda: (sim.state.get("contact", hl) or {}).get("tags") == ["signed"], 10, "the tag"
        )
        more = [
            _task("t2", "Call", "2026-12-10"),
            _event("task.completed", {"id": "t2", "contactId": "c1"}),
            _note("note.updated", "n1", "The contract was signed today."),
            _note("note.created", "n3", "Third."),
        ]
        send(more)
        send(more)  # the same again, under new webhook ids: nothing more

        def five_notes() -> bool:
            return len(_titles(sim, hl)) == 6 and _settled(service)

        wait_for(five_notes, 30, "the third note and its milestone")
        fired = [e for e in service.store.list_events(limit=500) if e.source == "recipe"]
        wait_for(
            lambda: all(service.store.get_event(e.id).state == "done" for e in fired),
            10,
            "every firing run",
        )
        assert _titles(sim, hl) == [
            "",
            "",
            "",
            "Milestone: 3 notes",
            "Milestone: first task completed",
            "Milestone: signed",
        ]
        tag_calls = [r for r in sim.log.entries() if r.path == f"/contacts/{hl}/tags"]
        assert [(r.method, r.status) for r in tag_calls] == [("POST", 201)]


def test_turning_the_milestones_recipe_off_stops_milestone_notes(tmp_path: Path) -> None:
    """With `milestones: {enabled: false}`, a signing note makes no milestone note; the
    follow-ups recipe still makes the note's task."""
    off = "recipes:\n  milestones: {enabled: false}\n"
    with _running(tmp_path, off) as (sim, service, send):
        text = "The contract was signed today. Call Sam back tomorrow at 3pm."
        send(
            [
                _event("contact.created", {"id": "c1", "email": "sam@x.io", "full_name": "Sam"}),
                _event("note.created", {"id": "n1", "contactId": "c1", "noteContent": text}),
            ]
        )

        def done() -> bool:
            hl = service.store.get_highlevel_id(sim.location_id, "contact", "c1")
            return hl is not None and len(sim.state.children("task", hl)) == 1 and _settled(service)

        wait_for(done, 30, "the note and its follow-up task")
        hl = service.store.get_highlevel_id(sim.location_id, "contact", "c1")
        assert hl is not None
        assert _titles(sim, hl) == [""]
        assert [t["title"] for t in sim.state.children("task", hl)] == ["Call Sam back"]
