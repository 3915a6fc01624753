"""Helpers shared by several test modules (a module named test_* holds only tests)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chain.clients import ShipmentState
from chain.settlement.attestation import split_deposit
from chain.settlement.worker import SettlementWorker
from core.eip712 import Terms
from store.models import ShipmentStatus
from tests.utils.anvil import ChainEnv, connect
from tests.utils.terms import make_terms
from tests.utils.workers import settlement_worker

from .settlement_support import fund, record_shipment, stored

WorkerFactory = Callable[..., SettlementWorker]


MINUTES = 15


@pytest.fixture
def make_worker(env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session]) -> WorkerFactory:
    """Each call is a new `chaintrace settle` process: its own Web3, so its own nonce cache."""

    def make(**overrides: Any) -> SettlementWorker:
        values: dict[str, Any] = {"poll_interval": 0.02, **overrides}
        return settlement_worker(env, db_url, db_sessions, w3=connect(env.node), **values)

    return make


def escrow_logs(env: ChainEnv, event: str, shipment_id: str) -> list[Any]:
    """The escrow's `event` logs for one shipment, oldest first."""
    return list(
        getattr(env.escrow.contract.events, event)().get_logs(
            argument_filters={"shipmentId": bytes.fromhex(shipment_id[2:])}, from_block=0
        )
    )


def oracle_failures(env: ChainEnv, from_block: int) -> list[str]:
    """Hashes of the oracle's transactions mined since `from_block` that reverted."""
    failed = []
    for number in range(from_block, env.w3.eth.block_number + 1):
        txs: list[Any] = list(env.w3.eth.get_block(number, full_transactions=True)["transactions"])
        for tx in txs:
            receipt = env.w3.eth.get_transaction_receipt(tx["hash"])
            if tx["from"] == env.oracle.address and receipt["status"] != 1:
                failed.append("0x" + bytes(receipt["transactionHash"]).hex())
    return failed


def received(env: ChainEnv, sessions: sessionmaker[Session], terms: Terms | None = None) -> str:
    """A funded shipment, received in the store: its id (0x-hex)."""
    terms = terms or make_terms(env)
    fund(env, terms)
    return record_shipment(env, sessions, terms).shipment_id


def assert_attested_once(
    env: ChainEnv,
    sessions: sessionmaker[Session],
    sid: str,
    state: ShipmentState = ShipmentState.ATTESTED,
) -> None:
    """One DeliveryAttested with the delivery's minutes; store and escrow agree on the split."""
    (log,) = escrow_logs(env, "DeliveryAttested", sid)
    view = env.escrow.shipment(sid)
    payout, refund = split_deposit(view.amount, MINUTES, 25, 5000)
    assert log["args"]["excursionMinutes"] == MINUTES
    assert view.state is state
    assert (view.payout, view.refund) == (payout, refund)
    row = stored(sessions, sid)
    assert row.status is ShipmentStatus.ATTESTED and row.excursion_minutes == MINUTES
    assert (row.payout_wei, row.refund_wei) == (payout, refund)
    assert row.attest_tx_hash == "0x" + bytes(log["transactionHash"]).hex()


def assert_settled_once(env: ChainEnv, sessions: sessionmaker[Session], sid: str) -> None:
    """One ShipmentSettled crediting the attestation's split; the store says settled."""
    (log,) = escrow_logs(env, "ShipmentSettled", sid)
    view = env.escrow.shipment(sid)
    payout, refund = split_deposit(view.amount, MINUTES, 25, 5000)
    assert view.state is ShipmentState.SETTLED
    assert (log["args"]["payout"], log["args"]["refund"]) == (payout, refund)
    assert env.escrow.owed(env.payee.address) == payout
    assert env.escrow.owed(env.buyer.address) == refund
    row = stored(sessions, sid)
    assert row.status is ShipmentStatus.SETTLED
    assert (row.payout_wei, row.refund_wei) == (payout, refund)


def pending_nonce(env: ChainEnv) -> int:
    """The oracle's nonce counting its transactions in the mempool."""
    return int(env.w3.eth.get_transaction_count(env.oracle.address, "pending"))


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    """Poll `condition` until true; a generous deadline, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
