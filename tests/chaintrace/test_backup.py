"""`chaintrace backup` / `restore` on SQLite (online backup API) and PostgreSQL (pg_dump -Fc,
pg_restore): a store of events anchored on anvil, backed up and restored into a fresh store,
passes the auditor's check of every proof against the chain; without its salts it fails."""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

import store
from chaintrace.backup import BackupError, backup, restore
from chaintrace.cli import app
from store.admin_log import Actor, admin_log_page, record_admin_action
from store.db import make_engine, session_factory, sqlite_url, upgrade
from store.erasure import erase_event, erasure_of
from store.models import Event, Leaf, event_epcs
from tests.utils.anchored_store import N, audited
from tests.utils.anchored_store import anchored as anchored  # the fixture
from tests.utils.anvil import (  # noqa: F401 (pytest fixtures: chain_snapshot and what it uses)
    ChainEnv,
    anvil_node,
    chain_env,
    chain_snapshot,
)
from tests.utils.holding_writer import HoldingWriter
from tests.utils.postgres import PostgresServer, pg_bin_dir


def _new_store(request: pytest.FixtureRequest, like: str, tmp_path: Path, name: str) -> str:
    """A fresh, empty database of `like`'s dialect (no schema at all), dropped after the test."""
    if like.startswith("sqlite"):
        return sqlite_url(tmp_path / f"{name}.db")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    request.addfinalizer(lambda: server.drop_database(url))
    return url


