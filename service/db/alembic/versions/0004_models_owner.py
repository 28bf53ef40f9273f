"""Models remember the API key that created them (their owner): scheduled refits count against the owner's
queue cap, and the models one key may own are capped.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add models.key_id (null for models created before this revision or outside the API) and its index."""
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("key_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_models_key_id"), ["key_id"])


def downgrade() -> None:
    """Drop models.key_id and its index."""
    with op.batch_alter_table("models") as batch:
        batch.drop_index(batch.f("ix_models_key_id"))
        batch.drop_column("key_id")
