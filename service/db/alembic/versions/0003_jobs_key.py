"""Jobs remember the API key that queued them (the per-key cap on queued jobs counts them).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add jobs.key_id (null for scheduled jobs and jobs queued before this revision) and its index."""
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("key_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_jobs_key_id"), ["key_id"])


def downgrade() -> None:
    """Drop jobs.key_id and its index."""
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index(batch.f("ix_jobs_key_id"))
        batch.drop_column("key_id")
