"""anchor_batches.anchor_version: the TraceAnchor release each batch goes to.

Batches stored before this revision went to TraceAnchor v1 (the only release then): they keep
verifying there. New batches go to the newest release deployed; a brand's commissioning batch to
the release whose EIP-712 domain the brand signed under.

Revision ID: 0013_batch_anchor_version
Revises: 0012_custody_approvals
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_batch_anchor_version"
down_revision: str | None = "0012_custody_approvals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "anchor_batches",
        sa.Column("anchor_version", sa.Integer(), nullable=False, server_default="1"),
    )


def downgrade() -> None:
    """Revert this revision; refused while a batch went to a later release (it would be read as
    v1's and its proofs sent to the wrong contract)."""
    query = "SELECT count(*) FROM anchor_batches WHERE anchor_version <> 1"
    later = op.get_bind().scalar(sa.text(query))
    if later:
        raise RuntimeError(
            f"{later} batches went to TraceAnchor v2: downgrading would send their proofs to v1"
        )
    op.execute("ALTER TABLE anchor_batches DROP COLUMN anchor_version")
