"""notification titles in each reader's language: the message and values a title is written from

Revision ID: 20261207_notification_titles
Revises: 20261208_norm_translations
Create Date: 2026-12-07 21:50:00.000000

`notifications.title_source` holds the catalog message and its values (services/notifications/titles.py), so the
notification centre and mails write the title in the reader's language. Notifications written before have none
and keep their English title.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261207_notification_titles"
down_revision = "20261208_norm_translations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("title_source", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("title_source")
