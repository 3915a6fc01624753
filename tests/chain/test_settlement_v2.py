"""The settlement worker on ShipmentEscrow v2: real anvil, SQLite and PostgreSQL.

Two loggers travel from shipping (readings every 5 minutes, outside the destination fence) and
reach the fence 2 h later, where they keep reporting. Six readings of logger A are at 10 degC:
30 minutes out of the 2-8 degC band, 15 beyond the grace, 25 bps each = 375 bps. The readings
are stored under no shipment: v2 counts them by device set x window.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import store
from chain.clients import ShipmentEscrowV2Client, ShipmentStateV2
from chain.settlement.worker import SettlementWorker
from core.eip712 import TermsV2, terms_hash
from store.models import Device, Principal, Role, Shipment, ShipmentStatus
from store.principals import create_principal
from tests.chain.terms_v2 import signatures, terms_v2
from tests.utils.anvil import ChainEnv, increase_time, latest_timestamp
from tests.utils.readings import signed_reading_row
from tests.utils.store_factories import make_event
from tests.utils.workers import settlement_worker

MINUTE_MS = 60_000
STEP_MS = 5 * MINUTE_MS
IN_FENCE = (535_511_000, -99_937_000)  # the terms' destination
ON_THE_ROAD = (523_456_789, 134_567_890)  # hundreds of km away
TRAVEL_STEPS = 24  # 2 h outside the fence
HOT = range(3, 9)  # logger A: six readings at 10 degC


@dataclass
class Trip:
    """A funded v2 shipment recorded in the store, with its loggers' readings."""

    shipment_id: str
    terms: TermsV2
    shipped_ms: int
    arrival_ms: int


@pytest.fixture
def escrow(env: ChainEnv) -> ShipmentEscrowV2Client:
    address = env.deployment.shipment_escrow_v2
    assert address is not None
    return ShipmentEscrowV2Client(env.w3, address)


@pytest.fixture
def worker(env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session]) -> SettlementWorker:
    return settlement_worker(env, db_url, db_sessions)


def _row(
    env: ChainEnv, key: LocalAccount, seq: int, at_ms: int, temp: int, pos: tuple[int, int]
) -> dict[str, Any]:
    return {**signed_reading_row(env, key, seq, at_ms, temp, pos=pos), "shipment_id": None}


def start_trip(
    env: ChainEnv,
    escrow: ShipmentEscrowV2Client,
    sessions: sessionmaker[Session],
    *,
    b_arrives: bool = True,
    fence_steps: int = 12,
) -> Trip:
    """Fund on chain (buyer, payee = carrier), record the store's side, store the readings.

    Logger A reaches the fence after TRAVEL_STEPS and reports `fence_steps` readings there;
    logger B does the same when `b_arrives`, else stays on the road.
    """
    loggers = [Account.create(), Account.create()]
    trip = fund_trip(env, escrow, sessions, loggers)
    rows = []
    for n, key in enumerate(loggers):
        arrives = n == 0 or b_arrives
        for seq in range(TRAVEL_STEPS + fence_steps):
            at_fence = arrives and seq >= TRAVEL_STEPS
            temp = 1000 if n == 0 and seq in HOT else 450
            rows.append(
                _row(
                    env,
                    key,
                    seq,
                    trip.shipped_ms + seq * STEP_MS,
                    temp,
                    IN_FENCE if at_fence else ON_THE_ROAD,
                )
            )
    with store.transaction(sessions) as session:
        store.insert_readings(session, rows)
    return trip


