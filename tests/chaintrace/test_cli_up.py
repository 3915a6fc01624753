"""`chaintrace up` as a developer runs it: progress while it starts, every endpoint printed and
in run.json, API_PORT honoured, and `admin-key` in dev mode with the deployer's wallet."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from chain.toolchain.anvil import rpc_request
from tests.utils.mosquitto import free_port

_CLI = Path(sys.executable).with_name("chaintrace")
# Variables that would point `up` elsewhere than its own embedded services.
_OUTSIDE = ("DATABASE_URL", "CHAIN_RPC_URL", "MQTT_URL", "PUBLIC_BASE_URL", "DEPLOYMENTS_FILE")


def _env(home: Path, **extra: str) -> dict[str, str]:
    kept = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CHAINTRACE_", "API_")) and k not in _OUTSIDE
    }
    return {**kept, "CHAINTRACE_HOME": str(home), **extra}


@dataclass
class Up:
    home: Path
    logs: Path
    api_port: int
    proc: subprocess.Popen[bytes]
    run_json: dict[str, object]

    def output(self) -> tuple[str, str]:
        return (self.logs / "up.out").read_text(), (self.logs / "up.err").read_text()


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    logs = tmp_path_factory.mktemp("up")
    home = logs / "home"  # `up --fresh` wipes it
    port = free_port()
    with (logs / "up.out").open("wb") as out, (logs / "up.err").open("wb") as err:
        proc = subprocess.Popen(
            [str(_CLI), "up", "--fresh"],
            env=_env(home, API_PORT=str(port)),
            stdout=out,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + 120  # a deadline for a loaded machine, not a timing check
        while True:
            assert proc.poll() is None, (logs / "up.err").read_text()
            assert time.monotonic() < deadline, "chaintrace up did not start"
            try:
                info = json.loads((home / "run.json").read_text())
            except (FileNotFoundError, ValueError):
                info = {}
            if info.get("api_url"):
                break
            time.sleep(0.2)
        yield Up(home, logs, port, proc, info)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0, (logs / "up.err").read_text()
        assert not (home / "run.json").exists(), "run.json outlived its owner"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def test_up_prints_progress_and_every_endpoint_and_writes_them_to_run_json(up: Up) -> None:
    info = up.run_json
    older_keys = {"owner_pid", "chain_rpc_url", "database_url", "mqtt_url", "mqtt_protocol"}
    assert older_keys | {"deployments_file", "api_url"} <= info.keys()
    assert info["owner_pid"] == up.proc.pid
    api_url, rpc_url = str(info["api_url"]), str(info["chain_rpc_url"])
    assert api_url == f"http://127.0.0.1:{up.api_port}"  # API_PORT honoured
    health = httpx.get(f"{api_url}/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    assert rpc_request(rpc_url, "eth_chainId", []) == "0x7a69"  # anvil's 31337
    out, err = up.output()
    for step in ("anvil", "database", "MQTT broker", "contracts", "gateway", "workers", "API"):
        assert any(line.startswith(f"ok  {step} ") for line in err.splitlines()), err
    assert f"ok  API          {api_url} " in err
    for name, value in (
        ("API", api_url),
        ("chain RPC", rpc_url),
        ("MQTT broker", info["mqtt_url"]),
        ("database", info["database_url"]),  # SQLite: no password to mask
        ("run.json", str(up.home / "run.json")),
    ):
        assert f"  {name:<12} {value}" in out, out


def test_admin_key_in_dev_mode_finds_the_database_and_the_deployer_wallet(up: Up) -> None:
    done = subprocess.run(
        [str(_CLI), "admin-key", "root"],
        env=_env(up.home, CHAINTRACE_DEV="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    deployments = json.loads(Path(str(up.run_json["deployments_file"])).read_text())
    (deployment,) = deployments.values()
    assert f"wallet {deployment['deployer']}" in done.stderr
    me = httpx.get(
        f"{up.run_json['api_url']}/principals/me",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "admin"
    assert me.json()["walletAddress"] == deployment["deployer"]


def test_a_taken_api_port_fails_at_once_saying_what_to_set(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [str(_CLI), "up", "--fresh"],
            env=_env(tmp_path / "home", API_PORT=str(port)),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2, done.stderr
    assert f"127.0.0.1:{port}" in done.stderr and "set API_PORT to a free port" in done.stderr
    assert "ok  anvil" not in done.stderr  # refused before anything started
    assert not (tmp_path / "home" / "run.json").exists()


def test_two_stacks_cannot_both_claim_one_api_port() -> None:
    """SO_REUSEADDR lets a second bind() of the port succeed: the first must already listen."""
    from chaintrace.platform import ApiPortUnavailable, bind_api

    port = free_port()
    first = bind_api("127.0.0.1", port)
    try:
        with pytest.raises(ApiPortUnavailable, match="set API_PORT"):
            bind_api("127.0.0.1", port).close()
    finally:
        first.close()
