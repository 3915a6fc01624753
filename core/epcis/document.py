"""EPCIS 2.0 JSON / JSON-LD documents: their events and the namespace prefixes they declare."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from core.epcis.errors import EpcisError
from core.epcis.validation import check_json


def namespaces_from_context(context: Any) -> dict[str, str]:
    """Prefix -> namespace IRI pairs of a JSON-LD @context; URLs and term objects are skipped.

    The reference reads prefixes only from a list-form @context; an object-form one declares the
    same prefixes in JSON-LD, so it counts here too.
    """
    entries = context if isinstance(context, list | tuple) else [context]
    namespaces: dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, Mapping):
            for prefix, namespace in entry.items():
                if isinstance(namespace, str) and not str(prefix).startswith("@"):
                    namespaces[str(prefix)] = namespace
    return namespaces


def _event_list(body: Mapping[str, Any]) -> tuple[str, Any]:
    if "eventList" in body:
        return "epcisBody.eventList", body["eventList"]
    if "event" in body:
        return "epcisBody.event", [body["event"]]
    results = body.get("queryResults")
    if isinstance(results, Mapping):
        results_body = results.get("resultsBody")
        if isinstance(results_body, Mapping) and "eventList" in results_body:
            return "epcisBody.queryResults.resultsBody.eventList", results_body["eventList"]
    raise EpcisError("epcisBody: no eventList, event or queryResults.resultsBody.eventList")


def events_from_document(doc: Mapping[str, Any]) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """The events of an EPCISDocument or EPCISQueryDocument, each with its namespace prefixes.

    Returns deep copies; an event's own @context, if any, adds to (and overrides) the document's.
    """
    if not isinstance(doc, Mapping):
        raise EpcisError(f"an EPCIS document must be a JSON object, got {type(doc).__name__}")
    body = doc.get("epcisBody")
    if not isinstance(body, Mapping):
        raise EpcisError("document: missing or malformed epcisBody")
    path, events = _event_list(body)
    if not isinstance(events, list | tuple):
        raise EpcisError(f"{path}: must be a list, got {type(events).__name__}")
    namespaces = namespaces_from_context(doc.get("@context"))
    extracted: list[tuple[dict[str, Any], dict[str, str]]] = []
    for index, event in enumerate(events):
        if not isinstance(event, Mapping):
            raise EpcisError(f"{path}[{index}]: an event must be a JSON object")
        check_json(event, f"{path}[{index}]")
        own = {**namespaces, **namespaces_from_context(event.get("@context"))}
        extracted.append((copy.deepcopy(dict(event)), own))
    return extracted
