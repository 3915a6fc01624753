"""The anchoring worker on a real anvil with the deployed TraceAnchor, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from web3.exceptions import TransactionNotFound

import store
from chain.anchoring.worker import AnchorWorker
from chain.errors import ContractRevert
from core.merkle import MerkleTree
from store.models import AnchorBatch, BatchStatus, Event, Leaf
from tests.utils.anvil import ChainEnv, revert, snapshot
from tests.utils.store_factories import make_event
from tests.utils.workers import anchor_worker

WorkerFactory = Callable[..., AnchorWorker]


@pytest.fixture
def make_worker(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session]
) -> Iterator[WorkerFactory]:
    """Workers on the test database and chain (confirmations finality unless overridden)."""

    def make(account: Any = None, **overrides: Any) -> AnchorWorker:
        values: dict[str, Any] = {"confirmations": 2, "poll_interval": 0.05, **overrides}
        return anchor_worker(env, db_url, db_sessions, account=account, **values)

    yield make


def record_events(sessions: sessionmaker[Session], n: int) -> None:
    with store.transaction(sessions) as session:
        for _ in range(n):
            make_event(session)


def batches(sessions: sessionmaker[Session]) -> list[AnchorBatch]:
    with sessions() as session:
        return list(session.scalars(select(AnchorBatch).order_by(AnchorBatch.id)))


def only_batch(sessions: sessionmaker[Session]) -> AnchorBatch:
    (batch,) = batches(sessions)
    return batch


def tx_count(env: ChainEnv) -> int:
    return int(env.w3.eth.get_transaction_count(env.anchorer.address))


def mine(env: ChainEnv, blocks: int) -> None:
    env.w3.provider.make_request("anvil_mine", [hex(blocks)])  # type: ignore[arg-type]


def test_one_tx_anchors_every_pending_leaf_and_every_proof_verifies(
    env: ChainEnv,
    db_sessions: sessionmaker[Session],
    make_worker: WorkerFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    n = 200
    record_events(db_sessions, n)
    nonce_before = tx_count(env)

    report = make_worker().run_once()

    assert tx_count(env) == nonce_before + 1
    batch = only_batch(db_sessions)
    assert report.signed == report.anchored == [batch.id]
    assert batch.status is BatchStatus.ANCHORED and batch.leaf_count == n
    receipt = env.w3.eth.get_transaction_receipt(batch.tx_hash)  # type: ignore[arg-type]
    assert receipt["status"] == 1
    assert batch.block_number == receipt["blockNumber"]
    assert batch.block_hash == "0x" + bytes(receipt["blockHash"]).hex()
    info = env.anchor.root_info(batch.root)
    assert info.anchored and info.leaf_count == n and info.brand is None

    with db_sessions() as session:
        rows = session.execute(select(Leaf, Event).join(Event).order_by(Leaf.leaf_index)).all()
        proofs = {leaf.id: store.leaf_proof(leaf, leaf.batch) or [] for leaf, _ in rows}
    assert [leaf.leaf_index for leaf, _ in rows] == list(range(n))
    # The stored proofs are exactly the tree's, and the contract accepts each of them.
    tree = MerkleTree.build([leaf.leaf_hash for leaf, _ in rows])
    assert tree.root == batch.root
    for leaf, event in rows:
        assert leaf.batch_id == batch.id
        assert proofs[leaf.id] == ["0x" + p.hex() for p in tree.proof_at(leaf.leaf_index)]
        assert env.anchor.verify(event.kind, event.event_hash, leaf.salt, proofs[leaf.id])
    leaf, event = rows[7]
    wrong_salt = bytes(32)
    assert not env.anchor.verify(event.kind, event.event_hash, wrong_salt, proofs[leaf.id])
    assert not env.anchor.verify(event.kind, event.event_hash, leaf.salt, proofs[leaf.id][1:])

    assert batch.gas_used == receipt["gasUsed"]
    with capsys.disabled():
        print(
            f"\n[anchoring] {n} events, one tx: {batch.gas_used} gas, "
            f"{batch.gas_used / n:.1f} gas per event"
        )

    # Nothing left: a second pass sends nothing.
    again = make_worker().run_once()
    assert again.signed == again.broadcast == [] and tx_count(env) == nonce_before + 1


def test_a_batch_closes_at_max_size_or_after_max_delay(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory
) -> None:
    worker = make_worker(max_batch_size=10, max_batch_delay=3600)
    record_events(db_sessions, 6)
    assert worker.run_once().signed == []
    record_events(db_sessions, 6)
    report = worker.run_once()
    assert len(report.signed) == 1
    assert only_batch(db_sessions).leaf_count == 10
    with db_sessions() as session:
        assert store.pending_leaf_count(session) == 2
    # The two left over wait for the delay; with no delay they go at once.
    assert worker.run_once().signed == []
    assert len(make_worker(max_batch_size=10, max_batch_delay=0).run_once().signed) == 1
    assert [b.leaf_count for b in batches(db_sessions)] == [10, 2]
    assert all(b.status is BatchStatus.ANCHORED for b in batches(db_sessions))


def test_final_only_after_the_configured_confirmations(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory
) -> None:
    worker = make_worker(confirmations=2)
    record_events(db_sessions, 3)
    worker.run_once()
    assert only_batch(db_sessions).status is BatchStatus.ANCHORED
    mine(env, 1)
    assert worker.run_once().final == []
    assert only_batch(db_sessions).status is BatchStatus.ANCHORED
    mine(env, 1)
    report = worker.run_once()
    batch = only_batch(db_sessions)
    assert report.final == [batch.id] and batch.status is BatchStatus.FINAL
    assert batch.final_at is not None


def test_tag_finality_waits_for_the_finalized_block(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory
) -> None:
    worker = make_worker(finality="tag")
    assert worker.finality.mode == "tag"
    record_events(db_sessions, 2)
    worker.run_once()
    anchored_in = only_batch(db_sessions).block_number
    assert anchored_in is not None

    def finalized() -> int:
        return int(env.w3.eth.get_block("finalized")["number"])

    # Mine until the finalized tag is one block short of the anchoring block: still anchored.
    for _ in range(200):
        if finalized() >= anchored_in - 1:
            break
        mine(env, 1)
    assert finalized() == anchored_in - 1
    worker.run_once()
    assert only_batch(db_sessions).status is BatchStatus.ANCHORED
    mine(env, 1)
    assert finalized() == anchored_in
    worker.run_once()
    assert only_batch(db_sessions).status is BatchStatus.FINAL


def test_auto_finality_counts_confirmations_on_anvil(make_worker: WorkerFactory) -> None:
    # anvil's `finalized` tag is synthetic (head - 64) and it mines only on demand.
    assert make_worker(finality="auto").finality.mode == "confirmations"


def test_a_root_already_on_chain_is_adopted_without_a_second_tx(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory
) -> None:
    record_events(db_sessions, 5)
    worker = make_worker()
    (batch_id,) = worker.close_batches()
    stored = only_batch(db_sessions)
    assert stored.status is BatchStatus.SENT and stored.raw_tx
    # The same root reaches the chain through another transaction before the worker sends (a
    # different gas limit: the same fields would sign to the very same transaction).
    tx = dict(env.anchor.build_anchor(env.anchorer.address, stored.root, stored.leaf_count))
    tx["gas"] = int(tx["gas"]) + 1000
    other_hash = env.w3.eth.send_raw_transaction(env.anchorer.sign_transaction(tx).raw_transaction)
    other = env.w3.eth.wait_for_transaction_receipt(other_hash)
    assert "0x" + bytes(other_hash).hex() != stored.tx_hash
    nonce_after_other = tx_count(env)

    report = worker.run_once()

    assert report.adopted == [batch_id] and report.broadcast == [], report
    assert tx_count(env) == nonce_after_other
    batch = only_batch(db_sessions)
    assert batch.status is BatchStatus.ANCHORED
    assert batch.tx_hash == "0x" + bytes(other_hash).hex()
    assert batch.block_number == other["blockNumber"]
    assert batch.block_hash == "0x" + bytes(other["blockHash"]).hex()
    with pytest.raises(TransactionNotFound):
        env.w3.eth.get_transaction(stored.tx_hash)  # type: ignore[arg-type]


def test_a_pending_batch_from_another_writer_is_signed_and_anchored(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory
) -> None:
    record_events(db_sessions, 4)
    with store.transaction(db_sessions) as session:
        leaves = store.claim_pending_leaves(session, 10)
        tree = MerkleTree.build([leaf.leaf_hash for leaf in leaves])
        # Stored for TraceAnchor v1 (as every batch before v2 was): anchored there, not on v2.
        store.create_batch(session, tree, leaves, anchor_version=1)
    report = make_worker().run_once()
    batch = only_batch(db_sessions)
    assert report.signed == report.anchored == [batch.id]
    assert env.anchor_v1.root_info(tree.root).leaf_count == 4
    assert not env.anchor.root_info(tree.root).anchored


def test_a_signed_but_unsent_batch_is_resent_unchanged_after_a_crash(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory
) -> None:
    record_events(db_sessions, 8)
    # close_batches commits the signed tx and returns: the state a crash before broadcast leaves.
    make_worker().close_batches()
    saved = only_batch(db_sessions)
    assert saved.status is BatchStatus.SENT and saved.raw_tx and saved.tx_hash
    assert not env.anchor.root_info(saved.root).anchored

    report = make_worker().run_once()  # a new process

    batch = only_batch(db_sessions)
    assert report.signed == [] and report.broadcast == report.anchored == [batch.id]
    assert batch.status is BatchStatus.ANCHORED
    assert batch.tx_hash == saved.tx_hash
    raw = env.w3.eth.get_raw_transaction(saved.tx_hash)  # type: ignore[arg-type]
    assert bytes(raw) == saved.raw_tx


def test_a_reorg_sends_the_same_tx_again_and_finality_restarts(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory
) -> None:
    worker = make_worker(confirmations=2)
    record_events(db_sessions, 6)
    before = snapshot(env.w3)
    worker.run_once()
    first = only_batch(db_sessions)
    assert first.status is BatchStatus.ANCHORED
    mine(env, 1)

    # Drop the anchoring block and build a longer chain without it.
    revert(env.w3, before)
    mine(env, 3)
    assert env.w3.eth.get_block(first.block_number)["hash"].hex() != first.block_hash
    report = worker.run_once()
    assert report.reorged == [first.id]
    assert report.final == []
    assert only_batch(db_sessions).status is BatchStatus.SENT

    report = worker.run_once()
    again = only_batch(db_sessions)
    assert report.broadcast == report.anchored == [first.id]
    assert again.status is BatchStatus.ANCHORED
    assert again.tx_hash == first.tx_hash and again.raw_tx == first.raw_tx
    assert again.block_hash != first.block_hash
    assert env.anchor.root_info(again.root).block_number == again.block_number
    mine(env, 2)
    assert worker.run_once().final == [again.id]


def test_an_account_without_the_anchorer_role_anchors_nothing(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory
) -> None:
    record_events(db_sessions, 3)
    with pytest.raises(ContractRevert, match="AccessControlUnauthorizedAccount"):
        make_worker(account=env.stranger).run_once()
    with db_sessions() as session:
        assert store.pending_leaf_count(session) == 3
        assert session.scalar(select(func.count(AnchorBatch.id))) == 0


def test_run_and_stop_in_a_thread(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory
) -> None:
    import threading
    import time

    worker = make_worker(confirmations=1)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        record_events(db_sessions, 5)
        deadline = time.monotonic() + 120  # a deadline for a loaded machine, not a timing check
        while time.monotonic() < deadline:
            found = batches(db_sessions)
            if found and found[0].status is BatchStatus.ANCHORED:
                break
            time.sleep(0.05)
        mine(env, 1)
        while (
            time.monotonic() < deadline and only_batch(db_sessions).status is not BatchStatus.FINAL
        ):
            time.sleep(0.05)
    finally:
        worker.stop()
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert only_batch(db_sessions).status is BatchStatus.FINAL
