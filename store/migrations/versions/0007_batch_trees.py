"""anchor_batches.tree_nodes: each batch keeps its Merkle tree; leaves no longer keep proofs.

A proof per leaf was ~1 KB of JSON at batch 1,000 (ten 66-character nodes), written with every
anchored event; the tree is 64 bytes a leaf (2n-1 nodes of 32 bytes), written once per batch,
and a proof is read from it in O(log n) (core.merkle.proof_from_nodes). Batches stored before
this revision keep the proofs on their leaves (leaves.proof), which store.leaf_proof reads.

Revision ID: 0007_batch_trees
Revises: 0006_leaf_hash_not_unique
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_batch_trees"
down_revision: str | None = "0006_leaf_hash_not_unique"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("anchor_batches", sa.Column("tree_nodes", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    """Revert this revision: batches with a tree lose it, so their proofs would be lost too."""
    bind = op.get_bind()
    count = bind.execute(
        sa.text("SELECT count(*) FROM anchor_batches WHERE tree_nodes IS NOT NULL")
    ).scalar()
    if count:
        raise RuntimeError(
            f"{count} batches keep their proofs only in tree_nodes: downgrading below "
            "0007_batch_trees would lose them"
        )
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): batch mode would copy the table, and
    # dropping the old copy fails on the leaves' foreign key to it.
    op.drop_column("anchor_batches", "tree_nodes")
