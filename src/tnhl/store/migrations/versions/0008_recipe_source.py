"""Recipes: a recipe that fired is an inbox row of source "recipe" (claimed by its runner like
a HighLevel event by the outbound pump, and never purged: its event id is the memory that the
recipe fired for its cause), and a location's rows are read after a cursor in arrival order
(`events_after`, the recipe scanner's tail of the inbox).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.drop_constraint(op.f("ck_inbox_source"), type_="check")
        batch.create_check_constraint(
            op.f("ck_inbox_source"), "source IN ('talknotes', 'highlevel', 'recipe')"
        )
    op.create_index(op.f("ix_inbox_location_id_id"), "inbox", ["location_id", "id"], unique=False)
    # Recipes act on what arrives from now on: each location's recipe cursor starts at its
    # newest event, so an upgraded store's history fires nothing (a new store has none).
    op.execute(
        "INSERT INTO cursors (name, value, updated_at) "
        "SELECT 'recipes:' || location_id, CAST(MAX(id) AS TEXT), 0 FROM inbox "
        "GROUP BY location_id"
    )


def downgrade() -> None:
    # Refused rather than deleting them: a release that knows recipes again would fire every
    # recipe once more for causes it had already acted on.
    fired = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM inbox WHERE source = 'recipe'"))
        .scalar_one()
    )
    if fired:
        raise RuntimeError(
            f"the inbox holds {fired} recipe rows (the memory of which recipes fired); delete"
            " them first to downgrade below revision 0008, accepting that recipes fire again"
        )
    op.execute("DELETE FROM cursors WHERE name LIKE 'recipes:%'")
    op.drop_index(op.f("ix_inbox_location_id_id"), table_name="inbox")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_constraint(op.f("ck_inbox_source"), type_="check")
        batch.create_check_constraint(
            op.f("ck_inbox_source"), "source IN ('talknotes', 'highlevel')"
        )
