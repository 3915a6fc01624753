"""The settlement worker under faults on a real anvil, SQLite and PostgreSQL.

A worker killed at each step of attesting and of settling, then a fresh worker (its own Web3
and nonce cache, as a restarted `chaintrace settle` has): exactly one attestation and one
settlement on chain, the store agrees with the chain, the oracle's nonce advanced once per
step (no duplicate that reverts), and a further pass sends nothing. An RPC outage (a private
anvil stopped mid-attestation and across the window's end, restarted with its state) heals by
itself. A stored attestation dropped from the mempool is sent again unchanged; one kept in the
mempool but left out of blocks, and one priced below the base fee, are replaced with higher fees
after REPLACE_AFTER_BLOCKS blocks. Same delivery
as tests/chain/test_settlement.py: 15 excursion minutes x 25 bps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chain.settlement.oracle_tx import OracleTx
from chain.settlement.worker import SettlementWorker, SettleReport
from chain.toolchain.anvil import AnvilNode
from store.models import ShipmentStatus
from tests.chain.faults_support import Crash, crash_at, mine, rpc
from tests.chain.settlement_faults_support import (
    WorkerFactory,
    assert_attested_once,
    assert_settled_once,
    escrow_logs,
    oracle_failures,
    pending_nonce,
    received,
    wait_until,
)
from tests.chain.settlement_faults_support import make_worker as make_worker  # the fixture
from tests.utils.anvil import ChainEnv, connect, deploy_env, increase_time
from tests.utils.terms import make_terms
from tests.utils.workers import settlement_worker

from .settlement_support import oracle_nonce, stored


def doom(worker: SettlementWorker, step: str, sign: str, record: str) -> None:
    """Make `worker` die at `step` of the action whose client signing call is `sign`."""
    if step == "before_store":
        crash_at(worker.escrow, sign)  # nothing signed, stored or broadcast
    elif step == "before_send":
        crash_at(worker.escrow, "send_signed")  # signed and stored, nothing broadcast
    elif step in ("after_send", "after_send_unmined"):
        crash_at(worker.w3.eth, "wait_for_transaction_receipt")  # broadcast, receipt never read
    else:
        crash_at(worker, record)  # receipt in hand, the store not yet written


STEPS = ["before_store", "before_send", "after_send", "after_send_unmined", "after_receipt"]


def pass_then_mine(env: ChainEnv, worker: SettlementWorker) -> SettleReport:
    """With automine off: one pass, one block once it has sent something or finished."""
    sent_before = pending_nonce(env)
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(worker.run_once)
        wait_until(lambda: future.done() or pending_nonce(env) > sent_before, "a send or the end")
        rpc(env, "evm_mine", [])
        return future.result(timeout=120)


def crash_then_restart(
    env: ChainEnv,
    make_worker: WorkerFactory,
    step: str,
    sign: str,
    record: str,
    left: list[OracleTx | None] | None = None,
) -> SettleReport:
    """Kill a worker at `step`, then run a fresh one (while the doomed tx is unmined if so).

    `left` receives the oracle tx the dead worker left stored (None if none).
    """
    doomed = make_worker()
    doom(doomed, step, sign, record)
    if step != "after_send_unmined":
        with pytest.raises(Crash):
            doomed.run_once()
        if left is not None:
            left.append(doomed.sender.stored())
        return make_worker().run_once()
    rpc(env, "evm_setAutomine", [False])  # (re-enabling it mines the mempool at once)
    try:
        with pytest.raises(Crash):
            doomed.run_once()
        assert pending_nonce(env) == oracle_nonce(env) + 1  # broadcast, not mined
        return pass_then_mine(env, make_worker())
    finally:
        rpc(env, "evm_setAutomine", [True])


@pytest.mark.parametrize("step", STEPS)
def test_a_worker_killed_while_attesting_leaves_one_attestation(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory, step: str
) -> None:
    sid = received(env, db_sessions)
    start, first_block = oracle_nonce(env), env.w3.eth.block_number + 1

    stored_tx: list[OracleTx | None] = []
    first = crash_then_restart(
        env, make_worker, step, "sign_attest", "_record_attestation", stored_tx
    )
    # Stored from signing until its receipt is in hand.
    left_stored = {"before_store": False, "before_send": True, "after_send": True}
    if step in left_stored:
        assert (stored_tx[0] is not None) is left_stored.get(step, False)
    elif step == "after_receipt":
        assert stored_tx == [None]
    # Attested afresh if nothing was stored; the stored tx sent again unchanged if it was never
    # broadcast; else adopted from the chain, or waited on while the doomed tx was unmined
    # (sending again would revert) and adopted after.
    if step == "before_store":
        assert first.attested == [sid] and first.adopted == []
    elif step == "before_send":
        assert first.rebroadcast == first.adopted == [sid] and first.attested == []
        (log,) = escrow_logs(env, "DeliveryAttested", sid)
        assert stored_tx[0] is not None
        assert "0x" + bytes(log["transactionHash"]).hex() == stored_tx[0].tx_hash
    elif step == "after_send_unmined":
        assert first == SettleReport(waiting=[sid])
        assert make_worker().run_once().adopted == [sid]
    else:
        assert first.adopted == [sid] and first.attested == []

    assert_attested_once(env, db_sessions, sid)
    assert oracle_failures(env, first_block) == []
    assert oracle_nonce(env) == start + 1
    # Inside the dispute window a further pass only waits.
    assert make_worker().run_once() == SettleReport(waiting=[sid])
    assert oracle_nonce(env) == start + 1
    assert make_worker().sender.stored() is None


@pytest.mark.parametrize("step", STEPS)
def test_a_worker_killed_while_settling_leaves_one_settlement(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory, step: str
) -> None:
    sid = received(env, db_sessions)
    assert make_worker().run_once().attested == [sid]
    increase_time(env.w3, make_terms(env).dispute_window + 1)
    start, first_block = oracle_nonce(env), env.w3.eth.block_number + 1

    left: list[OracleTx | None] = []
    first = crash_then_restart(env, make_worker, step, "sign_settle", "_record_final", left)
    if step == "before_send":  # the stored settle, sent again unchanged
        assert first.rebroadcast == [sid] and left[0] is not None
        (log,) = escrow_logs(env, "ShipmentSettled", sid)
        assert "0x" + bytes(log["transactionHash"]).hex() == left[0].tx_hash
    if step == "after_send_unmined":
        assert first == SettleReport(waiting=[sid])
        assert make_worker().run_once().settled == [sid]
    else:
        assert first.settled == [sid]

    assert_settled_once(env, db_sessions, sid)
    assert oracle_failures(env, first_block) == []
    assert oracle_nonce(env) == start + 1
    assert make_worker().run_once() == SettleReport()
    assert oracle_nonce(env) == start + 1
    assert make_worker().sender.stored() is None


def attested_by(env: ChainEnv, sid: str) -> str:
    """The hash of the transaction that attested the shipment (its one DeliveryAttested)."""
    (log,) = escrow_logs(env, "DeliveryAttested", sid)
    return "0x" + bytes(log["transactionHash"]).hex()


def replaced_after_three_blocks(
    env: ChainEnv, worker: SettlementWorker, sent: OracleTx, next_block: Callable[[], None]
) -> OracleTx:
    """Passes (next_block() between them) until `sent` is replaced: it is waited on, neither
    sent again nor replaced, for exactly replace_after_blocks (3) blocks, then replaced at its
    nonce with both fees up by at least 12.5 %. Returns the replacement's record."""
    sid = sent.shipment_id
    waits = 0
    while (report := worker.run_once()).replaced == []:
        assert report == SettleReport(waiting=[sid])  # nothing else sent meanwhile
        assert worker.sender.stored() == sent
        waits += 1
        assert waits < 3, "not replaced after replace_after_blocks blocks"
        next_block()
    assert report == SettleReport(waiting=[sid], replaced=[sid])
    assert env.w3.eth.block_number - sent.block == 3  # replace_after_blocks, not before
    bumped = worker.sender.stored()
    assert bumped is not None and bumped.nonce == sent.nonce
    assert bumped.hashes == (sent.tx_hash, bumped.tx_hash)
    for fee in ("maxFeePerGas", "maxPriorityFeePerGas"):
        assert bumped.fees[fee] * 8 >= sent.fees[fee] * 9  # at least +12.5 %
    return bumped


