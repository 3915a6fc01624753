"""A flood far beyond the gateway's pace: bounded inbox, bounded memory, every reading once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import coincurve
import paho.mqtt.client as mqtt
from eth_account import Account
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from core.eip712 import Reading, anchor_domain, reading_digest
from iot_gateway.device import reading_payload
from iot_gateway.mqtt import readings_topic
from store.db import make_engine, session_factory, transaction, upgrade
from store.models import Device, Role
from store.models import Reading as StoredReading
from tests.iot_gateway.conftest import ANCHOR, CHAIN_ID, key_for
from tests.iot_gateway.gateway_helpers import DEADLINE_S, wait_for
from tests.utils.mosquitto import free_port, start_private_broker
from tests.utils.store_factories import make_principal

REPO = Path(__file__).resolve().parents[2]
DEVICES, PER_DEVICE = 20, 1000  # 20,000 readings
QUEUE_SIZE = 200
RSS_GROWTH_LIMIT_MB = 150


def _signed_payloads() -> tuple[list[str], list[tuple[str, bytes]]]:
    """Device addresses and (topic, payload) of every reading, round-robin over the devices."""
    domain = anchor_domain(CHAIN_ID, ANCHOR)
    keys = [key_for(f"flood-{i}") for i in range(DEVICES)]
    signers = [coincurve.PrivateKey(k) for k in keys]
    addresses = [Account.from_key(k).address for k in keys]
    now_ms = time.time_ns() // 1_000_000 - PER_DEVICE * 1000
    out = []
    for seq in range(PER_DEVICE):
        for index, address in enumerate(addresses):
            reading = Reading(address, seq, now_ms + seq * 1000, 450 + seq % 50, 6000, 0, 0, 0)
            sig = signers[index].sign_recoverable(reading_digest(reading, domain), hasher=None)
            payload = reading_payload(reading, sig[:64] + bytes([sig[64] + 27]))
            out.append((readings_topic(address), payload))
    return addresses, out


def _metric(port: int, name: str) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def _status_mb(pid: int, field: str) -> float:
    """VmRSS (resident now) or VmHWM (the most ever resident) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for pid {pid}")


def _up_or_exited(gateway: subprocess.Popen[bytes], port: int) -> Callable[[], bool]:
    return lambda: (
        _metric(port, "chaintrace_gateway_connected") == 1.0 or gateway.poll() is not None
    )


def _start_gateway(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`python -m iot_gateway`, subscribed; retried if its metrics port was taken meanwhile."""
    for _attempt in range(3):
        port = free_port()
        with log.open("ab") as sink:
            gateway = subprocess.Popen(
                [sys.executable, "-m", "iot_gateway"],
                cwd=REPO,
                env={**env, "GATEWAY_METRICS_PORT": str(port)},
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        wait_for(_up_or_exited(gateway, port), "the gateway's subscription")
        if gateway.poll() is None:
            return gateway, port
    raise AssertionError(f"the gateway did not start: {log.read_text()[-3000:]}")


def test_flood_keeps_the_inbox_and_memory_bounded(tmp_path: Path, sqlite_file_url: str) -> None:
    upgrade(sqlite_file_url)
    engine = make_engine(sqlite_file_url)
    sessions = session_factory(engine)
    addresses, messages = _signed_payloads()
    with transaction(sessions) as session:
        owner = make_principal(session, Role.CARRIER)
        session.add_all(Device(address=a, owner_principal_id=owner.id) for a in addresses)
    broker = start_private_broker(tmp_path / "broker")
    env = {
        **os.environ,
        "MQTT_URL": broker.url,
        "DATABASE_URL": sqlite_file_url,
        "READING_CHAIN_ID": str(CHAIN_ID),
        "READING_VERIFYING_CONTRACT": ANCHOR,
        "GATEWAY_CLIENT_ID": f"gw-flood-{uuid.uuid4().hex[:8]}",
        "GATEWAY_QUEUE_SIZE": str(QUEUE_SIZE),
        "GATEWAY_SESSION_EXPIRY_S": "60",
    }
    log = tmp_path / "gateway.log"
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    publisher.max_inflight_messages_set(1000)
    try:
        gateway, metrics_port = _start_gateway(env, log)
        try:
            baseline = _status_mb(gateway.pid, "VmRSS")
            publisher.connect("127.0.0.1", broker.port)
            publisher.loop_start()
            infos = [publisher.publish(topic, payload, qos=1) for topic, payload in messages]
            for info in infos:
                info.wait_for_publish(DEADLINE_S)
            total = len(messages)
            wait_for(
                lambda: (
                    _metric(metrics_port, "chaintrace_gateway_readings_accepted_total") == total
                ),
                "every reading stored",
                timeout=120,
            )
            queue_peak = _metric(metrics_port, "chaintrace_gateway_queue_depth_peak")
            peak = _status_mb(gateway.pid, "VmHWM")
        finally:
            gateway.send_signal(signal.SIGTERM)
            gateway.wait(timeout=60)
        publisher.disconnect()
        publisher.loop_stop()
    finally:
        broker.stop()
    print(f"flood: rss after start {baseline:.0f} MB, peak {peak:.0f} MB, queue peak {queue_peak}")
    # The inbox filled to its bound (the flood outpaced the writer) and never beyond it.
    assert queue_peak == QUEUE_SIZE
    assert peak - baseline < RSS_GROWTH_LIMIT_MB
    with sessions() as session:
        rows = session.scalar(select(func.count()).select_from(StoredReading))
        keys = select(StoredReading.device_address, StoredReading.seq).distinct().subquery()
        distinct = session.scalar(select(func.count()).select_from(keys))
        per_device = dict(
            session.execute(
                select(StoredReading.device_address, func.count()).group_by(
                    StoredReading.device_address
                )
            ).all()
        )
    engine.dispose()
    assert rows == distinct == DEVICES * PER_DEVICE
    assert per_device == {a: PER_DEVICE for a in addresses}
