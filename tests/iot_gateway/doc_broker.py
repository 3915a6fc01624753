"""docs/devices.md's production broker files, run as they are: only the paths and the port change.

The blocks are read from the guide on every run (fenced blocks named after their language, e.g.
a fence opening with: text /etc/mosquitto/acl), so the guide and the test cannot drift apart.
Paths keep their names under a temporary root; the listener moves to a free loopback port.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.utils.mosquitto import (
    MosquittoBroker,
    TlsFiles,
    find_mosquitto,
    find_mosquitto_passwd,
    owned_by_mosquitto,
    skip_or_fail,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "devices.md"
CONF = "/etc/mosquitto/mosquitto.conf"
ACL = "/etc/mosquitto/acl"
PASSWORDS = "password-file"
# The only places the guide's files may name; each is moved under the test's root.
_DIRS = ("/etc/mosquitto/", "/var/lib/mosquitto/", "/var/log/mosquitto/")
_FENCE = re.compile(r"^```\S+ (\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_ABSOLUTE = re.compile(r"(?<=\s)/\S+")
_DEVICE_VARIABLE = "DEVICE_ADDRESS"


def doc_blocks() -> dict[str, str]:
    """The guide's named fenced blocks: name (after the language) -> text."""
    return {name: body for name, body in _FENCE.findall(DOC.read_text())}


def setting(conf: str, name: str) -> str:
    """The value of a mosquitto.conf setting (exactly one line sets it)."""
    # Mosquitto splits a line at its first run of spaces; the value is the rest of the line.
    pairs = [line.split(maxsplit=1) for line in conf.splitlines()]
    values = [pair[1] for pair in pairs if len(pair) == 2 and pair[0] == name]
    assert len(values) == 1, f"{name}: {values}"
    return values[0]


def gateway_user(acl: str) -> str:
    """The one `user` of the ACL file (the gateways' user; devices are matched by pattern)."""
    users = [line.split(maxsplit=1)[1] for line in acl.splitlines() if line.startswith("user ")]
    assert len(users) == 1, users
    return users[0]


def _moved(text: str, root: Path) -> str:
    """Every absolute path under `root` (each must be in one of the guide's folders)."""
    paths = _ABSOLUTE.findall(text)
    stray = [p for p in paths if not p.startswith(_DIRS)]
    assert stray == [], f"the guide names paths this test does not move: {stray}"
    return _ABSOLUTE.sub(lambda m: f"{root}{m.group(0)}", text)


@dataclass(frozen=True)
class DocFiles:
    """The guide's blocks, its files laid out under `root`."""

    root: Path
    conf: str  # the guide's mosquitto.conf with moved paths (its listener still the guide's)
    acl: str
    passwords: str

    def path(self, doc_path: str) -> Path:
        """Where a path the guide names lives in this layout."""
        return Path(f"{self.root}{doc_path}")

    def add_users(self, gateway_password: str | None, devices: dict[str, str]) -> None:
        """Run the guide's mosquitto_passwd lines: the gateway's user (unless None), each device."""
        lines = [
            line for line in self.passwords.splitlines() if line.startswith("mosquitto_passwd")
        ]
        assert lines, "the guide's password procedure runs no mosquitto_passwd"
        for line in lines:
            if "$" + _DEVICE_VARIABLE in line:
                for address, password in devices.items():
                    self._run(line, password, {_DEVICE_VARIABLE: address})
            elif gateway_password is not None:
                self._run(line, gateway_password, {})
        owned_by_mosquitto(self.root, *self.root.rglob("*"))

    def _run(self, line: str, password: str, env: dict[str, str]) -> None:
        binary = find_mosquitto_passwd()
        if binary is None:
            skip_or_fail("mosquitto_passwd not found (apt-get install mosquitto)")
        assert binary is not None
        command = _moved(line, self.root).replace("mosquitto_passwd", binary, 1)
        done = subprocess.run(
            ["bash", "-c", command],
            input=f"{password}\n{password}\n",  # it asks twice, on standard input
            env={**os.environ, **env},
            text=True,
            capture_output=True,
            timeout=30,
        )
        assert done.returncode == 0, f"{command}: {done.stderr}"


def lay_out(tls: TlsFiles) -> DocFiles:
    """The guide's files under a new temporary root the broker's user can read.

    The TLS certificate and key named by the guide are the test CA's. The password file starts
    empty (add_users fills it); remove the root with shutil.rmtree when done.
    """
    blocks = doc_blocks()
    missing = {CONF, ACL, PASSWORDS} - blocks.keys()
    assert not missing, f"docs/devices.md lacks the blocks {sorted(missing)}"
    root = Path(tempfile.mkdtemp(prefix="chaintrace-docbroker-"))
    files = DocFiles(root, _moved(blocks[CONF], root), blocks[ACL], blocks[PASSWORDS])
    for folder in _DIRS:
        files.path(folder).mkdir(parents=True)
    files.path(ACL).write_text(files.acl)
    passwords = Path(setting(files.conf, "password_file"))
    assert passwords.is_relative_to(root), passwords
    passwords.write_text("")
    passwords.chmod(0o600)
    for name, source in (("certfile", tls.cert_file), ("keyfile", tls.key_file)):
        target = Path(setting(files.conf, name))
        assert target.is_relative_to(root), target
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    owned_by_mosquitto(root, *root.rglob("*"))
    return files


class DocConfigBroker(MosquittoBroker):
    """Mosquitto with the guide's mosquitto.conf: its listener on a free loopback port."""

    def __init__(self, binary: str, files: DocFiles) -> None:
        super().__init__(binary, files.path("/etc/mosquitto"))
        self.files = files

    def config_text(self) -> str:
        listeners = [line for line in self.files.conf.splitlines() if line.startswith("listener")]
        assert listeners == ["listener 8883"], listeners
        return self.files.conf.replace("listener 8883\n", f"listener {self.port} 127.0.0.1\n")

    @property
    def log_path(self) -> Path:
        return Path(setting(self.files.conf, "log_dest").removeprefix("file "))

    def user_url(self, user: str, password: str) -> str:
        """mqtts://user:password@127.0.0.1:<port> (users are device addresses or plain names)."""
        return f"mqtts://{user}:{password}@127.0.0.1:{self.port}"

    def reload(self) -> None:
        """What `systemctl reload mosquitto` does: SIGHUP (reread the password and ACL files)."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGHUP)


@contextmanager
def doc_broker(
    tls: TlsFiles, gateway_password: str, devices: dict[str, str]
) -> Iterator[DocConfigBroker]:
    """The guide's broker with the gateway's user and these devices (address -> password)."""
    binary = find_mosquitto()
    if binary is None:
        skip_or_fail("mosquitto not found on PATH or in /usr/sbin (apt-get install mosquitto)")
    assert binary is not None
    files = lay_out(tls)
    try:
        files.add_users(gateway_password, devices)
        broker = DocConfigBroker(binary, files)
        broker.start()  # the guide's config must start: a failure here fails the test
        try:
            yield broker
        finally:
            broker.stop()
    finally:
        shutil.rmtree(files.root, ignore_errors=True)
