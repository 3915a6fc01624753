"""The outbox drained into anchor batches: claims, proofs, lifecycle, concurrent workers."""

from __future__ import annotations

import secrets
import threading

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.merkle import MerkleTree, verify
from store.batches import (
    batches_by_status,
    get_batch,
    mark_anchored,
    mark_failed,
    mark_final,
    mark_sent,
    reset_to_sent,
)
from store.db import session_factory, transaction
from store.errors import InvalidTransitionError, NotFoundError, StoreValueError
from store.models import AnchorBatch, BatchStatus, Leaf
from store.outbox import claim_pending_leaves, create_batch, leaf_proof, pending_leaf_count
from store.queries import batch_leaves
from tests.utils.store_factories import make_event


def _record(factory: sessionmaker[Session], n: int) -> list[int]:
    with transaction(factory) as session:
        return [make_event(session).id for _ in range(n)]


def _batch(session: Session, leaves: list[Leaf]) -> AnchorBatch:
    return create_batch(session, MerkleTree.build([leaf.leaf_hash for leaf in leaves]), leaves)


def _hex32() -> str:
    return "0x" + secrets.token_hex(32)


def test_claim_and_batch_store_verifiable_proofs(db_sessions: sessionmaker[Session]) -> None:
    event_ids = _record(db_sessions, 7)
    with transaction(db_sessions) as session:
        claimed = claim_pending_leaves(session, 5)
        assert [leaf.event_id for leaf in claimed] == event_ids[:5]
        batch = _batch(session, claimed)
        batch_id, root = batch.id, batch.root
    with db_sessions() as session:
        stored = get_batch(session, batch_id)
        assert stored.status is BatchStatus.PENDING and stored.leaf_count == 5
        leaves = batch_leaves(session, batch_id)
        assert [leaf.leaf_index for leaf in leaves] == [0, 1, 2, 3, 4]
        assert [leaf.event_id for leaf in leaves] == event_ids[:5]
        for leaf in leaves:
            stored_proof = leaf_proof(leaf, stored)
            assert stored_proof is not None
            proof = [bytes.fromhex(node[2:]) for node in stored_proof]
            assert verify(root, leaf.leaf_hash, proof)
            # The proof is bound to this leaf: another leaf does not verify with it.
            others = [other for other in leaves if other.id != leaf.id]
            assert not verify(root, others[0].leaf_hash, proof)
        assert pending_leaf_count(session) == 2
    with transaction(db_sessions) as session:
        rest = claim_pending_leaves(session, 100)
        assert [leaf.event_id for leaf in rest] == event_ids[5:]


def test_single_leaf_batch_has_empty_proof(db_sessions: sessionmaker[Session]) -> None:
    _record(db_sessions, 1)
    with transaction(db_sessions) as session:
        (leaf,) = claim_pending_leaves(session, 10)
        batch = _batch(session, [leaf])
        assert batch.root == leaf.leaf_hash
        assert leaf_proof(leaf, batch) == [] and leaf.leaf_index == 0


def test_create_batch_refuses_bad_input(db_sessions: sessionmaker[Session]) -> None:
    _record(db_sessions, 3)
    with transaction(db_sessions) as session:
        leaves = claim_pending_leaves(session, 3)
        tree = MerkleTree.build([leaf.leaf_hash for leaf in leaves])
        with pytest.raises(StoreValueError, match="must be a core"):
            create_batch(session, tree.root, leaves)  # type: ignore[arg-type]
        with pytest.raises(StoreValueError, match="at least one leaf"):
            create_batch(session, tree, [])
        with pytest.raises(StoreValueError, match="not built over these leaves"):
            create_batch(session, tree, leaves[:2])
        _batch(session, leaves[:2])
        with pytest.raises(StoreValueError, match="already belongs"):
            create_batch(session, MerkleTree.build([x.leaf_hash for x in leaves[1:]]), leaves[1:])


def test_claim_limit_must_be_positive(db_session: Session) -> None:
    for bad in (0, -1, True, 2.5):
        with pytest.raises(StoreValueError):
            claim_pending_leaves(db_session, bad)  # type: ignore[arg-type]


def test_batch_lifecycle_with_reorg(db_sessions: sessionmaker[Session]) -> None:
    _record(db_sessions, 2)
    with transaction(db_sessions) as session:
        batch_id = _batch(session, claim_pending_leaves(session, 2)).id
    tx1, tx2, block = _hex32(), _hex32(), _hex32()
    with transaction(db_sessions) as session:
        with pytest.raises(InvalidTransitionError):
            mark_anchored(session, batch_id, block_number=10, block_hash=block)
        with pytest.raises(InvalidTransitionError):
            mark_final(session, batch_id)
        with pytest.raises(InvalidTransitionError):
            reset_to_sent(session, batch_id)
        mark_sent(session, batch_id, tx_hash=tx1, raw_tx=b"\x02signed", nonce=7)
    with transaction(db_sessions) as session:
        assert [b.id for b in batches_by_status(session, "sent")] == [batch_id]
        # A fee-bump replacement is sent again; a replacement is what got mined.
        mark_sent(session, batch_id, tx_hash=tx2, raw_tx=b"\x02bumped", nonce=7)
        mark_anchored(session, batch_id, block_number=10, block_hash=block, gas_used=45_600)
    with transaction(db_sessions) as session:
        batch = reset_to_sent(session, batch_id)
        assert batch.status is BatchStatus.SENT
        assert batch.block_number is None and batch.block_hash is None and batch.anchored_at is None
        assert batch.raw_tx == b"\x02bumped" and batch.tx_hash == tx2
    new_block = _hex32()
    with transaction(db_sessions) as session:
        mark_anchored(session, batch_id, block_number=11, block_hash=new_block, tx_hash=tx2)
        with pytest.raises(InvalidTransitionError):
            mark_failed(session, batch_id, "too late")
        mark_final(session, batch_id)
    with transaction(db_sessions) as session:
        batch = get_batch(session, batch_id)
        assert batch.status is BatchStatus.FINAL
        assert batch.block_number == 11 and batch.block_hash == new_block
        assert batch.sent_at and batch.anchored_at and batch.final_at
        assert batch.sent_at <= batch.anchored_at <= batch.final_at
        with pytest.raises(InvalidTransitionError):
            reset_to_sent(session, batch_id)
        with pytest.raises(InvalidTransitionError):
            mark_sent(session, batch_id, tx_hash=tx1, raw_tx=b"\x02", nonce=8)
        with pytest.raises(InvalidTransitionError):
            mark_final(session, batch_id)
        assert batches_by_status(session, [BatchStatus.FINAL, "pending"])[0].id == batch_id


