"""Custody: items are shipped only with their custodian's consent (issue 11).

Replays the attack of the issue: a buyer lists a brand's items in a shipment nobody who holds
them agreed to. Without consent it cannot be funded through the API and it holds no items.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.gs1 import normalize_gtin
from store.models import Shipment, ShipmentStatus
from tests.api.flows import World, approve_custody, auth, ok, sign_typed


def _body(world: World, serials: list[str]) -> dict[str, Any]:
    chain = world.api.chain
    assert chain is not None
    return {
        "carrier": world.api.principal_id(world.carrier_key),
        "payee": chain.payee.address,
        "items": [{"gtin": world.gtin, "serial": s} for s in serials],
        "devices": [world.device.address],
        "terms": world.api.terms(),
    }


def _create(world: World, key: str, serials: list[str]) -> Any:
    return world.api.client.post("/shipments", json=_body(world, serials), headers=auth(key))


def _shown(world: World, key: str, sid: str) -> dict[str, Any]:
    return dict(ok(world.api.client.get(f"/shipments/{sid}", headers=auth(key))))


def test_a_stranger_buyer_cannot_take_a_brands_items(world: World) -> None:
    chain = world.api.chain
    assert chain is not None
    wallet = Account.create()
    stranger = world.api.principal("buyer", wallet.address, "Stranger Shop")
    listed = ok(_create(world, stranger, world.spare[:1]), 201)
    sid = listed["shipmentId"]
    assert not _shown(world, stranger, sid)["custodyComplete"]
    for account, key in ((wallet, stranger), (chain.payee, world.carrier_key)):  # all signed
        body = {"signature": sign_typed(account, listed["typedData"])}
        ok(world.api.client.post(f"/shipments/{sid}/signatures", json=body, headers=auth(key)))
    refused = world.api.client.get(f"/shipments/{sid}/funding-tx", headers=auth(stranger))
    assert refused.status_code == 409 and "custodians" in refused.json()["detail"]
    # Nor does it write a journey onto the items' pages (also when funded straight on chain).
    shipping = world.api.client.post(
        f"/shipments/{sid}/events", json={"bizStep": "shipping"}, headers=auth(world.carrier_key)
    )
    assert shipping.status_code == 409 and "custodians" in shipping.json()["detail"]
    # Nobody but the custodian can consent; to anyone else the shipment does not exist.
    for key in (stranger, world.other_carrier_key, world.buyer_key):
        url = f"/shipments/{sid}/custody-approval"
        assert world.api.client.post(url, headers=auth(key)).status_code == 404
    # The listing holds nothing: the brand's own customer lists the same item.
    own = ok(_create(world, world.buyer_key, world.spare[:1]), 201)
    approved = approve_custody(world.api, world.brand_key, own["shipmentId"])
    assert approved["custodyComplete"]
    assert approved["items"] == [{"gtin": normalize_gtin(world.gtin), "serial": world.spare[0]}]
    # Now it is held: a third listing is refused, without naming the holder.
    again = _create(world, stranger, world.spare[:1])
    assert again.status_code == 409 and own["shipmentId"] not in again.text


def test_after_delivery_the_consignee_holds_the_items(world: World) -> None:
    with Session(world.api.engine) as session:  # the world's shipment was delivered
        shipment = session.scalars(
            select(Shipment).where(Shipment.shipment_id == world.shipment_id)
        ).one()
        shipment.status = ShipmentStatus.RECEIVED
        session.commit()
    onward = ok(_create(world, world.buyer_key, world.serials), 201)
    sid = onward["shipmentId"]
    assert _shown(world, world.buyer_key, sid)["custodyComplete"]  # the buyer holds them
    url = f"/shipments/{sid}/custody-approval"
    assert world.api.client.post(url, headers=auth(world.brand_key)).status_code == 404


def _set(world: World, sid: str, **values: Any) -> None:
    with Session(world.api.engine) as session:
        shipment = session.scalars(select(Shipment).where(Shipment.shipment_id == sid)).one()
        for key, value in values.items():
            setattr(shipment, key, value)
        session.commit()


def test_funding_straight_on_chain_takes_no_custody(world: World) -> None:
    """Funded without the custodian's consent (the follower saw the deposit), a shipment holds
    none of the items, and delivering it does not make its consignee their custodian."""
    stranger = world.api.principal("buyer", Account.create().address, "Stranger Shop")
    sid = ok(_create(world, stranger, world.spare[:1]), 201)["shipmentId"]
    _set(world, sid, status=ShipmentStatus.FUNDED)
    own = ok(_create(world, world.buyer_key, world.spare[:1]), 201)  # not held by it
    _set(world, sid, status=ShipmentStatus.RECEIVED)
    # Still the brand's items: the brand approves the legitimate shipment, not the stranger.
    assert approve_custody(world.api, world.brand_key, own["shipmentId"])["custodyComplete"]
    onward = ok(_create(world, stranger, world.spare[1:2]), 201)["shipmentId"]
    assert not _shown(world, stranger, onward)["custodyComplete"]


def test_shipments_from_before_custody_go_on_as_they_were(world: World) -> None:
    """A shipment stored before migration 0012 (custody_required false) is not stalled."""
    stranger = world.api.principal("buyer", Account.create().address, "Stranger Shop")
    sid = ok(_create(world, stranger, world.spare[:1]), 201)["shipmentId"]
    _set(world, sid, custody_required=False)
    assert _shown(world, stranger, sid)["custodyComplete"]
    shipping = world.api.client.post(
        f"/shipments/{sid}/events", json={"bizStep": "shipping"}, headers=auth(world.carrier_key)
    )
    assert shipping.status_code == 201


def test_a_custodian_sees_the_shipments_waiting_for_it(world: World) -> None:
    url = "/custody-requests"
    assert ok(world.api.client.get(url, headers=auth(world.brand_key))) == []  # world's approved
    waiting = ok(_create(world, world.buyer_key, world.spare[:2]), 201)["shipmentId"]
    (request,) = ok(world.api.client.get(url, headers=auth(world.brand_key)))
    assert request["shipmentId"] == waiting and request["buyer"] == "Corner Shop"
    assert {i["serial"] for i in request["items"]} == set(world.spare[:2])
    # Nobody else is asked, and no one learns of it.
    for key in (world.buyer_key, world.carrier_key, world.other_carrier_key):
        assert ok(world.api.client.get(url, headers=auth(key))) == []
    approve_custody(world.api, world.brand_key, waiting)
    assert ok(world.api.client.get(url, headers=auth(world.brand_key))) == []
