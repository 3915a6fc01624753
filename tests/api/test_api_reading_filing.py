"""Readings a carrier's logger took before the carrier recorded shipping are filed with it,
whichever route recorded the shipping (the dedicated endpoint or the EPCIS capture)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import store
from store.models import Reading, Shipment
from tests.api.flows import World, ok
from tests.api.shipment_event_via import VIAS, post_event
from tests.utils.store_factories import reading_row


@pytest.mark.parametrize("via", VIAS)
def test_readings_taken_before_shipping_was_recorded_are_filed_with_it(
    world: World, via: str
) -> None:
    """The gateway files readings only under a shipment the carrier took on; those its logger
    took from the (backdated) shipping time on, before the carrier recorded it, follow then."""
    now_ms = int(time.time() * 1000)
    shipped_ms = now_ms - 20 * 60_000
    rows = [
        reading_row(world.device.address, seq, taken_at_ms=shipped_ms + (seq - 2) * 60_000)
        for seq in range(6)  # seqs 0-1 before the shipping time, 2-5 after
    ]
    with Session(world.api.engine) as session:
        store.insert_readings(session, [{**r, "shipment_id": None} for r in rows])
        session.commit()
    iso = datetime.fromtimestamp(shipped_ms / 1000, UTC).isoformat()
    body = {"bizStep": "shipping", "eventTime": iso}
    ok(post_event(world, world.carrier_key, body, via), 201)
    with Session(world.api.engine) as session:
        pk = session.scalars(
            select(Shipment.id).where(Shipment.shipment_id == world.shipment_id)
        ).one()
        filed = session.scalars(
            select(Reading.seq).where(Reading.shipment_id == pk).order_by(Reading.seq)
        ).all()
    assert list(filed) == [2, 3, 4, 5]