@pytest.fixture
def fresh_url(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> str:
    """An empty store of the test's dialect to restore into."""
    return _new_store(request, db_url, tmp_path, "restored")


@pytest.fixture
def sessions_of() -> Iterator[list[sa.Engine]]:
    engines: list[sa.Engine] = []
    yield engines
    for engine in engines:
        engine.dispose()


def _sessions(engines: list[sa.Engine], url: str) -> sessionmaker[Session]:
    engine = make_engine(url)
    engines.append(engine)
    return session_factory(engine)


def _cli(url: str, *args: str) -> tuple[int, str]:
    env: dict[str, str | None] = {"DATABASE_URL": url, "CHAINTRACE_DEV": None}
    pg = pg_bin_dir()
    extra = ["--pg-bin", str(pg)] if pg is not None and not url.startswith("sqlite") else []
    result = CliRunner().invoke(app, [*args, *extra], env=env)
    return result.exit_code, result.output


def test_a_restored_store_passes_the_audit_of_every_proof_and_fails_it_without_salts(
    anchored: ChainEnv,
    db_url: str,
    db_sessions: sessionmaker[Session],
    fresh_url: str,
    tmp_path: Path,
    sessions_of: list[sa.Engine],
) -> None:
    with store.transaction(db_sessions) as session:
        erased_id = session.scalars(select(Event.id).order_by(Event.id)).all()[4]
        erase_event(session, erased_id, Actor.cli("dpo"), "request 7")
    path = tmp_path / "store.backup"
    code, output = _cli(db_url, "backup", str(path))
    assert code == 0 and "backup written" in output, output
    code, output = _cli(fresh_url, "restore", str(path), "--by", "ops")
    assert code == 0 and "store restored" in output and "db upgrade" not in output, output
    restored = _sessions(sessions_of, fresh_url)
    report = audited(anchored, restored)
    assert report.ok, report.failures
    assert report.proofs_verified_on_chain == N - 1 and report.roots_rebuilt == 2
    assert report.projections == N and report.projections_verified_on_chain == N - 1
    assert [e["erasedBy"] for e in report.erased] == ["cli:dpo"]
    with restored() as session:
        assert [e.action for e in admin_log_page(session)] == ["event.erase", "store.restore"]
        assert admin_log_page(session)[-1].actor == "cli:ops"
    # What the backup protects: the same store without its salts proves nothing.
    with store.transaction(restored) as session:
        for leaf in session.scalars(select(Leaf).where(Leaf.event_id != erased_id)):
            leaf.salt = secrets.token_bytes(32)
    lost = audited(anchored, restored)
    assert not lost.ok and lost.proofs_verified_on_chain == lost.roots_rebuilt == 0
    rejected = [f for f in lost.failures if "the contract rejects its proof" in f]
    rebuilt = [f for f in lost.failures if "rebuilding the tree gives another root" in f]
    # Each event's leaf and its kind 2 leaf: both lost.
    assert (len(rejected), len(rebuilt), len(lost.failures)) == (2 * (N - 1), 2, 2 * N)


def test_restore_refuses_a_store_holding_data_unless_forced(
    anchored: ChainEnv, db_url: str, db_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "store.backup"
    assert _cli(db_url, "backup", str(path))[0] == 0
    code, output = _cli(db_url, "backup", str(path))
    assert code == 1 and "exists" in output  # never over an earlier backup
    code, output = _cli(db_url, "restore", str(path))
    assert code == 1 and "not empty" in output and "--force" in output
    code, output = _cli(db_url, "restore", str(path), "--force")
    assert code == 0, output
    assert audited(anchored, db_sessions).proofs_verified_on_chain == N


def test_a_backup_taken_while_a_writer_holds_its_transaction_is_consistent(
    db_url: str, db_sessions: sessionmaker[Session], fresh_url: str, tmp_path: Path
) -> None:
    """SQLite's backup API (and pg_dump) copy the committed state without waiting for, or
    stopping, the writers."""
    path = tmp_path / "store.backup"
    with store.transaction(db_sessions) as session:
        store.set_setting(session, "committed", 1)
    with HoldingWriter(db_sessions, "uncommitted"):
        backup(db_url, path, pg_bin=pg_bin_dir())
    restore(fresh_url, path, pg_bin=pg_bin_dir())
    engine = make_engine(fresh_url)
    try:
        with session_factory(engine)() as session:
            assert store.get_setting(session, "committed") == 1
            assert store.get_setting(session, "uncommitted") is None
    finally:
        engine.dispose()


def test_an_older_backup_is_restored_for_an_upgrade_and_a_newer_one_refused(
    request: pytest.FixtureRequest, db_url: str, tmp_path: Path
) -> None:
    pg = pg_bin_dir()
    old = _new_store(request, db_url, tmp_path, "old")
    upgrade(old, "0015_key_lifecycle")
    backup(old, tmp_path / "old.backup", pg_bin=pg)
    target = _new_store(request, db_url, tmp_path, "target")
    done = restore(target, tmp_path / "old.backup", pg_bin=pg)
    assert done.revision == "0015_key_lifecycle" and done.needs_upgrade and not done.logged
    upgrade(target)  # what the operator is told to run
    newer = _new_store(request, db_url, tmp_path, "newer")
    upgrade(newer)
    engine = make_engine(newer)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    finally:
        engine.dispose()
    backup(newer, tmp_path / "newer.backup", pg_bin=pg)
    empty = _new_store(request, db_url, tmp_path, "empty")
    with pytest.raises(BackupError, match="9999_future is newer than this release"):
        restore(empty, tmp_path / "newer.backup", pg_bin=pg)


def test_a_file_that_is_no_backup_is_refused_and_the_store_kept(
    db_url: str, db_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with store.transaction(db_sessions) as session:
        store.set_setting(session, "kept", 1)
    junk = tmp_path / "junk.backup"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(BackupError):
        restore(db_url, junk, force=True, pg_bin=pg_bin_dir())
    with pytest.raises(BackupError, match="no backup file"):
        restore(db_url, tmp_path / "missing", force=True)
    with db_sessions() as session:
        assert store.get_setting(session, "kept") == 1


def test_restoring_an_older_backup_keeps_later_erasures_and_admin_log_entries(
    anchored: ChainEnv, db_url: str, db_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """An erasure is for good and the log append-only: a backup from before them brings back
    neither the erased JSON and salt nor a store without the later entries."""
    with store.transaction(db_sessions) as session:
        first, later = session.scalars(select(Event.id).order_by(Event.id)).all()[4:6]
        erase_event(session, first, Actor.cli("dpo"), "request 7")
    path = tmp_path / "store.backup"
    backup(db_url, path, pg_bin=pg_bin_dir(), actor=Actor.cli("ops"))
    with store.transaction(db_sessions) as session:
        erased = erase_event(session, later, Actor.cli("dpo"), "request 8").record
        when = erased.erased_at
        record_admin_action(session, Actor.cli("alice"), "principal.update", "principal 9")
    with db_sessions() as session:
        before = [(e.id, e.action, e.actor, e.target) for e in admin_log_page(session)]
    done = restore(db_url, path, force=True, pg_bin=pg_bin_dir(), actor=Actor.cli("ops"))
    assert done.logged and not done.needs_upgrade
    with db_sessions() as session:
        assert session.get_one(Event, later).event_json == ""
        # Its own leaf and its kind 2 leaf: salts (and the projection) erased again.
        kept = session.execute(
            select(Leaf.kind, Leaf.salt, Leaf.projection_json).where(Leaf.event_id == later)
        ).all()
        record = erasure_of(session, later)
        assert record is not None and record.erased_by == "cli:dpo"
        assert record.reason == "request 8" and record.erased_at == when
        log = admin_log_page(session)
        indexed = set(session.scalars(select(event_epcs.c.event_id)))  # store/epc_index.py
    assert later not in indexed and later + 1 in indexed  # the erased event's EPCs go with it
    assert sorted(tuple(row) for row in kept) == [(0, b"", None), (2, b"", "")]
    assert [(e.id, e.action, e.actor, e.target) for e in log[:-1]] == before
    assert [e[1] for e in before] == [
        "event.erase",
        "store.backup",
        "event.erase",
        "principal.update",
    ]
    restored = log[-1]
    assert restored.action == "store.restore" and restored.actor == "cli:ops"
    assert restored.details["reappliedErasures"] == [later]
    assert restored.details["carriedLogEntries"] == [e[0] for e in before[1:]]
    report = audited(anchored, db_sessions)
    assert report.ok, report.failures
    assert sorted(int(str(e["eventId"])) for e in report.erased) == [first, later]
    with store.transaction(db_sessions) as session:  # the log goes on after the carried ids
        entry = record_admin_action(session, Actor.cli("bob"), "principal.update", "principal 1")
        assert entry.id > restored.id


def test_a_corrupt_sqlite_backup_is_refused_and_the_store_untouched(
    sqlite_file_url: str, tmp_path: Path
) -> None:
    upgrade(sqlite_file_url)
    sessions = session_factory(make_engine(sqlite_file_url))
    with store.transaction(sessions) as session:
        for n in range(2000):
            store.set_setting(session, f"setting {n}", "x" * 100)
    path = tmp_path / "store.backup"
    backup(sqlite_file_url, path)
    with store.transaction(sessions) as session:
        store.set_setting(session, "kept", 1)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2 // 4096 * 4096
    data[middle : middle + 4096] = os.urandom(4096)
    path.write_bytes(bytes(data))
    target = Path(sqlite_file_url.removeprefix("sqlite:///"))
    untouched = target.read_bytes()
    # Refused by the integrity check, or already on opening when the page hit holds the schema
    # (where the middle page falls depends on the tables the migrations made).
    with pytest.raises(BackupError, match=r"integrity check|malformed"):
        restore(sqlite_file_url, path, force=True)
    assert target.read_bytes() == untouched
    with sessions() as session:
        assert store.get_setting(session, "kept") == 1


def test_a_backup_is_readable_by_its_owner_only_and_logged(
    db_url: str, db_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """It holds every salt: 0600 whatever the umask, and who took it is in the admin log."""
    path = tmp_path / "store.backup"
    old_umask = os.umask(0o022)
    try:
        code, output = _cli(db_url, "backup", str(path), "--by", "ops")
    finally:
        os.umask(old_umask)
    assert code == 0, output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with db_sessions() as session:
        (entry,) = admin_log_page(session, action="store.backup")
    assert entry.actor == "cli:ops" and entry.details == {"file": str(path.resolve())}


def test_a_backup_older_than_the_admin_log_is_upgraded_to_keep_the_stores_log(
    request: pytest.FixtureRequest, db_url: str, db_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    old = _new_store(request, db_url, tmp_path, "old")
    upgrade(old, "0015_key_lifecycle")
    backup(old, tmp_path / "old.backup", pg_bin=pg_bin_dir())
    with store.transaction(db_sessions) as session:
        record_admin_action(session, Actor.cli("alice"), "principal.update", "principal 9")
    done = restore(db_url, tmp_path / "old.backup", force=True, pg_bin=pg_bin_dir())
    assert done.logged and not done.needs_upgrade  # upgraded at once: the log would be lost
    with db_sessions() as session:
        assert [(e.action, e.actor) for e in admin_log_page(session)][:1] == [
            ("principal.update", "cli:alice")
        ]
        assert admin_log_page(session)[-1].action == "store.restore"
