"""Run `python -m iot_gateway` as its own process for a test, and read its Prometheus metrics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.iot_gateway.conftest import ANCHOR, CHAIN_ID
from tests.iot_gateway.gateway_helpers import wait_for
from tests.utils.mosquitto import free_port

REPO = Path(__file__).resolve().parents[2]


def metrics(port: int) -> dict[str, float] | None:
    """The samples as {"name{label=value}": value}; None while the endpoint does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return None
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


@dataclass
class GatewayProcess:
    """A running gateway subprocess, its metrics port and its log file."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def metric(self, name: str) -> float:
        """One sample (0 if absent); fails the test if the process has exited."""
        assert self.proc.poll() is None, f"the gateway exited:\n{self.log_tail()}"
        samples = metrics(self.port)
        return -1.0 if samples is None else samples.get(name, 0.0)

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the gateway's log."""
        return self.log.read_text(errors="replace")[-chars:]

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


@contextmanager
def gateway_process(
    db_url: str, mqtt_url: str, log: Path, **env_overrides: str
) -> Iterator[GatewayProcess]:
    """A subscribed gateway subprocess (GATEWAY_* overrides as given); killed if still running."""
    env = {
        **os.environ,
        "MQTT_URL": mqtt_url,
        "DATABASE_URL": db_url,
        "READING_CHAIN_ID": str(CHAIN_ID),
        "READING_VERIFYING_CONTRACT": ANCHOR,
        "GATEWAY_CLIENT_ID": f"gw-proc-{uuid.uuid4().hex[:12]}",
        "GATEWAY_SESSION_EXPIRY_S": "30",
        "GATEWAY_REGISTRY_MISS_RELOAD_S": "0",
        **env_overrides,
    }
    port = free_port()
    env["GATEWAY_METRICS_PORT"] = str(port)
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "iot_gateway"],
            cwd=REPO,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    gateway = GatewayProcess(proc, port, log)
    try:
        wait_for(
            lambda: (
                proc.poll() is not None
                or (metrics(port) or {}).get("chaintrace_gateway_connected") == 1
            ),
            "the gateway subprocess to subscribe",
        )
        assert proc.poll() is None, f"the gateway exited:\n{gateway.log_tail()}"
        yield gateway
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
