"""One shipment event, posted through POST /shipments/{id}/events or the EPCIS capture.

The matrix tests of shipment events (tests/api/test_api_event_times.py and
test_epcis_capture_shipments.py) run every case through each route of VIAS and read the answer in
the dedicated endpoint's shape: an accepted event as EventRecorded (read back from the shipment),
a refusal with the loc of the event itself (without the capture document's
epcisBody/eventList/<index>) and without the capture's "event <index>: " prefix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from core.epcis.capture_document import check_document, check_event
from core.epcis.events import SHIPMENT_URN, parse_time, shipment_event, shipment_transaction
from tests.api.flows import World, auth, ok

SHIPMENTS, EPCIS_EVENTS, EPCIS_CAPTURE = "shipments", "epcis/events", "epcis/capture"
VIAS = (SHIPMENTS, EPCIS_EVENTS, EPCIS_CAPTURE)
_LIST = ["epcisBody", "eventList", 0]
_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


@dataclass
class ViaWorld(World):
    """The standard world, posting its shipment events through `via`."""

    via: str = SHIPMENTS


@dataclass
class Answer:
    """An HTTP answer as the dedicated endpoint would give it."""

    status_code: int
    body: Any

    def json(self) -> Any:
        return self.body

    @property
    def text(self) -> str:
        return json.dumps(self.body)


def as_epcis(world: World, body: dict[str, Any]) -> dict[str, Any]:
    """The EPCIS event a partner captures for `body`: the minimal form becomes the very event
    the dedicated endpoint writes; a full event names the shipment unless it names one."""
    if "type" not in body:
        epcs = [f"urn:epc:id:sgtin:0614141.012345.{serial}" for serial in world.serials]
        moment = parse_time(body["eventTime"]) if "eventTime" in body else datetime.now(UTC)
        return shipment_event(body["bizStep"], epcs, moment, world.shipment_id)
    named = [
        entry
        for entry in body.get("bizTransactionList", [])
        if SHIPMENT_URN in str(entry.get("bizTransaction", "")).lower()
    ]
    if named:
        return body
    references = [*body.get("bizTransactionList", []), shipment_transaction(world.shipment_id)]
    return {**body, "bizTransactionList": references}


def document(*events: dict[str, Any]) -> dict[str, Any]:
    """An EPCISDocument holding `events`."""
    return {
        "@context": [_CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-07-22T07:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


def _unlocated(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    detail = body.get("detail")
    if isinstance(detail, str) and detail.startswith("event 0: "):
        return {**body, "detail": detail.removeprefix("event 0: ")}
    if isinstance(detail, list):
        errors = []
        for error in detail:
            loc = error.get("loc", [])
            if loc[1:4] == _LIST:
                error = {**error, "loc": [loc[0], *loc[4:]]}
            errors.append(error)
        return {**body, "detail": errors}
    return body


def recorded(world: World, key: str, event_hash: bytes, kind: int) -> dict[str, Any]:
    """The shipment event with this hash, in EventRecorded's shape."""
    from core.epcis.hashing import event_id

    ni = event_id(event_hash)
    client = world.api.client
    url = f"/shipments/{world.shipment_id}"
    [found] = [
        e
        for e in ok(client.get(f"{url}/events", headers=auth(key)))
        if e["eventHash"] == ni and e["kind"] == kind
    ]
    shipment = ok(client.get(url, headers=auth(key)))
    return {
        "id": found["id"],
        "eventHash": ni,
        "kind": kind,
        "bizStep": found["bizStep"],
        "eventTime": found["eventTime"],
        "shipmentStatus": shipment["status"],
    }


def post_event(world: World, key: str, body: dict[str, Any], via: str | None = None) -> Answer:
    """POST one shipment event through `via` (default: the world's)."""
    via = via or getattr(world, "via", SHIPMENTS)
    client = world.api.client
    if via == SHIPMENTS:
        url = f"/shipments/{world.shipment_id}/events"
        answer = client.post(url, json=body, headers=auth(key))
        return Answer(answer.status_code, answer.json())
    event = as_epcis(world, body)
    if via == EPCIS_EVENTS:
        answer = client.post("/epcis/events", json=event, headers=auth(key))
        if answer.status_code != 201:
            return Answer(answer.status_code, _unlocated(answer.json()))
        [hashed] = check_event(event).events.values()
        assert unquote(answer.headers["Location"]).endswith(hashed.event_id)
    else:
        doc = document(event)
        answer = client.post("/epcis/capture", json=doc, headers=auth(key))
        if answer.status_code != 202:
            return Answer(answer.status_code, _unlocated(answer.json()))
        job = ok(client.get(answer.headers["Location"], headers=auth(key)))
        assert job["success"] is True, job
        [hashed] = check_document(doc).events.values()
    return Answer(201, recorded(world, key, hashed.event_hash, hashed.kind))
