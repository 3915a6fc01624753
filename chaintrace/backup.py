"""`chaintrace backup` / `restore`: a copy of the whole store, salts included.

The salts are what a backup protects above all: a leaf is keccak256(kind, eventHash, salt) with
a random salt, so without them no event's proof can be rebuilt, and the roots on chain prove
nothing about the store. SQLite is copied with its online backup API (a consistent snapshot
while the API, gateway and workers keep writing); PostgreSQL with its own tools, pg_dump in the
custom format and pg_restore.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL

from chaintrace.private_files import private_file
from chaintrace.restore_keep import Kept, read_kept, reapply
from store.admin_log import Actor, record_admin_action
from store.db import (
    alembic_config,
    make_engine,
    normalize_url,
    session_factory,
    transaction,
    upgrade,
)

_PG_TIMEOUT_S = 3600


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did: the backup's schema revision and whether it needs an upgrade."""

    revision: str
    needs_upgrade: bool
    logged: bool  # whether the restored store's admin log holds the restore


def backup(
    database_url: str, path: Path, *, pg_bin: Path | None = None, actor: Actor | None = None
) -> str:
    """Write a backup of the store at `database_url` to `path` (never over an existing file;
    readable by its owner only: it holds every salt), logged in the store's admin log as done
    by `actor` (the CLI always names one); returns the backup's schema revision."""
    if path.exists():
        raise BackupError(f"{path} exists: choose a new file (a backup never overwrites one)")
    url = normalize_url(database_url)
    if url.get_backend_name() == "sqlite":
        revision = _backup_sqlite(_sqlite_file(url, must_exist=True), path)
    else:
        revision = _backup_postgres(url, path, pg_bin)
    if actor is not None:  # after the snapshot: the writers were not held up for it
        log_store_action(database_url, actor, "store.backup", {"file": str(path.resolve())})
    return revision


def log_store_action(database_url: str, actor: Actor, action: str, details: dict[str, Any]) -> bool:
    """One admin-log entry about the whole store (a backup, an export), when its schema has the
    log (0016 on)."""
    engine = make_engine(database_url)
    try:
        if not sa.inspect(engine).has_table("admin_log"):
            return False
        with transaction(session_factory(engine)) as session:
            record_admin_action(session, actor, action, "store", details)
        return True
    finally:
        engine.dispose()


def _backup_postgres(url: URL, path: Path, pg_bin: Path | None) -> str:
    partial = path.with_name(path.name + ".partial")
    dump = [_pg_tool("pg_dump", pg_bin), "-Fc", "--no-owner", "-f", str(partial)]
    try:
        private_file(partial)  # pg_dump writes into it: it keeps its mode
        _run([*dump, "-d", _conninfo(url)], url)
        partial.chmod(0o600)
        revision = _dump_revision(partial, pg_bin)
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
    return revision


def restore(
    database_url: str,
    path: Path,
    *,
    force: bool = False,
    pg_bin: Path | None = None,
    actor: Actor | None = None,
) -> RestoreResult:
    """Replace the store at `database_url` with the backup at `path`.

    Refused while the store holds any row (unless `force`) and for a backup of a schema newer
    than this code's; a backup of an older schema is restored and needs `chaintrace db
    upgrade` after. Stop the API, gateway and workers first: they must not write meanwhile.
    """
    if not path.is_file():
        raise BackupError(f"no backup file at {path}")
    url = normalize_url(database_url)
    sqlite = url.get_backend_name() == "sqlite"
    revision = _file_revision(path) if sqlite else _dump_revision(path, pg_bin)
    needs_upgrade = _check_revision(database_url, revision)
    if not force:
        holding = _tables_with_rows(database_url)
        if holding:
            raise BackupError(
                f"the store is not empty ({', '.join(holding[:5])} hold rows): restoring would"
                " replace it; pass --force to do so"
            )
    if sqlite:
        _check_sqlite_backup(path)
    kept = _read_kept(database_url, url)  # before the store is replaced: restored after
    if sqlite:
        _restore_sqlite(path, _sqlite_file(url, must_exist=False))
    else:
        _restore_postgres(url, path, pg_bin)
    if kept and needs_upgrade and not _has_admin_log(database_url):
        # A backup older than the admin log: upgraded now, else the erasures are lost.
        upgrade(database_url)
        needs_upgrade = False
    logged = _log_restore(database_url, path, revision, actor or Actor.cli(), kept)
    return RestoreResult(revision, needs_upgrade, logged)


def _sqlite_file(url: URL, *, must_exist: bool) -> Path:
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"not a SQLite file: {database or '(none)'}")
    file = Path(database).expanduser()
    if must_exist and not file.is_file():
        raise BackupError(f"no SQLite database at {file}")
    return file


def _backup_sqlite(source: Path, path: Path) -> str:
    partial = path.with_name(path.name + ".partial")
    private_file(partial)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(partial)
        try:
            # One step: a consistent snapshot under a read transaction; in WAL mode the writers
            # go on meanwhile.
            src.backup(dst)
            if dst.execute("PRAGMA integrity_check").fetchone() != ("ok",):
                raise BackupError(f"the copy of {source} fails SQLite's integrity check")
        finally:
            dst.close()
    finally:
        src.close()
    partial.replace(path)
    return _file_revision(path)


