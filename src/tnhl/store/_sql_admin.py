"""`AdminVerbs`: the store verbs around the sync engine's own (those of `SqlStore`): what
HighLevel was told of each contact and its profile, records held by a dry run, API keys, REST
hooks, moving events of a corrected location id, an event's calls, recipe switches, cursors."""

from __future__ import annotations

from collections.abc import Sequence

from tnhl.store import _held, _keys, _move, _outbound, _profiles, _records, _trail
from tnhl.store._models import ApiKey, EventCall, Hook, ProfileDue, RecordState, Told
from tnhl.store._sql_base import SqlBase

__all__ = ["AdminVerbs"]


class AdminVerbs(SqlBase):
    """See the module docstring; `SqlStore` adds the engine's verbs."""

    # what HighLevel was told ------------------------------------------------------------------
    def get_told(self, location_id: str, highlevel_ids: Sequence[str]) -> dict[str, Told]:
        with self._read() as conn:
            return _outbound.get_told(conn, location_id, highlevel_ids)

    def due_profiles(
        self,
        *,
        interval: float,
        now: float | None = None,
        limit: int = 20,
        locations: Sequence[str] | None = None,
        settle: float = 0.0,
    ) -> list[ProfileDue]:
        with self._read() as conn:
            return _profiles.due_profiles(conn, self._now(now), interval, limit, locations, settle)

    def profile_rows(self, location_id: str, contact_id: str) -> list[tuple[Told, str | None]]:
        with self._read() as conn:
            return _profiles.profile_rows(conn, location_id, contact_id)

    def profile_sent(
        self, due: ProfileDue, *, digest: str | None, now: float | None = None
    ) -> None:
        with self._write() as conn:
            _profiles.profile_sent(
                conn,
                due.location_id,
                due.contact_id,
                now=self._now(now),
                changed_at=due.changed_at,
                digest=digest,
            )

    def held_records(self, location_id: str, prefix: str) -> list[RecordState]:
        with self._read() as conn:
            return _held.held_records(conn, location_id, prefix, self._clock())

    def release_held(self, location_id: str, prefix: str) -> int:
        with self._write() as conn:
            return _held.release_held(conn, location_id, prefix, self._clock())

    def drop_held(self, location_id: str, prefix: str) -> int:
        with self._write() as conn:
            return _held.drop_held(conn, location_id, prefix, self._clock())

    # API keys -------------------------------------------------------------------------------
    def create_api_key(self, location_id: str) -> tuple[ApiKey, str]:
        with self._write() as conn:
            return _keys.create_api_key(conn, location_id, self._clock())

    def key_location(self, key: str) -> str | None:
        with self._read() as conn:
            return _keys.key_location(conn, key)

    def list_api_keys(self, location_id: str | None = None) -> list[ApiKey]:
        with self._read() as conn:
            return _keys.list_api_keys(conn, location_id)

    def revoke_api_key(self, key_id: int) -> bool:
        with self._write() as conn:
            return _keys.revoke_api_key(conn, key_id, self._clock())

    def add_hook(self, location_id: str, event: str, target_url: str) -> Hook:
        with self._write() as conn:
            return _keys.add_hook(conn, location_id, event, target_url, self._clock())

    def list_hooks(self, location_id: str | None = None) -> list[Hook]:
        with self._read() as conn:
            return _keys.list_hooks(conn, location_id)

    def delete_hook(self, location_id: str, hook_id: int) -> bool:
        with self._write() as conn:
            return _keys.delete_hook(conn, location_id, hook_id)

    # events under a location since corrected ------------------------------------------------
    def move_events(
        self, from_location: str, to_location: str, *, now: float | None = None
    ) -> tuple[int, int]:
        with self._write() as conn:
            return _move.move_events(conn, from_location, to_location, self._now(now))

    def event_locations(self) -> dict[str, int]:
        with self._read() as conn:
            return _move.event_locations(conn)

    # an event's calls, recipe switches -------------------------------------------------------
    def event_calls(self, inbox_id: int) -> list[EventCall]:
        with self._read() as conn:
            return _trail.calls_of(conn, inbox_id)

    def switch_recipe(self, location_id: str, recipe: str, enabled: bool) -> None:
        with self._write() as conn:
            _trail.switch_recipe(conn, location_id, recipe, enabled, self._clock(), self._insert)

    def recipe_switches(self, location_id: str) -> dict[str, bool]:
        with self._read() as conn:
            return _trail.recipe_switches_of(conn, location_id)

    # cursors ---------------------------------------------------------------------------------
    def get_cursor(self, name: str) -> str | None:
        with self._read() as conn:
            return _records.get_cursor(conn, name)

    def set_cursor(self, name: str, value: str) -> None:
        with self._write() as conn:
            _records.set_cursor(conn, name, value, self._clock(), self._insert)
