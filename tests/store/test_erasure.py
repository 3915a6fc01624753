"""Erasure rules in the store (no chain needed): an open shipment's event is refused until the
shipment closes; a commissioning never is."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.merkle import MerkleTree
from store.admin_log import Actor, admin_log_page
from store.db import transaction
from store.erasure import ErasureRefused, erase_event
from store.models import (
    AnchorBatch,
    BatchStatus,
    Event,
    Leaf,
    Role,
    Shipment,
    ShipmentStatus,
)
from store.outbox import claim_pending_leaves, create_batch
from tests.utils.store_factories import (
    make_event,
    make_item,
    make_principal,
    make_product,
    make_shipment,
)

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


@pytest.mark.parametrize("how", ["biz step", "item's commissioning"])
def test_a_commissioning_is_never_erased(db_sessions: sessionmaker[Session], how: str) -> None:
    """Its items' verdict rests on it: erasing it would leave a verdict nobody can check."""
    with transaction(db_sessions) as session:
        brand = make_principal(session, Role.BRAND)
        step = "commissioning" if how == "biz step" else "observing"
        event = make_event(session, recorded_by=brand.id, biz_step=step)
        if how != "biz step":
            make_item(session, make_product(session)).commission_event_id = event.id
        _anchor_all(session)
        event_id, json_before = event.id, event.event_json
    with (
        pytest.raises(ErasureRefused, match="is a commissioning"),
        transaction(db_sessions) as session,
    ):
        erase_event(session, event_id, DPO, "request")
    with db_sessions() as session:
        assert session.get_one(Event, event_id).event_json == json_before
        assert session.scalars(select(Leaf.salt).where(Leaf.event_id == event_id)).one() != b""
        assert admin_log_page(session, action="event.erase") == []
