"""The log of API requests the simulator received, so tests and benchmarks can count calls."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["LoggedRequest", "RequestLog"]


@dataclass(frozen=True)
class LoggedRequest:
    time: str
    method: str
    path: str
    status: int
    operation_id: str | None
    location_id: str | None
    duration_ms: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    """Thread-safe; keeps the newest `max_entries` requests and exact counts of all of them."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[LoggedRequest] = deque(maxlen=max_entries)
        self._by_operation: Counter[str] = Counter()
        self._by_status: Counter[int] = Counter()
        self._total = 0

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)
            self._by_operation[entry.operation_id or "(none)"] += 1
            self._by_status[entry.status] += 1
            self._total += 1

    def entries(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def counts(self) -> dict[str, int]:
        """Requests per operation id (`(none)` for paths that matched no operation)."""
        with self._lock:
            return dict(self._by_operation)

    def total(self) -> int:
        with self._lock:
            return self._total

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self._total,
                "byOperation": dict(self._by_operation),
                "byStatus": {str(k): v for k, v in self._by_status.items()},
                "requests": [e.to_json() for e in self._entries],
            }

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._by_operation.clear()
            self._by_status.clear()
            self._total = 0
