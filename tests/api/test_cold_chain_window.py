"""An undelivered shipment's public leg ends where its delivery could no longer be attested
(deadline + refundGrace) or where its escrow closed: its loggers' later readings, taken for
whatever they measure next, never reach this item's page (api/cold_chain.py _open_until)."""

from __future__ import annotations

from sqlalchemy import select

import store
from core.epcis.events import iso_ms
from store.db import session_factory
from store.models import EventErasure, Shipment
from store.shipments import step_events
from tests.api.delivered_v2_support import STEP_MS, delivered_v2, funded_v2, reading_row
from tests.api.flows import World, follow, ok
from tests.utils.anvil import increase_time
from tests.utils.store_factories import make_event


def test_an_undelivered_leg_stops_at_deadline_plus_refund_grace(world: World) -> None:
    api, chain = world.api, world.api.chain
    sid, shipped_ms, body = funded_v2(world)
    with store.transaction(session_factory(api.engine)) as s:
        pk = s.scalars(select(Shipment.id).where(Shipment.shipment_id == sid)).one()
        make_event(s, event_time_ms=shipped_ms, biz_step="shipping", shipment_id=pk)
        rows = [reading_row(chain, world.device, i, shipped_ms + i * STEP_MS) for i in range(3)]
        store.insert_readings(s, rows)
    increase_time(chain.w3, 3_600)  # the readings are in the past now
    follow(api)
    link = f"/01/{world.gtin}/21/{world.spare[0]}"
    (before,) = ok(api.client.get(link, params={"format": "json"}))["coldChain"]["legs"]
    assert before["status"] == "in_transit" and before["readingCount"] == 3
    # Four days on (deadline 1 day + refundGrace 4 h long past), the same logger measures
    # something else, at -18.5 degC.
    later = shipped_ms + 4 * 86_400_000
    increase_time(chain.w3, 5 * 86_400)
    follow(api)
    with store.transaction(session_factory(api.engine)) as s:
        rows = [
            reading_row(chain, world.device, 100 + i, later + i * STEP_MS, temp=-1850)
            for i in range(3)
        ]
        store.insert_readings(s, rows)
    (after,) = ok(api.client.get(link, params={"format": "json"}))["coldChain"]["legs"]
    assert after["readingCount"] == 3, after
    assert after["peak"]["c"] > -10, after["peak"]
    deadline_end = body["terms"]["deadline"] + body["terms"]["refundGrace"]
    assert after["window"]["end"] <= iso_ms(deadline_end * 1000 + 999), after["window"]


def test_a_leg_bounded_by_an_erased_step_is_not_shown(world: World) -> None:
    """An erased shipping or receiving event's times are nobody's to show: nor is its leg."""
    sid, _shipped, _worker = delivered_v2(world)
    api = world.api
    link = f"/01/{world.gtin}/21/{world.spare[0]}"
    assert ok(api.client.get(link, params={"format": "json"}))["coldChain"] is not None
    with store.transaction(session_factory(api.engine)) as s:
        shipment = s.scalars(select(Shipment).where(Shipment.shipment_id == sid)).one()
        (receiving,) = step_events(s, shipment, "receiving")
        # The erasure's record is all the view reads (store/erasure.py erase_event writes it
        # once the event is anchored and its shipment closed).
        s.add(EventErasure(event_id=receiving.id, erased_by="admin", reason="test"))
    assert ok(api.client.get(link, params={"format": "json"}))["coldChain"] is None
