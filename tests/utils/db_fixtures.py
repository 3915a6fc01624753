"""Database fixtures: every test that asks for `db_url` runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from store.db import make_engine, session_factory, upgrade
from tests.utils.postgres import PostgresServer, PostgresUnavailable

DIALECTS = ("sqlite", "postgresql")


def services_required() -> bool:
    """CI sets CHAINTRACE_REQUIRE_SERVICES=1: a missing service is then a failure, not a skip."""
    return os.environ.get("CHAINTRACE_REQUIRE_SERVICES") == "1"


def service_unavailable(reason: str) -> NoReturn:
    """Skip with the reason, or fail when services are required."""
    if services_required():
        pytest.fail(f"required service unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The server named by DATABASE_URL (if PostgreSQL), else a private one for this session."""
    url = os.environ.get("DATABASE_URL", "")
    try:
        if url.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
            server = PostgresServer.from_url(url)
        else:
            server = PostgresServer.start_private()
    except (PostgresUnavailable, OSError) as exc:
        service_unavailable(f"PostgreSQL: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)


@pytest.fixture
def sqlite_file_url(tmp_path: Path) -> str:
    """A fresh, empty SQLite file for one test."""
    return f"sqlite:///{tmp_path / 'chaintrace.db'}"


@pytest.fixture
def sqlite_sessions(sqlite_file_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions of a migrated SQLite file (one whose write lock a test may hold)."""
    upgrade(sqlite_file_url)
    engine = make_engine(sqlite_file_url)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


@pytest.fixture(params=DIALECTS)
def empty_db_url(request: pytest.FixtureRequest) -> str:
    """An empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_file_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def postgres_template_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A PostgreSQL database migrated to head once per session; tests get copies of it."""
    url = postgres_server.create_database()
    try:
        upgrade(url)
        yield url
    finally:
        postgres_server.drop_database(url)


@pytest.fixture
def pg_db_url(postgres_server: PostgresServer, postgres_template_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database migrated to head (a copy of the template), dropped after."""
    url = postgres_server.create_database(template=postgres_template_url)
    try:
        yield url
    finally:
        postgres_server.drop_database(url)


@pytest.fixture(params=DIALECTS)
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh database migrated to head, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url = str(request.getfixturevalue("sqlite_file_url"))
        upgrade(url)
        return url
    return str(request.getfixturevalue("pg_db_url"))


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    """An engine on the migrated test database."""
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def db_sessions(db_engine: Engine) -> sessionmaker[Session]:
    """The session factory of the migrated test database."""
    return session_factory(db_engine)


@pytest.fixture
def db_session(db_sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One session on the migrated test database (not committed for you)."""
    with db_sessions() as session:
        yield session


@pytest.fixture
def pg_engine(pg_db_url: str) -> Iterator[Engine]:
    """An engine on the migrated PostgreSQL test database."""
    engine = make_engine(pg_db_url)
    try:
        yield engine
    finally:
        engine.dispose()
