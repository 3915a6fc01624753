"""The events the API builds (commissioning, shipment steps, device records) are hashed by the
unpatched reference tool, to core's hash. The gateway's roll-ups: tests/iot_gateway
test_gateway_reference_hash.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from core.epcis import event_hash
from core.epcis.events import commissioning_event, device_event, dump, shipment_event
from tests.core.epcis.reference_oracle import reference_event_hash

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

AT = datetime(2026, 3, 1, 12, 30, 15, 250_000, tzinfo=UTC)
EPCS = ["urn:epc:id:sgtin:0614141.000001.S1", "urn:epc:id:sgtin:0614141.000001.S2"]
SHIPMENT = "0x" + "5e" * 32
SGLN = "urn:epc:id:sgln:0614141.00001.0"
DEVICE, CARRIER = "0x" + "ab" * 20, "0x" + "cd" * 20

EVENTS = {
    "commissioning": commissioning_event(EPCS[0], AT, SGLN, SGLN),
    "commissioning, no location": commissioning_event(EPCS[1], AT, None, None),
    **{
        step: shipment_event(step, EPCS, AT, SHIPMENT, read_point=SGLN, gps=(52.37, 4.89))
        for step in ("shipping", "arriving", "receiving")
    },
    "shipping, short": shipment_event("shipping", EPCS[:1], AT, SHIPMENT),
    "device registration": device_event(DEVICE, CARRIER, AT, signature="0x" + "ee" * 65),
    "device revocation": device_event(DEVICE, CARRIER, AT),
}


@pytest.mark.parametrize("name", EVENTS)
def test_the_reference_hashes_what_the_api_writes(name: str) -> None:
    stored = json.loads(dump(EVENTS[name]))  # exactly the stored JSON
    assert reference_event_hash(stored) == event_hash(stored)


def test_a_shipment_event_names_its_shipment_as_a_typed_transaction() -> None:
    (transaction,) = EVENTS["shipping"]["bizTransactionList"]
    # Type first, as GS1's examples write it (the reference follows JSON key order).
    assert list(transaction.items()) == [
        ("type", "bol"),
        ("bizTransaction", "urn:chaintrace:shipment:" + SHIPMENT),
    ]
