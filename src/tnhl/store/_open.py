"""`open_store`: a `SqlStore` on a URL, migrated to the newest schema."""

from __future__ import annotations

import time

from tnhl.store._engine import DEFAULT_SETTING, make_engine
from tnhl.store._migrate import upgrade_to_head
from tnhl.store._sql import Clock, SqlStore

__all__ = ["open_store"]


def open_store(
    url: str,
    *,
    setting: str = DEFAULT_SETTING,
    clock: Clock = time.time,
    busy_timeout: float = 5.0,
    pool_size: int = 8,
    migrate: bool = True,
) -> SqlStore:
    """Open (and by default migrate) the store at `url`: `sqlite:///path` or
    `postgresql+psycopg://user@host/db`. A bad URL raises StoreConfigError naming `setting`;
    an unreachable database raises StoreUnavailableError."""
    engine = make_engine(url, setting=setting, busy_timeout=busy_timeout, pool_size=pool_size)
    store = SqlStore(engine, clock=clock, busy_timeout=busy_timeout)
    if migrate:
        try:
            upgrade_to_head(engine)
        except BaseException:
            engine.dispose()
            raise
    return store
