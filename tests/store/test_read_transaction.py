"""Read-only transactions: on SQLite they neither wait for the writer nor hold it up.

Every other transaction on SQLite begins IMMEDIATE (it takes the write lock at BEGIN), so a
reader in one would wait for any writer, and make writers wait for it. A read_transaction
begins DEFERRED: it reads the WAL snapshot while another connection holds the write lock. On
PostgreSQL it is READ ONLY: a write in it is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from store.db import make_engine, read_only, read_transaction, session_factory, transaction
from store.kv import get_setting, set_setting
from store.models import Setting
from tests.utils.holding_writer import HoldingWriter


@pytest.fixture
def impatient(db_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions whose SQLite connections wait 200 ms for a lock, not 5 s (the control below)."""
    engine = make_engine(db_url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _short_wait(dbapi_connection: Any, _record: Any) -> None:  # after make_engine's
            dbapi_connection.execute("PRAGMA busy_timeout=200")

    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


def test_a_read_transaction_reads_while_a_writer_holds_the_lock(
    db_engine: Engine, impatient: sessionmaker[Session]
) -> None:
    with transaction(session_factory(db_engine)) as session:
        set_setting(session, "written", "old")
    with HoldingWriter(session_factory(db_engine), "written", "new"):
        with read_transaction(impatient) as session:
            assert get_setting(session, "written") == "old"  # the last committed state
        if db_engine.dialect.name == "sqlite":
            # The control: an ordinary transaction takes the write lock at BEGIN and times out.
            with pytest.raises(OperationalError, match="locked"), transaction(impatient) as s:
                s.scalars(select(Setting.key)).all()
    with read_transaction(impatient) as session:
        assert get_setting(session, "written") == "new"


def test_a_writer_is_not_held_up_by_an_open_read_transaction(
    db_engine: Engine, impatient: sessionmaker[Session]
) -> None:
    with read_transaction(session_factory(db_engine)) as reader:
        assert get_setting(reader, "k") is None
        with transaction(impatient) as session:  # within 200 ms on SQLite, or it raises
            set_setting(session, "k", 1)
        assert get_setting(reader, "k") is None or db_engine.dialect.name == "postgresql"
    with read_transaction(impatient) as session:
        assert get_setting(session, "k") == 1


def test_postgresql_refuses_a_write_in_a_read_transaction(pg_engine: Engine) -> None:
    with (
        pytest.raises(DBAPIError, match="read-only"),
        read_transaction(session_factory(pg_engine)) as session,
    ):
        set_setting(session, "k", 1)
        session.flush()
    with transaction(session_factory(pg_engine)) as session:  # the pool's connection is not
        set_setting(session, "k", 2)  # left read-only
    with read_transaction(session_factory(pg_engine)) as session:
        assert get_setting(session, "k") == 2


@pytest.mark.filterwarnings("ignore:Connection is already established")
def test_read_only_after_the_transaction_began_is_refused(
    db_sessions: sessionmaker[Session],
) -> None:
    with transaction(db_sessions) as session:
        session.scalars(select(Setting.key)).all()
        with pytest.raises(RuntimeError, match="after its transaction began"):
            read_only(session)
