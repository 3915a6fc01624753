"""A flood far beyond the gateway's pace: bounded inbox, bounded memory, every reading once.

Memory is measured in every process of the gateway: the main process and its descendants (the
spawned verifier process and multiprocessing's resource tracker).
"""

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
from device.client import reading_payload
from device.mqtt_link import readings_topic
from store.db import make_engine, session_factory, transaction, upgrade
from store.models import Device, Role
from store.models import Reading as StoredReading
from tests.iot_gateway.conftest import ANCHOR, CHAIN_ID, key_for
from tests.iot_gateway.gateway_helpers import DEADLINE_S, wait_for
from tests.utils.mosquitto import free_port, start_private_broker
from tests.utils.process_tree import TreeSampler
from tests.utils.store_factories import make_principal

REPO = Path(__file__).resolve().parents[2]
DEVICES, PER_DEVICE = 20, 1000  # 20,000 readings
QUEUE_SIZE = 200
VERIFY_PROCESSES = 1
# Limits on growth (peak VmHWM/VmRSS minus RSS at the baseline, after the warm-up), from a
# measured run of this test (2 cores, SQLite, 20,000 readings): main 87 -> 118 MB (+31),
# verifier 47 -> 48 MB (+1), resource tracker 13 MB (+0), sum +32 MB. Margins are about 2.5x
# the measured growth, or a few MB where it was ~0. What they catch: a verifier that kept each
# reading (>= ~1 KB each) grows by 20 MB or more; a process born during the flood (e.g. a
# verifier restarted after a crash) counts its whole RSS, ~47 MB, and fails too.
GROWTH_LIMIT_MB = {"main": 80.0, "verifier": 20.0, "resource-tracker": 5.0}
OTHER_GROWTH_LIMIT_MB = 20.0
TOTAL_GROWTH_LIMIT_MB = 90.0
# The verifier used 1.4 s of CPU in the flood (an idle one uses ~0): it did verify the flood.
VERIFIER_CPU_MIN_S = 0.3


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
        try:
            wait_for(_up_or_exited(gateway, port), "the gateway's subscription")
        except AssertionError:
            gateway.kill()  # never left running into later tests
            gateway.wait(timeout=30)
            raise
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
        # Explicit: the default depends on the machine's cores (0 would verify inline).
        "GATEWAY_VERIFY_PROCESSES": str(VERIFY_PROCESSES),
    }
    log = tmp_path / "gateway.log"
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    publisher.max_inflight_messages_set(1000)
    try:
        gateway, metrics_port = _start_gateway(env, log)
        try:
            publisher.connect("127.0.0.1", broker.port)
            publisher.loop_start()
            # Warm-up, one reading per device: the verifier has imported and verified before
            # the baseline, so the growth measured is the flood's, not the start's.
            warm_up, flood = messages[:DEVICES], messages[DEVICES:]
            for info in [publisher.publish(topic, payload, qos=1) for topic, payload in warm_up]:
                info.wait_for_publish(DEADLINE_S)
            wait_for(
                lambda: (
                    _metric(metrics_port, "chaintrace_gateway_readings_accepted_total") == DEVICES
                ),
                "the warm-up readings stored",
            )
            tree = TreeSampler(gateway.pid)
            tree.baseline()
            tree.start()
            infos = [publisher.publish(topic, payload, qos=1) for topic, payload in flood]
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
            tree.stop()
        finally:
            gateway.send_signal(signal.SIGTERM)
            gateway.wait(timeout=60)
        publisher.disconnect()
        publisher.loop_stop()
    finally:
        broker.stop()
    print(f"flood: queue peak {queue_peak}, memory per gateway process:\n{tree.report()}")
    # The inbox filled to its bound (the flood outpaced the writer) and never beyond it.
    assert queue_peak == QUEUE_SIZE
    # The verifier processes were measured, and did the flood's verifying (not the inline
    # fallback): otherwise the limits below would bound only the main process.
    verifiers = [f for f in tree.by_role("verifier") if f.baseline_mb is not None]
    assert len(verifiers) == VERIFY_PROCESSES, tree.report()
    for figures in verifiers:
        assert figures.samples > 0
        assert figures.cpu_since_baseline_s > VERIFIER_CPU_MIN_S, tree.report()
    for figures in tree.figures.values():
        limit = GROWTH_LIMIT_MB.get(figures.role, OTHER_GROWTH_LIMIT_MB)
        assert figures.growth_mb < limit, f"{figures.role} {figures.pid}:\n{tree.report()}"
    assert sum(f.growth_mb for f in tree.figures.values()) < TOTAL_GROWTH_LIMIT_MB
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
