"""Late readings: a reading stored after its window was recorded gets a supplementary event."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.epcis import event_hash, event_hash_ni
from core.epcis.sensor_events import (
    CT_SUPPLEMENTS,
    DATA_PROCESSING_METHOD,
    RAW_DATA_PREFIX,
    SUPPLEMENT_METHOD,
)
from core.evidence import evidence_root
from iot_gateway.rollup import late_key, rollup_once
from iot_gateway.settings import GatewaySettings
from iot_gateway.windows import Hole, fill_holes, window_gaps
from store.db import transaction
from store.kv import get_setting
from store.models import Event, Leaf, Reading
from store.readings import insert_readings
from tests.iot_gateway.rollup_support import _setup
from tests.utils.store_factories import reading_row

T0 = 1_700_000_000_000
LATER = T0 + 10**9  # far past every window's span and lateness


def _insert(sessions: sessionmaker[Session], device: str, seqs: list[int], shipment: int) -> None:
    with transaction(sessions) as session:
        insert_readings(
            session,
            [reading_row(device, s, shipment_id=shipment, taken_at_ms=T0 + s * 1000) for s in seqs],
        )


def _events(sessions: sessionmaker[Session]) -> list[tuple[bytes, str, dict[str, Any]]]:
    """(hash, stored JSON, parsed) of every event, in id order; each hash recomputes."""
    with sessions() as session:
        rows = session.execute(select(Event.event_hash, Event.event_json).order_by(Event.id)).all()
    out = []
    for digest, text in rows:
        event = json.loads(text)
        assert event_hash(event) == digest
        out.append((digest, text, event))
    return out


def _meta(event: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = event["sensorElementList"][0]["sensorMetadata"]
    return meta


def _root(sessions: sessionmaker[Session], device: str, seqs: list[int]) -> str:
    with sessions() as session:
        by_seq = dict(
            session.execute(
                select(Reading.seq, Reading.digest).where(Reading.device_address == device)
            ).all()
        )
    return RAW_DATA_PREFIX + "0x" + evidence_root([by_seq[s] for s in seqs]).hex()


def test_window_gaps_and_filling_holes() -> None:
    assert window_gaps(None, [0, 1, 2], "e") == []
    assert window_gaps(None, [3, 4, 7], "e") == [Hole(0, 2, "e"), Hole(5, 6, "e")]
    assert window_gaps(9, [10, 12], "e") == [Hole(11, 11, "e")]
    holes = [Hole(0, 5, "a"), Hole(9, 9, "b")]
    assert fill_holes(holes, [0, 3, 9, 42]) == [Hole(1, 2, "a"), Hole(4, 5, "a")]
    assert fill_holes(holes, []) == holes


def test_late_reading_gets_a_supplement_and_the_original_stays(
    db_sessions: sessionmaker[Session], make_settings: Callable[..., GatewaySettings], db_url: str
) -> None:
    settings = make_settings(db_url, window_readings=3, rollup_lateness_s=60)
    shipment_pk, (device,) = _setup(db_sessions)
    _insert(db_sessions, device, [0, 1, 3], shipment_pk)  # seq 2 is still on its way
    assert rollup_once(db_sessions, settings, now_ms=T0 + 3000 + 60_000) == 1
    [(original_hash, original_json, original)] = _events(db_sessions)
    assert _meta(original)["rawData"] == _root(db_sessions, device, [0, 1, 3])

    _insert(db_sessions, device, [2, 4, 5, 6], shipment_pk)
    assert rollup_once(db_sessions, settings, now_ms=LATER) == 2
    assert rollup_once(db_sessions, settings, now_ms=LATER) == 0  # nothing rolled up twice
    events = _events(db_sessions)
    assert events[0][:2] == (original_hash, original_json)  # never rewritten
    by_method: dict[str, list[dict[str, Any]]] = {}
    for _digest, _text, event in events:
        by_method.setdefault(_meta(event)["dataProcessingMethod"], []).append(event)
    [supplement] = by_method[SUPPLEMENT_METHOD]
    [supplement_hash] = [d for d, _t, e in events if e is supplement]
    assert supplement[CT_SUPPLEMENTS] == event_hash_ni(original)
    assert _meta(supplement)["rawData"] == _root(db_sessions, device, [2])
    assert supplement["bizStep"] == original["bizStep"]
    assert supplement["epcList"] == original["epcList"]
    assert [_meta(e)["rawData"] for e in by_method[DATA_PROCESSING_METHOD]] == [
        _root(db_sessions, device, [0, 1, 3]),
        _root(db_sessions, device, [4, 5, 6]),
    ]
    with db_sessions() as session:
        # The supplement is a leaf of the next anchor batch, like any event.
        leaf = select(Leaf.id).join(Event, Event.id == Leaf.event_id)
        assert session.scalar(leaf.where(Event.event_hash == supplement_hash)) is not None
        late = get_setting(session, late_key(shipment_pk))
    assert late == {device.lower(): {"counted": 7, "holes": []}}


def test_reading_below_the_first_window_and_several_late_ones_are_grouped(
    db_sessions: sessionmaker[Session], make_settings: Callable[..., GatewaySettings], db_url: str
) -> None:
    settings = make_settings(db_url, window_readings=3, rollup_lateness_s=0)
    shipment_pk, (device,) = _setup(db_sessions)
    _insert(db_sessions, device, [5, 6, 7, 9, 10, 12], shipment_pk)
    assert rollup_once(db_sessions, settings, now_ms=LATER) == 2  # [5, 6, 7], [9, 10, 12]
    first, second = (e for _d, _t, e in _events(db_sessions))
    # Late: below the first window (0, 3), and in the second window's gaps (8, 11).
    _insert(db_sessions, device, [0, 3, 8, 11], shipment_pk)
    assert rollup_once(db_sessions, settings, now_ms=LATER) == 2
    supplements = {
        e[CT_SUPPLEMENTS]: _meta(e)["rawData"]
        for _d, _t, e in _events(db_sessions)
        if _meta(e)["dataProcessingMethod"] == SUPPLEMENT_METHOD
    }
    assert supplements == {
        event_hash_ni(first): _root(db_sessions, device, [0, 3]),
        event_hash_ni(second): _root(db_sessions, device, [8, 11]),
    }
    # Seq 1 still missing below the first window, 4 too; a later arrival is supplemented again.
    _insert(db_sessions, device, [4], shipment_pk)
    assert rollup_once(db_sessions, settings, now_ms=LATER) == 1
    assert _meta(_events(db_sessions)[-1][2])["rawData"] == _root(db_sessions, device, [4])
    with db_sessions() as session:
        late = get_setting(session, late_key(shipment_pk))
    assert late == {
        device.lower(): {"counted": 11, "holes": [[1, 2, "0x" + event_hash(first).hex()]]}
    }


def test_concurrent_gateways_supplement_each_late_reading_once(
    db_sessions: sessionmaker[Session], make_settings: Callable[..., GatewaySettings], db_url: str
) -> None:
    settings = make_settings(db_url, window_readings=3, rollup_lateness_s=0)
    shipment_pk, devices = _setup(db_sessions, n_devices=2)
    every = list(range(40))
    for device in devices:
        _insert(db_sessions, device, [s for s in every if s % 4 != 1], shipment_pk)
    # Windows {4k, 4k+2, 4k+3}: ten per device, each passing over seq 4k+1.
    assert rollup_once(db_sessions, settings, now_ms=LATER) == 20
    before = _events(db_sessions)
    for device in devices:
        _insert(db_sessions, device, [s for s in every if s % 4 == 1], shipment_pk)
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
    after = _events(db_sessions)
    assert after[: len(before)] == before
    added = after[len(before) :]
    # Late seqs 1, 5, ... 37 fill one hole of each window: one supplement each, whoever wrote it.
    assert sum(results) == len(added) == 20
    raws = [_meta(e)["rawData"] for _d, _t, e in added]
    assert len(set(raws)) == 20
    assert all(_meta(e)["dataProcessingMethod"] == SUPPLEMENT_METHOD for _d, _t, e in added)
