"""Leases with fencing tokens on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy.orm import Session, sessionmaker

import store
from store.errors import StoreValueError
from store.leases import (
    LeaseGrant,
    LeaseLost,
    acquire_lease,
    check_fence,
    lease_holder,
    release_lease,
)


def acquire(sessions: sessionmaker[Session], holder: str, ttl: float = 30.0) -> LeaseGrant | None:
    with store.transaction(sessions) as session:
        return acquire_lease(session, "anchor:0xabc", holder, ttl)


def test_one_holder_at_a_time_and_a_new_holder_gets_a_larger_token(
    db_sessions: sessionmaker[Session],
) -> None:
    # Live for as long as the refusal takes on a loaded machine; the renewal then shortens it.
    first = acquire(db_sessions, "a", ttl=30.0)
    assert first is not None and first.token == 1
    assert acquire(db_sessions, "b") is None  # a's lease is live
    renewed = acquire(db_sessions, "a", ttl=0.2)
    assert renewed == first  # renewal keeps the token
    time.sleep(0.3)  # past the renewed expiry (a slow machine only sleeps longer)
    second = acquire(db_sessions, "b")
    assert second is not None and second.token == 2 and second.holder == "b"
    with db_sessions() as session:
        assert lease_holder(session, "anchor:0xabc") == second


def test_a_stale_holder_cannot_write_after_the_handover(db_sessions: sessionmaker[Session]) -> None:
    stale = acquire(db_sessions, "a", ttl=0.1)
    assert stale is not None
    time.sleep(0.2)
    fresh = acquire(db_sessions, "b")
    assert fresh is not None
    with pytest.raises(LeaseLost, match="held by b"), store.transaction(db_sessions) as session:
        check_fence(session, stale)
        store.set_setting(session, "written-by", "a")
    with store.transaction(db_sessions) as session:
        check_fence(session, fresh)
        store.set_setting(session, "written-by", "b")
    with db_sessions() as session:
        assert store.get_setting(session, "written-by") == "b"
    # Even coming back to a's name later, its old token stays fenced off.
    with store.transaction(db_sessions) as session:
        assert not release_lease(session, stale)
        assert release_lease(session, fresh)
        assert lease_holder(session, "anchor:0xabc") is None


def test_the_fence_check_holds_the_lease_until_the_writer_commits(
    db_sessions: sessionmaker[Session],
) -> None:
    grant = acquire(db_sessions, "a", ttl=0.3)
    assert grant is not None
    taken: list[object] = []
    in_write = threading.Event()

    def other() -> None:
        in_write.wait()
        time.sleep(0.4)  # a's lease has expired by now, but a's write transaction is open
        taken.append(acquire(db_sessions, "b"))

    thread = threading.Thread(target=other)
    thread.start()
    with store.transaction(db_sessions) as session:
        check_fence(session, grant)
        in_write.set()
        time.sleep(0.6)
        store.set_setting(session, "written-by", "a")
        assert taken == []  # b waits on the lease row until a commits
    thread.join(timeout=10)
    assert taken and getattr(taken[0], "token", None) == 2


@pytest.mark.parametrize(
    ("name", "holder", "ttl"), [("", "a", 1), ("n", "", 1), ("n", "a", 0), ("n", "a", True)]
)
def test_bad_arguments_are_refused(
    db_sessions: sessionmaker[Session], name: str, holder: str, ttl: float
) -> None:
    with pytest.raises(StoreValueError), store.transaction(db_sessions) as session:
        acquire_lease(session, name, holder, ttl)
