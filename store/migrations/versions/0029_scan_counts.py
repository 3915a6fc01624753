"""scan_counts: how often each item was resolved per UTC day, for its brand (issue 17). A new
table: nothing stored before changes.

Revision ID: 0029_scan_counts
Revises: 0028_product_content
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029_scan_counts"
down_revision: str | None = "0028_product_content"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "scan_counts",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("scans", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_scan_counts_item_id_items")
        ),
        sa.PrimaryKeyConstraint("item_id", "day", name=op.f("pk_scan_counts")),
    )


def downgrade() -> None:
    """Revert this revision (the counts are dropped; items stay)."""
    op.drop_table("scan_counts")
