"""Read queries: item history with leaves and batches, shipment readings and events."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.merkle import MerkleTree
from store.batches import mark_sent
from store.db import transaction
from store.errors import NotFoundError, StoreValueError
from store.models import BatchStatus
from store.outbox import claim_pending_leaves, create_batch
from store.queries import (
    event_record,
    find_item,
    item_history,
    readings_for_shipment,
    shipment_events,
)
from store.readings import insert_readings
from tests.utils.store_factories import (
    make_event,
    make_item,
    make_product,
    make_shipment,
    random_address,
    reading_row,
)

T0 = 1_700_000_000_000


def test_item_history_in_event_time_order_with_anchoring(
    db_sessions: sessionmaker[Session],
) -> None:
    with transaction(db_sessions) as session:
        product = make_product(session, gtin="09520123456788")
        item = make_item(session, product, "SER-1")
        other = make_item(session, product, "SER-2")
        # Commissioning links the item through commission_event_id only.
        commission = make_event(session, event_time_ms=T0, biz_step="commissioning")
        item.commission_event_id = commission.id
        # Recorded out of order: history follows event time, not insertion.
        arriving = make_event(session, event_time_ms=T0 + 3000, item_ids=(item.id,))
        shipping = make_event(session, event_time_ms=T0 + 2000, item_ids=(item.id, other.id))
        packing = make_event(session, event_time_ms=T0 + 1000, item_ids=(other.id,))
        expected = [commission.id, shipping.id, arriving.id]
    with transaction(db_sessions) as session:
        # Anchor the two oldest leaves (commission, arriving); shipping stays pending.
        leaves = claim_pending_leaves(session, 2)
        tree = MerkleTree.build([leaf.leaf_hash for leaf in leaves])
        batch = create_batch(session, tree, leaves)
        mark_sent(session, batch.id, tx_hash="0x" + "11" * 32, raw_tx=b"\x02", nonce=0)
    with db_sessions() as session:
        history = item_history(session, "09520123456788", "SER-1")
        assert [record.event.id for record in history] == expected
        by_id = {record.event.id: record for record in history}
        commission_batch = by_id[commission.id].batch
        assert commission_batch is not None and commission_batch.status is BatchStatus.SENT
        assert by_id[arriving.id].batch is not None
        pending = by_id[shipping.id]
        assert pending.leaf is not None and pending.batch is None and pending.leaf.proof is None
        assert all(record.leaf is not None for record in history)
        other_history = item_history(session, "09520123456788", "SER-2")
        assert [record.event.id for record in other_history] == [packing.id, shipping.id]


def test_unknown_item(db_session: Session) -> None:
    make_item(db_session, make_product(db_session, gtin="09520123456788"), "A")
    assert find_item(db_session, "09520123456788", "B") is None
    with pytest.raises(NotFoundError):
        item_history(db_session, "09520123456788", "B")
    with pytest.raises(NotFoundError):
        item_history(db_session, "00000000000000", "A")


def test_event_record_by_identity(db_session: Session) -> None:
    event = make_event(db_session)
    record = event_record(db_session, 0, event.event_hash)
    assert record is not None and record.event is event and record.leaf is event.leaf
    assert record.batch is None
    assert event_record(db_session, 1, event.event_hash) is None
    with pytest.raises(StoreValueError):
        event_record(db_session, 0, b"short")


def test_readings_for_shipment_by_time_with_window(db_session: Session) -> None:
    shipment, elsewhere = make_shipment(db_session), make_shipment(db_session)
    a, b = random_address(), random_address()
    rows = [
        reading_row(a, 1, taken_at_ms=T0 + 2000, shipment_id=shipment.id),
        reading_row(b, 9, taken_at_ms=T0 + 1000, shipment_id=shipment.id),
        reading_row(a, 2, taken_at_ms=T0 + 3000, shipment_id=shipment.id),
        reading_row(b, 10, taken_at_ms=T0 + 2000, shipment_id=shipment.id),
        reading_row(a, 3, taken_at_ms=T0 + 1500, shipment_id=elsewhere.id),
        reading_row(b, 11, taken_at_ms=T0 + 1200),
    ]
    assert insert_readings(db_session, rows).inserted == 6
    got = readings_for_shipment(db_session, shipment.id)
    assert [r.taken_at_ms - T0 for r in got] == [1000, 2000, 2000, 3000]
    # Same instant: ordered by device address, then seq.
    assert [r.device_address for r in got[1:3]] == sorted(r.device_address for r in got[1:3])
    window = readings_for_shipment(db_session, shipment.id, since_ms=T0 + 2000, until_ms=T0 + 3000)
    assert [r.taken_at_ms - T0 for r in window] == [2000, 2000]
    assert len(readings_for_shipment(db_session, shipment.id, limit=1)) == 1
    assert readings_for_shipment(db_session, shipment.id + 1000) == []


def test_shipment_events(db_session: Session) -> None:
    shipment = make_shipment(db_session)
    late = make_event(db_session, event_time_ms=T0 + 5, shipment_id=shipment.id)
    early = make_event(db_session, event_time_ms=T0, shipment_id=shipment.id)
    make_event(db_session, event_time_ms=T0 + 1)
    assert [r.event.id for r in shipment_events(db_session, shipment.id)] == [early.id, late.id]
