"""Kind 2 leaves in the store: made as events are recorded (one by one and in bulk), with the
public locations of the moment; kept out of roots a TraceAnchor v1 would get; erased with their
event; read per item with their batch and proof."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.epcis.events import commissioning_event, shipment_event
from core.epcis.hashed_event import HashedEvent
from core.epcis.projection import projection, projection_hash
from core.gs1 import check_digit, sgtin_urn
from core.merkle import MerkleTree, member_leaf_hash, process_proof
from store.admin_log import Actor
from store.db import transaction
from store.erasure import erase_event
from store.member_leaves import member_leaves_of_item
from store.models import BatchStatus, Event, Item, Leaf, Location, ShipmentStatus
from store.models.events import MEMBER_KIND
from store.outbox import claim_pending, claim_pending_leaves, create_batch
from store.recording import record_event, record_events
from tests.utils.store_factories import make_principal, make_product, make_shipment

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PUBLIC = "urn:epc:id:sgln:0614141.00001.0"
PRIVATE = "urn:epc:id:sgln:0614141.00002.0"
EPCS = [f"urn:epc:id:sgtin:0614141.107346.S{i}" for i in range(3)]


def _shipping(epcs: list[str], minute: int = 0) -> dict[str, Any]:
    event = shipment_event(
        "shipping",
        epcs,
        AT.replace(minute=minute),
        "0x" + "5e" * 32,
        read_point=PUBLIC,
        biz_location=PRIVATE,
    )
    return json.loads(json.dumps(event))


def _register(session: Session) -> None:
    owner = make_principal(session).id
    for place, public in ((PUBLIC, True), (PRIVATE, False)):
        session.add(
            Location(
                location_id=place,
                gln="0614141000012" if public else "0614141000029",
                name=place,
                public=public,
                owner_principal_id=owner,
            )
        )
    session.flush()


def _check_members(session: Session, event_id: int, body: dict[str, Any]) -> None:
    event = session.get_one(Event, event_id)
    assert event.leaf is not None and event.leaf.kind == 0 and event.leaf.epc == ""
    members = event.member_leaves
    assert [leaf.epc for leaf in members] == EPCS
    for leaf in members:
        assert leaf.kind == MEMBER_KIND and leaf.batch_id is None  # pending, in the outbox
        projected = json.loads(str(leaf.projection_json))
        assert projected == projection(body, leaf.epc, {PUBLIC})
        assert projected["readPoint"] == {"id": PUBLIC} and "bizLocation" not in projected
        assert leaf.leaf_hash == member_leaf_hash(0, projection_hash(projected), leaf.salt)
    assert len({leaf.salt for leaf in members}) == 3  # a fresh salt each


def test_recording_an_event_adds_a_kind_2_leaf_per_epc_with_the_public_locations(
    db_sessions: sessionmaker[Session],
) -> None:
    body = _shipping(EPCS)
    with transaction(db_sessions) as session:
        _register(session)
        event_id = record_event(session, HashedEvent.of(body), recorded_by=None).id
    with db_sessions() as session:
        _check_members(session, event_id, body)
        assert session.query(Leaf).count() == 4


def test_recording_in_bulk_adds_the_same_kind_2_leaves(
    db_sessions: sessionmaker[Session],
) -> None:
    bodies = [_shipping(EPCS, minute) for minute in range(3)]
    other = {"type": "AssociationEvent", "eventTime": "2026-03-01T12:00:00Z"}
    with transaction(db_sessions) as session:
        _register(session)
        ids = record_events(
            session,
            [{"event": HashedEvent.of(b), "recorded_by": None} for b in bodies]
            + [
                {
                    "event": HashedEvent(
                        0, b"\x01" * 32, json.dumps(other), "AssociationEvent", None, 1
                    ),
                    "recorded_by": None,
                }
            ],
        )
    with db_sessions() as session:
        for event_id, body in zip(ids, bodies, strict=False):
            _check_members(session, event_id, body)
        assert session.get_one(Event, ids[3]).member_leaves == []  # not a projected type
        assert session.query(Leaf).count() == 3 * 4 + 1


def test_a_release_that_cannot_verify_kind_2_gets_only_kinds_0_and_1(
    db_sessions: sessionmaker[Session],
) -> None:
    with transaction(db_sessions) as session:
        record_event(session, HashedEvent.of(_shipping(EPCS)), recorded_by=None)
    with db_sessions() as session:
        assert len(claim_pending(session, 10)) == 4
        assert [p.event_id for p in claim_pending(session, 10, max_kind=1)] == [
            p.event_id for p in claim_pending(session, 1)
        ]
        assert len(claim_pending(session, 10, max_kind=1)) == 1


def _anchor_all(session: Session) -> None:
    leaves = claim_pending_leaves(session, 100)
    batch = create_batch(session, MerkleTree.build([leaf.leaf_hash for leaf in leaves]), leaves)
    batch.status = BatchStatus.ANCHORED
    session.flush()


def test_erasing_an_event_erases_its_kind_2_salts_and_projections(
    db_sessions: sessionmaker[Session],
) -> None:
    with transaction(db_sessions) as session:
        shipment = make_shipment(session)
        shipment.status = ShipmentStatus.SETTLED
        event = record_event(
            session, HashedEvent.of(_shipping(EPCS)), recorded_by=None, shipment_id=shipment.id
        )
        event_id = event.id
        _anchor_all(session)
        before = {leaf.id: leaf.leaf_hash for leaf in event.member_leaves}
    with transaction(db_sessions) as session:
        erase_event(session, event_id, Actor.cli("dpo"), "request")
    with db_sessions() as session:
        members = session.get_one(Event, event_id).member_leaves
        assert {leaf.id: leaf.leaf_hash for leaf in members} == before
        assert {(leaf.salt, leaf.projection_json) for leaf in members} == {(b"", "")}


def _gtin(prefix: str) -> str:
    body = "0" + prefix + "00001"
    return body + check_digit(body)


def test_an_items_member_leaves_give_each_events_projection_for_its_epc_with_proof(
    db_sessions: sessionmaker[Session],
) -> None:
    with transaction(db_sessions) as session:
        _register(session)
        product = make_product(session)
        product.gtin = _gtin(product.brand.company_prefix)
        item = Item(product_id=product.id, serial="A1")
        session.add(item)
        session.flush()
        epc = sgtin_urn(product.gtin, "A1", len(product.brand.company_prefix))
        commissioning = json.loads(json.dumps(commissioning_event(epc, AT, PUBLIC, None)))
        first = record_event(
            session, HashedEvent.of(commissioning), recorded_by=None, item_ids=[item.id]
        )
        item.commission_event_id = first.id
        shipping = _shipping([EPCS[0], epc], minute=5)
        second = record_event(
            session, HashedEvent.of(shipping), recorded_by=None, item_ids=[item.id]
        )
        _anchor_all(session)
        # Recorded before kind 2 leaves existed (none made): no entry until the backfill.
        receiving = _shipping([epc], minute=9)
        receiving["bizStep"] = "receiving"
        record_event(
            session, HashedEvent.of(receiving), recorded_by=None, item_ids=[item.id], members=[]
        )
        ids = (first.id, second.id)
        item_id = item.id
    with db_sessions() as session:
        item = session.get_one(Item, item_id)
        found = member_leaves_of_item(session, item)
        assert [(m.event_id, m.epc) for m in found] == [(ids[0], epc), (ids[1], epc)]
        assert found[1].projection == projection(shipping, epc, {PUBLIC})
        for member in found:
            assert member.projection is not None and member.salt is not None
            assert member.projection_hash == projection_hash(member.projection)
            assert member.leaf == member_leaf_hash(0, member.projection_hash, member.salt)
            assert member.status == "anchored" and member.finality == "anchored"
            assert member.root is not None and member.proof is not None
            proof = [bytes.fromhex(p[2:]) for p in member.proof]
            assert process_proof(member.leaf, proof) == member.root
        stored = session.scalars(select(Leaf).where(Leaf.kind == MEMBER_KIND)).all()
        assert len(stored) == 1 + 2  # the commissioning's one EPC, the shipping's two
