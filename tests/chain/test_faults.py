"""Anchoring under faults on a real anvil: crashes, reorgs, stuck txs, rival workers.

Each test asserts that every event ends final exactly once with a proof the contract accepts,
that no root is on the chain twice, and (FinalityWatch, polling the store throughout) that
nothing is shown final before its block has the configured confirmations on the canonical chain.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from hexbytes import HexBytes
from sqlalchemy.orm import Session, sessionmaker

import store
from chain.anchoring.lease import LeaseLost
from chain.anchoring.worker import AnchorWorker
from store.models import AnchorBatch, BatchStatus
from tests.chain.faults_support import (
    Crash,
    FinalityWatch,
    all_final,
    assert_final_exactly_once,
    crash_at,
    drive,
    mine,
    record_events,
    rpc,
)
from tests.utils.anvil import ChainEnv
from tests.utils.workers import anchor_worker

CONFIRMATIONS = 2
WorkerFactory = Callable[..., AnchorWorker]


@pytest.fixture
def make_worker(env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session]) -> WorkerFactory:
    """Workers on the test database and chain; each call is a new process's worker."""

    def make(holder: str | None = None, **overrides: Any) -> AnchorWorker:
        values: dict[str, Any] = {
            "confirmations": CONFIRMATIONS,
            "max_batch_size": 5,
            "poll_interval": 0.02,
            "replace_after_blocks": 2,
            **overrides,
        }
        return anchor_worker(env, db_url, db_sessions, lease_holder=holder, **values)

    return make


def batches(sessions: sessionmaker[Session]) -> list[AnchorBatch]:
    with sessions() as session:
        return store.batches_by_status(session, list(BatchStatus))


def max_fee(batch: AnchorBatch) -> int:
    """maxFeePerGas of the batch's stored signed transaction."""
    fields = TypedTransaction.from_bytes(HexBytes(batch.raw_tx or b"")).as_dict()
    return int(fields["maxFeePerGas"])


def nonce(env: ChainEnv) -> int:
    return int(env.w3.eth.get_transaction_count(env.anchorer.address))


@pytest.mark.parametrize("step", ["before_send", "after_send", "after_receipt"])
def test_a_worker_killed_at_any_step_leaves_every_event_final_once(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory, step: str
) -> None:
    record_events(db_sessions, 12)
    start_nonce = nonce(env)
    with FinalityWatch(env, db_sessions, CONFIRMATIONS) as watch:
        doomed = make_worker()
        if step == "before_send":
            crash_at(doomed, "track_sent")  # signed txs are stored; none broadcast
        elif step == "after_send":
            crash_at(doomed, "_await_receipts")  # broadcast, receipts never recorded
        else:
            crash_at(doomed, "_record_anchored")  # receipt in hand, not yet in the store
        with pytest.raises(Crash):
            doomed.run_once()
        assert not all_final(db_sessions)
        drive(make_worker, env, db_sessions)
    assert watch.violations == [] and watch.checks > 0
    assert_final_exactly_once(env, db_sessions, 12)
    # 12 events in batches of 5: three txs, whatever the crash; no nonce skipped or reused.
    assert nonce(env) == start_nonce + 3
    assert sorted(b.nonce for b in batches(db_sessions)) == list(range(start_nonce, nonce(env)))


