"""A hand-written TalkNotes event set and the HighLevel state it must converge to.

Written by hand, without tnhl's generator or transforms: the expected state below is a set
of literals worked out from docs/talknotes-contract.md ("order does not matter": per record and
per field the newest `timestamp` wins; an absent key leaves a field, an explicit null clears it;
a delete is final) and the default mapping (src/tnhl/mapping/default.yaml: last word is the last
name, email lowercased, phone E.164 for region US, priority as a "[High] " title prefix with no
marker for normal/medium, due dates in UTC with 09:00 for a date alone, a task without a due
date due the day after its earliest event at 09:00 UTC).

Every phone number was checked once with `phonenumbers.is_valid_number(parse(n, "US"))` while
writing; the E.164 literals were then written by hand.

`EVENTS` is the stream as it was delivered ("as written"): in time order, except for two
deliberate late/early arrivals, marked LATE and EARLY. Twelve people; Linus is deleted (his
delete is his newest event, and he has no tasks or notes); one of Katherine's notes is deleted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "DELETED",
    "EVENTS",
    "EXPECTED",
    "RECIPE_EVENTS",
    "Event",
    "ExpectedContact",
    "ExpectedNote",
    "ExpectedTask",
    "contact_of",
    "instant",
]


@dataclass(frozen=True)
class Event:
    """One TalkNotes webhook: its fixed webhook-id (a redelivery reuses it) and its body."""

    webhook_id: str
    type: str
    timestamp: str
    data: dict[str, Any]

    def body(self) -> bytes:
        doc = {"type": self.type, "timestamp": self.timestamp, "data": self.data}
        return json.dumps(doc, separators=(",", ":")).encode()


@dataclass(frozen=True, order=True)
class ExpectedTask:
    """A HighLevel task: title (with the priority marker), dueDate in UTC, completed."""

    title: str
    due: str
    completed: bool


@dataclass(frozen=True, order=True)
class ExpectedNote:
    """A HighLevel note: title (None when the note has none) and body."""

    title: str | None
    body: str


@dataclass(frozen=True)
class ExpectedContact:
    first: str
    last: str
    email: str
    phone: str | None
    tasks: tuple[ExpectedTask, ...] = field(default=())
    notes: tuple[ExpectedNote, ...] = field(default=())


def instant(stamp: str) -> datetime:
    """The moment an ISO 8601 timestamp with a zone names (for sorting by time)."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)


def contact_of(event: Event) -> str:
    """The TalkNotes contact an event belongs to."""
    if event.type.startswith("contact."):
        return str(event.data["id"])
    return str(event.data["contactId"])


def _e(webhook_id: str, kind: str, stamp: str, **data: Any) -> Event:
    return Event(webhook_id, kind, stamp, data)


def _task(tid: str, cid: str, **fields: Any) -> dict[str, Any]:
    return {"id": tid, "contactId": cid, **fields}


