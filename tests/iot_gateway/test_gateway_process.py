"""`python -m iot_gateway` as its own process: bad messages are counted, it keeps running."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy.orm import Session, sessionmaker

from core.eip712 import Domain, sign
from device.client import SimulatedDevice
from device.mqtt_link import readings_topic
from tests.iot_gateway.gateway_helpers import connected, reading_count, wait_for
from tests.iot_gateway.gateway_process_helpers import gateway_process as start_gateway_process
from tests.iot_gateway.gateway_process_helpers import metrics


def _metric(port: int, name: str) -> float:
    samples = metrics(port)
    return -1.0 if samples is None else samples.get(name, 0.0)  # -1: not listening yet


@pytest.fixture
def gateway_process(
    db_url: str, mqtt_url: str, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """A subscribed gateway subprocess with a metrics port; killed if the test did not stop it."""
    with start_gateway_process(db_url, mqtt_url, tmp_path / "gateway.log") as gateway:
        yield gateway.proc, gateway.port, gateway.log


def test_gateway_process_counts_rejects_and_keeps_running(
    gateway_process: tuple[subprocess.Popen[bytes], int, Path],
    register_device: Callable[..., SimulatedDevice],
    db_sessions: sessionmaker[Session],
    domain: Domain,
    mqtt_url: str,
) -> None:
    proc, port, log = gateway_process
    device = register_device()
    stranger = SimulatedDevice(Account.create().key, domain)  # never registered
    wait_for(
        lambda: proc.poll() is not None or _metric(port, "chaintrace_gateway_connected") == 1,
        "the gateway subprocess to subscribe",
    )
    assert proc.poll() is None, log.read_text()

    with connected([device, stranger], mqtt_url) as (client, stranger_client):
        client.publish(b'{"device": "not json')
        forged = device.make_reading(temperature_centi_c=500)
        forged_sig = sign(forged, domain, Account.create().key)
        body = {**forged.to_json(), "device": device.address.lower()}
        client.publish(json.dumps({**body, "signature": "0x" + forged_sig.hex()}).encode())
        stranger_client.publish_reading(temperature_centi_c=500)
        valid, _info = client.publish_reading(temperature_centi_c=480)
        assert client.wait_acked(valid.seq, timeout=60), log.read_text()

    rejected = "chaintrace_gateway_readings_rejected_total{reason=%s}"
    reasons = ("malformed_json", "bad_signature", "unknown_device")
    wait_for(lambda: all(_metric(port, rejected % r) >= 1 for r in reasons), "the rejects counted")
    samples = metrics(port)
    assert samples is not None
    assert samples["chaintrace_gateway_readings_accepted_total"] == 1
    assert samples[rejected % "revoked_device"] == 0
    assert reading_count(db_sessions, device.address) == 1
    assert reading_count(db_sessions, stranger.address) == 0
    assert proc.poll() is None, "one bad message must not stop the gateway"

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    # The log is read once the process is gone: the writer counts a reject before it logs it,
    # so a counted reject (the stranger's may be stored after the valid reading's ack) can
    # still be on its way to the log while the process runs.
    text = log.read_text()
    assert f"rejected message on {readings_topic(stranger.address)}: unknown_device" in text
    assert f"rejected message on {device.topic}: bad_signature" in text
    assert f"rejected message on {device.topic}: malformed_json" in text
    assert "gateway stopped" in text
