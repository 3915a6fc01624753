"""Dead-letter retention in the store: payloads capped small, the newest N kept, index-only plans.

The purge statements are checked by their query plans on SQLite and PostgreSQL (no timing): the
count purge walks the primary key, the age purge uses ix_dead_letters_received_at.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from store.db import session_factory, transaction
from store.dead_letters import (
    NewDeadLetter,
    add_dead_letters,
    list_dead_letters,
    purge_dead_letters,
    trim_dead_letters,
)
from store.errors import StoreValueError
from store.models.types import utcnow


def _add(sessions: sessionmaker[Session], count: int, **fields: Any) -> None:
    with transaction(sessions) as session:
        add_dead_letters(
            session,
            [NewDeadLetter(f"t/{i}", b"x", "malformed_json", **fields) for i in range(count)],
        )


def _ids(sessions: sessionmaker[Session]) -> list[int]:
    with sessions() as session:
        return sorted(d.id for d in list_dead_letters(session, limit=10_000))


def test_payload_capped_at_512_bytes_with_the_original_size(
    db_sessions: sessionmaker[Session],
) -> None:
    with transaction(db_sessions) as session:
        add_dead_letters(
            session,
            [
                NewDeadLetter("whole", b"{" * 4096, "malformed_json"),
                # The gateway hands over a prefix and the message's full size.
                NewDeadLetter("prefix", b"[" * 512, "too_deep", payload_size=1_000_000),
                # A claimed size below what was given is not believed.
                NewDeadLetter("claim", b"]" * 100, "too_deep", payload_size=3),
            ],
        )
    with db_sessions() as session:
        rows = {d.topic: d for d in list_dead_letters(session)}
    assert (rows["whole"].payload, rows["whole"].payload_size) == (b"{" * 512, 4096)
    assert (rows["prefix"].payload, rows["prefix"].payload_size) == (b"[" * 512, 1_000_000)
    assert rows["claim"].payload_size == 100


def test_trim_keeps_exactly_the_newest_rows(db_sessions: sessionmaker[Session]) -> None:
    _add(db_sessions, 25)
    everything = _ids(db_sessions)
    with transaction(db_sessions) as session:
        assert trim_dead_letters(session, 10) == 15
    assert _ids(db_sessions) == everything[-10:]
    with transaction(db_sessions) as session:
        assert trim_dead_letters(session, 10) == 0
        assert trim_dead_letters(session, 1000) == 0
    _add(db_sessions, 3)
    with transaction(db_sessions) as session:
        assert trim_dead_letters(session, 1) == 12
    (last,) = _ids(db_sessions)
    assert last > everything[-1]
    with db_sessions() as session, pytest.raises(StoreValueError):
        trim_dead_letters(session, 0)


def test_purge_by_age_keeps_the_recent(db_sessions: sessionmaker[Session]) -> None:
    now = utcnow()
    _add(db_sessions, 4, received_at=now - timedelta(days=8))
    _add(db_sessions, 2, received_at=now - timedelta(days=6))
    with transaction(db_sessions) as session:
        assert purge_dead_letters(session, now - timedelta(days=7)) == 4
    assert len(_ids(db_sessions)) == 2


def _captured(engine: Engine, run: Any) -> list[tuple[str, Any]]:
    """The SQL statements (with parameters) `run(session)` sends about dead_letters."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_rest: Any) -> None:
        if "dead_letters" in statement:
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with transaction(session_factory(engine)) as session:
            run(session)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def _plan(engine: Engine, statement: str, params: Any) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
            return "\n".join(str(row[-1]) for row in rows)
        # Tiny test tables make a sequential scan cheapest: ask what an index would give.
        conn.exec_driver_sql("SET enable_seqscan = off")
        rows = conn.exec_driver_sql("EXPLAIN " + statement, params).all()
        return "\n".join(str(row[0]) for row in rows)


def test_purge_statements_use_indexes(db_engine: Engine) -> None:
    sessions = session_factory(db_engine)
    _add(sessions, 30, received_at=utcnow() - timedelta(days=9))
    trim = _captured(db_engine, lambda s: trim_dead_letters(s, 10))
    age = _captured(db_engine, lambda s: purge_dead_letters(s, utcnow() - timedelta(days=7)))
    assert [s.split()[0] for s, _ in trim] == ["SELECT", "DELETE"]
    assert [s.split()[0] for s, _ in age] == ["DELETE"]
    plans = [_plan(db_engine, statement, params) for statement, params in trim + age]
    newest, trim_delete, age_delete = plans
    if db_engine.dialect.name == "sqlite":
        # The rowid in descending order: no sort of the table.
        assert "TEMP B-TREE" not in newest and "SCAN dead_letters" in newest, newest
        assert "INTEGER PRIMARY KEY (rowid<?)" in trim_delete, trim_delete
        assert "INDEX ix_dead_letters_received_at (received_at<?)" in age_delete, age_delete
    else:
        assert "Index Only Scan Backward using pk_dead_letters" in newest, newest
        assert "Sort" not in newest, newest
        assert "pk_dead_letters" in trim_delete and "Seq Scan" not in trim_delete, trim_delete
        assert "ix_dead_letters_received_at" in age_delete, age_delete
        assert "Seq Scan" not in age_delete, age_delete
