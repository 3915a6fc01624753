"""Hostile and malformed input: always an EpcisError with a clear message, never a crash."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.epcis import (
    EpcisError,
    event_hash,
    event_hash_ni,
    events_from_document,
    is_error_declaration,
    prehash_string,
)
from tests.core.epcis.epcis_strategies import NAMESPACES, document, events

BASE: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2020-01-01T00:00:00Z",
    "eventTimeZoneOffset": "+00:00",
    "action": "ADD",
}


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"example:leaf": "x"}
    for _ in range(depth):
        value = {"example:x": value}
    return value


MALFORMED: list[tuple[Any, str]] = [
    ([], "must be a JSON object, got list"),
    ("ObjectEvent", "must be a JSON object, got str"),
    (None, "must be a JSON object, got NoneType"),
    ({}, "missing 'type'"),
    ({**BASE, "type": "FooEvent"}, "unknown event type 'FooEvent'"),
    ({**BASE, "type": ["ObjectEvent"]}, "unknown event type"),
    ({"type": "ObjectEvent", "action": "ADD"}, "missing 'eventTime'"),
    ({**BASE, "eventTime": 1577836800}, "event.eventTime: must be a string, got int"),
    ({**BASE, "eventTime": "last Tuesday"}, "not an ISO 8601 date-time"),
    ({**BASE, "eventTime": "2020-01-01T00:00:00"}, "without a UTC offset"),
    ({**BASE, "eventTime": "2020-02-30T00:00:00Z"}, "out of range"),
    ({**BASE, "action": None}, "event.action: must be a string"),
    ({**BASE, "epcList": "urn:epc:id:sgtin:0614141.107346.1"}, "event.epcList: must be a list"),
    ({**BASE, "epcList": [1]}, "event.epcList[0]: must be a string, got int"),
    ({**BASE, "certificationInfo": 5}, "event.certificationInfo: must be a list"),
    (
        {**BASE, "readPoint": "urn:epc:id:sgln:0614141.07346.0"},
        "event.readPoint: must be an object",
    ),
    ({**BASE, "bizLocation": {}}, "event.bizLocation.id: must be a string, got NoneType"),
    (
        {**BASE, "quantityList": [{"quantity": 5}]},
        "event.quantityList[0].epcClass: must be a string",
    ),
    (
        {**BASE, "quantityList": [{"epcClass": "urn:x", "quantity": "5"}]},
        "event.quantityList[0].quantity: must be a number, got str",
    ),
    ({**BASE, "childQuantityList": [{"epcClass": "u", "quantity": True}]}, "must be a number"),
    ({**BASE, "bizTransactionList": {"bizTransaction": "x"}}, "bizTransactionList: must be a list"),
    ({**BASE, "bizTransactionList": ["x"]}, "bizTransactionList[0]: must be an object"),
    ({**BASE, "bizTransactionList": [{"type": "po"}]}, "bizTransactionList[0].bizTransaction"),
    ({**BASE, "sourceList": [{"source": "x", "type": 5}]}, "sourceList[0].type: must be a string"),
    ({**BASE, "destinationList": [{}]}, "destinationList[0].destination: must be a string"),
    ({**BASE, "persistentDisposition": {"set": "active"}}, "persistentDisposition.set: must be"),
    ({**BASE, "sensorElementList": {}}, "event.sensorElementList: must be a list"),
    ({**BASE, "sensorElementList": [{"sensorReport": {}}]}, "sensorReport: must be a list"),
    ({**BASE, "sensorElementList": [{"sensorMetadata": {"time": 5}}]}, "sensorMetadata.time"),
    ({**BASE, "sensorElementList": [{"sensorReport": [{"time": "noon"}]}]}, "ISO 8601"),
    ({**BASE, "errorDeclaration": "oops"}, "event.errorDeclaration: must be an object"),
    ({**BASE, "ilmd": []}, "event.ilmd: must be an object"),
    ({**BASE, "example:x": float("nan")}, "event.example:x: number nan is not finite"),
    ({**BASE, "example:x": float("inf")}, "is not finite"),
    ({**BASE, "example:x": {1: "a"}}, "object key 1 is not a string"),
    ({**BASE, "example:x": {"a", "b"}}, "set is not a JSON value"),
    ({**BASE, "example:x": b"bytes"}, "bytes is not a JSON value"),
    ({**BASE, "example:x": {"#text": 5}}, "#text: must be a string"),
    ({**BASE, "example:x": "\ud800"}, "not valid Unicode"),
    ({**BASE, "example:x": _nested(200)}, "nested deeper than 64 levels"),
]


@pytest.mark.parametrize(("event", "message"), MALFORMED)
def test_malformed_events_raise_epcis_error(event: Any, message: str) -> None:
    for function in (prehash_string, event_hash, event_hash_ni):
        with pytest.raises(EpcisError, match=re.escape(message)) as raised:
            function(event)
        assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize("context", [["example"], {"example": 1}, {1: "x"}, "example"])
def test_malformed_context_raises_epcis_error(context: Any) -> None:
    with pytest.raises(EpcisError, match="context"):
        prehash_string(BASE, context)


MALFORMED_DOCUMENTS: list[tuple[Any, str]] = [
    ([], "must be a JSON object, got list"),
    ({}, "missing or malformed epcisBody"),
    ({"epcisBody": []}, "missing or malformed epcisBody"),
    ({"epcisBody": {}}, "no eventList, event or queryResults"),
    ({"epcisBody": {"queryResults": {"resultsBody": []}}}, "no eventList"),
    ({"epcisBody": {"eventList": {"type": "ObjectEvent"}}}, "eventList: must be a list, got dict"),
    ({"epcisBody": {"eventList": ["x"]}}, "epcisBody.eventList[0]: an event must be a JSON object"),
    ({"epcisBody": {"event": 5}}, "epcisBody.event[0]: an event must be a JSON object"),
    ({"epcisBody": {"eventList": [{"a": float("nan")}]}}, "eventList[0].a: number nan"),
    ({"epcisBody": {"eventList": [_nested(100)]}}, "nested deeper than 64 levels"),
]


@pytest.mark.parametrize(("doc", "message"), MALFORMED_DOCUMENTS)
def test_malformed_documents_raise_epcis_error(doc: Any, message: str) -> None:
    with pytest.raises(EpcisError, match=re.escape(message)):
        events_from_document(doc)


def test_is_error_declaration() -> None:
    assert is_error_declaration({**BASE, "errorDeclaration": {"reason": "did_not_occur"}})
    assert not is_error_declaration(BASE)
    with pytest.raises(EpcisError, match="must be a JSON object"):
        is_error_declaration(["errorDeclaration"])  # type: ignore[arg-type]
    with pytest.raises(EpcisError, match="errorDeclaration: must be an object"):
        is_error_declaration({**BASE, "errorDeclaration": True})


def test_error_declaration_is_not_part_of_the_hash() -> None:
    # CBV: the declaration names the event it corrects by that event's own hash.
    declared = {**BASE, "errorDeclaration": {"declarationTime": "2021-01-01T00:00:00Z"}}
    assert event_hash(declared) == event_hash(BASE)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_FIELDS = [
    "type",
    "eventTime",
    "eventTimeZoneOffset",
    "action",
    "epcList",
    "childEPCs",
    "parentID",
    "quantityList",
    "bizStep",
    "disposition",
    "persistentDisposition",
    "readPoint",
    "bizTransactionList",
    "sourceList",
    "sensorElementList",
    "certificationInfo",
    "ilmd",
    "errorDeclaration",
    "example:x",
    "#text",
    "comment",
    "@context",
]


@settings(max_examples=60, deadline=None)
@given(events(), st.sampled_from(_FIELDS), _json)
def test_hostile_field_values_raise_only_epcis_error(
    event: dict[str, Any], field: str, value: Any
) -> None:
    event[field] = value
    try:
        ni = event_hash_ni(event, NAMESPACES)
    except EpcisError:
        return
    assert ni.startswith("ni:///sha-256;")


@settings(max_examples=50, deadline=None)
@given(_json, _json)
def test_hostile_documents_raise_only_epcis_error(body: Any, context: Any) -> None:
    doc = {**document(), "@context": context, "epcisBody": {"eventList": [body]}}
    try:
        extracted = events_from_document(doc)
    except EpcisError:
        return
    for event, namespaces in extracted:
        with contextlib.suppress(EpcisError):
            assert prehash_string(event, namespaces).startswith("eventType=")