@pytest.mark.parametrize("reinclude", [False, True], ids=["dropped", "moved"])
def test_a_reorg_of_the_anchoring_block_is_detected_and_healed(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory, reinclude: bool
) -> None:
    record_events(db_sessions, 4)
    worker = make_worker()
    with FinalityWatch(env, db_sessions, CONFIRMATIONS) as watch:
        worker.run_once()
        (first,) = batches(db_sessions)
        assert first.status is BatchStatus.ANCHORED
        # Replace the anchoring block before it is final: without the tx ("dropped"), or with
        # the tx re-included one block later ("moved": an empty block is mined on top first, and
        # the reorg rebuilds both, the tx now in the second).
        if reinclude:
            mine(env)
        depth = env.w3.eth.block_number - int(first.block_number or 0) + 1
        raw = "0x" + bytes(first.raw_tx or b"").hex()
        pairs = [[raw, depth - 1]] if reinclude else []
        rpc(env, "anvil_reorg", [depth, pairs])
        report = worker.run_once()
        # Never final across a reorg. The pass either saw the recorded block vanish (reorged) or,
        # when the tx was re-included before it looked, read its receipt in the new block.
        assert report.final == []
        (after,) = batches(db_sessions)
        assert first.id in report.reorged or after.block_hash != first.block_hash
        drive(make_worker, env, db_sessions)
    assert watch.violations == [] and watch.checks > 0
    (healed,) = batches(db_sessions)
    assert healed.block_hash != first.block_hash
    assert healed.tx_hash == first.tx_hash  # the same signed tx, sent again or re-included
    assert_final_exactly_once(env, db_sessions, 4)


def test_a_stuck_tx_is_replaced_with_higher_fees(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory
) -> None:
    record_events(db_sessions, 3)
    worker = make_worker(replace_after_blocks=2)
    rpc(env, "evm_setAutomine", [False])
    try:
        with FinalityWatch(env, db_sessions, CONFIRMATIONS) as watch:
            worker.run_once()
            (sent,) = batches(db_sessions)
            assert sent.status is BatchStatus.SENT
            # The base fee jumps above the tx's max fee: the node drops it as underpriced.
            fee = max_fee(sent)
            rpc(env, "anvil_setNextBlockBaseFeePerGas", [hex(fee * 4)])
            mine(env)
            replaced: list[int] = []
            for _ in range(6):
                replaced += worker.run_once().replaced
                if replaced:
                    break
                mine(env)
            assert replaced == [sent.id]
            (bumped,) = batches(db_sessions)
            assert bumped.nonce == sent.nonce and bumped.tx_hash != sent.tx_hash
            new_fee = max_fee(bumped)
            assert new_fee * 8 >= fee * 9  # at least +12.5 %
            rpc(env, "evm_setAutomine", [True])
            drive(make_worker, env, db_sessions)
    finally:
        rpc(env, "evm_setAutomine", [True])
    assert watch.violations == []
    assert_final_exactly_once(env, db_sessions, 3)


def test_two_workers_one_sender_and_a_stale_one_cannot_write(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory
) -> None:
    a = make_worker(holder="a", lease_ttl=0.5)
    b = make_worker(holder="b", lease_ttl=0.5)
    record_events(db_sessions, 7)
    start_nonce = nonce(env)
    stop = threading.Event()
    reports: dict[str, list[Any]] = {"a": [], "b": []}

    def loop(name: str, worker: AnchorWorker) -> None:
        while not stop.is_set():
            try:
                reports[name].append(worker.run_once())
            except Exception as exc:  # a failed pass is retried, as run() does
                reports[name].append(exc)
            mine(env)

    with FinalityWatch(env, db_sessions, CONFIRMATIONS) as watch:
        threads = [threading.Thread(target=loop, args=(n, w)) for n, w in (("a", a), ("b", b))]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 90  # generous: CI machines are shared and slow
        while not all_final(db_sessions) and time.monotonic() < deadline:
            stop.wait(0.05)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert watch.violations == []
    assert_final_exactly_once(env, db_sessions, 7)
    assert nonce(env) == start_nonce + 2  # one tx per batch: the standby sent nothing
    working = [n for n in reports if any(not getattr(r, "standby", True) for r in reports[n])]
    assert len(working) >= 1

    # A worker that lost its lease (paused past its ttl) is fenced off its next write.
    holder, other = (a, b) if a.lease.held else (b, a)
    time.sleep(1.5)  # the holder's lease (ttl 0.5 s) expires while it "pauses"; slack for load
    assert other.run_once().standby is False
    record_events(db_sessions, 1)
    with pytest.raises(LeaseLost):
        holder.close_batches()
    with db_sessions() as session:
        assert store.pending_leaf_count(session) == 1
