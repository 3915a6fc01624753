"""The item view's `coldChain` on the demo's trip: the band and window of its terms, the minutes
the settlement attested, the 9.5 degC excursion with its peak, nothing private; an item that
never travelled has none."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

import store
from api.cold_chain_chart import render_chart
from chain.settlement.attestation import delivery_facts, first_step_time, verified_terms
from chaintrace.story import MINUTE_MS
from core.eip712 import anchor_domain
from core.epcis.events import iso_ms
from store.chain_view import escrow_view
from store.db import make_engine, session_factory
from store.models import Shipment
from tests.api.cold_chain_support import english, short_time
from tests.api.delivered_v2_support import HOT, STEP_MS, delivered_v2, reading_row
from tests.api.demo_item_support import DemoItem, demo_item, leaks
from tests.api.flows import World, auth, follow, ok

__all__ = ["demo_item"]


def _shipment(demo_item: DemoItem) -> dict[str, Any]:
    """What the settlement computes for the demo's shipment, straight from the store."""
    engine = make_engine(demo_item.database_url)
    try:
        with session_factory(engine)() as s:
            shipment = s.scalars(select(Shipment)).one()
            view = escrow_view(s, shipment.shipment_id, shipment.terms_hash)
            assert view is not None and view.terms_hash is not None
            terms = verified_terms(shipment, bytes.fromhex(view.terms_hash[2:]))
            d = demo_item.deployment
            facts = delivery_facts(s, shipment, terms, anchor_domain(d.chain_id, d.trace_anchor))
            return {
                "minutes": facts.excursion_minutes,
                "attested": shipment.excursion_minutes,
                "readings": facts.readings_used,
                "shipped": first_step_time(s, shipment, "shipping"),
                "received": first_step_time(s, shipment, "receiving"),
            }
    finally:
        engine.dispose()


def test_the_demo_leg_shows_the_terms_and_what_the_settlement_counted(
    demo_item: DemoItem,
) -> None:
    legs = json.loads(demo_item.json_text)["coldChain"]["legs"]
    assert len(legs) == 1
    leg = legs[0]
    settled = _shipment(demo_item)
    assert leg["status"] == "delivered"
    assert leg["band"] == {"minC": 2.0, "maxC": 8.0}
    assert leg["humidityBand"] is None and leg["maxShockMilliG"] is None  # v1 terms set neither
    assert leg["window"] == {
        "start": iso_ms(settled["shipped"]),
        "end": iso_ms(settled["received"]),
    }
    # The same minutes as the settlement's function and as the oracle attested on chain.
    assert leg["excursionMinutes"] == settled["minutes"] == settled["attested"] == 6
    assert leg["readingCount"] == settled["readings"] == 80
    assert leg["sensors"] == 2 and len(leg["series"]) == 2
    # Device 0 held 9.5 degC from its 16th reading for eight minutes (2 of them grace).
    t0 = demo_item.story.t0_ms
    hot_from = t0 + 16 * MINUTE_MS
    assert leg["excursions"] == [
        {
            "start": iso_ms(hot_from),
            "end": iso_ms(hot_from + 8 * MINUTE_MS),
            "minutes": 6,
            "cause": "temperature",
            "peakC": 9.5,
            "peakAt": iso_ms(hot_from),
        }
    ]
    assert leg["peak"] == {"c": 9.5, "at": iso_ms(hot_from)}
    assert leg["gaps"] == []
    assert leg["shocks"] is None


def test_the_demo_leg_and_its_chart_show_nothing_private(demo_item: DemoItem) -> None:
    view = json.loads(demo_item.json_text)
    leg = view["coldChain"]["legs"][0]
    text = json.dumps(view["coldChain"]) + render_chart(leg, english, short_time)
    assert not leaks(text, demo_item.secrets)
    amount = str(demo_item.story.result.amount_wei)
    assert amount not in text and "0x" not in text  # no amount, no address or id of any kind


def test_the_demo_history_lists_no_sensor_window(demo_item: DemoItem) -> None:
    """Sensor windows name the shipment's container, not the item: they are in the chart."""
    steps = [entry["bizStep"] for entry in json.loads(demo_item.json_text)["history"]]
    assert steps == ["commissioning", "packing", "shipping", "arriving", "receiving"]


