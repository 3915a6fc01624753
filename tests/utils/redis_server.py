"""Redis for tests: REDIS_URL if set, else a private redis-server on a free port (no persistence).

Like Mosquitto and PostgreSQL: a missing redis-server skips with the reason, and fails instead
under CHAINTRACE_REQUIRE_SERVICES=1. Tests that share REDIS_URL's server keep to their own key
prefix (unique_prefix) and never flush it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.utils.db_fixtures import service_unavailable
from tests.utils.mosquitto import free_port

_CANDIDATES = ("/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/sbin/redis-server")
# How long a started server may take to answer PING: a deadline for a loaded machine.
START_DEADLINE_S = 60.0


def find_redis_server() -> str | None:
    """The redis-server binary from PATH or the usual folders, or None."""
    found = shutil.which("redis-server")
    if found:
        return found
    return next((p for p in _CANDIDATES if os.access(p, os.X_OK)), None)


def unique_prefix() -> str:
    """A key prefix no other test (or run) uses, so a shared server is never disturbed."""
    return f"chaintrace-test-{uuid.uuid4().hex[:12]}"


def answers(url: str, timeout: float = 2.0) -> bool:
    """Whether the server at `url` answers PING."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


class RedisServer:
    """A private redis-server process: no snapshots, no append-only file, bound to 127.0.0.1."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """redis://127.0.0.1:<port>/0."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        """Where the server writes its log."""
        return self.workdir / "redis.log"

    def start(self, port: int | None = None, attempts: int = 3) -> None:
        """Start on `port` (or a free one), retrying on another port if that one was taken."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        for _ in range(attempts):
            self.port = port or free_port()
            command = [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.workdir),
                "--logfile",
                str(self.log_path),
            ]
            self._proc = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            deadline = time.monotonic() + START_DEADLINE_S
            while self._proc.poll() is None and time.monotonic() < deadline:
                if answers(self.url, timeout=0.5):
                    return
                time.sleep(0.05)
            self.stop()
            if port is not None:
                break
        log = self.log_path.read_text() if self.log_path.exists() else ""
        raise RuntimeError(f"redis-server did not start on 127.0.0.1:{self.port}: {log[-2000:]}")

    def stop(self) -> None:
        """Stop this private server (never a shared one); start(port) brings it back."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def start_private_redis(workdir: Path) -> RedisServer:
    """A started private server, or skip/fail with the reason when redis-server is unavailable."""
    binary = find_redis_server()
    if binary is None:
        service_unavailable("redis-server not found (apt-get install redis-server)")
    server = RedisServer(binary, workdir)
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        service_unavailable(f"could not start redis-server: {exc}")
    return server


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """REDIS_URL if set (after checking it answers), else a private server for the session."""
    url = os.environ.get("REDIS_URL")
    if url:
        if not answers(url):
            service_unavailable("REDIS_URL does not answer PING")
        yield url
        return
    server = start_private_redis(Path(tempfile.mkdtemp(prefix="chaintrace-redis-")))
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A private server this test may stop and start again (never REDIS_URL's)."""
    server = start_private_redis(tmp_path / "redis")
    try:
        yield server
    finally:
        server.stop()
