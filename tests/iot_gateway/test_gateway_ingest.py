"""In-process gateway on a real broker and database: exactly-once storage, acks, roll-up."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.epcis import event_hash
from core.epcis.sensor_events import RAW_DATA_PREFIX, device_uri
from core.evidence import evidence_root
from device.client import SimulatedDevice
from iot_gateway.rollup import rollup_once, watermark_key
from iot_gateway.settings import GatewaySettings
from store.kv import get_setting
from store.models import Device, Event, Reading
from tests.iot_gateway.conftest import CHAIN_ID
from tests.iot_gateway.gateway_helpers import (
    connected,
    reading_count,
    running_gateway,
    shipment_with,
    wait_for,
)

FAR_FUTURE_MS = 4_000_000_000_000


def test_200_readings_from_3_devices_stored_once_acked_and_rolled_up(
    db_sessions: sessionmaker[Session],
    make_settings: Callable[..., GatewaySettings],
    register_device: Callable[..., SimulatedDevice],
    db_url: str,
) -> None:
    devices = [register_device(start_seq=s) for s in (0, 100, 5)]
    shipment_pk = shipment_with(db_sessions, devices)
    counts = [67, 67, 66]
    settings = make_settings(db_url, window_readings=10, window_seconds=900, batch_size=50)
    # Taken when the test starts, not when the module is imported (a full run collects it many
    # minutes earlier): recent enough that the tail windows (15 min span + 60 s lateness) are
    # still open when the test checks.
    t0 = time.time_ns() // 1_000_000 - 200_000

    sent: list[bytes] = []  # device 0's payloads
    with running_gateway(settings) as gateway, connected(devices, settings.mqtt_url) as clients:
        for i in range(max(counts)):
            for client, n in zip(clients, counts, strict=True):
                if i < n:
                    _reading, payload = client.device.signed_payload(
                        temperature_centi_c=400 + i,
                        humidity_centi_pct=6000 - i,
                        taken_at_ms=t0 + i * 1000,
                    )
                    client.publish(payload)
                    if client is clients[0]:
                        sent.append(payload)
        for client in clients:
            assert client.wait_acked(client.device.next_seq - 1, timeout=60), "no ack"
            assert client.device.unacked() == []
        # QoS 1 is at least once: copies of stored readings are counted, never stored twice.
        for payload in sent[:15]:
            clients[0].publish(payload)
        wait_for(lambda: gateway.metrics.snapshot()["duplicates"] == 15, "15 duplicates")
        wait_for(lambda: gateway.metrics.snapshot()["rollup_events"] >= 18, "periodic roll-up")
        snapshot = gateway.metrics.snapshot()

    assert snapshot["accepted"] == 200
    assert snapshot["equivocations"] == 0
    assert sum(snapshot["rejected"].values()) == 0
    assert reading_count(db_sessions) == 200

    with db_sessions() as session:
        rows = session.execute(
            select(Reading.device_address, Reading.seq, Reading.shipment_id)
        ).all()
        assert {r.shipment_id for r in rows} == {shipment_pk}
        per_device = Counter(r.device_address for r in rows)
        assert sorted(per_device.values()) == sorted(counts)
        for device, n in zip(devices, counts, strict=True):
            row = session.scalars(select(Device).where(Device.address == device.address)).one()
            assert row.last_acked_seq == device.next_seq - 1
            assert device.acked_seq == device.next_seq - 1
            assert per_device[device.address] == n

    # Nothing else is closed now; the three short tail windows close once their span has passed.
    assert rollup_once(db_sessions, settings) == 0
    assert rollup_once(db_sessions, settings, now_ms=FAR_FUTURE_MS) == 3
    assert rollup_once(db_sessions, settings, now_ms=FAR_FUTURE_MS) == 0
    _check_events(db_sessions, devices, counts, shipment_pk)


def _check_events(
    sessions: sessionmaker[Session],
    devices: list[SimulatedDevice],
    counts: list[int],
    shipment_pk: int,
) -> None:
    with sessions() as session:
        events = list(session.scalars(select(Event).order_by(Event.id)))
        digests = {(r.device_address, r.seq): r.digest for r in session.scalars(select(Reading))}
        marks = get_setting(session, watermark_key(shipment_pk))
        assert len(events) == sum(-(-n // 10) for n in counts)  # 7 windows per device
        covered: Counter[str] = Counter()
        for event in events:
            assert event.event_hash == event_hash(json.loads(event.event_json))
            assert event.leaf is not None and event.leaf.batch_id is None  # queued for anchoring
            assert event.shipment_id == shipment_pk and len(event.items) == 2
            body = json.loads(event.event_json)
            assert body["type"] == "ObjectEvent" and body["action"] == "OBSERVE"
            assert body["bizStep"] == "sensor_reporting"
            assert all(epc.startswith("urn:epc:id:sgtin:") for epc in body["epcList"])
            element = body["sensorElementList"][0]
            device = next(
                d
                for d in devices
                if element["sensorMetadata"]["deviceID"] == device_uri(CHAIN_ID, d.address)
            )
            window = sorted(
                (seq, digest) for (addr, seq), digest in digests.items() if addr == device.address
            )
            start = covered[device.address]
            chunk = window[start : start + 10]
            covered[device.address] += len(chunk)
            root = evidence_root([digest for _seq, digest in chunk])
            assert element["sensorMetadata"]["rawData"] == RAW_DATA_PREFIX + "0x" + root.hex()
            temps = {r["type"]: r for r in element["sensorReport"]}["Temperature"]
            offset = chunk[0][0] - window[0][0]
            assert temps["minValue"] == (400 + offset) / 100
            assert temps["maxValue"] == (400 + offset + len(chunk) - 1) / 100
        assert sorted(covered.values()) == sorted(counts)
        assert marks == {d.address.lower(): d.next_seq - 1 for d in devices}


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_protocols_and_late_registration(
    db_sessions: sessionmaker[Session],
    make_settings: Callable[..., GatewaySettings],
    register_device: Callable[..., SimulatedDevice],
    db_url: str,
    protocol: str,
) -> None:
    known = register_device()
    revoked = register_device(revoked=True)
    settings = make_settings(db_url, protocol=protocol)
    with (
        running_gateway(settings) as gateway,
        connected([known, revoked], settings.mqtt_url) as (
            ok,
            bad,
        ),
    ):
        bad.publish_reading(temperature_centi_c=1)
        ok.publish_reading(temperature_centi_c=2)
        assert ok.wait_acked(0, timeout=60)
        wait_for(lambda: gateway.metrics.snapshot()["rejected"]["revoked_device"] == 1, "revoked")
        # A device registered after the gateway loaded its registry is picked up on the miss.
        late = register_device()
        with connected([late], settings.mqtt_url) as (client,):
            client.publish_reading(temperature_centi_c=3)
            assert client.wait_acked(0, timeout=60)
    assert reading_count(db_sessions, late.address) == 1
    assert reading_count(db_sessions, revoked.address) == 0
    assert gateway.metrics.snapshot()["rejected"]["unknown_device"] == 0
