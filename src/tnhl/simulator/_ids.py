"""Identifiers shaped like HighLevel's, drawn from an injectable random source."""

from __future__ import annotations

import random
import string

__all__ = ["IdFactory"]

_ALNUM = string.ascii_letters + string.digits


class IdFactory:
    """Makes Firestore-style 20-character ids (contacts, tasks, notes) and 24-hex ObjectIds.

    A seeded `random.Random` makes every id of a test run reproducible.
    """

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()

    def firestore(self) -> str:
        return "".join(self._rng.choice(_ALNUM) for _ in range(20))

    def object_id(self) -> str:
        return "".join(self._rng.choice("0123456789abcdef") for _ in range(24))

    def trace_id(self) -> str:
        # HighLevel trace ids are UUIDs; a random.Random-drawn one keeps runs reproducible.
        h = "".join(self._rng.choice("0123456789abcdef") for _ in range(32))
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"
