"""Initial schema: inbox, id map, outbound operations, dead letters, cursors.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27 02:42:15.248838
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cursors",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cursors")),
    )
    op.create_table(
        "id_map",
        sa.Column("location_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("talknotes_id", sa.String(length=255), nullable=False),
        sa.Column("highlevel_id", sa.String(length=255), nullable=False),
        sa.Column("content_hash", sa.String(length=128), nullable=True),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.CheckConstraint("kind IN ('contact', 'task', 'note')", name=op.f("ck_id_map_kind")),
        sa.PrimaryKeyConstraint("location_id", "kind", "talknotes_id", name=op.f("pk_id_map")),
        sa.UniqueConstraint(
            "location_id",
            "kind",
            "highlevel_id",
            name=op.f("uq_id_map_location_id_kind_highlevel_id"),
        ),
    )
    op.create_table(
        "inbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=255), nullable=False),
        sa.Column("entity_key", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", sa.Double(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Double(), nullable=False),
        sa.Column("lease_owner", sa.String(length=255), nullable=True),
        sa.Column("lease_until", sa.Double(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("done_at", sa.Double(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.CheckConstraint("source IN ('talknotes', 'highlevel')", name=op.f("ck_inbox_source")),
        sa.CheckConstraint(
            "state IN ('received', 'pending', 'done', 'dead', 'skipped')",
            name=op.f("ck_inbox_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("source", "event_id", name=op.f("uq_inbox_source_event_id")),
    )
    op.create_index(
        op.f("ix_inbox_location_id_entity_key_id"),
        "inbox",
        ["location_id", "entity_key", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_inbox_state_next_attempt_at"), "inbox", ["state", "next_attempt_at"], unique=False
    )

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("inbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("dead_at", sa.Double(), nullable=False),
        sa.Column("replayed_at", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inbox_id"], ["inbox.id"], name=op.f("fk_dead_letters_inbox_id_inbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
        sa.UniqueConstraint("inbox_id", name=op.f("uq_dead_letters_inbox_id")),
    )
    op.create_table(
        "outbound_ops",
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("inbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("operation_id", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("highlevel_id", sa.String(length=255), nullable=True),
        sa.Column("request_body", sa.Text(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.CheckConstraint(
            "state IN ('planned', 'sent', 'succeeded', 'failed', 'unknown')",
            name=op.f("ck_outbound_ops_state"),
        ),
        sa.ForeignKeyConstraint(
            ["inbox_id"], ["inbox.id"], name=op.f("fk_outbound_ops_inbox_id_inbox")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_outbound_ops")),
    )
    op.create_index(op.f("ix_outbound_ops_inbox_id"), "outbound_ops", ["inbox_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_outbound_ops_inbox_id"), table_name="outbound_ops")

    op.drop_table("outbound_ops")
    op.drop_table("dead_letters")
    op.drop_index(op.f("ix_inbox_state_next_attempt_at"), table_name="inbox")
    op.drop_index(op.f("ix_inbox_location_id_entity_key_id"), table_name="inbox")

    op.drop_table("inbox")
    op.drop_table("id_map")
    op.drop_table("cursors")