def fund_trip(
    env: ChainEnv,
    escrow: ShipmentEscrowV2Client,
    sessions: sessionmaker[Session],
    loggers: list[LocalAccount],
    *,
    shipped_after_s: int = 60,
    **overrides: Any,
) -> Trip:
    """Fund Terms v2 over `loggers` on chain; store the shipment (its devices registered to the
    carrier, once) and its shipping event `shipped_after_s` after funding; no readings."""
    carrier = env.payee  # carrier = payee: one signature serves both
    terms = terms_v2(
        now=latest_timestamp(env.w3),
        buyer=env.buyer.address,
        payee=carrier.address,
        carrier=carrier.address,
        arbiter=env.stranger.address,
        oracle=env.oracle.address,
        devices=[k.address for k in loggers],
        **{"amount": 3 * 10**18 + 7, **overrides},
    )
    buyer_sig, payee_sig = signatures(terms, escrow.domain(), env.buyer, carrier)
    funded = escrow.send_fund(env.buyer, terms, buyer_sig, payee_sig, b"")
    funded_at = int(env.w3.eth.get_block(funded.block_number)["timestamp"])
    shipped_ms = (funded_at + shipped_after_s) * 1000
    with store.transaction(sessions) as session:
        carrier_p = _principal(session, Role.CARRIER, carrier.address)
        buyer_p = _principal(session, Role.BUYER, env.buyer.address)
        shipment = Shipment(
            shipment_id="0x" + terms.shipment_id.hex(),
            carrier_principal_id=carrier_p.id,
            consignee_principal_id=buyer_p.id,
            payee_address=terms.payee,
            buyer_address=terms.buyer,
            terms_json=json.dumps(terms.to_json()),
            terms_hash="0x" + terms_hash(terms).hex(),
            status=ShipmentStatus.FUNDED,
            escrow_version=2,
        )
        for key in loggers:
            device = session.scalars(select(Device).where(Device.address == key.address)).first()
            shipment.devices.append(
                device or Device(address=key.address, owner_principal_id=carrier_p.id)
            )
        session.add(shipment)
        session.flush()
        make_event(session, event_time_ms=shipped_ms, biz_step="shipping", shipment_id=shipment.id)
    return Trip(shipment.shipment_id, terms, shipped_ms, shipped_ms + TRAVEL_STEPS * STEP_MS)


def _principal(session: Session, role: Role, wallet: str) -> Principal:
    found = session.scalars(select(Principal).where(Principal.wallet_address == wallet)).first()
    return found or create_principal(session, f"{role.value}-{secrets.token_hex(4)}", role, wallet)


def receive(sessions: sessionmaker[Session], trip: Trip, at_ms: int) -> None:
    """The consignee's receiving (accepted) at `at_ms`."""
    with store.transaction(sessions) as session:
        shipment = session.scalars(
            select(Shipment).where(Shipment.shipment_id == trip.shipment_id)
        ).one()
        make_event(session, event_time_ms=at_ms, biz_step="receiving", shipment_id=shipment.id)


def readings(
    env: ChainEnv, key: LocalAccount, start_ms: int, steps: int, hot: range = range(0)
) -> list[dict[str, Any]]:
    """`key`'s readings every STEP_MS from `start_ms`, on the road, `hot` steps at 10 degC."""
    return [
        _row(env, key, seq, start_ms + seq * STEP_MS, 1000 if seq in hot else 450, ON_THE_ROAD)
        for seq in range(steps)
    ]


def stored(sessions: sessionmaker[Session], shipment_id: str) -> Shipment:
    with sessions() as session:
        return session.scalars(select(Shipment).where(Shipment.shipment_id == shipment_id)).one()


def attested_log(escrow: ShipmentEscrowV2Client, shipment_id: str) -> Any:
    (log,) = escrow.contract.events.DeliveryAttested().get_logs(
        argument_filters={"shipmentId": bytes.fromhex(shipment_id[2:])}, from_block=0
    )
    return log