def test_an_attestation_priced_below_the_base_fee_is_replaced_with_higher_fees(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory
) -> None:
    sid = received(env, db_sessions)
    start, first_block = oracle_nonce(env), env.w3.eth.block_number + 1
    worker = make_worker(replace_after_blocks=3, receipt_timeout=0.5)
    base_fee = int(env.w3.eth.get_block("latest")["baseFeePerGas"])
    rpc(env, "evm_setAutomine", [False])
    try:
        # Sent and stored; the pass waits receipt_timeout for a block that does not come.
        assert worker.run_once() == SettleReport(waiting=[sid])
        sent = worker.sender.stored()
        assert sent is not None and (sent.action, sent.shipment_id) == ("attest", sid)
        assert sent.nonce == start and pending_nonce(env) == start + 1
        # The base fee jumps above the tx's max fee: the next block leaves it out, and the
        # node drops it; sent again, it is refused for its fee until it is replaced.
        rpc(env, "anvil_setNextBlockBaseFeePerGas", [hex(sent.fees["maxFeePerGas"] * 4)])
        mine(env)
        assert pending_nonce(env) == oracle_nonce(env) == start
        bumped = replaced_after_three_blocks(env, worker, sent, lambda: mine(env))
        assert bumped.tx_hash != sent.tx_hash
        mine(env)
        # Mined: the record is cleared and the attestation adopted from the chain.
        assert worker.run_once().adopted == [sid]
    finally:
        rpc(env, "evm_setAutomine", [True])
        # evm_revert after the test does not undo the base fee anvil prices the next block at.
        rpc(env, "anvil_setNextBlockBaseFeePerGas", [hex(base_fee)])
    assert attested_by(env, sid) == bumped.tx_hash
    assert_attested_once(env, db_sessions, sid)
    assert oracle_nonce(env) == start + 1 and oracle_failures(env, first_block) == []
    assert worker.sender.stored() is None
    assert make_worker().run_once() == SettleReport(waiting=[sid])
    assert oracle_nonce(env) == start + 1


