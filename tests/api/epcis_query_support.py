"""The data of the EPCIS query tests: the standard world, its shipment's three steps, a second
brand with its own items, and events stored straight into the store (an aggregation, a
transformation, an event under the brand's prefix naming no item, a near miss of the prefix)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from eth_account import Account

from core.epcis.events import DEVICE_URN
from core.epcis.extension import event_context
from core.epcis.hashed_event import HashedEvent
from store.db import session_factory, transaction
from store.recording import record_event
from tests.api.flows import OTHER_PREFIX, World, auth, gtin13, ok

SKU = "urn:epc:id:sgtin:0614141.012345."
OTHER_SKU = "urn:epc:id:sgtin:0799999.012345."
NEAR_SKU = "urn:epc:id:sgtin:0614149.012345."  # shares ':061414' with the brand's EPCs
DOCK = "urn:epc:id:sgln:0614141.00001.0"
SHOP = "urn:epc:id:sgln:0614141.00002.0"


@dataclass
class Data:
    """Who is who, and each event's eventID (ni:///) by a name."""

    world: World
    keys: dict[str, str | None] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def get(self, path: str, key: str | None, **params: Any) -> Any:
        headers = auth(key) if key is not None else {}
        # No params at all when following a Link: httpx would replace its query with them.
        return self.world.api.client.get(path, params=params or None, headers=headers)

    def events(self, key: str | None = None, path: str = "/epcis/events", **params: Any) -> Any:
        """Every page of the query as `key` (the admin's by default): eventIDs in order."""
        key = key or self.world.api.admin_key
        found: list[str] = []
        url: str | None = path
        while url is not None:
            response = self.get(url, key, **params)
            doc = ok(response)
            found += [
                e["eventID"] for e in doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            ]
            link = response.headers.get("Link")
            url = link[1 : link.index(">")].replace("http://testserver", "") if link else None
            params = {}
        return found

    def documents(self) -> list[dict[str, Any]]:
        """Every event as the admin sees it (one page)."""
        doc = ok(self.get("/epcis/events", self.world.api.admin_key, perPage=1000))
        return list(doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"])

    def named(self, *names: str) -> list[str]:
        return sorted(self.ids[n] for n in names)

    def names(self, found: list[str]) -> list[str]:
        by_id = {v: k for k, v in self.ids.items()}
        return sorted(by_id.get(i, i) for i in found)


def _aggregation() -> dict[str, Any]:
    return {
        "@context": event_context(),
        "type": "AggregationEvent",
        "eventTime": "2026-01-02T10:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "parentID": "urn:epc:id:sscc:0614141.1234567890",
        "childEPCs": [SKU + "S1"],
        "action": "ADD",
        "bizStep": "packing",
        "disposition": "urn:epcglobal:cbv:disp:in_progress",
        "readPoint": {"id": DOCK},
    }


def _transformation() -> dict[str, Any]:
    return {
        "@context": event_context(),
        "type": "TransformationEvent",
        "eventTime": "2026-01-03T10:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "inputEPCList": [SKU + "S2"],
        "outputEPCList": [SKU + "S3"],
        "bizStep": "https://ref.gs1.org/cbv/BizStep-commissioning",
        "eventID": "urn:uuid:7f4c3a52-3f5e-4f3c-9d7e-1c2b3a4d5e6f",
    }


def _object(epc: str, when: str, step: str = "inspecting") -> dict[str, Any]:
    return {
        "@context": event_context(),
        "type": "ObjectEvent",
        "eventTime": when,
        "eventTimeZoneOffset": "+00:00",
        "epcList": [epc],
        "action": "OBSERVE",
        "bizStep": step,
        "bizLocation": {"id": SHOP},
    }


def build(world: World) -> Data:
    """Three shipment steps over the API (and the packing recorded with the shipping), a second
    brand's items, five stored events."""
    api = world.api
    data = Data(world)
    url = f"/shipments/{world.shipment_id}/events"
    for name, key, body in (
        ("shipping", world.carrier_key, {"bizStep": "shipping"}),
        ("arriving", world.carrier_key, {"bizStep": "arriving", "readPoint": DOCK}),
        ("receiving", world.buyer_key, {"bizStep": "receiving", "bizLocation": SHOP}),
    ):
        data.ids[name] = ok(api.client.post(url, json=body, headers=auth(key)), 201)["eventHash"]
    other = Account.create()
    other_key = api.brand(other, OTHER_PREFIX, "Other Brand")
    other_gtin = gtin13(OTHER_PREFIX, "12345")
    api.product(other_key, other_gtin)
    api.commission(other_key, other, other_gtin, ["B1"])
    stranger_key = api.principal("buyer", None, "Unrelated Buyer")
    auditor_key = api.principal("auditor", None, "Auditor")
    brand_id = api.principal_id(world.brand_key)
    other_id = api.principal_id(other_key)
    with transaction(session_factory(api.engine)) as session:
        for name, event, by in (
            ("aggregation", _aggregation(), brand_id),
            ("transformation", _transformation(), brand_id),
            # Recorded by the other brand, naming the brand's EPC but none of its items.
            ("prefix_only", _object(SKU + "X9", "2026-01-04T10:00:00.000Z"), other_id),
            ("near_miss", _object(NEAR_SKU + "X1", "2026-01-05T10:00:00.000Z"), other_id),
            ("other_own", _object(OTHER_SKU + "B1", "2026-01-06T10:00:00.000Z"), other_id),
        ):
            hashed = HashedEvent.of(event)
            record_event(session, hashed, recorded_by=by)
            data.ids[name] = hashed.event_id
    data.ids["transformation"] = _transformation()["eventID"]  # it names its own
    for event in data.documents():  # the commissionings (A1, ..., B1) and the device's
        if event["eventID"] not in data.ids.values():
            if event["type"] == "AggregationEvent":  # the platform's, as the shipment shipped
                data.ids["packing"] = event["eventID"]
                continue
            epc = event["epcList"][0]
            name = "device" if epc.startswith(DEVICE_URN) else epc.rsplit(".", 1)[-1]
            data.ids[name] = event["eventID"]
    data.keys = {
        "brand": world.brand_key,
        "other_brand": other_key,
        "carrier": world.carrier_key,
        "buyer": world.buyer_key,
        "stranger": stranger_key,
        "auditor": auditor_key,
        "admin": api.admin_key,
    }
    return data


def path_of(value: str) -> str:
    """A path segment for a URI value (its '/', '?', ';' escaped)."""
    return quote(value, safe="")
