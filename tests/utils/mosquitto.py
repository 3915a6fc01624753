"""A Mosquitto broker for tests: MQTT_URL if set, else a private instance on a free port."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto")
# How long a started broker may take to listen: a deadline, not a timing assertion (a loaded CI
# machine running anvil and PostgreSQL beside it may well need more than 10 s); one that exits is
# noticed at once.
START_DEADLINE_S = 60.0


def skip_or_fail(reason: str) -> None:
    """Skip with the reason; fail instead when CHAINTRACE_REQUIRE_SERVICES=1 (CI)."""
    if os.environ.get("CHAINTRACE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


def find_mosquitto() -> str | None:
    """The mosquitto binary from PATH or the usual sbin folders, or None."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((p for p in _CANDIDATES if os.access(p, os.X_OK)), None)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def find_mosquitto_passwd() -> str | None:
    """The mosquitto_passwd binary, or None."""
    found = shutil.which("mosquitto_passwd")
    if found:
        return found
    candidates = ("/usr/bin/mosquitto_passwd", "/usr/local/bin/mosquitto_passwd")
    return next((p for p in candidates if os.access(p, os.X_OK)), None)


@dataclass(frozen=True)
class TlsFiles:
    """A test CA and a server certificate it signed (PEM files), for a TLS listener."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def owned_by_mosquitto(folder: Path, *files: Path) -> None:
    """Give the folder and files to the mosquitto user when root (the broker drops to it)."""
    # Started as root, mosquitto reads its files as its own user after dropping privileges
    # (pytest's tmp dirs are private to root).
    if os.geteuid() != 0:
        return
    with contextlib.suppress(KeyError):
        owner = pwd.getpwnam("mosquitto")
        for path in (folder, *files):
            os.chown(path, owner.pw_uid, owner.pw_gid)


def make_test_ca(host: str = "127.0.0.1") -> TlsFiles:
    """A fresh self-signed CA and a server cert for `host` (IP SAN), made with the openssl CLI.

    Skips (fails under CHAINTRACE_REQUIRE_SERVICES=1) when openssl is missing. The folder is a
    new temporary one the broker can read; remove it with shutil.rmtree when done.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        skip_or_fail("openssl CLI not found (and no cryptography package in .venv)")
    assert openssl is not None
    folder = Path(tempfile.mkdtemp(prefix="chaintrace-mqtls-"))
    ca_key, ca, key, csr, cert = (
        folder / n for n in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt")
    )
    ext = folder / "server.ext"
    ext.write_text(
        f"subjectAltName=IP:{host},DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_args = [*ec, "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=chaintrace test CA"]
    ca_args += ["-addext", "basicConstraints=critical,CA:TRUE"]
    ca_args += ["-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    signing = ["-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-extfile", ext]
    steps = [
        [openssl, "req", "-x509", *ca_args],
        [openssl, "req", *ec, "-keyout", key, "-out", csr, "-subj", f"/CN={host}"],
        [openssl, "x509", "-req", "-in", csr, *signing, "-out", cert, "-days", "2"],
    ]
    try:
        for step in steps:
            subprocess.run([str(a) for a in step], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        skip_or_fail(f"openssl could not make a test CA: {exc}")
    key.chmod(0o600)
    owned_by_mosquitto(folder, key, cert, ca)
    return TlsFiles(ca_file=ca, cert_file=cert, key_file=key)


class MosquittoBroker:
    """A private Mosquitto process with a generated config (no persistence).

    Anonymous unless `users` is given: then a password file is made with mosquitto_passwd and
    only those users may connect. `max_queued` is the broker's max_queued_messages (per client:
    QoS 1 messages beyond the in-flight window that it holds; it drops the rest). With `tls`,
    a second listener on `tls_port` speaks TLS with that server certificate.
    """

    def __init__(
        self,
        binary: str,
        workdir: Path,
        max_inflight: int = 20,
        *,
        max_queued: int = 100_000,
        users: dict[str, str] | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        self.binary = binary
        self.workdir = workdir
        self.max_inflight = max_inflight
        self.max_queued = max_queued
        self.users = users
        self.tls = tls
        self.port = 0
        self.tls_port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._auth_dir: Path | None = None

    @property
    def url(self) -> str:
        """mqtt://127.0.0.1:<port>."""
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        """mqtts://127.0.0.1:<tls port> (only with `tls`)."""
        if self.tls is None:
            raise RuntimeError("this broker has no TLS listener")
        return f"mqtts://127.0.0.1:{self.tls_port}"

    def _tls_lines(self) -> str:
        if self.tls is None:
            return ""
        # The certificate options apply to the listener line before them.
        return (
            f"listener {self.tls_port} 127.0.0.1\n"
            f"cafile {self.tls.ca_file}\ncertfile {self.tls.cert_file}\n"
            f"keyfile {self.tls.key_file}\n"
        )

    def _auth_lines(self) -> str:
        if self.users is None:
            return "allow_anonymous true\n"
        passwd = find_mosquitto_passwd()
        if passwd is None:
            raise RuntimeError("mosquitto_passwd not found")
        # Started as root, mosquitto reads the file as its own user after dropping privileges:
        # keep it in a directory that user owns (pytest's tmp dirs are private to root).
        folder = Path(tempfile.mkdtemp(prefix="chaintrace-mqauth-"))
        self._auth_dir = folder
        path = folder / "passwords"
        path.write_text("")
        for user, password in self.users.items():
            subprocess.run([passwd, "-b", str(path), user, password], check=True, timeout=30)
        path.chmod(0o600)
        if os.geteuid() == 0:
            with contextlib.suppress(KeyError):
                owner = pwd.getpwnam("mosquitto")
                os.chown(folder, owner.pw_uid, owner.pw_gid)
                os.chown(path, owner.pw_uid, owner.pw_gid)
        return f"allow_anonymous false\npassword_file {path}\n"

    def config_text(self) -> str:
        """The mosquitto.conf for `self.port` (a subclass may give its own)."""
        return (
            f"listener {self.port} 127.0.0.1\n"
            + self._tls_lines()
            + self._auth_lines()
            + "persistence false\n"
            f"max_inflight_messages {self.max_inflight}\n"
            f"max_queued_messages {self.max_queued}\n"
            f"log_dest file {self.log_path}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
        )

    @property
    def log_path(self) -> Path:
        """Where the broker writes its log."""
        return self.workdir / "mosquitto.log"

    def start(self, port: int | None = None, attempts: int = 3) -> None:
        """Start on the given port (or a free one), retrying if another process took it."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        for _ in range(attempts):
            self.port = port or free_port()
            self.tls_port = free_port() if self.tls is not None else 0
            conf = self.workdir / "mosquitto.conf"
            conf.write_text(self.config_text())
            self._proc = subprocess.Popen(
                [self.binary, "-c", str(conf)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if _wait_listening(self.port, self._proc, timeout=START_DEADLINE_S) and (
                self.tls is None
                or _wait_listening(self.tls_port, self._proc, timeout=START_DEADLINE_S)
            ):
                return
            self.stop()
            if port is not None:
                break
        log = self.log_path.read_text() if self.log_path.exists() else ""
        raise RuntimeError(f"mosquitto did not start on 127.0.0.1:{self.port}: {log[-2000:]}")

    def stop(self) -> None:
        """Stop this private broker (never a shared one)."""
        proc, self._proc = self._proc, None
        if self._auth_dir is not None:
            shutil.rmtree(self._auth_dir, ignore_errors=True)
            self._auth_dir = None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._proc is not None and self._proc.poll() is None


def start_private_broker(
    workdir: Path,
    *,
    max_queued: int = 100_000,
    users: dict[str, str] | None = None,
    tls: TlsFiles | None = None,
) -> MosquittoBroker:
    """Start a private broker, or skip/fail with the reason when Mosquitto is unavailable."""
    binary = find_mosquitto()
    if binary is None:
        skip_or_fail("mosquitto not found on PATH or in /usr/sbin (apt-get install mosquitto)")
    assert binary is not None
    if users is not None and find_mosquitto_passwd() is None:
        skip_or_fail("mosquitto_passwd not found (apt-get install mosquitto)")
    broker = MosquittoBroker(binary, workdir, max_queued=max_queued, users=users, tls=tls)
    try:
        broker.start()
    except (OSError, RuntimeError) as exc:
        skip_or_fail(f"could not start mosquitto: {exc}")
    return broker


@contextmanager
def mqtt_broker_url(workdir: Path) -> Iterator[str]:
    """Yield MQTT_URL if set (after checking it answers), else a private broker's URL."""
    url = os.environ.get("MQTT_URL")
    if url:
        from device.mqtt_link import parse_mqtt_url

        endpoint = parse_mqtt_url(url)
        try:
            socket.create_connection((endpoint.host, endpoint.port), timeout=2).close()
        except OSError as exc:
            skip_or_fail(f"MQTT_URL={endpoint!r} does not answer: {exc}")
        yield url
        return
    broker = start_private_broker(workdir)
    try:
        yield broker.url
    finally:
        broker.stop()
