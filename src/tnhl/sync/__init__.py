"""The sync engine: executor, workers, settings and the service that runs them."""

from __future__ import annotations

from tnhl.sync._errors import RecordConflictError, RescheduleNeeded, SettingsError, SyncError
from tnhl.sync._executor import Executor
from tnhl.sync._metrics import SyncMetrics
from tnhl.sync._outcome import Decider
from tnhl.sync._planner import plan_record
from tnhl.sync._schedule import DEFAULT_DELAYS, RetrySchedule
from tnhl.sync._settings import Settings, load_settings
from tnhl.sync._worker import WorkerPool

__all__ = [
    "DEFAULT_DELAYS",
    "Decider",
    "Executor",
    "RecordConflictError",
    "RescheduleNeeded",
    "RetrySchedule",
    "Settings",
    "SettingsError",
    "SyncError",
    "SyncMetrics",
    "WorkerPool",
    "load_settings",
    "plan_record",
]
