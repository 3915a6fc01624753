"""The admin log: one row per action in the action's transaction, paged, and append-only in
the database itself (UPDATE, DELETE refused by a trigger on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from store.admin_log import Actor, admin_log_page, admin_log_size, record_admin_action
from store.db import downgrade, make_engine, transaction, upgrade
from store.models import AdminLogEntry, Role
from store.principals import create_principal


def _log(sessions: sessionmaker[Session], n: int) -> None:
    with transaction(sessions) as session:
        admin = create_principal(session, "ops", Role.ADMIN)
        for i in range(n):
            record_admin_action(session, Actor.of(admin), "principal.update", f"p {i}", {"i": i})


def test_entries_are_paged_oldest_first_and_filtered(db_sessions: sessionmaker[Session]) -> None:
    _log(db_sessions, 5)
    with transaction(db_sessions) as session:
        record_admin_action(session, Actor.cli("alice"), "api_key.revoke", "principal 1 key 1")
    with db_sessions() as session:
        first = admin_log_page(session, limit=2)
        assert [e.target for e in first] == ["p 0", "p 1"]
        assert first[0].actor.startswith("principal ") and first[0].via == "api"
        rest = admin_log_page(session, after_id=first[-1].id, limit=10)
        assert [e.target for e in rest] == ["p 2", "p 3", "p 4", "principal 1 key 1"]
        assert rest[-1].actor == "cli:alice" and rest[-1].actor_principal_id is None
        revokes = admin_log_page(session, action="api_key.revoke")
        assert [e.details for e in revokes] == [{}]
        assert admin_log_size(session) == 6


def test_an_action_rolled_back_leaves_no_entry(db_sessions: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), transaction(db_sessions) as session:
        record_admin_action(session, Actor.cli("bob"), "principal.create", "principal 9")
        raise RuntimeError("the action failed")
    with db_sessions() as session:
        assert admin_log_size(session) == 0


@pytest.mark.parametrize(
    "statement",
    [
        update(AdminLogEntry).values(action="nothing"),
        delete(AdminLogEntry),
    ],
    ids=["update", "delete"],
)
def test_the_database_refuses_to_change_or_delete_an_entry(
    db_sessions: sessionmaker[Session], statement: sa.Executable
) -> None:
    _log(db_sessions, 2)
    with pytest.raises(DBAPIError, match="append-only"), transaction(db_sessions) as session:
        session.execute(statement)
    with db_sessions() as session:
        assert [e.action for e in admin_log_page(session)] == ["principal.update"] * 2


def test_0016_on_a_0015_store_keeps_every_row_and_refuses_a_downgrade_that_loses_the_log(
    empty_db_url: str,
) -> None:
    upgrade(empty_db_url, "0015_key_lifecycle")
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO principals (name, role, created_at)"
                    " VALUES ('old admin', 'admin', CURRENT_TIMESTAMP)"
                )
            )
        upgrade(empty_db_url)
        engine.dispose()
        downgrade(empty_db_url, "0015_key_lifecycle")  # nothing logged yet: nothing lost
        upgrade(empty_db_url)
        with transaction(sessionmaker(engine)) as session:
            record_admin_action(session, Actor.cli("carol"), "principal.update", "principal 1")
        engine.dispose()
        with pytest.raises(RuntimeError, match="admin_log holds 1 rows"):
            downgrade(empty_db_url, "0015_key_lifecycle")
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM principals")).scalar_one() == 1
            assert conn.execute(sa.text("SELECT count(*) FROM admin_log")).scalar_one() == 1
    finally:
        engine.dispose()


def test_the_database_refuses_an_insert_over_an_existing_entry(
    db_sessions: sessionmaker[Session],
) -> None:
    """SQLite's INSERT OR REPLACE deletes the old row without firing a DELETE trigger, and
    PostgreSQL's ON CONFLICT DO UPDATE is an update: both refused."""
    _log(db_sessions, 2)
    with db_sessions() as session:
        first = admin_log_page(session)[0]
        first_id, principal_id = first.id, first.actor_principal_id
    columns = "(id, at, actor_principal_id, actor, via, action, target, details)"
    values = "(:id, CURRENT_TIMESTAMP, NULL, 'cli:mallory', 'cli', 'nothing', 'x', '{}')"
    sqlite = db_sessions.kw["bind"].dialect.name == "sqlite"
    statement = (
        f"INSERT OR REPLACE INTO admin_log {columns} VALUES {values}"
        if sqlite
        else f"INSERT INTO admin_log {columns} VALUES {values}"
        " ON CONFLICT (id) DO UPDATE SET action = EXCLUDED.action, actor = EXCLUDED.actor"
    )
    with pytest.raises(DBAPIError, match="append-only"), transaction(db_sessions) as session:
        session.execute(sa.text(statement), {"id": first_id})
    with db_sessions() as session:
        entries = admin_log_page(session)
        assert [e.action for e in entries] == ["principal.update"] * 2
        assert entries[0].actor_principal_id == principal_id
