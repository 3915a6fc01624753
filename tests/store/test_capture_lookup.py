"""The capture's look-up of events stored already (store.capture_jobs) seeks the unique
(kind, event_hash) index instead of scanning the events table (measured by bench/capture.py:
every POST /epcis/capture paid a scan of the whole table before)."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Engine, event

from core.epcis.hashed_event import HashedEvent
from store.capture_jobs import capture_events
from store.db import session_factory, transaction
from store.models import Role
from store.principals import create_principal


def _event(n: int) -> HashedEvent:
    return HashedEvent(
        kind=0,
        event_hash=secrets.token_bytes(32),
        event_json=f'{{"type":"ObjectEvent","n":{n}}}',
        event_type="ObjectEvent",
        biz_step="shipping",
        event_time_ms=1_700_000_000_000 + n,
    )


def _plan(engine: Engine, statement: str, params: Any) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
            return "\n".join(str(row[-1]) for row in rows)
        # Tiny test tables make a sequential scan cheapest: ask what an index would give.
        conn.exec_driver_sql("SET enable_seqscan = off")
        rows = conn.exec_driver_sql("EXPLAIN " + statement, params).all()
        return "\n".join(str(row[0]) for row in rows)


def test_the_repeat_lookup_seeks_the_kind_hash_index(db_engine: Engine) -> None:
    sessions = session_factory(db_engine)
    events = [_event(n) for n in range(20)]
    with transaction(sessions) as session:
        first = create_principal(session, "first capturer", Role.CARRIER).id
        second = create_principal(session, "second capturer", Role.CARRIER).id
        ids = capture_events(session, events, first)
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM events" in statement:
            seen.append((statement, params))

    event.listen(db_engine, "before_cursor_execute", record)
    try:
        with transaction(sessions) as session:
            again = capture_events(session, events, second)
    finally:
        event.remove(db_engine, "before_cursor_execute", record)
    assert again == ids  # the repeat is found, not stored twice
    assert seen, "no look-up of stored events"
    for statement, params in seen:
        plan = _plan(db_engine, statement, params)
        if db_engine.dialect.name == "sqlite":
            assert "SCAN events" not in plan, plan
            assert "(kind=? AND event_hash=?)" in plan, plan
        else:
            assert "Seq Scan" not in plan, plan
            assert "kind" in plan.split("Index Cond:", 1)[-1], plan