def test_no_cold_chain_without_a_shipment_the_escrow_holds(world: World) -> None:
    """An item in no shipment, and one shipped under terms no escrow holds: nothing to show."""
    api = world.api
    headers = {"Authorization": f"Bearer {world.carrier_key}"}
    url = f"/shipments/{world.shipment_id}/events"
    ok(api.client.post(url, json={"bizStep": "shipping"}, headers=headers), 201)
    for serial in (world.spare[0], world.serials[0]):
        body = ok(api.client.get(f"/01/{world.gtin}/21/{serial}", params={"format": "json"}))
        assert body["coldChain"] is None
    shipped = ok(
        api.client.get(f"/01/{world.gtin}/21/{world.serials[0]}", params={"format": "json"})
    )
    assert [e["bizStep"] for e in shipped["history"]][-1] == "shipping"  # it did ship


def test_a_v2_leg_counts_what_the_report_and_then_the_attestation_count(world: World) -> None:
    api = world.api
    sid, shipped_ms, worker = delivered_v2(world)
    follow(api)  # the chain's clock, past the receiving
    report = ok(api.client.get(f"/shipments/{sid}/report", headers=auth(world.buyer_key)))
    link = f"/01/{world.gtin}/21/{world.spare[0]}"

    def leg() -> dict[str, Any]:
        (only,) = ok(api.client.get(link, params={"format": "json"}))["coldChain"]["legs"]
        return dict(only)

    before = leg()
    assert before["status"] == "delivered"
    assert before["window"] == {
        "start": iso_ms(report["windowStart"] * 1000),
        "end": iso_ms(report["windowEnd"] * 1000 + 999),
    }
    assert before["excursionMinutes"] == report["excursionMinutes"] == 20
    assert before["readingCount"] == report["evidenceReadings"] == 12
    hot_from = shipped_ms + HOT.start * STEP_MS
    assert before["excursions"] == [
        {
            "start": iso_ms(hot_from),
            "end": iso_ms(shipped_ms + HOT.stop * STEP_MS),
            "minutes": 20,
            "cause": "temperature",
            "peakC": 10.0,
            "peakAt": iso_ms(hot_from),
        }
    ]
    assert before["humidityBand"] is None and before["maxShockMilliG"] is None
    assert worker.run_once().attested == [sid]
    follow(api)
    with session_factory(api.engine)() as s:
        attested = escrow_view(s, sid)
        assert attested is not None and attested.state == "attested"
        shipment = s.scalars(select(Shipment).where(Shipment.shipment_id == sid)).one()
        assert shipment.excursion_minutes == 20  # what the oracle attested
    assert leg() == before  # as attested
    # A reading stored after the attestation, inside the window and the excursion (in band: it
    # would cut the excursion short): the leg still shows what the oracle attested.
    late_ms = shipped_ms + 5 * STEP_MS + 60_000
    with store.transaction(session_factory(api.engine)) as s:
        store.insert_readings(s, [reading_row(api.chain, world.device, 40, late_ms)])
    assert leg() == before
    text = json.dumps(leg())
    assert sid[2:].lower() not in text.lower() and world.device.address[2:].lower() not in text


def test_a_reading_stored_before_the_attestation_shows_at_once(world: World) -> None:
    """A received leg is kept between scans, but not past a reading that changes it."""
    api = world.api
    assert api.chain is not None
    sid, shipped_ms, _ = delivered_v2(world)
    follow(api)
    link = f"/01/{world.gtin}/21/{world.spare[0]}"
    url = f"/shipments/{sid}/report"

    def minutes() -> tuple[int, int]:
        (leg,) = ok(api.client.get(link, params={"format": "json"}))["coldChain"]["legs"]
        report = ok(api.client.get(url, headers=auth(world.buyer_key)))
        return leg["excursionMinutes"], report["excursionMinutes"]

    assert minutes() == (20, 20)
    late_ms = shipped_ms + 5 * STEP_MS + 60_000  # in band, inside the excursion: cuts it short
    with store.transaction(session_factory(api.engine)) as s:
        store.insert_readings(s, [reading_row(api.chain, world.device, 40, late_ms)])
    shown, reported = minutes()
    assert shown == reported != 20
