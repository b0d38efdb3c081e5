"""Deterministic, realistic TalkNotes event streams for the demo, e2e tests and benchmarks.

Same seed, same stream, on every machine: all randomness comes from one `random.Random(seed)`
and time from `start`, never the clock. Streams respect the order a real app produces: a contact
is created before its tasks and notes, a task exists before it is updated or completed, a note
before it is updated or deleted, and nothing refers to a contact after it is deleted.

The default stream is what a fresh sync sees: every person has their own email and phone (no
two people share one, before or after an update, so HighLevel's duplicate rules never merge
them) and no `external_id` (TalkNotes only knows a HighLevel id after a sync wrote it back).
`external_ids=True` adds invented ones, for tests of that path; they name no HighLevel contact.
"""

from __future__ import annotations

__all__ = ["DEFAULT_START", "generate", "signed_requests"]

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tnhl.talknotes._signing import sign

DEFAULT_START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

# fmt: off
_FIRST = (
    "Sam", "Alex", "Priya", "Jordan", "Maria", "Chen", "Fatima", "Liam", "Olivia", "Noah",
    "Aisha", "Mateo", "Sofia", "Kenji", "Amara", "Lucas", "Zoe", "Ibrahim", "Elena", "Tomás",
    "Grace", "Ravi", "Hannah", "Diego", "Mei", "Oscar", "Leila", "Finn", "Nadia", "Kwame",
)
_LAST = (
    "Reyes", "Patel", "Okafor", "Müller", "Nguyen", "O'Brien", "Rossi", "Kim", "Haddad",
    "Silva", "Johansson", "Dubois", "Tanaka", "García", "Kowalski", "Mensah", "Ivanova",
    "Smith", "Cohen", "Fischer", "Lopez", "Murphy", "Singh", "Andersen", "Costa",
)
# fmt: on
_DOMAINS = ("example.com", "mail.example.org", "roofing.example", "studio.example.net")
_THINGS = ("quote", "invoice", "contract", "site visit", "proposal", "samples", "renewal")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "next week", "tomorrow")
_PLACES = ("the trade fair", "the site", "a coffee", "the showroom", "the call")
_TASKS = (
    "Call {first} back {day} about the {thing}",
    "Send {first} the revised {thing}",
    "Email {first} the {thing}",
    "Book a {thing} with {first}",
    "Follow up with {first} on the {thing}",
)
_NOTES = (
    "Call {first} back {day} about the {thing}.",
    "Met {first} at {place}; interested in the {thing}.",
    "{first} prefers texts after 5pm. Wants the {thing} by {day}.",
    "Spoke with {first}: budget approved, waiting on the {thing}.",
    "{first} asked for a discount on the {thing}. Said I'd check.",
)
_PRIORITIES = ("low", "normal", "normal", "high", "high", "urgent")


# Fictional-range numbers (555-01xx in North America, Ofcom's drama range in London) in several
# national formats: (pool, capacity, render). Formats sharing a pool are one number written two
# ways, so a pool's number goes to one person whatever the format.
_PHONE_FORMATS: tuple[tuple[str, int, Callable[[int], str]], ...] = (
    ("us415", 100, lambda n: f"(415) 555-01{n:02d}"),
    ("us212", 100, lambda n: f"+1 212-555-01{n:02d}"),
    ("gb", 1000, lambda n: f"+44 20 7946 0{n:03d}"),
    ("gb", 1000, lambda n: f"020 7946 0{n:03d}"),
    ("de", 1000, lambda n: f"+49 30 9018 2{n:03d}"),
    ("au", 1000, lambda n: f"+61 2 9374 4{n:03d}"),
    ("in", 1000, lambda n: f"+91 98765 4{n:03d}0"),
)


