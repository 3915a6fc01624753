"""Faults on private services: SIGKILL mid-backlog, a broker that drops queued messages, auth."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.eip712 import Domain
from device.mqtt_link import parse_mqtt_url
from iot_gateway.gateway import Gateway
from iot_gateway.settings import GatewaySettings
from store.models import Reading
from tests.iot_gateway.conftest import ANCHOR, CHAIN_ID
from tests.iot_gateway.gateway_helpers import (
    DEADLINE_S,
    connected,
    discard_session,
    reading_count,
    register_new_device,
    running_gateway,
    wait_for,
)
from tests.utils.mosquitto import free_port, start_private_broker

REPO = Path(__file__).resolve().parents[2]


def _distinct(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        keys = select(Reading.device_address, Reading.seq).distinct().subquery()
        return int(session.scalar(select(func.count()).select_from(keys)) or 0)


def _start_gateway(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "iot_gateway"],
            cwd=REPO,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def test_sigkill_with_backlog_beyond_receive_maximum_loses_and_repeats_nothing(
    tmp_path: Path,
    sqlite_file_url: str,
    sqlite_sessions: sessionmaker[Session],
    domain: Domain,
) -> None:
    broker = start_private_broker(tmp_path / "broker")
    devices = [register_new_device(sqlite_sessions, domain) for _ in range(3)]
    env = {
        **os.environ,
        "MQTT_URL": broker.url,
        "DATABASE_URL": sqlite_file_url,
        "READING_CHAIN_ID": str(CHAIN_ID),
        "READING_VERIFYING_CONTRACT": ANCHOR,
        "GATEWAY_CLIENT_ID": f"gw-kill-{uuid.uuid4().hex[:8]}",
        "GATEWAY_RECEIVE_MAXIMUM": "20",
        "GATEWAY_SESSION_EXPIRY_S": "300",
        "GATEWAY_BATCH_SIZE": "50",
        "GATEWAY_METRICS_PORT": str(free_port()),
    }
    log = tmp_path / "gateway.log"
    stop = threading.Event()
    published = [0]
    started: list[subprocess.Popen[bytes]] = []
    try:
        with connected(devices, broker.url) as clients:
            first = _start_gateway(env, log)
            started.append(first)
            port = int(env["GATEWAY_METRICS_PORT"])
            wait_for(lambda: _connected(port) or first.poll() is not None, "the subscription")
            assert first.poll() is None, log.read_text()
            locker = sqlite3.connect(sqlite_file_url.removeprefix("sqlite:///"))
            locker.isolation_level = None
            locker.execute("BEGIN IMMEDIATE")  # nothing can commit, so nothing is acked

            def publish() -> None:
                while not stop.is_set() and published[0] < 600:
                    for client in clients:
                        client.publish_reading(temperature_centi_c=published[0] % 50)
                        published[0] += 1
                    stop.wait(0.005)

            publisher = threading.Thread(target=publish)
            publisher.start()
            wait_for(lambda: published[0] >= 150, "a backlog larger than ReceiveMaximum")
            assert locker.execute("SELECT count(*) FROM readings").fetchone() == (0,)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
            locker.execute("ROLLBACK")
            locker.close()
            # The publisher keeps going while the gateway is down.
            wait_for(lambda: published[0] >= 300, "publishing during the downtime")
            second = _start_gateway(env, log)
            started.append(second)
            try:
                publisher.join(timeout=DEADLINE_S)
                assert not publisher.is_alive()
                for client in clients:
                    assert client.wait_acked(client.device.next_seq - 1, DEADLINE_S), (
                        log.read_text()
                    )
            finally:
                second.send_signal(signal.SIGTERM)
                second.wait(timeout=60)
    finally:
        stop.set()
        # A failure before the SIGKILL must not leave the gateway running into later tests.
        for proc in started:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        broker.stop()
    assert published[0] == 600
    assert reading_count(sqlite_sessions) == _distinct(sqlite_sessions) == 600


def _connected(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return "chaintrace_gateway_connected 1.0" in response.read().decode()
    except OSError:
        return False


def test_store_and_forward_survives_a_broker_that_drops_queued_messages(
    tmp_path: Path,
    db_sessions: sessionmaker[Session],
    make_settings: Callable[..., GatewaySettings],
    domain: Domain,
    db_url: str,
) -> None:
    broker = start_private_broker(tmp_path / "broker", max_queued=10)
    device = register_new_device(db_sessions, domain)
    settings = make_settings(db_url, mqtt_url=broker.url, receive_maximum=5, session_expiry_s=300)
    try:
        with connected([device], broker.url) as (client,):
            offline = Gateway(settings)
            offline.start()
            assert offline.ready.wait(DEADLINE_S)
            offline.stop()  # its session stays; the broker queues at most 10 messages for it
            for i in range(60):
                client.publish_reading(temperature_centi_c=i)
            back = Gateway(settings)
            back.start()
            try:
                assert back.ready.wait(DEADLINE_S)
                assert client.wait_acked(9, DEADLINE_S)  # what the broker kept: seq 0-9
                assert reading_count(db_sessions, device.address) < 60  # the rest was dropped
                # The device resends what is unacknowledged until the gateway confirms it.
                wait_for(
                    lambda: client.resend_due(0.5) >= 0 and client.wait_acked(59, 0.5),
                    "the resent readings acked",
                )
            finally:
                back.stop()
                discard_session(settings)
    finally:
        broker.stop()
    assert reading_count(db_sessions, device.address) == _distinct(db_sessions) == 60


def test_broker_username_and_password(
    tmp_path: Path,
    db_sessions: sessionmaker[Session],
    make_settings: Callable[..., GatewaySettings],
    domain: Domain,
    db_url: str,
) -> None:
    users = {"gateway": "gw-s3cret:@/", "device": "dev-pass"}
    broker = start_private_broker(tmp_path / "broker", users=users)
    device = register_new_device(db_sessions, domain)
    port = broker.port
    try:
        assert _connect_reason(port, "gateway", "wrong").is_failure
        assert _connect_reason(port, None, None).is_failure
        gw_url = f"mqtt://gateway:gw-s3cret%3A%40%2F@127.0.0.1:{port}"
        assert parse_mqtt_url(gw_url).password == users["gateway"]
        settings = make_settings(db_url, mqtt_url=gw_url)
        with (
            running_gateway(settings),
            connected([device], f"mqtt://device:dev-pass@127.0.0.1:{port}") as (client,),
        ):
            reading, _info = client.publish_reading(temperature_centi_c=420)
            assert client.wait_acked(reading.seq, DEADLINE_S)
    finally:
        broker.stop()
    assert reading_count(db_sessions, device.address) == 1


def _connect_reason(port: int, user: str | None, password: str | None) -> Any:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if user is not None:
        client.username_pw_set(user, password)
    got: list[Any] = []
    done = threading.Event()

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        got.append(reason)
        done.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert done.wait(DEADLINE_S)
    finally:
        client.disconnect()
        client.loop_stop()
    return got[0]
