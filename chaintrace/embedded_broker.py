"""The dev-mode MQTT broker: a private Mosquitto from PATH if present, else amqtt in a thread."""

from __future__ import annotations

import asyncio
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from chain.toolchain.child_process import tied_to_parent

_LOGGER = logging.getLogger(__name__)
_MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_mosquitto() -> str | None:
    """The mosquitto binary on PATH or in Debian's sbin, if installed."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((p for p in _MOSQUITTO_PATHS if Path(p).exists()), None)


def _wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"MQTT broker did not open port {port} within {timeout}s")


class EmbeddedBroker:
    """A private broker on a free loopback port; `protocol` says which MQTT versions it speaks."""

    def __init__(self, port: int | None = None, prefer_mosquitto: bool = True) -> None:
        self.port = port or free_port()
        self._prefer_mosquitto = prefer_mosquitto
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Any = None
        self.kind = ""

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def protocol(self) -> str:
        """'5' for Mosquitto (which also speaks 3.1.1); '3.1.1' for amqtt."""
        return "5" if self.kind == "mosquitto" else "3.1.1"

    def start(self) -> EmbeddedBroker:
        binary = find_mosquitto() if self._prefer_mosquitto else None
        if binary:
            self._start_mosquitto(binary)
        else:
            self._start_amqtt()
        _wait_port(self.port, 15)
        _LOGGER.info("embedded %s broker on %s", self.kind, self.url)
        return self

    def _start_mosquitto(self, binary: str) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="chaintrace-mosquitto-")
        conf = Path(self._tmp.name) / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "max_queued_messages 100000\n"
            "max_inflight_messages 0\n"
            # Mosquitto started as root switches to its own user, and a change of user clears
            # the parent-death signal (chain.toolchain.child_process): this loopback-only dev broker
            # keeps its owner's user, so it ends with its owner. The effective uid's name, not
            # getpass.getuser() (that reads USER/LOGNAME from the environment).
            f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
        )
        log = open(Path(self._tmp.name) / "mosquitto.log", "wb")  # noqa: SIM115 - owned by the process
        # Tied to this process: a crash of `chaintrace up` must not leave the broker behind.
        args = tied_to_parent([binary, "-c", str(conf)])
        self._proc = subprocess.Popen(args, stdout=log, stderr=log)
        self.kind = "mosquitto"

    def _start_amqtt(self) -> None:
        from amqtt.broker import Broker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)

            async def boot() -> None:
                self._broker = Broker(config)
                await self._broker.start()
                ready.set()

            loop.run_until_complete(boot())
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="amqtt-broker", daemon=True)
        self._thread.start()
        if not ready.wait(15):
            raise RuntimeError("amqtt broker did not start")
        self.kind = "amqtt"

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None
        if self._loop is not None and self._broker is not None:
            fut = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            try:
                fut.result(10)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
