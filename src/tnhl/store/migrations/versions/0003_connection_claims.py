"""Connections: due records by location, so a claim can serve every connection in turn.

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
    op.create_index(
        op.f("ix_records_location_id_due_at"), "records", ["location_id", "due_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_records_location_id_due_at"), table_name="records")
