"""Records: per-record last-writer-wins state, claimed by workers instead of inbox heads.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("location_id", sa.String(length=255), nullable=False),
        sa.Column("record_key", sa.String(length=271), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("talknotes_id", sa.String(length=255), nullable=False),
        sa.Column("contact_id", sa.String(length=255), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("deleted_at", sa.Double(), nullable=True),
        sa.Column("first_at", sa.Double(), nullable=True),
        sa.Column("applied", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("crashes", sa.Integer(), nullable=False),
        sa.Column("waiting_since", sa.Double(), nullable=True),
        sa.Column("due_at", sa.Double(), nullable=True),
        sa.Column("lease_owner", sa.String(length=255), nullable=True),
        sa.Column("lease_until", sa.Double(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.CheckConstraint("kind IN ('contact', 'task', 'note')", name=op.f("ck_records_kind")),
        sa.CheckConstraint(
            "status IN ('new', 'synced', 'waiting', 'retry', 'dead', 'deleted')",
            name=op.f("ck_records_status"),
        ),
        sa.PrimaryKeyConstraint("location_id", "record_key", name=op.f("pk_records")),
    )
    op.create_index(op.f("ix_records_due_at"), "records", ["due_at"], unique=False)
    op.create_index(
        op.f("ix_records_location_id_contact_id"),
        "records",
        ["location_id", "contact_id"],
        unique=False,
    )
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("record_key", sa.String(length=271), nullable=True))
        batch.add_column(sa.Column("warnings", sa.Text(), nullable=True))
        batch.drop_index("ix_inbox_state_next_attempt_at")
        batch.create_index("ix_inbox_state_id", ["state", "id"], unique=False)
        batch.create_index(
            "ix_inbox_location_id_record_key_state",
            ["location_id", "record_key", "state"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.drop_index("ix_inbox_location_id_record_key_state")
        batch.drop_index("ix_inbox_state_id")
        batch.create_index(
            "ix_inbox_state_next_attempt_at", ["state", "next_attempt_at"], unique=False
        )
        batch.drop_column("warnings")
        batch.drop_column("record_key")
    op.drop_index(op.f("ix_records_location_id_contact_id"), table_name="records")
    op.drop_index(op.f("ix_records_due_at"), table_name="records")
    op.drop_table("records")
