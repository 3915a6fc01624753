"""The settlement worker on a real anvil with the deployed ShipmentEscrow, SQLite and PostgreSQL.

Scenario: readings every 5 minutes from shipping to receiving (2 h 50 min), six of them (30
minutes) above the 2-8 degC band; grace 15 minutes -> 15 excursion minutes; 25 bps per minute
-> 375 bps penalty.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import store
from chain.clients import ShipmentState
from chain.settlement.attestation import split_deposit
from chain.settlement.worker import SettlementWorker
from core.eip712 import (
    DeliveryAttestation,
    escrow_domain,
    sign,
    terms_hash,
)
from core.evidence import evidence_root
from store.models import Shipment, ShipmentStatus
from tests.chain.settlement_support import (
    MINUTE_MS,
    attested_event,
    fund,
    oracle_nonce,
    record_shipment,
    signed_reading,
    stored,
)
from tests.chain.settlement_support import worker as worker  # the fixture
from tests.utils.anvil import ChainEnv, increase_time, latest_timestamp
from tests.utils.terms import make_terms


def test_attests_the_excursion_then_settles_after_the_dispute_window(
    env: ChainEnv, db_sessions: sessionmaker[Session], worker: SettlementWorker
) -> None:
    terms = make_terms(env)
    fund(env, terms)
    case = record_shipment(env, db_sessions, terms)
    amount = terms.amount
    # 30 minutes out of band - 15 grace = 15 minutes; 15 x 25 bps = 375 bps of the deposit.
    penalty = amount * 375 // 10_000

    report = worker.run_once()

    assert report.attested == [case.shipment_id] and report.refused == {}
    view = env.escrow.shipment(terms.shipment_id)
    assert view.state is ShipmentState.ATTESTED
    assert (view.payout, view.refund) == (amount - penalty, penalty)
    assert view.payout + view.refund == amount
    log = attested_event(env, case.shipment_id)
    assert log["args"]["excursionMinutes"] == 15
    assert log["args"]["deliveredAt"] == case.received_ms // 1000
    assert log["args"]["oracle"] == env.oracle.address
    assert log["args"]["evidenceRoot"] == evidence_root(case.digests)
    row = stored(db_sessions, case.shipment_id)
    assert row.status is ShipmentStatus.ATTESTED
    assert row.excursion_minutes == 15
    assert (row.payout_wei, row.refund_wei) == (amount - penalty, penalty)
    assert row.attest_tx_hash == "0x" + bytes(log["transactionHash"]).hex()

    # Inside the dispute window nothing is sent.
    nonce = oracle_nonce(env)
    again = worker.run_once()
    assert again.attested == again.settled == [] and again.waiting == [case.shipment_id]
    assert oracle_nonce(env) == nonce

    increase_time(env.w3, terms.dispute_window + 1)
    report = worker.run_once()
    assert report.settled == [case.shipment_id]
    assert env.escrow.shipment(terms.shipment_id).state is ShipmentState.SETTLED
    assert env.escrow.owed(env.payee.address) == amount - penalty
    assert env.escrow.owed(env.buyer.address) == penalty
    assert stored(db_sessions, case.shipment_id).status is ShipmentStatus.SETTLED

    nonce = oracle_nonce(env)
    assert worker.run_once() == type(report)()
    assert oracle_nonce(env) == nonce

    # Pull payment: the payee withdraws with its own key.
    balance = env.w3.eth.get_balance(env.payee.address)
    paid = env.escrow.send_withdraw(env.payee)
    gas_cost = paid.gas_used * env.w3.eth.get_transaction(paid.tx_hash)["gasPrice"]
    assert env.w3.eth.get_balance(env.payee.address) == balance + amount - penalty - gas_cost
    assert env.escrow.owed(env.payee.address) == 0


def test_terms_tampered_in_the_store_are_refused(
    env: ChainEnv, db_sessions: sessionmaker[Session], worker: SettlementWorker
) -> None:
    terms = make_terms(env)
    fund(env, terms)
    case = record_shipment(env, db_sessions, terms)
    with store.transaction(db_sessions) as session:
        row = session.scalars(
            select(Shipment).where(Shipment.shipment_id == case.shipment_id)
        ).one()
        # A gentler penalty than the parties signed: it would pay the carrier more.
        row.terms_json = json.dumps(replace(terms, penalty_bps_per_minute=1).to_json())
    nonce = oracle_nonce(env)

    report = worker.run_once()

    assert report.attested == []
    assert "escrow holds" in report.refused[case.shipment_id]
    assert env.escrow.shipment(terms.shipment_id).state is ShipmentState.FUNDED
    assert stored(db_sessions, case.shipment_id).status is ShipmentStatus.RECEIVED
    assert oracle_nonce(env) == nonce


def test_an_attestation_already_on_chain_is_recorded_not_sent_again(
    env: ChainEnv, db_sessions: sessionmaker[Session], worker: SettlementWorker
) -> None:
    terms = make_terms(env)
    fund(env, terms)
    case = record_shipment(env, db_sessions, terms)
    # A previous run attested and crashed before writing the store.
    attestation = DeliveryAttestation(
        terms.shipment_id,
        terms_hash(terms),
        evidence_root(case.digests),
        15,
        case.received_ms // 1000,
    )
    domain = escrow_domain(env.w3.eth.chain_id, env.deployment.shipment_escrow)
    sent = env.escrow.send_attest(
        env.oracle, attestation, sign(attestation, domain, env.oracle.key)
    )
    nonce = oracle_nonce(env)

    report = worker.run_once()

    assert report.adopted == [case.shipment_id] and report.attested == []
    assert oracle_nonce(env) == nonce
    row = stored(db_sessions, case.shipment_id)
    payout, refund = split_deposit(terms.amount, 15, 25, 5000)
    assert row.status is ShipmentStatus.ATTESTED and row.excursion_minutes == 15
    assert (row.payout_wei, row.refund_wei) == (payout, refund)
    assert row.attest_tx_hash == "0x" + sent.tx_hash.hex()


@pytest.mark.parametrize("flaw", ["forged signature", "wrong digest", "unattached device"])
def test_unverifiable_readings_are_not_evidence(
    env: ChainEnv, db_sessions: sessionmaker[Session], worker: SettlementWorker, flaw: str
) -> None:
    terms = make_terms(env)
    fund(env, terms)
    probe: LocalAccount = Account.create()
    other: LocalAccount = Account.create()
    at_ms = latest_timestamp(env.w3) * 1000 - 60 * MINUTE_MS
    # A freezing reading claimed for the shipment: counted, it would change the evidence root.
    if flaw == "forged signature":
        bad = signed_reading(env, other, 1000, at_ms, -2000, device=probe.address)
    elif flaw == "wrong digest":
        bad = signed_reading(env, probe, 1000, at_ms, -2000)
        bad["temperature_centi_c"] = -2100  # fields changed after signing
    else:
        bad = signed_reading(env, other, 1, at_ms, -2000)
    case = record_shipment(env, db_sessions, terms, extra_rows=(bad,), probe=probe)

    report = worker.run_once()

    assert report.attested == [case.shipment_id]
    log = attested_event(env, case.shipment_id)
    assert log["args"]["excursionMinutes"] == 15
    assert log["args"]["evidenceRoot"] == evidence_root(case.digests)


def test_no_readings_count_the_whole_window_up_to_the_cap(
    env: ChainEnv, db_sessions: sessionmaker[Session], worker: SettlementWorker
) -> None:
    terms = make_terms(env, penalty_bps_per_minute=50)
    fund(env, terms)
    case = record_shipment(env, db_sessions, terms, readings=False)

    assert worker.run_once().attested == [case.shipment_id]

    log = attested_event(env, case.shipment_id)
    # Silence is not compliance: 170 minutes without data, 170 x 50 bps capped at 5000 bps.
    assert log["args"]["excursionMinutes"] == 170
    assert log["args"]["evidenceRoot"] == bytes(32)
    view = env.escrow.shipment(terms.shipment_id)
    assert (view.payout, view.refund) == (terms.amount // 2, terms.amount // 2)


def test_only_received_shipments_are_attested(
    env: ChainEnv, db_sessions: sessionmaker[Session], worker: SettlementWorker
) -> None:
    terms = make_terms(env)
    fund(env, terms)
    case = record_shipment(env, db_sessions, terms)
    with store.transaction(db_sessions) as session:
        row = session.scalars(
            select(Shipment).where(Shipment.shipment_id == case.shipment_id)
        ).one()
        row.status = ShipmentStatus.ARRIVED
    assert worker.run_once() == type(worker.run_once())()
    assert env.escrow.shipment(terms.shipment_id).state is ShipmentState.FUNDED


def test_an_unfunded_shipment_is_refused(
    env: ChainEnv, db_sessions: sessionmaker[Session], worker: SettlementWorker
) -> None:
    case = record_shipment(env, db_sessions, make_terms(env))
    report = worker.run_once()
    assert "no deposit" in report.refused[case.shipment_id]
    assert stored(db_sessions, case.shipment_id).status is ShipmentStatus.RECEIVED


def test_a_receiving_time_ahead_of_the_chain_clock_waits_for_it(
    env: ChainEnv, db_sessions: sessionmaker[Session], worker: SettlementWorker
) -> None:
    now = latest_timestamp(env.w3)
    terms = make_terms(env, deadline=now + 3600)
    fund(env, terms)
    # The store's clock says received 20 minutes after the chain's latest block.
    case = record_shipment(env, db_sessions, terms, received_ms=(now + 1200) * 1000)
    report = worker.run_once()
    assert report.waiting == [case.shipment_id] and report.attested == []
    assert env.escrow.shipment(terms.shipment_id).state is ShipmentState.FUNDED

    increase_time(env.w3, 1800)
    assert worker.run_once().attested == [case.shipment_id]
    assert attested_event(env, case.shipment_id)["args"]["deliveredAt"] == now + 1200


def test_a_delivery_after_the_deadline_is_refused(
    env: ChainEnv, db_sessions: sessionmaker[Session], worker: SettlementWorker
) -> None:
    now = latest_timestamp(env.w3)
    terms = make_terms(env, deadline=now + 600)
    fund(env, terms)
    case = record_shipment(env, db_sessions, terms, received_ms=(now + 1200) * 1000)
    increase_time(env.w3, 1800)
    report = worker.run_once()
    assert "after the deadline" in report.refused[case.shipment_id]
    assert env.escrow.shipment(terms.shipment_id).state is ShipmentState.FUNDED
    assert stored(db_sessions, case.shipment_id).status is ShipmentStatus.RECEIVED
