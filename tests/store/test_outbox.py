"""record_event: event + pending leaf in one transaction; duplicates name the existing id."""

from __future__ import annotations

import secrets
import threading

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from core.merkle import leaf_hash
from store.db import session_factory, transaction
from store.errors import DuplicateEventError, NotFoundError, StoreValueError
from store.models import Event, Leaf
from store.outbox import pending_leaf_count
from store.recording import record_event
from tests.utils.store_factories import (
    hashed_event,
    make_event,
    make_item,
    make_principal,
    make_product,
)


def _count(session: Session, model: type[Event] | type[Leaf]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_record_event_stores_event_and_pending_leaf(db_sessions: sessionmaker[Session]) -> None:
    with transaction(db_sessions) as session:
        recorder = make_principal(session)
        product = make_product(session)
        items = [make_item(session, product), make_item(session, product)]
        event = make_event(session, recorded_by=recorder.id, item_ids=tuple(i.id for i in items))
        event_id = event.id
    with db_sessions() as session:
        event = session.get_one(Event, event_id)
        assert event.leaf is not None
        leaf = event.leaf
        assert leaf.batch_id is None and leaf.leaf_index is None and leaf.proof is None
        assert len(leaf.salt) == 32
        assert leaf.leaf_hash == leaf_hash(event.kind, event.event_hash, leaf.salt)
        assert sorted(i.serial for i in event.items) == sorted(i.serial for i in items)
        assert event.recorded_by == recorder.id
        assert pending_leaf_count(session) == 1


def test_each_leaf_gets_its_own_salt(db_session: Session) -> None:
    events = [make_event(db_session) for _ in range(5)]
    salts = {e.leaf.salt for e in events if e.leaf is not None}
    assert len(salts) == 5


def test_duplicate_event_raises_with_existing_id(db_sessions: sessionmaker[Session]) -> None:
    event_hash = secrets.token_bytes(32)
    with transaction(db_sessions) as session:
        first_id = make_event(session, event_hash=event_hash).id
    with transaction(db_sessions) as session:
        with pytest.raises(DuplicateEventError) as info:
            make_event(session, event_hash=event_hash)
        assert info.value.existing_event_id == first_id
        # The same hash as an errorDeclaration is a different identity.
        correction = make_event(session, event_hash=event_hash, kind=1)
        assert correction.id != first_id
    with db_sessions() as session:
        assert _count(session, Event) == 2
        assert _count(session, Leaf) == 2


def test_error_after_record_event_rolls_back_event_and_leaf(
    db_sessions: sessionmaker[Session],
) -> None:
    with pytest.raises(RuntimeError), transaction(db_sessions) as session:
        make_event(session)
        raise RuntimeError("failure later in the same request")
    with db_sessions() as session:
        assert _count(session, Event) == 0
        assert _count(session, Leaf) == 0


def test_unknown_item_is_refused_before_anything_is_written(db_session: Session) -> None:
    with pytest.raises(NotFoundError):
        make_event(db_session, item_ids=(424242,))
    assert _count(db_session, Event) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", 2),
        ("event_hash", b"\x00" * 31),
        ("event_hash", "00" * 32),
        ("event_json", ""),
        ("event_type", ""),
        ("event_type", "x" * 65),
        ("biz_step", "x" * 256),
        ("event_time_ms", -1),
        ("event_time_ms", 2**63),
        ("event_time_ms", 1.5),
        ("salt", b"\x00" * 31),
        ("salt", "00" * 32),
    ],
)
def test_bad_event_fields_are_refused(db_session: Session, field: str, value: object) -> None:
    fields: dict[str, object] = {"event_json": "{}", "biz_step": None, "event_time_ms": 1}
    salt = value if field == "salt" else None
    if field != "salt":
        fields[field] = value
    with pytest.raises(StoreValueError):
        record_event(db_session, hashed_event(**fields), recorded_by=None, salt=salt)  # type: ignore[arg-type]
    assert _count(db_session, Event) == 0


def test_a_given_salt_is_used_instead_of_a_random_one(db_sessions: sessionmaker[Session]) -> None:
    # A brand signs a root over salts chosen before recording: the leaf must carry exactly those.
    salt, event_hash = secrets.token_bytes(32), secrets.token_bytes(32)
    with transaction(db_sessions) as session:
        hashed = hashed_event(event_hash=event_hash, event_json="{}", biz_step="commissioning")
        event = record_event(session, hashed, recorded_by=None, salt=salt)
        event_id = event.id
    with db_sessions() as session:
        leaf = session.get_one(Event, event_id).leaf
        assert leaf is not None
        assert leaf.salt == salt and leaf.leaf_hash == leaf_hash(0, event_hash, salt)


def test_concurrent_duplicate_on_postgres_keeps_the_loser_usable(pg_engine: Engine) -> None:
    # PostgreSQL only: there the second insert waits on the unique index and then loses the race
    # (SQLite serialises writers at BEGIN IMMEDIATE, so the pre-check already sees the first).
    sessions = session_factory(pg_engine)
    event_hash = secrets.token_bytes(32)
    outcome: dict[str, object] = {}
    first = sessions()
    first_event = make_event(first, event_hash=event_hash)

    def second_writer() -> None:
        with transaction(sessions) as session:
            try:
                make_event(session, event_hash=event_hash)
            except DuplicateEventError as exc:
                outcome["existing"] = exc.existing_event_id
            # The savepoint kept this transaction usable after the unique violation.
            outcome["other"] = make_event(session).id

    thread = threading.Thread(target=second_writer)
    thread.start()
    with pg_engine.connect() as watcher:
        # Wait (bounded) until the second writer blocks on the first one's uncommitted row.
        for _ in range(2000):
            waiting = watcher.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar()
            watcher.rollback()
            if waiting:
                break
            threading.Event().wait(0.01)
        else:
            pytest.fail("second writer never waited on the first")
    first.commit()
    first.close()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert outcome["existing"] == first_event.id
    with sessions() as session:
        assert _count(session, Event) == 2
