"""The EPC -> event index (store/epc_index.py, table event_epcs): filled as events are recorded
(one by one and in bulk), emptied for an erased event, and what the EPCIS query's MATCH_epc,
MATCH_anyEPC, MATCH_parentID, MATCH_inputEPC and MATCH_outputEPC seek instead of scanning the
events' JSON; patterns and over-long values still go by the text pre-filter."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from store.db import session_factory, transaction
from store.epcis_match import JsonFilters
from store.epcis_query import EventQuery, Viewer, query_events
from store.erasure import erase_event
from store.models import event_epcs
from store.recording import record_events
from tests.store.test_erasure import DPO, _anchor_all
from tests.utils.store_factories import hashed_event, make_event

A, B, C = (f"urn:epc:id:sgtin:0614141.107346.{n}" for n in (1, 2, 3))
PARENT = "urn:epc:id:sscc:0614141.1234567890"
LONG = "urn:epc:id:sgtin:0614141.107346." + "9" * 600  # over event_epcs.epc's 512
OVERSEER = Viewer(principal_id=0, overseer=True, brand_id=None, prefix=None)

BODIES: dict[str, dict[str, Any]] = {
    "object": {"type": "ObjectEvent", "action": "OBSERVE", "epcList": [A, A, B]},
    "aggregation": {"type": "AggregationEvent", "parentID": PARENT, "childEPCs": [C]},
    "transformation": {"type": "TransformationEvent", "inputEPCList": [A], "outputEPCList": [C]},
    "long": {"type": "ObjectEvent", "epcList": [LONG]},
    "none": {"type": "ObjectEvent", "quantityList": [{"epcClass": A}]},
}


def _record(sessions: sessionmaker[Session]) -> dict[str, int]:
    """BODIES recorded: the first by record_event, the others in one record_events call."""
    names = list(BODIES)
    with transaction(sessions) as session:
        ids = {names[0]: make_event(session, fields=BODIES[names[0]]).id}
        rows: Any = [
            {
                "event": hashed_event(n, event_json=json.dumps(BODIES[name])),
                "recorded_by": None,
            }
            for n, name in enumerate(names[1:])
        ]
        ids.update(zip(names[1:], record_events(session, rows), strict=True))
    return ids


def _index(sessions: sessionmaker[Session]) -> set[tuple[str, int, int]]:
    with sessions() as session:
        return {
            (str(e), int(f), int(i))
            for e, f, i in session.execute(
                select(event_epcs.c.epc, event_epcs.c.field, event_epcs.c.event_id)
            )
        }


def test_recording_indexes_every_epc_of_an_event_by_field(
    db_sessions: sessionmaker[Session],
) -> None:
    ids = _record(db_sessions)
    assert _index(db_sessions) == {
        (A, 0, ids["object"]),  # named twice, indexed once
        (B, 0, ids["object"]),
        (PARENT, 1, ids["aggregation"]),
        (C, 0, ids["aggregation"]),
        (A, 2, ids["transformation"]),
        (C, 3, ids["transformation"]),
    }


def test_an_erased_event_leaves_the_index(db_sessions: sessionmaker[Session]) -> None:
    ids = _record(db_sessions)
    with transaction(db_sessions) as session:
        _anchor_all(session)
    with transaction(db_sessions) as session:
        erase_event(session, ids["object"], DPO, "request")
    assert not {row for row in _index(db_sessions) if row[2] == ids["object"]}
    assert (A, 2, ids["transformation"]) in _index(db_sessions)


def _matching(engine: Engine, filters: JsonFilters) -> tuple[set[int], list[str]]:
    """The ids the query finds, and the SQL statements it sent."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        with session_factory(engine)() as session:
            page = query_events(
                session, OVERSEER, EventQuery(json=filters), after=None, per_page=100
            )
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return {r.event.id for r in page.records}, sent


def test_match_filters_find_exact_epcs_through_the_index(db_engine: Engine) -> None:
    ids = _record(session_factory(db_engine))
    cases = [
        (JsonFilters(match_epc=(A,)), {ids["object"]}),
        (JsonFilters(match_epc=(C,)), {ids["aggregation"]}),
        (JsonFilters(match_any_epc=(A,)), {ids["object"], ids["transformation"]}),
        (JsonFilters(match_any_epc=(PARENT,)), {ids["aggregation"]}),
        (JsonFilters(match_parent_id=(PARENT,)), {ids["aggregation"]}),
        (JsonFilters(match_input_epc=(A,)), {ids["transformation"]}),
        (JsonFilters(match_output_epc=(C,)), {ids["transformation"]}),
        (JsonFilters(match_epc=(B, C)), {ids["object"], ids["aggregation"]}),
        (JsonFilters(match_epc=("urn:epc:id:sgtin:0614141.107346.4",)), set()),
    ]
    for filters, wanted in cases:
        found, sent = _matching(db_engine, filters)
        assert found == wanted, filters
        query = next(s for s in sent if "FROM events" in s and "event_epcs" in s)
        assert " LIKE " not in query.upper(), query  # no scan of the events' text


def test_patterns_and_long_values_still_match_by_the_text(db_engine: Engine) -> None:
    ids = _record(session_factory(db_engine))
    pattern = "urn:epc:idpat:sgtin:0614141.107346.*"
    found, _ = _matching(db_engine, JsonFilters(match_epc=(pattern,)))
    assert found == {ids["object"], ids["aggregation"], ids["long"]}
    found, _ = _matching(db_engine, JsonFilters(match_epc=(LONG,)))
    assert found == {ids["long"]}
    found, _ = _matching(db_engine, JsonFilters(match_epc=(LONG, B)))
    assert found == {ids["object"], ids["long"]}