def mine_leaving_out_the_oracle(env: ChainEnv, gas_limit: int) -> None:
    """Mine one block too small for any call: the node keeps the oracle's tx in its mempool."""
    rpc(env, "evm_setBlockGasLimit", [hex(21_000)])
    try:
        mine(env)
    finally:  # back before the worker runs: a tx over the block gas limit is refused at send
        rpc(env, "evm_setBlockGasLimit", [hex(gas_limit)])


def test_an_attestation_held_in_the_mempool_is_replaced_after_replace_after_blocks(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory
) -> None:
    sid = received(env, db_sessions)
    start, first_block = oracle_nonce(env), env.w3.eth.block_number + 1
    worker = make_worker(replace_after_blocks=3, receipt_timeout=0.5)
    gas_limit = int(env.w3.eth.get_block("latest")["gasLimit"])
    rpc(env, "evm_setAutomine", [False])
    try:
        assert worker.run_once() == SettleReport(waiting=[sid])
        sent = worker.sender.stored()
        assert sent is not None and (sent.action, sent.shipment_id) == ("attest", sid)

        def block_without_it() -> None:
            mine_leaving_out_the_oracle(env, gas_limit)
            assert env.w3.eth.get_transaction(sent.tx_hash)["blockNumber"] is None  # pooled

        block_without_it()
        bumped = replaced_after_three_blocks(env, worker, sent, block_without_it)
        # The node took the replacement in the original's place.
        assert pending_nonce(env) == start + 1
        assert env.w3.eth.get_transaction(bumped.tx_hash)["nonce"] == start  # type: ignore[arg-type]
        mine(env)
        assert worker.run_once().adopted == [sid]
    finally:
        rpc(env, "evm_setAutomine", [True])
        rpc(env, "evm_setBlockGasLimit", [hex(gas_limit)])
    assert attested_by(env, sid) == bumped.tx_hash
    assert_attested_once(env, db_sessions, sid)
    assert oracle_nonce(env) == start + 1 and oracle_failures(env, first_block) == []
    assert worker.sender.stored() is None


def test_a_dropped_attestation_is_sent_again_unchanged(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory
) -> None:
    sid = received(env, db_sessions)
    start, first_block = oracle_nonce(env), env.w3.eth.block_number + 1
    worker = make_worker(receipt_timeout=0.5)
    rpc(env, "evm_setAutomine", [False])
    try:
        assert worker.run_once() == SettleReport(waiting=[sid])
        sent = worker.sender.stored()
        assert sent is not None
        rpc(env, "anvil_dropTransaction", [sent.tx_hash])
        assert pending_nonce(env) == start  # the node forgot it
        # A restarted worker finds the stored tx missing from the node: the same bytes again.
        again = make_worker(receipt_timeout=0.5)
        assert again.run_once() == SettleReport(waiting=[sid], rebroadcast=[sid])
        assert again.sender.stored() == sent
        assert env.w3.eth.get_transaction(sent.tx_hash)["nonce"] == start  # type: ignore[arg-type]
        # In the mempool now: waited on, not sent a third time.
        assert again.run_once() == SettleReport(waiting=[sid])
        mine(env)
        assert again.run_once().adopted == [sid]
    finally:
        rpc(env, "evm_setAutomine", [True])
    assert attested_by(env, sid) == sent.tx_hash
    assert_attested_once(env, db_sessions, sid)
    assert oracle_nonce(env) == start + 1 and oracle_failures(env, first_block) == []
    assert again.sender.stored() is None