def test_transition_inputs_are_checked(db_sessions: sessionmaker[Session]) -> None:
    _record(db_sessions, 1)
    with transaction(db_sessions) as session:
        batch_id = _batch(session, claim_pending_leaves(session, 1)).id
        with pytest.raises(StoreValueError):
            mark_sent(session, batch_id, tx_hash="0x1234", raw_tx=b"\x02", nonce=0)
        with pytest.raises(StoreValueError):
            mark_sent(session, batch_id, tx_hash=_hex32(), raw_tx=b"", nonce=0)
        with pytest.raises(StoreValueError):
            mark_sent(session, batch_id, tx_hash=_hex32(), raw_tx=b"\x02", nonce=-1)
        with pytest.raises(NotFoundError):
            mark_sent(session, batch_id + 1000, tx_hash=_hex32(), raw_tx=b"\x02", nonce=0)
        with pytest.raises(StoreValueError):
            batches_by_status(session, "lost")
        assert get_batch(session, batch_id).status is BatchStatus.PENDING


def test_failed_batch_returns_its_leaves_to_the_outbox(db_sessions: sessionmaker[Session]) -> None:
    event_ids = _record(db_sessions, 3)
    with transaction(db_sessions) as session:
        batch_id = _batch(session, claim_pending_leaves(session, 3)).id
        mark_sent(session, batch_id, tx_hash=_hex32(), raw_tx=b"\x02", nonce=1)
    with transaction(db_sessions) as session:
        mark_failed(session, batch_id, "nonce gone and root rejected")
    with transaction(db_sessions) as session:
        batch = get_batch(session, batch_id)
        assert batch.status is BatchStatus.FAILED and batch.error
        leaves = claim_pending_leaves(session, 10)
        assert [leaf.event_id for leaf in leaves] == event_ids
        assert all(leaf.batch_id is None and leaf.leaf_index is None for leaf in leaves)
        # The same leaves give the same root: the failed batch is revived, clean.
        again = _batch(session, leaves)
        assert again.id == batch_id and again.status is BatchStatus.PENDING
        assert again.tx_hash is None and again.raw_tx is None and again.error is None
    with transaction(db_sessions) as session:
        mark_sent(session, batch_id, tx_hash=_hex32(), raw_tx=b"\x02", nonce=1)
        mark_failed(session, batch_id, "failed again", release_leaves=False)
        kept = batch_leaves(session, batch_id)
        assert [leaf.event_id for leaf in kept] == event_ids
        assert claim_pending_leaves(session, 10) == []


def test_concurrent_workers_never_batch_a_leaf_twice(db_sessions: sessionmaker[Session]) -> None:
    # On PostgreSQL the second worker skips the locked rows; on SQLite it waits for the first.
    event_ids = _record(db_sessions, 10)
    claimed: dict[str, list[int]] = {}
    first = db_sessions()
    first_leaves = claim_pending_leaves(first, 5)
    claimed["first"] = [leaf.event_id for leaf in first_leaves]

    def second_worker() -> None:
        with transaction(db_sessions) as session:
            leaves = claim_pending_leaves(session, 5)
            claimed["second"] = [leaf.event_id for leaf in leaves]
            if leaves:
                _batch(session, leaves)

    thread = threading.Thread(target=second_worker)
    thread.start()
    _batch(first, first_leaves)
    first.commit()
    first.close()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert claimed["first"] == event_ids[:5]
    assert sorted(claimed["first"] + claimed["second"]) == event_ids
    with db_sessions() as session:
        assert pending_leaf_count(session) == 0
        assert len(batches_by_status(session, "pending")) == 2


def test_postgres_skip_locked_claims_without_waiting(pg_engine: Engine) -> None:
    sessions = session_factory(pg_engine)
    event_ids = _record(sessions, 10)
    with sessions() as first, sessions() as second:
        a = claim_pending_leaves(first, 5)
        # `first` still holds its row locks: a plain FOR UPDATE would block here.
        b = claim_pending_leaves(second, 5)
        assert [leaf.event_id for leaf in a] == event_ids[:5]
        assert [leaf.event_id for leaf in b] == event_ids[5:]
        _batch(second, b)
        second.commit()
        _batch(first, a)
        first.commit()
    with sessions() as session:
        assert pending_leaf_count(session) == 0
