"""Write rights (issue 15): an EPCIS event naming a chaintrace shipment passes the shipment's rules
whichever endpoint it arrives through, in document order and in one transaction; EPCIS sensor data
never counts for settlement.

The time rules (each step once, backdating, the future, order after the shipping, corrections)
run through the three routes in tests/api/test_api_event_times.py; the cases here add roles, the
shipment's items, consent, sensor data and what a capture document does with several events.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core.epcis.events import shipment_transaction
from store.db import session_factory
from store.models import CaptureJob, Event, EventCapturer, Shipment
from tests.api.flows import World, auth, ok
from tests.api.shipment_event_via import (
    VIAS,
    ViaWorld,
    as_epcis,
    document,
    post_event,
)
from tests.api.shipments_v2_support import _escrow

SKU = "urn:epc:id:sgtin:0614141.012345."
_SENSORS = [
    {
        "sensorMetadata": {"time": "2026-07-22T06:40:00.000Z", "deviceID": "urn:epc:id:giai:1.1"},
        "sensorReport": [{"type": "Temperature", "value": 41.0, "uom": "CEL"}],
    }
]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ago(seconds: float) -> str:
    return _iso(datetime.now(UTC) - timedelta(seconds=seconds))


def _full(world: World, step: str, seconds_ago: float, **extra: Any) -> dict[str, Any]:
    """A full EPCIS event of `step` naming the world's shipment and its items."""
    return as_epcis(
        world,
        {
            "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "ObjectEvent",
            "eventTime": _ago(seconds_ago),
            "eventTimeZoneOffset": "+00:00",
            "epcList": [SKU + s for s in world.serials],
            "action": "OBSERVE",
            "bizStep": step,
            **extra,
        },
    )


def _stored(world: World) -> tuple[int, int, str]:
    """(events, capture jobs, the shipment's status) in the store."""
    with session_factory(world.api.engine)() as session:
        events = int(session.scalar(select(func.count()).select_from(Event)) or 0)
        jobs = int(session.scalar(select(func.count()).select_from(CaptureJob)) or 0)
        status = session.scalars(
            select(Shipment.status).where(Shipment.shipment_id == world.shipment_id)
        ).one()
    return events, jobs, str(status.value)


def _field(answer: Any) -> tuple[list[Any], str]:
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["detail"]
    return error["loc"], error["msg"]


@pytest.mark.parametrize("via", VIAS)
def test_roles_items_and_sensor_data_are_the_shipments_rules(world: World, via: str) -> None:
    there = ViaWorld(**world.__dict__, via=via)
    before = _stored(world)
    consignee = post_event(there, world.buyer_key, {"bizStep": "shipping"})
    assert consignee.status_code == 403, consignee.text
    assert "only the shipment's carrier records shipping" in consignee.json()["detail"]
    carrier = post_event(there, world.carrier_key, {"bizStep": "receiving"})
    assert carrier.status_code == 403
    assert "only the shipment's consignee records receiving" in carrier.json()["detail"]
    stranger = post_event(there, world.other_carrier_key, {"bizStep": "shipping"})
    assert stranger.status_code == 404 and "among yours" in stranger.json()["detail"]
    step = post_event(there, world.carrier_key, _full(world, "inspecting", 30))
    assert step.status_code == 403 and "not one a partner records" in step.json()["detail"]
    spare = _full(world, "shipping", 30, epcList=[SKU + world.spare[0]])
    assert _field(post_event(there, world.carrier_key, spare)) == (
        ["body", "epcList", 0],
        f"{SKU + world.spare[0]!r} is not an item of the shipment",
    )
    # EPCIS sensor data never counts for settlement: refused on a shipment, whatever the route.
    sensed = _full(world, "shipping", 30, sensorElementList=_SENSORS)
    loc, msg = _field(post_event(there, world.carrier_key, sensed))
    assert loc == ["body", "sensorElementList"] and "only readings signed" in msg
    assert _stored(world) == before
    shipped = ok(post_event(there, world.carrier_key, _full(world, "shipping", 30)), 201)
    assert shipped["shipmentStatus"] == "shipping" and shipped["kind"] == 0
    with session_factory(world.api.engine)() as session:
        event = session.get(Event, shipped["id"])
        assert event is not None and event.shipment_id is not None
        assert event.recorded_by == world.api.principal_id(world.carrier_key)
        assert sorted(item.serial for item in event.items) == sorted(world.serials)


@pytest.mark.parametrize("via", VIAS)
def test_a_shipment_without_the_custodians_consent_takes_no_event(world: World, via: str) -> None:
    api = world.api
    assert api.chain is not None
    body = {
        "carrier": api.principal_id(world.carrier_key),
        "payee": api.chain.payee.address,
        "items": [{"gtin": world.gtin, "serial": world.spare[0]}],
        "terms": api.terms(),
    }
    created = ok(api.client.post("/shipments", json=body, headers=auth(world.buyer_key)), 201)
    there = ViaWorld(
        **{**world.__dict__, "shipment_id": created["shipmentId"], "serials": world.spare[:1]},
        via=via,
    )
    refused = post_event(there, world.carrier_key, {"bizStep": "shipping"})
    assert refused.status_code == 409 and "have not approved" in refused.json()["detail"]


