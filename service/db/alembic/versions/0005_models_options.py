"""Models carry their family's options (the keyword arguments of its model class, e.g. a share model's floor),
set over HTTP and passed to the model class by fit and backtest jobs.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add models.options, {} for the models stored before this revision (their families' defaults)."""
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("options", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    """Drop models.options."""
    with op.batch_alter_table("models") as batch:
        batch.drop_column("options")
