"""Every reject reason is counted and dead-lettered; duplicates are acked; equivocation alerts."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable

import pytest
from eth_account import Account
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.eip712 import Domain, sign
from iot_gateway.device import SimulatedDevice, reading_payload
from iot_gateway.settings import GatewaySettings
from store.dead_letters import dead_letter_counts, list_dead_letters
from store.models import Reading
from tests.iot_gateway.gateway_helpers import (
    DEADLINE_S,
    connected,
    reading_count,
    running_gateway,
    wait_for,
)


def _signed_body(device: SimulatedDevice, **overrides: object) -> dict[str, object]:
    """A correctly signed reading's JSON, then fields overridden (breaking it as the test needs)."""
    reading = device.make_reading(temperature_centi_c=400)
    body: dict[str, object] = json.loads(reading_payload(reading, device.sign(reading)))
    body.update(overrides)
    return body


def test_every_reject_reason_is_dead_lettered_and_counted(
    db_sessions: sessionmaker[Session],
    make_settings: Callable[..., GatewaySettings],
    register_device: Callable[..., SimulatedDevice],
    domain: Domain,
    db_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    device, other = register_device(), register_device()
    revoked = register_device(revoked=True)
    stranger = SimulatedDevice(Account.create().key, domain)
    settings = make_settings(db_url, max_payload_bytes=1024)
    reasons = {
        "malformed_json",
        "too_large",
        "wrong_type",
        "out_of_range",
        "future_timestamp",
        "unknown_device",
        "revoked_device",
        "bad_signature",
        "topic_mismatch",
        "equivocation",
    }
    caplog.set_level(logging.ERROR, logger="iot_gateway")
    with (
        running_gateway(settings) as gateway,
        connected([device, other, revoked, stranger], settings.mqtt_url) as clients,
    ):
        client, other_client, revoked_client, stranger_client = clients
        client.publish(b'{"device": "not json')  # malformed_json
        client.publish(b"{" + b" " * 2000 + b"}")  # too_large
        client.publish(json.dumps(_signed_body(device, seq="7")).encode())  # wrong_type
        client.publish(  # out_of_range
            json.dumps(_signed_body(device, humidityCentiPct=10_001)).encode()
        )
        future = device.make_reading(
            temperature_centi_c=1, taken_at_ms=time.time_ns() // 1_000_000 + 3_600_000
        )
        client.publish(reading_payload(future, device.sign(future)))  # future_timestamp
        stranger_client.publish_reading(temperature_centi_c=1)  # unknown_device
        revoked_client.publish_reading(temperature_centi_c=1)  # revoked_device
        forged = device.make_reading(temperature_centi_c=9)
        client.publish(reading_payload(forged, sign(forged, domain, Account.create().key)))
        # other's correctly signed reading, published on device's topic: topic_mismatch.
        _r, foreign = other.signed_payload(temperature_centi_c=1)
        client.publish(foreign)
        # A valid reading, sent twice (duplicate), then its seq reused with new content.
        valid, payload = device.signed_payload(temperature_centi_c=480)
        client.publish(payload)
        assert client.wait_acked(valid.seq, timeout=DEADLINE_S)
        client.publish(payload)
        twin = dataclasses.replace(valid, temperature_centi_c=999)
        client.publish(reading_payload(twin, device.sign(twin)))

        # Wait for every counter asserted below, not one of them: the writer bumps the
        # equivocation counters one after the other, and the stranger's and the revoked device's
        # readings come over their own connections, so they may be stored after the twin.
        def counted() -> bool:
            now = gateway.metrics.snapshot()
            return (
                now["equivocations"] == now["duplicates"] == 1
                and {r for r, n in now["rejected"].items() if n} == reasons
            )

        wait_for(counted, "every reject, the duplicate and the equivocation counted")
        stats = gateway.metrics.snapshot()
        del other_client

    assert {r for r, n in stats["rejected"].items() if n} == reasons
    assert all(stats["rejected"][r] == 1 for r in reasons)
    assert stats["accepted"] == 1
    with db_sessions() as session:
        assert dead_letter_counts(session) == {r: 1 for r in reasons}
        (equivocation,) = list_dead_letters(session, reason="equivocation")
        assert (equivocation.device_address, equivocation.seq) == (device.address, valid.seq)
        assert json.loads(equivocation.payload)["temperatureCentiC"] == 999
        (mismatch,) = list_dead_letters(session, reason="topic_mismatch")
        assert mismatch.payload == foreign and mismatch.topic == device.topic
        (unknown,) = list_dead_letters(session, reason="unknown_device")
        assert unknown.device_address == stranger.address
        stored = session.scalars(
            select(Reading.temperature_centi_c).where(Reading.device_address == device.address)
        ).all()
    assert stored == [480]  # the first content of the seq, never rewritten
    assert reading_count(db_sessions, stranger.address) == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    alerts = [m for m in errors if "EQUIVOCATION" in m]
    assert len(alerts) == 1 and device.address in alerts[0]


def test_backlog_out_of_order_is_stored_and_acked(
    db_sessions: sessionmaker[Session],
    make_settings: Callable[..., GatewaySettings],
    register_device: Callable[..., SimulatedDevice],
    db_url: str,
) -> None:
    device = register_device()
    # Readings taken while offline, uploaded newest first once back (not via the client's own
    # resend-on-connect, which would send them in order).
    backlog = [device.make_reading(temperature_centi_c=i) for i in range(20)]
    settings = make_settings(db_url)
    with running_gateway(settings) as gateway, connected([device], settings.mqtt_url) as (client,):
        for reading in reversed(backlog):
            client.publish(reading_payload(reading, device.sign(reading)))
        assert client.wait_acked(19, timeout=DEADLINE_S)
        stats = gateway.metrics.snapshot()
        assert (stats["accepted"], stats["duplicates"]) == (20, 0)
    assert reading_count(db_sessions, device.address) == 20
    with db_sessions() as session:
        assert dead_letter_counts(session) == {}
