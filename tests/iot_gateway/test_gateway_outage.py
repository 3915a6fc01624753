"""A database outage (private PostgreSQL crashed and restarted): nothing lost, nothing twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.eip712 import Domain
from iot_gateway.settings import GatewaySettings
from store.db import make_engine, session_factory, upgrade
from store.models import Reading
from tests.iot_gateway.gateway_helpers import (
    DEADLINE_S,
    connected,
    reading_count,
    register_new_device,
    running_gateway,
    wait_for,
)
from tests.utils.db_fixtures import service_unavailable
from tests.utils.mosquitto import start_private_broker
from tests.utils.postgres import PostgresServer, PostgresUnavailable

RECEIVE_MAXIMUM = 20
QUEUE_SIZE = 10
BEFORE, DURING, AFTER = 20, 150, 20  # readings per device


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own (fsync on), which it may crash and restart."""
    try:
        server = PostgresServer.start_private(durable=True)
    except (PostgresUnavailable, OSError) as exc:
        service_unavailable(f"private PostgreSQL: {exc}")
    try:
        yield server
    finally:
        server.stop()


def _distinct(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        keys = select(Reading.device_address, Reading.seq).distinct().subquery()
        return int(session.scalar(select(func.count()).select_from(keys)) or 0)


def test_database_outage_leaves_messages_with_the_broker_until_it_returns(
    tmp_path: Path,
    private_postgres: PostgresServer,
    make_settings: Callable[..., GatewaySettings],
    domain: Domain,
) -> None:
    url = private_postgres.create_database()
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    broker = start_private_broker(tmp_path / "broker")
    devices = [register_new_device(sessions, domain) for _ in range(2)]
    # A small in-flight window and inbox: during the outage the gateway can hold at most
    # RECEIVE_MAXIMUM messages, so most of the readings published then wait at the broker.
    settings = make_settings(
        url,
        mqtt_url=broker.url,
        receive_maximum=RECEIVE_MAXIMUM,
        queue_size=QUEUE_SIZE,
        batch_size=10,
        session_expiry_s=300,
        rollup_interval_s=0.5,
    )
    try:
        with running_gateway(settings) as gateway, connected(devices, broker.url) as clients:
            for _ in range(BEFORE):
                for client in clients:
                    client.publish_reading(temperature_centi_c=450)
            for client in clients:
                assert client.wait_acked(BEFORE - 1, DEADLINE_S)

            private_postgres.pause(immediate=True)  # a crash: open connections die
            infos = [
                client.publish_reading(temperature_centi_c=450)[1]
                for _ in range(DURING)
                for client in clients
            ]
            for info in infos:
                info.wait_for_publish(DEADLINE_S)  # the broker has them all (PUBACK)
            errors = gateway.metrics.snapshot()["write_errors"]
            wait_for(
                lambda: gateway.metrics.snapshot()["write_errors"] >= errors + 2,
                "the writer retrying against the stopped database",
            )
            # Still running, and nothing acknowledged: nothing was stored.
            assert gateway.ready.is_set()
            assert [c.device.acked_seq for c in clients] == [BEFORE - 1] * len(clients)

            private_postgres.resume()
            for _ in range(AFTER):
                for client in clients:
                    client.publish_reading(temperature_centi_c=450)
            last = BEFORE + DURING + AFTER - 1
            for client in clients:
                assert client.wait_acked(last, DEADLINE_S)
            stats = gateway.metrics.snapshot()
        assert stats["queue_peak"] <= QUEUE_SIZE
        assert stats["accepted"] == (BEFORE + DURING + AFTER) * len(devices)
        total = (BEFORE + DURING + AFTER) * len(devices)
        assert reading_count(sessions) == _distinct(sessions) == total
    finally:
        broker.stop()
        engine.dispose()
