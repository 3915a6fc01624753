"""The settlement worker with disputes and ERC-20 deposits, on anvil with SQLite and PostgreSQL.

Same delivery as tests/chain/test_settlement.py: 15 excursion minutes x 25 bps = 375 bps penalty.
The terms' arbiter is env.stranger.
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker
from web3.contract import Contract

from chain.clients import ShipmentState
from chain.settlement.attestation import split_deposit
from chain.settlement.worker import SettlementWorker
from chain.toolchain.artifacts import ContractArtifact
from chain.transactions import sender_for
from core.eip712 import Terms
from store.models import ShipmentStatus
from tests.utils.anvil import ChainEnv, increase_time
from tests.utils.terms import make_terms

from .settlement_support import fund, oracle_nonce, record_shipment, stored, worker
from .token_support import FEE_BPS, _deploy
from .token_support import token_artifacts as token_artifacts  # the module fixture

__all__ = ["token_artifacts", "worker"]  # fixtures used by name


def _attested(
    env: ChainEnv, sessions: sessionmaker[Session], worker: SettlementWorker, terms: Terms
) -> str:
    """Fund, record as received, let the worker attest; the shipment id (0x-hex)."""
    fund(env, terms)
    case = record_shipment(env, sessions, terms)
    assert worker.run_once().attested == [case.shipment_id]
    return case.shipment_id


def test_a_dispute_waits_for_the_arbiter_whose_split_is_recorded(
    env: ChainEnv, db_sessions: sessionmaker[Session], worker: SettlementWorker
) -> None:
    terms = make_terms(env)
    sid = _attested(env, db_sessions, worker, terms)
    env.escrow.send_open_dispute(env.buyer, sid)
    # Past the dispute window, but disputed: settle() would revert until the timeout.
    increase_time(env.w3, terms.dispute_window + 1)
    nonce = oracle_nonce(env)

    report = worker.run_once()

    assert report.waiting == [sid] and report.settled == []
    assert oracle_nonce(env) == nonce
    assert env.escrow.shipment(sid).state is ShipmentState.DISPUTED
    assert stored(db_sessions, sid).status is ShipmentStatus.ATTESTED

    payout = terms.amount * 6_000 // 10_000  # the arbiter's own split, not the attestation's
    env.escrow.send_resolve_dispute(env.stranger, sid, payout)
    report = worker.run_once()

    assert report.settled == report.resolved == [sid]
    assert oracle_nonce(env) == nonce  # the resolution settled it: the worker sends nothing
    row = stored(db_sessions, sid)
    assert row.status is ShipmentStatus.SETTLED
    assert (row.payout_wei, row.refund_wei) == (payout, terms.amount - payout)
    assert row.excursion_minutes == 15  # the attestation's record stays
    assert env.escrow.owed(env.payee.address) == payout
    assert env.escrow.owed(env.buyer.address) == terms.amount - payout
    assert worker.run_once() == type(report)()


def test_an_unresolved_dispute_settles_with_the_attestation_after_the_timeout(
    env: ChainEnv, db_sessions: sessionmaker[Session], worker: SettlementWorker
) -> None:
    terms = make_terms(env, dispute_timeout=3_600 * 5)
    sid = _attested(env, db_sessions, worker, terms)
    env.escrow.send_open_dispute(env.payee, sid)
    disputed = env.escrow.shipment(sid)
    assert disputed.settleable_at == disputed.disputed_at + terms.dispute_timeout
    increase_time(env.w3, terms.dispute_timeout - 60)
    assert worker.run_once().waiting == [sid]
    assert env.escrow.shipment(sid).state is ShipmentState.DISPUTED

    increase_time(env.w3, 120)
    report = worker.run_once()

    assert report.settled == [sid] and report.resolved == []
    payout, refund = split_deposit(terms.amount, 15, 25, 5000)
    assert env.escrow.shipment(sid).state is ShipmentState.SETTLED
    assert env.escrow.owed(env.payee.address) == payout
    assert env.escrow.owed(env.buyer.address) == refund
    row = stored(db_sessions, sid)
    assert row.status is ShipmentStatus.SETTLED
    assert (row.payout_wei, row.refund_wei) == (payout, refund)


def _fund_token(env: ChainEnv, token: Contract, terms: Terms) -> None:
    """Mint to the buyer, approve the escrow with the buyer's key, fund."""
    sender_for(env.w3, env.deployer).send(
        token.address, token.encode_abi("mint", [env.buyer.address, terms.amount])
    )
    approval = env.escrow.build_token_approval(env.buyer.address, token.address, terms.amount)
    raw = env.buyer.sign_transaction(approval).raw_transaction
    env.w3.eth.wait_for_transaction_receipt(env.w3.eth.send_raw_transaction(raw))
    fund(env, terms)


@pytest.mark.parametrize("kind", ["TestToken", "FeeOnTransferToken"])
def test_a_token_deposit_settles_exactly_what_the_escrow_received(
    env: ChainEnv,
    db_sessions: sessionmaker[Session],
    worker: SettlementWorker,
    token_artifacts: dict[str, ContractArtifact],
    kind: str,
) -> None:
    args: tuple[list[str], list[object]] = (
        (["string", "string"], ["Euro coin", "EURX"])
        if kind == "TestToken"
        else (["uint256"], [FEE_BPS])
    )
    token = _deploy(env, token_artifacts[kind], *args)
    env.escrow.send_set_token_allowed(env.admin, token.address, True)
    terms = make_terms(env, token=token.address, amount=1_000_003)
    _fund_token(env, token, terms)
    case = record_shipment(env, db_sessions, terms)
    received = terms.amount - (terms.amount * FEE_BPS // 10_000 if kind != "TestToken" else 0)
    assert env.escrow.shipment(case.shipment_id).amount == received

    assert worker.run_once().attested == [case.shipment_id]
    payout, refund = split_deposit(received, 15, 25, 5000)
    row = stored(db_sessions, case.shipment_id)
    assert (row.payout_wei, row.refund_wei) == (payout, refund)

    increase_time(env.w3, terms.dispute_window + 1)
    assert worker.run_once().settled == [case.shipment_id]
    assert env.escrow.owed(env.payee.address, token.address) == payout
    assert env.escrow.owed(env.buyer.address, token.address) == refund
    assert env.escrow.owed(env.payee.address) == 0  # no ETH moved
    env.escrow.send_withdraw(env.payee, token.address)
    env.escrow.send_withdraw(env.buyer, token.address)
    assert token.functions.balanceOf(env.escrow.address).call() == 0
