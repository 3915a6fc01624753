"""chain_logs (event): the brand ledger reads every BrandRegistered / BrandRevoked /
BrandCompromised log on each consumer scan; without it that is a scan of every followed log
(one per anchored root and escrow step).

Revision ID: 0014_chain_logs_event_index
Revises: 0013_batch_anchor_version
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014_chain_logs_event_index"
down_revision: str | None = "0013_batch_anchor_version"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(op.f("ix_chain_logs_event"), "chain_logs", ["event"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_chain_logs_event"), table_name="chain_logs")
