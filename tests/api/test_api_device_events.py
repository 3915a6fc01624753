"""Device registrations and revocations are anchored as the carrier's events (DESIGN: an
auditor checks them from the chain): the registration event carries the device's own
proof-of-possession signature, and both prove into an anchored root."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.eip712 import DeviceRegistration, recover
from core.epcis import event_hash
from core.epcis.events import CT_OPERATOR, CT_REGISTRATION, DEVICE_URN
from store.models import Event, Leaf
from store.outbox import leaf_proof
from tests.api.flows import Api, anchor_worker, auth, ok


def test_registration_and_revocation_are_anchored_carrier_events(api: Api) -> None:
    chain = api.chain
    assert chain is not None
    key = api.principal("carrier", chain.payee.address)
    carrier_id = api.principal_id(key)
    device = api.device(key, chain.payee)
    ok(api.client.delete(f"/devices/{device.address}", headers=auth(key)))
    with Session(api.engine) as session:
        events = list(
            session.scalars(select(Event).where(Event.recorded_by == carrier_id).order_by(Event.id))
        )
    assert [(e.biz_step, e.shipment_id) for e in events] == [
        ("commissioning", None),
        ("decommissioning", None),
    ]
    registered, revoked = (json.loads(e.event_json) for e in events)
    for body, action in ((registered, "ADD"), (revoked, "DELETE")):
        assert body["epcList"] == [DEVICE_URN + device.address] and body["action"] == action
        assert body[CT_OPERATOR] == chain.payee.address
    for stored, body in zip(events, (registered, revoked), strict=True):
        assert bytes(stored.event_hash) == event_hash(body)  # what is anchored is what it says
    # The registration carries the device key's own signature over (device, operator).
    message = DeviceRegistration(device=device.address, operator=chain.payee.address)
    signature = bytes.fromhex(registered[CT_REGISTRATION].removeprefix("0x"))
    assert recover(message, chain.anchor_v1.domain(), signature) == device.address

    worker = anchor_worker(api)
    worker.run_once()
    with Session(api.engine) as session:
        for stored in events:
            leaf = session.scalars(
                select(Leaf).where(Leaf.event_id == stored.id, Leaf.kind == 0)
            ).one()
            assert leaf.batch is not None
            proof = leaf_proof(leaf, leaf.batch)
            assert proof is not None
            assert chain.anchor.verify(0, bytes(stored.event_hash), bytes(leaf.salt), proof)
