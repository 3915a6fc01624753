"""Engines: URL normalisation, SQLite pragmas, transactions commit or roll back."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from store.db import make_engine, normalize_url, session_factory, sqlite_url, transaction
from store.errors import StoreConfigError
from store.kv import delete_setting, get_setting, set_setting
from store.models import Setting


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p%40ss@h:5433/db", "postgresql+psycopg://u:p%40ss@h:5433/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///tmp/x.db", "sqlite+pysqlite:///tmp/x.db"),
    ],
)
def test_normalize_url_routes_postgres_to_psycopg3(url: str, expected: str) -> None:
    assert normalize_url(url).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize(
    "url",
    ["", "   ", "mysql://u@h/db", "postgresql+psycopg2://u@h/db", "not a url", "sqlite+x:///a"],
)
def test_bad_urls_are_refused_with_a_clear_error(url: str) -> None:
    with pytest.raises(StoreConfigError):
        make_engine(url)


def _pragma(engine: Engine, name: str) -> object:
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_sqlite_engine_uses_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "chaintrace.db"
    engine = make_engine(sqlite_url(path))
    try:
        assert _pragma(engine, "journal_mode") == "wal"
        assert _pragma(engine, "busy_timeout") == 5000
        assert _pragma(engine, "foreign_keys") == 1
        assert _pragma(engine, "synchronous") == 1  # NORMAL
        assert path.exists()
    finally:
        engine.dispose()
    full = make_engine(sqlite_url(path), sqlite_synchronous="FULL")
    try:
        assert _pragma(full, "synchronous") == 2
    finally:
        full.dispose()


def test_sqlite_rejects_unknown_synchronous_mode(tmp_path: Path) -> None:
    with pytest.raises(StoreConfigError):
        make_engine(sqlite_url(tmp_path / "a.db"), sqlite_synchronous="OFF")  # type: ignore[arg-type]


def test_transaction_commits_on_success_and_rolls_back_on_error(db_engine: Engine) -> None:
    factory = session_factory(db_engine)
    with transaction(factory) as session:
        set_setting(session, "deployment", {"chain_id": 31337, "anchor": "0x" + "ab" * 20})
    with pytest.raises(RuntimeError), transaction(factory) as session:
        set_setting(session, "deployment", {"chain_id": 1})
        set_setting(session, "other", [1, 2, 3])
        raise RuntimeError("boom")
    with factory() as session:
        assert get_setting(session, "deployment") == {
            "chain_id": 31337,
            "anchor": "0x" + "ab" * 20,
        }
        assert get_setting(session, "other", "absent") == "absent"
        assert session.scalars(select(Setting.key)).all() == ["deployment"]
    with transaction(factory) as session:
        assert delete_setting(session, "deployment")
        assert not delete_setting(session, "deployment")


def test_savepoints_roll_back_only_their_part(db_engine: Engine) -> None:
    # The SQLite engine takes over BEGIN so SAVEPOINT nests inside the transaction.
    factory = session_factory(db_engine)
    with transaction(factory) as session:
        set_setting(session, "kept", 1)
        with pytest.raises(RuntimeError), session.begin_nested():
            set_setting(session, "dropped", 2)
            raise RuntimeError("inner")
    with factory() as session:
        assert get_setting(session, "kept") == 1
        assert get_setting(session, "dropped") is None
        assert session.execute(text("SELECT 1")).scalar() == 1