EVENTS: list[Event] = [
    # 2026-11-02: twelve people arrive, then their first tasks and notes.
    _e("cv-ada-01", "contact.created", "2026-11-02T08:00:00Z", id="tn_c_ada",
       full_name="Ada Lovelace", email="Ada.Lovelace@Example.com", phone="(415) 734-2291"),
    _e("cv-grace-01", "contact.created", "2026-11-02T08:05:00Z", id="tn_c_grace",
       full_name="Grace Brewster Hopper", email="grace.hopper@example.org", phone="212.736.4410"),
    _e("cv-alan-01", "contact.created", "2026-11-02T08:10:00Z", id="tn_c_alan",
       full_name="Alan Turing", email="alan.turing@example.net", phone="+1-404-659-2208"),
    _e("cv-kat-01", "contact.created", "2026-11-02T08:15:00Z", id="tn_c_katherine",
       full_name="Katherine Johnson", email="KATHERINE.JOHNSON@EXAMPLE.COM",
       phone="(512) 472 9036"),
    _e("cv-linus-01", "contact.created", "2026-11-02T08:20:00Z", id="tn_c_linus",
       full_name="Linus Pauling", email="linus.pauling@example.com", phone="720 865 3317"),
    _e("cv-margaret-01", "contact.created", "2026-11-02T08:25:00Z", id="tn_c_margaret",
       full_name="Margaret Hamilton", email="margaret@apollo.example", phone="(646) 839-2754"),
    _e("cv-claude-01", "contact.created", "2026-11-02T08:30:00Z", id="tn_c_claude",
       full_name="Claude Shannon", email="claude.shannon@example.com"),
    _e("cv-barbara-01", "contact.created", "2026-11-02T08:35:00Z", id="tn_c_barbara",
       full_name="Barbara Liskov", email="barbara.liskov@example.edu",
       phone="+1 (213) 489 5527"),
    _e("cv-edsger-01", "contact.created", "2026-11-02T08:40:00Z", id="tn_c_edsger",
       full_name="Edsger Dijkstra", email="edsger@example.nl", phone="919-833-4160"),
    _e("cv-frances-01", "contact.created", "2026-11-02T08:45:00Z", id="tn_c_frances",
       full_name="Frances Allen", email="frances.allen@example.com", phone="(305) 576-2281"),
    _e("cv-dennis-01", "contact.created", "2026-11-02T08:50:00Z", id="tn_c_dennis",
       full_name="Dennis Ritchie", email="dmr@example.com", phone="801 355 7219"),
    _e("cv-radia-01", "contact.created", "2026-11-02T08:55:00Z", id="tn_c_radia",
       full_name="Radia Perlman", email="radia.perlman@example.com", phone="(702) 384 6143"),
    _e("cv-ada-02", "task.created", "2026-11-02T09:30:00Z",
       **_task("tn_t_ada_1", "tn_c_ada", taskName="Send the engine notes",
               dueDate="2026-12-04", priority="high")),
    _e("cv-ada-03", "note.created", "2026-11-02T09:40:00Z", id="tn_n_ada_1",
       contactId="tn_c_ada", noteTitle="First call",
       noteContent="Wants a quote for the full set."),
    _e("cv-grace-02", "task.created", "2026-11-02T10:00:00Z",
       **_task("tn_t_grace_1", "tn_c_grace", taskName="Book the COBOL workshop",
               dueDate="2026-11-20T17:00:00+01:00", priority="medium")),
    _e("cv-kat-02", "note.created", "2026-11-02T11:00:00Z", id="tn_n_kat_1",
       contactId="tn_c_katherine", noteTitle="Trajectory",
       noteContent="Check the re-entry numbers."),
    _e("cv-kat-03", "task.created", "2026-11-02T12:00:00Z",
       **_task("tn_t_kat_1", "tn_c_katherine", taskName="Call Katherine about the tables",
               dueDate="2026-11-25T14:30", priority="Urgent")),
    _e("cv-margaret-02", "task.created", "2026-11-02T13:00:00Z",
       **_task("tn_t_margaret_1", "tn_c_margaret", taskName="Print the guidance listing",
               dueDate="2026-12-01T08:00:00Z")),
    # EARLY: Alan's task.updated (2026-11-04T10:00Z) arrives before its task.created
    # (2026-11-02T21:30-05:00, i.e. 2026-11-03T02:30Z). Neither has a due date.
    _e("cv-alan-03", "task.updated", "2026-11-04T10:00:00Z",
       **_task("tn_t_alan_1", "tn_c_alan", taskName="Review the second Enigma draft",
               priority="high")),
    _e("cv-alan-02", "task.created", "2026-11-02T21:30:00-05:00",
       **_task("tn_t_alan_1", "tn_c_alan", taskName="Review the Enigma draft",
               priority="low")),
    # 2026-11-03
    _e("cv-kat-04", "note.updated", "2026-11-03T09:00:00Z", id="tn_n_kat_1",
       contactId="tn_c_katherine", noteTitle="Trajectory",
       noteContent="Re-entry numbers checked twice."),
    _e("cv-dennis-02", "contact.updated", "2026-11-03T09:05:00Z", id="tn_c_dennis",
       email="dennis.ritchie@example.com"),
    _e("cv-barbara-02", "task.created", "2026-11-03T09:30:00Z",
       **_task("tn_t_barbara_1", "tn_c_barbara", taskName="Send the substitution paper",
               dueDate="2026-12-10", priority="low")),
    _e("cv-barbara-03", "task.created", "2026-11-03T09:45:00Z",
       **_task("tn_t_barbara_2", "tn_c_barbara", taskName="Plan the CLU talk",
               dueDate="2026-12-11T10:00:00-05:00")),
    _e("cv-ada-04", "contact.updated", "2026-11-03T10:00:00Z", id="tn_c_ada",
       email="ada@analytical-engines.example"),
    _e("cv-frances-02", "note.created", "2026-11-03T10:30:00Z", id="tn_n_frances_1",
       contactId="tn_c_frances", noteContent="Compiler optimisation notes attached."),
    _e("cv-dennis-03", "task.created", "2026-11-03T11:00:00Z",
       **_task("tn_t_dennis_1", "tn_c_dennis", taskName="Port the compiler",
               dueDate="2026-11-24", priority="urgent")),
    _e("cv-ada-05", "note.updated", "2026-11-03T11:10:00Z", id="tn_n_ada_1",
       contactId="tn_c_ada", noteTitle="First call",
       noteContent="Wants a quote for the full set, in brass."),
    _e("cv-alan-04", "note.created", "2026-11-03T12:00:00Z", id="tn_n_alan_1",
       contactId="tn_c_alan", noteContent="Prefers email after 6pm."),
    _e("cv-linus-02", "contact.updated", "2026-11-03T13:00:00Z", id="tn_c_linus",
       email="linus@vitamin-c.example"),
    _e("cv-margaret-03", "contact.updated", "2026-11-03T14:00:00Z", id="tn_c_margaret",
       full_name="Margaret Heafield Hamilton"),
    _e("cv-claude-02", "note.created", "2026-11-03T15:00:00Z", id="tn_n_claude_1",
       contactId="tn_c_claude", noteTitle="Juggling", noteContent="Bring the unicycle."),
    _e("cv-claude-03", "task.created", "2026-11-03T16:00:00Z",
       **_task("tn_t_claude_1", "tn_c_claude", taskName="Ship the relay kit",
               dueDate="2026-11-30", priority="normal")),
    _e("cv-edsger-02", "contact.updated", "2026-11-03T16:30:00Z", id="tn_c_edsger",
       full_name="Edsger Wybe Dijkstra", email="ewd@example.nl"),
    # 2026-11-04
    _e("cv-ada-06", "task.updated", "2026-11-04T08:00:00Z",
       **_task("tn_t_ada_1", "tn_c_ada", taskName="Send the annotated engine notes",
               dueDate="2026-12-04", priority="urgent")),
    _e("cv-edsger-03", "task.created", "2026-11-04T09:00:00Z",
       **_task("tn_t_edsger_1", "tn_c_edsger", taskName="Find the shortest route",
               dueDate="2026-11-27T12:00:00Z", priority="high")),
    _e("cv-kat-05", "note.deleted", "2026-11-04T09:15:00Z", id="tn_n_kat_1",
       contactId="tn_c_katherine"),
    _e("cv-barbara-04", "note.created", "2026-11-04T09:30:00Z", id="tn_n_barbara_1",
       contactId="tn_c_barbara", noteTitle="Abstraction",
       noteContent="Data abstraction chapter is ready."),
    _e("cv-kat-06", "note.created", "2026-11-04T10:15:00Z", id="tn_n_kat_2",
       contactId="tn_c_katherine", noteTitle="Follow-up", noteContent="Send the orbit tables."),
    _e("cv-frances-03", "note.created", "2026-11-04T10:30:00Z", id="tn_n_frances_2",
       contactId="tn_c_frances", noteTitle="Parallel", noteContent="Ask about PTRAN."),
    _e("cv-claude-04", "contact.updated", "2026-11-04T11:00:00Z", id="tn_c_claude",
       phone="615.742.6628"),
    _e("cv-dennis-04", "task.updated", "2026-11-04T11:30:00Z",
       **_task("tn_t_dennis_1", "tn_c_dennis", taskName="Port the compiler to the PDP-11",
               dueDate="2026-11-26", priority="high")),
    _e("cv-grace-04", "contact.updated", "2026-11-04T12:00:00Z", id="tn_c_grace",
       phone="+1 312 944 7702"),
    # LATE: an older update of Grace (2026-11-03T08:00Z) arrives after the newer one above.
    # Its phone is stale and must lose to 11-04's; its name is the newest name she has (the
    # created event is older), so per field it wins: Grace Hopper.
    _e("cv-grace-03", "contact.updated", "2026-11-03T08:00:00Z", id="tn_c_grace",
       full_name="Grace Hopper", phone="(206) 388-1946"),
    _e("cv-radia-02", "task.created", "2026-11-04T13:00:00Z",
       **_task("tn_t_radia_1", "tn_c_radia", taskName="Draw the spanning tree",
               dueDate="2026-12-03T09:30:00+00:00")),
    _e("cv-radia-03", "note.created", "2026-11-04T13:30:00Z", id="tn_n_radia_1",
       contactId="tn_c_radia", noteTitle="Algorhyme",
       noteContent="I think that I shall never see a graph more lovely than a tree."),
    _e("cv-margaret-04", "contact.updated", "2026-11-04T14:00:00Z", id="tn_c_margaret",
       email="M.Hamilton@Apollo-Guidance.example"),
    _e("cv-margaret-05", "task.completed", "2026-11-04T16:00:00Z",
       **_task("tn_t_margaret_1", "tn_c_margaret", completed=True)),
    # 2026-11-05
    _e("cv-alan-05", "contact.updated", "2026-11-05T09:00:00Z", id="tn_c_alan", phone=None),
    _e("cv-barbara-05", "note.updated", "2026-11-05T09:30:00Z", id="tn_n_barbara_1",
       contactId="tn_c_barbara", noteTitle="Abstraction, final",
       noteContent="Data abstraction chapter is ready for print."),
    _e("cv-claude-05", "task.updated", "2026-11-05T10:00:00Z",
       **_task("tn_t_claude_1", "tn_c_claude", taskName="Ship the relay kit",
               dueDate="2026-12-02", priority="normal")),
    _e("cv-frances-04", "note.updated", "2026-11-05T10:30:00Z", id="tn_n_frances_2",
       contactId="tn_c_frances", noteTitle="Parallel",
       noteContent="Ask about PTRAN and its successor."),
    _e("cv-barbara-06", "task.completed", "2026-11-05T12:00:00Z",
       **_task("tn_t_barbara_2", "tn_c_barbara", completed=True)),
    _e("cv-radia-04", "task.completed", "2026-11-05T13:00:00Z",
       **_task("tn_t_radia_1", "tn_c_radia", completed=True)),
    _e("cv-dennis-05", "contact.updated", "2026-11-05T15:00:00Z", id="tn_c_dennis",
       full_name="Dennis MacAlistair Ritchie"),
    _e("cv-ada-07", "task.completed", "2026-11-05T17:00:00Z",
       **_task("tn_t_ada_1", "tn_c_ada", completed=True)),
    # 2026-11-06: Linus is deleted; it is his newest event.
    _e("cv-linus-03", "contact.deleted", "2026-11-06T09:00:00Z", id="tn_c_linus"),
]  # fmt: skip