@dataclass
class _Person:
    cid: str
    first: str
    last: str
    tasks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Stream:
    def __init__(self, seed: int, start: datetime, *, external_ids: bool = False) -> None:
        self.rng = random.Random(seed)
        self.now = start
        self.counter = 0
        self.people: list[_Person] = []
        self.external_ids = external_ids
        # Never handed out again, even after a person changes theirs or is deleted.
        self.emails: set[str] = set()
        self.phones: dict[str, set[int]] = {}

    def phone(self) -> str | None:
        """A number nobody in the stream has had; None once every pool is used up."""
        rng = self.rng
        first = rng.randrange(len(_PHONE_FORMATS))
        for i in range(len(_PHONE_FORMATS)):
            pool, size, render = _PHONE_FORMATS[(first + i) % len(_PHONE_FORMATS)]
            used = self.phones.setdefault(pool, set())
            if len(used) >= size:
                continue
            n = rng.randrange(size)
            while n in used:  # the next free number after a random one
                n = (n + 1) % size
            used.add(n)
            return render(n)
        return None

    def email(self, local: str, domain: str) -> str:
        """`local@domain`, or with a serial added when someone already had that address."""
        address, serial = f"{local}@{domain}", 1
        while address.lower() in self.emails:
            address, serial = f"{local}.{serial}@{domain}", serial + 1
        self.emails.add(address.lower())
        return address

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"tn_{prefix}_{self.counter:06d}"

    def stamp(self) -> str:
        self.now += timedelta(seconds=self.rng.expovariate(1 / 45))
        return self.now.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def words(self, person: _Person) -> dict[str, str]:
        rng = self.rng
        return {
            "first": person.first,
            "day": rng.choice(_DAYS),
            "thing": rng.choice(_THINGS),
            "place": rng.choice(_PLACES),
        }

    def due(self) -> str:
        day = (self.now + timedelta(days=self.rng.randrange(0, 21))).date()
        kind = self.rng.randrange(4)
        if kind == 0:
            return day.isoformat()
        if kind == 1:
            return f"{day.isoformat()}T17:00:00Z"
        if kind == 2:
            return f"{day.isoformat()}T09:30:00+01:00"
        return f"{day.isoformat()}T15:00"

    def contact_created(self) -> dict[str, Any]:
        rng = self.rng
        person = _Person(self.next_id("c"), rng.choice(_FIRST), rng.choice(_LAST))
        self.people.append(person)
        data: dict[str, Any] = {"id": person.cid, "full_name": f"{person.first} {person.last}"}
        local = f"{person.first}.{person.last}".lower().replace("'", "").replace(" ", "")
        if rng.random() < 0.85:
            data["email"] = self.email(f"{local}{rng.randrange(100)}", rng.choice(_DOMAINS))
        if rng.random() < 0.75 and (phone := self.phone()) is not None:
            data["phone"] = phone
        if self.external_ids and rng.random() < 0.3:
            data["external_id"] = f"crm-{rng.randrange(10_000, 99_999)}"
        if rng.random() < 0.3:
            data["custom_fields"] = {"source": "voice note", "company": f"{person.last} & Co"}
        return {"type": "contact.created", "data": data}

    def contact_updated(self, person: _Person) -> dict[str, Any]:
        rng = self.rng
        stamp = self.now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        data: dict[str, Any] = {"id": person.cid, "updated_at": stamp}
        change = rng.randrange(4)
        if change == 0 and (phone := self.phone()) is not None:
            data["phone"] = phone
        elif change == 1:
            data["email"] = self.email(person.first.lower(), rng.choice(_DOMAINS))
        elif change == 2:
            person.last = rng.choice(_LAST)
            data["full_name"] = f"{person.first} {person.last}"
        else:
            data["custom_fields"] = {"stage": rng.choice(("lead", "quoted", "won", "lost"))}
        return {"type": "contact.updated", "data": data}

    def task(self, person: _Person, kind: str) -> dict[str, Any]:
        rng = self.rng
        if kind == "task.created":
            tid = self.next_id("t")
            person.tasks.append(tid)
        else:
            tid = rng.choice(person.tasks)
        data: dict[str, Any] = {"id": tid, "contactId": person.cid}
        if kind == "task.completed":
            person.tasks.remove(tid)
            data["completed"] = True
            return {"type": kind, "data": data}
        data["taskName"] = rng.choice(_TASKS).format(**self.words(person))
        if rng.random() < 0.8:
            data["dueDate"] = self.due()
        if rng.random() < 0.7:
            data["priority"] = rng.choice(_PRIORITIES)
        if rng.random() < 0.3:
            data["description"] = rng.choice(_NOTES).format(**self.words(person))
        if rng.random() < 0.2:
            data["assignee"] = rng.choice(("alex@agency.example", "jo@agency.example"))
        return {"type": kind, "data": data}

    def note(self, person: _Person, kind: str) -> dict[str, Any]:
        rng = self.rng
        if kind == "note.created":
            nid = self.next_id("n")
            person.notes.append(nid)
        else:
            nid = rng.choice(person.notes)
        data: dict[str, Any] = {"id": nid, "contactId": person.cid}
        if kind == "note.deleted":
            person.notes.remove(nid)
            return {"type": kind, "data": data}
        data["noteContent"] = rng.choice(_NOTES).format(**self.words(person))
        if rng.random() < 0.5:
            data["noteTitle"] = rng.choice(_THINGS).capitalize()
        return {"type": kind, "data": data}

    def step(self, remaining: int, people_left: int) -> dict[str, Any]:
        rng = self.rng
        if not self.people or (
            people_left and rng.random() < min(1.0, 3 * people_left / max(remaining, 1))
        ):
            return self.contact_created()
        person = rng.choice(self.people)
        if len(self.people) > 1 and rng.random() < 0.004:
            self.people.remove(person)
            return {"type": "contact.deleted", "data": {"id": person.cid}}
        options = {"contact.updated": 2, "task.created": 4, "note.created": 6}
        if person.tasks:
            options.update({"task.updated": 1, "task.completed": 2})
        if person.notes:
            options.update({"note.updated": 1, "note.deleted": 1})
        [kind] = rng.choices(list(options), weights=list(options.values()))
        if kind == "contact.updated":
            return self.contact_updated(person)
        if kind.startswith("task."):
            return self.task(person, kind)
        return self.note(person, kind)


