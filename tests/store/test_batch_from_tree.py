"""create_batch_from_tree: proofs from the tree, and leaves read earlier that were taken since."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.merkle import MerkleTree, leaf_hash, verify
from store import (
    EventRow,
    LeavesTakenError,
    StoreValueError,
    batch_leaves,
    claim_pending,
    create_batch,
    create_batch_from_tree,
    pending_leaf_count,
    record_events,
    transaction,
)
from store.models import AnchorBatch


def _rows(n: int) -> list[EventRow]:
    return [
        {"kind": 0, "event_hash": secrets.token_bytes(32), "event_json": f'{{"n":{i}}}',
         "event_type": "ObjectEvent", "biz_step": None, "event_time_ms": i, "recorded_by": None}
        for i in range(n)
    ]  # fmt: skip


def test_proofs_from_the_tree_equal_create_batch(db_sessions: sessionmaker[Session]) -> None:
    with transaction(db_sessions) as session:
        record_events(session, _rows(37), leaf_hash)
    with transaction(db_sessions) as session:
        first = claim_pending(session, 20)
        tree = MerkleTree.build([leaf.leaf_hash for leaf in first])
        from_tree = create_batch_from_tree(session, tree, first).id
        rest = claim_pending(session, 20)
        other = MerkleTree.build([leaf.leaf_hash for leaf in rest])
        by_proofs = create_batch(session, other.root, rest, other.proofs()).id
    with db_sessions() as session:
        for batch_id, built in ((from_tree, tree), (by_proofs, other)):
            leaves = batch_leaves(session, batch_id)
            assert [leaf.leaf_hash for leaf in leaves] == list(built.leaves)
            for index, leaf in enumerate(leaves):
                assert leaf.leaf_index == index
                assert leaf.proof == ["0x" + node.hex() for node in built.proof_at(index)]
                assert verify(built.root, leaf.leaf_hash, built.proof_at(index))
        assert pending_leaf_count(session) == 0


def test_leaves_taken_since_they_were_read(db_sessions: sessionmaker[Session]) -> None:
    with transaction(db_sessions) as session:
        record_events(session, _rows(6), leaf_hash)
    with transaction(db_sessions) as session:
        read = claim_pending(session, 6)  # read, then the transaction ends
    with transaction(db_sessions) as session:  # another writer takes two of them meanwhile
        taken = claim_pending(session, 2)
        tree = MerkleTree.build([leaf.leaf_hash for leaf in taken])
        create_batch_from_tree(session, tree, taken)
    stale = MerkleTree.build([leaf.leaf_hash for leaf in read])
    with (
        pytest.raises(LeavesTakenError, match="2 of 6 leaves are no longer pending"),
        transaction(db_sessions) as session,
    ):
        create_batch_from_tree(session, stale, read)
    with db_sessions() as session:  # rolled back: no batch for the stale tree, 4 still pending
        assert session.scalar(select(AnchorBatch).where(AnchorBatch.root == stale.root)) is None
        assert pending_leaf_count(session) == 4


def test_tree_must_match_the_leaves(db_sessions: sessionmaker[Session]) -> None:
    with transaction(db_sessions) as session:
        record_events(session, _rows(3), leaf_hash)
        leaves = claim_pending(session, 3)
        hashes = [leaf.leaf_hash for leaf in leaves]
        for wrong in (hashes[:2], hashes[::-1], [*hashes[:2], secrets.token_bytes(32)]):
            with pytest.raises(StoreValueError, match="not built over these leaves"):
                create_batch_from_tree(session, MerkleTree.build(wrong), leaves)
        assert pending_leaf_count(session) == 3


def test_the_same_leaves_batched_meanwhile(db_sessions: sessionmaker[Session]) -> None:
    with transaction(db_sessions) as session:
        record_events(session, _rows(4), leaf_hash)
    with transaction(db_sessions) as session:
        read = claim_pending(session, 4)
    tree = MerkleTree.build([leaf.leaf_hash for leaf in read])
    with transaction(db_sessions) as session:  # the same leaves, the same root, batched first
        create_batch_from_tree(session, tree, claim_pending(session, 4))
    with (
        pytest.raises(LeavesTakenError, match="4 of 4 leaves are no longer pending"),
        transaction(db_sessions) as session,
    ):
        create_batch_from_tree(session, tree, read)
    with db_sessions() as session:
        batches = session.scalars(select(AnchorBatch).where(AnchorBatch.root == tree.root)).all()
        assert len(batches) == 1 and batches[0].leaf_count == 4
