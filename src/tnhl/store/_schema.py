"""The store's tables (SQLAlchemy Core). Migrations in `migrations/versions` must produce exactly
this; a test compares them with alembic's autogenerate on SQLite and PostgreSQL.

Portable on purpose: no JSON columns or operators (JSON is kept as TEXT), no partial indexes,
times as epoch seconds in DOUBLE columns, states as short strings with CHECK constraints.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["cursors", "dead_letters", "id_map", "inbox", "metadata", "outbound_ops", "records"]

# Named constraints so migrations can refer to them on every backend (batch mode on SQLite).
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = 255  # ids from either side are short opaque strings

inbox = sa.Table(
    "inbox",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("event_id", sa.String(ID), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("location_id", sa.String(ID), nullable=False),
    sa.Column("entity_key", sa.String(ID), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("received_at", sa.Double(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", sa.Double(), nullable=False),
    sa.Column("lease_owner", sa.String(ID), nullable=True),
    sa.Column("lease_until", sa.Double(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("done_at", sa.Double(), nullable=True),
    sa.Column("result", sa.Text(), nullable=True),
    # Set when the event is folded into its record (kind:talknotes id); JSON list of the
    # mapping's warnings once the event is settled.
    sa.Column("record_key", sa.String(ID + 16), nullable=True),
    sa.Column("warnings", sa.Text(), nullable=True),
    # Deduplicated per connection: two TalkNotes workspaces may each send a webhook-id msg_1.
    sa.UniqueConstraint("source", "location_id", "event_id"),
    # recipe: a recipe that fired (event id recipe:<name>:<cause>), kept as the memory of it.
    sa.CheckConstraint("source IN ('talknotes', 'highlevel', 'recipe')", name="source"),
    sa.CheckConstraint("state IN ('received', 'pending', 'done', 'dead', 'skipped')", name="state"),
    sa.Index(None, "location_id", "entity_key", "id"),
    # The fold reads received events oldest first; a claim reads one record's pending events.
    sa.Index(None, "state", "id"),
    sa.Index(None, "location_id", "record_key", "state"),
    # With several connections the fold reads each one's oldest received events.
    sa.Index(None, "location_id", "state", "id"),
    # HighLevel events pending delivery to TalkNotes, oldest first (the outbound pump).
    sa.Index(None, "source", "state", "id"),
    # A location's rows after a cursor, in arrival order (the recipe scanner's `events_after`).
    sa.Index(None, "location_id", "id"),
)

# One row per TalkNotes record (contact, task or note): what the events received so far say it
# should be (per field, the value of the newest event: last-writer-wins registers) and what
# HighLevel was last given. Workers claim records, not events: a record is due when it has
# events to settle, and claiming it leases it (`due_at` moves to the lease's end, so a killed
# worker's record comes due again by itself).
records = sa.Table(
    "records",
    metadata,
    sa.Column("location_id", sa.String(ID), primary_key=True),
    sa.Column("record_key", sa.String(ID + 16), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("talknotes_id", sa.String(ID), nullable=False),
    sa.Column("contact_id", sa.String(ID), nullable=False),
    sa.Column("fields", sa.Text(), nullable=False),
    sa.Column("deleted_at", sa.Double(), nullable=True),
    sa.Column("first_at", sa.Double(), nullable=True),
    sa.Column("applied", sa.Text(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("crashes", sa.Integer(), nullable=False),
    sa.Column("waiting_since", sa.Double(), nullable=True),
    sa.Column("due_at", sa.Double(), nullable=True),
    sa.Column("lease_owner", sa.String(ID), nullable=True),
    sa.Column("lease_until", sa.Double(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("updated_at", sa.Double(), nullable=False),
    # When tnhl last wrote the record to HighLevel: a HighLevel change from before it no longer
    # says what HighLevel holds (tnhl's write came after).
    sa.Column("written_at", sa.Double(), nullable=True),
    sa.CheckConstraint("kind IN ('contact', 'task', 'note')", name="kind"),
    sa.CheckConstraint(
        "status IN ('new', 'synced', 'waiting', 'retry', 'dead', 'deleted')", name="status"
    ),
    sa.Index(None, "due_at"),
    # Claims serve connections (locations) in turn: each takes its due records by this index.
    sa.Index(None, "location_id", "due_at"),
    # Children (tasks, notes) waiting for their contact are woken by contact id.
    sa.Index(None, "location_id", "contact_id"),
)

id_map = sa.Table(
    "id_map",
    metadata,
    sa.Column("location_id", sa.String(ID), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("talknotes_id", sa.String(ID), primary_key=True),
    sa.Column("highlevel_id", sa.String(ID), nullable=False),
    sa.Column("content_hash", sa.String(128), nullable=True),
    sa.Column("updated_at", sa.Double(), nullable=False),
    sa.UniqueConstraint("location_id", "kind", "highlevel_id"),
    sa.CheckConstraint("kind IN ('contact', 'task', 'note')", name="kind"),
)

outbound_ops = sa.Table(
    "outbound_ops",
    metadata,
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("inbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
    sa.Column("operation_id", sa.String(128), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("highlevel_id", sa.String(ID), nullable=True),
    sa.Column("request_body", sa.Text(), nullable=True),
    sa.Column("response", sa.Text(), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.Column("updated_at", sa.Double(), nullable=False),
    sa.CheckConstraint(
        "state IN ('planned', 'sent', 'succeeded', 'failed', 'unknown')", name="state"
    ),
    sa.ForeignKeyConstraint(["inbox_id"], ["inbox.id"]),
    sa.Index(None, "inbox_id"),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("inbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("dead_at", sa.Double(), nullable=False),
    sa.Column("replayed_at", sa.Double(), nullable=True),
    sa.UniqueConstraint("inbox_id"),
    sa.ForeignKeyConstraint(["inbox_id"], ["inbox.id"]),
)

# What HighLevel holds of each entity as last heard, and so what TalkNotes was told of it
# (issue 9): the outbound event's content (`data`, in TalkNotes' terms), its digest and the time
# of the change. A webhook and a reconciliation poll that report the same change (or an older
# one) tell TalkNotes once; the deletion sweep reads the entities TalkNotes knows from here and
# from the id map; a contact's profile is built from its rows (`contact_id`: HighLevel's).
told = sa.Table(
    "told",
    metadata,
    sa.Column("location_id", sa.String(ID), primary_key=True),
    sa.Column("highlevel_id", sa.String(ID), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("changed_at", sa.Double(), nullable=False),
    sa.Column("deleted", sa.Boolean(), nullable=False),
    sa.Column("told_at", sa.Double(), nullable=False),
    sa.Column("contact_id", sa.String(ID), nullable=True),
    sa.Column("data", sa.Text(), nullable=True),
    sa.Index(None, "location_id", "kind"),
    sa.Index(None, "location_id", "contact_id"),
)

# Contacts whose profile changed since it was last sent (`dirty_at`), coalesced: one
# `profile.updated` per contact per `profile_interval` at most.
profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("location_id", sa.String(ID), primary_key=True),
    sa.Column("contact_id", sa.String(ID), primary_key=True),
    sa.Column("dirty_at", sa.Double(), nullable=True),
    sa.Column("sent_at", sa.Double(), nullable=True),
    sa.Column("digest", sa.String(64), nullable=True),
    sa.Index(None, "dirty_at"),
)

# Keys for the unsigned TalkNotes entry (issue 10: Zapier, Make, n8n cannot sign): only each
# key's SHA-256 is kept; a key is shown once, when it is made.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("location_id", sa.String(ID), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("hint", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.Column("revoked_at", sa.Double(), nullable=True),
    sa.UniqueConstraint("key_hash"),
)

# REST hook subscriptions (Zapier's REST Hooks): a trigger's events POSTed to a target URL.
hooks = sa.Table(
    "hooks",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("location_id", sa.String(ID), nullable=False),
    sa.Column("event", sa.String(128), nullable=False),
    sa.Column("target_url", sa.Text(), nullable=False),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.Index(None, "location_id"),
)

# Each HighLevel request a record's try made, filed under every event of the claim (issue 11:
# an event's story shows each call with its status and HighLevel's answer). Purged with its
# event.
event_calls = sa.Table(
    "event_calls",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("inbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("at", sa.Double(), nullable=False),
    sa.Column("operation", sa.String(64), nullable=False),
    sa.Column("request", sa.Text(), nullable=False),
    sa.Column("status", sa.Integer(), nullable=True),
    sa.Column("seconds", sa.Double(), nullable=False),
    sa.Column("answer", sa.Text(), nullable=False),
    sa.Index(None, "inbox_id", "id"),
)

# A recipe turned on or off from the dashboard, over what the mapping file says.
recipe_switches = sa.Table(
    "recipe_switches",
    metadata,
    sa.Column("location_id", sa.String(ID), primary_key=True),
    sa.Column("recipe", sa.String(ID), primary_key=True),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("changed_at", sa.Double(), nullable=False),
)

cursors = sa.Table(
    "cursors",
    metadata,
    sa.Column("name", sa.String(ID), primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),
    sa.Column("updated_at", sa.Double(), nullable=False),
)