def _capture(world: World, key: str, *events: dict[str, Any], **headers: str) -> Any:
    return world.api.client.post(
        "/epcis/capture", json=document(*events), headers={**auth(key), **headers}
    )


def test_a_document_is_taken_in_order_as_if_posted_one_by_one(world: World) -> None:
    carrier = world.carrier_key
    before = _stored(world)
    # Arriving before the shipping of the same document: the second check sees the first event.
    early = _capture(world, carrier, _full(world, "shipping", 600), _full(world, "arriving", 900))
    assert early.status_code == 422, early.text
    [error] = early.json()["detail"]
    assert error["loc"] == ["body", "epcisBody", "eventList", 1, "eventTime"]
    assert "before the shipment's shipping event" in error["msg"]
    # Two shipping events: the second is refused naming its index; the first is not kept.
    twice = _capture(world, carrier, _full(world, "shipping", 600), _full(world, "shipping", 300))
    assert twice.status_code == 409
    assert twice.json()["detail"].startswith("event 1: the shipment already has its shipping")
    # Arriving, then shipping: the shipment is already arrived when the shipping comes.
    late = _capture(world, carrier, _full(world, "arriving", 300), _full(world, "shipping", 600))
    assert late.status_code == 409 and "event 1: the shipment is already arrived" in late.text
    # A generic event and a shipping, then the carrier's receiving: all of it refused.
    other = {**_full(world, "inspecting", 60), "bizTransactionList": []}
    whole = _capture(
        world, carrier, other, _full(world, "shipping", 600), _full(world, "receiving", 60)
    )
    assert whole.status_code == 403 and whole.json()["detail"].startswith("event 2: only")
    assert _stored(world) == before
    done = _capture(world, carrier, _full(world, "shipping", 600), _full(world, "arriving", 300))
    assert done.status_code == 202, done.text
    # Shipping, the platform's packing of the items into the container, arriving.
    assert _stored(world)[0] == before[0] + 3 and _stored(world)[2] == "arrived"


def test_a_shipment_named_after_the_reference_is_refused_as_anywhere_else(world: World) -> None:
    """The carrier's own shipment first in bizTransactionList does not excuse another shipment
    named in a later field (a destination, an extension): 422, nothing stored."""
    before = _stored(world)
    other = "urn:chaintrace:shipment:0x" + "cd" * 32
    reference = [shipment_transaction(world.shipment_id)]
    for extra, loc in (
        (
            {"destinationList": [{"type": "owning_party", "destination": other}]},
            ["destinationList", 0, "destination"],
        ),
        ({"example:note": [other]}, ["example:note", 0]),
    ):
        event = _full(world, "shipping", 30, **{"bizTransactionList": reference, **extra})
        answer = _capture(world, world.carrier_key, event)
        assert answer.status_code == 422, answer.text
        [error] = answer.json()["detail"]
        assert error["loc"] == ["body", "epcisBody", "eventList", 0, *loc]
        assert "outside bizTransactionList" in error["msg"]
    assert _stored(world) == before


def test_a_copy_of_a_shipment_event_that_does_not_name_it_is_the_shipments(world: World) -> None:
    """POST /shipments/{id}/events records a full event even when it does not name the
    shipment; an identical copy captured by a stranger is not a generic event: it stores
    nothing, makes the stranger no capturer, and its declaration neither corrects the carrier's
    event nor takes the place of the carrier's own correction."""
    api, stranger = world.api, world.other_carrier_key
    shipped = {k: v for k, v in _full(world, "shipping", 30).items() if k != "bizTransactionList"}
    url = f"/shipments/{world.shipment_id}/events"
    ok(api.client.post(url, json=shipped, headers=auth(world.carrier_key)), 201)
    declared = {
        **shipped,
        "errorDeclaration": {"declarationTime": _ago(0), "reason": "incorrect_data"},
    }
    before = _stored(world)
    for event in (shipped, declared):
        # Answered like a first capture, as a declaration of another's generic event is.
        copy = api.client.post("/epcis/events", json=event, headers=auth(stranger))
        assert copy.status_code == 201, copy.text
    assert _capture(world, stranger, shipped, declared).status_code == 202
    assert _stored(world)[0] == before[0]
    with session_factory(api.engine)() as session:
        mine = select(func.count()).where(EventCapturer.principal_id == api.principal_id(stranger))
        assert session.scalar(mine.select_from(EventCapturer)) == 0
    # The carrier captures the very same event again (a repeat) and corrects it, as it may.
    assert (
        api.client.post("/epcis/events", json=shipped, headers=auth(world.carrier_key)).status_code
        == 201
    )
    corrected = ok(api.client.post(url, json=declared, headers=auth(world.carrier_key)), 201)
    assert corrected["kind"] == 1


