"""The deterministic TalkNotes event generator: valid, ordered, varied, reproducible."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime
from typing import Any

import phonenumbers
import pytest

from tnhl.talknotes import (
    EVENT_TYPES,
    WebhookVerifier,
    entity_key,
    generate,
    generate_secret,
    parse_event,
    signed_requests,
)


@pytest.mark.parametrize("seed", [0, 1, 7, 2026])
def test_every_generated_event_is_valid(seed: int) -> None:
    """Every event of several streams passes the contract's own validation."""
    for raw in generate(400, seed=seed, n_people=25):
        parse_event(json.dumps(raw))


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    """A seed fully determines the stream."""
    assert generate(300, seed=5, n_people=20) == generate(300, seed=5, n_people=20)
    assert generate(300, seed=5, n_people=20) != generate(300, seed=6, n_people=20)


def test_exact_count_and_people_cap() -> None:
    """The stream has exactly n_events events and at most n_people contacts."""
    events = generate(1000, seed=3, n_people=30)
    assert len(events) == 1000
    created = sum(e["type"] == "contact.created" for e in events)
    assert 1 <= created <= 30
    assert generate(0, seed=3) == []


def test_all_nine_types_appear_in_a_long_stream() -> None:
    """A long stream exercises every event type."""
    counts = Counter(e["type"] for e in generate(3000, seed=11, n_people=40))
    assert set(counts) == set(EVENT_TYPES)


@pytest.mark.parametrize("seed", [0, 42])
def test_order_is_respected(seed: int) -> None:
    """Contacts exist before their tasks and notes; nothing refers to deleted or unknown ids."""
    alive: set[str] = set()
    tasks: dict[str, str] = {}
    notes: dict[str, str] = {}
    last = None
    for raw in generate(2000, seed=seed, n_people=30):
        event = parse_event(json.dumps(raw))
        assert last is None or event.timestamp >= last
        last = event.timestamp
        kind, data = event.type, raw["data"]
        owner = entity_key(event)
        if kind == "contact.created":
            assert owner not in alive
            alive.add(owner)
            continue
        assert owner in alive, f"{kind} for unknown or deleted contact {owner}"
        if kind == "contact.deleted":
            alive.remove(owner)
        elif kind == "task.created":
            tasks[data["id"]] = owner
        elif kind in ("task.updated", "task.completed"):
            assert tasks[data["id"]] == owner
            if kind == "task.completed":
                del tasks[data["id"]]
        elif kind == "note.created":
            notes[data["id"]] = owner
        elif kind in ("note.updated", "note.deleted"):
            assert notes[data["id"]] == owner
            if kind == "note.deleted":
                del notes[data["id"]]


def test_realistic_variety() -> None:
    """Phones come in several national formats, due dates in several ISO forms, notes read
    like speech."""
    events = generate(3000, seed=9, n_people=60)
    phones = {e["data"]["phone"] for e in events if "phone" in e["data"]}
    prefixes = {p.split(" ")[0] if p.startswith("+") else "national" for p in phones}
    assert {"+1", "+44", "+49", "national"} <= prefixes
    dues = [e["data"]["dueDate"] for e in events if "dueDate" in e["data"]]
    forms = {
        "date"
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", d)
        else "utc"
        if d.endswith("Z")
        else "offset"
        if "+" in d
        else "naive"
        for d in dues
    }
    assert forms == {"date", "utc", "offset", "naive"}
    notes = [e["data"]["noteContent"] for e in events if e["type"] == "note.created"]
    assert any(n.startswith("Call ") and " back " in n for n in notes)
    assert len({e["data"]["priority"] for e in events if "priority" in e["data"]}) >= 4


def test_start_time_is_injectable() -> None:
    """Timestamps start after the given start, never from the wall clock."""
    start = datetime.fromisoformat("2030-01-01T00:00:00+00:00")
    first = parse_event(json.dumps(generate(1, seed=1, start=start)[0]))
    assert first.timestamp > start


def test_bad_arguments_are_refused() -> None:
    """Negative counts and zero people are refused."""
    with pytest.raises(ValueError, match="n_events"):
        generate(-1, seed=1)
    with pytest.raises(ValueError, match="n_people"):
        generate(5, seed=1, n_people=0)


def test_signed_requests_verify() -> None:
    """signed_requests yields bodies and headers that the verifier accepts, with unique ids."""
    secret = generate_secret()
    pairs = signed_requests(generate(20, seed=2), secret, timestamp=1_800_000_000, id_prefix="b")
    check = WebhookVerifier(secret, clock=lambda: 1_800_000_000)
    ids = [check.verify(headers, body) for headers, body in pairs]
    assert ids == [f"b_{i}" for i in range(20)]


def _same_number(phone: str) -> str:
    # The number as HighLevel would compare it: national forms read where they are written.
    region = "GB" if phone.startswith("0") else "US"
    parsed = phonenumbers.parse(phone, region)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _owners_clash(events: list[dict[str, Any]]) -> list[str]:
    owners: dict[str, str] = {}
    clashes = []
    for e in events:
        data = e["data"]
        if not e["type"].startswith("contact."):
            continue
        keys = []
        if data.get("email"):
            keys.append(f"email:{data['email'].lower()}")
        if data.get("phone"):
            keys += [f"phone:{_same_number(data['phone'])}", f"last9:{data['phone'][-9:]}"]
        for key in keys:
            if owners.setdefault(key, data["id"]) != data["id"]:
                clashes.append(f"{key} of {owners[key]} reused by {data['id']}")
    return clashes


@pytest.mark.parametrize("seed", [0, 4, 29])
def test_no_two_people_share_an_email_or_phone(seed: int) -> None:
    """Over creates and updates, no email or phone number ever goes to a second person."""
    events = generate(4000, seed=seed, n_people=500)
    assert sum(e["type"] == "contact.created" for e in events) > 300
    emails = [e["data"]["email"] for e in events if "email" in e["data"]]
    updates = [e for e in events if e["type"] == "contact.updated"]
    assert any("phone" in e["data"] for e in updates)
    assert any("email" in e["data"] for e in updates)
    assert len(emails) > 300
    assert _owners_clash(events) == []


def test_phones_run_out_gracefully() -> None:
    """Past the fictional number ranges new people have no phone, still never a shared one."""
    events = generate(12000, seed=3, n_people=6000)
    created = [e["data"] for e in events if e["type"] == "contact.created"]
    assert len(created) > 4500
    phones = [e["data"]["phone"] for e in events if "phone" in e["data"]]
    assert len(phones) == len(set(phones)) == 4200  # every pool used up, each number once
    assert _owners_clash(events) == []


def test_external_ids_only_when_asked() -> None:
    """By default no event carries an external_id; external_ids=True adds some to new contacts."""
    assert not any("external_id" in e["data"] for e in generate(2000, seed=8, n_people=200))
    asked = generate(2000, seed=8, n_people=200, external_ids=True)
    with_ids = [e for e in asked if "external_id" in e["data"]]
    assert with_ids
    assert {e["type"] for e in with_ids} == {"contact.created"}
    for raw in asked:
        parse_event(json.dumps(raw))
