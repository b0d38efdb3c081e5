"""Alembic environment for the store. Run through `tnhl.store.upgrade_to_head(engine)`, which
hands over an open connection; there is no alembic.ini and no URL here."""

from __future__ import annotations

from alembic import context

from tnhl.store._schema import metadata

VERSION_TABLE = "tnhl_schema_version"


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through tnhl.store.upgrade_to_head(engine)")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
