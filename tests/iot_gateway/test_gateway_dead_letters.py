"""Every reject reason is counted and dead-lettered; duplicates are acked; equivocation alerts."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from eth_account import Account
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.eip712 import Domain, sign
from device.client import SimulatedDevice, reading_payload
from device.mqtt_link import parse_mqtt_url
from iot_gateway.settings import GatewaySettings
from store.db import transaction
from store.dead_letters import (
    MAX_PAYLOAD_BYTES,
    NewDeadLetter,
    add_dead_letters,
    dead_letter_counts,
    list_dead_letters,
)
from store.models import DeadLetter, Reading
from store.models.types import utcnow
from tests.iot_gateway.gateway_helpers import (
    DEADLINE_S,
    connected,
    reading_count,
    running_gateway,
    wait_for,
)
from tests.iot_gateway.gateway_process_helpers import gateway_process


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
        # A first ack covers the run from the lowest seq stored: a batch of 2..19 is acked 19
        # before 0 and 1 are committed (acks no longer wait behind the readings in flight).
        wait_for(lambda: gateway.metrics.snapshot()["accepted"] >= 20, "all 20 stored")
        stats = gateway.metrics.snapshot()
        assert (stats["accepted"], stats["duplicates"]) == (20, 0)
    assert reading_count(db_sessions, device.address) == 20
    with db_sessions() as session:
        assert dead_letter_counts(session) == {}


def _dead_letter_rows(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(DeadLetter)) or 0)


def test_the_gateway_purges_dead_letters_past_the_retention(
    db_sessions: sessionmaker[Session],
    make_settings: Callable[..., GatewaySettings],
    db_url: str,
) -> None:
    now = utcnow()
    with transaction(db_sessions) as session:
        add_dead_letters(
            session,
            [
                NewDeadLetter(
                    f"old/{i}", b"{", "malformed_json", received_at=now - timedelta(hours=1)
                )
                for i in range(7)
            ]
            + [NewDeadLetter("recent", b"{", "malformed_json", received_at=now)],
        )
    settings = make_settings(db_url, dead_letter_retention_s=600, dead_letter_purge_interval_s=0.5)
    with running_gateway(settings) as gateway:
        wait_for(
            lambda: gateway.metrics.snapshot()["dead_letters_purged"]["age"] == 7,
            "the expired dead letters purged",
        )
        assert gateway.metrics.snapshot()["dead_letters_purged"]["count"] == 0
    with db_sessions() as session:
        assert [d.topic for d in list_dead_letters(session)] == ["recent"]


FLOOD, MAX_ROWS, JUNK_BYTES = 3000, 500, 2000
# Evidence a junk flood must not push out: the count cap applies per reason.
EVIDENCE = ("equivocation", "store_refused", "internal_error")


def test_a_flood_of_junk_leaves_a_bounded_dead_letter_table(
    register_device: Callable[..., SimulatedDevice],
    db_sessions: sessionmaker[Session],
    db_url: str,
    mqtt_url: str,
    tmp_path: Path,
) -> None:
    device = register_device()
    # Older than all the junk (lower ids, earlier times), as a stolen key's equivocation would be.
    with transaction(db_sessions) as session:
        add_dead_letters(
            session,
            [
                NewDeadLetter(device.topic, b"{}", reason, device_address=device.address, seq=7)
                for reason in EVIDENCE
            ],
        )
    endpoint = parse_mqtt_url(mqtt_url)
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    publisher.max_inflight_messages_set(1000)
    purged = "chaintrace_gateway_dead_letters_purged_total{rule=count}"
    rejected = "chaintrace_gateway_readings_rejected_total{reason=malformed_json}"
    with gateway_process(
        db_url,
        mqtt_url,
        tmp_path / "gateway.log",
        GATEWAY_DEAD_LETTER_MAX_ROWS=str(MAX_ROWS),
        GATEWAY_DEAD_LETTER_PURGE_INTERVAL_S="0.5",
    ) as gateway:
        publisher.connect(endpoint.host, endpoint.port)
        publisher.loop_start()
        try:
            # Distinct junk (not JSON), each JUNK_BYTES long, on the device's own topic.
            infos = [
                publisher.publish(device.topic, b"{%06d" % i + b"x" * (JUNK_BYTES - 7), qos=1)
                for i in range(FLOOD)
            ]
            for info in infos:
                info.wait_for_publish(DEADLINE_S)
        finally:
            publisher.disconnect()
            publisher.loop_stop()
        wait_for(lambda: gateway.metric(rejected) == FLOOD, "the junk rejected", timeout=120)
        # A purge pass after the last junk was stored leaves exactly the newest MAX_ROWS.
        wait_for(
            lambda: _dead_letter_rows(db_sessions) == MAX_ROWS + len(EVIDENCE), "the table trimmed"
        )
        wait_for(lambda: gateway.metric(purged) == FLOOD - MAX_ROWS, "the purged rows counted")
        with connected([device], mqtt_url) as (client,):
            valid, _info = client.publish_reading(temperature_centi_c=480)
            assert client.wait_acked(valid.seq, timeout=DEADLINE_S), gateway.log_tail()
        assert gateway.stop() == 0, gateway.log_tail()
    assert reading_count(db_sessions, device.address) == 1
    with db_sessions() as session:
        kept = list_dead_letters(session, reason="malformed_json", limit=MAX_ROWS + 1)
        evidence = list_dead_letters(session, limit=MAX_ROWS + len(EVIDENCE) + 1)[MAX_ROWS:]
        counts = dead_letter_counts(session)
    assert counts == {"malformed_json": MAX_ROWS} | dict.fromkeys(EVIDENCE, 1)
    # The flood (FLOOD > MAX_ROWS) left the older evidence of the other reasons in place.
    assert sorted(d.reason for d in evidence) == sorted(EVIDENCE)
    assert {(d.device_address, d.seq) for d in evidence} == {(device.address, 7)}
    assert len(kept) == MAX_ROWS
    # The newest were kept (the junk carries its number), each capped with its full size.
    assert sorted(int(d.payload[1:7]) for d in kept) == list(range(FLOOD - MAX_ROWS, FLOOD))
    assert {len(d.payload) for d in kept} == {MAX_PAYLOAD_BYTES}
    assert {d.payload_size for d in kept} == {JUNK_BYTES}
