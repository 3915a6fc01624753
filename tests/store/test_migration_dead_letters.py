"""Revisions 0008 and 0009 on stores the earlier revisions populated: dead letters kept, indexed."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from store.db import downgrade, make_engine, session_factory, transaction, upgrade
from store.dead_letters import list_dead_letters, purge_dead_letters, trim_dead_letters
from store.models.types import utcnow

INDEX = "ix_dead_letters_received_at"


def _indexes(engine: sa.Engine) -> set[str]:
    return {str(ix["name"]) for ix in sa.inspect(engine).get_indexes("dead_letters")}


def test_0008_indexes_received_at_and_keeps_the_previous_releases_dead_letters(
    empty_db_url: str,
) -> None:
    now = utcnow()
    upgrade(empty_db_url, "0007_batch_trees")
    engine = make_engine(empty_db_url)
    try:
        assert INDEX not in _indexes(engine)
        # As the previous release wrote them: payloads of up to 4 KB, kept forever.
        with engine.begin() as conn:
            for i, days in enumerate((30, 20, 1, 0)):
                conn.execute(
                    sa.text(
                        "INSERT INTO dead_letters (topic, payload, payload_size, reason, detail,"
                        " device_address, seq, received_at)"
                        " VALUES (:topic, :payload, 4096, 'malformed_json', '', NULL, NULL, :at)"
                    ),
                    {"topic": f"t/{i}", "payload": b"{" * 4096, "at": now - timedelta(days=days)},
                )
        engine.dispose()
        upgrade(empty_db_url)
        assert INDEX in _indexes(engine)
        sessions = session_factory(engine)
        with sessions() as session:
            rows = list_dead_letters(session)
        assert [r.topic for r in rows] == ["t/3", "t/2", "t/1", "t/0"]
        assert all(r.payload == b"{" * 4096 and r.payload_size == 4096 for r in rows)
        with transaction(sessions) as session:
            assert purge_dead_letters(session, now - timedelta(days=7)) == 2
            assert trim_dead_letters(session, 1) == 1
        with sessions() as session:
            assert [r.topic for r in list_dead_letters(session)] == ["t/3"]
        engine.dispose()
        downgrade(empty_db_url, "0007_batch_trees")
        assert INDEX not in _indexes(engine)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT topic FROM dead_letters")).scalars().all() == [
                "t/3"
            ]
        engine.dispose()
        upgrade(empty_db_url)
        assert INDEX in _indexes(engine)
    finally:
        engine.dispose()


REASON_INDEX = "ix_dead_letters_reason_id"


def test_0009_indexes_reason_id_for_the_per_reason_trim_and_keeps_every_row(
    empty_db_url: str,
) -> None:
    upgrade(empty_db_url, "0008_dead_letters_received_at")
    engine = make_engine(empty_db_url)
    try:
        assert REASON_INDEX not in _indexes(engine)
        with engine.begin() as conn:
            for i, reason in enumerate(["equivocation"] + ["malformed_json"] * 3):
                conn.execute(
                    sa.text(
                        "INSERT INTO dead_letters (topic, payload, payload_size, reason, detail,"
                        " device_address, seq, received_at)"
                        " VALUES (:topic, :payload, 1, :reason, '', NULL, NULL, :at)"
                    ),
                    {"topic": f"t/{i}", "payload": b"{", "reason": reason, "at": utcnow()},
                )
        engine.dispose()
        upgrade(empty_db_url)
        assert REASON_INDEX in _indexes(engine)
        sessions = session_factory(engine)
        with transaction(sessions) as session:
            assert trim_dead_letters(session, 1) == 2
        with sessions() as session:
            assert sorted(r.topic for r in list_dead_letters(session)) == ["t/0", "t/3"]
        engine.dispose()
        downgrade(empty_db_url, "0008_dead_letters_received_at")
        assert REASON_INDEX not in _indexes(engine)
        with engine.connect() as conn:
            topics = conn.execute(sa.text("SELECT topic FROM dead_letters")).scalars().all()
        assert sorted(topics) == ["t/0", "t/3"]
        engine.dispose()
        upgrade(empty_db_url)
        assert REASON_INDEX in _indexes(engine)
    finally:
        engine.dispose()