# The default recipe `first-completed-task` fires once for each of the 4 contacts that
# complete a task: a recipe row and the note event it stores, 2 more inbox rows each.
RECIPE_EVENTS = 8


def _first_done(day: str, task: str) -> ExpectedNote:
    """The milestone note of the default recipe `first-completed-task` (each contact below
    completes one task in the stream, so which is first does not depend on the order)."""
    body = f"Milestone: first task completed, {day}. From a TalkNotes task ({task})."
    return ExpectedNote("Milestone: first task completed", body)


# The HighLevel state after the stream, whatever the order, by TalkNotes contact id.
EXPECTED: dict[str, ExpectedContact] = {
    "tn_c_ada": ExpectedContact(
        "Ada", "Lovelace", "ada@analytical-engines.example", "+14157342291",
        tasks=(ExpectedTask(
            "[Urgent] Send the annotated engine notes", "2026-12-04T09:00:00Z", True),),
        notes=(ExpectedNote("First call", "Wants a quote for the full set, in brass."),
               _first_done("2026-11-05", "tn_t_ada_1")),
    ),
    "tn_c_grace": ExpectedContact(
        "Grace", "Hopper", "grace.hopper@example.org", "+13129447702",
        tasks=(ExpectedTask("Book the COBOL workshop", "2026-11-20T16:00:00Z", False),),
    ),
    "tn_c_alan": ExpectedContact(
        "Alan", "Turing", "alan.turing@example.net", None,
        # No due date in any event: the day after the earliest one (2026-11-03 in UTC).
        tasks=(ExpectedTask(
            "[High] Review the second Enigma draft", "2026-11-04T09:00:00Z", False),),
        notes=(ExpectedNote(None, "Prefers email after 6pm."),),
    ),
    "tn_c_katherine": ExpectedContact(
        "Katherine", "Johnson", "katherine.johnson@example.com", "+15124729036",
        tasks=(ExpectedTask(
            "[Urgent] Call Katherine about the tables", "2026-11-25T14:30:00Z", False),),
        notes=(ExpectedNote("Follow-up", "Send the orbit tables."),),
    ),
    "tn_c_margaret": ExpectedContact(
        "Margaret Heafield", "Hamilton", "m.hamilton@apollo-guidance.example", "+16468392754",
        tasks=(ExpectedTask("Print the guidance listing", "2026-12-01T08:00:00Z", True),),
        notes=(_first_done("2026-11-04", "tn_t_margaret_1"),),
    ),
    "tn_c_claude": ExpectedContact(
        "Claude", "Shannon", "claude.shannon@example.com", "+16157426628",
        tasks=(ExpectedTask("Ship the relay kit", "2026-12-02T09:00:00Z", False),),
        notes=(ExpectedNote("Juggling", "Bring the unicycle."),),
    ),
    "tn_c_barbara": ExpectedContact(
        "Barbara", "Liskov", "barbara.liskov@example.edu", "+12134895527",
        tasks=(
            ExpectedTask("[Low] Send the substitution paper", "2026-12-10T09:00:00Z", False),
            ExpectedTask("Plan the CLU talk", "2026-12-11T15:00:00Z", True),
        ),
        notes=(ExpectedNote(
            "Abstraction, final", "Data abstraction chapter is ready for print."),
            _first_done("2026-11-05", "tn_t_barbara_2")),
    ),
    "tn_c_edsger": ExpectedContact(
        "Edsger Wybe", "Dijkstra", "ewd@example.nl", "+19198334160",
        tasks=(ExpectedTask("[High] Find the shortest route", "2026-11-27T12:00:00Z", False),),
    ),
    "tn_c_frances": ExpectedContact(
        "Frances", "Allen", "frances.allen@example.com", "+13055762281",
        notes=(
            ExpectedNote(None, "Compiler optimisation notes attached."),
            ExpectedNote("Parallel", "Ask about PTRAN and its successor."),
        ),
    ),
    "tn_c_dennis": ExpectedContact(
        "Dennis MacAlistair", "Ritchie", "dennis.ritchie@example.com", "+18013557219",
        tasks=(ExpectedTask(
            "[High] Port the compiler to the PDP-11", "2026-11-26T09:00:00Z", False),),
    ),
    "tn_c_radia": ExpectedContact(
        "Radia", "Perlman", "radia.perlman@example.com", "+17023846143",
        tasks=(ExpectedTask("Draw the spanning tree", "2026-12-03T09:30:00Z", True),),
        notes=(ExpectedNote(
            "Algorhyme", "I think that I shall never see a graph more lovely than a tree."),
            _first_done("2026-11-05", "tn_t_radia_1")),
    ),
}  # fmt: skip

# Deleted people and every email they ever had (to name a contact that should be gone).
DELETED: dict[str, tuple[str, ...]] = {
    "tn_c_linus": ("linus.pauling@example.com", "linus@vitamin-c.example"),
}
