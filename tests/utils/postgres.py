"""PostgreSQL for tests: a private server (initdb + pg_ctl in a temp dir) or DATABASE_URL's."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

_PG_BIN_DIRS = ("/usr/local/bin", *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))
_SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL could be started or reached; the message says why."""


def _find_bin(name: str) -> str | None:
    for directory in _PG_BIN_DIRS:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def pg_bin_dir() -> Path | None:
    """The directory of the PostgreSQL tools the private server runs (pg_dump, pg_restore)."""
    found = _find_bin("pg_dump")
    return None if found is None else Path(found).parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as() -> str | None:
    """The system user to run the server as: initdb and postgres refuse to run as root."""
    if os.geteuid() != 0:
        return None
    for user in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(user)
            return user
    raise PostgresUnavailable("running as root and no 'postgres' or 'nobody' user to run as")


class PostgresServer:
    """A server tests can create throw-away databases on; `stop()` only stops a private one."""

    def __init__(
        self,
        admin_url: str,
        *,
        private_dir: Path | None = None,
        pg_ctl: str = "",
        options: str = "",
    ) -> None:
        self.admin_url = admin_url
        self._private_dir = private_dir
        self._pg_ctl = pg_ctl
        self._options = options
        self._user = _run_as() if private_dir else None

    @classmethod
    def from_url(cls, url: str) -> PostgresServer:
        """Use an existing server (DATABASE_URL): it must accept CREATE DATABASE."""
        conninfo = _libpq_url(url)
        try:
            with psycopg.connect(conninfo, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            raise PostgresUnavailable(f"DATABASE_URL not reachable: {exc}") from None
        return cls(conninfo)

    @classmethod
    def start_private(cls, *, durable: bool = False) -> PostgresServer:
        """Start initdb + pg_ctl on a free port in a temp dir.

        fsync off unless `durable`: the data is disposable, but a test that crashes the server
        (pause(immediate=True)) needs every acknowledged commit on disk.
        """
        initdb, pg_ctl = _find_bin("initdb"), _find_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise PostgresUnavailable("initdb/pg_ctl not found (apt-get install postgresql)")
        user = _run_as()
        root = Path(tempfile.mkdtemp(prefix="chaintrace-pg-"))
        data = root / "data"
        if user:
            shutil.chown(root, user=user)
        prefix = ["runuser", "-u", user, "--"] if user else []
        try:
            _check_run(
                [
                    *prefix,
                    initdb,
                    "-D",
                    str(data),
                    "-U",
                    _SUPERUSER,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "--locale=C",
                ]
            )
            last_error = ""
            for _attempt in range(3):
                port = _free_port()
                options = (
                    f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root}"
                    " -c max_connections=200"
                )
                if not durable:
                    options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                started = subprocess.run(
                    [
                        *prefix,
                        pg_ctl,
                        "-D",
                        str(data),
                        "-o",
                        options,
                        "-l",
                        str(root / "log"),
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if started.returncode == 0:
                    url = f"postgresql://{_SUPERUSER}@127.0.0.1:{port}/postgres"
                    return cls(url, private_dir=root, pg_ctl=pg_ctl, options=options)
                last_error = started.stderr + _tail(root / "log")
            raise PostgresUnavailable(f"pg_ctl start failed: {last_error.strip()}")
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise

    @property
    def is_private(self) -> bool:
        """True if this process started the server (and may stop it)."""
        return self._private_dir is not None

    def create_database(self, template: str | None = None) -> str:
        """A new database (empty, or a copy of `template`'s URL); returns its SQLAlchemy URL."""
        name = f"ct_test_{uuid.uuid4().hex[:16]}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            if template is not None:
                source = _database_name(template)
                statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(source))
                if conn.info.server_version >= 150000:
                    # Copying files beats WAL-logging every page for a small schema-only template.
                    statement += sql.SQL(" STRATEGY FILE_COPY")
            conn.execute(statement)
        return _with_database(self.admin_url, name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by create_database, even if sessions are still connected."""
        name = _database_name(url)
        if not name.startswith("ct_test_"):
            raise ValueError(f"refusing to drop a database this helper did not create: {name}")
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(str(name)))
            )

    def _pg_ctl_cmd(self, *args: str) -> list[str]:
        if self._private_dir is None:
            raise PostgresUnavailable("only a private server can be stopped or started")
        prefix = ["runuser", "-u", self._user, "--"] if self._user else []
        return [*prefix, self._pg_ctl, "-D", str(self._private_dir / "data"), *args]

    def pause(self, *, immediate: bool = False) -> None:
        """Stop a private server, keeping its data (fast shutdown, or a crash if `immediate`)."""
        mode = "immediate" if immediate else "fast"
        _check_run(self._pg_ctl_cmd("-m", mode, "-w", "-t", "60", "stop"))

    def resume(self) -> None:
        """Start a paused private server again, on the same port and data."""
        assert self._private_dir is not None
        log = str(self._private_dir / "log")
        _check_run(self._pg_ctl_cmd("-o", self._options, "-l", log, "-w", "-t", "60", "start"))

    def stop(self) -> None:
        """Stop and delete a private server; a shared one is left alone."""
        if self._private_dir is None:
            return
        subprocess.run(
            self._pg_ctl_cmd("-m", "immediate", "-w", "stop"), capture_output=True, check=False
        )
        shutil.rmtree(self._private_dir, ignore_errors=True)
        self._private_dir = None


def _libpq_url(url: str) -> str:
    """A URL psycopg accepts (no SQLAlchemy +driver suffix)."""
    for scheme in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql://" + url[len(scheme) :]
    return url


def _database_name(url: str) -> str:
    return str(psycopg.conninfo.conninfo_to_dict(_libpq_url(url))["dbname"])


def _with_database(url: str, name: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    return URL.create(
        "postgresql+psycopg",
        username=str(params.get("user", _SUPERUSER)),
        password=str(params["password"]) if params.get("password") else None,
        host=str(params.get("host", "127.0.0.1")),
        port=int(str(params.get("port") or 5432)),
        database=name,
    ).render_as_string(hide_password=False)


def _check_run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        program = next((Path(part).name for part in cmd if "/" in part), cmd[0])
        raise PostgresUnavailable(f"{program} failed: {done.stderr.strip()}")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
