"""The outbox: pending leaves claimed into batches, each batch with its Merkle tree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.hexstr import hex0x
from core.merkle import MerkleTree, proof_from_nodes
from store._validate import IN_CHUNK
from store.errors import LeavesTakenError, StoreValueError
from store.models import AnchorBatch, BatchStatus, Leaf


def pending_leaf_count(session: Session) -> int:
    """How many leaves wait in the outbox."""
    return session.scalar(select(func.count()).where(Leaf.batch_id.is_(None))) or 0


class PendingLeaf(NamedTuple):
    """A claimed leaf as claim_pending returns it: only what building a batch needs."""

    id: int
    event_id: int
    leaf_hash: bytes
    batch_id: int | None = None


def _pending_statement(stmt: Any, limit: int, max_kind: int | None = None) -> Any:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise StoreValueError(f"limit must be a positive integer, got {limit!r}")
    stmt = stmt.where(Leaf.batch_id.is_(None))
    if max_kind is not None:
        stmt = stmt.where(Leaf.kind <= max_kind)
    return stmt.order_by(Leaf.id).limit(limit)


def claim_pending_leaves(session: Session, limit: int) -> list[Leaf]:
    """Up to `limit` pending leaves, oldest first, locked for this transaction.

    On PostgreSQL the rows are locked FOR UPDATE SKIP LOCKED, so concurrent workers claim
    disjoint leaves; SQLite serialises writers (BEGIN IMMEDIATE) instead.
    """
    # The event rows (and their JSON) are not loaded: batching needs only the leaf columns.
    stmt = _pending_statement(select(Leaf), limit)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=Leaf)
    return list(session.scalars(stmt))


def claim_pending(
    session: Session, limit: int, *, max_kind: int | None = None
) -> list[PendingLeaf]:
    """Up to `limit` pending leaves, oldest first, as (id, event_id, leaf_hash) rows; no lock.
    Only leaves of kind <= `max_kind` if given (what the TraceAnchor release verifies: the
    others wait in the outbox).

    For the anchoring worker's batches of thousands (no ORM objects), read in a
    read_transaction before its write transaction: create_batch then checks that every leaf
    is still pending, which is what a lock held only while reading could not promise.
    """
    stmt = _pending_statement(select(Leaf.id, Leaf.event_id, Leaf.leaf_hash), limit, max_kind)
    return [PendingLeaf(int(i), int(e), bytes(h)) for i, e, h in session.execute(stmt)]


def create_batch(
    session: Session,
    tree: MerkleTree,
    leaves: Sequence[Leaf | PendingLeaf],
    *,
    anchor_version: int = 1,
) -> AnchorBatch:
    """A pending batch for a tree core.merkle built over these leaves' hashes, in this order.

    The batch keeps the tree's node array (MerkleTree.nodes_blob); leaf i gets leaf_index i,
    and its proof is read from the batch's tree (leaf_proof), not stored per leaf. A failed
    batch with the same root (the same leaves again) is revived rather than duplicated. The
    leaves may have been read in an earlier transaction (claim_pending): if any is no longer
    pending, LeavesTakenError, and the caller's transaction must be rolled back.
    `anchor_version` is the TraceAnchor release the root goes to.
    """
    if not isinstance(tree, MerkleTree):
        raise StoreValueError(f"tree must be a core.merkle.MerkleTree, got {type(tree).__name__}")
    if not leaves:
        raise StoreValueError("a batch needs at least one leaf")
    if len(leaves) != len(tree) or any(
        leaf.leaf_hash != hashed for leaf, hashed in zip(leaves, tree.leaves, strict=False)
    ):
        raise StoreValueError("the tree was not built over these leaves in this order")
    for leaf in leaves:
        if leaf.batch_id is not None:
            raise StoreValueError(f"leaf {leaf.id} already belongs to batch {leaf.batch_id}")
    root = tree.root
    batch = session.scalars(select(AnchorBatch).where(AnchorBatch.root == root)).one_or_none()
    if batch is None:
        batch = AnchorBatch(root=root, leaf_count=len(leaves), status=BatchStatus.PENDING)
        session.add(batch)
    elif batch.status is BatchStatus.FAILED and batch.brand_address is not None:
        # A brand's refused root never comes back as a platform batch (its leaves stay with it).
        raise StoreValueError(f"root 0x{root.hex()} is a brand's refused commissioning root")
    elif batch.status is BatchStatus.FAILED:
        # The same leaves again after a failure give the same root: the batch row comes back.
        batch.status, batch.leaf_count, batch.error = BatchStatus.PENDING, len(leaves), None
        batch.tx_hash = batch.raw_tx = batch.nonce = batch.sent_at = None
    else:
        # The same (salted, unique) leaves already went into that batch, read as pending
        # earlier: taken, as when another batch took some of them.
        still_pending = _count_pending(session, [leaf.id for leaf in leaves])
        if still_pending < len(leaves):
            raise LeavesTakenError(len(leaves), still_pending)
        raise StoreValueError(f"a batch with root 0x{root.hex()} already exists")
    batch.anchor_version = anchor_version
    batch.tree_nodes = tree.nodes_blob()
    session.flush()
    _assign_leaves(session, batch.id, [leaf.id for leaf in leaves])
    # Loaded Leaf objects get the same values as committed state: current, and not dirty.
    for index, leaf in enumerate(leaves):
        if isinstance(leaf, Leaf):
            set_committed_value(leaf, "batch_id", batch.id)
            set_committed_value(leaf, "leaf_index", index)
    return batch


def leaf_proof(leaf: Leaf, batch: AnchorBatch | None) -> list[str] | None:
    """The leaf's proof (sibling hashes as 0x-hex, leaf to root), or None while unbatched.

    Read from the batch's stored tree; batches stored before migration 0007 kept each leaf's
    proof on the leaf instead.
    """
    if batch is None or leaf.batch_id != batch.id:
        return None
    if batch.tree_nodes is None:
        return None if leaf.proof is None else list(leaf.proof)
    return [hex0x(node) for node in proof_from_nodes(batch.tree_nodes, leaf.leaf_hash)]


def _count_pending(session: Session, leaf_ids: list[int]) -> int:
    counted = 0
    for start in range(0, len(leaf_ids), IN_CHUNK):
        chunk = leaf_ids[start : start + IN_CHUNK]
        counted += (
            session.scalar(select(func.count()).where(Leaf.id.in_(chunk), Leaf.batch_id.is_(None)))
            or 0
        )
    return counted


# PostgreSQL: one UPDATE joined to the ids, sent as one int array.
_PG_ASSIGN = text(
    "UPDATE leaves SET batch_id = :batch, leaf_index = i.ord - 1"
    " FROM unnest(CAST(:ids AS int[])) WITH ORDINALITY AS i(id, ord)"
    " WHERE leaves.id = i.id AND leaves.batch_id IS NULL"
)
# SQLite: one executemany straight to the driver.
_SQLITE_ASSIGN = "UPDATE leaves SET batch_id = ?, leaf_index = ? WHERE id = ? AND batch_id IS NULL"


def _assign_leaves(session: Session, batch_id: int, leaf_ids: list[int]) -> None:
    """Leaf i of `leaf_ids` joins the batch at index i, if still pending."""
    if session.get_bind().dialect.name == "postgresql":
        result: Any = session.execute(_PG_ASSIGN, {"batch": batch_id, "ids": leaf_ids})
    else:
        result = session.connection().exec_driver_sql(
            _SQLITE_ASSIGN,
            [(batch_id, index, leaf_id) for index, leaf_id in enumerate(leaf_ids)],
        )
    if result.rowcount != len(leaf_ids):
        raise LeavesTakenError(len(leaf_ids), int(result.rowcount))