def generate(
    n_events: int,
    *,
    seed: int,
    n_people: int = 50,
    start: datetime = DEFAULT_START,
    external_ids: bool = False,
) -> list[dict[str, Any]]:
    """`n_events` TalkNotes webhook bodies (`{type, timestamp, data}` dicts), in order.

    At most `n_people` contacts are created, spread over the stream, each with their own email
    and phone. Timestamps increase from `start`. With `external_ids` about 30% of new contacts
    carry an invented `external_id` (naming no HighLevel contact). The webhook-id is the
    caller's to choose (see `signed_requests`).
    """
    if n_events < 0 or n_people < 1:
        raise ValueError("n_events must be >= 0 and n_people >= 1")
    stream = _Stream(seed, start, external_ids=external_ids)
    created = 0
    events: list[dict[str, Any]] = []
    for index in range(n_events):
        stamp = stream.stamp()  # first, so updated_at inside the data equals the event time
        event = stream.step(n_events - index, n_people - created)
        if event["type"] == "contact.created":
            created += 1
        events.append({"type": event["type"], "timestamp": stamp, "data": event["data"]})
    return events


def signed_requests(
    events: list[dict[str, Any]], secret: str, *, timestamp: int, id_prefix: str = "msg"
) -> list[tuple[dict[str, str], bytes]]:
    """(headers, body) pairs ready to POST, with webhook-ids `{id_prefix}_{index}`."""
    out = []
    for index, event in enumerate(events):
        body = json.dumps(event, separators=(",", ":")).encode()
        out.append((sign(secret, f"{id_prefix}_{index}", timestamp, body), body))
    return out
