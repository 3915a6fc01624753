"""An escrow v2 shipment delivered through the API with its device's readings (six of twelve at
10 degC), for the tests of its disputes and of what the public sees of it."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import select

import store
from chain.settlement.worker import SettlementWorker
from store.db import session_factory
from store.models import Shipment
from tests.api.flows import World, auth, follow, ok, sign_typed
from tests.api.shipments_v2_support import _body, _create, _escrow, _funding_tx
from tests.utils.anvil import ChainEnv, increase_time
from tests.utils.readings import signed_reading_row
from tests.utils.store_factories import make_event
from tests.utils.workers import settlement_worker

STEP_MS = 5 * 60_000
HOT = range(4, 10)  # six readings at 10 degC


def send_tx(chain: ChainEnv, account: LocalAccount, tx: dict[str, Any]) -> None:
    signed = account.sign_transaction(tx)
    receipt = chain.w3.eth.wait_for_transaction_receipt(
        chain.w3.eth.send_raw_transaction(signed.raw_transaction)
    )
    assert receipt["status"] == 1


def reading_row(
    chain: ChainEnv, key: LocalAccount, seq: int, at_ms: int, temp: int = 450
) -> dict[str, Any]:
    return {**signed_reading_row(chain, key, seq, at_ms, temp), "shipment_id": None}


def funded_v2(world: World) -> tuple[str, int, dict[str, Any]]:
    """A v2 shipment created, signed by buyer and carrier and funded through the API: (id, a
    shipping time one minute after funding in ms, the request body)."""
    api = world.api
    chain = api.chain
    assert chain is not None
    escrow = _escrow(world)
    # The arbiter is the other carrier's principal (wallet chain.stranger), named in the terms.
    body = _body(world, chain.payee.address, world.spare[:1], autoAcceptAfter=0)
    body["terms"]["arbiter"] = chain.stranger.address
    created = _create(world, body)
    sid, typed = created["shipmentId"], created["typedData"]
    for account, key in ((chain.buyer, world.buyer_key), (chain.payee, world.carrier_key)):
        signature = {"signature": sign_typed(account, typed)}
        ok(api.client.post(f"/shipments/{sid}/signatures", json=signature, headers=auth(key)))
    send_tx(chain, chain.buyer, ok(_funding_tx(world, sid))["tx"])
    follow(api)
    funded_at = escrow.shipment(sid).funded_at
    shipped_ms = (funded_at + 60) * 1000
    return sid, shipped_ms, body


def delivered_v2(world: World) -> tuple[str, int, SettlementWorker]:
    """A v2 shipment created, signed and funded through the API; its shipping, receiving and
    the device's readings stored; the chain's clock past the receiving. (id, shipped ms, worker)"""
    api = world.api
    chain = api.chain
    assert chain is not None
    sid, shipped_ms, _body_sent = funded_v2(world)
    with store.transaction(session_factory(api.engine)) as session:
        pk = session.scalars(select(Shipment.id).where(Shipment.shipment_id == sid)).one()
        make_event(session, event_time_ms=shipped_ms, biz_step="shipping", shipment_id=pk)
        make_event(
            session, event_time_ms=shipped_ms + 12 * STEP_MS, biz_step="receiving", shipment_id=pk
        )
        rows = [
            reading_row(chain, world.device, s, shipped_ms + s * STEP_MS, 1000 if s in HOT else 450)
            for s in range(12)
        ]
        store.insert_readings(session, rows)
    increase_time(chain.w3, 2 * 3_600)
    url = api.engine.url.render_as_string(hide_password=False)
    worker = settlement_worker(chain, url, session_factory(api.engine))
    return sid, shipped_ms, worker
