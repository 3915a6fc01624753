"""Disputes of an escrow v2 shipment through the API: open, evidence (also a reading the oracle
left out, recorded as such), the arbiter's resolution; the follower's view of them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import store
from chain.clients import ShipmentEscrowV2Client, ShipmentStateV2
from store.db import session_factory
from store.models import Shipment
from tests.api.delivered_v2_support import STEP_MS, delivered_v2, reading_row, send_tx
from tests.api.flows import World, auth, follow, ok, sign_typed
from tests.api.shipments_v2_support import _escrow
from tests.utils.anvil import latest_timestamp


def _evidence_tx(world: World, sid: str, seq: int, key: str) -> dict[str, Any]:
    body = {"device": world.device.address, "seq": seq}
    url = f"/shipments/{sid}/dispute/evidence-tx"
    return dict(ok(world.api.client.post(url, json=body, headers=auth(key))))


def test_the_report_shows_what_the_oracle_then_attests(world: World) -> None:
    api = world.api
    sid, shipped_ms, worker = delivered_v2(world)
    url = f"/shipments/{sid}/report"
    report = ok(api.client.get(url, headers=auth(world.buyer_key)))
    received_s = (shipped_ms + 12 * STEP_MS) // 1000
    assert (report["deliveryBasis"], report["deliveredAt"], report["mayAttest"]) == (
        "receiving",
        received_s,
        True,
    )
    # Six readings at 10 degC, five minutes apart, minus the terms' 10 grace minutes.
    (device,) = report["devices"]
    assert device["device"] == world.device.address and device["readingsInWindow"] == 12
    minutes = report["excursionMinutes"]
    assert minutes == device["excursionMinutes"] == 20
    assert report["penaltyBps"] == min(5000, minutes * 20)
    assert api.client.get(url, headers=auth(world.other_carrier_key)).status_code == 404
    v1 = api.client.get(f"/shipments/{world.shipment_id}/report", headers=auth(world.buyer_key))
    assert v1.status_code == 409
    assert worker.run_once().attested == [sid]
    view = _escrow(world).shipment(sid)
    assert (view.delivered_at, view.window_start) == (report["deliveredAt"], report["windowStart"])
    assert "0x" + view.evidence_root.hex() == report["evidenceRoot"]
    assert (str(view.payout), str(view.refund)) == (report["payoutWei"], report["refundWei"])
    assert int(report["refundWei"]) == view.amount * report["penaltyBps"] // 10_000 > 0


def test_v2_dispute_records_left_out_readings_and_the_arbiter_resolves(world: World) -> None:
    api = world.api
    chain = api.chain
    assert chain is not None
    escrow: ShipmentEscrowV2Client = _escrow(world)
    sid, shipped_ms, worker = delivered_v2(world)
    funded_at = escrow.shipment(sid).funded_at
    assert worker.run_once().attested == [sid]

    base = f"/shipments/{sid}/dispute"
    send_tx(
        chain,
        chain.buyer,
        ok(api.client.get(f"{base}/open-tx", headers=auth(world.buyer_key)))["tx"],
    )
    assert escrow.shipment(sid).state is ShipmentStateV2.DISPUTED
    inside = _evidence_tx(world, sid, 3, world.buyer_key)
    assert "part of the attested" in inside["description"]
    send_tx(chain, chain.buyer, inside["tx"])
    # A reading uploaded after the attestation, inside the window: the oracle never saw it.
    late_ms = shipped_ms + 5 * STEP_MS + 60_000
    with store.transaction(session_factory(api.engine)) as session:
        store.insert_readings(session, [reading_row(chain, world.device, 40, late_ms)])
    left_out = _evidence_tx(world, sid, 40, world.carrier_key)
    assert "not part of the attested" in left_out["description"]
    send_tx(chain, chain.payee, left_out["tx"])
    # The late upload does not stop an attested reading from being proven part of it.
    attested = _evidence_tx(world, sid, 7, world.buyer_key)
    assert "part of the attested" in attested["description"]
    assert "not part of" not in attested["description"]
    send_tx(chain, chain.buyer, attested["tx"])
    follow(api)
    shown = ok(api.client.get(base, headers=auth(world.buyer_key)))
    assert shown["state"] == "disputed"
    assert [(e["seq"], e["inAttestedEvidence"]) for e in shown["evidence"]] == [
        (3, True),
        (40, False),
        (7, True),
    ]
    # The arbiter splits the deposit.
    amount = escrow.shipment(sid).amount
    resolve = ok(
        api.client.post(
            f"{base}/resolve-tx",
            json={"payoutWei": str(amount // 2)},
            headers=auth(world.other_carrier_key),
        )
    )
    send_tx(chain, chain.stranger, resolve["tx"])
    view = escrow.shipment(sid)
    assert (view.payout, view.refund) == (amount // 2, amount - amount // 2)
    with Session(api.engine) as session:
        assert session.scalars(select(Shipment).where(Shipment.shipment_id == sid)).one()
    assert latest_timestamp(chain.w3) > funded_at


def test_mutual_release_settles_while_the_oracle_is_paused(world: World) -> None:
    api = world.api
    chain = api.chain
    assert chain is not None
    escrow = _escrow(world)
    sid, _shipped_ms, worker = delivered_v2(world)
    escrow.send_set_oracle_paused(chain.admin, chain.oracle.address, True)  # the guardian
    assert escrow.is_oracle_paused(chain.oracle.address)
    assert worker.run_once().attested == []  # nothing can be attested now
    amount = escrow.shipment(sid).amount
    base = f"/shipments/{sid}/mutual-release"
    payout = {"payoutWei": str(amount * 3 // 4)}
    typed = ok(api.client.post(f"{base}/typed-data", json=payout, headers=auth(world.buyer_key)))
    assert typed["primaryType"] == "MutualRelease" and typed["domain"]["version"] == "2"
    signatures = {
        "buyerSignature": sign_typed(chain.buyer, typed),
        "payeeSignature": sign_typed(chain.payee, typed),
    }
    forged = {**signatures, "payeeSignature": sign_typed(chain.stranger, typed)}
    refused = api.client.post(
        f"{base}/tx", json={**payout, **forged}, headers=auth(world.buyer_key)
    )
    assert refused.status_code == 422 and "payeeSignature" in str(
        refused.json()["detail"][0]["loc"]
    )
    other = {"payoutWei": str(amount // 2), **signatures}  # signatures over another split
    assert (
        api.client.post(f"{base}/tx", json=other, headers=auth(world.buyer_key)).status_code == 422
    )
    built = ok(
        api.client.post(
            f"{base}/tx", json={**payout, **signatures}, headers=auth(world.carrier_key)
        )
    )
    send_tx(chain, chain.payee, built["tx"])
    view = escrow.shipment(sid)
    assert view.state is ShipmentStateV2.SETTLED
    assert (view.payout, view.refund) == (amount * 3 // 4, amount - amount * 3 // 4)
    v1 = api.client.post(
        f"/shipments/{world.shipment_id}/mutual-release/typed-data",
        json=payout,
        headers=auth(world.buyer_key),
    )
    assert v1.status_code == 409
