"""core.epcis.hashed_event: an event hashed once into what the store records."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from core.epcis import EpcisError, event_hash
from core.epcis.events import SHIPMENT_URN, iso_ms, shipment_event, to_ms
from core.epcis.hashed_event import HashedEvent

AT = datetime(2026, 12, 6, 10, 30, 15, 123_000, tzinfo=UTC)
EPC = "urn:epc:id:sgtin:0614141.000001.A1"


def test_an_event_is_hashed_as_stored() -> None:
    event = shipment_event("shipping", [EPC], AT, "0x" + "ab" * 32, gps=(52.5, 13.4))
    hashed = HashedEvent.of(event)
    assert hashed.event_json == json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    assert hashed.event_hash == event_hash(json.loads(hashed.event_json)) == event_hash(event)
    assert (hashed.kind, hashed.event_type, hashed.biz_step) == (0, "ObjectEvent", "shipping")
    assert hashed.event_time_ms == to_ms(AT)
    assert hashed.event_id == "ni:///sha-256;" + hashed.event_hash.hex() + "?ver=CBV2.0"
    assert SHIPMENT_URN in hashed.event_json


def test_an_error_declaration_is_leaf_kind_1() -> None:
    event = shipment_event("receiving", [EPC], AT, "0x" + "cd" * 32)
    event["errorDeclaration"] = {"declarationTime": iso_ms(AT), "reason": "incorrect_data"}
    assert HashedEvent.of(event).kind == 1


def test_an_event_that_does_not_hash_is_refused() -> None:
    with pytest.raises(EpcisError):
        HashedEvent.of({"type": "ObjectEvent", "eventTime": "yesterday"})


def test_milliseconds_and_datetimes_print_alike() -> None:
    assert iso_ms(AT) == iso_ms(to_ms(AT)) == "2026-12-06T10:30:15.123Z"
    assert iso_ms(-1) == "1969-12-31T23:59:59.999Z"


def test_an_event_that_is_not_json_is_an_epcis_error() -> None:
    """NaN passes Python's JSON parser (FastAPI's) but is no JSON: a 422, never a 500."""
    event = shipment_event("shipping", [EPC], AT, "0x" + "ab" * 32)
    event["ct:reading"] = float("nan")
    with pytest.raises(EpcisError, match="not JSON"):
        HashedEvent.of(event)
