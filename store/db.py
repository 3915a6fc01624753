"""Engines, sessions and transactions for SQLite (dev mode) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from store.errors import StoreConfigError

DEFAULT_SQLITE_PATH = Path(".chaintrace") / "chaintrace.db"
SQLITE_BUSY_TIMEOUT_MS = 5000

# The execution option that marks a connection's transactions read-only (read_transaction).
_READ_ONLY = "chaintrace_read_only"

SqliteSync = Literal["NORMAL", "FULL"]
SqliteBegin = Literal["DEFERRED", "IMMEDIATE"]


def sqlite_url(path: str | Path = DEFAULT_SQLITE_PATH) -> str:
    """The SQLAlchemy URL of a SQLite file (absolute, so the working directory does not matter)."""
    return f"sqlite:///{Path(path).resolve()}"


def normalize_url(url: str) -> URL:
    """Parse a database URL, routing every PostgreSQL spelling to psycopg 3."""
    if not isinstance(url, str) or not url.strip():
        raise StoreConfigError("database URL is empty")
    try:
        parsed = make_url(url.strip())
    except ArgumentError as exc:
        raise StoreConfigError(f"not a database URL: {exc}") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgres", "postgresql"):
        if driver not in ("", "psycopg"):
            raise StoreConfigError(f"PostgreSQL driver {driver!r} unsupported: use psycopg (3)")
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise StoreConfigError(f"SQLite driver {driver!r} unsupported: use the stdlib sqlite3")
        return parsed.set(drivername="sqlite+pysqlite")
    raise StoreConfigError(f"unsupported database {backend!r}: use sqlite or postgresql")


def make_engine(
    url: str,
    *,
    sqlite_synchronous: SqliteSync = "NORMAL",
    sqlite_begin: SqliteBegin = "IMMEDIATE",
    echo: bool = False,
) -> Engine:
    """An engine for `url`: SQLite in WAL mode with a busy timeout, or PostgreSQL via psycopg 3.

    On SQLite every transaction starts with BEGIN IMMEDIATE by default: a transaction that reads
    then writes cannot then fail with SQLITE_BUSY halfway, it waits (busy_timeout) at BEGIN.
    A read_transaction starts with BEGIN DEFERRED instead (SET TRANSACTION READ ONLY on
    PostgreSQL): WAL readers neither wait for the writer nor hold it up.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(parsed, pool_pre_ping=True, echo=echo)
        event.listen(engine, "begin", _begin_postgresql)
        return engine
    if sqlite_synchronous not in ("NORMAL", "FULL"):
        raise StoreConfigError(f"sqlite_synchronous must be NORMAL or FULL: {sqlite_synchronous}")
    if sqlite_begin not in ("DEFERRED", "IMMEDIATE"):
        raise StoreConfigError(f"sqlite_begin must be DEFERRED or IMMEDIATE: {sqlite_begin}")
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, echo=echo
    )
    _configure_sqlite(engine, sqlite_synchronous, sqlite_begin)
    return engine


def _configure_sqlite(engine: Engine, synchronous: SqliteSync, begin: SqliteBegin) -> None:
    """Pragmas on each new connection, and SQLAlchemy (not sqlite3) emitting BEGIN."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # sqlite3's legacy transaction control skips BEGIN for SELECT/DDL/SAVEPOINT, which
        # breaks savepoints and transactional DDL; take BEGIN over (SQLAlchemy's recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(_READ_ONLY)
        connection.exec_driver_sql("BEGIN DEFERRED" if read_only else f"BEGIN {begin}")


def _begin_postgresql(connection: Any) -> None:
    # psycopg opens the transaction at its first statement: this one, so it applies to it all.
    if connection.get_execution_options().get(_READ_ONLY):
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")


def session_factory(engine: Engine | sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions bound to `engine`; objects stay readable after commit (a factory is returned as
    it is)."""
    if isinstance(engine, sessionmaker):
        return engine
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction: committed if the block succeeds, rolled back if it raises."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def read_transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one read-only transaction (a write in it fails on PostgreSQL).

    On SQLite it begins DEFERRED, not IMMEDIATE: it reads a WAL snapshot without taking the
    write lock, so it neither waits for a writer nor makes one wait.
    """
    with factory() as session, session.begin():
        read_only(session)
        yield session


def read_only(session: Session) -> None:
    """Begin `session`'s transaction read-only; call it before the session's first statement."""
    connection = session.connection(execution_options={_READ_ONLY: True})
    if not connection.get_execution_options().get(_READ_ONLY):
        raise RuntimeError("read_only(session) after its transaction began: it would write-lock")


def alembic_config(url: str) -> Config:
    """The packaged Alembic configuration, aimed at `url`."""
    cfg = Config(str(Path(__file__).with_name("alembic.ini")))
    cfg.set_main_option("script_location", "store:migrations")
    # Passed as an attribute, not a main option: configparser would choke on '%' in passwords.
    cfg.attributes["url"] = normalize_url(url).render_as_string(hide_password=False)
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Migrate the database at `url` to `revision` (default: every branch head, the newest schema).

    Independent migrations may branch from the same parent; "heads" applies all of them.
    """
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at `url` back to `revision` ("base" drops everything)."""
    command.downgrade(alembic_config(url), revision)
