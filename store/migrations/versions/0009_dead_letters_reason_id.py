"""dead_letters (reason, id) index: the count purge keeps the newest N of each reason.

Keeping the newest N over all reasons let a flood of junk push out the evidence of other
reasons (an equivocation by a stolen device key, rows the store refused). The per-reason purge
walks this index backwards within one reason and deletes a range of it. No rows change.

Revision ID: 0009_dead_letters_reason_id
Revises: 0008_dead_letters_received_at
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_dead_letters_reason_id"
down_revision: str | None = "0008_dead_letters_received_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index("ix_dead_letters_reason_id", "dead_letters", ["reason", "id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_dead_letters_reason_id", table_name="dead_letters")
