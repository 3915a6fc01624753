"""Revoking a device never removes readings taken before (DESIGN, escrow v2; issue 11).

A revoked logger's store-and-forward backlog taken before the revocation is still stored if it
arrives within GATEWAY_REVOKED_BACKLOG_S; a reading taken at or after the revocation, or backlog
arriving after the grace period (a thief with the stolen key can sign any takenAtMs), is refused
as revoked_device: counted and dead-lettered.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from device.client import SimulatedDevice, reading_payload
from iot_gateway.settings import GatewaySettings
from store.db import transaction
from store.dead_letters import list_dead_letters
from store.models import Device
from store.models.types import utcnow
from tests.iot_gateway.gateway_helpers import (
    DEADLINE_S,
    connected,
    reading_count,
    running_gateway,
    wait_for,
)


def _revoke(sessions: sessionmaker[Session], device: SimulatedDevice, ago: timedelta) -> int:
    """Revoke as DELETE /devices/{address} does, `ago` in the past; the revocation in epoch ms."""
    revoked_at = utcnow() - ago
    with transaction(sessions) as session:
        session.execute(
            update(Device).where(Device.address == device.address).values(revoked_at=revoked_at)
        )
    return int(revoked_at.timestamp() * 1000)


def _backlog(device: SimulatedDevice, taken_at_ms: int) -> bytes:
    reading = device.make_reading(temperature_centi_c=900, taken_at_ms=taken_at_ms)
    return reading_payload(reading, device.sign(reading))


def test_backlog_taken_before_the_revocation_is_stored_within_the_grace(
    db_sessions: sessionmaker[Session],
    make_settings: Callable[..., GatewaySettings],
    register_device: Callable[..., SimulatedDevice],
    db_url: str,
) -> None:
    logger, old = register_device(), register_device()
    settings = make_settings(db_url, revoked_backlog_s=86_400)
    with (
        running_gateway(settings) as gateway,
        connected([logger, old], settings.mqtt_url) as (client, old_client),
    ):
        # Live until the carrier revokes it; its later readings are still in its buffer.
        client.publish_reading(temperature_centi_c=400)
        assert client.wait_acked(0, timeout=DEADLINE_S)
        revoked_ms = _revoke(db_sessions, logger, timedelta(seconds=30))
        # Revoked two days ago: its backlog arrives after the 24 h grace.
        old_revoked_ms = _revoke(db_sessions, old, timedelta(days=2))
        gateway.registry.reload()  # what the periodic refresh does

        client.publish(_backlog(logger, revoked_ms - 20_000))  # seq 1: taken before
        client.publish(_backlog(logger, revoked_ms - 1))  # seq 2: taken before
        assert client.wait_acked(2, timeout=DEADLINE_S)
        client.publish(_backlog(logger, revoked_ms + 1))  # seq 3: taken after: refused
        old_client.publish(_backlog(old, old_revoked_ms - 60_000))  # too late: refused
        wait_for(
            lambda: gateway.metrics.snapshot()["rejected"]["revoked_device"] == 2,
            "the reading taken after the revocation and the late backlog refused",
        )
    assert reading_count(db_sessions, logger.address) == 3
    assert reading_count(db_sessions, old.address) == 0
    with db_sessions() as session:
        letters = list_dead_letters(session, reason="revoked_device")
        assert sorted((letter.device_address.lower(), letter.seq) for letter in letters) == sorted(
            [(logger.address.lower(), 3), (old.address.lower(), 0)]
        )
