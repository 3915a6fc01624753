"""Disputes and other parties racing the settlement worker, on anvil with SQLite and PostgreSQL.

A dispute can only follow an attestation, and it cannot share a block with a settle that the
chain's clock allows (openDispute needs the window open, settle needs it closed), so the races
are: a read the dispute made stale, a dispute in the attestation's own block, and a party's own
settle landing ahead of the worker's. Same delivery as tests/chain/test_settlement.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from hexbytes import HexBytes
from sqlalchemy.orm import Session, sessionmaker

from chain import solidity_errors as se
from chain.clients import ShipmentState, ShipmentView
from chain.settlement.worker import SettlementWorker, SettleReport
from chain.transactions import resync_nonces
from store.models import ShipmentStatus
from tests.chain.faults_support import rpc
from tests.utils.anvil import ChainEnv, increase_time
from tests.utils.terms import make_terms

from .settlement_faults_support import (
    MINUTES,
    WorkerFactory,
    assert_attested_once,
    assert_settled_once,
    oracle_failures,
    pending_nonce,
    received,
    wait_until,
)
from .settlement_faults_support import make_worker as make_worker  # the fixture
from .settlement_support import oracle_nonce, stored


def spy(target: Any, name: str) -> list[BaseException | None]:
    """Record each call of `target.name` as the exception it raised, or None."""
    outcomes: list[BaseException | None] = []
    real = getattr(target, name)

    def recorded(*args: Any, **kwargs: Any) -> Any:
        try:
            result = real(*args, **kwargs)
        except BaseException as exc:
            outcomes.append(exc)
            raise
        outcomes.append(None)
        return result

    setattr(target, name, recorded)
    return outcomes


def send_unmined(
    env: ChainEnv, account: LocalAccount, function: str, *args: Any, tip: int
) -> HexBytes:
    """`account` calls the escrow with a fixed gas limit (an estimate may not pass yet)."""
    base = int(env.w3.eth.get_block("latest")["baseFeePerGas"])
    tx: dict[str, Any] = {
        "to": env.escrow.address,
        "data": env.escrow.contract.encode_abi(function, list(args)),
        "value": 0,
        "gas": 300_000,
        "chainId": env.w3.eth.chain_id,
        "type": 2,
        "nonce": env.w3.eth.get_transaction_count(account.address, "pending"),
        "maxPriorityFeePerGas": tip,
        "maxFeePerGas": 2 * base + tip,
    }
    raw = account.sign_transaction(tx).raw_transaction
    return env.w3.eth.send_raw_transaction(raw)


def race(env: ChainEnv, worker: SettlementWorker, rival: Callable[[], HexBytes]) -> tuple[Any, Any]:
    """Automine off: once the worker's tx is in the mempool, `rival` sends; one block holds both.

    Returns (the worker's pass outcome, the rival's receipt).
    """
    rpc(env, "evm_setAutomine", [False])
    try:
        sent_before = pending_nonce(env)
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(worker.run_once)
            wait_until(
                lambda: future.done() or pending_nonce(env) > sent_before, "the worker's send"
            )
            assert not future.done(), f"the pass ended without sending: {future.result()}"
            rival_hash = rival()
            rpc(env, "evm_mine", [])
            outcome = future.result(timeout=120)
    finally:
        rpc(env, "evm_setAutomine", [True])
        resync_nonces(env.w3)  # the rival's raw send bypassed its cached sender
    return outcome, env.w3.eth.get_transaction_receipt(rival_hash)


def test_a_dispute_opened_after_the_workers_read_is_waited_for_not_fought(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory
) -> None:
    terms = make_terms(env)
    sid = received(env, db_sessions, terms)
    worker = make_worker()
    assert worker.run_once().attested == [sid]
    start = oracle_nonce(env)
    # The worker reads the escrow (Attested); then, before it sends settle, the buyer disputes
    # inside the window and the window ends: the worker acts on a stale read.
    read, raced = worker.escrow.shipment, threading.Event()

    def stale_read(shipment_id: bytes | str, block: Any = "latest") -> ShipmentView:
        view = read(shipment_id, block)
        if not raced.is_set():
            raced.set()
            env.escrow.send_open_dispute(env.buyer, sid)
            increase_time(env.w3, terms.dispute_window + 1)
        return view

    setattr(worker.escrow, "shipment", stale_read)  # noqa: B010 (this worker only)
    settles = spy(worker.escrow, "sign_settle")

    assert worker.run_once() == SettleReport(waiting=[sid])

    # The estimate met the dispute: a named revert, caught, and nothing sent.
    assert raced.is_set() and len(settles) == 1
    assert isinstance(settles[0], se.EscrowDisputePending)
    assert env.escrow.shipment(sid).state is ShipmentState.DISPUTED
    assert stored(db_sessions, sid).status is ShipmentStatus.ATTESTED
    # Later passes read the dispute's timeout and wait: no settle is tried again.
    for _ in range(3):
        assert worker.run_once() == SettleReport(waiting=[sid])
    assert len(settles) == 1 and oracle_nonce(env) == start

    payout = terms.amount * 7_000 // 10_000  # the arbiter's split ends the dispute
    env.escrow.send_resolve_dispute(env.stranger, sid, payout)
    report = worker.run_once()
    assert report.settled == report.resolved == [sid]
    row = stored(db_sessions, sid)
    assert row.status is ShipmentStatus.SETTLED and row.excursion_minutes == MINUTES
    assert (row.payout_wei, row.refund_wei) == (payout, terms.amount - payout)
    assert worker.run_once() == SettleReport()
    assert len(settles) == 1 and oracle_nonce(env) == start  # the worker sent nothing since


def test_a_dispute_in_the_attestations_block_is_recorded_then_waited_out(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory
) -> None:
    terms = make_terms(env, dispute_timeout=3_600)
    sid = received(env, db_sessions, terms)
    worker = make_worker()
    start, first_block = oracle_nonce(env), env.w3.eth.block_number + 1
    shipment_id = bytes.fromhex(sid[2:])

    report, dispute = race(
        env, worker, lambda: send_unmined(env, env.buyer, "openDispute", shipment_id, tip=0)
    )

    # The dispute landed right behind the attestation, in its block: the worker's read after
    # its receipt sees Disputed and still records the attestation's split.
    assert report.attested == [sid]
    attest = env.w3.eth.get_transaction_receipt(
        HexStr(stored(db_sessions, sid).attest_tx_hash or "")
    )
    assert dispute["status"] == 1 and dispute["blockNumber"] == attest["blockNumber"]
    assert dispute["transactionIndex"] > attest["transactionIndex"]
    assert_attested_once(env, db_sessions, sid, ShipmentState.DISPUTED)
    for _ in range(3):
        assert worker.run_once() == SettleReport(waiting=[sid])
    assert oracle_nonce(env) == start + 1

    increase_time(env.w3, terms.dispute_timeout + 1)  # no resolution: the attestation stands
    assert worker.run_once().settled == [sid]
    assert_settled_once(env, db_sessions, sid)
    assert oracle_nonce(env) == start + 2 and oracle_failures(env, first_block) == []
    assert worker.run_once() == SettleReport()


def test_a_settle_beaten_by_a_partys_settle_in_its_block_is_recorded_not_retried(
    env: ChainEnv, db_sessions: sessionmaker[Session], make_worker: WorkerFactory
) -> None:
    terms = make_terms(env, dispute_timeout=3_600)
    sid = received(env, db_sessions, terms)
    worker = make_worker()
    assert worker.run_once().attested == [sid]
    env.escrow.send_open_dispute(env.buyer, sid)
    increase_time(env.w3, terms.dispute_timeout + 1)  # the dispute timed out unresolved
    start, first_block = oracle_nonce(env), env.w3.eth.block_number + 1
    settles = spy(worker.escrow, "send_signed")
    tip = 10 * int(env.w3.eth.max_priority_fee) + 10**9  # ahead of the worker's in the block

    report, rival = race(
        env, worker, lambda: send_unmined(env, env.payee, "settle", bytes.fromhex(sid[2:]), tip=tip)
    )

    # The payee's settle came first; the worker's, valid when estimated, reverted in the same
    # block, and the revert is read back by name from that block's state.
    assert rival["status"] == 1
    assert len(settles) == 1 and isinstance(settles[0], se.EscrowInvalidState)
    assert report == SettleReport()  # logged and left to the next pass, not a refusal
    assert len(oracle_failures(env, first_block)) == 1  # the tx the race cost; unavoidable
    assert oracle_nonce(env) == start + 1
    assert stored(db_sessions, sid).status is ShipmentStatus.ATTESTED

    assert worker.run_once().settled == [sid]  # read from the chain, nothing sent
    assert_settled_once(env, db_sessions, sid)
    assert worker.run_once() == SettleReport()
    assert len(settles) == 1 and oracle_nonce(env) == start + 1