def test_buyer_silence_pays_on_device_arrival_after_auto_accept(
    env: ChainEnv,
    escrow: ShipmentEscrowV2Client,
    db_sessions: sessionmaker[Session],
    worker: SettlementWorker,
) -> None:
    trip = start_trip(env, escrow, db_sessions)
    terms = trip.terms
    # Every reading taken; arrival + dwell (20 min) has passed, auto-accept (2 h) has not.
    increase_time(env.w3, (trip.arrival_ms - trip.shipped_ms) // 1000 + 3_600)
    report = worker.run_once()
    assert trip.shipment_id in report.waiting and not report.attested
    assert escrow.shipment(terms.shipment_id).state is ShipmentStateV2.FUNDED

    increase_time(env.w3, terms.auto_accept_after)
    report = worker.run_once()
    assert report.attested == [trip.shipment_id]
    view = escrow.shipment(terms.shipment_id)
    assert view.state is ShipmentStateV2.ATTESTED
    # Arrival = the first in-fence reading of the later of the two loggers' runs.
    assert (view.delivered_at, view.window_start) == (
        trip.arrival_ms // 1000,
        trip.shipped_ms // 1000,
    )
    args = attested_log(escrow, trip.shipment_id)["args"]
    assert (args["deliveryBasis"], args["penaltyBps"]) == (1, 375)
    penalty = terms.amount * 375 // 10_000
    assert (view.payout, view.refund) == (terms.amount - penalty, penalty)
    row = stored(db_sessions, trip.shipment_id)
    assert (row.status, row.excursion_minutes) == (ShipmentStatus.ATTESTED, 15)
    assert (row.payout_wei, row.refund_wei) == (view.payout, view.refund)

    increase_time(env.w3, terms.dispute_window)
    report = worker.run_once()
    assert report.settled == [trip.shipment_id]
    assert escrow.shipment(terms.shipment_id).state is ShipmentStateV2.SETTLED
    assert escrow.owed(terms.payee) == terms.amount - penalty
    assert escrow.owed(terms.buyer) == penalty
    assert stored(db_sessions, trip.shipment_id).status is ShipmentStatus.SETTLED


@pytest.mark.parametrize(
    ("b_arrives", "fence_steps"),
    [(False, 12), (True, 3)],  # one logger of two in the fence; passing through < dwell
    ids=["one-logger-of-two", "passing-through"],
)
def test_not_delivered_is_never_attested(
    env: ChainEnv,
    escrow: ShipmentEscrowV2Client,
    db_sessions: sessionmaker[Session],
    worker: SettlementWorker,
    b_arrives: bool,
    fence_steps: int,
) -> None:
    trip = start_trip(env, escrow, db_sessions, b_arrives=b_arrives, fence_steps=fence_steps)
    increase_time(env.w3, 10 * 3_600)
    report = worker.run_once()
    assert trip.shipment_id in report.waiting and not report.attested
    assert escrow.shipment(trip.terms.shipment_id).state is ShipmentStateV2.FUNDED


def test_rejection_attests_at_once_on_receiving(
    env: ChainEnv,
    escrow: ShipmentEscrowV2Client,
    db_sessions: sessionmaker[Session],
    worker: SettlementWorker,
) -> None:
    trip = start_trip(env, escrow, db_sessions, b_arrives=False)
    rejected_ms = trip.arrival_ms + 10 * MINUTE_MS
    with store.transaction(db_sessions) as session:
        shipment = session.scalars(
            select(Shipment).where(Shipment.shipment_id == trip.shipment_id)
        ).one()
        make_event(
            session,
            event_time_ms=rejected_ms,
            biz_step="receiving",
            shipment_id=shipment.id,
            fields={"disposition": "urn:epcglobal:cbv:disp:damaged"},
        )
    increase_time(env.w3, (rejected_ms - trip.shipped_ms) // 1000 + 60)
    report = worker.run_once()
    assert report.attested == [trip.shipment_id]  # no auto-accept wait: basis 0
    view = escrow.shipment(trip.terms.shipment_id)
    assert view.delivered_at == rejected_ms // 1000
    assert attested_log(escrow, trip.shipment_id)["args"]["deliveryBasis"] == 0
    escrow.send_open_dispute(env.buyer, trip.terms.shipment_id)  # the dispute follows
    assert escrow.shipment(trip.terms.shipment_id).state is ShipmentStateV2.DISPUTED


def test_a_silent_logger_counts_its_whole_window_as_a_gap(
    env: ChainEnv,
    escrow: ShipmentEscrowV2Client,
    db_sessions: sessionmaker[Session],
    worker: SettlementWorker,
) -> None:
    speaking, silent = Account.create(), Account.create()
    trip = fund_trip(env, escrow, db_sessions, [speaking, silent])
    with store.transaction(db_sessions) as session:  # every reading in the band
        store.insert_readings(session, readings(env, speaking, trip.shipped_ms, 25))
    receive(db_sessions, trip, trip.shipped_ms + 2 * 3_600_000)
    increase_time(env.w3, 3 * 3_600)
    assert worker.run_once().attested == [trip.shipment_id]
    row = stored(db_sessions, trip.shipment_id)
    assert row.excursion_minutes is not None and row.excursion_minutes >= 60
    bps = attested_log(escrow, trip.shipment_id)["args"]["penaltyBps"]
    assert bps == min(5000, row.excursion_minutes * 25)
    assert row.refund_wei == trip.terms.amount * bps // 10_000


def test_one_logger_on_two_overlapping_shipments_counts_each_window(
    env: ChainEnv,
    escrow: ShipmentEscrowV2Client,
    db_sessions: sessionmaker[Session],
    worker: SettlementWorker,
) -> None:
    """A reefer logger on a multi-drop route: the hot half hour is in the first window only."""
    logger = Account.create()
    first = fund_trip(env, escrow, db_sessions, [logger])
    second = fund_trip(env, escrow, db_sessions, [logger], shipped_after_s=60 + 3_600)
    with store.transaction(db_sessions) as session:  # stored once, under no shipment
        store.insert_readings(session, readings(env, logger, first.shipped_ms, 40, HOT))
    receive(db_sessions, first, first.shipped_ms + 100 * MINUTE_MS)
    receive(db_sessions, second, first.shipped_ms + 190 * MINUTE_MS)
    increase_time(env.w3, 4 * 3_600)
    assert sorted(worker.run_once().attested) == sorted([first.shipment_id, second.shipment_id])
    # First: 30 minutes out of band - 15 grace. Second: shipped after the hot readings.
    assert stored(db_sessions, first.shipment_id).excursion_minutes == 15
    assert stored(db_sessions, second.shipment_id).excursion_minutes == 0
    assert escrow.shipment(second.terms.shipment_id).refund == 0


@pytest.mark.parametrize(("bps_per_hour", "expected_bps"), [(100, 300), (2_000, 5_000)])
def test_late_delivery_costs_late_hours_capped(
    env: ChainEnv,
    escrow: ShipmentEscrowV2Client,
    db_sessions: sessionmaker[Session],
    worker: SettlementWorker,
    bps_per_hour: int,
    expected_bps: int,
) -> None:
    logger = Account.create()
    deadline = latest_timestamp(env.w3) + 2 * 3_600
    trip = fund_trip(
        env,
        escrow,
        db_sessions,
        [logger],
        deadline=deadline,
        fund_by=deadline,
        penalty_bps_per_late_hour=bps_per_hour,
    )
    received_ms = (deadline + 2 * 3_600 + 1_800) * 1000  # 2.5 h late: 3 late hours
    steps = (received_ms - trip.shipped_ms) // STEP_MS + 1
    with store.transaction(db_sessions) as session:
        store.insert_readings(session, readings(env, logger, trip.shipped_ms, steps))
    receive(db_sessions, trip, received_ms)
    increase_time(env.w3, received_ms // 1000 - latest_timestamp(env.w3) + 60)
    assert worker.run_once().attested == [trip.shipment_id]
    assert stored(db_sessions, trip.shipment_id).excursion_minutes == 0
    assert attested_log(escrow, trip.shipment_id)["args"]["penaltyBps"] == expected_bps
    view = escrow.shipment(trip.terms.shipment_id)
    penalty = trip.terms.amount * expected_bps // 10_000
    assert (view.payout, view.refund) == (trip.terms.amount - penalty, penalty)


def test_a_dispute_opened_before_any_attestation_does_not_stop_it(
    env: ChainEnv,
    escrow: ShipmentEscrowV2Client,
    db_sessions: sessionmaker[Session],
    worker: SettlementWorker,
) -> None:
    """From the deadline the buyer may dispute an unattested shipment; a late delivery is still
    attested (the split the dispute falls back to), not abandoned to a full refund."""
    logger = Account.create()
    deadline = latest_timestamp(env.w3) + 2 * 3_600
    trip = fund_trip(
        env,
        escrow,
        db_sessions,
        [logger],
        deadline=deadline,
        fund_by=deadline,
        penalty_bps_per_late_hour=100,
    )
    increase_time(env.w3, deadline - latest_timestamp(env.w3) + 1)
    escrow.send_open_dispute(env.buyer, trip.terms.shipment_id)
    received_ms = (deadline + 1_800) * 1000
    steps = (received_ms - trip.shipped_ms) // STEP_MS + 1
    with store.transaction(db_sessions) as session:
        store.insert_readings(session, readings(env, logger, trip.shipped_ms, steps))
    receive(db_sessions, trip, received_ms)
    increase_time(env.w3, 3_600)
    assert worker.run_once().attested == [trip.shipment_id]
    view = escrow.shipment(trip.terms.shipment_id)
    assert view.state is ShipmentStateV2.DISPUTED and view.attested_at > 0
    assert attested_log(escrow, trip.shipment_id)["args"]["penaltyBps"] == 100  # 1 late hour
