"""Delivery guarantees: ack only after commit, reconnect after a broker restart, shared groups."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.eip712 import Domain
from device.client import SimulatedDevice
from iot_gateway.settings import GatewaySettings
from tests.iot_gateway.gateway_helpers import (
    DEADLINE_S,
    connected,
    reading_count,
    register_new_device,
    running_gateway,
    wait_for,
)
from tests.utils.mosquitto import MosquittoBroker, start_private_broker


def test_messages_are_acked_only_after_commit_and_redelivered_otherwise(
    sqlite_file_url: str,
    sqlite_sessions: sessionmaker[Session],
    make_settings: Callable[..., GatewaySettings],
    domain: Domain,
) -> None:
    device = register_new_device(sqlite_sessions, domain)
    settings = make_settings(sqlite_file_url, client_id=f"gw-redeliver-{uuid.uuid4().hex[:8]}")
    db_file = sqlite_file_url.removeprefix("sqlite:///")
    with running_gateway(settings) as first, connected([device], settings.mqtt_url) as (client,):
        locker = sqlite3.connect(db_file, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")  # the gateway cannot commit while this is held
        try:
            for i in range(5):
                client.publish_reading(temperature_centi_c=400 + i)
            wait_for(lambda: first.metrics.snapshot()["write_errors"] >= 1, "a failed commit")
            first.stop()
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert first.metrics.snapshot()["accepted"] == 0
        assert device.acked_seq is None
        assert reading_count(sqlite_sessions) == 0
        # Same client id, same session: the broker hands the unacknowledged readings over.
        with running_gateway(settings) as second:
            assert client.wait_acked(4, timeout=DEADLINE_S)
            assert second.metrics.snapshot()["accepted"] == 5
    assert reading_count(sqlite_sessions, device.address) == 5


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker this test may stop and restart (never the shared one)."""
    broker = start_private_broker(tmp_path / "broker")
    try:
        yield broker
    finally:
        broker.stop()


def test_gateway_reconnects_after_broker_restart(
    private_broker: MosquittoBroker,
    db_sessions: sessionmaker[Session],
    make_settings: Callable[..., GatewaySettings],
    register_device: Callable[..., SimulatedDevice],
    db_url: str,
) -> None:
    device = register_device()
    settings = make_settings(db_url, mqtt_url=private_broker.url)
    with (
        running_gateway(settings) as gateway,
        connected([device], private_broker.url) as (client,),
    ):
        for i in range(3):
            client.publish_reading(temperature_centi_c=i)
        assert client.wait_acked(2, timeout=DEADLINE_S)
        private_broker.stop()
        wait_for(lambda: not gateway.ready.is_set(), "the gateway to notice the outage")
        private_broker.start(port=private_broker.port)
        wait_for(gateway.ready.is_set, "the gateway to resubscribe")
        wait_for(client.client.is_connected, "the device to reconnect")
        wait_for(client.subscribed.is_set, "the device to resubscribe")
        for i in range(3):
            client.publish_reading(temperature_centi_c=10 + i)
        assert client.wait_acked(5, timeout=DEADLINE_S)
    assert reading_count(db_sessions, device.address) == 6


def test_shared_subscription_splits_without_duplicates(
    db_sessions: sessionmaker[Session],
    make_settings: Callable[..., GatewaySettings],
    register_device: Callable[..., SimulatedDevice],
    db_url: str,
) -> None:
    devices = [register_device(), register_device()]
    group = f"gw{uuid.uuid4().hex[:8]}"
    first_settings = make_settings(db_url, shared_group=group)
    second_settings = make_settings(db_url, shared_group=group)
    with (
        running_gateway(first_settings) as first,
        running_gateway(second_settings) as second,
        connected(devices, first_settings.mqtt_url) as clients,
    ):
        for i in range(50):
            for client in clients:
                client.publish_reading(temperature_centi_c=i)
        for client in clients:
            assert client.wait_acked(49, timeout=DEADLINE_S)
    # Counted once both gateways stopped: an ack may come from the gateway that stored last,
    # its seq covering readings the other one committed but had not counted yet.
    accepted = [g.metrics.snapshot()["accepted"] for g in (first, second)]
    duplicates = [g.metrics.snapshot()["duplicates"] for g in (first, second)]
    assert sum(accepted) == 100 and sum(duplicates) == 0
    assert reading_count(db_sessions) == 100


def test_a_reading_the_store_refuses_is_dead_lettered_not_retried_forever(
    db_sessions: sessionmaker[Session],
    make_settings: Callable[..., GatewaySettings],
    register_device: Callable[..., SimulatedDevice],
    db_url: str,
    domain: Domain,
) -> None:
    from core.eip712 import reading_digest
    from iot_gateway.gateway import Gateway
    from iot_gateway.payload import SignedReading
    from iot_gateway.pipeline import Inbound
    from store.dead_letters import list_dead_letters

    device = register_device()
    items = []
    for i in range(3):
        reading = device.make_reading(temperature_centi_c=i)
        digest = reading_digest(reading, domain)
        # The middle one carries a 31-byte digest: no payload can produce it, the store refuses.
        signed = SignedReading(
            reading, device.sign(reading), digest[:31] if i == 1 else digest, device.address.lower()
        )
        items.append(Inbound(i + 1, 1, 0, device.topic, b"payload", reading=signed))
    gateway = Gateway(make_settings(db_url))  # never started: only its writer path is used
    try:
        result = gateway.writer.commit(items)
    finally:
        gateway.stop()
    assert result is not None and result.inserted == 2
    # The whole batch failed once, then the refused reading alone: two failed transactions.
    assert gateway.metrics.snapshot()["write_errors"] == 2
    assert reading_count(db_sessions, device.address) == 2
    with db_sessions() as session:
        (letter,) = list_dead_letters(session)
    assert (letter.reason, letter.device_address, letter.seq) == (
        "store_refused",
        device.address,
        1,
    )
