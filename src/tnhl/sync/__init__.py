"""The sync engine: executor, workers, settings and the service that runs them."""

from __future__ import annotations

from tnhl.sync._admin import (
    dead_letter_detail,
    dead_letter_summary,
    event_detail,
    event_summary,
    open_settings_store,
    status_report,
)
from tnhl.sync._backfill import BackfillReport, backfill_to_highlevel, backfill_to_talknotes
from tnhl.sync._connect import connection_call
from tnhl.sync._connections import ConnectionSettings
from tnhl.sync._dryrun import go_live, held
from tnhl.sync._errors import RecordConflictError, RescheduleNeeded, SettingsError, SyncError
from tnhl.sync._executor import Executor
from tnhl.sync._logging import configure_logging
from tnhl.sync._metrics import SyncMetrics
from tnhl.sync._outcome import Decider
from tnhl.sync._planner import plan_record
from tnhl.sync._profile import stored_profile
from tnhl.sync._recipe_plan import DryRun, dry_run
from tnhl.sync._replay import Replayed, move_location, replay_dead_letter
from tnhl.sync._schedule import DEFAULT_DELAYS, RetrySchedule
from tnhl.sync._service import Service
from tnhl.sync._settings import Settings, load_settings
from tnhl.sync._switches import switch_recipes
from tnhl.sync._verify import VerifyCheck, verify_connection
from tnhl.sync._verify_public import verify_public
from tnhl.sync._worker import WorkerPool

__all__ = [
    "DEFAULT_DELAYS",
    "BackfillReport",
    "ConnectionSettings",
    "Decider",
    "DryRun",
    "Executor",
    "RecordConflictError",
    "Replayed",
    "RescheduleNeeded",
    "RetrySchedule",
    "Service",
    "Settings",
    "SettingsError",
    "SyncError",
    "SyncMetrics",
    "VerifyCheck",
    "WorkerPool",
    "backfill_to_highlevel",
    "backfill_to_talknotes",
    "configure_logging",
    "connection_call",
    "dead_letter_detail",
    "dead_letter_summary",
    "dry_run",
    "event_detail",
    "event_summary",
    "go_live",
    "held",
    "load_settings",
    "move_location",
    "open_settings_store",
    "plan_record",
    "replay_dead_letter",
    "status_report",
    "stored_profile",
    "switch_recipes",
    "verify_connection",
    "verify_public",
]
