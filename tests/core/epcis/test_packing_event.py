"""The packing event of a shipment: its items into its container, a valid EPCIS 2.0
AggregationEvent whose public projections name one item each and never the container."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from core.epcis import EpcisError
from core.epcis.capture_document import check_event
from core.epcis.events import CONTAINER_EPC, dump, packing_event
from core.epcis.projection import projected_epcs, projection

AT = datetime(2026, 3, 1, 12, 30, 15, 250_000, tzinfo=UTC)
CONTAINER = "urn:uuid:3f2b8c1e-9d4a-4e7b-a6c5-0b1d2e3f4a5b"
EPCS = [f"urn:epc:id:sgtin:0614141.000001.S{n}" for n in range(3)]
SHIPMENT = "0x" + "5e" * 32
SGLN = "urn:epc:id:sgln:0614141.00001.0"


def test_packing_is_a_valid_aggregation_naming_the_shipment() -> None:
    event = packing_event(CONTAINER, EPCS, AT, SHIPMENT, read_point=SGLN)
    stored = json.loads(dump(event))
    assert check_event(stored).problems == []
    assert (stored["type"], stored["action"], stored["bizStep"]) == (
        "AggregationEvent",
        "ADD",
        "packing",
    )
    assert (stored["parentID"], stored["childEPCs"]) == (CONTAINER, EPCS)
    assert stored["readPoint"] == {"id": SGLN}
    assert stored["bizTransactionList"] == [
        {"type": "bol", "bizTransaction": "urn:chaintrace:shipment:" + SHIPMENT}
    ]


def test_each_item_costs_one_projection_and_none_shows_the_container_or_the_others() -> None:
    event = packing_event(CONTAINER, EPCS, AT, SHIPMENT, read_point=SGLN)
    assert [p.epc for p in projected_epcs(event)] == EPCS
    for epc in EPCS:
        text = json.dumps(projection(event, epc, {SGLN}))
        assert CONTAINER not in text and SHIPMENT not in text
        assert [e for e in EPCS if e in text] == [epc]


@pytest.mark.parametrize(
    "container",
    [
        "urn:chaintrace:shipment:" + SHIPMENT,  # private: the shipment id
        "urn:uuid:3F2B8C1E-9D4A-4E7B-A6C5-0B1D2E3F4A5B",  # one spelling only
        "urn:uuid:3f2b8c1e-9d4a-1e7b-a6c5-0b1d2e3f4a5b",  # version 1 carries a MAC and a time
        "urn:uuid:3f2b8c1e-9d4a-4e7b-a6c5-0b1d2e3f4a5b ",
    ],
)
def test_only_a_random_uuid_urn_is_a_container(container: str) -> None:
    assert not CONTAINER_EPC.fullmatch(container)
    with pytest.raises(EpcisError, match="container"):
        packing_event(container, EPCS, AT, SHIPMENT)


def test_packing_nothing_is_refused() -> None:
    with pytest.raises(EpcisError, match="at least one item"):
        packing_event(CONTAINER, [], AT, SHIPMENT)
