"""The outbox index: pending leaves (batch_id IS NULL) in id order; joins the three branches.

Without it the oldest pending leaf is found by walking the primary key past every batched leaf,
a cost that grows with every batch ever anchored.

Revision ID: 0005_pending_leaves_index
Revises: 0002_signatures, 0003_dead_letters, 0004_leases_follower
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_pending_leaves_index"
down_revision: tuple[str, ...] = ("0002_signatures", "0003_dead_letters", "0004_leases_follower")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(
        "ix_leaves_pending",
        "leaves",
        ["id"],
        unique=False,
        sqlite_where=sa.text("batch_id IS NULL"),
        postgresql_where=sa.text("batch_id IS NULL"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_leaves_pending", table_name="leaves")
