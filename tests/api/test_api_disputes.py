"""Disputes through the API: a party opens one, the payee submits a stored reading as evidence
(proof rebuilt from the store and checked on chain), the arbiter resolves; roles and refusals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from sqlalchemy.orm import Session

from chain.clients import ShipmentState
from core.eip712 import DeliveryAttestation, Reading, reading_digest, sign
from core.evidence import evidence_root
from store.db import session_factory, transaction
from store.models import Shipment
from store.queries import shipment_events
from store.readings import insert_readings
from tests.api.flows import Api, World, approve_custody, auth, follow, ok, sign_typed
from tests.utils.anvil import latest_timestamp

TEMPS = (500, 1200, 650)  # centi-degC: the second reading is outside the 2..8 degC band


@dataclass
class Disputed:
    """A funded, attested shipment with an arbiter, its readings on record."""

    world: World
    shipment_id: str
    arbiter_key: str
    arbiter: LocalAccount
    readings: list[Reading]


def _send(api: Api, account: LocalAccount, tx: dict[str, Any]) -> Any:
    chain = api.chain
    assert chain is not None
    signed = account.sign_transaction(tx)
    receipt = chain.w3.eth.wait_for_transaction_receipt(
        chain.w3.eth.send_raw_transaction(signed.raw_transaction)
    )
    assert receipt["status"] == 1
    return receipt


def _attested(world: World) -> Disputed:
    api, chain = world.api, world.api.chain
    assert chain is not None
    arbiter = chain.deployer
    arbiter_key = api.principal("auditor", arbiter.address, "Cold Chain Arbitration")
    body = {
        "carrier": api.principal_id(world.carrier_key),
        "payee": chain.payee.address,
        "items": [{"gtin": world.gtin, "serial": world.spare[0]}],
        "devices": [world.device.address],
        "terms": api.terms(arbiter=arbiter.address, disputeTimeout=86_400),
    }
    created = ok(api.client.post("/shipments", json=body, headers=auth(world.buyer_key)), 201)
    sid = created["shipmentId"]
    approve_custody(api, world.brand_key, sid)
    for account, key in ((chain.buyer, world.buyer_key), (chain.payee, world.carrier_key)):
        signature = sign_typed(account, created["typedData"])
        ok(
            api.client.post(
                f"/shipments/{sid}/signatures", json={"signature": signature}, headers=auth(key)
            )
        )
    funding = ok(api.client.get(f"/shipments/{sid}/funding-tx", headers=auth(world.buyer_key)))
    _send(api, chain.buyer, funding["tx"])

    events = f"/shipments/{sid}/events"
    ok(api.client.post(events, json={"bizStep": "shipping"}, headers=auth(world.carrier_key)), 201)
    ok(api.client.post(events, json={"bizStep": "receiving"}, headers=auth(world.buyer_key)), 201)
    with Session(api.engine) as session:
        records = shipment_events(session, shipment_pk(api, sid))
        times = {r.event.biz_step: r.event.event_time_ms for r in records}
    shipped, received = times["shipping"], times["receiving"]

    domain = chain.anchor_v1.domain()
    readings = [
        Reading(
            device=world.device.address,
            seq=1000 + i,
            taken_at_ms=shipped + (received - shipped) * i // len(TEMPS),
            temperature_centi_c=temp,
            humidity_centi_pct=4000,
            shock_milli_g=0,
            lat_e7=525_200_000,
            lon_e7=134_050_000,
        )
        for i, temp in enumerate(TEMPS)
    ]
    rows = []
    for reading in readings:
        rows.append(
            {
                **{
                    k: getattr(reading, k)
                    for k in (
                        "seq",
                        "taken_at_ms",
                        "temperature_centi_c",
                        "humidity_centi_pct",
                        "shock_milli_g",
                        "lat_e7",
                        "lon_e7",
                    )
                },
                "device_address": reading.device,
                "signature": sign(reading, domain, bytes(world.device.key)),
                "digest": reading_digest(reading, domain),
                "shipment_id": shipment_pk(api, sid),
            }
        )
    with transaction(session_factory(api.engine)) as session:
        insert_readings(session, rows)

    # The oracle attests over exactly these readings (as the settlement worker would).
    escrow = chain.escrow
    root = evidence_root([reading_digest(r, domain) for r in readings])
    attestation = DeliveryAttestation(
        shipment_id=bytes.fromhex(sid[2:]),
        terms_hash=escrow.shipment(sid).terms_hash,
        evidence_root=root,
        excursion_minutes=50,
        delivered_at=latest_timestamp(chain.w3),
    )
    signature = sign(attestation, escrow.domain(), bytes(chain.oracle.key))
    escrow.send_attest(chain.oracle, attestation, signature)
    follow(api)  # as the anchoring process does: the API shows what the follower read
    return Disputed(world, sid, arbiter_key, arbiter, readings)


def shipment_pk(api: Api, sid: str) -> int:
    """The store's primary key of a shipment."""
    with Session(api.engine) as session:
        return int(session.scalars(select(Shipment.id).where(Shipment.shipment_id == sid)).one())


