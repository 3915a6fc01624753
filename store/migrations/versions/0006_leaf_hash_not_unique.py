"""leaves.leaf_hash loses its unique index: events' (kind, event_hash) key already implies it.

A leaf is keccak256(keccak256(abi.encode(LEAF_V1, kind, eventHash, salt))): two equal leaf hashes
would be one (kind, event_hash), which uq_events_kind_event_hash refuses, and one leaf per event
is uq_leaves_event_id. Nothing looks leaves up by hash; the index cost every recorded event a
write at a random place of a B-tree that grows with every event (a third of SQLite's insert cost
at 600,000 events).

Revision ID: 0006_leaf_hash_not_unique
Revises: 0005_pending_leaves_index
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_leaf_hash_not_unique"
down_revision: str | None = "0005_pending_leaves_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("leaves", schema=None) as batch_op:
        batch_op.drop_constraint("uq_leaves_leaf_hash", type_="unique")


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("leaves", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_leaves_leaf_hash", ["leaf_hash"])
