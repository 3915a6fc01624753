"""Checking an EPCIS 2.0 capture document (or one event) before anything of it is stored.

Each event is checked against GS1's EPCIS 2.0 JSON Schema (vendored in core/epcis/schema, see its
SOURCE; compiled once with jsonschema-rs), then hashed as stored (core.epcis.hashed_event: the
checks of core.epcis.validation, an eventTime with its UTC offset). A problem names the event's
index in the document and the field (a JSON pointer), so a partner can find it.

The document's @context travels with each event: its namespace prefixes are what the event's
extension fields and CURIEs expand with, so the stored event re-hashes on its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs

from core.epcis.document import namespaces_from_context
from core.epcis.errors import EpcisError
from core.epcis.hashed_event import HashedEvent

_EVENT_LIST = ("epcisBody", "eventList")
_QUERY_EVENT_LIST = ("epcisBody", "queryResults", "resultsBody", "eventList")
_DOCUMENT_TYPES = ("EPCISDocument", "EPCISQueryDocument")
# What the store indexes (store.recording): event times from 1970, bizSteps of 255 characters.
_MAX_TIME_MS = 253_402_300_800_000  # 10000-01-01T00:00:00Z
_MAX_BIZ_STEP = 255


@dataclass(frozen=True)
class CaptureProblem:
    """One reason an event (index, or None for the document itself) cannot be captured."""

    index: int | None
    pointer: str
    message: str

    def __str__(self) -> str:
        where = "document" if self.index is None else f"event {self.index}"
        return f"{where}, {self.pointer or '/'}: {self.message}"


@dataclass
class CheckedDocument:
    """A capture document's events: the hashed ones by index, and the problems of the others."""

    events: dict[int, HashedEvent] = field(default_factory=dict)
    problems: list[CaptureProblem] = field(default_factory=list)
    count: int = 0

    @property
    def document_problems(self) -> list[CaptureProblem]:
        """Problems of the document itself (no event to blame): it is refused whole."""
        return [p for p in self.problems if p.index is None]


@cache
def _validator() -> Any:
    root = resources.files("core.epcis") / "schema"
    documents: list[tuple[str, Any]] = []
    for folder in (root, root / "schemas"):
        for entry in folder.iterdir():
            if entry.name.endswith(".json"):
                schema = json.loads(entry.read_text(encoding="utf-8"))
                documents.append((schema["$id"], schema))
    by_id = dict(documents)
    registry = jsonschema_rs.Registry(documents)
    top = by_id["https://gs1.github.io/EPCIS/JSON-Schema/EPCIS-JSON-Schema.json"]
    # Formats are checked (date-time, uri): GS1's schema relies on them.
    return jsonschema_rs.validator_for(top, registry=registry, validate_formats=True)


def _pointer(path: Sequence[str | int]) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _event_of(path: Sequence[str | int], prefix: tuple[str, ...]) -> int | None:
    if tuple(path[: len(prefix)]) == prefix and len(path) > len(prefix):
        index = path[len(prefix)]
        return index if isinstance(index, int) else None
    return None


def _schema_problems(value: Any, prefix: tuple[str, ...] | None) -> list[CaptureProblem]:
    problems = []
    for error in _validator().iter_errors(value):
        path = list(error.instance_path)
        index = None
        if prefix is not None:
            index = _event_of(path, prefix)
            rest = path[len(prefix) + 1 :] if index is not None else path
        else:
            index, rest = 0, path
        problems.append(CaptureProblem(index, _pointer(rest), _short(error.message)))
    return _most_specific(problems)


def _most_specific(problems: list[CaptureProblem]) -> list[CaptureProblem]:
    """Without an event's whole-object echo ("{...} is not valid under any of the schemas")
    when a deeper field of the same event is named: the deeper one says what is wrong."""
    deeper = {p.index for p in problems if p.pointer}
    return [
        p
        for p in problems
        if p.pointer or p.index not in deeper or "is a required property" in p.message
    ]


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[:limit] + "..."


def _with_context(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """The event carrying the document's @context (its own, if any, added after)."""
    out = dict(event)
    if context is None:
        return out
    outer = context if isinstance(context, list) else [context]
    own = event.get("@context")
    inner = [] if own is None else own if isinstance(own, list) else [own]
    if namespaces_from_context(outer) or inner:
        out["@context"] = [*outer, *inner]
    elif isinstance(context, str):
        out["@context"] = context
    return out


def _hash_events(
    events: Sequence[Any], context: Any, checked: CheckedDocument, skip: set[int]
) -> None:
    for index, event in enumerate(events):
        if index in skip:
            continue
        try:
            hashed = HashedEvent.of(_with_context(event, context))
        except (EpcisError, KeyError) as exc:
            checked.problems.append(CaptureProblem(index, "", f"not a valid EPCIS event: {exc}"))
            continue
        if not 0 <= hashed.event_time_ms < _MAX_TIME_MS:
            checked.problems.append(
                CaptureProblem(index, "/eventTime", "must be between 1970 and 9999 (UTC)")
            )
        elif hashed.biz_step is not None and len(hashed.biz_step) > _MAX_BIZ_STEP:
            checked.problems.append(
                CaptureProblem(index, "/bizStep", f"longer than {_MAX_BIZ_STEP} characters")
            )
        else:
            checked.events[index] = hashed


def check_document(doc: Any) -> CheckedDocument:
    """Check and hash every event of an EPCISDocument / EPCISQueryDocument (never raises)."""
    checked = CheckedDocument()
    if not isinstance(doc, Mapping) or doc.get("type") not in _DOCUMENT_TYPES:
        checked.problems.append(
            CaptureProblem(None, "/type", "must be an EPCISDocument or an EPCISQueryDocument")
        )
        return checked
    prefix = _EVENT_LIST if doc["type"] == "EPCISDocument" else _QUERY_EVENT_LIST
    checked.problems.extend(_schema_problems(doc, prefix))
    events: Any = doc
    for key in prefix:
        events = events.get(key) if isinstance(events, Mapping) else None
    if not isinstance(events, list):
        if not checked.document_problems:
            checked.problems.append(CaptureProblem(None, _pointer(prefix), "must be a list"))
        return checked
    checked.count = len(events)
    if checked.document_problems:
        return checked
    failed = {p.index for p in checked.problems if p.index is not None}
    _hash_events(events, doc.get("@context"), checked, failed)
    return checked


def check_event(event: Any) -> CheckedDocument:
    """Check and hash one event sent on its own (POST /events), as event 0."""
    checked = CheckedDocument(count=1)
    if not isinstance(event, Mapping):
        checked.problems.append(CaptureProblem(0, "", "an EPCIS event must be a JSON object"))
        return checked
    checked.problems.extend(_schema_problems(event, None))
    if not checked.problems:
        _hash_events([event], None, checked, set())
    return checked
