"""The window ObjectEvent: summary values, evidence commitment, the reference hash agrees."""

from __future__ import annotations

import hashlib

import pytest

from core.epcis import event_hash, prehash_string
from core.epcis.sensor_events import (
    DATA_PROCESSING_METHOD,
    RAW_DATA_PREFIX,
    WindowSample,
    device_uri,
    iso_ms,
    window_event,
)
from core.evidence import evidence_root, evidence_tree

EPC = "urn:epc:id:sgtin:9520001.012345.S1"
SHIPMENT = "urn:chaintrace:shipment:0x" + "11" * 32


def _samples(temps: list[int], start_ms: int = 1_700_000_000_000) -> list[WindowSample]:
    return [
        WindowSample(
            seq=i,
            taken_at_ms=start_ms + i * 60_000,
            temperature_centi_c=t,
            humidity_centi_pct=5000 + i,
            digest=hashlib.sha256(f"reading {i}".encode()).digest(),
        )
        for i, t in enumerate(temps)
    ]


def _event(samples: list[WindowSample]) -> dict[str, object]:
    return window_event(
        samples=samples,
        device_id=device_uri(31337, "0x" + "Ab" * 20),
        epcs=[EPC],
        biz_transactions=[{"bizTransaction": SHIPMENT}],
    )


def test_iso_ms_is_utc_with_milliseconds() -> None:
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"
    assert iso_ms(1_700_000_000_123) == "2023-11-14T22:13:20.123Z"


def test_summary_values_and_metadata() -> None:
    samples = _samples([-250, 401, 399, 1000])
    event = _event(samples)
    assert event["type"] == "ObjectEvent" and event["action"] == "OBSERVE"
    assert event["bizStep"] == "sensor_reporting"
    assert event["eventTime"] == iso_ms(samples[-1].taken_at_ms)
    element = event["sensorElementList"][0]  # type: ignore[index]
    meta = element["sensorMetadata"]
    assert meta["startTime"] == iso_ms(samples[0].taken_at_ms)
    assert meta["endTime"] == iso_ms(samples[-1].taken_at_ms)
    assert meta["deviceID"] == "did:pkh:eip155:31337:0x" + "ab" * 20
    assert meta["dataProcessingMethod"] == DATA_PROCESSING_METHOD
    reports = {r["type"]: r for r in element["sensorReport"]}
    assert reports["Temperature"] == {
        "type": "Temperature",
        "minValue": -2.5,
        "maxValue": 10.0,
        "meanValue": 3.88,  # 1550 / 4 = 387.5 centi-degC, rounded half to even
        "uom": "CEL",
    }
    assert reports["RelativeHumidity"]["uom"] == "P1"
    assert reports["RelativeHumidity"]["maxValue"] == 50.03


def test_raw_data_commits_to_every_reading_digest() -> None:
    samples = _samples([400] * 5)
    meta = _event(samples)["sensorElementList"][0]["sensorMetadata"]  # type: ignore[index]
    digests = [s.digest for s in samples]
    assert meta["rawData"] == RAW_DATA_PREFIX + "0x" + evidence_root(digests).hex()
    # Each reading can be proven part of the window with the evidence tree.
    tree = evidence_tree(digests)
    assert len(tree.proof(tree.leaves[0])) >= 1
    changed = [*samples[:-1], WindowSample(4, samples[4].taken_at_ms, 400, 5004, b"\x01" * 32)]
    assert event_hash(_event(changed)) != event_hash(_event(samples))


def test_event_is_deterministic_and_ordered_independently_of_epc_order() -> None:
    samples = _samples([400, 410])
    a = window_event(samples=samples, device_id="did:pkh:eip155:1:0x" + "00" * 20, epcs=[EPC, "x"])
    b = window_event(samples=samples, device_id="did:pkh:eip155:1:0x" + "00" * 20, epcs=["x", EPC])
    assert a == b


def test_empty_window_is_refused() -> None:
    with pytest.raises(ValueError):
        _event([])


def test_reference_implementation_computes_the_same_prehash() -> None:
    from tests.core.epcis.reference_oracle import reference_prehashes

    event = _event(_samples([400, 455, 380]))
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-01-01T00:00:00.000Z",
        "epcisBody": {"eventList": [event]},
    }
    ours = prehash_string(event)
    assert "type=https://gs1.org/voc/Temperature" in ours
    assert reference_prehashes(document, workaround=True) == [ours]
    assert event_hash(event) == hashlib.sha256(ours.encode()).digest()
