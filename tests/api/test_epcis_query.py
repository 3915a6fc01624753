"""GET /epcis/... (issue 15, the query half of the EPCIS 2.0 REST binding): who sees which event
(a matrix), each filter, paging with a Link header, one event by id, events by EPC / bizStep /
place / disposition, the vocabularies. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api.epcis_query_support import (
    DOCK,
    SHOP,
    SKU,
    Data,
    build,
    path_of,
)
from tests.api.flows import World, ok

ITEMS = ["A1", "A2", "S1", "S2", "S3"]
# The shipment's steps and the packing of its items into its container, at shipping.
STEPS = ["arriving", "packing", "receiving", "shipping"]
STORED = ["aggregation", "transformation", "prefix_only", "near_miss", "other_own"]
EVERYTHING = sorted([*ITEMS, *STEPS, "B1", "device", *STORED])


@pytest.fixture
def data(world: World) -> Data:
    return build(world)


def test_each_principal_sees_exactly_its_events(data: Data) -> None:
    seen = {who: data.names(data.events(key)) for who, key in data.keys.items()}
    assert seen == {
        # Its items' events (commissioning, the shipment, the aggregation, the transformation)
        # and an event naming an EPC under its prefix that another principal recorded; not the
        # event under 0614149 (whose text holds ':061414' too).
        "brand": sorted([*ITEMS, *STEPS, "aggregation", "transformation", "prefix_only"]),
        "other_brand": ["B1", "near_miss", "other_own", "prefix_only"],  # what it recorded
        "carrier": sorted([*STEPS, "device"]),  # its shipment's events and its device's
        "buyer": STEPS,
        "stranger": [],
        "auditor": EVERYTHING,
        "admin": EVERYTHING,
    }
    assert data.get("/epcis/events", None).status_code == 401


def test_pages_follow_the_link_and_leak_nothing(data: Data) -> None:
    first = data.get("/epcis/events", data.keys["admin"], perPage=4)
    assert first.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert 'rel="next"' in first.headers["Link"]
    assert data.names(data.events(perPage=4)) == EVERYTHING  # 4 pages, no repeat, no gap
    last = data.get("/epcis/events", data.keys["admin"], perPage=len(EVERYTHING))
    assert "Link" not in last.headers
    # The admin's token in another principal's hands reads on only in its own view.
    link = first.headers["Link"]
    token = link[link.index("nextPageToken=") + len("nextPageToken=") : link.index(">")]
    stranger = data.get("/epcis/events", data.keys["stranger"], nextPageToken=token)
    assert ok(stranger)["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []
    assert "Link" not in stranger.headers
    buyer = data.events(data.keys["buyer"], perPage=1)
    assert data.names(buyer) == STEPS
    for bad in ("bm90LW91cnM", "x" * 65, "Y3QxOi0x"):
        response = data.get("/epcis/events", data.keys["admin"], nextPageToken=bad)
        assert response.status_code == 400, bad  # the binding's QueryParameterException
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "epcisException:QueryParameterException"
        assert "nextPageToken" in response.json()["detail"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"eventType": "AggregationEvent"}, ["aggregation", "packing"]),
        (
            {"eventType": "AggregationEvent|TransformationEvent"},
            ["aggregation", "packing", "transformation"],
        ),
        (
            {"GE_eventTime": "2026-01-03T00:00:00Z", "LT_eventTime": "2026-01-05T00:00:00+00:00"},
            ["prefix_only", "transformation"],
        ),
        ({"LT_eventTime": "2026-01-02T10:00:00.001Z"}, ["aggregation"]),
        ({"EQ_action": "ADD"}, sorted([*ITEMS, "B1", "aggregation", "device", "packing"])),
        ({"EQ_bizStep": "receiving"}, ["receiving"]),
        ({"EQ_bizStep": "urn:epcglobal:cbv:bizstep:shipping|arriving"}, ["arriving", "shipping"]),
        ({"EQ_bizStep": "https://ref.gs1.org/cbv/BizStep-packing"}, ["aggregation", "packing"]),
        ({"EQ_disposition": "in_progress"}, ["aggregation", "receiving"]),
        ({"EQ_disposition": "urn:epcglobal:cbv:disp:in_transit"}, ["arriving", "shipping"]),
        ({"EQ_readPoint": DOCK}, ["aggregation", "arriving"]),
        ({"EQ_bizLocation": SHOP}, ["near_miss", "other_own", "prefix_only", "receiving"]),
        ({"MATCH_epc": SKU + "S1"}, ["S1", "aggregation"]),
        ({"MATCH_epc": SKU + "S"}, []),  # no substring match
        ({"MATCH_epc": SKU + "S2"}, ["S2"]),  # an input EPC is not an epcList EPC
        (
            {"MATCH_epc": "urn:epc:idpat:sgtin:0614141.012345.*"},
            sorted([*ITEMS, *STEPS, "aggregation", "prefix_only"]),
        ),
        ({"MATCH_anyEPC": SKU + "S2|" + SKU + "S3"}, ["S2", "S3", "transformation"]),
        ({"MATCH_anyEPC": "urn:epc:id:sscc:0614141.1234567890"}, ["aggregation"]),
        ({"MATCH_parentID": "urn:epc:id:sscc:0614141.1234567890"}, ["aggregation"]),
        ({"MATCH_parentID": SKU + "S1"}, []),
        ({"MATCH_inputEPC": SKU + "S2"}, ["transformation"]),
        ({"MATCH_inputEPC": SKU + "S3"}, []),
        ({"MATCH_outputEPC": SKU + "S3"}, ["transformation"]),
    ],
)
def test_each_filter(data: Data, params: dict[str, str], expected: list[str]) -> None:
    assert data.names(data.events(**params)) == expected


def test_record_time_and_event_id(data: Data) -> None:
    hour = timedelta(hours=1)
    later = (datetime.now(UTC) + hour).isoformat()
    earlier = (datetime.now(UTC) - hour).isoformat()
    assert data.events(GE_recordTime=later) == []
    assert data.names(data.events(GE_recordTime=earlier, LT_recordTime=later)) == EVERYTHING
    assert data.events(LT_recordTime=earlier) == []
    # Beyond datetime's range once in UTC: the bound, not a 500.
    edges = {
        "GE_recordTime": "0001-01-01T00:00:00+01:00",
        "LT_recordTime": "9999-12-31T23:59:59-01:00",
    }
    assert data.names(data.events(**edges)) == EVERYTHING
    wanted = f"{data.ids['receiving']}|{data.ids['transformation']}"
    assert data.names(data.events(EQ_eventID=wanted)) == ["receiving", "transformation"]
    for bad in (
        {"GE_eventTime": "yesterday"},
        {"LT_recordTime": "2026-01-01T00:00:00"},  # no offset
        {"LT_recordTime": "0.5"},
        {"GE_eventTime": "2026-13-01T00:00:00Z"},
        {"EQ_action": "ADD||OBSERVE"},
    ):
        assert data.get("/epcis/events", data.keys["admin"], **bad).status_code == 400


def test_one_event_by_its_id_and_404_alike(data: Data) -> None:
    receiving = data.ids["receiving"]
    doc = ok(data.get(f"/epcis/events/{path_of(receiving)}", data.keys["buyer"]))
    [event] = doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert event["eventID"] == receiving and event["bizLocation"] == {"id": SHOP}
    anchoring = event["ct:anchoring"]
    assert anchoring["eventHash"] == receiving and anchoring["finality"] == "pending"
    assert set(anchoring) >= {"proof", "root", "salt", "leaf", "anchoring"}
    assert doc["@context"][1] == {"ct": "https://chaintrace.dev/ns/epcis#"}
    by_own_id = data.ids["transformation"]
    assert ok(data.get(f"/epcis/events/{path_of(by_own_id)}", data.keys["brand"]))
    unknown = "ni:///sha-256;" + "0" * 64 + "?ver=CBV2.0"
    answers = [
        data.get(f"/epcis/events/{path_of(data.ids['near_miss'])}", data.keys["brand"]),
        data.get(f"/epcis/events/{path_of(unknown)}", data.keys["brand"]),
        data.get(f"/epcis/events/{path_of(receiving)}", data.keys["stranger"]),
    ]
    assert [a.status_code for a in answers] == [404, 404, 404]
    assert len({a.text for a in answers}) == 1


def test_events_by_epc_step_place_and_disposition(data: Data) -> None:
    carrier = data.keys["carrier"]
    cases = {
        f"/epcis/epcs/{path_of(SKU + 'S2')}/events": ["S2", "transformation"],
        f"/epcis/bizSteps/{path_of('urn:epcglobal:cbv:bizstep:receiving')}/events": ["receiving"],
        "/epcis/bizSteps/shipping/events": ["shipping"],
        f"/epcis/bizLocations/{path_of(SHOP)}/events": sorted(
            ["near_miss", "other_own", "prefix_only", "receiving"]
        ),
        f"/epcis/readPoints/{path_of(DOCK)}/events": ["aggregation", "arriving"],
        "/epcis/dispositions/in_progress/events": ["aggregation", "receiving"],
    }
    for path, expected in cases.items():
        assert data.names(data.events(path=path)) == expected, path
    # The carrier sees only its own among them.
    assert data.names(data.events(carrier, f"/epcis/bizLocations/{path_of(SHOP)}/events")) == [
        "receiving"
    ]
    assert data.events(carrier, f"/epcis/epcs/{path_of(SKU + 'S2')}/events") == []


def test_vocabularies(data: Data) -> None:
    types = ok(data.get("/epcis/eventTypes", data.keys["stranger"]))
    assert types["type"] == "Collection" and "ObjectEvent" in types["member"]
    steps = ok(data.get("/epcis/bizSteps", data.keys["carrier"]))["member"]
    # Its device's too, and the packing recorded with its shipping.
    assert steps == ["arriving", "commissioning", "packing", "receiving", "shipping"]
    assert ok(data.get("/epcis/bizSteps", data.keys["stranger"]))["member"] == []
    assert data.get("/epcis/bizSteps", None).status_code == 401
