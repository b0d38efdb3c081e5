"""The packaged migrations build exactly the schema `_schema.py` declares, on every backend."""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tnhl.store import (
    Settlement,
    SqlStore,
    current_revision,
    head_revision,
    open_store,
    upgrade_to_head,
)
from tnhl.store._engine import WRITE
from tnhl.store._migrate import alembic_config, migrating
from tnhl.store._schema import metadata


def test_migrated_schema_equals_the_metadata(store: SqlStore) -> None:
    """Alembic's autogenerate finds no difference between the migrated database and _schema.py."""
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "version_table": "tnhl_schema_version"}
        )
        diff = compare_metadata(ctx, metadata)
    assert diff == []
    assert current_revision(store.engine) == head_revision()


def test_upgrade_to_head_twice_is_a_no_op(store: SqlStore) -> None:
    """Running the migrations on a current database changes nothing and keeps the data."""
    store.set_cursor("c", "kept")
    upgrade_to_head(store.engine)
    assert store.get_cursor("c") == "kept"
    assert current_revision(store.engine) == head_revision()


def test_stores_opened_together_on_a_new_database_migrate_once(tmp_path: Path) -> None:
    """Four stores opened at once on a new SQLite file all start, on the head revision."""
    store_url = f"sqlite:///{tmp_path / 'new.db'}"
    results: list[BaseException | str | None] = []

    def start() -> None:
        try:
            s = open_store(store_url)
            results.append(current_revision(s.engine))
            s.close()
        except BaseException as e:
            results.append(e)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [head_revision()] * 4


def test_downgrade_to_base_and_upgrade_again(store: SqlStore) -> None:
    """Every migration's downgrade undoes it: down to base leaves no tnhl table, and up again
    rebuilds the same schema."""
    cfg = alembic_config()
    with store.engine.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(sa.inspect(store.engine).get_table_names()) <= {"tnhl_schema_version"}
    assert current_revision(store.engine) is None
    upgrade_to_head(store.engine)
    test_migrated_schema_equals_the_metadata(store)


def test_a_store_of_the_previous_release_upgrades_with_its_data_as_connection_default(
    tmp_path: Path,
) -> None:
    """A store at revision 0002 (before connections) holding a location's events, records,
    id links and a dead letter is upgraded on open; everything is still there, and a claim
    for that location (its connection "default") finds its due record."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = open_store(url)
    from tests.store.test_store_contract import add, change, claim

    add(store, change(1, "c1", loc="loc-old"), change(2, "c2", loc="loc-old"))
    [c1, c2] = sorted(claim(store, limit=2), key=lambda c: c.state.record_key)
    store.settle(
        [
            (c1, Settlement("dead", "HighLevel answered 422")),
            (c2, Settlement("retry", "HTTP 503", due_at=0.0)),
        ]
    )
    store.put_mapping("loc-old", "contact", "c9", "hl-9")
    cfg = alembic_config()
    with migrating(store.engine) as conn:  # foreign keys off while SQLite copies a table
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    store.close()
    assert current_revision(sa.create_engine(url)) == "0002"

    upgraded = open_store(url)
    try:
        assert current_revision(upgraded.engine) == head_revision()
        assert {k: n for k, n in upgraded.stats().counts.items() if n} == {
            "dead": 1,
            "pending": 1,
        }
        assert upgraded.get_highlevel_id("loc-old", "contact", "c9") == "hl-9"
        assert [d.event.event_id for d in upgraded.list_dead(location_id="loc-old")] == ["evt-1"]
        [again] = claim(upgraded, limit=5, locations=["loc-old"])
        assert again.state.record_key == "contact:c2"
    finally:
        upgraded.close()
