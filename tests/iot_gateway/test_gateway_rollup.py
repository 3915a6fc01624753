"""Roll-up from the database: watermarks across passes, concurrent gateways, bad data, late data."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.epcis import event_hash
from core.epcis.sensor_events import RAW_DATA_PREFIX
from core.evidence import evidence_root
from iot_gateway.rollup import rollup_once, watermark_key
from iot_gateway.settings import GatewaySettings
from store.db import transaction
from store.kv import get_setting
from store.models import Event, Shipment
from store.readings import insert_readings
from tests.iot_gateway.rollup_support import _setup
from tests.utils.store_factories import make_item, make_product
from tests.utils.store_factories import reading_row as base_row

T0 = 1_700_000_000_000
LATER = T0 + 10**9  # far past every window's span and lateness


def _insert(
    sessions: sessionmaker[Session], device: str, seqs: range | list[int], shipment_pk: int
) -> None:
    with transaction(sessions) as session:
        insert_readings(
            session,
            [
                base_row(device, seq, shipment_id=shipment_pk, taken_at_ms=T0 + seq * 1000)
                for seq in seqs
            ],
        )


def _windows(sessions: sessionmaker[Session]) -> list[tuple[str, str]]:
    """(deviceID, rawData) of every recorded sensor event, in id order; checks each hash."""
    out = []
    with sessions() as session:
        for event in session.scalars(select(Event).order_by(Event.id)):
            assert event.event_hash == event_hash(json.loads(event.event_json))
            meta = json.loads(event.event_json)["sensorElementList"][0]["sensorMetadata"]
            out.append((meta["deviceID"], meta["rawData"]))
    return out


def _root(sessions: sessionmaker[Session], device: str, seqs: range) -> str:
    from store.models import Reading

    with sessions() as session:
        digests = session.scalars(
            select(Reading.digest)
            .where(Reading.device_address == device, Reading.seq.in_(list(seqs)))
            .order_by(Reading.seq)
        ).all()
    assert len(digests) == len(seqs)
    return RAW_DATA_PREFIX + "0x" + evidence_root(list(digests)).hex()


def test_watermark_carries_windows_across_passes(
    db_sessions: sessionmaker[Session], make_settings: Callable[..., GatewaySettings], db_url: str
) -> None:
    settings = make_settings(db_url, window_readings=10, window_seconds=900)
    shipment_pk, (device,) = _setup(db_sessions)
    _insert(db_sessions, device, range(0, 25), shipment_pk)
    assert rollup_once(db_sessions, settings, now_ms=T0 + 25_000) == 2
    assert rollup_once(db_sessions, settings, now_ms=T0 + 25_000) == 0
    with db_sessions() as session:
        assert get_setting(session, watermark_key(shipment_pk)) == {device.lower(): 19}
    # Another gateway (new settings, same database) continues where the watermark stands.
    _insert(db_sessions, device, range(25, 31), shipment_pk)
    other = make_settings(db_url, window_readings=10, window_seconds=900)
    assert rollup_once(db_sessions, other, now_ms=T0 + 31_000) == 1
    assert rollup_once(db_sessions, settings, now_ms=LATER) == 1  # the tail, seq 30
    roots = [raw for _dev, raw in _windows(db_sessions)]
    assert roots == [
        _root(db_sessions, device, range(0, 10)),
        _root(db_sessions, device, range(10, 20)),
        _root(db_sessions, device, range(20, 30)),
        _root(db_sessions, device, range(30, 31)),
    ]


def test_concurrent_passes_record_each_window_once(
    db_sessions: sessionmaker[Session], make_settings: Callable[..., GatewaySettings], db_url: str
) -> None:
    settings = make_settings(db_url, window_readings=5, window_seconds=900)
    shipment_pk, devices = _setup(db_sessions, n_devices=2)
    for device in devices:
        _insert(db_sessions, device, range(0, 40), shipment_pk)
    results: list[int] = []
    barrier = threading.Barrier(3)

    def one_pass() -> None:
        barrier.wait()
        results.append(rollup_once(db_sessions, settings, now_ms=LATER))

    threads = [threading.Thread(target=one_pass) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sum(results) == 16  # 8 windows per device, whoever recorded them
    windows = _windows(db_sessions)
    assert len(windows) == len(set(windows)) == 16


def test_bad_shipment_data_does_not_block_others(
    db_sessions: sessionmaker[Session], make_settings: Callable[..., GatewaySettings], db_url: str
) -> None:
    settings = make_settings(db_url, window_readings=5)
    good_pk, (good,) = _setup(db_sessions)
    bad_pk, (bad,) = _setup(db_sessions)
    with transaction(db_sessions) as session:
        shipment = session.get(Shipment, bad_pk)
        assert shipment is not None
        # The store factory's GTIN has a wrong check digit: no SGTIN URN can be made from it.
        shipment.items.append(make_item(session, make_product(session, gtin="00000000000018")))
    _insert(db_sessions, good, range(5), good_pk)
    _insert(db_sessions, bad, range(5), bad_pk)
    assert rollup_once(db_sessions, settings, now_ms=LATER) == 1
    assert [dev for dev, _raw in _windows(db_sessions)] == [f"did:pkh:eip155:31337:{good.lower()}"]


# Late readings (supplementary events): tests/iot_gateway/test_gateway_late.py.