@pytest.fixture
def attested(world: World) -> Disputed:
    """The world's cast with an arbitrated shipment, funded and attested."""
    return _attested(world)


def test_party_opens_payee_proves_arbiter_resolves(attested: Disputed) -> None:
    api, world, sid = attested.world.api, attested.world, attested.shipment_id
    chain = api.chain
    assert chain is not None
    base = f"/shipments/{sid}/dispute"
    shown = ok(api.client.get(base, headers=auth(world.buyer_key)))
    assert shown["state"] == "attested" and shown["arbiter"] == attested.arbiter.address
    assert shown["evidence"] == [] and shown["disputedAt"] is None
    on_chain = chain.escrow.shipment(sid)
    assert shown["evidenceRoot"] == "0x" + on_chain.evidence_root.hex()
    assert shown["disputeWindowEndsAt"] == on_chain.dispute_ends_at  # the attest block's time
    assert (shown["payoutWei"], shown["refundWei"]) == (str(on_chain.payout), str(on_chain.refund))
    assert shown["asOfBlock"] == chain.w3.eth.block_number

    opened = ok(api.client.get(f"{base}/open-tx", headers=auth(world.buyer_key)))
    assert opened["tx"]["from"] == chain.buyer.address
    _send(api, chain.buyer, opened["tx"])
    assert chain.escrow.shipment(sid).state is ShipmentState.DISPUTED

    # The carrier (payee) puts the out-of-band reading on record; the chain checks the proof.
    out_of_band = attested.readings[1]
    body = {"device": out_of_band.device, "seq": out_of_band.seq}
    built = ok(api.client.post(f"{base}/evidence-tx", json=body, headers=auth(world.carrier_key)))
    assert built["tx"]["from"] == chain.payee.address
    receipt = _send(api, chain.payee, built["tx"])
    stale = ok(api.client.get(base, headers=auth(world.carrier_key)))
    assert stale == shown  # the follower has not read the dispute yet
    follow(api)
    shown = ok(api.client.get(base, headers=auth(world.carrier_key)))
    on_chain = chain.escrow.shipment(sid)
    assert shown["state"] == "disputed" and shown["asOfBlock"] >= receipt["blockNumber"]
    assert shown["disputedAt"] == on_chain.disputed_at
    assert shown["disputeTimesOutAt"] == on_chain.dispute_times_out_at
    [evidence] = shown["evidence"]
    digest = reading_digest(out_of_band, chain.anchor_v1.domain())
    assert evidence["readingDigest"] == "0x" + digest.hex()
    assert evidence["submitter"] == chain.payee.address
    assert evidence["temperatureCentiC"] == 1200 and evidence["seq"] == out_of_band.seq
    assert evidence["txHash"] == "0x" + bytes(receipt["transactionHash"]).hex()
    assert evidence["blockNumber"] == receipt["blockNumber"]

    # Only the arbiter resolves; its split lands in the escrow's books.
    refused = api.client.post(
        f"{base}/resolve-tx", json={"payoutWei": 1}, headers=auth(world.buyer_key)
    )
    assert refused.status_code == 403
    amount = chain.escrow.shipment(sid).amount
    too_much = api.client.post(
        f"{base}/resolve-tx",
        json={"payoutWei": str(amount + 1)},
        headers=auth(attested.arbiter_key),
    )
    assert too_much.status_code == 422
    payout = amount * 3 // 4
    resolved = ok(
        api.client.post(
            f"{base}/resolve-tx",
            json={"payoutWei": str(payout)},
            headers=auth(attested.arbiter_key),
        )
    )
    assert resolved["tx"]["from"] == attested.arbiter.address
    _send(api, attested.arbiter, resolved["tx"])
    view = chain.escrow.shipment(sid)
    assert view.state is ShipmentState.SETTLED
    assert (view.payout, view.refund) == (payout, amount - payout)
    assert chain.escrow.owed(chain.payee.address) == payout
    follow(api)
    shown = ok(api.client.get(base, headers=auth(attested.arbiter_key)))
    assert shown["state"] == "settled"
    assert (shown["payoutWei"], shown["refundWei"]) == (str(payout), str(amount - payout))
    escrow = ok(api.client.get(f"/shipments/{sid}", headers=auth(world.buyer_key)))["escrow"]
    assert (escrow["state"], escrow["payoutWei"]) == ("settled", str(payout))

    # Settled: building another dispute transaction names the contract's reason.
    again = api.client.get(f"{base}/open-tx", headers=auth(world.carrier_key))
    assert again.status_code == 409
    assert "settled" in again.json()["detail"] and "EscrowInvalidState" in again.json()["detail"]


