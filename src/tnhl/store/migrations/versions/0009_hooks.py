"""REST hook subscriptions (issue 10): Zapier, Make or n8n subscribe a target URL to one of
tnhl's triggers with a connection's API key; the recipe engine POSTs each firing to it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hooks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("location_id", sa.String(length=255), nullable=False),
        sa.Column("event", sa.String(length=128), nullable=False),
        sa.Column("target_url", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hooks")),
    )
    op.create_index(op.f("ix_hooks_location_id"), "hooks", ["location_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_hooks_location_id"), table_name="hooks")
    op.drop_table("hooks")
