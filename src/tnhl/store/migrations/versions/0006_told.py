"""What TalkNotes was last told of each HighLevel entity (issue 9: reconciliation): a webhook
and a poll reporting the same change tell TalkNotes once, and the deletion sweep knows which
entities TalkNotes holds. And when tnhl last wrote each record to HighLevel (conflicts: a
HighLevel change from before that write no longer says what HighLevel holds). And contacts'
profiles: what each entity holds (`told.data`), and which profiles changed since last sent.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "told",
        sa.Column("location_id", sa.String(length=255), nullable=False),
        sa.Column("highlevel_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("changed_at", sa.Double(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("told_at", sa.Double(), nullable=False),
        sa.Column("contact_id", sa.String(length=255), nullable=True),
        sa.Column("data", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("location_id", "highlevel_id", name=op.f("pk_told")),
    )
    op.create_index(op.f("ix_told_location_id_kind"), "told", ["location_id", "kind"], unique=False)
    op.create_index(
        op.f("ix_told_location_id_contact_id"), "told", ["location_id", "contact_id"], unique=False
    )
    op.create_table(
        "profiles",
        sa.Column("location_id", sa.String(length=255), nullable=False),
        sa.Column("contact_id", sa.String(length=255), nullable=False),
        sa.Column("dirty_at", sa.Double(), nullable=True),
        sa.Column("sent_at", sa.Double(), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("location_id", "contact_id", name=op.f("pk_profiles")),
    )
    op.create_index(op.f("ix_profiles_dirty_at"), "profiles", ["dirty_at"], unique=False)
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("written_at", sa.Double(), nullable=True))


def downgrade() -> None:
    op.drop_index(op.f("ix_profiles_dirty_at"), table_name="profiles")
    op.drop_table("profiles")
    op.drop_index(op.f("ix_told_location_id_contact_id"), table_name="told")
    with op.batch_alter_table("records") as batch:
        batch.drop_column("written_at")
    op.drop_index(op.f("ix_told_location_id_kind"), table_name="told")
    op.drop_table("told")
