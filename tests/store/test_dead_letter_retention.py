"""Dead-letter retention in the store: payloads capped small, the newest N of each reason kept,
index-only plans.

The purge statements are checked by their query plans on SQLite and PostgreSQL (no timing): the
count purge walks ix_dead_letters_reason_id, the age purge uses ix_dead_letters_received_at.
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
    dead_letter_counts,
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


def test_a_junk_flood_bigger_than_the_cap_leaves_the_other_reasons_rows(
    db_sessions: sessionmaker[Session],
) -> None:
    # The evidence of a stolen key (and of gateway bugs) first, then far more junk than `keep`.
    device = "0x" + "ab" * 20
    evidence = [
        NewDeadLetter(f"e/{i}", b"{}", reason, device_address=device, seq=i)
        for i, reason in enumerate(
            ["equivocation"] * 3 + ["store_refused"] * 2 + ["internal_error"] * 2
        )
    ]
    with transaction(db_sessions) as session:
        add_dead_letters(session, evidence)
    _add(db_sessions, 50)  # malformed_json
    junk = _ids(db_sessions)[len(evidence) :]
    with transaction(db_sessions) as session:
        assert trim_dead_letters(session, 10) == 40
    with db_sessions() as session:
        assert dead_letter_counts(session) == {
            "equivocation": 3,
            "store_refused": 2,
            "internal_error": 2,
            "malformed_json": 10,
        }
        flood = list_dead_letters(session, reason="malformed_json")
    assert sorted(d.id for d in flood) == junk[-10:]
    # Each reason keeps its own newest `keep`: a reason beyond it is trimmed, the others not.
    with transaction(db_sessions) as session:
        assert trim_dead_letters(session, 2) == 1 + 8
    with db_sessions() as session:
        assert dead_letter_counts(session) == {
            "equivocation": 2,
            "store_refused": 2,
            "internal_error": 2,
            "malformed_json": 2,
        }
        kept = list_dead_letters(session, reason="equivocation")
    assert sorted(d.seq for d in kept) == [1, 2]


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
    with transaction(sessions) as session:
        add_dead_letters(session, [NewDeadLetter("t", b"x", "equivocation") for _ in range(30)])
    trim = _captured(db_engine, lambda s: trim_dead_letters(s, 10))
    age = _captured(db_engine, lambda s: purge_dead_letters(s, utcnow() - timedelta(days=7)))
    # Per reason present: a seek to it, its (keep+1)-th newest id, a range delete; then a last
    # seek that finds no further reason.
    assert [s.split()[0] for s, _ in trim] == ["SELECT", "SELECT", "DELETE"] * 2 + ["SELECT"]
    assert [s.split()[0] for s, _ in age] == ["DELETE"]
    plans = [_plan(db_engine, statement, params) for statement, params in trim + age]
    first_reason, next_reasons = plans[0], [plans[3], plans[6]]
    age_delete = plans[-1]
    if db_engine.dialect.name == "sqlite":
        # The index in order (the first entry is the answer): no sort of the table.
        assert "COVERING INDEX ix_dead_letters_reason_id" in first_reason, first_reason
        assert "TEMP B-TREE" not in first_reason, first_reason
        for seek in next_reasons:
            assert "COVERING INDEX ix_dead_letters_reason_id (reason>?)" in seek, seek
        for newest, trim_delete in [(plans[1], plans[2]), (plans[4], plans[5])]:
            assert "COVERING INDEX ix_dead_letters_reason_id (reason=?)" in newest, newest
            assert "TEMP B-TREE" not in newest, newest
            assert "INDEX ix_dead_letters_reason_id (reason=? AND id<?)" in trim_delete, trim_delete
        assert "INDEX ix_dead_letters_received_at (received_at<?)" in age_delete, age_delete
    else:
        for seek in [first_reason, *next_reasons]:
            assert "Index Only Scan using ix_dead_letters_reason_id" in seek, seek
            assert "Sort" not in seek, seek
        for newest, trim_delete in [(plans[1], plans[2]), (plans[4], plans[5])]:
            assert "Index Only Scan Backward using ix_dead_letters_reason_id" in newest, newest
            assert "Sort" not in newest, newest
            assert "ix_dead_letters_reason_id" in trim_delete, trim_delete
            assert "Seq Scan" not in trim_delete, trim_delete
        assert "ix_dead_letters_received_at" in age_delete, age_delete
        assert "Seq Scan" not in age_delete, age_delete
