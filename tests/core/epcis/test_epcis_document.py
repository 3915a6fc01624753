"""Reading events and namespace prefixes out of EPCIS documents."""

from __future__ import annotations

import copy
from typing import Any

from core.epcis import event_hash, events_from_document, namespaces_from_context, prehash_string
from tests.core.epcis.epcis_strategies import CONTEXT, NAMESPACES, document

EVENT: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2020-01-01T00:00:00Z",
    "eventTimeZoneOffset": "+00:00",
    "action": "OBSERVE",
    "example:myField": "value",
}


def test_event_list_with_document_prefixes() -> None:
    other = {**EVENT, "action": "ADD"}
    assert events_from_document(document(EVENT, other)) == [
        (EVENT, NAMESPACES),
        (other, NAMESPACES),
    ]


def test_single_event_and_query_results() -> None:
    single = {"@context": CONTEXT, "epcisBody": {"event": EVENT}}
    query = {
        "@context": CONTEXT,
        "type": "EPCISQueryDocument",
        "epcisBody": {
            "queryResults": {"queryName": "SimpleEventQuery", "resultsBody": {"eventList": [EVENT]}}
        },
    }
    assert events_from_document(single) == events_from_document(query) == [(EVENT, NAMESPACES)]


def test_namespaces_from_every_context_form() -> None:
    assert namespaces_from_context(CONTEXT) == NAMESPACES
    assert namespaces_from_context(NAMESPACES) == NAMESPACES
    assert (
        namespaces_from_context("https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld")
        == {}
    )
    assert namespaces_from_context(None) == {}
    # Term objects and keywords are not namespace prefixes; later entries win.
    mixed = [
        {"a": "http://a/", "a:term": {"@type": "@id"}, "@vocab": "http://v/"},
        {"a": "http://b/"},
    ]
    assert namespaces_from_context(mixed) == {"a": "http://b/"}


def test_an_event_context_adds_to_the_document_context() -> None:
    own = {**EVENT, "@context": [{"ex2": "http://ex2.example/"}, {"example": "http://other/"}]}
    [(event, namespaces)] = events_from_document(document(own))
    assert namespaces == {"example": "http://other/", "ex2": "http://ex2.example/"}
    assert event == own


def test_extracted_events_are_copies_and_hashing_does_not_mutate() -> None:
    doc = document({**EVENT, "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"]})
    original = copy.deepcopy(doc)
    [(event, namespaces)] = events_from_document(doc)
    event["epcList"].append("changed")
    assert doc == original
    frozen = copy.deepcopy(original["epcisBody"]["eventList"][0])
    prehash_string(original["epcisBody"]["eventList"][0], namespaces)
    assert original["epcisBody"]["eventList"][0] == frozen


def test_a_prefix_changes_the_key_it_names() -> None:
    with_prefix = prehash_string(EVENT, NAMESPACES)
    assert "{http://ns.example.com/epcis/}myField=value" in with_prefix
    assert "example:myField=value" in prehash_string(EVENT)
    assert event_hash(EVENT, NAMESPACES) != event_hash(EVENT)
