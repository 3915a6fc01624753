"""EPCIS events, their leaves in the anchoring outbox, and the batches that anchor them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from store._validate import bytes_of, checksum_address
from store.models.base import Base, CreatedAt
from store.models.identity import Item
from store.models.types import BatchStatus, UTCDateTime, str_enum

event_items = Table(
    "event_items",
    Base.metadata,
    Column("event_id", ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    Column("item_id", ForeignKey("items.id"), primary_key=True, index=True),
)

# Every EPC an event names, with the field naming it (store/epc_index.py: FIELDS), filled as
# the event is recorded (migration 0022 backfilled the events stored before): the EPCIS query's
# MATCH_epc, MATCH_anyEPC... seek it instead of scanning the events' JSON.
event_epcs = Table(
    "event_epcs",
    Base.metadata,
    Column("epc", String(512), primary_key=True),
    Column("field", SmallInteger, primary_key=True),
    Column("event_id", ForeignKey("events.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Event(CreatedAt, Base):
    """An EPCIS event (or errorDeclaration) exactly as hashed, identified by (kind, event_hash)."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("kind", "event_hash"),
        # The EPCIS query's record-time and bizStep-in-a-time-range filters (migration 0018).
        Index(None, "created_at"),
        Index(None, "biz_step", "event_time_ms"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    event_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    event_json: Mapped[str] = mapped_column(Text, nullable=False)
    event_type: Mapped[str] = mapped_column(String(64), nullable=False)
    biz_step: Mapped[str | None] = mapped_column(String(255))
    event_time_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("principals.id"), index=True)
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"), index=True)

    # The event's own leaf (kind 0/1, the event's kind) and its kind 2 leaves, one per EPC it
    # names (DESIGN "Public and private views"): leaves.kind tells them apart.
    leaf: Mapped[Leaf | None] = relationship(
        primaryjoin=lambda: and_(Event.id == Leaf.event_id, Leaf.kind < MEMBER_KIND),
        uselist=False,
        overlaps="member_leaves",
    )
    member_leaves: Mapped[list[Leaf]] = relationship(
        primaryjoin=lambda: and_(Event.id == Leaf.event_id, Leaf.kind == MEMBER_KIND),
        order_by=lambda: Leaf.id,
        viewonly=True,
    )
    items: Mapped[list[Item]] = relationship(secondary=event_items)


class AnchorBatch(CreatedAt, Base):
    """One Merkle root and the transaction that anchors it."""

    __tablename__ = "anchor_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    root: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True, nullable=False)
    leaf_count: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[BatchStatus] = mapped_column(
        str_enum(BatchStatus, "batch_status"),
        nullable=False,
        default=BatchStatus.PENDING,
        index=True,
    )
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    raw_tx: Mapped[bytes | None] = mapped_column(LargeBinary)
    nonce: Mapped[int | None] = mapped_column(BigInteger)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(String(66))
    gas_used: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    anchored_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    final_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A brand-signed commissioning root: relayed with anchorCommissioning(root, n, brand, sig).
    brand_address: Mapped[str | None] = mapped_column(String(42))
    brand_signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Set when the contract refused the brand's signature: the root then anchors as a platform
    # batch. Kept apart from `error`, which a revived batch clears.
    relay_refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    relay_error: Mapped[str | None] = mapped_column(Text)
    # The TraceAnchor release the root goes to (1 for batches stored before TraceAnchor v2).
    anchor_version: Mapped[int] = mapped_column(
        Integer, nullable=False, default=1, server_default="1"
    )
    # The batch's Merkle tree, MerkleTree.nodes_blob(): every leaf's proof is read from it
    # (store.leaf_proof). Null for batches stored before migration 0007 (proofs on the leaves).
    tree_nodes: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)

    leaves: Mapped[list[Leaf]] = relationship(back_populates="batch", order_by="Leaf.leaf_index")

    @validates("brand_address")
    def _check_brand(self, key: str, value: str | None) -> str | None:
        return None if value is None else checksum_address(value, key)

    @validates("brand_signature")
    def _check_signature(self, key: str, value: bytes | None) -> bytes | None:
        return None if value is None else bytes_of(value, 65, key)


# leaves.kind of a public projection's leaf (core.merkle.member_leaf_hash); an event's own leaf
# has the event's kind (0 event, 1 errorDeclaration).
MEMBER_KIND = 2
# leaves.epc of an event's own leaf: not NULL, so (event_id, kind, epc) is unique on every
# dialect (NULLs are distinct in a unique constraint).
OWN_LEAF_EPC = ""


class Leaf(CreatedAt, Base):
    """A Merkle leaf: pending in the outbox while batch_id is null, then in a batch.

    Either an event's own leaf (kind = the event's kind, epc '') or the kind 2 leaf of the
    public projection P(event, epc) of one EPC the event names (core/epcis/projection.py), with
    that projection's exact JSON: which locations were public can change later, and the leaf
    commits to the projection as it was made.
    """

    __tablename__ = "leaves"
    # The outbox in id order: the oldest pending leaves without passing every batched one.
    __table_args__ = (
        Index(
            "ix_leaves_pending",
            "id",
            sqlite_where=text("batch_id IS NULL"),
            postgresql_where=text("batch_id IS NULL"),
        ),
        # One own leaf per event, one kind 2 leaf per (event, EPC) (migration 0023).
        UniqueConstraint("event_id", "kind", "epc"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    epc: Mapped[str] = mapped_column(
        String(512), nullable=False, default=OWN_LEAF_EPC, server_default=OWN_LEAF_EPC
    )
    # A kind 2 leaf's projection, as hashed into it (None for an own leaf; '' once erased).
    projection_json: Mapped[str | None] = mapped_column(Text)
    salt: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    # Not a unique index: a leaf is keccak(kind, event hash, salt), so two equal leaves would be
    # one (kind, event hash), which events' unique key already refuses; nothing looks leaves up
    # by hash, and the index cost every insert a random B-tree write (migration 0006).
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("anchor_batches.id"), index=True)
    leaf_index: Mapped[int | None] = mapped_column(Integer)
    # Only in batches stored before migration 0007 (which keep no tree): sibling hashes as
    # 0x-hex, leaf to root. Read proofs with store.leaf_proof.
    proof: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))

    event: Mapped[Event] = relationship(viewonly=True)
    batch: Mapped[AnchorBatch | None] = relationship(back_populates="leaves")
