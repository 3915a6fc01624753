"""dead_letters.received_at index: the gateway's retention purge deletes by age.

Without it, deleting the dead letters older than the retention reads the whole table (the
existing index leads with the reason). Purging by count needs no index: it walks the primary
key. Rows kept by the previous release stay as they are (their payloads keep up to 4 KB; they
age out under the retention).

Revision ID: 0008_dead_letters_received_at
Revises: 0007_batch_trees
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_dead_letters_received_at"
down_revision: str | None = "0007_batch_trees"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index("ix_dead_letters_received_at", "dead_letters", ["received_at"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_dead_letters_received_at", table_name="dead_letters")
