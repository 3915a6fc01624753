"""Erasure rules in the store (no chain needed): an open shipment's event is refused until the
shipment closes; the signed commissioning draft's copies of the salt and JSON go too."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.hexstr import hex0x
from core.merkle import MerkleTree
from store.admin_log import Actor
from store.db import transaction
from store.erasure import ErasureRefused, erase_event
from store.models import (
    AnchorBatch,
    BatchStatus,
    CommissioningDraft,
    Event,
    Leaf,
    Role,
    Shipment,
    ShipmentStatus,
)
from store.outbox import claim_pending_leaves, create_batch
from tests.utils.store_factories import make_event, make_principal, make_shipment, random_address

DPO = Actor.cli("dpo")


def _anchor_all(session: Session) -> AnchorBatch:
    leaves = claim_pending_leaves(session, 100)
    batch = create_batch(session, MerkleTree.build([leaf.leaf_hash for leaf in leaves]), leaves)
    batch.status = BatchStatus.ANCHORED
    session.flush()
    return batch


def test_an_open_shipments_event_is_erased_only_once_the_shipment_closes(
    db_sessions: sessionmaker[Session],
) -> None:
    with transaction(db_sessions) as session:
        shipment = make_shipment(session)
        event_id = make_event(session, shipment_id=shipment.id, biz_step="receiving").id
        _anchor_all(session)
        shipment_pk = shipment.id
    with (
        pytest.raises(ErasureRefused, match="which is created"),
        transaction(db_sessions) as session,
    ):
        erase_event(session, event_id, DPO, "request")
    with transaction(db_sessions) as session:
        session.get_one(Shipment, shipment_pk).status = ShipmentStatus.SETTLED
    with transaction(db_sessions) as session:
        erase_event(session, event_id, DPO, "request")
    with db_sessions() as session:
        assert session.get_one(Event, event_id).event_json == ""


def test_the_signed_commissioning_drafts_copies_go_too(db_sessions: sessionmaker[Session]) -> None:
    with transaction(db_sessions) as session:
        brand = make_principal(session, Role.BRAND)
        erased = make_event(session, recorded_by=brand.id, biz_step="commissioning")
        kept = make_event(session, recorded_by=brand.id, biz_step="commissioning")
        batch = _anchor_all(session)
        batch.brand_address = random_address()
        leaves = {leaf.event_id: leaf for leaf in session.scalars(select(Leaf).order_by(Leaf.id))}
        entries = [
            {
                "serial": str(event.id),
                "leaf": hex0x(leaves[event.id].leaf_hash),
                "salt": hex0x(leaves[event.id].salt),
                "eventJson": event.event_json,
            }
            for event in (erased, kept)
        ]
        draft = {"root": hex0x(batch.root), "events": entries, "status": "submitted"}
        session.add(
            CommissioningDraft(id="d" * 32, principal_id=brand.id, status="submitted", draft=draft)
        )
        erased_id, kept_json = erased.id, kept.event_json
    with transaction(db_sessions) as session:
        erase_event(session, erased_id, DPO, "request")
    with db_sessions() as session:
        first, second = session.get_one(CommissioningDraft, "d" * 32).draft["events"]
    assert first["eventJson"] is None and first["salt"] is None and first["leaf"]
    assert second["eventJson"] == kept_json and second["salt"] is not None
