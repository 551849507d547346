"""clearinghouse: published entries, signing keys, curation, and the WebSub hub's requests, subscriptions and delivery outbox

Revision ID: 44892f1fc2e5
Revises: bc91ac77e53e
Create Date: 2026-11-22 08:00:12.767094
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "44892f1fc2e5"
down_revision = "bc91ac77e53e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_state")),
    )
    op.create_table(
        "publication_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("first_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_publication_keys")),
    )
    op.create_table(
        "websub_notifications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("topic", sa.String(length=500), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_websub_notifications")),
    )
    op.create_table(
        "websub_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column(
            "mode",
            sa.Enum("subscribe", "unsubscribe", name="websub_request_mode", native_enum=False, create_constraint=True, length=20),
            nullable=False,
        ),
        sa.Column("topic", sa.String(length=500), nullable=False),
        sa.Column("callback", sa.String(length=2000), nullable=False),
        sa.Column("lease_seconds", sa.Integer(), nullable=True),
        sa.Column("secret", sa.String(length=200), nullable=True),
        sa.Column(
            "status",
            sa.Enum("pending", "verified", "refused", name="websub_request_status", native_enum=False, create_constraint=True, length=20),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=120), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_websub_requests")),
    )
    with op.batch_alter_table("websub_requests", schema=None) as batch_op:
        batch_op.create_index("ix_websub_requests_callback_topic", ["callback", "topic"], unique=False)
        batch_op.create_index("ix_websub_requests_pending", ["status", "id"], unique=False)

    op.create_table(
        "websub_subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.String(length=500), nullable=False),
        sa.Column("callback", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "active", "unsubscribed", "gone", name="websub_subscription_state", native_enum=False, create_constraint=True, length=20
            ),
            nullable=False,
        ),
        sa.Column("lease_seconds", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_websub_subscriptions")),
        sa.UniqueConstraint("topic", "callback", name=op.f("uq_websub_subscriptions_topic_callback")),
    )
    with op.batch_alter_table("websub_subscriptions", schema=None) as batch_op:
        batch_op.create_index("ix_websub_subscriptions_live", ["topic", "state", "expires_at"], unique=False)

    op.create_table(
        "feed_collections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["participants.id"], name=op.f("fk_feed_collections_created_by_participants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_collections")),
        sa.UniqueConstraint("slug", name=op.f("uq_feed_collections_slug")),
    )
    op.create_table(
        "feed_topics",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["participants.id"], name=op.f("fk_feed_topics_created_by_participants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_topics")),
        sa.UniqueConstraint("slug", name=op.f("uq_feed_topics_slug")),
    )
    op.create_table(
        "websub_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("notification_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "delivered",
                "gone",
                "unsubscribed",
                "expired",
                "failed",
                name="websub_delivery_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=120), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"], ["websub_notifications.id"], name=op.f("fk_websub_deliveries_notification_id_websub_notifications")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["websub_subscriptions.id"], name=op.f("fk_websub_deliveries_subscription_id_websub_subscriptions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_websub_deliveries")),
    )
    with op.batch_alter_table("websub_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_websub_deliveries_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_websub_deliveries_notification_id"), ["notification_id"], unique=False)
        batch_op.create_index("ix_websub_deliveries_subscription", ["subscription_id", "id"], unique=False)

    op.create_table(
        "websub_delivery_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["websub_deliveries.id"], name=op.f("fk_websub_delivery_attempts_delivery_id_websub_deliveries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_websub_delivery_attempts")),
    )
    with op.batch_alter_table("websub_delivery_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_websub_delivery_attempts_delivery", ["delivery_id", "id"], unique=False)

    op.create_table(
        "feed_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("adoption_id", sa.Uuid(), nullable=False),
        sa.Column("urn", sa.String(length=300), nullable=False),
        sa.Column("norm_id", sa.Uuid(), nullable=False),
        sa.Column("network_id", sa.Uuid(), nullable=False),
        sa.Column("network_slug", sa.String(length=80), nullable=False),
        sa.Column("norm_slug", sa.String(length=80), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("adopted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("signature", sa.String(length=120), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["adoption_id"], ["norm_adoptions.id"], name=op.f("fk_feed_entries_adoption_id_norm_adoptions")),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], name=op.f("fk_feed_entries_network_id_networks")),
        sa.ForeignKeyConstraint(["norm_id"], ["norms.id"], name=op.f("fk_feed_entries_norm_id_norms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_entries")),
        sa.UniqueConstraint("adoption_id", name=op.f("uq_feed_entries_adoption_id")),
        sa.UniqueConstraint("seq", name=op.f("uq_feed_entries_seq")),
        sa.UniqueConstraint("urn", name=op.f("uq_feed_entries_urn")),
    )
    with op.batch_alter_table("feed_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_entries_network_id"), ["network_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_feed_entries_norm_id"), ["norm_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_feed_entries_published_at"), ["published_at"], unique=False)

    op.create_table(
        "feed_collection_entries",
        sa.Column("collection_id", sa.Uuid(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"], ["feed_collections.id"], name=op.f("fk_feed_collection_entries_collection_id_feed_collections")
        ),
        sa.ForeignKeyConstraint(["entry_id"], ["feed_entries.id"], name=op.f("fk_feed_collection_entries_entry_id_feed_entries")),
        sa.PrimaryKeyConstraint("collection_id", "entry_id", name=op.f("pk_feed_collection_entries")),
    )
    with op.batch_alter_table("feed_collection_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_collection_entries_entry_id"), ["entry_id"], unique=False)

    op.create_table(
        "feed_entry_curations",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("summary_by", sa.Uuid(), nullable=True),
        sa.Column("summary_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("featured", sa.Boolean(), nullable=False),
        sa.Column("featured_by", sa.Uuid(), nullable=True),
        sa.Column("featured_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["entry_id"], ["feed_entries.id"], name=op.f("fk_feed_entry_curations_entry_id_feed_entries")),
        sa.ForeignKeyConstraint(["featured_by"], ["participants.id"], name=op.f("fk_feed_entry_curations_featured_by_participants")),
        sa.ForeignKeyConstraint(["summary_by"], ["participants.id"], name=op.f("fk_feed_entry_curations_summary_by_participants")),
        sa.ForeignKeyConstraint(["updated_by"], ["participants.id"], name=op.f("fk_feed_entry_curations_updated_by_participants")),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_feed_entry_curations")),
    )
    with op.batch_alter_table("feed_entry_curations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_entry_curations_featured_at"), ["featured_at"], unique=False)

    op.create_table(
        "feed_entry_regions",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("region", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["feed_entries.id"], name=op.f("fk_feed_entry_regions_entry_id_feed_entries")),
        sa.PrimaryKeyConstraint("entry_id", "region", name=op.f("pk_feed_entry_regions")),
    )
    with op.batch_alter_table("feed_entry_regions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_entry_regions_region"), ["region"], unique=False)

    op.create_table(
        "feed_entry_topics",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("topic_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["feed_entries.id"], name=op.f("fk_feed_entry_topics_entry_id_feed_entries")),
        sa.ForeignKeyConstraint(["topic_id"], ["feed_topics.id"], name=op.f("fk_feed_entry_topics_topic_id_feed_topics")),
        sa.PrimaryKeyConstraint("entry_id", "topic_id", name=op.f("pk_feed_entry_topics")),
    )
    with op.batch_alter_table("feed_entry_topics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_entry_topics_topic_id"), ["topic_id"], unique=False)

    op.create_table(
        "feed_related_entries",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("related_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["feed_entries.id"], name=op.f("fk_feed_related_entries_entry_id_feed_entries")),
        sa.ForeignKeyConstraint(["related_id"], ["feed_entries.id"], name=op.f("fk_feed_related_entries_related_id_feed_entries")),
        sa.PrimaryKeyConstraint("entry_id", "related_id", name=op.f("pk_feed_related_entries")),
    )
    op.create_table(
        "feed_related_networks",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("network_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["feed_entries.id"], name=op.f("fk_feed_related_networks_entry_id_feed_entries")),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], name=op.f("fk_feed_related_networks_network_id_networks")),
        sa.PrimaryKeyConstraint("entry_id", "network_id", name=op.f("pk_feed_related_networks")),
    )


def downgrade() -> None:
    op.drop_table("feed_related_networks")
    op.drop_table("feed_related_entries")
    with op.batch_alter_table("feed_entry_topics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feed_entry_topics_topic_id"))

    op.drop_table("feed_entry_topics")
    with op.batch_alter_table("feed_entry_regions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feed_entry_regions_region"))

    op.drop_table("feed_entry_regions")
    with op.batch_alter_table("feed_entry_curations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feed_entry_curations_featured_at"))

    op.drop_table("feed_entry_curations")
    with op.batch_alter_table("feed_collection_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feed_collection_entries_entry_id"))

    op.drop_table("feed_collection_entries")
    with op.batch_alter_table("feed_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feed_entries_published_at"))
        batch_op.drop_index(batch_op.f("ix_feed_entries_norm_id"))
        batch_op.drop_index(batch_op.f("ix_feed_entries_network_id"))

    op.drop_table("feed_entries")
    with op.batch_alter_table("websub_delivery_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_websub_delivery_attempts_delivery")

    op.drop_table("websub_delivery_attempts")
    with op.batch_alter_table("websub_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_websub_deliveries_subscription")
        batch_op.drop_index(batch_op.f("ix_websub_deliveries_notification_id"))
        batch_op.drop_index("ix_websub_deliveries_due")

    op.drop_table("websub_deliveries")
    op.drop_table("feed_topics")
    op.drop_table("feed_collections")
    with op.batch_alter_table("websub_subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_websub_subscriptions_live")

    op.drop_table("websub_subscriptions")
    with op.batch_alter_table("websub_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_websub_requests_pending")
        batch_op.drop_index("ix_websub_requests_callback_topic")

    op.drop_table("websub_requests")
    op.drop_table("websub_notifications")
    op.drop_table("publication_keys")
    op.drop_table("feed_state")
