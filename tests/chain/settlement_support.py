"""Helpers of the settlement worker's tests: funded terms, recorded shipments, stored rows."""

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
from chain.clients import ShipmentState
from chain.settlement.worker import SettlementWorker
from core.eip712 import (
    Terms,
    escrow_domain,
    sign,
    terms_hash,
)
from store.models import Device, Role, Shipment, ShipmentStatus
from store.principals import create_principal
from tests.utils.anvil import ChainEnv, latest_timestamp
from tests.utils.readings import signed_reading_row
from tests.utils.store_factories import make_event
from tests.utils.workers import settlement_worker

ETH = 10**18
MINUTE_MS = 60_000
STEP_MS = 5 * MINUTE_MS
N_READINGS = 35  # seq 0..34: 34 steps of 5 minutes = 170 minutes
HOT = range(10, 16)  # six readings at 10 degC, 30 minutes out of band


@dataclass
class Scenario:
    """A funded shipment recorded in the store as received, with its readings."""

    shipment_id: str
    terms: Terms
    shipped_ms: int
    received_ms: int
    digests: list[bytes]


def fund(env: ChainEnv, terms: Terms) -> None:
    """Buyer and payee sign the terms; the buyer funds the escrow with its own key."""
    domain = escrow_domain(env.w3.eth.chain_id, env.deployment.shipment_escrow)
    buyer_sig = sign(terms, domain, env.buyer.key)
    payee_sig = sign(terms, domain, env.payee.key)
    env.escrow.send_fund(env.buyer, terms, buyer_sig, payee_sig)
    assert env.escrow.shipment(terms.shipment_id).state is ShipmentState.FUNDED


def signed_reading(
    env: ChainEnv, key: LocalAccount, seq: int, at_ms: int, temp: int, device: str | None = None
) -> dict[str, Any]:
    """A reading row for `device` (default: the key's address) signed by `key`."""
    return signed_reading_row(env, key, seq, at_ms, temp, device=device)


def record_shipment(
    env: ChainEnv,
    sessions: sessionmaker[Session],
    terms: Terms,
    *,
    readings: bool = True,
    extra_rows: tuple[dict[str, Any], ...] = (),
    probe: LocalAccount | None = None,
    received_ms: int | None = None,
) -> Scenario:
    """The store's side: parties, device, shipment (received), events, signed readings."""
    if received_ms is None:
        received_ms = latest_timestamp(env.w3) * 1000 - 10 * MINUTE_MS
    shipped_ms = received_ms - (N_READINGS - 1) * STEP_MS
    probe = probe or Account.create()
    with store.transaction(sessions) as session:
        carrier = create_principal(
            session, f"carrier-{secrets.token_hex(4)}", Role.CARRIER, env.payee.address
        )
        consignee = create_principal(
            session, f"buyer-{secrets.token_hex(4)}", Role.BUYER, env.buyer.address
        )
        device = Device(address=probe.address, owner_principal_id=carrier.id, label="probe")
        shipment = Shipment(
            shipment_id="0x" + terms.shipment_id.hex(),
            carrier_principal_id=carrier.id,
            consignee_principal_id=consignee.id,
            payee_address=terms.payee,
            buyer_address=terms.buyer,
            terms_json=json.dumps(terms.to_json()),
            terms_hash="0x" + terms_hash(terms).hex(),
            status=ShipmentStatus.RECEIVED,
        )
        shipment.devices.append(device)
        session.add(shipment)
        session.flush()
        make_event(session, event_time_ms=shipped_ms, biz_step="shipping", shipment_id=shipment.id)
        make_event(
            session, event_time_ms=received_ms, biz_step="receiving", shipment_id=shipment.id
        )
        rows = []
        if readings:
            rows = [
                signed_reading(
                    env, probe, seq, shipped_ms + seq * STEP_MS, 1000 if seq in HOT else 450
                )
                for seq in range(N_READINGS)
            ]
        all_rows = [{**row, "shipment_id": shipment.id} for row in (*rows, *extra_rows)]
        store.insert_readings(session, all_rows)
    return Scenario(
        shipment.shipment_id, terms, shipped_ms, received_ms, [r["digest"] for r in rows]
    )


@pytest.fixture
def worker(env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session]) -> SettlementWorker:
    return settlement_worker(env, db_url, db_sessions)


def stored(sessions: sessionmaker[Session], shipment_id: str) -> Shipment:
    with sessions() as session:
        return session.scalars(select(Shipment).where(Shipment.shipment_id == shipment_id)).one()


def oracle_nonce(env: ChainEnv) -> int:
    return int(env.w3.eth.get_transaction_count(env.oracle.address))


def attested_event(env: ChainEnv, shipment_id: str) -> Any:
    (log,) = env.escrow.contract.events.DeliveryAttested().get_logs(
        argument_filters={"shipmentId": bytes.fromhex(shipment_id[2:])}, from_block=0
    )
    return log
