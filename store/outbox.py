"""The outbox: pending leaves claimed into batches, each leaf with its proof."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.merkle import MerkleTree
from store._validate import IN_CHUNK, bytes_of, hex32
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


def _claim_statement(session: Session, stmt: Any, limit: int) -> Any:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise StoreValueError(f"limit must be a positive integer, got {limit!r}")
    stmt = stmt.where(Leaf.batch_id.is_(None)).order_by(Leaf.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=Leaf)
    return stmt


def claim_pending_leaves(session: Session, limit: int) -> list[Leaf]:
    """Up to `limit` pending leaves, oldest first, locked for this transaction.

    On PostgreSQL the rows are locked FOR UPDATE SKIP LOCKED, so concurrent workers claim
    disjoint leaves; SQLite serialises writers (BEGIN IMMEDIATE) instead.
    """
    # The event rows (and their JSON) are not loaded: batching needs only the leaf columns.
    return list(session.scalars(_claim_statement(session, select(Leaf), limit)))


def claim_pending(session: Session, limit: int) -> list[PendingLeaf]:
    """claim_pending_leaves without ORM objects: (id, event_id, leaf_hash) rows, same locking.

    For the anchoring worker's batches of thousands, where loading ORM objects is the cost.
    """
    stmt = _claim_statement(session, select(Leaf.id, Leaf.event_id, Leaf.leaf_hash), limit)
    return [PendingLeaf(int(i), int(e), bytes(h)) for i, e, h in session.execute(stmt)]


class _ProofText:
    """Proofs as 0x-hex lists and as their JSON text, each distinct node converted once."""

    def __init__(self) -> None:
        self._hex: dict[bytes | str, str] = {}

    def node(self, node: bytes | str, position: int) -> str:
        if type(node) is bytes or type(node) is str:  # hashable: a tree repeats its nodes
            cached = self._hex.get(node)
            if cached is None:
                cached = self._hex[node] = self._convert(node, position)
            return cached
        return self._convert(node, position)

    @staticmethod
    def _convert(node: bytes | str, position: int) -> str:
        if isinstance(node, str):
            return hex32(node, f"proof {position} node")
        return "0x" + bytes_of(node, 32, f"proof {position} node").hex()

    def proof(self, proof: Sequence[bytes | str], position: int) -> list[str]:
        if isinstance(proof, bytes | str):
            raise StoreValueError(f"proof {position} must be a sequence of 32-byte hashes")
        return [self.node(node, position) for node in proof]


def _json_text(proof: list[str]) -> str:
    # Exactly json.dumps(proof): the nodes are 0x-hex, nothing in them needs escaping.
    return '["' + '", "'.join(proof) + '"]' if proof else "[]"


def create_batch(
    session: Session,
    root: bytes,
    leaves: Sequence[Leaf | PendingLeaf],
    proofs: Sequence[Sequence[bytes | str]],
) -> AnchorBatch:
    """A pending batch for `root`: leaf i of `leaves` gets leaf_index i and proofs[i].

    The caller builds the tree (core.merkle) over the leaves in this order; proofs are
    sibling hashes as bytes or 0x-hex. Every leaf must still be pending. A failed batch with
    the same root (the same leaves again) is revived rather than duplicated. `leaves` come from
    claim_pending_leaves or claim_pending in this transaction.
    """
    root = bytes_of(root, 32, "root")
    if len(proofs) != len(leaves):
        raise StoreValueError(f"{len(leaves)} leaves but {len(proofs)} proofs")
    converter = _ProofText()
    proof_texts = [_json_text(converter.proof(proof, i)) for i, proof in enumerate(proofs)]
    return _create(session, root, leaves, proof_texts)


def create_batch_from_tree(
    session: Session, tree: MerkleTree, leaves: Sequence[Leaf | PendingLeaf]
) -> AnchorBatch:
    """create_batch for a tree core.merkle built over these leaves' hashes, in this order.

    The proofs come from the tree itself (MerkleTree.proofs_json), already as the JSON text
    the store keeps: the anchoring worker's path for batches of thousands. The leaves may have
    been read in an earlier transaction: if any is no longer pending, LeavesTakenError, and
    the caller's transaction must be rolled back.
    """
    if len(leaves) != len(tree) or any(
        leaf.leaf_hash != hashed for leaf, hashed in zip(leaves, tree.leaves, strict=False)
    ):
        raise StoreValueError("the tree was not built over these leaves in this order")
    return _create(session, tree.root, leaves, tree.proofs_json())


def _create(
    session: Session, root: bytes, leaves: Sequence[Leaf | PendingLeaf], proof_texts: list[str]
) -> AnchorBatch:
    if not leaves:
        raise StoreValueError("a batch needs at least one leaf")
    if len({leaf.id for leaf in leaves}) != len(leaves):
        raise StoreValueError("the same leaf appears twice in one batch")
    for leaf in leaves:
        if leaf.batch_id is not None:
            raise StoreValueError(f"leaf {leaf.id} already belongs to batch {leaf.batch_id}")
    batch = session.scalars(select(AnchorBatch).where(AnchorBatch.root == root)).one_or_none()
    if batch is None:
        batch = AnchorBatch(root=root, leaf_count=len(leaves), status=BatchStatus.PENDING)
        session.add(batch)
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
    session.flush()
    _assign_leaves(session, batch.id, [leaf.id for leaf in leaves], proof_texts)
    # Loaded Leaf objects get the same values as committed state: current, and not dirty.
    for index, (leaf, proof) in enumerate(zip(leaves, proof_texts, strict=True)):
        if isinstance(leaf, Leaf):
            set_committed_value(leaf, "batch_id", batch.id)
            set_committed_value(leaf, "leaf_index", index)
            set_committed_value(leaf, "proof", json.loads(proof))
    return batch


def _count_pending(session: Session, leaf_ids: list[int]) -> int:
    counted = 0
    for start in range(0, len(leaf_ids), IN_CHUNK):
        chunk = leaf_ids[start : start + IN_CHUNK]
        counted += (
            session.scalar(select(func.count()).where(Leaf.id.in_(chunk), Leaf.batch_id.is_(None)))
            or 0
        )
    return counted


# PostgreSQL: one UPDATE joined to the ids (an int array) and the proofs, sent as one JSON array
# of them: a text[] parameter would have psycopg escape every quote of every proof in Python.
_PG_ASSIGN = text(
    "UPDATE leaves SET batch_id = :batch, leaf_index = i.ord - 1, proof = p.proof"
    " FROM unnest(CAST(:ids AS int[])) WITH ORDINALITY AS i(id, ord)"
    " JOIN json_array_elements(CAST(:proofs AS json)) WITH ORDINALITY AS p(proof, ord)"
    " USING (ord) WHERE leaves.id = i.id AND leaves.batch_id IS NULL"
)
# SQLite: one executemany straight to the driver (the proofs are ready JSON text already).
_SQLITE_ASSIGN = (
    "UPDATE leaves SET batch_id = ?, leaf_index = ?, proof = ? WHERE id = ? AND batch_id IS NULL"
)


def _assign_leaves(
    session: Session, batch_id: int, leaf_ids: list[int], proof_texts: list[str]
) -> None:
    """Leaf i of `leaf_ids` joins the batch at index i with proof_texts[i], if still pending."""
    if session.get_bind().dialect.name == "postgresql":
        result: Any = session.execute(
            _PG_ASSIGN,
            {"batch": batch_id, "ids": leaf_ids, "proofs": "[" + ", ".join(proof_texts) + "]"},
        )
    else:
        result = session.connection().exec_driver_sql(
            _SQLITE_ASSIGN,
            [
                (batch_id, index, proof, leaf_id)
                for index, (leaf_id, proof) in enumerate(zip(leaf_ids, proof_texts, strict=True))
            ],
        )
    if result.rowcount != len(leaf_ids):
        raise LeavesTakenError(len(leaf_ids), int(result.rowcount))
