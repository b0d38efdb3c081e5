"""Prometheus metrics of the engine, on a registry of their own (tests make many services).

No location ids as labels (DESIGN.md): a label set that grows with customers would explode.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

__all__ = ["SyncMetrics"]


class SyncMetrics:
    """Counters for events received, applied, retried and dead; HighLevel calls; queue lag."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "tnhl_events_received", "Events accepted by intake", ["source"], registry=r
        )
        self.duplicates = Counter(
            "tnhl_events_duplicate", "Events intake saw before", ["source"], registry=r
        )
        self.applied = Counter("tnhl_events_applied", "Events applied to HighLevel", registry=r)
        self.skipped = Counter("tnhl_events_skipped", "Events with nothing to do", registry=r)
        self.retried = Counter("tnhl_events_retried", "Event retries scheduled", registry=r)
        self.rescheduled = Counter(
            "tnhl_events_rescheduled", "Events delayed by rate limits", registry=r
        )
        self.waiting = Counter(
            "tnhl_records_waiting", "Records put to wait for their contact or content", registry=r
        )
        self.dead = Counter("tnhl_events_dead", "Events sent to the dead-letter queue", registry=r)
        self.calls = Counter(
            "tnhl_highlevel_calls", "HighLevel calls by outcome", ["status"], registry=r
        )
        self.rate_limited = Counter(
            "tnhl_highlevel_429", "HighLevel 429 answers seen by the engine", registry=r
        )
        self.queue_lag = Gauge(
            "tnhl_queue_lag_seconds", "Age of the oldest pending event", registry=r
        )
        self.pending = Gauge("tnhl_events_pending", "Events not yet settled", registry=r)

    def call(self, status: int | str) -> None:
        if status == 429:
            self.rate_limited.inc()
        label = f"{status // 100}xx" if isinstance(status, int) else status
        self.calls.labels(label).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
