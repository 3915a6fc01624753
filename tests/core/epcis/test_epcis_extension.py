"""chaintrace's `ct:` extension context: pinned, since `ct:` fields hash through it."""

from __future__ import annotations

from typing import Any

from core.epcis import event_hash, prehash_string
from core.epcis.extension import event_context

EVENT: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2024-05-01T12:00:00.123Z",
    "eventTimeZoneOffset": "+00:00",
    "epcList": ["urn:epc:id:sgtin:0614141.107346.2018"],
    "action": "OBSERVE",
    "bizStep": "arriving",
    "ct:geo": "geo:52.5000000,13.4000000",
}


def test_context_is_pinned() -> None:
    assert event_context() == [
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        {"ct": "https://chaintrace.dev/ns/epcis#"},
    ]


def test_each_call_is_a_fresh_list() -> None:
    first = event_context()
    first.append("mutated")
    assert len(event_context()) == 2


def test_ct_field_hashes_with_the_namespace() -> None:
    event = {"@context": event_context(), **EVENT}
    expanded = "{https://chaintrace.dev/ns/epcis#}geo=geo:52.5000000,13.4000000"
    assert expanded in prehash_string(event)
    assert event_hash(event).hex() == (
        "6f89c7321e62fba0319d147ba8daed5d6c870dc2bab75ccd0828d5efe222db14"
    )
