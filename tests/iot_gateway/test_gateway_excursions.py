"""Excursion events from the roll-up: core.sla's closed temperature episodes as EPCIS events."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.eip712 import Terms
from core.epcis import event_hash
from core.epcis.events import SHIPMENT_TRANSACTION_V1, SHIPMENT_URN, shipment_transaction
from core.epcis.hashed_event import HashedEvent
from core.epcis.sensor_events import device_uri, iso_ms
from core.sla import SlaPolicy, SlaReading, excursion_minutes
from iot_gateway.excursions import (
    ALARM,
    CT_EXCURSION_MINUTES,
    EXCURSION_METHOD,
    closed_excursions,
    excursion_event,
)
from iot_gateway.rollup import rollup_once, shipment_epcs
from iot_gateway.settings import GatewaySettings
from store.db import transaction
from store.models import Device, Event, Role, Shipment
from store.readings import insert_readings
from store.recording import record_event
from tests.iot_gateway.conftest import CHAIN_ID
from tests.iot_gateway.gateway_helpers import shipment_with
from tests.utils.store_factories import make_principal, random_address
from tests.utils.store_factories import reading_row as base_row

T0 = 1_700_000_000_000
MINUTE = 60_000
LATER = T0 + 10**9  # every window closed
POLICY = SlaPolicy(min_centi_c=200, max_centi_c=800, grace_minutes=2, max_gap_minutes=30)


class _Addressed:
    def __init__(self, address: str) -> None:
        self.address = address


def _shipment(sessions: sessionmaker[Session], policy: SlaPolicy = POLICY) -> tuple[int, str]:
    """A shipment with one device and stored terms carrying `policy`."""
    with transaction(sessions) as session:
        owner = make_principal(session, Role.CARRIER)
        device = Device(address=random_address(), owner_principal_id=owner.id)
        session.add(device)
        session.flush()
        address = device.address
    shipment_pk = shipment_with(sessions, [_Addressed(address)])
    with transaction(sessions) as session:
        shipment = session.get(Shipment, shipment_pk)
        assert shipment is not None
        terms = Terms(
            shipment_id=bytes.fromhex(shipment.shipment_id[2:]),
            buyer=shipment.buyer_address,
            payee=shipment.payee_address,
            token="0x" + "00" * 20,
            amount=10**18,
            min_temp_centi_c=policy.min_centi_c,
            max_temp_centi_c=policy.max_centi_c,
            grace_minutes=policy.grace_minutes,
            penalty_bps_per_minute=25,
            penalty_cap_bps=5000,
            max_gap_minutes=policy.max_gap_minutes,
            deadline=2_000_000_000,
            refund_grace=3600,
            dispute_window=7200,
            arbiter=random_address(),
            dispute_timeout=86_400,
        )
        shipment.terms_json = json.dumps(terms.to_json())
    return shipment_pk, address


def _insert(
    sessions: sessionmaker[Session], device: str, shipment_pk: int, temps: dict[int, int]
) -> list[SlaReading]:
    """Readings seq -> temperature, one a minute; returns them as core.sla sees them."""
    with transaction(sessions) as session:
        insert_readings(
            session,
            [
                base_row(
                    device,
                    seq,
                    shipment_id=shipment_pk,
                    taken_at_ms=T0 + seq * MINUTE,
                    temperature_centi_c=temp,
                )
                for seq, temp in temps.items()
            ],
        )
    return [SlaReading(seq, T0 + seq * MINUTE, temp) for seq, temp in temps.items()]


def _excursion_events(sessions: sessionmaker[Session]) -> list[tuple[Event, dict[str, Any]]]:
    with sessions() as session:
        events = list(session.scalars(select(Event).order_by(Event.id)))
    found = []
    for event in events:
        body = json.loads(event.event_json)
        meta = body["sensorElementList"][0]["sensorMetadata"]
        if meta["dataProcessingMethod"] == EXCURSION_METHOD:
            found.append((event, body))
    return found


def test_one_closed_excursion_is_one_event_as_core_sla_counts_it(
    db_sessions: sessionmaker[Session],
    make_settings: Callable[..., GatewaySettings],
    db_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(db_url, window_readings=10)
    shipment_pk, device = _shipment(db_sessions)
    # 5 minutes in band, 8 minutes at 9.5 degC (band 2-8, grace 2), back in band.
    temps = {seq: 500 for seq in range(0, 5)} | {seq: 950 for seq in range(5, 13)} | {13: 500}
    readings = _insert(db_sessions, device, shipment_pk, temps)

    rollup_once(db_sessions, settings, now_ms=LATER)

    (event, body), *rest = _excursion_events(db_sessions)
    assert rest == []
    (expected,) = [
        e for e in excursion_minutes(readings, POLICY).episodes if e.kind == "temperature"
    ]
    assert expected.counted_minutes == 6  # 8 minutes out of band, 2 of them grace
    meta = body["sensorElementList"][0]["sensorMetadata"]
    (report,) = body["sensorElementList"][0]["sensorReport"]
    assert (meta["startTime"], meta["endTime"]) == (
        iso_ms(expected.start_ms),
        iso_ms(expected.end_ms),
    )
    assert meta["startTime"] == iso_ms(T0 + 5 * MINUTE)
    assert meta["deviceID"] == device_uri(CHAIN_ID, device)
    assert report["exception"] == ALARM
    assert (report["type"], report["uom"]) == ("Temperature", "CEL")
    assert report["maxValue"] * 100 == expected.peak_centi_c == 950
    assert body[CT_EXCURSION_MINUTES] == expected.counted_minutes
    assert body["@context"][1] == {"ct": "https://chaintrace.dev/ns/epcis#"}
    assert (body["action"], body["bizStep"], body["eventTime"]) == (
        "OBSERVE",
        "sensor_reporting",
        meta["endTime"],
    )
    with db_sessions() as session:
        shipment = session.get(Shipment, shipment_pk)
        assert shipment is not None
        epcs, item_ids = shipment_epcs(session, shipment_pk)
        stored = session.get(Event, event.id)
        assert stored is not None
        assert sorted(item.id for item in stored.items) == item_ids
        assert body["bizTransactionList"] == [
            {"type": "bol", "bizTransaction": SHIPMENT_URN + shipment.shipment_id}
        ]
    assert body["epcList"] == sorted(epcs) and len(epcs) == 2
    assert event.event_hash == event_hash(json.loads(event.event_json))
    assert event.event_time_ms == expected.end_ms
    assert event.shipment_id == shipment_pk

    # A new in-band reading makes the device pending again: the same event is refused.
    _insert(db_sessions, device, shipment_pk, {14: 500})
    with caplog.at_level(logging.DEBUG, logger="iot_gateway.rollup"):
        rollup_once(db_sessions, settings, now_ms=LATER)
    assert "event already recorded" in caplog.text
    assert [e.id for e, _ in _excursion_events(db_sessions)] == [event.id]


def test_open_excursion_records_nothing_until_back_in_band(
    db_sessions: sessionmaker[Session], make_settings: Callable[..., GatewaySettings], db_url: str
) -> None:
    settings = make_settings(db_url, window_readings=10)
    shipment_pk, device = _shipment(db_sessions)
    temps = {seq: 500 for seq in range(0, 3)} | {seq: 150 for seq in range(3, 10)}
    readings = _insert(db_sessions, device, shipment_pk, temps)
    rollup_once(db_sessions, settings, now_ms=LATER)
    assert _excursion_events(db_sessions) == []

    readings += _insert(db_sessions, device, shipment_pk, {10: 300})
    rollup_once(db_sessions, settings, now_ms=LATER)
    ((_event, body),) = _excursion_events(db_sessions)
    (expected,) = [
        e for e in excursion_minutes(readings, POLICY).episodes if e.kind == "temperature"
    ]
    (report,) = body["sensorElementList"][0]["sensorReport"]
    # A cold excursion: the peak is the minimum.
    assert report["minValue"] * 100 == expected.peak_centi_c == 150
    assert body[CT_EXCURSION_MINUTES] == expected.counted_minutes == 5


def test_shipment_without_usable_terms_still_rolls_up_windows(
    db_sessions: sessionmaker[Session], make_settings: Callable[..., GatewaySettings], db_url: str
) -> None:
    settings = make_settings(db_url, window_readings=10)
    shipment_pk, device = _shipment(db_sessions)
    with transaction(db_sessions) as session:
        shipment = session.get(Shipment, shipment_pk)
        assert shipment is not None
        shipment.terms_json = '{"minTempCentiC": "cold"}'
    _insert(db_sessions, device, shipment_pk, {0: 500, 1: 950, 2: 950, 3: 950, 4: 950, 5: 500})
    assert rollup_once(db_sessions, settings, now_ms=LATER) == 1  # the window only
    assert _excursion_events(db_sessions) == []


def test_closed_excursions_pairs_runs_with_core_sla_episodes() -> None:
    # Two closed runs (warm, then cold after a silence), one open run at the end.
    temps = [500, 900, 1000, 500, 500, 100, 500, 850]
    times = [0, 1, 2, 3, 4, 60, 61, 62]
    pairs = enumerate(zip(times, temps, strict=True))
    readings = [SlaReading(i, T0 + t * MINUTE, c) for i, (t, c) in pairs]
    found = closed_excursions(list(reversed(readings)), POLICY)
    episodes = [e for e in excursion_minutes(readings, POLICY).episodes if e.kind == "temperature"]
    assert [x.episode for x in found] == episodes[:2]
    assert [(x.min_centi_c, x.max_centi_c) for x in found] == [(900, 1000), (100, 100)]
    body = excursion_event(found[0], device_id="did:x", epcs=["urn:b", "urn:a"])
    assert body["epcList"] == ["urn:a", "urn:b"] and "bizTransactionList" not in body
    assert body == excursion_event(found[0], device_id="did:x", epcs=["urn:a", "urn:b"])


def test_an_excursion_stored_untyped_is_not_recorded_again_typed(
    db_sessions: sessionmaker[Session], make_settings: Callable[..., GatewaySettings], db_url: str
) -> None:
    # As the gateway recorded it before bizTransactions were typed (shipment transaction v1).
    settings = make_settings(db_url, window_readings=10)
    shipment_pk, device = _shipment(db_sessions)
    temps = {seq: 500 for seq in range(0, 5)} | {seq: 950 for seq in range(5, 13)} | {13: 500}
    (excursion,) = closed_excursions(_insert(db_sessions, device, shipment_pk, temps), POLICY)
    with transaction(db_sessions) as session:
        shipment = session.get(Shipment, shipment_pk)
        assert shipment is not None
        epcs, item_ids = shipment_epcs(session, shipment_pk)
        v1 = shipment_transaction(shipment.shipment_id, SHIPMENT_TRANSACTION_V1)
        old = excursion_event(
            excursion, device_id=device_uri(CHAIN_ID, device), epcs=epcs, biz_transactions=[v1]
        )
        record_event(
            session,
            HashedEvent.of(old),
            recorded_by=None,
            shipment_id=shipment_pk,
            item_ids=item_ids,
        )

    rollup_once(db_sessions, settings, now_ms=LATER)

    ((_event, body),) = _excursion_events(db_sessions)
    assert body["bizTransactionList"] == [v1]


def test_a_shipment_with_a_container_names_it_in_every_sensor_event(
    db_sessions: sessionmaker[Session], make_settings: Callable[..., GatewaySettings], db_url: str
) -> None:
    """Windows, supplements and excursions name the container, not the items (one public
    projection each, not one per item); each stays linked to every item for the parties."""
    settings = make_settings(db_url, window_readings=10)
    shipment_pk, device = _shipment(db_sessions)
    container = "urn:uuid:0b7e2a4c-51d3-4f6e-9a8b-7c6d5e4f3a2b"
    with transaction(db_sessions) as session:
        shipment = session.get(Shipment, shipment_pk)
        assert shipment is not None
        shipment.container_epc = container
    temps = {seq: 500 for seq in range(0, 5)} | {seq: 950 for seq in range(5, 13)} | {13: 500}
    late = temps.pop(3)
    _insert(db_sessions, device, shipment_pk, temps)
    rollup_once(db_sessions, settings, now_ms=LATER)
    _insert(db_sessions, device, shipment_pk, {3: late})  # lands in a recorded window's hole
    rollup_once(db_sessions, settings, now_ms=LATER)

    with db_sessions() as session:
        _epcs, item_ids = shipment_epcs(session, shipment_pk)
        events = list(session.scalars(select(Event).order_by(Event.id)))
        methods = []
        for event in events:
            body = json.loads(event.event_json)
            methods.append(body["sensorElementList"][0]["sensorMetadata"]["dataProcessingMethod"])
            assert body["epcList"] == [container]
            assert sorted(item.id for item in event.items) == item_ids
            assert event.event_hash == event_hash(body)
    assert len(item_ids) == 2
    assert set(methods) == {
        EXCURSION_METHOD,
        "urn:chaintrace:sensor-rollup:v1",
        "urn:chaintrace:sensor-rollup:v1:supplement",
    }