def test_a_query_document_and_a_second_shipment_change_nothing_of_the_rules(world: World) -> None:
    """The events of an EPCISQueryDocument pass the same rules; an event naming the carrier's
    shipment and a second one is refused naming the second."""
    api = world.api
    before = _stored(world)
    shipped = _full(world, "shipping", 30)
    wrapped = {
        **document(),
        "type": "EPCISQueryDocument",
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": {"eventList": [shipped]},
            }
        },
    }
    stranger = api.client.post(
        "/epcis/capture", json=wrapped, headers=auth(world.other_carrier_key)
    )
    assert stranger.status_code == 404, stranger.text
    assert stranger.json()["detail"].startswith("event 0: no shipment")
    second = {"type": "bol", "bizTransaction": "urn:chaintrace:shipment:0x" + "cd" * 32}
    two = _full(world, "shipping", 30)
    two["bizTransactionList"] = [*two["bizTransactionList"], second]
    loc, msg = _field(_capture(world, world.carrier_key, two))
    assert loc == ["body", "epcisBody", "eventList", 0, "bizTransactionList", 1]
    assert "names another chaintrace shipment" in msg
    assert _stored(world) == before
    carried = api.client.post("/epcis/capture", json=wrapped, headers=auth(world.carrier_key))
    assert carried.status_code == 202, carried.text
    assert _stored(world)[2] == "shipping"


def test_proceed_lists_the_refused_shipment_events_and_keeps_the_others(world: World) -> None:
    carrier = world.carrier_key
    before = _stored(world)
    other = {**_full(world, "inspecting", 60), "bizTransactionList": []}
    answer = _capture(
        world,
        carrier,
        _full(world, "receiving", 60),
        other,
        _full(world, "shipping", 600),
        _full(world, "shipping", 300),
        _full(world, "arriving", 900),
        **{"GS1-Capture-Error-Behaviour": "proceed"},
    )
    assert answer.status_code == 202, answer.text
    job = ok(world.api.client.get(answer.headers["Location"], headers=auth(carrier)))
    assert job["success"] is False
    found = [(e["eventIndex"], e["pointer"], e["detail"]) for e in job["errors"]]
    assert [(index, pointer) for index, pointer, _ in found] == [
        (0, "/bizTransactionList/0/bizTransaction"),
        (3, "/bizTransactionList/0/bizTransaction"),
        (4, "/eventTime"),
    ]
    assert "403: only the shipment's consignee records receiving" in found[0][2]
    assert "409: the shipment already has its shipping event" in found[1][2]
    assert "before the shipment's shipping event" in found[2][2]
    events, jobs, status = _stored(world)
    # The shipping and its packing, and the other stored event.
    assert (events, jobs, status) == (before[0] + 3, before[1] + 1, "shipping")


def test_captured_sensor_data_changes_no_report_nor_attestation(world: World) -> None:
    """An excursion-looking EPCIS sensor event on a funded, delivered shipment's items and
    device is stored as any captured event, and the report the oracle attests is unchanged;
    naming the shipment, it is refused (and see test_roles_items_and_sensor_data_...)."""
    from tests.api.delivered_v2_support import delivered_v2

    api = world.api
    sid, shipped_ms, worker = delivered_v2(world)
    url = f"/shipments/{sid}/report"
    report = ok(api.client.get(url, headers=auth(world.buyer_key)))
    hot = [
        {
            "sensorMetadata": {
                "time": _iso(datetime.fromtimestamp(shipped_ms / 1000 + 300 * n, UTC)),
                "deviceID": f"urn:chaintrace:device:{world.device.address}",
            },
            "sensorReport": [{"type": "Temperature", "value": 45.0, "uom": "CEL"}],
        }
        for n in range(1, 12)
    ]
    sensed = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "ObjectEvent",
        "eventTime": _iso(datetime.fromtimestamp(shipped_ms / 1000 + 3600, UTC)),
        "eventTimeZoneOffset": "+00:00",
        "epcList": [SKU + world.spare[0]],
        "action": "OBSERVE",
        "bizStep": "sensor_reporting",
        "sensorElementList": hot,
    }
    for key in (world.carrier_key, world.buyer_key):
        job = _capture(world, key, sensed)
        assert job.status_code == 202, job.text
    there = dataclasses.replace(world, shipment_id=sid, serials=world.spare[:1])
    naming = _full(there, "arriving", 60, sensorElementList=hot)
    refused = _capture(world, world.carrier_key, naming)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"][-1] == "sensorElementList"
    assert ok(api.client.get(url, headers=auth(world.buyer_key))) == report
    assert worker.run_once().attested == [sid]
    view = _escrow(world).shipment(sid)
    assert "0x" + view.evidence_root.hex() == report["evidenceRoot"]
    assert (str(view.payout), str(view.refund)) == (report["payoutWei"], report["refundWei"])
