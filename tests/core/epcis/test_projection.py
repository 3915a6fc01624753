"""Public projections (projection v1): what they keep, that they are valid EPCIS 2.0 events, and
that the unpatched reference tool hashes them to core's projection hash."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from core.epcis.capture_document import check_event
from core.epcis.events import commissioning_event, dump, shipment_event
from core.epcis.projection import (
    coarse_geo,
    is_projection_of,
    projected_epcs,
    projection,
    projection_hash,
    projections,
)
from core.epcis.sensor_events import WindowSample, window_event
from tests.core.epcis.reference_oracle import Oracle, example_files, reference_event_hash

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

AT = datetime(2026, 3, 1, 12, 30, 15, 250_000, tzinfo=UTC)
EPCS = [f"urn:epc:id:sgtin:0614141.000001.S{i}" for i in range(3)]
SHIPMENT = "0x" + "5e" * 32
SGLN = "urn:epc:id:sgln:0614141.00001.0"
PRIVATE_SGLN = "urn:epc:id:sgln:0614141.00002.0"


def _window() -> dict[str, Any]:
    samples = [
        WindowSample(
            seq=i,
            digest=bytes([i]) * 32,
            taken_at_ms=1_772_000_000_000 + i * 60_000,
            temperature_centi_c=400 + i,
            humidity_centi_pct=5_000,
        )
        for i in range(3)
    ]
    return window_event(samples=samples, device_id="did:pkh:eip155:1:0x" + "ab" * 20, epcs=EPCS)


def _shipping() -> dict[str, Any]:
    event = shipment_event("shipping", EPCS, AT, SHIPMENT, read_point=SGLN, gps=(52.3712, 4.8945))
    event["bizLocation"] = {"id": PRIVATE_SGLN}
    event["eventID"] = "ni:///sha-256;" + "00" * 32 + "?ver=CBV2.0"
    return json.loads(dump(event))


def test_a_shipment_event_projects_to_one_epc_and_nothing_private() -> None:
    event = _shipping()
    projected = projection(event, EPCS[1], public_locations={SGLN})
    text = json.dumps(projected)
    assert projected["epcList"] == [EPCS[1]]
    for secret in (EPCS[0], EPCS[2], SHIPMENT[2:], PRIVATE_SGLN, "eventID", "bizTransaction"):
        assert secret not in text
    assert projected["readPoint"] == {"id": SGLN}
    assert set(projected) <= {
        "@context", "type", "eventTime", "eventTimeZoneOffset", "action", "bizStep", "disposition",
        "readPoint", "bizLocation", "epcList",
    }  # fmt: skip


def test_a_location_not_public_is_left_out_and_geo_is_coarse() -> None:
    event = _shipping()
    assert "readPoint" not in projection(event, EPCS[0])
    event["readPoint"] = {"id": "geo:52.371234,4.894567;u=10"}
    assert projection(event, EPCS[0])["readPoint"] == {"id": "geo:52.37,4.89"}
    assert coarse_geo("geo:-0.001,-0.004") == "geo:0.00,0.00"
    assert coarse_geo("geo:91,0") is None
    assert coarse_geo("not geo") is None


def test_sensor_statistics_are_kept_without_device_or_raw_data() -> None:
    event = _window()
    projected = projection(event, EPCS[2])
    (element,) = projected["sensorElementList"]
    assert set(element["sensorMetadata"]) == {"startTime", "endTime"}
    assert {r["type"] for r in element["sensorReport"]} == {"Temperature", "RelativeHumidity"}
    text = json.dumps(projected)
    assert "did:pkh" not in text and "rawData" not in text and "dataProcessingMethod" not in text


def test_only_cbv_dispositions_are_kept() -> None:
    event = _shipping()
    event["disposition"] = "in_transit"
    assert projection(event, EPCS[0])["disposition"] == "in_transit"
    event["disposition"] = "https://example.com/disp/secret-customer-42"
    assert "disposition" not in projection(event, EPCS[0])


def test_aggregation_keeps_the_epc_in_its_own_field() -> None:
    event = {
        "type": "AggregationEvent",
        "eventTime": "2026-03-01T12:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "parentID": "urn:epc:id:sscc:0614141.1234567890",
        "childEPCs": EPCS,
        "action": "ADD",
        "bizStep": "packing",
    }
    # The parent is not projected: an AggregationEvent without a child is not valid EPCIS.
    assert [p.field for p in projected_epcs(event)] == ["childEPCs"] * 3
    child = projection(event, EPCS[0])
    assert child["childEPCs"] == [EPCS[0]] and "parentID" not in child
    assert not check_event(child).problems
    with pytest.raises(ValueError):
        projection(event, event["parentID"])


def test_other_event_types_and_unnamed_epcs_have_no_projection() -> None:
    with pytest.raises(ValueError):
        projection(_shipping(), "urn:epc:id:sgtin:0614141.000001.OTHER")
    transaction = {**_shipping(), "type": "TransactionEvent"}
    assert projected_epcs(transaction) == []
    with pytest.raises(ValueError):
        projection(transaction, EPCS[0])


def test_the_auditor_recognises_a_faithful_projection_only() -> None:
    event = _shipping()
    projected = projection(event, EPCS[0], {SGLN})
    assert is_projection_of(projected, event, EPCS[0])
    assert not is_projection_of({**projected, "bizStep": "receiving"}, event, EPCS[0])
    assert not is_projection_of({**projected, "epcList": [EPCS[1]]}, event, EPCS[0])
    assert not is_projection_of(projected, event, EPCS[1])


PLATFORM = {
    "commissioning": json.loads(dump(commissioning_event(EPCS[0], AT, SGLN, SGLN))),
    "shipping": _shipping(),
    "sensor window": json.loads(dump(_window())),
}


@pytest.mark.parametrize("name", PLATFORM)
def test_platform_projections_are_valid_and_the_reference_hashes_them(
    name: str, reference: Oracle
) -> None:
    event = PLATFORM[name]
    for _, epc in projected_epcs(event):
        projected = projection(event, epc, {SGLN})
        assert not check_event(projected).problems, check_event(projected).problems
        assert reference_event_hash(projected) == projection_hash(projected)


def _example_events() -> list[tuple[str, dict[str, Any]]]:
    events = []
    for path in example_files():
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        body = doc.get("epcisBody", {}) if isinstance(doc, dict) else {}
        for i, event in enumerate(body.get("eventList", []) if isinstance(body, dict) else []):
            if projected_epcs(event):
                events.append((f"{path.name}#{i}", event))
    return events


EXAMPLES = _example_events()


@pytest.mark.skipif(not EXAMPLES, reason="../shared/epcis-examples is absent")
def test_every_gs1_example_projects_to_a_valid_event_the_reference_hashes(
    reference: Oracle,
) -> None:
    checked = 0
    for name, event in EXAMPLES:
        for _, epc in projected_epcs(event):
            projected = projection(event, epc)
            assert not check_event(projected).problems, (name, check_event(projected).problems)
            assert reference_event_hash(projected) == projection_hash(projected), name
            checked += 1
    assert checked >= 20


def test_projections_give_each_epcs_projection_in_field_order() -> None:
    """The one-pass form used when recording equals P(event, epc) for every EPC, keys in the
    same order (the stored projection JSON is the same text either way)."""
    cases = [(_shipping(), {SGLN}), (_window(), set()), *((e, set()) for _, e in EXAMPLES)]
    for event, public in cases:
        got = projections(event, public)
        assert [p for p, _ in got] == projected_epcs(event)
        for p, projected in got:
            expected = projection(event, p.epc, public)
            assert projected == expected
            assert list(projected) == list(expected)
    assert projections({"type": "AssociationEvent", "childEPCs": EPCS}) == []


def test_only_standard_values_are_kept_not_only_public_field_names() -> None:
    event = _window()
    secret = "urn:acme:bizstep:inspect:urn:epc:id:sgtin:0614141.000001.SECRET2"
    event["bizStep"] = secret
    event["sensorElementList"][0]["sensorReport"].append(
        {"type": "https://acme.example/secret/device-0xdead", "value": 1.0}
    )
    event["sensorElementList"][0]["sensorReport"].append(
        {"type": "Temperature", "uom": "secret-unit", "value": 2.0}
    )
    projected = projection(event, EPCS[0])
    text = json.dumps(projected)
    assert "bizStep" not in projected and "SECRET2" not in text
    assert "acme" not in text and "secret" not in text
    event["bizStep"] = "https://ref.gs1.org/cbv/BizStep-shipping"
    assert projection(event, EPCS[0])["bizStep"] == event["bizStep"]