def test_a_dropped_settle_that_would_now_revert_is_not_sent_again(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory
) -> None:
    sid = received(env, db_sessions)
    assert make_worker().run_once().attested == [sid]
    increase_time(env.w3, make_terms(env).dispute_window + 1)
    start, first_block = oracle_nonce(env), env.w3.eth.block_number + 1
    worker = make_worker(receipt_timeout=0.5)
    rpc(env, "evm_setAutomine", [False])
    try:
        assert worker.run_once() == SettleReport(waiting=[sid])
        sent = worker.sender.stored()
        assert sent is not None and sent.action == "settle"
        rpc(env, "anvil_dropTransaction", [sent.tx_hash])
    finally:
        rpc(env, "evm_setAutomine", [True])
    env.escrow.send_settle(env.payee, sid)  # the payee settles while the worker's is gone
    # Sending the stored settle again would revert: it is forgotten and the chain recorded.
    assert worker.run_once().settled == [sid]
    assert_settled_once(env, db_sessions, sid)
    assert worker.sender.stored() is None
    assert oracle_nonce(env) == start and oracle_failures(env, first_block) == []


def counted_passes(worker: SettlementWorker) -> list[SettleReport | BaseException]:
    """Make `worker` record each pass's report (or exception) in the returned list."""
    outcomes: list[SettleReport | BaseException] = []
    run_once = worker.run_once

    def counted() -> SettleReport:
        try:
            report = run_once()
        except Exception as exc:  # run() logs it and polls again; the test looks at it
            outcomes.append(exc)
            raise
        outcomes.append(report)
        return report

    setattr(worker, "run_once", counted)  # noqa: B010 (an instance attribute: this worker only)
    return outcomes


def test_an_rpc_outage_mid_settlement_heals_by_itself(
    tmp_path: Path, db_url: str, db_sessions: sessionmaker[Session]
) -> None:
    state = tmp_path / "anvil-state.json"
    nodes = [AnvilNode.start(state_path=state, log_path=tmp_path / "anvil-0.log")]
    port = urlparse(nodes[0].rpc_url).port

    def restart() -> ChainEnv:
        nodes.append(AnvilNode.start(port=port, state_path=state, log_path=tmp_path / "anvil.log"))
        return replace(env, node=nodes[-1], w3=connect(nodes[-1]))

    try:
        env = deploy_env(nodes[0])
        sid = received(env, db_sessions)
        start = oracle_nonce(env)
        # The `chaintrace settle` process: run() in a thread, through both outages.
        worker = settlement_worker(
            env, db_url, db_sessions, w3=connect(env.node), poll_interval=0.05
        )
        passes = counted_passes(worker)
        # The node goes down right after the attestation is broadcast, before its receipt.
        went_down = threading.Event()
        receipt = worker.w3.eth.wait_for_transaction_receipt

        def node_dies_first(*args: Any, **kwargs: Any) -> Any:
            if not went_down.is_set():
                went_down.set()
                nodes[-1].stop()  # anvil writes its state (with the attestation) on SIGTERM
            return receipt(*args, **kwargs)

        setattr(worker.w3.eth, "wait_for_transaction_receipt", node_dies_first)  # noqa: B010
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        try:
            wait_until(went_down.is_set, "the attestation to be sent")
            seen = len(passes)
            wait_until(lambda: len(passes) >= seen + 3, "passes during the outage")
            # An outage is no refusal and no crash: passes end quietly, the store is unchanged.
            assert all(isinstance(p, SettleReport) and not p.refused for p in passes)
            assert stored(db_sessions, sid).status is ShipmentStatus.RECEIVED

            env = restart()
            # The pass's report is listed after run_once returns, later than its store write:
            # wait for the report, not the status, or a loaded machine sees one without the other.
            wait_until(
                lambda: any(isinstance(p, SettleReport) and p.adopted == [sid] for p in passes),
                "a pass to adopt the attestation",
            )
            assert stored(db_sessions, sid).status is ShipmentStatus.ATTESTED
            assert_attested_once(env, db_sessions, sid)

            # Down again across the end of the dispute window.
            nodes[-1].stop()
            seen = len(passes)
            wait_until(lambda: len(passes) >= seen + 3, "passes during the second outage")
            env = restart()
            increase_time(env.w3, make_terms(env).dispute_window + 1)
            wait_until(lambda: stored(db_sessions, sid).status is ShipmentStatus.SETTLED, "settle")
        finally:
            worker.stop()
            thread.join(timeout=60)
        assert not thread.is_alive()
        assert_settled_once(env, db_sessions, sid)
        # One attestation and one settle, none lost or repeated across the outages.
        assert oracle_nonce(env) == start + 2 and oracle_failures(env, 0) == []
        assert all(isinstance(p, SettleReport) and not p.refused for p in passes)
    finally:
        nodes[-1].stop()
