"""Connections: due records by location, so a claim can serve every connection in turn; events
deduplicated per connection (source, location, webhook id), not across them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 13:50:00

Every row already names its location (a connection is one location), so the data a
single-location store holds is the connection "default"'s as it stands: nothing moves.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.drop_constraint("uq_inbox_source_event_id", type_="unique")
        batch.create_unique_constraint(
            "uq_inbox_source_location_id_event_id", ["source", "location_id", "event_id"]
        )
    op.create_index(
        op.f("ix_records_location_id_due_at"), "records", ["location_id", "due_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_records_location_id_due_at"), table_name="records")
    # Back to one webhook id across connections (fails if two connections share one).
    with op.batch_alter_table("inbox") as batch:
        batch.drop_constraint("uq_inbox_source_location_id_event_id", type_="unique")
        batch.create_unique_constraint("uq_inbox_source_event_id", ["source", "event_id"])
