"""Leases (one sender per key, fencing tokens) and the chain follower's view of both contracts.

Revision ID: 0004_leases_follower
Revises: 0001
Create Date: 2026-11-22 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_leases_follower"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WEI = sa.Numeric(78, 0).with_variant(sa.String(78), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    op.create_table(
        "chain_blocks",
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.Column("parent_hash", sa.String(length=66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_chain_blocks")),
    )
    op.create_table(
        "chain_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("contract", sa.String(length=42), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=66), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_logs")),
        sa.UniqueConstraint(
            "block_hash", "log_index", name=op.f("uq_chain_logs_block_hash_log_index")
        ),
    )
    with op.batch_alter_table("chain_logs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chain_logs_block_number"), ["block_number"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_chain_logs_subject"), ["subject"], unique=False)
    op.create_table(
        "chain_roots",
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("leaf_count", sa.BigInteger(), nullable=False),
        sa.Column("brand", sa.String(length=42), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("root", name=op.f("pk_chain_roots")),
    )
    with op.batch_alter_table("chain_roots", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chain_roots_block_number"), ["block_number"], unique=False
        )
    op.create_table(
        "escrow_view",
        sa.Column("shipment_id", sa.String(length=66), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("terms_hash", sa.String(length=66), nullable=True),
        sa.Column("buyer", sa.String(length=42), nullable=True),
        sa.Column("payee", sa.String(length=42), nullable=True),
        sa.Column("amount", _WEI, nullable=True),
        sa.Column("payout", _WEI, nullable=True),
        sa.Column("refund", _WEI, nullable=True),
        sa.Column("excursion_minutes", sa.BigInteger(), nullable=True),
        sa.Column("evidence_root", sa.String(length=66), nullable=True),
        sa.Column("delivered_at", sa.BigInteger(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("shipment_id", name=op.f("pk_escrow_view")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("escrow_view")
    with op.batch_alter_table("chain_roots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_roots_block_number"))
    op.drop_table("chain_roots")
    with op.batch_alter_table("chain_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_logs_subject"))
        batch_op.drop_index(batch_op.f("ix_chain_logs_block_number"))
    op.drop_table("chain_logs")
    op.drop_table("chain_blocks")
    op.drop_table("leases")