def _check_sqlite_backup(path: Path) -> None:
    """Refuse a backup that fails SQLite's integrity check (before the store is touched)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        rows = [(str(exc),)]
    if rows != [("ok",)]:
        found = "; ".join(str(r[0]) for r in rows[:5])
        raise BackupError(f"{path} fails SQLite's integrity check ({found}): the store is kept")


def _read_kept(database_url: str, url: URL) -> Kept:
    if url.get_backend_name() == "sqlite" and not _sqlite_file(url, must_exist=False).is_file():
        return Kept()
    engine = make_engine(database_url)
    try:
        return read_kept(engine)
    except sa.exc.SQLAlchemyError as exc:
        raise BackupError(
            f"the store's erasures and admin log cannot be read ({exc}): a restore would lose"
            " them; the store is kept"
        ) from None
    finally:
        engine.dispose()


def _has_admin_log(database_url: str) -> bool:
    engine = make_engine(database_url)
    try:
        return sa.inspect(engine).has_table("admin_log")
    finally:
        engine.dispose()


def _restore_sqlite(path: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst)  # page by page over the whole target, in one write transaction
        finally:
            dst.close()
    finally:
        src.close()


def _file_revision(path: Path) -> str:
    """The Alembic revision a SQLite backup holds."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a chaintrace SQLite backup: {exc}") from None
    return _one_revision(path, [str(r[0]) for r in rows])


def _dump_revision(path: Path, pg_bin: Path | None) -> str:
    """The Alembic revision a pg_dump custom-format file holds (its alembic_version rows)."""
    out = _run(
        [
            _pg_tool("pg_restore", pg_bin),
            "--data-only",
            "--table=alembic_version",
            "-f",
            "-",
            str(path),
        ],
        None,
    )
    lines = out.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("COPY "))
    except StopIteration:
        raise BackupError(f"{path} holds no alembic_version: not a chaintrace store") from None
    rows = []
    for line in lines[start + 1 :]:
        if line == "\\.":
            break
        rows.append(line.strip())
    return _one_revision(path, rows)


def _one_revision(path: Path, rows: Sequence[str]) -> str:
    if len(rows) != 1:
        raise BackupError(f"{path}: expected one schema revision, found {list(rows)}")
    return rows[0]


def _check_revision(database_url: str, revision: str) -> bool:
    """Whether a backup at `revision` needs an upgrade after restoring; BackupError when this
    code does not know it (a newer release's schema)."""
    scripts = ScriptDirectory.from_config(alembic_config(database_url))
    heads = set(scripts.get_heads())
    if revision in heads:
        return False
    known = {script.revision for script in scripts.walk_revisions()}
    if revision not in known:
        ours = ", ".join(sorted(heads))
        raise BackupError(
            f"the backup's schema {revision} is newer than this release's ({ours}): restore it"
            " with the release that wrote it"
        )
    return True


def _tables_with_rows(database_url: str) -> list[str]:
    engine = make_engine(database_url)
    try:
        names = [n for n in sa.inspect(engine).get_table_names() if n != "alembic_version"]
        with engine.connect() as conn:
            return [
                name
                for name in sorted(names)
                if conn.execute(sa.text(f'SELECT 1 FROM "{name}" LIMIT 1')).first() is not None
            ]
    finally:
        engine.dispose()


def _restore_postgres(url: URL, path: Path, pg_bin: Path | None) -> None:
    # The target's own schema goes first: pg_restore --clean drops only what the dump holds, and
    # a table of a newer schema left behind would break `db upgrade` afterwards.
    _run([_pg_tool("pg_restore", pg_bin), "--list", str(path)], None)  # readable before dropping
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    command = [_pg_tool("pg_restore", pg_bin), "--no-owner", "--single-transaction"]
    try:
        _run([*command, "--exit-on-error", "-d", _conninfo(url), str(path)], url)
    except BackupError as exc:
        raise BackupError(
            f"{exc}\nthe store is now empty: fix the cause and restore again"
        ) from None


def _log_restore(database_url: str, path: Path, revision: str, actor: Actor, kept: Kept) -> bool:
    """The restore in the restored store's admin log, when its schema has one (0016 on), in
    one transaction with what the replaced store's later log and erasures bring back."""
    engine = make_engine(database_url)
    try:
        if not sa.inspect(engine).has_table("admin_log"):
            return False
        with transaction(session_factory(engine)) as session:
            details = {"file": str(path.resolve()), "revision": revision}
            details.update(reapply(session, kept, actor))
            record_admin_action(session, actor, "store.restore", "store", details)
        return True
    finally:
        engine.dispose()


def _pg_tool(name: str, pg_bin: Path | None) -> str:
    found = str(pg_bin / name) if pg_bin is not None else shutil.which(name)
    if not found or not os.access(found, os.X_OK):
        raise BackupError(
            f"{name} not found{'' if pg_bin is None else f' in {pg_bin}'}: install PostgreSQL's"
            " client tools (the server's major version or newer) or pass --pg-bin DIR"
        )
    return found


def _conninfo(url: URL) -> str:
    """A libpq URL without the password (passed in PGPASSWORD: not visible in `ps`)."""
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _run(command: list[str], url: URL | None) -> str:
    env = dict(os.environ)
    if url is not None and url.password:
        env["PGPASSWORD"] = str(url.password)
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=_PG_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupError(f"{Path(command[0]).name} failed: {exc}") from None
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout
