"""HighLevel -> TalkNotes: HighLevel events wait in the inbox, pending, until delivered to
TalkNotes; the outbound pump reads them oldest first by this index, without walking the
TalkNotes events pending beside them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 16:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_inbox_source_state_id"), "inbox", ["source", "state", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_inbox_source_state_id"), table_name="inbox")
