"""Each HighLevel call an event's record made, with its status and answer, and recipes turned
on or off from the dashboard (issue 11).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "event_calls",
        sa.Column("id", _ID, nullable=False),
        sa.Column("inbox_id", _ID, nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("seconds", sa.Double(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_calls")),
    )
    op.create_index(
        op.f("ix_event_calls_inbox_id_id"), "event_calls", ["inbox_id", "id"], unique=False
    )
    op.create_table(
        "recipe_switches",
        sa.Column("location_id", sa.String(length=255), nullable=False),
        sa.Column("recipe", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("location_id", "recipe", name=op.f("pk_recipe_switches")),
    )


def downgrade() -> None:
    op.drop_table("recipe_switches")
    op.drop_index(op.f("ix_event_calls_inbox_id_id"), table_name="event_calls")
    op.drop_table("event_calls")
