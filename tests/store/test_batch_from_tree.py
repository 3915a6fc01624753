"""create_batch: the batch keeps its tree, proofs are read from it; leaves taken since read."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.merkle import MerkleTree, verify
from store import (
    EventRow,
    LeavesTakenError,
    StoreValueError,
    batch_leaves,
    claim_pending,
    create_batch,
    leaf_proof,
    pending_leaf_count,
    record_events,
    transaction,
)
from store.models import AnchorBatch
from tests.utils.store_factories import hashed_event


def _rows(n: int) -> list[EventRow]:
    return [
        {
            "event": hashed_event(event_json=f'{{"n":{i}}}', biz_step=None, event_time_ms=i),
            "recorded_by": None,
        }
        for i in range(n)
    ]


def test_the_batch_keeps_its_tree_and_proofs_are_read_from_it(
    db_sessions: sessionmaker[Session],
) -> None:
    with transaction(db_sessions) as session:
        record_events(session, _rows(37))
    trees = {}
    with transaction(db_sessions) as session:
        for size in (20, 17):
            leaves = claim_pending(session, size)
            tree = MerkleTree.build([leaf.leaf_hash for leaf in leaves])
            trees[create_batch(session, tree, leaves).id] = tree
    with db_sessions() as session:
        for batch_id, built in trees.items():
            batch = session.get(AnchorBatch, batch_id)
            assert batch is not None and batch.tree_nodes == built.nodes_blob()
            leaves = batch_leaves(session, batch_id)
            assert [leaf.leaf_hash for leaf in leaves] == list(built.leaves)
            for index, leaf in enumerate(leaves):
                assert leaf.leaf_index == index and leaf.proof is None  # nothing per leaf
                proof = leaf_proof(leaf, batch)
                assert proof == ["0x" + node.hex() for node in built.proof_at(index)]
                assert verify(built.root, leaf.leaf_hash, built.proof_at(index))
            other = next(b for b in trees if b != batch_id)
            assert leaf_proof(leaves[0], session.get(AnchorBatch, other)) is None  # not its batch
            assert leaf_proof(leaves[0], None) is None
        assert pending_leaf_count(session) == 0


def test_a_batch_stored_before_trees_were_kept_reads_the_leaves_proofs(
    db_sessions: sessionmaker[Session],
) -> None:
    # Before migration 0007 each leaf kept its proof and the batch no tree.
    with transaction(db_sessions) as session:
        record_events(session, _rows(5))
        leaves = claim_pending(session, 5)
        tree = MerkleTree.build([leaf.leaf_hash for leaf in leaves])
        batch_id = create_batch(session, tree, leaves).id
    with transaction(db_sessions) as session:
        batch = session.get(AnchorBatch, batch_id)
        assert batch is not None
        batch.tree_nodes = None
        for index, leaf in enumerate(batch_leaves(session, batch_id)):
            leaf.proof = ["0x" + node.hex() for node in tree.proof_at(index)]
    with db_sessions() as session:
        batch = session.get(AnchorBatch, batch_id)
        for index, leaf in enumerate(batch_leaves(session, batch_id)):
            assert leaf_proof(leaf, batch) == ["0x" + n.hex() for n in tree.proof_at(index)]


def test_leaves_taken_since_they_were_read(db_sessions: sessionmaker[Session]) -> None:
    with transaction(db_sessions) as session:
        record_events(session, _rows(6))
    with transaction(db_sessions) as session:
        read = claim_pending(session, 6)  # read, then the transaction ends
    with transaction(db_sessions) as session:  # another writer takes two of them meanwhile
        taken = claim_pending(session, 2)
        tree = MerkleTree.build([leaf.leaf_hash for leaf in taken])
        create_batch(session, tree, taken)
    stale = MerkleTree.build([leaf.leaf_hash for leaf in read])
    with (
        pytest.raises(LeavesTakenError, match="2 of 6 leaves are no longer pending"),
        transaction(db_sessions) as session,
    ):
        create_batch(session, stale, read)
    with db_sessions() as session:  # rolled back: no batch for the stale tree, 4 still pending
        assert session.scalar(select(AnchorBatch).where(AnchorBatch.root == stale.root)) is None
        assert pending_leaf_count(session) == 4


def test_tree_must_match_the_leaves(db_sessions: sessionmaker[Session]) -> None:
    with transaction(db_sessions) as session:
        record_events(session, _rows(3))
        leaves = claim_pending(session, 3)
        hashes = [leaf.leaf_hash for leaf in leaves]
        for wrong in (hashes[:2], hashes[::-1], [*hashes[:2], secrets.token_bytes(32)]):
            with pytest.raises(StoreValueError, match="not built over these leaves"):
                create_batch(session, MerkleTree.build(wrong), leaves)
        assert pending_leaf_count(session) == 3


def test_the_same_leaves_batched_meanwhile(db_sessions: sessionmaker[Session]) -> None:
    with transaction(db_sessions) as session:
        record_events(session, _rows(4))
    with transaction(db_sessions) as session:
        read = claim_pending(session, 4)
    tree = MerkleTree.build([leaf.leaf_hash for leaf in read])
    with transaction(db_sessions) as session:  # the same leaves, the same root, batched first
        create_batch(session, tree, claim_pending(session, 4))
    with (
        pytest.raises(LeavesTakenError, match="4 of 4 leaves are no longer pending"),
        transaction(db_sessions) as session,
    ):
        create_batch(session, tree, read)
    with db_sessions() as session:
        batches = session.scalars(select(AnchorBatch).where(AnchorBatch.root == tree.root)).all()
        assert len(batches) == 1 and batches[0].leaf_count == 4
