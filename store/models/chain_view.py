"""The chain follower's view: followed blocks, contract logs, roots and escrow state."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, CreatedAt
from store.models.types import Wei


class ChainBlock(Base):
    """A block the follower has processed, by number, with the hash it had then."""

    __tablename__ = "chain_blocks"

    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(66), nullable=False)
    parent_hash: Mapped[str] = mapped_column(String(66), nullable=False)
    timestamp: Mapped[int] = mapped_column(BigInteger, nullable=False)


class ChainLog(CreatedAt, Base):
    """One decoded contract event the follower saw (deleted again if its block is reorged out)."""

    __tablename__ = "chain_logs"
    __table_args__ = (UniqueConstraint("block_hash", "log_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    block_hash: Mapped[str] = mapped_column(String(66), nullable=False)
    log_index: Mapped[int] = mapped_column(Integer, nullable=False)
    tx_hash: Mapped[str] = mapped_column(String(66), nullable=False)
    contract: Mapped[str] = mapped_column(String(42), nullable=False)
    event: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    # The shipment id, root or account the event is about (0x-hex), for lookups.
    subject: Mapped[str] = mapped_column(String(66), nullable=False, index=True)
    args: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)


class ChainRoot(Base):
    """A root TraceAnchor's RootAnchored event shows on the followed chain."""

    __tablename__ = "chain_roots"

    root: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    leaf_count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    brand: Mapped[str | None] = mapped_column(String(42))
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    block_hash: Mapped[str] = mapped_column(String(66), nullable=False)
    tx_hash: Mapped[str] = mapped_column(String(66), nullable=False)


class EscrowView(Base):
    """A shipment's escrow state in one escrow contract as the followed chain shows it (rebuilt
    from its logs). One id may have a row in each escrow release; the shipment's own is the one
    with its terms hash."""

    __tablename__ = "escrow_view"

    shipment_id: Mapped[str] = mapped_column(String(66), primary_key=True)
    contract: Mapped[str] = mapped_column(String(42), primary_key=True)
    # funded, attested, disputed, resolved, settled, refunded (lowercase event-derived states).
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    terms_hash: Mapped[str | None] = mapped_column(String(66))
    buyer: Mapped[str | None] = mapped_column(String(42))
    payee: Mapped[str | None] = mapped_column(String(42))
    amount: Mapped[int | None] = mapped_column(Wei())
    payout: Mapped[int | None] = mapped_column(Wei())
    refund: Mapped[int | None] = mapped_column(Wei())
    excursion_minutes: Mapped[int | None] = mapped_column(BigInteger)
    evidence_root: Mapped[str | None] = mapped_column(String(66))
    delivered_at: Mapped[int | None] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)  # of the last change
    tx_hash: Mapped[str] = mapped_column(String(66), nullable=False)
