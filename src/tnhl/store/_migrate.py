"""Run the store's Alembic migrations, shipped inside the package, from code.

Several processes may start at once (intake replicas, workers); each takes a lock first (the
SQLite write lock, a PostgreSQL advisory lock), so only one migrates and the rest find the
schema current.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from tnhl.store._engine import WRITE, translate_errors

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "head_revision",
    "upgrade_to_head",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "tnhl_schema_version"
_PG_LOCK_ID = 0x746E686C  # "tnhl": any constant shared by every tnhl process


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    """The newest migration shipped with this version of tnhl."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    with translate_errors(), engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return ctx.get_current_revision()


def upgrade_to_head(engine: sa.Engine) -> None:
    """Bring the database to the newest schema; a no-op when it is already there."""
    cfg = alembic_config()
    with migrating(engine) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@contextmanager
def migrating(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction to run migrations in (PostgreSQL: one migrator at a time)."""
    with translate_errors(), engine.connect().execution_options(**{WRITE: True}) as conn:
        # SQLite changes a table by copying it; with foreign keys on, dropping the old inbox
        # fails once dead letters point at it. The pragma only works outside a transaction,
        # so it is set on the raw connection before BEGIN and checked before COMMIT.
        raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_ID})
                yield conn
                if raw is not None and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise RuntimeError("the migration left rows pointing at nothing")
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys = ON")
