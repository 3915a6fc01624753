"""The EPC -> event index (table event_epcs): every EPC an event names, by field, written in the
transaction that records the event, so the EPCIS query finds the events naming an EPC by an
index seek instead of scanning every event's JSON.

Only exact EPCs of at most MAX_EPC characters are indexed and looked up: a pattern
(urn:epc:idpat:...) or a longer value is left to the query's text pre-filter. What the index
finds is still checked on the parsed JSON (store/epcis_match.py), as every match is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, insert, select
from sqlalchemy.orm import Session

from store.epcis_match import epcs_of
from store.models import Event, event_epcs

# The field an EPC is named in, as stored in event_epcs.field (MATCH_epc reads epcList and
# childEPCs alike: code 0).
FIELDS = {"epcList": 0, "childEPCs": 0, "parentID": 1, "inputEPCList": 2, "outputEPCList": 3}
MAX_EPC = 512  # event_epcs.epc's length: longer values are not indexed


def epc_entries(event_json: str) -> set[tuple[str, int]]:
    """(epc, field code) of every EPC the event's JSON names (none for JSON that is no object)."""
    try:
        body = json.loads(event_json)
    except ValueError:
        return set()
    if not isinstance(body, Mapping):
        return set()
    return {
        (epc, code)
        for name, code in FIELDS.items()
        for epc in epcs_of(body, (name,))
        if isinstance(epc, str) and 0 < len(epc) <= MAX_EPC
    }


def index_events(session: Session, events: Iterable[tuple[int, str]]) -> None:
    """Index the EPCs of (event id, event JSON) pairs, in the caller's transaction."""
    rows: list[dict[str, Any]] = [
        {"epc": epc, "field": code, "event_id": event_id}
        for event_id, event_json in events
        for epc, code in sorted(epc_entries(event_json))
    ]
    if rows:
        session.execute(insert(event_epcs), rows)


def forget_event(session: Session, event_id: int) -> None:
    """Drop the event's EPCs from the index (its JSON was erased)."""
    session.execute(event_epcs.delete().where(event_epcs.c.event_id == event_id))


def indexed(wanted: Sequence[str]) -> list[str]:
    """The wanted values the index answers: exact EPCs (not patterns) of at most MAX_EPC."""
    return [w for w in wanted if not w.startswith("urn:epc:idpat:") and 0 < len(w) <= MAX_EPC]


def naming(fields: Sequence[str], epcs: Sequence[str]) -> ColumnElement[bool]:
    """The event names one of `epcs` in one of `fields` (epcList, childEPCs, parentID...)."""
    codes = sorted({FIELDS[name] for name in fields})
    found = select(event_epcs.c.event_id).where(
        event_epcs.c.epc.in_(epcs), event_epcs.c.field.in_(codes)
    )
    return Event.id.in_(found)
