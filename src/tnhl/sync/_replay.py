"""A dead letter back to work (`tnhl dlq replay`, the dashboard's Replay), planned again with
the settings as they are now.

An event is filed under the location id its connection had when it arrived. When that id was
wrong (HighLevel refused every call: the connection paused, or the events died) and has since
been corrected, the old id is served by no connection, and its events would wait forever. So a
TalkNotes event under a location no connection serves is moved to the connection named
(`--to-connection`): one at a time on replay, or all of a location's (`tnhl events move`). A
HighLevel event names its location in its body and is never moved.
"""

from __future__ import annotations

from dataclasses import dataclass

from tnhl.store import InboxRow, SqlStore
from tnhl.sync._errors import SettingsError
from tnhl.sync._settings import Settings

__all__ = ["Replayed", "move_location", "replay_dead_letter"]


@dataclass(frozen=True)
class Replayed:
    """The event as replayed, and the location it was moved from (None: not moved)."""

    event: InboxRow
    moved_from: str | None = None


def _connection(settings: Settings, name: str) -> str:
    conns = settings.connection_list()
    chosen = next((c for c in conns if c.name == name), None)
    if chosen is None:
        known = ", ".join(c.name for c in conns) or "none"
        raise SettingsError(
            "--to-connection", f"no connection named {name!r} (connections: {known})"
        )
    return chosen.location_id


def _target(settings: Settings, event: InboxRow, to_connection: str | None) -> str | None:
    """Where the event goes: None to stay where it is (also when the settings name no
    connection: nothing tells then where an event belongs)."""
    served = {c.location_id for c in settings.connection_list()}
    if not served or event.location_id in served:
        return None
    where = f"location {event.location_id}, which no configured connection serves"
    if event.source != "talknotes":
        raise SettingsError(
            "location_id", f"this {event.source} event belongs to {where}; add that connection"
        )
    if to_connection is None:
        # Never guessed, even with one connection: the events of a sub-account whose connection
        # was removed must not land in another's.
        raise SettingsError(
            "location_id",
            f"this event is filed under {where}; if that id was wrong and is now corrected, "
            "name the connection it belongs to with --to-connection NAME",
        )
    return _connection(settings, to_connection)


def move_location(
    store: SqlStore,
    settings: Settings,
    from_location: str,
    to_connection: str,
    *,
    now: float | None = None,
) -> tuple[int, int]:
    """Move every unfinished or dead TalkNotes event of `from_location`, which no connection
    serves, to the connection named; (moved, skipped as already there)."""
    served = {c.location_id: c.name for c in settings.connection_list()}
    if from_location in served:
        raise SettingsError(
            "location_id",
            f"{from_location} is the location of connection {served[from_location]}; only "
            "events under a location no connection serves are moved",
        )
    return store.move_events(from_location, _connection(settings, to_connection), now=now)


def replay_dead_letter(
    store: SqlStore,
    settings: Settings,
    dead_letter_id: int,
    *,
    to_connection: str | None = None,
    now: float | None = None,
) -> Replayed:
    """Replay one dead letter (see the module docstring); a SettingsError, with nothing
    changed, when it cannot tell where the event belongs."""
    dead = store.get_dead(dead_letter_id=dead_letter_id)
    if dead.event.state != "dead":
        return Replayed(dead.event)  # replayed before
    target = _target(settings, dead.event, to_connection)
    row = store.replay_dead(dead_letter_id=dead_letter_id, now=now, location_id=target)
    moved = dead.event.location_id if row.location_id != dead.event.location_id else None
    return Replayed(row, moved)
