"""Folds serve connections in turn: each location's oldest received events are read by this
index, so one connection's backlog is not folded whole before another's first events.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 18:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_inbox_location_id_state_id"), "inbox", ["location_id", "state", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_inbox_location_id_state_id"), table_name="inbox")