def test_evidence_needs_an_open_dispute_and_a_known_reading(attested: Disputed) -> None:
    api, world, sid = attested.world.api, attested.world, attested.shipment_id
    base = f"/shipments/{sid}/dispute"
    reading = attested.readings[0]
    body = {"device": reading.device, "seq": reading.seq}
    early = api.client.post(f"{base}/evidence-tx", json=body, headers=auth(world.buyer_key))
    assert early.status_code == 409
    assert "attested" in early.json()["detail"] and "EscrowInvalidState" in early.json()["detail"]
    unknown = api.client.post(
        f"{base}/evidence-tx", json={**body, "seq": 1}, headers=auth(world.buyer_key)
    )
    assert unknown.status_code == 404
    malformed = api.client.post(
        f"{base}/evidence-tx", json={"device": "0x12", "seq": -1}, headers=auth(world.buyer_key)
    )
    assert malformed.status_code == 422


def test_only_the_shipments_parties_and_arbiter(attested: Disputed) -> None:
    api, world, sid = attested.world.api, attested.world, attested.shipment_id
    base = f"/shipments/{sid}/dispute"
    # Another carrier does not even see the shipment.
    assert (
        api.client.get(f"{base}/open-tx", headers=auth(world.other_carrier_key)).status_code == 404
    )
    assert api.client.get(base, headers=auth(world.other_carrier_key)).status_code == 404
    # The arbiter (an auditor here) sees the dispute but may not open one: it is no party.
    assert ok(api.client.get(base, headers=auth(attested.arbiter_key)))["state"] == "attested"
    opening = api.client.get(f"{base}/open-tx", headers=auth(attested.arbiter_key))
    assert opening.status_code == 403
    assert "buyer's or the payee's wallet" in opening.json()["detail"]
    # Nothing to resolve before a dispute: the simulated call is refused with the reason.
    early = api.client.post(
        f"{base}/resolve-tx", json={"payoutWei": 0}, headers=auth(attested.arbiter_key)
    )
    assert early.status_code == 409 and "EscrowInvalidState" in early.json()["detail"]


def test_shipment_without_arbiter_cannot_be_disputed(world: World) -> None:
    api, chain = world.api, world.api.chain
    assert chain is not None
    sid = world.shipment_id
    for account, key in ((chain.buyer, world.buyer_key), (chain.payee, world.carrier_key)):
        signature = sign_typed(account, world.typed_data)
        ok(
            api.client.post(
                f"/shipments/{sid}/signatures", json={"signature": signature}, headers=auth(key)
            )
        )
    funding = ok(api.client.get(f"/shipments/{sid}/funding-tx", headers=auth(world.buyer_key)))
    _send(api, chain.buyer, funding["tx"])
    escrow = chain.escrow
    attestation = DeliveryAttestation(
        shipment_id=bytes.fromhex(sid[2:]),
        terms_hash=escrow.shipment(sid).terms_hash,
        evidence_root=bytes(32),
        excursion_minutes=0,
        delivered_at=latest_timestamp(chain.w3),
    )
    escrow.send_attest(
        chain.oracle, attestation, sign(attestation, escrow.domain(), bytes(chain.oracle.key))
    )
    refused = api.client.get(f"/shipments/{sid}/dispute/open-tx", headers=auth(world.buyer_key))
    assert refused.status_code == 409
    assert "no arbiter" in refused.json()["detail"]
